"""Training runs, evaluated: what every notebook is made of.

A *run* is one ``TrainConfig`` trained into its folder (``rlvr.rundir``).
``train_and_evaluate`` trains one (or reuses the finished run in its folder),
evaluates its checkpoints and returns the evaluation table; ``compare`` does
that for several named conditions and returns one row per (condition, step).
Both pick up where an interrupted call stopped: training resumes from its last
checkpoint and evaluated checkpoints are not evaluated again.

Experiments over seeds, with a verdict per pattern of the paper, are
``rlvr.reproduce`` (``rlvr reproduce``), through the notebooks.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
import yaml

from .analysis import pass_at, score
from .config import EvalConfig, TrainConfig
from .env import parallel_runs, training_processes, world_size
from .evaluate import checkpoint_targets, evaluate_checkpoints
from .executors import training_command
from .grading import shutdown
from .progress import Bars
from .rundir import BASE_EVAL_DIR, LAUNCH_PARAMS, PASS_AT_DIR, TRAIN_LOG, check_same_settings, is_complete, load_run
from .train import train


def train_run(cfg: TrainConfig, callbacks: Sequence = (), progress: bool | str = True) -> Path:
    """Train ``cfg`` unless its folder already holds the finished run; resumes a killed
    one, and refuses a folder that holds a run with other settings. ``progress``: as ``train``'s.

    On a GPU, training runs in a process of its own (``rlvr train``), so that this one (a
    notebook's kernel) holds none of the GPU's memory once it is done: a colocated vLLM engine
    gives it back only when its process ends, and the evaluation after it needs it. Where the
    run was given several GPUs (``$RLVR_TRAIN_PROCESSES``, set by ``rlvr sweep``:
    ``rlvr.executors``), that is ``accelerate launch`` with that many processes. The bar then
    follows the step log, and callbacks with a ``refresh()`` (``lab.LivePlot``) are refreshed
    from it; other callbacks see nothing."""
    check_same_settings(cfg)
    if is_complete(cfg.output_dir, cfg.optimizer_steps):
        return Path(cfg.output_dir)
    processes = training_processes()
    if world_size() == 1 and (processes > 1 or torch.cuda.is_available()):
        _launch(cfg, processes, progress, callbacks)
    else:
        train(cfg, callbacks=callbacks, progress=progress)
    return Path(cfg.output_dir)


def _launch(cfg: TrainConfig, processes: int, progress: bool | str, watchers: Sequence = ()) -> None:
    """``rlvr train`` of ``cfg`` in ``processes`` processes (accelerate), its output to the run's
    ``train.log``; fails with the log's last lines if it does."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = out / LAUNCH_PARAMS  # every field, on the paper preset: exactly cfg
    params.write_text(yaml.safe_dump({"preset": "paper", **cfg.to_dict()}, sort_keys=False))
    label = progress if isinstance(progress, str) else out.name
    bars = Bars({label: (out, cfg.optimizer_steps)}) if progress else None
    if bars:
        bars.start_all()
    with open(out / TRAIN_LOG, "a") as log:
        child = subprocess.Popen(training_command(params, processes), stdout=log, stderr=subprocess.STDOUT)
        try:
            while child.poll() is None:
                time.sleep(2)
                if bars:
                    bars.poll()
                for watcher in watchers:
                    if hasattr(watcher, "refresh"):
                        watcher.refresh()
        except BaseException:
            child.terminate()  # an interrupted cell stops the training; it resumes from its last checkpoint
            raise
    if bars:
        bars.poll()
        bars.close()
    if child.returncode != 0:
        tail = "".join((out / TRAIN_LOG).read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"training in {processes} processes failed (exit {child.returncode}); "
                           f"the end of {out / TRAIN_LOG}:\n{tail}")


def train_and_evaluate(cfg: TrainConfig, eval_config: EvalConfig, *, base_model: str | None = None,
                       callbacks: Sequence = (), every: int = 1, progress: bool | str = True) -> pd.DataFrame:
    """Train ``cfg`` (unless already finished) and evaluate its checkpoints.

    ``base_model`` is evaluated too, as step 0. Returns the evaluation table.
    ``progress``: the training's bar, as ``train``'s.
    """
    train_run(cfg, callbacks, progress)
    return evaluate_checkpoints(cfg.output_dir, eval_config, every=every, base_model=base_model, progress=False)


def step_tables(conditions: dict[str, TrainConfig]) -> pd.DataFrame:
    """The runs' per-step training tables, one row per (condition, step)."""
    frames = [load_run(cfg.output_dir)["steps"].assign(condition=name) for name, cfg in conditions.items()]
    return pd.concat(frames, ignore_index=True)


def _in_worker(cfg: TrainConfig, task: Callable, *args):
    """``task(*args)`` in a worker process, all its output to the run's ``train.log``: Python's
    streams and the process's own file descriptors 1 and 2, which the worker shares with the
    kernel (notices from loggers bound to the kernel's stderr at import, native libraries' output)
    and which would otherwise land in the notebook cell.
    The grader's sandbox pool is stopped before returning: a worker process exits without
    running atexit hooks, and would wait on the pool forever."""
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(Path(cfg.output_dir) / TRAIN_LOG, "a") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            return task(*args)
        finally:
            shutdown()
            log.flush()
            for fd, copy in zip((1, 2), saved):  # the pool reuses this process for its next task
                os.dup2(copy, fd)
                os.close(copy)


def _evaluate_step(cfg: TrainConfig, eval_config: EvalConfig, every: int, step: int) -> None:
    evaluate_checkpoints(cfg.output_dir, eval_config, every=every, only=[step], progress=False)


def _run_side_by_side(conditions: dict[str, TrainConfig], eval_config: EvalConfig, every: int, parallel: int,
                      watchers: dict[str, Sequence]) -> dict[str, pd.DataFrame]:
    """``train_and_evaluate`` for each condition in worker processes, ``parallel`` at once: the runs train
    first, in the order given (put the longest first), and each finished run's checkpoints
    are evaluated one a task, so the last evaluations are shared out rather than left to one
    core. A worker cannot call back into this process, so each watcher with a ``refresh()``
    (``lab.LivePlot``) is refreshed from its run's logs every few seconds instead."""
    context = multiprocessing.get_context("spawn")  # torch must not be forked
    bars = Bars({name: (cfg.output_dir, cfg.optimizer_steps) for name, cfg in conditions.items()})
    bars.start_all()
    others = set(multiprocessing.active_children())
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        training = {pool.submit(_in_worker, cfg, train_run, cfg, (), False): name for name, cfg in conditions.items()}
        workers = set(multiprocessing.active_children()) - others
        refreshing = [w for ws in watchers.values() for w in ws if hasattr(w, "refresh")]
        try:
            pending = set(training)
            while pending:
                done, pending = wait(pending, timeout=5, return_when=FIRST_COMPLETED)
                bars.poll()
                for future in done:
                    future.result()  # a failed task fails the comparison
                    if future in training:
                        cfg = conditions[training[future]]
                        steps = checkpoint_targets(cfg.output_dir, every)
                        pending |= {pool.submit(_in_worker, cfg, _evaluate_step, cfg, eval_config, every, step)
                                    for step in steps}
                        bars.note(training[future], f"trained; evaluating {len(steps)} checkpoints")
                for watcher in refreshing:
                    watcher.refresh()
            for name in conditions:
                bars.note(name, "trained and evaluated")
            bars.close()
            # Every step is evaluated and saved now: this reads the tables back.
            return {name: evaluate_checkpoints(cfg.output_dir, eval_config, every=every, progress=False)
                    for name, cfg in conditions.items()}
        except BaseException:
            # An interrupted cell or a failed run stops the other runs now; each resumes from its
            # last checkpoint when the cell is run again.
            for worker in workers:
                worker.terminate()
            raise


def compare(conditions: dict[str, TrainConfig], eval_config: EvalConfig, *, base_model: str | None = None,
            callbacks_for: Callable[[TrainConfig], Sequence] | None = None, every: int = 1,
            base_eval: str | Path | None = None, parallel: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run each named condition; returns (scores, evaluation table).

    Scores have one row per (condition, step) with ``analysis.score``'s columns;
    the evaluation table one row per (condition, step, problem, sample).
    ``callbacks_for(cfg)`` gives each run its own callbacks (a live plot, say).
    ``base_model`` is evaluated once, in ``base_eval`` (default: ``base-eval`` beside
    the runs), and is every condition's step 0. ``parallel`` conditions train side by
    side in worker processes (None: ``env.parallel_runs``); a run's results do not
    depend on where it runs.
    """
    scores, tables = [], []
    base_table = None
    if base_model and conditions:
        shared = base_eval or Path(next(iter(conditions.values())).output_dir).parent / BASE_EVAL_DIR
        base_table = evaluate_checkpoints(shared, eval_config, base_model=base_model, progress=False)
    callbacks = {name: callbacks_for(cfg) if callbacks_for else () for name, cfg in conditions.items()}
    if parallel is None:
        parallel = parallel_runs(torch.cuda.is_available())
    parallel = min(parallel, len(conditions))
    if parallel > 1:
        results = _run_side_by_side(conditions, eval_config, every, parallel, callbacks)
    else:
        results = {name: train_and_evaluate(cfg, eval_config, callbacks=callbacks[name], every=every, progress=name)
                   for name, cfg in conditions.items()}
    for name in conditions:
        table = results[name]
        if base_table is not None:
            table = pd.concat([base_table, table], ignore_index=True)
        table.insert(0, "condition", name)
        tables.append(table)
        scores.append(score(table, ["condition", "step"]))
    return pd.concat(scores, ignore_index=True), pd.concat(tables, ignore_index=True)


def best_pass_at(conditions: dict[str, TrainConfig], best: pd.DataFrame, eval_config: EvalConfig, *,
                   samples: int, temperature: float, limit: int | None, base_model: str,
                   base_dir: str | Path, only: Sequence[str] | None = None) -> pd.DataFrame:
    """pass@k for k = 1, 2, 4, ... ``samples`` of the base model and of each condition's best
    checkpoint (``best``: ``analysis.best_step``'s rows, a ``condition`` and a ``step`` each; ``only``:
    these conditions), on the first ``limit`` problems of each benchmark; one row per (model, step,
    benchmark, k).
    Each checkpoint's samples are saved beside its run (``pass-at/``) and reused when present."""
    sampled = replace(eval_config, n_samples=samples, temperature=temperature, limit=limit)
    tables = [pass_at(evaluate_checkpoints(base_dir, sampled, base_model=base_model, only=[0],
                                           progress=False)).assign(model="base")]
    for name, step in zip(best["condition"], best["step"]):
        if only is not None and name not in only:
            continue
        run_dir = Path(conditions[name].output_dir)
        table = evaluate_checkpoints(run_dir, sampled, only=[int(step)], out_dir=run_dir / PASS_AT_DIR,
                                     progress=False)
        tables.append(pass_at(table).assign(model=name))
    return pd.concat(tables, ignore_index=True)
