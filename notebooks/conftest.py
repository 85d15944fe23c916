"""nbval runs every notebook here in smoke mode: each cuts its runs to a few
steps on a few problems (see ``rlvr.lab.SMOKE``) and writes under
``outputs/smoke/``. Kernels inherit this environment when nbval starts them."""

import os

os.environ["RLVR_SMOKE"] = "1"

# Every test session trains its smoke runs afresh: a run reused from an earlier
# session (older code) could hide a failure.
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

shutil.rmtree(Path(__file__).resolve().parents[1] / "outputs" / "smoke", ignore_errors=True)
