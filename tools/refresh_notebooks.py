"""Re-execute the notebooks in smoke mode and keep only the outputs nbval checks.

    .venv/bin/python tools/refresh_notebooks.py [notebooks/04_ablations.ipynb ...]

Cells marked ``# NBVAL_CHECK_OUTPUT`` hold deterministic outputs (the paper's
tables, the reproduced pi_1/pi_13 ranking); ``pytest --nbval-lax`` compares
them with what a fresh execution prints. Every other output is cleared, so the
committed notebooks carry no smoke-mode numbers a reader could mistake for
results. Run this after editing a notebook's checked cells.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parents[1]
MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> None:
    os.environ["RLVR_SMOKE"] = "1"
    # Smoke runs afresh, as under nbval: a run left by older code or settings is not reused (or refused).
    shutil.rmtree(ROOT / "outputs" / "smoke", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / path.name
        papermill.execute_notebook(str(path), str(executed), cwd=str(ROOT), progress_bar=False)
        ran = nbformat.read(executed, as_version=4)
    source = nbformat.read(path, as_version=4)
    outputs = {cell.get("id"): cell for cell in ran.cells}
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if cell.source.startswith(MARK) and cell.get("id") in outputs:
            # nbval compares only cells that were run: keep the count with the outputs.
            cell.execution_count = outputs[cell["id"]].execution_count
            cell.outputs = outputs[cell["id"]].outputs
    nbformat.write(source, path)
    print(f"refreshed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        refresh(path)
