"""The run folder: its layout, its logs, its checkpoints and its config, in one place.

A training run's folder holds::
    run_config.json          the exact TrainConfig and GRPOConfig arguments, the examples, what sampled
                             the rollouts (rlvr.fastgen or TRL), versions
    steps.jsonl / .parquet   one row per optimizer step (JSONL while running, Parquet at the end)
    rollouts.jsonl / ...     one row per rollout: step, epoch, example, reward
    samples.jsonl / ...      a few completions per step, to read
    history_accuracy.json    per-example accuracy per epoch (input of `rlvr select`)
    train.log                TRL's own output, where the run trained in a worker process
    launch.yaml              the exact config, where training ran in processes of its own (rlvr.runs)
    checkpoint-<step>/       model weights in the base model's dtype (+ adapter/ on the LoRA path)
    eval/step-<step>/        evaluation of that checkpoint (rlvr.evaluate)
    pass-at/step-<step>/     many samples of one checkpoint, for pass@k (rlvr.runs)
    .lock                    held by the one process writing the folder (``exclusive``)

A notebook job's folder (``rlvr notebook``, one job of a sweep or of ``rlvr reproduce``) holds::
    notebook.ipynb           the executed notebook
    summary.csv              its summary table (what a sweep stacks)
    meta.json                its settings and library versions (rlvr.lab.save)
    job.json                 the job's record: parameters, environment, status, times (rlvr.runner)
    slurm.json               a job submitted to SLURM: its job id and log files
    base-eval/step-0/        the base model's evaluation, shared by the runs it compares
    <run>/                   its training runs, each a run folder as above

Everything that reads or writes these names goes through this module, which
needs neither torch nor the trainer.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING
from pathlib import Path

import pandas as pd

from .selection import history_from_rollouts

RUN_CONFIG = "run_config.json"
STEPS_LOG = "steps.jsonl"
ROLLOUTS_LOG = "rollouts.jsonl"
SAMPLES_LOG = "samples.jsonl"
LOGS = {"steps": STEPS_LOG, "rollouts": ROLLOUTS_LOG, "samples": SAMPLES_LOG}
HISTORY = "history_accuracy.json"
TRAIN_LOG = "train.log"  # what a run trained in a worker process printed (TRL's own logs)
LOCK = ".lock"
CHECKPOINT_PREFIX = "checkpoint-"
ADAPTER_DIR = "adapter"  # LoRA runs: a checkpoint's adapters, beside the merged model
EVAL_DIR = "eval"
EVAL_STEP_PREFIX = "step-"
EVAL_SAMPLES = "samples.parquet"  # an evaluation step's table; written last, so its presence marks the step done
EVAL_CONFIG = "eval_config.json"  # beside it: the EvalConfig, the table's version, library versions
CRITIC_DIR = "critic"  # PPO: inside each checkpoint, the critic's weights
CRITIC_OPTIMIZER = "optimizer.pt"  # and, in the latest checkpoint only, its optimizer's state
PASS_AT_DIR = "pass-at"
LAUNCH_PARAMS = "launch.yaml"
# A notebook job's folder.
NOTEBOOK = "notebook.ipynb"
SUMMARY = "summary.csv"
META = "meta.json"
JOB_RECORD = "job.json"
LEGACY_JOB_RECORD = "run.json"  # what a job's record was called before: still read, so no finished job reruns
SLURM_RECORD = "slurm.json"
BASE_EVAL_DIR = "base-eval"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+-]+")


class RunBusy(RuntimeError):
    """Another process is writing the run folder."""


@contextmanager
def exclusive(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder`` for one writer while the block runs.

    Two processes resuming the same run would both append steps to it; the
    second one asking gets ``RunBusy`` before it has changed anything. The lock
    is the operating system's (``flock``), so it goes with the process: a
    killed run leaves nothing to clean up, and the next attempt takes it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunBusy(f"{folder} is being written by {holder}; wait for it to finish (or stop it), "
                      "then run again: the run resumes where it stopped") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield folder
    finally:
        handle.close()  # closing releases the lock


def slug(text: str) -> str:
    """``text`` as a folder name: runs of anything but letters, digits and ``_ . , = + -`` become ``_``."""
    return _UNSAFE.sub("_", str(text)) or "_"


def is_safe_name(name: str) -> bool:
    return not _UNSAFE.search(name) and name not in ("", ".", "..")


# ----------------------------------------------------------------------------- logs


class RunLog:
    """Append-only JSONL tables of a run, cut back to a step on resume."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)

    def append(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        with open(self.out / name, "a") as f:
            for row in rows:
                f.write(json.dumps(row, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self, name: str) -> list[dict]:
        return read_log(self.out, name)

    def clear(self) -> None:
        for name in LOGS.values():
            (self.out / name).unlink(missing_ok=True)

    def truncate_after(self, step: int) -> None:
        """Drop the rows of steps after ``step`` (they are redone after a resume)."""
        for name in LOGS.values():
            kept = [r for r in self.read(name) if r["step"] <= step]
            tmp = self.out / (name + ".tmp")
            tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in kept))
            tmp.replace(self.out / name)


