"""From tidy tables to the numbers a notebook reports.

Inputs are the tables the harness writes: an evaluation table (one row per
benchmark, problem and sample; ``rlvr.evaluate``) and a run's step table (one
row per training step; ``rlvr.train``). Outputs are tidy too: one row per step
(and benchmark, subject or condition), so a figure can be redrawn from them.
"""

from __future__ import annotations

import pandas as pd

from .grading import grade_many
from .toyworld.profile import RUN_ON_MARK

REFLECTION_WORDS = ("rethink", "recheck", "recalculate")


def score(table: pd.DataFrame, by: str | list[str] = "step") -> pd.DataFrame:
    """Accuracy and format per group of an evaluation table.

    ``strict``: the training reward's rule (the last box must be right);
    ``eval``: the evaluation protocol's (lenient extraction); ``boxed``: share
    with a box; ``run_on``: share that run on into a new question after the
    answer; ``length``: mean response tokens.
    """
    by = [by] if isinstance(by, str) else list(by)
    table = table.assign(
        strict=grade_many(table["response"].tolist(), table["gold"].tolist(), "train"),
        run_on=table["response"].str.contains(RUN_ON_MARK, regex=False),
    )
    columns = dict(strict=("strict", "mean"), eval=("correct", "mean"), boxed=("has_box", "mean"),
                   run_on=("run_on", "mean"), n=("correct", "size"))
    if "n_tokens" in table:
        columns["length"] = ("n_tokens", "mean")
    return table.groupby(by).agg(**columns).reset_index()


def reflection_frequency(table: pd.DataFrame, by: str | list[str] = "step") -> pd.DataFrame:
    """Mean uses per response of the self-reflection words the paper counts (Fig. 4)."""
    by = [by] if isinstance(by, str) else list(by)
    return table.groupby(by)[list(REFLECTION_WORDS)].mean().reset_index()


def load_run(run_dir) -> dict[str, pd.DataFrame]:
    """A run's tables: ``steps``, ``rollouts`` and ``samples`` (Parquet once the run
    ended, else its JSONL logs, so a run still going can be read too)."""
    from pathlib import Path

    from .train import ROLLOUTS_LOG, SAMPLES_LOG, STEPS_LOG, RunLog

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no run there (train one first, or check the path)")
    tables = {}
    for key, log in (("steps", STEPS_LOG), ("rollouts", ROLLOUTS_LOG), ("samples", SAMPLES_LOG)):
        parquet = run_dir / log.replace(".jsonl", ".parquet")
        tables[key] = pd.read_parquet(parquet) if parquet.is_file() else pd.DataFrame(RunLog(run_dir).read(log))
    return tables


def converged(steps: pd.DataFrame, last: int = 10, threshold: float = 0.9) -> bool:
    """The paper's "train converges": training accuracy near 1 at the end of the run."""
    return bool(steps.sort_values("step")["train_accuracy"].tail(last).mean() >= threshold)


def training_curve(steps: pd.DataFrame, window: int = 5) -> pd.DataFrame:
    """Training accuracy per step, with a rolling mean (a single step's batch is small)."""
    curve = steps[["step", "train_accuracy"]].sort_values("step").copy()
    curve["train_accuracy_smooth"] = curve["train_accuracy"].rolling(window, min_periods=1).mean()
    return curve


def train_vs_test(steps: pd.DataFrame, scores: pd.DataFrame, window: int = 5) -> pd.DataFrame:
    """Training accuracy beside test accuracy at each evaluated step (post-saturation).

    Step 0 (the base model) has no training batch; its training accuracy is empty.
    """
    curve = training_curve(steps, window)
    return scores.merge(curve, on="step", how="left")


def saturation_step(steps: pd.DataFrame, threshold: float = 0.9, window: int = 5) -> int | None:
    """First step where the smoothed training accuracy reaches ``threshold``, if any."""
    curve = training_curve(steps, window)
    hit = curve[curve["train_accuracy_smooth"] >= threshold]
    return int(hit["step"].iloc[0]) if len(hit) else None


def best_step(results: pd.DataFrame, metric: str = "strict", by: str | list[str] = "condition") -> pd.DataFrame:
    """Each group's row at its best step (the paper reports the best checkpoint)."""
    by = [by] if isinstance(by, str) else list(by)
    idx = results.groupby(by)[metric].idxmax()
    return results.loc[idx].reset_index(drop=True)


def samples_at(samples: pd.DataFrame, steps: list[int], n: int = 3) -> pd.DataFrame:
    """A few training rollouts at each of ``steps`` (nearest logged step), to read."""
    logged = sorted(samples["step"].unique())
    picked = sorted({min(logged, key=lambda s: abs(s - want)) for want in steps}) if logged else []
    return samples[samples["step"].isin(picked)].groupby("step").head(n).reset_index(drop=True)


def percent(table: pd.DataFrame, columns=("strict", "eval", "boxed", "run_on")) -> pd.DataFrame:
    """Shares as percentages (one decimal), the way the paper prints them."""
    return table.assign(**{c: (table[c] * 100).round(1) for c in columns if c in table})
