"""The environment variables the lab reads, named in one place, and their readers.

Set by a user:

- ``RLVR_DATA_DIR``: a folder of local data files, looked in before the hub (``rlvr.data``).
- ``RLVR_CACHE``: where converted models are kept (default ``~/.cache/rlvr``; ``rlvr.smollm2``).
- ``RLVR_GPUS``: stands in for the machine's GPUs, a count (``4``) or device ids (``0,1,2,3``), so
  what the executors hand out can be checked on a machine without any (``rlvr.executors``).
- ``RLVR_PARALLEL``: how many of a notebook's conditions train side by side (``parallel_runs``).
- ``RLVR_WORLDS``: where named embedded worlds are built (default ``outputs/worlds``; ``rlvr.toyworld.world``).

Set by the lab for the processes it starts:

- ``RLVR_SMOKE``: ``1`` under the test suite: notebooks cut their runs short (``rlvr.lab``).
- ``RLVR_TRAIN_PROCESSES``, ``RLVR_ACCELERATE_CONFIG``: a job given several GPUs trains through
  ``accelerate launch`` with that many processes and that config (``rlvr.executors``).
- ``RLVR_REUSE_RUNS``: a folder whose finished runs and base-model evaluations are copied where the same
  one is asked for again (``rlvr reproduce``'s jobs: ``rlvr.twins``).

Set by launchers: ``WORLD_SIZE`` and ``RANK`` (torchrun, ``accelerate launch``), read here
rather than from torch.distributed so that nothing initialises it before TRL does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

DATA_DIR = "RLVR_DATA_DIR"
CACHE = "RLVR_CACHE"
GPUS = "RLVR_GPUS"
PARALLEL = "RLVR_PARALLEL"
WORLDS = "RLVR_WORLDS"
SMOKE = "RLVR_SMOKE"
TRAIN_PROCESSES = "RLVR_TRAIN_PROCESSES"
ACCELERATE_CONFIG = "RLVR_ACCELERATE_CONFIG"
REUSE_RUNS = "RLVR_REUSE_RUNS"


@contextlib.contextmanager
def variable_set(name: str, value: str | None) -> Iterator[None]:
    """Inside, ``name`` is ``value`` for this process and those it starts (None: left as it is); after,
    as it was before, unset included."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def world_size() -> int:
    """Training processes: ``accelerate launch`` (torchrun) sets WORLD_SIZE in each."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """This process's index among them (0 in a single process)."""
    return int(os.environ.get("RANK", "0"))


def reuse_folder() -> Path | None:
    """The folder whose finished work is reused (``$RLVR_REUSE_RUNS``); None where reuse is off."""
    folder = os.environ.get(REUSE_RUNS)
    return Path(folder) if folder and Path(folder).is_dir() else None


def smoke() -> bool:
    """Whether notebooks run in smoke mode (the test suite)."""
    return os.environ.get(SMOKE) == "1"


def training_processes() -> int:
    """How many processes a job's training runs with (``$RLVR_TRAIN_PROCESSES``; 1 when unset)."""
    value = os.environ.get(TRAIN_PROCESSES, "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${TRAIN_PROCESSES} must be a whole number >= 1, got {value!r}")
    return int(value)


def parallel_runs(on_gpu: bool) -> int:
    """How many training runs to train at once here: one a core on a CPU (each takes one torch
    thread), one on a GPU machine; ``$RLVR_PARALLEL`` overrides (``rlvr sweep`` sets it for its
    notebooks)."""
    if PARALLEL in os.environ:
        return max(1, int(os.environ[PARALLEL]))
    return 1 if on_gpu else max(1, os.cpu_count() or 1)
