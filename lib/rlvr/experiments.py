"""The headline experiment on the embedded default, end to end, over seeds.

1. Selection: full-set RLVR on a pool long enough to give every problem an
   accuracy history (``params/toy/selection_run.yaml``); pi_1 by historical
   variance.
2. For each seed: 1-shot RLVR on pi_1 (outcome reward), the same with the
   format-only reward, and full-set RLVR with the same batch and steps.
3. Every checkpoint and the base model evaluated on all of ``toy-test``
   (greedy); strict accuracy (the training reward's rule), the evaluation
   protocol's accuracy, boxed rate and the share of answers that run on.

``results.csv`` has one row per (condition, seed, step); ``summary.csv`` the
mean and spread over seeds. Runs already done are reused, so an interrupted
experiment continues.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from .config import TrainConfig, load
from .evaluate import EvalConfig, evaluate_checkpoints
from .grading import grade_many
from .selection import load_history, rank_examples
from .toyworld.profile import RUN_ON_MARK

CONDITIONS = {
    "1-shot pi_1 (outcome)": {},
    "1-shot pi_1 (format)": {"reward": "format"},
    "full set (outcome)": {"example_rank": None, "history_file": None},
}


def _done(cfg: TrainConfig) -> bool:
    return (Path(cfg.output_dir) / f"checkpoint-{cfg.steps}").is_dir()


def score(table: pd.DataFrame) -> pd.DataFrame:
    """Per-step strict/eval accuracy, boxed and run-on rates of an evaluation table."""
    table = table.assign(
        strict=grade_many(table["response"].tolist(), table["gold"].tolist(), "train"),
        run_on=table["response"].str.contains(RUN_ON_MARK, regex=False),
    )
    return (
        table.groupby("step")
        .agg(strict=("strict", "mean"), eval=("correct", "mean"), boxed=("has_box", "mean"), run_on=("run_on", "mean"))
        .reset_index()
    )


def headline(params_dir: str | Path = "params/toy", out: str | Path = "outputs/headline", seeds=(0, 1, 2)) -> pd.DataFrame:
    from .train import train

    params_dir, out = Path(params_dir), Path(out)
    selection = load(params_dir / "selection_run.yaml", output_dir=str(out / "selection"))
    if not _done(selection):
        train(selection)
    history = Path(selection.output_dir) / "history_accuracy.json"
    pi1 = rank_examples(load_history(history))[0]
    one_shot = load(params_dir / "one_shot.yaml", history_file=str(history))
    full = load(params_dir / "full_set.yaml")
    eval_config = EvalConfig(benchmarks=["toy-test"], max_new_tokens=200)
    frames = []
    for seed in seeds:
        for condition, changes in CONDITIONS.items():
            base = full if condition.startswith("full") else one_shot
            slug = condition.split(" (")[0].replace(" ", "-").replace("_", "") + "-" + (changes.get("reward") or "outcome")
            cfg = replace(base, **{k: v for k, v in changes.items() if k in ("reward",)}, seed=seed,
                          output_dir=str(out / f"{slug}-seed{seed}")).validate()
            if not _done(cfg):
                train(cfg)
            table = evaluate_checkpoints(cfg.output_dir, eval_config, base_model="toy-base", progress=False)
            scored = score(table)
            scored.insert(0, "seed", seed)
            scored.insert(0, "condition", condition)
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