def read_log(run: str | Path, name: str) -> list[dict]:
    path = Path(run) / name
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: the step is redone anyway
            break
    return rows


def write_tables(run: str | Path) -> dict[str, Path]:
    """The run's logs as tidy Parquet tables, plus the per-epoch history JSON."""
    run = Path(run)
    paths = {}
    for name in LOGS.values():
        rows = read_log(run, name)
        if rows:
            path = run / name.replace(".jsonl", ".parquet")
            pd.DataFrame(rows).to_parquet(path, index=False)
            paths[name] = path
    rollouts = read_log(run, ROLLOUTS_LOG)
    if rollouts:
        path = run / HISTORY
        path.write_text(json.dumps(history_from_rollouts(pd.DataFrame(rollouts))))
        paths["history"] = path
    return paths


def load_run(run: str | Path) -> dict[str, pd.DataFrame]:
    """A run's tables: ``steps``, ``rollouts`` and ``samples`` (Parquet once the run
    ended, else its JSONL logs, so a run still going can be read too)."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no run there (train one first, or check the path)")
    tables = {}
    for key, log in LOGS.items():
        parquet = run / log.replace(".jsonl", ".parquet")
        tables[key] = pd.read_parquet(parquet) if parquet.is_file() else pd.DataFrame(read_log(run, log))
    return tables


# ----------------------------------------------------------------------------- checkpoints


def checkpoint_dir(run: str | Path, step: int) -> Path:
    return Path(run) / f"{CHECKPOINT_PREFIX}{step}"


def checkpoints(run: str | Path) -> dict[int, Path]:
    """``{step: folder}`` of the run's saved checkpoints, by step (a folder whose model
    was never written, as when a run is killed while saving, does not count)."""
    found = {}
    for folder in Path(run).glob(CHECKPOINT_PREFIX + "*"):
        suffix = folder.name[len(CHECKPOINT_PREFIX):]
        if suffix.isdigit() and (folder / "config.json").is_file():
            found[int(suffix)] = folder
    return dict(sorted(found.items()))


# What a checkpoint holds only to resume training from it, as transformers' Trainer and accelerate
# write it: the optimizer's state (optimizer.pt; FSDP's optimizer.bin, or optimizer_0/ when sharded),
# the scheduler's, the grad scaler's and the random generators'. Only the latest checkpoint needs them.
TRAINING_STATE = ("optimizer.pt", "optimizer.bin", "optimizer_*", "scheduler.pt", "scaler.pt", "rng_state*.pth",
                  f"{CRITIC_DIR}/{CRITIC_OPTIMIZER}")
# The model's own state for a resume: FSDP's pytorch_model_fsdp.bin (float32, full or per rank) or
# pytorch_model_fsdp_0/ (sharded), DeepSpeed's global_step<N>/ with its `latest` pointer and recovery
# script. Beside the weights evaluation loads they are copies; without those they are the only ones.
MODEL_TRAINING_STATE = ("pytorch_model_fsdp*", "global_step*", "latest", "zero_to_fp32.py")
# The weights evaluation loads (``save_pretrained``'s, in the base model's dtype: ``RLVRTrainer._save``).
EVAL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def drop_training_state(run: str | Path, keep: int) -> list[Path]:
    """Remove what only a resume needs from every checkpoint but ``keep``'s; returns what went. The
    weights evaluation loads stay, so the checkpoint series is still evaluated step by step; a resume
    starts from the latest checkpoint, which keeps everything. At the paper's size that state is most
    of a checkpoint (float32 Adam moments: about 12 GiB for 1.5B parameters; under FSDP a float32 copy
    of the model besides, 6 GiB). A checkpoint without those weights keeps its model state."""
    removed = []
    for step, folder in checkpoints(run).items():
        if step == keep:
            continue
        loadable = any((folder / name).is_file() for name in EVAL_WEIGHTS)
        for pattern in TRAINING_STATE + (MODEL_TRAINING_STATE if loadable else ()):
            for path in folder.glob(pattern):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed.append(path)
    return removed


def last_step(run: str | Path) -> int | None:
    """The step of the run's last checkpoint (where a resume starts), if any."""
    return max(checkpoints(run), default=None)


