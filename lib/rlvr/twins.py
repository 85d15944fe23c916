"""A run already trained with the same settings, copied rather than trained again.

The paper's experiments share runs: Tab. 8's 1-shot run on pi_1 is Tab. 14's outcome row with the
entropy bonus and the follow-ups' outcome condition, Tab. 8's format-only run is Tab. 14's, and Tab. 8's
full-set run is Tab. 17's with no wrong labels. A run is a function of its settings (every draw is
seeded, and a run does not depend on the process it runs in), so a finished run whose settings equal
this one's in every field but its folder, from the same base weights, is this run. ``rlvr reproduce``
turns this on (``REUSE_RUNS``, the folder to look in): such a run is copied, its weights hard-linked, its
record saying where it came from. Off otherwise: a run a user starts trains.

Only what a finished run holds is copied: its checkpoints and tables, and the evaluations of its
checkpoints that finished (an evaluation's table is written last and atomically: ``save_evaluation``). The base
model's evaluation is shared the same way: every job of an experiment evaluates the same base model
under the same settings (greedy, or sampled from the evaluation's own seed), so one job's is every job's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from .env import REUSE_RUNS, reuse_folder, variable_set
from .rundir import (
    CHECKPOINT_PREFIX,
    EVAL_CONFIG,
    EVAL_DIR,
    EVAL_SAMPLES,
    KEPT_MARK,
    LOCK,
    PASS_AT_DIR,
    RUN_CONFIG,
    RunBusy,
    exclusive,
    is_complete,
    is_kept_without_weights,
    read_run_config,
    write_run_config,
)


@contextlib.contextmanager
def reusing_runs(folder: str | Path) -> Iterator[None]:
    """Inside, runs started from this process (its notebooks' kernels inherit it) reuse the finished
    runs under ``folder``; as before after."""
    with variable_set(REUSE_RUNS, str(Path(folder).resolve())):
        yield


def _comparable(config: dict) -> str:
    # Every field, not only those ``TrainConfig.differences`` counts: a copy stands for the whole run.
    return json.dumps({k: v for k, v in config.items() if k != "output_dir"}, sort_keys=True, default=str)


def _busy(run: Path) -> bool:
    """Whether a process holds the run folder (``rundir.exclusive``): a run still writing its tables."""
    try:
        with exclusive(run):
            return False
    except RunBusy:
        return True


def find_twin(config: dict, model_path: str, world: dict | None, final_step: int) -> Path | None:
    """A finished run under ``$RLVR_REUSE_RUNS`` with these settings (``TrainConfig.to_dict()``, every
    field but ``output_dir``) from the same base model, with its weights; None where there is none or
    reuse is off."""
    if (folder := reuse_folder()) is None:
        return None
    wanted, out = _comparable(config), Path(config["output_dir"]).resolve()
    for path in sorted(folder.glob(f"**/{RUN_CONFIG}")):
        run = path.parent
        record = read_run_config(run)
        if (run.resolve() == out or not record or "config" not in record
                or _comparable(record["config"]) != wanted or record.get("model_path") != model_path
                or record.get("world") != world):
            continue
        if is_complete(run, final_step) and not is_kept_without_weights(run) and not _busy(run):
            return run
    return None


def copy_twin(twin: Path, out: Path) -> None:
    """``twin``'s run into ``out`` (empty of checkpoints): weights hard-linked where the file system
    allows, every other file copied, whole evaluations only; its record names ``twin``."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(twin.rglob("*")):
        relative = path.relative_to(twin)
        if path.is_dir() or path.name in (LOCK, KEPT_MARK, RUN_CONFIG):
            continue
        if relative.parts[0] in (EVAL_DIR, PASS_AT_DIR) and not (path.parent / EVAL_SAMPLES).is_file():
            continue  # an evaluation step not finished there
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        if relative.parts[0].startswith(CHECKPOINT_PREFIX):
            try:
                os.link(path, target)
                continue
            except OSError:
                pass  # another file system: a copy
        shutil.copy2(path, target)
    record = read_run_config(twin) or {}
    record["config"] = {**record.get("config", {}), "output_dir": str(out)}
    if isinstance(record.get("grpo_config"), dict):
        record["grpo_config"] = {**record["grpo_config"], "output_dir": str(out)}
    write_run_config(out, {**record, "copied_from": str(twin)})


def find_evaluation(model: str, step_dir: Path, same_settings: Callable[[Path], bool]) -> Path | None:
    """A finished evaluation of the base model ``model`` (step 0) under ``$RLVR_REUSE_RUNS`` whose settings
    ``same_settings`` accepts (``rlvr.evaluate``'s test for redoing one), other than ``step_dir``; None
    where there is none or reuse is off."""
    if (folder := reuse_folder()) is None:
        return None
    for meta in sorted(folder.glob(f"**/{step_dir.name}/{EVAL_CONFIG}")):
        source = meta.parent
        if source.resolve() == step_dir.resolve() or not (source / EVAL_SAMPLES).is_file():
            continue
        try:
            record = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if record.get("model") == model and record.get("step") == 0 and same_settings(source):
            return source
    return None


def copy_evaluation(source: Path, step_dir: Path) -> None:
    """An evaluation step's folder into ``step_dir``, its table last (whose presence marks it done)."""
    step_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in source.iterdir() if p.is_file() and p.name != EVAL_SAMPLES):
        shutil.copy2(path, step_dir / path.name)
    shutil.copy2(source / EVAL_SAMPLES, step_dir / f"{EVAL_SAMPLES}.tmp")
    (step_dir / f"{EVAL_SAMPLES}.tmp").replace(step_dir / EVAL_SAMPLES)
