"""From tidy tables to the numbers a notebook reports.

Inputs are the tables the harness writes: an evaluation table (one row per
benchmark, problem and sample; ``rlvr.evaluate``) and a run's step table (one
row per training step; ``rlvr.train``). Outputs are tidy too: one row per step
(and benchmark, subject or condition), so a figure can be redrawn from them.
"""

from __future__ import annotations

import pandas as pd

from .textfeatures import REFLECTION_WORDS, reflection_counts

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
    by = [by] if isinstance(by, str) else list(by)
    return table.groupby(by)[list(REFLECTION_WORDS)].mean().reset_index()


def reflection_payoff(samples: pd.DataFrame, saturation: int | None = None) -> pd.DataFrame:
    """Whether checking pays on the training example: of a run's kept rollouts (its ``samples``
    table), the share that use a self-reflection word, and how often those and the others are right,
    up to the saturation step and after it (one row, "all", without one). The policy gradient raises
    what is rewarded, so where checking rollouts are right less often than the rest it lowers
    checking, whatever share of the corpus checks."""
    columns = ["phase", "rollouts", "checking", "solved_checking", "solved_other"]
    if samples.empty:
        return pd.DataFrame(columns=columns)
    checks = samples["completion"].map(lambda text: any(reflection_counts(text).values()))
    phase = (pd.Series("all", index=samples.index) if saturation is None else
             samples["step"].le(saturation).map({True: "up to saturation", False: "after saturation"}))
    rows = []
    for name, group in samples.assign(checks=checks, phase=phase).groupby("phase", sort=False):
        rows.append({"phase": name, "rollouts": len(group), "checking": group["checks"].mean(),
                     "solved_checking": group.loc[group["checks"], "correct"].mean(),
                     "solved_other": group.loc[~group["checks"], "correct"].mean()})
    return pd.DataFrame(rows, columns=columns)


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


# What each follow-up's mechanism needs in order to act, read from a run's step table: signal -> meaning.
SIGNALS = {
    "clipped": "share of tokens the ratio clip acts on, over the updates off the sampling policy (none: "
               "every update is on-policy, the ratio is 1 and the clip cannot act)",
    "all_wrong_groups": "share of rollout groups in which every rollout is wrong",
    "all_wrong_weight": "their share of the batch's advantage weight (sum of |A|): the gradient they carry",
    "entropy_start": "mean token entropy of the first 5 steps' rollouts",
    "entropy_end": "mean token entropy of the last 5 steps' rollouts",
}


def mechanism_signals(steps: pd.DataFrame, by: str = "condition", window: int = 5) -> pd.DataFrame:
    """``SIGNALS`` per ``by`` group of step tables (``rlvr.runs.step_tables``): whether a
    mechanism could act in a run. A run that logged no such column (an older run) gets NaN."""
    rows = []
    for name, run in steps.groupby(by, sort=False):
        run = run.sort_values("step")
        row = {by: name}
        # The mean over no off-policy update is NaN: the clip had nothing to act on.
        logged = {"rollout_step", "clip_ratio_region_mean"} <= set(run)
        row["clipped"] = run.loc[run["step"] != run["rollout_step"], "clip_ratio_region_mean"].mean() if logged \
            else float("nan")
        for signal in ("all_wrong_groups", "all_wrong_weight"):
            column = f"advantage_{signal}"
            row[signal] = run[column].mean() if column in run else float("nan")
        entropy = run["entropy"] if "entropy" in run else pd.Series(dtype=float)
        row["entropy_start"], row["entropy_end"] = entropy.head(window).mean(), entropy.tail(window).mean()
        rows.append(row)
    return pd.DataFrame(rows, columns=[by, *SIGNALS])


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

    ``curves``: ``pass_at`` tables with a ``by`` column naming the model (and
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


# ----------------------------------------------------------------------------- evaluation tables


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``n`` samples of which ``c`` are right:
    1 - C(n - c, k) / C(n, k) (Chen et al. 2021), as a running product (no large binomials)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def pass_at(table: pd.DataFrame, metric: str = "correct") -> pd.DataFrame:
    """pass@k for k = 1, 2, 4, ... up to the samples per problem: ``pass_at_k`` per problem
    from its samples' ``metric``, averaged over problems; one row per (step, benchmark, k)."""
    keys = [k for k in ("step",) if k in table.columns] + ["benchmark"]
    per_problem = table.groupby(keys + ["problem_id"], sort=False)[metric].agg(n="size", c="sum").reset_index()
    rows = []
    for group, problems in per_problem.groupby(keys, sort=False):
        n = int(problems["n"].min())  # every problem has its n samples
        k = 1
        while k <= n:
            estimate = sum(pass_at_k(n, int(c), k) for c in problems["c"]) / len(problems)
            rows.append({**dict(zip(keys, group)), "k": k, "n": n, "pass_at_k": estimate})
            k *= 2
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``per_benchmark`` (each score of ``analysis.SCORES``, a mean over problems and
    samples, i.e. avg@n for ``eval``), ``per_subject`` (MATH500 subjects, or toy domains)
    and ``average`` (the 6-benchmark mean of ``eval`` the paper reports, over the
    benchmarks present)."""
    keys = [k for k in ("step",) if k in table.columns]
    per_benchmark = score(table, keys + ["benchmark"], sort=False)
    extra = (
        table.groupby(keys + ["benchmark"], sort=False)
        .agg(
            problems=("problem_id", "nunique"),
            samples=("sample", "nunique"),
            **{w: (w, "sum") for w in REFLECTION_WORDS},
        )
        .reset_index()
    )
    per_benchmark = per_benchmark.merge(extra, on=keys + ["benchmark"])
    subjects = table[table["subject"].notna() & table["benchmark"].isin(["math500", "toy-test"])]
    per_subject = score(subjects, keys + ["benchmark", "subject"])
    average = (
        per_benchmark.groupby(keys, sort=False)
        .agg(average=("eval", "mean"), benchmarks=("benchmark", "nunique"))
        .reset_index()
        if keys
        else pd.DataFrame([{"average": per_benchmark["eval"].mean(), "benchmarks": len(per_benchmark)}])
    )
    summaries = {"per_benchmark": per_benchmark, "per_subject": per_subject, "average": average}
    if table["sample"].nunique() > 1:
        summaries["pass_at"] = pass_at(table)
    return summaries


def select_checkpoint(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's checkpoint (best 6-benchmark average, an oracle choice on the
    test sets) beside the last one, per benchmark, so the selection's share of a
    result is visible."""
    summary = summarize(table)
    per_benchmark = summary["per_benchmark"].pivot(index="step", columns="benchmark", values="eval")
    per_benchmark["average"] = summary["average"].set_index("step")["average"]
    candidates = per_benchmark.drop(index=0, errors="ignore") if len(per_benchmark) > 1 else per_benchmark
    best, last = candidates["average"].idxmax(), candidates.index.max()
    picked = per_benchmark.loc[[best, last]].copy()
    picked.insert(0, "checkpoint", ["best average (paper)", "last"])
    return picked.reset_index()
