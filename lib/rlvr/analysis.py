"""From tidy tables to the numbers a notebook reports.

Inputs are the tables the harness writes: an evaluation table (one row per
benchmark, problem and sample; ``rlvr.evaluate``) and a run's step table (one
row per training step; ``rlvr.train``). Outputs are tidy too: one row per step
(and benchmark, subject or condition), so a figure can be redrawn from them.
"""

from __future__ import annotations

import pandas as pd

# The scores of an evaluation table, as every summary names them: score -> (column, aggregate, meaning).
SCORES = {
    "strict": ("strict", "mean", "accuracy by the training reward's rule (the last box must be right)"),
    "eval": ("correct", "mean", "accuracy by the evaluation protocol (lenient extraction)"),
    "boxed": ("has_box", "mean", "share of answers with a \\boxed{}"),
    "run_on": ("run_on", "mean", "share of answers that run on into a new question"),
    "truncated": ("truncated", "mean", "share of answers cut at the token limit"),
    "repetition": ("ends_in_repetition", "mean", "share of answers ending in a repeated chunk"),
    "length": ("n_tokens", "mean", "mean response tokens"),
    "n": ("correct", "size", "answers scored"),
}


def score(table: pd.DataFrame, by: str | list[str] = "step", sort: bool = True) -> pd.DataFrame:
    """Every score of ``SCORES`` per group of an evaluation table (one row per group)."""
    by = [by] if isinstance(by, str) else list(by)
    columns = {name: (column, how) for name, (column, how, _) in SCORES.items() if column in table}
    return table.groupby(by, sort=sort).agg(**columns).reset_index()


def reflection_frequency(table: pd.DataFrame, by: str | list[str] = "step") -> pd.DataFrame:
    """Mean uses per response of the self-reflection words the paper counts (Fig. 4)."""
    from .evaluate import REFLECTION_WORDS

    by = [by] if isinstance(by, str) else list(by)
    return table.groupby(by)[list(REFLECTION_WORDS)].mean().reset_index()


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
    """Each group's row at its best step (the paper reports the best checkpoint; the earliest
    on a tie). Rows are found by position, so a table with a repeated index (two tables
    concatenated) gives each group's own best row."""
    by = [by] if isinstance(by, str) else list(by)
    results = results.dropna(subset=[metric]).reset_index(drop=True)
    return results.loc[results.groupby(by)[metric].idxmax()].reset_index(drop=True)


def pass_at_crossing(curves: pd.DataFrame, base: str = "base", by: str = "model") -> pd.DataFrame:
    """Where the base model's pass@k catches up with each trained model's (Yue et al. 2025: RL
    sharpens what the base can already do, so at large k the base overtakes it).

    ``curves``: ``rlvr.evaluate.pass_at`` tables with a ``by`` column naming the model (and
    optionally ``seed``: curves are then averaged over seeds first). One row per trained model:
    its pass@1 lead over the base, and ``crossing_k``, the smallest k at which the base's pass@k
    is at or above the model's (None where it never is, up to the largest k sampled).
    """
    mean = curves.groupby([by, "k"], sort=False)["pass_at_k"].mean().unstack(by)
    if base not in mean:
        raise ValueError(f"no curve for the base model {base!r}; models: {', '.join(map(str, mean.columns))}")
    rows = []
    for model in (m for m in mean.columns if m != base):
        caught = mean.index[mean[base] >= mean[model]]
        rows.append({by: model, "lead_at_k1": float(mean[model].iloc[0] - mean[base].iloc[0]),
                     "crossing_k": int(caught[0]) if len(caught) else None,
                     "largest_k": int(mean.index.max()),
                     "gap_at_largest_k": float(mean[model].iloc[-1] - mean[base].iloc[-1])})
    return pd.DataFrame(rows)


def samples_at(samples: pd.DataFrame, steps: list[int], n: int = 3) -> pd.DataFrame:
    """A few training rollouts at each of ``steps`` (nearest logged step), to read."""
    logged = sorted(samples["step"].unique())
    picked = sorted({min(logged, key=lambda s: abs(s - want)) for want in steps}) if logged else []
    return samples[samples["step"].isin(picked)].groupby("step").head(n).reset_index(drop=True)


def percent(table: pd.DataFrame, columns=("strict", "eval", "boxed", "run_on")) -> pd.DataFrame:
    """Shares as percentages (one decimal), the way the paper prints them."""
    return table.assign(**{c: (table[c] * 100).round(1) for c in columns if c in table})
