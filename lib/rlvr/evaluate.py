"""The paper's evaluation: benchmarks, decoding protocol, tidy results, summaries.

Defaults follow the Qwen2.5-Math evaluation the paper uses (section 5): greedy
decoding for MATH500, Minerva and OlympiadBench; avg@8 at temperature 0.6 for
AIME24, AIME25 and AMC23 (each problem tiled 8 times in block order and
sampled once per copy); at most 3072 new tokens; seed 0; the ``eval`` grading
protocol. Everything can be overridden in ``EvalConfig``.

Results are one row per (benchmark, problem, sample); ``rlvr.analysis`` reduces
them (``summarize``: the per-benchmark, per-subject and 6-benchmark-average tables,
and pass@k where a problem has several samples; ``select_checkpoint``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .analysis import summarize
from .backends import Backend, get_backend, vllm_usable
from .config import EvalConfig
from .data import load_dataset
from .executors import on_free_devices, visible_gpus
from .grading import extract_answer, grade_many
from .models import eval_dtype_for, eval_template_for, resolve
from .provenance import environment
from .rundir import EVAL_CONFIG, EVAL_DIR, EVAL_SAMPLES, KEPT_ROOT, checkpoints, eval_step_dir, is_kept_without_weights
from .textfeatures import ends_in_repetition, reflection_counts, runs_on
from .twins import copy_evaluation, find_evaluation

# Bumped when the table's columns change: saved evaluations of another version are redone.
TABLE_VERSION = 2


def _template_for(model: str, config: EvalConfig) -> str:
    return config.template or eval_template_for(model)


def evaluate(
    model: str, config: EvalConfig | None = None, *, backend: Backend | None = None, progress: bool = True
) -> pd.DataFrame:
    """Evaluate ``model`` (a registered name, hub id, local folder or checkpoint).

    Returns the tidy table: one row per (benchmark, problem, sample).
    """
    config = config or EvalConfig()
    dtype = config.dtype or eval_dtype_for(model)
    template = _template_for(model, config)
    backend = backend or get_backend(
        config.backend, resolve(model), dtype=dtype, seed=config.seed, batch_size=config.batch_size
    )
    frames = []
    for benchmark in config.benchmarks:
        rows = list(load_dataset(benchmark, config.data_source, limit=config.limit))
        decoding = config.decoding(benchmark)
        prompts = [backend.prompt(r["problem"], template, config.demos) for r in rows]
        # avg@n as the reference does it: the problems tiled n times in block order.
        tiled = prompts * decoding["n_samples"]
        gens = backend.generate(
            tiled,
            temperature=decoding["temperature"],
            top_p=decoding["top_p"],
            max_new_tokens=config.max_new_tokens,
            seed=config.seed,
            desc=benchmark if progress else None,
        )
        responses = [g.text for g in gens]
        golds = [rows[i % len(rows)]["answer"] for i in range(len(tiled))]
        correct = grade_many(responses, golds, "eval")
        strict = grade_many(responses, golds, "train")
        records = []
        for i, (gen, ok, ok_strict) in enumerate(zip(gens, correct, strict)):
            row = rows[i % len(rows)]
            records.append(
                {
                    "benchmark": benchmark,
                    "problem_id": row["id"],
                    "sample": i // len(rows),
                    "subject": row.get("subject") or row.get("domain"),
                    "level": row.get("level"),
                    "gold": row["answer"],
                    "response": gen.text,
                    "extracted": extract_answer(gen.text, "eval"),
                    "correct": bool(ok),
                    "strict": bool(ok_strict),
                    "n_tokens": gen.n_tokens,
                    "has_box": extract_answer(gen.text, "train") is not None,
                    "run_on": runs_on(gen.text),
                    "finished": gen.finished,
                    "truncated": not gen.finished,
                    "ends_in_repetition": ends_in_repetition(gen.text),
                    **reflection_counts(gen.text),
                    "temperature": decoding["temperature"],
                }
            )
        frames.append(pd.DataFrame.from_records(records))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table["model"] = str(model)
    table["dtype"] = dtype
    table["template"] = template
    return table


def save_evaluation(table: pd.DataFrame, out_dir: str | Path, config: EvalConfig, extra: dict | None = None) -> Path:
    """Write the table, its summaries and the exact config/versions beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in summarize(table).items():
        frame.to_csv(out / f"{name}.csv", index=False)
    meta = {"config": config.to_dict(), "table_version": TABLE_VERSION, "environment": environment(), **(extra or {})}
    (out / EVAL_CONFIG).write_text(json.dumps(meta, indent=2, default=str))
    # Last, and atomically: its presence marks the evaluation complete.
    tmp = out / f"{EVAL_SAMPLES}.tmp"
    table.to_parquet(tmp, index=False)
    tmp.replace(out / EVAL_SAMPLES)
    return out


