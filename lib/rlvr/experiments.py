"""Training runs, evaluated: the unit every notebook and sweep is made of.

``run`` trains one config (or reuses a finished run in its output folder),
evaluates its checkpoints and returns the evaluation table; ``compare`` does
that for several named conditions and returns one row per (condition, step).
Both pick up where an interrupted call stopped: training resumes from its last
checkpoint and evaluated checkpoints are not evaluated again.

``headline`` is the issue-5 experiment end to end over seeds:

1. Selection: full-set RLVR on a pool long enough to give every problem an
   accuracy history (``params/toy/selection_run.yaml``); pi_1 by historical
   variance.
2. For each seed: 1-shot RLVR on pi_1 (outcome reward), the same with the
   format-only reward, and full-set RLVR with the same batch and steps.
3. Every checkpoint and the base model evaluated on all of ``toy-test``
   (greedy); strict accuracy (the training reward's rule), the evaluation
   protocol's accuracy, boxed rate and the share of answers that run on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from .analysis import score
from .config import TrainConfig, load
from .evaluate import EvalConfig, evaluate_checkpoints
from .selection import load_history, rank_examples
from .train import RUN_CONFIG

__all__ = ["run", "compare", "headline", "score", "is_done", "check_same_settings"]

# Settings that may differ between a finished run and a request to reuse it.
_REUSABLE = {"output_dir", "report_to", "threads"}


def is_done(cfg: TrainConfig) -> bool:
    # Checkpoints are numbered in optimizer steps (several per rollout step if so set).
    return (Path(cfg.output_dir) / f"checkpoint-{cfg.steps * cfg.optimizer_steps_per_rollout}").is_dir()


def check_same_settings(cfg: TrainConfig) -> None:
    """Refuse to resume or reuse a run folder that holds a run with other settings.

    Without this, changing a notebook parameter and running again would
    silently continue (or reuse) the old run.
    """
    path = Path(cfg.output_dir) / RUN_CONFIG
    if not path.exists():
        return
    try:
        stored = json.loads(path.read_text())["config"]
    except (ValueError, KeyError):
        return  # a run killed while writing its config: nothing to compare against
    wanted = cfg.to_dict()
    differ = sorted(k for k in wanted if k not in _REUSABLE and k in stored and stored[k] != wanted[k])
    if differ:
        changes = ", ".join(f"{k}: {stored[k]!r} there, {wanted[k]!r} now" for k in differ[:5])
        raise ValueError(
            f"{cfg.output_dir} holds a run with other settings ({changes}). "
            "Choose another output folder, or delete that one to start over."
        )


def train_run(cfg: TrainConfig, callbacks: Sequence = ()) -> Path:
    """Train ``cfg`` unless its folder already holds the finished run; resumes a killed one."""
    from .train import train

    cfg.validate()
    check_same_settings(cfg)
    if not is_done(cfg):
        train(cfg, callbacks=callbacks)
    return Path(cfg.output_dir)


def run(cfg: TrainConfig, eval_config: EvalConfig, *, base_model: str | None = None, callbacks: Sequence = (),
        every: int = 1, progress: bool = False) -> pd.DataFrame:
    """Train ``cfg`` (unless already finished) and evaluate its checkpoints.

    ``base_model`` is evaluated too, as step 0. Returns the evaluation table.
    """
    train_run(cfg, callbacks)
    return evaluate_checkpoints(cfg.output_dir, eval_config, every=every, base_model=base_model, progress=progress)


def step_tables(conditions: dict[str, TrainConfig]) -> pd.DataFrame:
    """The runs' per-step training tables, one row per (condition, step)."""
    from .analysis import load_run

    frames = [load_run(cfg.output_dir)["steps"].assign(condition=name) for name, cfg in conditions.items()]
    return pd.concat(frames, ignore_index=True)


def compare(conditions: dict[str, TrainConfig], eval_config: EvalConfig, *, base_model: str | None = None,
            callbacks_for: Callable[[TrainConfig], Sequence] | None = None, every: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run each named condition; returns (scores, evaluation table).

    Scores have one row per (condition, step) with ``analysis.score``'s columns;
    the evaluation table one row per (condition, step, problem, sample).
    ``callbacks_for(cfg)`` gives each run its own callbacks (a live plot, say).
    """
    scores, tables = [], []
    base_table = None
    if base_model and conditions:
        # One evaluation of the base model serves every condition (as their step 0).
        shared = Path(next(iter(conditions.values())).output_dir).parent / "base-eval"
        base_table = evaluate_checkpoints(shared, eval_config, base_model=base_model, progress=False)
    for name, cfg in conditions.items():
        callbacks = callbacks_for(cfg) if callbacks_for else ()
        table = run(cfg, eval_config, callbacks=callbacks, every=every)
        if base_table is not None:
            table = pd.concat([base_table, table], ignore_index=True)
        table.insert(0, "condition", name)
        tables.append(table)
        scores.append(score(table, ["condition", "step"]))
    return pd.concat(scores, ignore_index=True), pd.concat(tables, ignore_index=True)


# Condition name: (the params file it starts from, its reward).
CONDITIONS = {
    "1-shot pi_1 (outcome)": ("one_shot", "outcome"),
    "1-shot pi_1 (format)": ("one_shot", "format"),
    "full set (outcome)": ("full_set", "outcome"),
}


def headline(params_dir: str | Path = "params/toy", out: str | Path = "outputs/headline", seeds=(0, 1, 2)) -> pd.DataFrame:
    params_dir, out = Path(params_dir), Path(out)
    selection = load(params_dir / "selection_run.yaml", output_dir=str(out / "selection"))
    history = train_run(selection) / "history_accuracy.json"
    pi1 = rank_examples(load_history(history))[0]
    bases = {"one_shot": load(params_dir / "one_shot.yaml", history_file=str(history)),
             "full_set": load(params_dir / "full_set.yaml")}
    eval_config = EvalConfig(benchmarks=["toy-test"], max_new_tokens=200)
    frames = []
    for seed in seeds:
        conditions = {}
        for condition, (params, reward) in CONDITIONS.items():
            slug = condition.split(" (")[0].replace(" ", "-").replace("_", "") + "-" + reward
            conditions[condition] = replace(bases[params], reward=reward, seed=seed,
                                            output_dir=str(out / f"{slug}-seed{seed}")).validate()
        # The base model is evaluated once (out/base-eval) and shared as every run's step 0.
        scored, _ = compare(conditions, eval_config, base_model="toy-base")
        scored.insert(1, "seed", seed)
        frames.append(scored)
    results = pd.concat(frames, ignore_index=True)
    results["pi_1"] = pi1
    results.to_csv(out / "results.csv", index=False)
    summary = (
        results.groupby(["condition", "step"])
        .agg(**{f"{m}_{s}": (m, s) for m in ("strict", "eval", "boxed", "run_on") for s in ("mean", "std")})
        .reset_index()
    )
    summary.to_csv(out / "summary.csv", index=False)
    return summary
