"""Shared test fixtures.

The paper's benchmark files live beside the project in ``../shared/data``
(present on developer machines and in CI). Tests that need them take the
``shared_data`` fixture and are skipped, with the reason, where it is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RLVR_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the paper's data folder is not at {SHARED_DATA} (set RLVR_SHARED_DATA)")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    """Checks marked ``slow`` run only when asked for (``-m slow`` or ``make test-all``)."""
    if config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow: run with `make test-all` or `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def held_by_another_process():
    """A context manager: ``with held_by_another_process(folder) as pid:`` ..."""
    return _held_by_another_process


@contextmanager
def _held_by_another_process(folder):
    """``folder`` held by another process through ``rlvr.rundir.exclusive`` (as a second sweep or
    training run would hold it) until the block ends, when that process is killed."""
    script = ("import sys, time; from rlvr.rundir import exclusive\n"
              "with exclusive(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
