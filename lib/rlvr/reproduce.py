"""Every experiment of the paper in the embedded world, over seeds, in one command.

``rlvr reproduce`` (``make reproduce``) executes the sweep files of ``EXPERIMENTS``
(``params/sweeps/reproduce/``: each notebook at full embedded-default size over
``train.seed``) two runs side by side, resumable (complete runs are skipped, an
interrupted notebook's training resumes from its last checkpoint and evaluated
checkpoints are kept) and failure-tolerant (a failed run is recorded and the rest
go on). Then ``report`` reads every run's tables, checks each of the paper's
patterns over the seeds and regenerates the generated part of
``docs/results-toy.md`` and the figures under ``docs/figures/``.

A pattern is a list of claims on per-seed numbers (a < b, a gain of at least x).
Its verdict: ``HOLDS_ALL`` when every claim holds on every seed, ``HOLDS_MEAN``
when every claim holds on the seeds' means, else ``FAILS``; ``NOT_RUN`` where its
runs are missing. Post-saturation generalisation has its own rule (``post_saturation``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import ablations, analysis, paper
from .rundir import RUN_CONFIG, STEPS_LOG, load_run, read_log
from .sweep import Job, Sweep, _execute, kernels_share_cores, load_sweep

HOLDS_ALL, HOLDS_MEAN, FAILS, NOT_RUN = "holds on all seeds", "holds on the mean", "fails", "not run"
SWEEPS = Path("params/sweeps/reproduce")
DOC = Path("docs/results-toy.md")
FIGURES = Path("docs/figures")
BEGIN = "<!-- BEGIN GENERATED: `rlvr reproduce` rewrites everything down to END GENERATED -->"
END = "<!-- END GENERATED -->"


# ----------------------------------------------------------------------------- claims and verdicts


@dataclass
class Claim:
    """One claim checked on every seed and on the seeds' means."""

    text: str
    per_seed: dict[int, bool]
    on_mean: bool

    @property
    def holds_all(self) -> bool:
        return bool(self.per_seed) and all(self.per_seed.values())


@dataclass
class Pattern:
    """The paper's finding, the claims that stand for it here, and the verdict."""

    finding: str
    claims: list[Claim] = field(default_factory=list)
    rule: str | None = None  # set where the pattern has its own verdict rule
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.rule:
            return self.rule
        if not self.claims:
            return NOT_RUN
        if all(c.holds_all for c in self.claims):
            return HOLDS_ALL
        return HOLDS_MEAN if all(c.on_mean for c in self.claims) else FAILS


def claim(values: pd.DataFrame, text: str, test: Callable[[pd.Series], bool]) -> Claim:
    """``test`` on each seed's row of ``values`` (one row per seed, one column per quantity)
    and on the row of their means. A quantity missing on a seed makes that seed fail."""
    per_seed = {}
    for seed, row in values.iterrows():
        per_seed[int(seed)] = bool(not row.isna().any() and test(row))
    means = values.mean()
    return Claim(text, per_seed, bool(not means.isna().any() and test(means)))


def mean_std(values: pd.Series, scale: float = 100.0) -> str:
    """``mean ± std`` over seeds (sample std), in percent by default."""
    values = values.dropna() * scale
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std():.1f}"


# ----------------------------------------------------------------------------- the experiments


@dataclass
class Result:
    """What an experiment's check gives the report: the table (mean ± std over seeds), the
    patterns with their verdicts, and the per-seed numbers behind its figure."""

    table: pd.DataFrame
    patterns: list[Pattern]
    points: pd.DataFrame = field(default_factory=pd.DataFrame)  # seed, condition, strict (or step curves)
    curves: bool = False
    measure: str = "strict accuracy on toy-test, best checkpoint (%)"


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    sweeps: tuple[str, ...]  # files under params/sweeps/reproduce/
    check: Callable[[list[Job], Path], Result] | None  # its sweeps' complete runs, the project root
    after: tuple[str, ...] = ()  # experiments whose runs this one reads
    seeded: bool = True


def _runs(sweep_file: str, seeds: Sequence[int], root: Path) -> list[tuple[Sweep, Job]]:
    sweep = load_sweep(root / SWEEPS / sweep_file, root=root)
    if "train.seed" in sweep.grid and seeds is not None:
        sweep = dataclasses.replace(sweep, grid={**sweep.grid, "train.seed": list(seeds)})
    return [(sweep, run) for run in sweep.jobs()]


def _seed(run: Job) -> int:
    return int(run.values.get("train.seed", 0))


def _complete(sweep_file: str, seeds, root: Path) -> list[Job]:
    return [run for _, run in _runs(sweep_file, seeds, root) if run.complete]


def _read(run: Job, table: str) -> pd.DataFrame:
    path = run.out_dir / f"{table}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.read_csv(run.out_dir / f"{table}.csv")


def _stack(runs: list[Job], table: str) -> pd.DataFrame:
    """One of the runs' saved tables, stacked, with each run's seed."""
    return pd.concat([_read(r, table).assign(seed=_seed(r)) for r in runs], ignore_index=True)