def is_complete(run: str | Path, final_step: int) -> bool:
    """Whether the run reached ``final_step`` (checkpoints count optimizer steps)."""
    return final_step in checkpoints(run)


def eval_step_dir(out: str | Path, step: int) -> Path:
    """Where the evaluation of ``step`` is kept (``out`` is the run's ``eval/`` or a folder of its own)."""
    return Path(out) / f"{EVAL_STEP_PREFIX}{step}"


# ----------------------------------------------------------------------------- a notebook job's folder


def job_table(folder: str | Path, name: str) -> Path:
    """Where a notebook job keeps its table ``name`` (``rlvr.lab.save`` writes it, the reproduce reads it)."""
    return Path(folder) / f"{name}.parquet"


def read_job_record(folder: str | Path) -> dict | None:
    """A job's record (``job.json``, or its earlier name), or None where there is none or it is cut."""
    for name in (JOB_RECORD, LEGACY_JOB_RECORD):
        try:
            return json.loads((Path(folder) / name).read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return None
    return None


def write_job_record(folder: str | Path, record: dict) -> Path:
    path = Path(folder) / JOB_RECORD
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    (Path(folder) / LEGACY_JOB_RECORD).unlink(missing_ok=True)
    return path


def clear_job_record(folder: str | Path) -> None:
    """Remove what vouches for a finished job (its record and summary), before it runs again."""
    for name in (JOB_RECORD, LEGACY_JOB_RECORD, SUMMARY):
        (Path(folder) / name).unlink(missing_ok=True)


def is_job_complete(folder: str | Path) -> bool:
    """Whether a notebook job finished: its ``summary.csv`` is there and its record says ``ok``."""
    record = read_job_record(folder)
    return (Path(folder) / SUMMARY).is_file() and bool(record) and record.get("status") == "ok"


# ----------------------------------------------------------------------------- finished jobs kept in git

# ``outputs/`` is not in git: a fresh clone (a new machine, CI, the next session) starts without the
# hours of jobs an experiment took. So each finished job of these trees of ``outputs/`` also lands in
# ``results/`` (the same path under it), which is in git: its tables, records and configs, what its
# experiment's check and figures read, the Parquet ones recompressed (zstd: about a third smaller, the
# same table). Not its weights, evaluation samples (its tables hold their scores), pass@k samples,
# per-rollout rewards (``history_accuracy.json`` sums them up), JSONL logs (the Parquet copies hold
# them) or executed notebook.
KEPT_ROOT = "results"
KEPT_TREES = ("reproduce", "map", "research")  # rlvr reproduce's, the map's, the research sweeps'
KEPT_SUFFIXES = (".csv", ".parquet", ".json", ".yaml")
NOT_KEPT_DIRS = (f"{CHECKPOINT_PREFIX}*", EVAL_DIR, PASS_AT_DIR)
NOT_KEPT_FILES = (ROLLOUTS_LOG.replace(".jsonl", ".parquet"),)
KEPT_MARK = "kept.json"  # in a job (and each of its runs) brought back from results/: no weights there


def kept_path(folder: str | Path, root: str | Path) -> Path | None:
    """Where a job folder under ``root/outputs/<one of KEPT_TREES>/`` is kept; None for any other."""
    try:
        relative = Path(folder).resolve().relative_to((Path(root) / "outputs").resolve())
    except ValueError:
        return None
    return Path(root) / KEPT_ROOT / relative if relative.parts[:1] and relative.parts[0] in KEPT_TREES else None


def _kept_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not any(path.match(pattern) for pattern in NOT_KEPT_DIRS):
            yield from _kept_files(path)
        elif path.is_file() and path.suffix in KEPT_SUFFIXES and path.name not in (KEPT_MARK, *NOT_KEPT_FILES):
            yield path


def keep_job(folder: str | Path, root: str | Path) -> Path | None:
    """Copy a finished job's tables, records and configs to its place under ``results/`` (what was
    kept of an earlier attempt goes first); returns that place, None where the job is in no kept tree
    or has not finished."""
    folder = Path(folder)
    dest = kept_path(folder, root)
    if dest is None or not is_job_complete(folder):
        return None
    if dest.exists():
        shutil.rmtree(dest)
    import pyarrow.parquet as pq  # noqa: PLC0415 - as pandas loads it, on use

    for path in _kept_files(folder):
        target = dest / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            pq.write_table(pq.read_table(path), target, compression="zstd", compression_level=9)
        else:
            shutil.copy2(path, target)
    return dest


def keep_finished(root: str | Path) -> list[Path]:
    """Keep every finished job of the kept trees not kept yet (one that finished under an older version,
    or whose copy failed); returns where each went."""
    outputs = Path(root) / "outputs"
    found = (summary.parent for tree in KEPT_TREES for summary in (outputs / tree).glob(f"**/{SUMMARY}"))
    return [kept for folder in sorted(found) if (dest := kept_path(folder, root)) is not None and not dest.exists()
            and (kept := keep_job(folder, root)) is not None]


def restore_kept(root: str | Path) -> list[Path]:
    """Bring every job kept under ``root/results/`` back into ``outputs/`` where ``outputs/`` has no
    folder for it (a fresh clone), marked as kept (``KEPT_MARK``, in the job and each of its runs: its
    weights are not there); returns the folders restored. A folder on disk, finished or an attempt
    under way, is left alone. To run a kept job again, remove its folder from both trees."""
    kept, restored = Path(root) / KEPT_ROOT, []
    for summary in sorted(kept.glob(f"**/{SUMMARY}")):
        source = summary.parent
        folder = Path(root) / "outputs" / source.relative_to(kept)
        if folder.exists() or not is_job_complete(source):
            continue
        shutil.copytree(source, folder)
        mark = json.dumps({"from": str(source.relative_to(root)), "weights": False}) + "\n"
        for run in [folder, *(config.parent for config in folder.glob(f"**/{RUN_CONFIG}"))]:
            (run / KEPT_MARK).write_text(mark)
        restored.append(folder)
    return restored


def is_kept_without_weights(run: str | Path) -> bool:
    """A run brought back from ``results/``, whose checkpoints did not come with it."""
    return (Path(run) / KEPT_MARK).is_file() and not checkpoints(run)


# ----------------------------------------------------------------------------- config


def read_run_config(run: str | Path) -> dict | None:
    """The record ``run_config.json`` holds, or None where there is none (or it was cut by a kill)."""
    path = Path(run) / RUN_CONFIG
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_run_config(run: str | Path, record: dict) -> Path:
    Path(run).mkdir(parents=True, exist_ok=True)
    path = Path(run) / RUN_CONFIG
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    tmp.replace(path)
    return path


def check_same_settings(cfg) -> None:
    """Refuse to resume or reuse a run folder that holds a run with other settings.

    Without this, changing a notebook parameter and running again would
    silently continue (or reuse) the old run. Settings that change how a run
    executes, not what it computes (``affects_results=False``), may differ, and
    so may settings the stored config predates.
    """
    record = read_run_config(cfg.output_dir)
    if not record or "config" not in record:
        return  # nothing to compare against
    differ = {k: pair for k, pair in cfg.differences(record["config"]).items() if pair[0] is not MISSING}
    if differ:
        changes = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in list(differ.items())[:5])
        raise ValueError(
            f"{cfg.output_dir} holds a run with other settings ({changes}). "
            "Choose another output folder, or delete that one to start over."
        )