def evaluate_checkpoints(
    run_dir: str | Path,
    config: EvalConfig | None = None,
    *,
    every: int = 1,
    base_model: str | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    only: Sequence[int] | None = None,
    isolate: bool | None = None,
) -> pd.DataFrame:
    """Evaluate every ``every``-th checkpoint of a run (and the base model as step 0).

    Each step's table is saved under ``out_dir/step-<N>/`` as soon as it is
    done, and a rerun skips the steps already there, so an interrupted series
    resumes where it stopped. Returns all steps' rows in one table (``step``
    column). ``only``: of those steps, these alone (to share a series out).
    ``isolate``: each model evaluated in a process of its own (default: where vLLM
    evaluates, or where several GPUs are visible; an engine gives the GPU's memory back
    only when its process ends, so a second one in the same process, or beside a training
    run's, would find it taken). Isolated, the checkpoints spread over the visible GPUs
    (``rlvr.executors.visible_gpus``), one process a GPU at a time.
    """
    config = config or EvalConfig()
    gpus = visible_gpus()
    isolate = (uses_vllm(config) or len(gpus) > 1) if isolate is None else isolate
    if is_kept_without_weights(run_dir):
        raise FileNotFoundError(f"{run_dir}: brought back from {KEPT_ROOT}/ without its weights; run its job again "
                                f"to evaluate it (remove its folder from outputs/ and {KEPT_ROOT}/, then rerun)")
    out = Path(out_dir) if out_dir else Path(run_dir) / EVAL_DIR
    targets = {step: model for step, model in checkpoint_targets(run_dir, every, base_model).items()
               if only is None or step in only}
    tables = {step: eval_step_dir(out, step) / EVAL_SAMPLES for step in targets}
    todo = [step for step, done in tables.items() if not (done.is_file() and _same_config(done.parent, config))]
    if base_model and 0 in todo and (source := find_evaluation(
            base_model, tables[0].parent, lambda folder: _same_config(folder, config))) is not None:
        copy_evaluation(source, tables[0].parent)  # another job's evaluation of the same base model (rlvr.twins)
        todo.remove(0)
    if isolate:  # each GPU takes the next checkpoint as it frees up; without GPUs, one child at a time
        on_free_devices(todo, lambda step, devices: _evaluate_in_child(
            targets[step], config, step, tables[step].parent, devices), gpus)
    else:
        for step in todo:
            _evaluate_step(targets[step], config, step, tables[step].parent, progress)
    frames = [pd.read_parquet(done) for done in tables.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _evaluate_step(model: str, config: EvalConfig, step: int, step_dir: Path, progress: bool) -> pd.DataFrame:
    table = evaluate(model, config, progress=progress)
    table.insert(0, "step", step)
    save_evaluation(table, step_dir, config, {"step": step, "model": model,  # its table written last
                                              "devices": os.environ.get("CUDA_VISIBLE_DEVICES")})
    return table


def uses_vllm(config: EvalConfig) -> bool:
    return config.backend == "vllm" or (config.backend == "auto" and vllm_usable())


def _evaluate_in_child(model: str, config: EvalConfig, step: int, step_dir: Path, devices: str | None = None) -> None:
    """``_evaluate_step`` in a fresh Python process (``python -m rlvr.evaluate``), on ``devices``
    (a ``CUDA_VISIBLE_DEVICES`` value; None: this process's); fails with the end of its output if it does."""
    step_dir.mkdir(parents=True, exist_ok=True)
    request = step_dir / "request.json"
    request.write_text(json.dumps({"model": model, "step": step, "config": config.to_dict()}, default=str))
    child_env = {**os.environ, **({} if devices is None else {"CUDA_VISIBLE_DEVICES": devices})}
    done = subprocess.run([sys.executable, "-m", "rlvr.evaluate", str(request)], capture_output=True, text=True,
                          env=child_env)
    if done.returncode != 0:
        raise RuntimeError(f"evaluating {model} (step {step}) in its own process failed:\n"
                           + "\n".join((done.stdout + done.stderr).splitlines()[-20:]))
    request.unlink(missing_ok=True)


def checkpoint_targets(run_dir: str | Path, every: int = 1, base_model: str | None = None) -> dict[int, str]:
    """The models ``evaluate_checkpoints`` evaluates, by step: every ``every``-th checkpoint
    and the last (and the base model as step 0)."""
    saved = checkpoints(run_dir)
    steps = sorted(saved)
    targets: dict[int, str] = {0: base_model} if base_model else {}
    targets.update({s: str(saved[s]) for i, s in enumerate(steps) if i % every == every - 1 or s == steps[-1]})
    return targets


def _same_config(step_dir: Path, config: EvalConfig) -> bool:
    """Whether a saved evaluation used ``config``'s settings, in this table version (else it
    is redone: it is derived data). Settings of how it ran (backend, batch size) may differ."""
    try:
        meta = json.loads((step_dir / EVAL_CONFIG).read_text())
        stored = meta["config"]
    except (OSError, ValueError, KeyError):
        return False
    return not config.differences(stored) and meta.get("table_version") == TABLE_VERSION


if __name__ == "__main__":  # one step of a series, in a process of its own (_evaluate_in_child)
    request = json.loads(Path(sys.argv[1]).read_text())
    _evaluate_step(request["model"], EvalConfig.from_dict(request["config"]), request["step"],
                   Path(sys.argv[1]).parent, progress=False)