def _best(scores: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return analysis.best_step(scores[scores["step"] > 0], "strict", by)


def _with_base(scores: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Each seed's base model (step 0, condition "base") and each group's best checkpoint."""
    base = scores[scores["step"] == 0].groupby("seed").first().reset_index().assign(condition="base")
    return pd.concat([base, _best(scores, by)], ignore_index=True)


def _wide(best: pd.DataFrame, column: str = "strict", by: str = "condition") -> pd.DataFrame:
    return best.pivot_table(index="seed", columns=by, values=column, aggfunc="first")


def _by_condition(runs: list[Job]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A notebook's score tables stacked over seeds, each (seed, condition)'s best checkpoint beside
    the base, and their strict accuracy one row per seed, one column per condition."""
    scores = _stack(runs, "scores")
    best = _with_base(scores, ["seed", "condition"])
    return scores, best, _wide(best)


def check_tab8(runs: list[Job], root: Path) -> Result:
    scores = _stack(runs, "summary") if runs else None
    pattern = Pattern("base < format-only < 1-shot outcome <= full set; the outcome reward removes running on, "
                      "format-only does not (Tab. 8, Tab. 14)")
    if scores is None:
        return Result(pd.DataFrame(), [pattern])
    best = _with_base(scores, ["seed", "condition"])
    last = scores.loc[scores.groupby(["seed", "condition"])["step"].idxmax()]
    strict = _wide(best)
    run_on = _wide(last, "run_on").assign(base=best[best["condition"] == "base"].set_index("seed")["run_on"])
    one, fmt, full = "1-shot (outcome)", "1-shot (format)", "full set (outcome)"
    pattern.claims = [
        claim(strict, "base < format-only (best strict)", lambda r: r["base"] < r[fmt]),
        claim(strict, "format-only < 1-shot outcome", lambda r: r[fmt] < r[one]),
        claim(strict, "1-shot outcome <= full set", lambda r: r[one] <= r[full]),
        claim(run_on, "outcome: running on at the last step under half the base's",
              lambda r: r[one] < r["base"] / 2),
        claim(run_on, "format-only: running on at the last step above half the base's",
              lambda r: r[fmt] > r["base"] / 2),
    ]
    table = _summary(best, "condition", ["strict", "eval", "boxed", "run_on"],
                     order=["base", full, one, fmt])
    tab14 = paper.table("tab14").query("benchmark == 'MATH500' and (entropy or dataset == 'base')")
    keys = {"base": ("base", "-"), one: ("{pi_1}", "outcome"), fmt: ("{pi_1}", "format"), full: ("DSR-sub", "outcome")}
    table["paper MATH500"] = [_paper_value(tab14, keys.get(c), "accuracy") for c in table["condition"]]
    domains = per_domain(runs, best, order=table["condition"].tolist())
    if not domains.empty:
        table = pd.concat([table, domains], axis=1)
    return Result(table, [pattern], best[["seed", "condition", "strict"]])


def per_domain(runs: list[Job], best: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Strict accuracy per toy-test domain at each run's best checkpoint (mean over seeds, %),
    one column per domain, one row per condition in ``order`` ("base": step 0)."""
    frames = []
    for r in runs:
        if not (r.out_dir / "eval.parquet").is_file():
            continue
        table = pd.read_parquet(r.out_dir / "eval.parquet")
        scored = analysis.score(table, ["condition", "step", "subject"]).assign(seed=_seed(r))
        mine = best[best["seed"] == _seed(r)]
        picked = scored.merge(mine[["condition", "step"]], on=["condition", "step"])
        base = scored[scored["step"] == 0].drop_duplicates("subject").assign(condition="base")
        frames.append(pd.concat([base, picked], ignore_index=True))
    if not frames:
        return pd.DataFrame()
    domains = pd.concat(frames, ignore_index=True).groupby(["condition", "subject"])["strict"].mean().unstack()
    domains = (domains.reindex(order) * 100).round(1)
    domains.columns.name = None
    return domains.rename(columns=lambda d: f"{d} (%)").reset_index(drop=True)


def _paper_value(table: pd.DataFrame, key, column: str):
    if key is None:
        return None
    rows = table[(table["dataset"] == key[0]) & (table["reward"] == key[1])]
    return rows[column].iloc[0] if len(rows) else None


def _summary(best: pd.DataFrame, by: str, columns: list[str], order: list[str] | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of each column, one row per ``by`` value (with the seeds' best steps)."""
    rows = []
    names = order or list(dict.fromkeys(best[by]))
    for name in names:
        group = best[best[by] == name]
        if group.empty:
            continue
        row = {by: name, "seeds": group["seed"].nunique(),
               "best steps": ", ".join("-" if pd.isna(s) else str(int(s)) for s in group.sort_values("seed")["step"])}
        row.update({c: mean_std(group[c]) for c in columns if c in group})
        rows.append(row)
    return pd.DataFrame(rows)


def check_tab5(runs: list[Job], root: Path) -> Result:
    pattern = Pattern("without the policy-gradient loss (rows 1, 8) little gain; rows with it (2-7) gain most; "
                      "the entropy bonus helps (row 5 >= row 4); entropy alone (row 10) still improves on the base "
                      "(Tab. 5 rows 1-10)")
    if not runs:
        return Result(pd.DataFrame(), [pattern])
    scores = _stack(runs, "scores")
    scores["row"] = scores["condition"].str.extract(r"row (\d+)", expand=False).astype(float)
    best = _with_base(scores, ["seed", "row"])
    strict = _wide(best)
    rows = {int(row): name for row, name in best[["row", "condition"]].dropna().drop_duplicates().values}
    with_pg, without = [rows[i] for i in (2, 3, 4, 5, 6, 7)], [rows[i] for i in (1, 8, 9, 10)]
    pattern.claims = [
        claim(strict, "rows 1 and 8 gain under 2 points", lambda r: max(r[rows[1]], r[rows[8]]) - r["base"] < 0.02),
        claim(strict, "every row with the policy gradient (2-7) above every row without it (1, 8, 9, 10)",
              lambda r: min(r[c] for c in with_pg) > max(r[c] for c in without)),
        claim(strict, "row 5 >= row 4 (the entropy bonus)", lambda r: r[rows[5]] >= r[rows[4]]),
        claim(strict, "row 10 (entropy alone) above the base", lambda r: r[rows[10]] > r["base"]),
    ]
    table = _summary(best, "condition", ["strict", "eval"], order=["base", *(rows[i] for i in sorted(rows))])
    published = paper.table("tab5").set_index("row")["MATH500"]
    table["paper MATH500"] = [36.0] + [published[i] for i in sorted(rows)]
    return Result(table, [pattern], best[["seed", "condition", "strict"]])


def check_labels(runs: list[Job], root: Path) -> Result:
    labels = Pattern("a close wrong label costs little; a wrong label the model can reach hurts most; an "
                     "unreachable one hurts less than a reachable one (Tab. 5 rows 11-13)")
    noise = Pattern("the full set with 60% wrong labels keeps most of the gain, 90% keeps less, both above the "
                    "base (Tab. 17)")
    ppo_noise = Pattern("PPO with wrong labels on the full set: 0% >= 60% >= 90%, all above the base (Tab. 17's "
                        "PPO rows: 72.8, 71.6, 68.2)")
    if not runs:
        return Result(pd.DataFrame(), [labels, noise, ppo_noise])
    scores, best, strict = _by_condition(runs)

    def named(start: str) -> str | None:
        return next((c for c in strict.columns if c.startswith(start)), None)

    right, close, reach, unreach = (named(s) for s in ("right label", "close wrong label", "reachable wrong label",
                                                         "unguessable label"))
    if all((right, close, reach, unreach)):
        labels.claims = [
            claim(strict, "close wrong label within 3 points of the right label",
                  lambda r: r[close] >= r[right] - 0.03),
            claim(strict, "reachable wrong label the lowest of the three wrong labels",
                  lambda r: r[reach] < min(r[close], r[unreach])),
            claim(strict, "unreachable label above the reachable one", lambda r: r[unreach] > r[reach]),
        ]
    by_algorithm = {}  # algorithm -> percent -> condition
    for c in strict.columns:
        if found := ablations.noise_level(c):
            by_algorithm.setdefault(found[0], {})[found[1]] = c
    levels, ppo_levels = by_algorithm.get("grpo", {}), by_algorithm.get("ppo", {})
    if {0, 60, 90} <= set(levels):
        n0, n60, n90 = levels[0], levels[60], levels[90]
        noise.claims = [
            claim(strict, "60% wrong labels keep at least half the gain of 0%",
                  lambda r: r[n60] - r["base"] >= 0.5 * (r[n0] - r["base"])),
            claim(strict, "90% below 60%", lambda r: r[n90] < r[n60]),
            claim(strict, "90% above the base", lambda r: r[n90] > r["base"]),
        ]
    if {0, 60, 90} <= set(ppo_levels):
        p0, p60, p90 = ppo_levels[0], ppo_levels[60], ppo_levels[90]
        ppo_noise.claims = [
            claim(strict, "0% >= 60% wrong labels", lambda r: r[p0] >= r[p60]),
            claim(strict, "60% >= 90% wrong labels", lambda r: r[p60] >= r[p90]),
            claim(strict, "90% wrong labels above the base", lambda r: r[p90] > r["base"]),
        ]
    order = ["base", right, close, reach, unreach, *(levels[k] for k in sorted(levels)),
             *(ppo_levels[k] for k in sorted(ppo_levels))]
    table = _summary(best, "condition", ["strict", "eval"], order=[c for c in order if c])
    tab5, tab17 = paper.table("tab5").set_index("row")["MATH500"], paper.table("tab17")
    ppo_paper = paper.table("ppo").set_index(["dataset", "label_noise"])["MATH500"]
    published = {"base": 36.0, right: tab5[5], close: tab5[11], reach: tab5[12], unreach: tab5[13],
                 **{levels[k]: tab17[(tab17["dataset"] == "DSR-sub") & (tab17["label_noise"] == k / 100)]["MATH500"]
                    .iloc[0] for k in levels if k in (0, 60, 90)},
                 **{ppo_levels[k]: ppo_paper[("DSR-sub", k / 100)] for k in ppo_levels if k in (0, 60, 90)}}
    table["paper MATH500"] = [published.get(c) for c in table["condition"]]
    return Result(table, [labels, noise, ppo_noise], best[["seed", "condition", "strict"]])


def check_tab16(runs: list[Job], root: Path) -> Result:
    pattern = Pattern("1-shot RLVR above the example given in-context (with the model's own solution), which is "
                      "above the base (Tab. 16)")
    if not runs:
        return Result(pd.DataFrame(), [pattern])
    scores = _stack(runs, "summary")
    scores["step"] = scores["step"].fillna(0) if "step" in scores else 0  # the demo rows: the base model
    strict = _wide(scores, by="setting")
    rlvr, own, base = "1-shot RLVR (best checkpoint)", "example in-context (own solution)", "base (no demos)"
    if rlvr in strict:
        pattern.claims = [claim(strict, "1-shot RLVR above the example in-context", lambda r: r[rlvr] > r[own]),
                          claim(strict, "the example in-context above the base", lambda r: r[own] > r[base])]
    table = _summary(scores, "setting", ["strict", "eval", "boxed", "run_on"])
    return Result(table, [pattern], scores.rename(columns={"setting": "condition"})[["seed", "condition", "strict"]])


def check_tab14(runs: list[Job], root: Path) -> Result:
    pattern = Pattern("the format-only reward below the outcome reward, with and without the entropy bonus; "
                      "both above the base (Tab. 14)")
    if not runs:
        return Result(pd.DataFrame(), [pattern])
    scores, best, strict = _by_condition(runs)
    claims = []
    for ent in ("with", "no"):
        out, fmt = f"1-shot, outcome, {ent} entropy", f"1-shot, format, {ent} entropy"
        if out in strict and fmt in strict:
            claims.append(claim(strict, f"format < outcome, {ent} entropy", lambda r, o=out, f=fmt: r[f] < r[o]))
            claims.append(claim(strict, f"format above the base, {ent} entropy", lambda r, f=fmt: r[f] > r["base"]))
    pattern.claims = claims
    table = _summary(best, "condition", ["strict", "eval", "boxed", "run_on"])
    tab14 = paper.table("tab14").query("benchmark == 'MATH500'")

    def published(condition: str):
        if condition == "base":
            return 36.0
        one_shot, reward, entropy = condition.split(", ")
        rows = tab14[(tab14["dataset"] == ("{pi_1}" if one_shot == "1-shot" else "DSR-sub"))
                     & (tab14["reward"] == reward) & (tab14["entropy"] == entropy.startswith("with"))]
        return rows["accuracy"].iloc[0] if len(rows) else None

    table["paper MATH500"] = [published(c) for c in table["condition"]]
    return Result(table, [pattern], best[["seed", "condition", "strict"]])


@functools.cache
def example_domain(example: str) -> str:
    """The domain of a training example (toy-train's ``domain``)."""
    from .config import preset
    from .data import choose_examples

    return str(choose_examples(preset("cpu", examples=[example]))[0].get("domain", ""))


def never_solved(root: Path) -> set[str]:
    """Training examples the base-model-led selection run never solved (every epoch's accuracy 0)."""
    from .selection import load_history

    histories = sorted((root / "outputs" / "reproduce" / "selection").glob("*/selection-run/history_accuracy.json"))
    if not histories:
        return set()
    return {example for example, accuracy in load_history(histories[0]).items() if max(accuracy) == 0}


def check_tab3(runs: list[Job], root: Path) -> Result:
    differ = Pattern("gains differ by example (Tab. 3)")
    least = Pattern("the never-solved and the wrong-label examples gain least (Tab. 3: pi_1208, pi_1207)")
    transfer = Pattern("1-shot on one domain lifts the other domains (cross-domain transfer, Tab. 3)")
    if not runs:
        return Result(pd.DataFrame(), [differ, least, transfer])
    unsolved = never_solved(root)
    rows = []
    for r in runs:
        table = _read(r, "eval")
        example = r.parameters["examples"][0]
        label = (r.parameters.get("train") or {}).get("label")
        name = example + (f" (wrong label {label})" if label else " (never solved)" if example in unsolved else "")
        domain = example_domain(example)
        overall = analysis.score(table, "step").assign(subject="all")
        scored = pd.concat([analysis.score(table, ["step", "subject"]), overall], ignore_index=True)
        best = int(analysis.best_step(overall[overall["step"] > 0], "strict", "subject")["step"].iloc[0])
        for _, d in scored[scored["step"].isin([0, best])].iterrows():
            rows.append({"seed": _seed(r), "example": name, "domain of the example": domain,
                         "when": "base" if d["step"] == 0 else "best", "domain": d["subject"], "strict": d["strict"]})
    long = pd.DataFrame(rows)
    wide = long.pivot_table(index=["seed", "example", "domain of the example", "domain"], columns="when",
                            values="strict").reset_index()
    wide["gain"] = wide["best"] - wide["base"]
    gains = wide[wide["domain"] == "all"].pivot_table(index="seed", columns="example", values="gain")
    differ.claims = [claim(gains, "the best example's gain at least 5 points above the worst's",
                           lambda r: r.max() - r.min() >= 0.05)]
    special = [c for c in gains.columns if "(" in c]
    regular = [c for c in gains.columns if "(" not in c]
    if special and regular:
        least.claims = [claim(gains, "the never-solved and wrong-label examples below every other example's gain",
                              lambda r: max(r[c] for c in special) < min(r[c] for c in regular))]
    other = wide[(wide["domain"] != "all") & (wide["domain"] != wide["domain of the example"])]
    other_gain = other.groupby(["seed", "example"])["gain"].mean().unstack("example")
    if regular:
        transfer.claims = [claim(other_gain[regular], "the regular examples lift the four other domains by 2+ "
                                 "points (mean gain over examples and domains)", lambda r: r.mean() >= 0.02)]
    table = (wide.groupby(["example", "domain of the example", "domain"])["gain"].mean().unstack("domain") * 100)
    table = table.round(1).reset_index()
    table.columns.name = None
    points = wide[wide["domain"] == "all"].rename(columns={"example": "condition", "gain": "strict"})
    return Result(table.rename(columns={"all": "all (gain, points)"}), [differ, least, transfer],
                  points[["seed", "condition", "strict"]], measure="gain in strict accuracy over the base (points)")


def post_saturation(steps: pd.DataFrame, test: pd.DataFrame, margin: float = 0.03) -> dict:
    """The reproduce's rule for one seed: saturation at the first step where the smoothed training
    accuracy reaches 0.9; reproduced when the best test accuracy at or after twice that step beats the
    test accuracy at twice that step (the first evaluation there) by ``margin``."""
    saturation = analysis.saturation_step(steps)
    result = {"saturation": saturation, "at_twice": None, "best_after": None, "best_step": None,
              "reproduced": False}
    if saturation is None:
        return result
    after = test[test["step"] >= 2 * saturation].sort_values("step")
    if after.empty:
        return result
    best = after.loc[after["strict"].idxmax()]
    result.update(at_twice=float(after["strict"].iloc[0]), twice_step=int(after["step"].iloc[0]),
                  best_after=float(best["strict"]), best_step=int(best["step"]))
    result["reproduced"] = result["best_after"] - result["at_twice"] >= margin
    return result


def late_rollouts(steps: pd.DataFrame, last: int = 50) -> dict:
    """The training example's own rollouts over the run's last ``last`` steps: how often solved and
    boxed, and how long. Overfitting shows here first (the paper's pi_1 rollouts turn to gibberish
    from step ~1400 while its test accuracy holds)."""
    tail = steps[steps["step"] > steps["step"].max() - last]
    return {"late_solved": float(tail["train_accuracy"].mean()), "late_boxed": float(tail["boxed_rate"].mean()),
            "late_tokens": float(tail["completions_mean_length"].mean())}


def check_postsat(runs: list[Job], root: Path) -> Result:
    rise = Pattern("after training accuracy saturates, test accuracy keeps rising (section 4, Fig. 2-3): the "
                   "best test accuracy at or after twice the saturation step at least 3 points above the test "
                   "accuracy at twice the saturation step, in at least 2 of 3 seeds of 500+ steps")
    passk = Pattern("the best 1-shot checkpoint's pass@8 at or above the base's (Tab. 20)")
    if not runs:
        return Result(pd.DataFrame(), [rise, passk])
    rows, pass_rows, curves = [], [], []
    for r in runs:
        summary = pd.read_csv(r.out_dir / "summary.csv")
        steps = load_run(r.out_dir / "run")["steps"]
        result = post_saturation(steps, summary)
        curves.append(summary[["step", "strict"]].assign(seed=_seed(r), curve="test (strict)"))
        smooth = analysis.training_curve(steps, 5)
        curves.append(smooth[["step"]].assign(strict=smooth["train_accuracy_smooth"], seed=_seed(r),
                                              curve="training accuracy (5-step mean)"))
        test = summary.set_index("step")
        last = int(test.index.max())
        words = pd.read_parquet(r.out_dir / "reflection.parquet").set_index("step").sum(axis=1).to_frame("words")
        rows.append({"seed": _seed(r), **result, "last_step": last, "test_last": float(test.loc[last, "strict"]),
                     "length_at_twice": _at(test, result.get("twice_step"), "length"),
                     "length_last": _at(test, last, "length"),
                     "words_at_twice": _at(words, result.get("twice_step"), "words"),
                     "words_last": _at(words, last, "words"), **late_rollouts(steps)})
        if (r.out_dir / "pass_at.parquet").is_file():
            p = pd.read_parquet(r.out_dir / "pass_at.parquet")
            for _, row in p.iterrows():
                pass_rows.append({"seed": _seed(r), "model": row["model"], "k": int(row["k"]),
                                  "pass_at_k": row["pass_at_k"]})
    found = pd.DataFrame(rows).sort_values("seed")
    hits = int(found["reproduced"].sum())
    table = pd.DataFrame({
        "seed": found["seed"], "saturation step": found["saturation"],
        "test at twice saturation (%)": [_cell(v, s) for v, s in zip(found["at_twice"], found["twice_step"])],
        "best after it (%)": [_cell(v, s) for v, s in zip(found["best_after"], found["best_step"])],
        "at the last step (%)": [_cell(v, s) for v, s in zip(found["test_last"], found["last_step"])],
        "reproduced": found["reproduced"].map({True: "yes", False: "no"}),
        "answer length at twice saturation -> last (tokens)": _arrows(found["length_at_twice"],
                                                                       found["length_last"], "{:.0f}"),
        "self-reflection words per answer, same steps": _arrows(found["words_at_twice"], found["words_last"],
                                                                 "{:.2f}"),
        "the example's rollouts, last 50 steps: solved / boxed (%), tokens": [
            f"{100 * a:.0f} / {100 * b:.0f}, {t:.0f}"
            for a, b, t in zip(found["late_solved"], found["late_boxed"], found["late_tokens"])],
    })
    rise.rule = f"reproduced ({hits} of {len(found)} seeds)" if hits >= 2 else f"fails ({hits} of {len(found)} seeds)"
    rise.claims = [Claim("best after twice saturation >= at twice saturation + 3 points",
                         dict(zip(found["seed"], found["reproduced"])), False)]
    if pass_rows:
        p = pd.DataFrame(pass_rows)
        at8 = p[p["k"] == p["k"].max()].pivot_table(index="seed", columns="model", values="pass_at_k")
        if {"base", "best checkpoint"} <= set(at8.columns):
            passk.claims = [claim(at8, f"pass@{int(p['k'].max())}: best checkpoint >= base",
                                  lambda r: r["best checkpoint"] >= r["base"])]
        passk.note = "pass@k, mean over seeds (%): " + "; ".join(
            f"{m} " + ", ".join(f"k={k} {100 * v:.1f}" for k, v in g.groupby("k")["pass_at_k"].mean().items())
            for m, g in p.groupby("model"))
    return Result(table, [rise, passk], pd.concat(curves, ignore_index=True), curves=True)


def _arrows(before, after, fmt: str) -> list[str]:
    return [fmt.format(a) + " -> " + fmt.format(b) if a is not None and b is not None and not pd.isna(a)
            and not pd.isna(b) else "-" for a, b in zip(before, after)]


def _cell(value, step) -> str:
    return "-" if value is None or pd.isna(value) else f"{100 * value:.1f} (step {int(step)})"


def _at(table: pd.DataFrame, step, column: str):
    return float(table.loc[step, column]) if step is not None and step in table.index and column in table else None


# Shao et al.'s signals for ours (their first version's MATH-500 gains; the full-set outcome run is
# their "ground truth", the 1-shot one their "one-shot RL").
_THEIRS = {"full set, outcome": "ground truth", "1-shot, outcome": "one-shot RL", "1-shot, random": "random",
           "full set, random": "random", "1-shot, majority": "majority", "full set, majority": "majority",
           "1-shot, format": "format", "full set, format": "format"}


def check_beyond(runs: list[Job], root: Path) -> Result:
    """The follow-up literature's findings (08_beyond_the_paper), checked in this world."""
    spurious = Pattern("a random reward, independent of the answer, lifts the base (Shao et al. 2025: +21.4 points "
                       "on MATH-500 for Qwen2.5-Math-7B, little or nothing for Llama and OLMo)")
    ttrl = Pattern("the majority-vote reward, which never reads a label, gains at least half as much as the true "
                   "reward (TTRL, arXiv 2504.16084)")
    em = Pattern("entropy minimisation without any reward lifts the base (one-shot EM, arXiv 2505.20282)")
    nsr = Pattern("training only on rollouts with a negative advantage (NSR) gains at least half as much as the "
                  "full policy gradient (Zhu et al., arXiv 2506.01347)")
    yue = Pattern("at large k the base model's pass@k catches up with the RL-trained model's (Yue et al., "
                  "arXiv 2504.13837): a crossing k exists for the outcome-reward runs")
    patterns = [spurious, ttrl, em, nsr, yue]
    if not runs:
        return Result(pd.DataFrame(), patterns)
    scores, best, strict = _by_condition(runs)
    gain = strict.sub(strict["base"], axis=0)
    # (pattern, signal): the signal above the base, and at least half of the outcome reward's gain.
    above_base = ((spurious, "random"), (em, "entropy minimisation"))
    half_the_gain = ((ttrl, "majority"), (nsr, "NSR"))
    for setting in ("1-shot", "full set"):
        for pattern, signal in above_base:
            if (c := f"{setting}, {signal}") in strict:
                pattern.claims.append(claim(strict, f"{setting}: {signal} above the base",
                                            lambda r, c=c: r[c] > r["base"]))
        for pattern, signal in half_the_gain:
            c, outcome = f"{setting}, {signal}", f"{setting}, outcome"
            if c in gain and outcome in gain:
                pattern.claims.append(claim(gain, f"{setting}: {signal}'s gain >= half of outcome's",
                                            lambda r, c=c, o=outcome: r[c] >= 0.5 * r[o]))
    curves = [_read(r, "pass_at").assign(seed=_seed(r)) for r in runs if (r.out_dir / "pass_at.parquet").is_file()]
    if curves:
        stacked = pd.concat(curves, ignore_index=True)
        per_seed = {seed: analysis.pass_at_crossing(c).set_index("model")["crossing_k"]
                    for seed, c in stacked.groupby("seed")}
        on_mean = analysis.pass_at_crossing(stacked).set_index("model")["crossing_k"]  # curves averaged first
        largest = int(stacked["k"].max())
        for model in (m for m in ("1-shot, outcome", "full set, outcome") if m in on_mean):
            yue.claims.append(Claim(f"{model}: the base catches up by k = {largest}",
                                    {s: not pd.isna(k.get(model)) for s, k in per_seed.items()},
                                    not pd.isna(on_mean[model])))
        yue.note = "crossing k per seed (- where the base never catches up): " + "; ".join(
            f"{m}: " + ", ".join("-" if pd.isna(k.get(m)) else str(int(k.get(m))) for k in per_seed.values())
            for m in on_mean.index)
    order = ["base"] + list(dict.fromkeys(scores["condition"]))  # the notebook's order: 1-shot, then full set
    table = _summary(best, "condition", ["strict", "eval", "boxed", "run_on"], order)
    theirs = paper.table("spurious").set_index("signal")["MATH500 gain (v1)"]
    means = gain.mean() * 100
    table["gain over the base (points)"] = ["-" if c == "base" else f"{means.get(c):.1f}" for c in table["condition"]]
    table["theirs: MATH-500 gain, Qwen2.5-Math-7B"] = [
        f"{theirs[_THEIRS[c]]:.1f}" if c in _THEIRS else "-" for c in table["condition"]]
    return Result(table, patterns, best[["seed", "condition", "strict"]])


def check_ppo(runs: list[Job], root: Path) -> Result:
    """PPO beside GRPO (09_ppo): Tab. 4's comparison (its wrong-label rows are check_labels')."""
    lift = Pattern("PPO on the 1-shot example lifts the base as GRPO does, within the seeds' spread (Tab. 4: "
                   "72.4 against GRPO's 72.8 on MATH500)")
    if not runs:
        return Result(pd.DataFrame(), [lift])
    scores, best, strict = _by_condition(runs)
    grpo, ppo, full_grpo, full_ppo = "1-shot, GRPO", "1-shot, PPO", "full set, GRPO", "full set, PPO"
    if {grpo, ppo} <= set(strict.columns):
        spread = strict[[grpo, ppo]].std().max()  # the larger of the two conditions' spread over seeds
        lift.claims = [
            claim(strict, "1-shot PPO above the base", lambda r: r[ppo] > r["base"]),
            Claim(f"1-shot PPO within the seeds' spread ({spread * 100:.1f} points) of 1-shot GRPO",
                  {int(s): bool(abs(r[ppo] - r[grpo]) <= spread) for s, r in strict.iterrows()},
                  bool(abs(strict[ppo].mean() - strict[grpo].mean()) <= spread)),
        ]
        lift.note = "PPO minus GRPO, 1-shot, per seed (points): " + ", ".join(
            f"{(r[ppo] - r[grpo]) * 100:+.1f}" for _, r in strict.iterrows())
        if {full_grpo, full_ppo} <= set(strict.columns):
            lift.note += "; full set: " + ", ".join(
                f"{(r[full_ppo] - r[full_grpo]) * 100:+.1f}" for _, r in strict.iterrows())
    order = ["base"] + list(dict.fromkeys(scores["condition"]))
    table = _summary(best, "condition", ["strict", "eval", "boxed", "run_on"], order)
    ppo_paper, tab17 = paper.table("ppo").set_index(["dataset", "label_noise"])["MATH500"], paper.table("tab17")
    grpo_full = tab17[(tab17["dataset"] == "DSR-sub") & (tab17["label_noise"] == 0)]["MATH500"].iloc[0]
    published = {"base": 36.0, grpo: paper.table("tab8").set_index("dataset").loc["{pi_1}", "MATH500"],
                 ppo: ppo_paper[("{pi_1}", 0.0)], full_grpo: grpo_full, full_ppo: ppo_paper[("DSR-sub", 0.0)]}
    table["paper MATH500"] = [published.get(c) for c in table["condition"]]
    return Result(table, [lift], best[["seed", "condition", "strict"]])


EXPERIMENTS: dict[str, Experiment] = {
    "selection": Experiment("selection", "Data selection by historical variance (section 2, Fig. 1)",
                            ("selection.yaml",), None, seeded=False),
    "tab8": Experiment("tab8", "The headline: 1-shot against format-only and the full set (Tab. 8, Tab. 14)",
                       ("tab8.yaml",), check_tab8),
    "tab5": Experiment("tab5", "The loss terms (Tab. 5 rows 1-10)", ("tab5.yaml",), check_tab5),
    "labels": Experiment("labels", "Wrong labels: one example's (Tab. 5 rows 11-13) and the full set's, with GRPO "
                                   "and PPO (Tab. 17)",
                         ("labels.yaml",), check_labels),
    "tab14": Experiment("tab14", "Format reward against outcome reward, with and without entropy (Tab. 14)",
                        ("tab14.yaml",), check_tab14),
    "tab3": Experiment("tab3", "1-shot on different examples and cross-domain transfer (Tab. 3)",
                       ("tab3.yaml", "tab3-wrong-label.yaml"), check_tab3),
    "postsat": Experiment("postsat", "Post-saturation generalisation (section 4, Fig. 2-3) and pass@8 (Tab. 20)",
                          ("postsat.yaml",), check_postsat),
    "tab16": Experiment("tab16", "In-context examples against 1-shot RLVR (Tab. 16)", ("tab16.yaml",), check_tab16,
                        after=("tab8",)),
    "beyond": Experiment("beyond", "Beyond the paper: spurious and label-free rewards, entropy minimisation, "
                                   "PSR/NSR, pass@k at large k (08_beyond_the_paper)", ("beyond.yaml",), check_beyond),
    "ppo": Experiment("ppo", "PPO beside GRPO on the 1-shot example and the full set (Tab. 4; 09_ppo)",
                      ("ppo.yaml",), check_ppo),
}
# The longest first, side by side; an experiment that reads another's runs after it.
ORDER = ("selection", "postsat", "tab5", "labels", "tab14", "tab8", "tab3", "tab16")
# Not run by default (`--only beyond,ppo`): beyond is not the paper's, ppo came later; each is reported once
# its runs exist.
EXTRAS = ("beyond", "ppo")


def chosen(only: str | Sequence[str] | None) -> list[str]:
    """Experiment names from ``--only`` (comma-separated), checked against ``EXPERIMENTS``."""
    if not only:
        return list(ORDER)
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    if bad := [n for n in names if n not in EXPERIMENTS]:
        raise ValueError(f"--only: unknown experiment(s) {', '.join(bad)}; choose from {', '.join(ORDER + EXTRAS)}")
    return [n for n in ORDER + EXTRAS if n in names]


# ----------------------------------------------------------------------------- running


def _training_line(out_dir: Path) -> str | None:
    """Where a notebook run stands: the run folder it trains in now, at step n of N."""
    logs = sorted(out_dir.rglob(STEPS_LOG), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    rows = read_log(logs[-1].parent, STEPS_LOG)
    try:
        config = json.loads((logs[-1].parent / RUN_CONFIG).read_text())["config"]
        total = f"/{config['steps'] * config.get('optimizer_steps_per_rollout', 1)}"
    except (OSError, ValueError, KeyError):
        total = ""
    where = logs[-1].parent.relative_to(out_dir).as_posix()
    return f"{where} step {rows[-1]['step']}{total}" if rows else None


SEEDS = (0, 1, 2)  # the seeds every experiment runs over, and the report shows


def reproduce(only=None, seeds: Sequence[int] = SEEDS, parallel: int = 2, root: str | Path | None = None,
              dry_run: bool = False, report_to: str | Path | None = DOC,
              progress_every_s: float = 60.0) -> dict[str, list[str]]:
    """Run the chosen experiments' incomplete runs (``parallel`` at once), then write the report.
    Returns the runs that failed, by experiment."""
    root = Path(root or Path.cwd())
    names = chosen(only)
    waves = [[n for n in names if not EXPERIMENTS[n].after], [n for n in names if EXPERIMENTS[n].after]]
    failed: dict[str, list[str]] = {}
    t0 = time.monotonic()
    for wave in (w for w in waves if w):
        listed = [(name, sweep, run) for name in wave for f in EXPERIMENTS[name].sweeps
                  for sweep, run in _runs(f, seeds if EXPERIMENTS[name].seeded else None, root)]
        todo = [item for item in listed if not item[2].complete]
        print(f"reproduce {', '.join(wave)}: {len(listed)} runs, {len(listed) - len(todo)} complete, "
              f"{len(todo)} to run", flush=True)
        if dry_run:
            for name, _, run in todo:
                print(f"  run  {name}/{run.name}")
            continue
        done, active = [0], {}
        stop = threading.Event()

        def execute(item, count=len(todo)):
            name, sweep, run = item
            active[run.out_dir] = f"[{name}] {run.name}"
            try:
                error = _execute(sweep, run, f"[{name}]")
            finally:
                active.pop(run.out_dir, None)
            done[0] += 1
            elapsed = time.monotonic() - t0
            print(f"reproduce: {done[0]}/{count} runs done, {elapsed / 60:.0f} min so far", flush=True)
            return name, run.name, error

        def watch():
            while not stop.wait(progress_every_s):
                for out_dir, label in list(active.items()):
                    if line := _training_line(out_dir):
                        print(f"  {label}: {line}", flush=True)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            with kernels_share_cores(parallel), ThreadPoolExecutor(max_workers=parallel) as pool:
                for name, run_name, error in pool.map(execute, todo):
                    if error:
                        failed.setdefault(name, []).append(f"{run_name}: {error}")
        finally:
            stop.set()
    if not dry_run and report_to:
        # The report shows every seed, not only the ones this invocation ran (--seeds 1,2 finishes a reproduce).
        report(names, sorted(set(SEEDS) | set(seeds)), root, root / report_to, minutes=(time.monotonic() - t0) / 60,
               failed=failed)
    return failed


# ----------------------------------------------------------------------------- the report


def figure(result: Result, title: str, path: Path) -> Path:
    """Per-seed points and their mean: bars by condition, or curves by step (post-saturation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    points = result.points.assign(strict=result.points["strict"] * 100)
    if result.curves:
        fig, ax = plt.subplots(figsize=(8, 4))
        sns.lineplot(points, x="step", y="strict", hue="curve", style="seed", ax=ax)
        ax.set_ylabel("%")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    else:
        fig, ax = plt.subplots(figsize=(8, 0.45 * points["condition"].nunique() + 1.2))
        named = set(points["condition"])  # the table's row order where it names every bar
        order = [c for c in result.table.iloc[:, 0] if c in named] if not result.table.empty else []
        order = order if len(order) == len(named) else None
        sns.barplot(points, y="condition", x="strict", order=order, errorbar="sd", color="#9ecae1", ax=ax)
        np.random.seed(0)  # seaborn jitters the points with numpy's global generator: the same figure each time
        sns.stripplot(points, y="condition", x="strict", order=order, hue="seed", palette="dark", size=4, ax=ax)
        ax.set_xlabel(result.measure)
        ax.set_ylabel("")
    ax.set_title(textwrap.fill(title, 80), fontsize=10)  # a long title wraps rather than runs off the figure
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(names: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS, root: str | Path | None = None,
           doc: str | Path = DOC, minutes: float | None = None, failed: dict | None = None) -> Path:
    """Regenerate the generated part of ``doc`` from the runs on disk (the rest of it is kept).

    Every experiment gets its section (an extra one once it has runs), whichever ``names``
    this invocation ran: a reproduce of a subset must not drop the others' results."""
    root = Path(root or Path.cwd())
    doc = Path(doc)
    figures = doc.parent / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    ran = chosen(names) if names else list(ORDER)
    names = list(ORDER) + [e for e in EXTRAS if e in ran or any(
        _complete(f, seeds, root) for f in EXPERIMENTS[e].sweeps)]
    text = doc.read_text() if doc.is_file() else "# The paper's effect on the embedded default\n"
    if minutes:
        took = f" The last `rlvr reproduce` ({', '.join(ran)}) took {minutes:.0f} minutes."
    else:  # a report without runs (--report-only) keeps what the last reproduce took
        took = next(iter(re.findall(r" The last `rlvr reproduce` \([^)]*\) took \d+ minutes\.", text)), "")
    parts = [BEGIN, "", "## Reproduced in the embedded world (`rlvr reproduce`)", ""]
    parts.append(f"Seeds {', '.join(map(str, seeds))}; strict accuracy on all 500 problems of `toy-test` (the "
                 "training reward's rule), best checkpoint per run, mean ± sample std over seeds, next to the "
                 "paper's MATH500 (Qwen2.5-Math-1.5B). Verdicts: *holds on all seeds*, *holds on the mean*, "
                 "*fails* (rules in `rlvr/reproduce.py`)." + took)
    verdicts = []
    for name in names:
        experiment = EXPERIMENTS[name]
        if experiment.check is None:
            continue
        runs = [run for f in experiment.sweeps for run in _complete(f, seeds, root)]
        result = experiment.check(runs, root)
        parts += ["", f"### {experiment.title}", ""]
        if result.table.empty:
            parts.append("Not run yet.")
        else:
            parts.append(result.table.to_markdown(index=False))
        if not result.points.empty:
            path = figure(result, experiment.title, figures / f"{name}.png")
            parts += ["", f"![{experiment.title}]({path.relative_to(doc.parent).as_posix()})"]
        for p in result.patterns:
            verdicts.append((name, p))
            parts += ["", f"- **{p.verdict}**: {p.finding}."]
            for c in p.claims:
                seeds_text = ", ".join(f"seed {s} {'yes' if ok else 'no'}" for s, ok in sorted(c.per_seed.items()))
                parts.append(f"  - {c.text}: {seeds_text}" + ("; on the mean yes" if c.on_mean else "; on the mean no"
                                                             if not p.rule else ""))
            if p.note:
                parts.append(f"  - {p.note}")
        for run in (failed or {}).get(name, []):
            parts.append(f"- failed run: {run}")
    parts += ["", "### Verdicts", "", "| experiment | pattern | verdict |", "|---|---|---|"]
    parts += [f"| {n} | {p.finding} | {p.verdict} |" for n, p in verdicts]
    parts += ["", END]
    generated = "\n".join(parts) + "\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + generated.rstrip("\n") + after
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{generated}\n## Hand-written analysis (kept by `rlvr reproduce`)\n{body}"
    doc.write_text(text)
    return doc

