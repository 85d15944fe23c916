"""The follow-ups: the later literature's findings (08_beyond_the_paper) and PPO beside GRPO (09_ppo)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import analysis, paper
from ..runner import Job
from .outputs import by_condition, has_saved_table, seeds_mode_shifts, stacked, summary_over_seeds
from .verdicts import Claim, Pattern, Result, claim

# Shao et al.'s signals for ours (their first version's MATH-500 gains; the full-set outcome run is
# their "ground truth", the 1-shot one their "one-shot RL").
_THEIRS = {"full set, outcome": "ground truth", "1-shot, outcome": "one-shot RL", "1-shot, random": "random",
           "full set, random": "random", "1-shot, majority": "majority", "full set, majority": "majority",
           "1-shot, format": "format", "full set, format": "format", "recipe: random_clip": "random"}
# 08's recipes (params/toy/<stem>.yaml), as its conditions are named: the follow-ups at their papers' recipes.
RANDOM, NO_CLIP, EM, NSR, W_REINFORCE, GRPO = (f"recipe: {stem}" for stem in (
    "random_clip", "random_noclip", "one_shot_em_gao", "nsr_zhu", "w-reinforce_zhu", "grpo_zhu"))


def check_beyond(jobs: list[Job], root: Path) -> Result:
    """The follow-up literature's findings (08_beyond_the_paper), checked in this world."""
    spurious = Pattern("a random reward, independent of the answer, lifts the base (Shao et al. 2025: +21.4 points "
                       "on MATH-500 for Qwen2.5-Math-7B, little or nothing for Llama and OLMo)")
    ttrl = Pattern("the majority-vote reward, which never reads a label, gains at least half as much as the true "
                   "reward (TTRL, arXiv 2504.16084)")
    em = Pattern("entropy minimisation without any reward lifts the base (one-shot EM, arXiv 2505.20282)")
    nsr = Pattern("training only on rollouts with a negative advantage (NSR) gains at least half as much as the "
                  "full policy gradient (Zhu et al., arXiv 2506.01347)")
    w_reinforce = Pattern("W-REINFORCE (the positive part weighted by 0.1, every wrong rollout pushed down) gains "
                          "at least as much as GRPO at the same recipe (Zhu et al., arXiv 2506.01347)")
    yue = Pattern("at large k the base model's pass@k catches up with the RL-trained model's (Yue et al., "
                  "arXiv 2504.13837): a crossing k exists for the outcome-reward runs")
    patterns = [spurious, ttrl, em, nsr, w_reinforce, yue]
    for pattern in (spurious, em, nsr, w_reinforce):
        pattern.recipe_claims = []
    if not jobs:
        return Result(pd.DataFrame(), patterns)
    scores, best, strict = by_condition(jobs)
    gain = strict.sub(strict["base"], axis=0)
    # At the papers' recipes: each against the base, or against its control at the same recipe.
    if RANDOM in strict:
        spurious.recipe_claims.append(claim(strict, "random (clip acting) above the base",
                                            lambda r: r[RANDOM] > r["base"]))
        if NO_CLIP in strict:
            spurious.recipe_claims.append(claim(strict, "random (clip acting) above the clip removed (Shao et al.'s "
                                                "control)", lambda r: r[RANDOM] > r[NO_CLIP]))
    if EM in strict:
        em.recipe_claims.append(claim(strict, "one-shot EM (Gao et al.) above the base", lambda r: r[EM] > r["base"]))
    if GRPO in gain:
        if NSR in gain:
            nsr.recipe_claims.append(claim(gain, "NSR's gain >= half of GRPO's, same recipe",
                                           lambda r: r[NSR] >= 0.5 * r[GRPO]))
        if W_REINFORCE in gain:
            w_reinforce.recipe_claims.append(claim(gain, "W-REINFORCE's gain >= GRPO's, same recipe",
                                                   lambda r: r[W_REINFORCE] >= r[GRPO]))
    # (pattern, signal, share): the signal above the base; its gain at least ``share`` of the outcome reward's.
    above_base = ((spurious, "random"), (em, "entropy minimisation"))
    of_the_gain = ((ttrl, "majority", 0.5), (nsr, "NSR", 0.5), (w_reinforce, "W-REINFORCE (Zhu et al.)", 1.0))
    for setting in ("1-shot", "full set"):
        for pattern, signal in above_base:
            if (c := f"{setting}, {signal}") in strict:
                pattern.claims.append(claim(strict, f"{setting}: {signal} above the base",
                                            lambda r, c=c: r[c] > r["base"]))
        for pattern, signal, share in of_the_gain:
            c, outcome = f"{setting}, {signal}", f"{setting}, outcome"
            if c in gain and outcome in gain:
                part = "half of " if share == 0.5 else ""
                pattern.claims.append(claim(gain, f"{setting}: {signal}'s gain >= {part}outcome's",
                                            lambda r, c=c, o=outcome, share=share: r[c] >= share * r[o]))
    if with_curves := [job for job in jobs if has_saved_table(job, "pass_at")]:
        pass_curves = stacked(with_curves, "pass_at")
        per_seed = {seed: analysis.pass_at_crossing(c).set_index("model")["crossing_k"]
                    for seed, c in pass_curves.groupby("seed")}
        on_mean = analysis.pass_at_crossing(pass_curves).set_index("model")["crossing_k"]  # curves averaged first
        largest = int(pass_curves["k"].max())
        for model in (m for m in ("1-shot, outcome", "full set, outcome") if m in on_mean):
            yue.claims.append(Claim(f"{model}: the base catches up by k = {largest}",
                                    {s: not pd.isna(k.get(model)) for s, k in per_seed.items()},
                                    not pd.isna(on_mean[model])))
        yue.note = "crossing k per seed (- where the base never catches up): " + "; ".join(
            f"{m}: " + ", ".join("-" if pd.isna(k.get(m)) else str(int(k.get(m))) for k in per_seed.values())
            for m in on_mean.index)
    order = ["base"] + list(dict.fromkeys(scores["condition"]))  # the notebook's order: 1-shot, then full set
    table = summary_over_seeds(best, "condition", ["strict", "eval", "boxed", "run_on"], order)
    theirs = paper.table("spurious").set_index("signal")["MATH500 gain (v1)"]
    means = gain.mean() * 100
    table["gain over the base (points)"] = ["-" if c == "base" else f"{means.get(c):.1f}" for c in table["condition"]]
    table["theirs: MATH-500 gain, Qwen2.5-Math-7B"] = [
        f"{theirs[_THEIRS[c]]:.1f}" if c in _THEIRS else "-" for c in table["condition"]]
    if with_signal_tables := [job for job in jobs if has_saved_table(job, "signals")]:
        table = with_signals(table, stacked(with_signal_tables, "signals"))
    return Result(with_modes(table, seeds_mode_shifts(jobs)), patterns, best[["seed", "condition", "strict"]])


def with_modes(table: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the code-like mode's share of the worked rollouts, first fifth of training to the
    last (mean over seeds), in a world with two reasoning modes: the share Shao et al. read a spurious
    reward's gain through. A world without the code-like mode shows none."""
    if shifts.empty or not (shifts[["code_start", "code_end"]].fillna(0) > 0).any().any():
        return table
    means = shifts.drop(columns="seed").groupby("condition").mean()
    table = table.copy()
    table["code-like share of worked rollouts, first → last fifth (%)"] = [
        f"{100 * means.loc[c, 'code_start']:.0f} → {100 * means.loc[c, 'code_end']:.0f}"
        if c in means.index and means.loc[c, ["code_start", "code_end"]].notna().all() else "-"
        for c in table["condition"]]
    return table


def with_signals(table: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each condition's mechanism signals (``analysis.SIGNALS``), mean over seeds:
    the clip's share of tokens off-policy, the all-wrong groups and their weight, entropy start to end."""
    means = signals.drop(columns="seed").groupby("condition").mean()

    def shown(condition: str, columns: list[str], form: str, sep: str, none: str = "-") -> str:
        values = means.loc[condition, columns] if condition in means.index else pd.Series(dtype=float)
        return none if values.isna().all() else sep.join(form.format(v) for v in values)

    table = table.copy()
    rows = table["condition"]
    table["clipped tokens, off-policy updates (%)"] = [
        shown(c, ["clipped"], "{:.2%}", "", "on-policy" if c in means.index else "-") for c in rows]
    table["all-wrong groups; their advantage weight"] = [
        shown(c, ["all_wrong_groups", "all_wrong_weight"], "{:.0%}", "; ") for c in rows]
    table["entropy, first → last steps"] = [shown(c, ["entropy_start", "entropy_end"], "{:.2f}", " → ") for c in rows]
    return table


def check_ppo(jobs: list[Job], root: Path) -> Result:
    """PPO beside GRPO (09_ppo): Tab. 4's comparison (its wrong-label rows are check_labels')."""
    lift = Pattern("PPO on the 1-shot example lifts the base as GRPO does, within the seeds' spread (Tab. 4: "
                   "72.4 against GRPO's 72.8 on MATH500)")
    if not jobs:
        return Result(pd.DataFrame(), [lift])
    scores, best, strict = by_condition(jobs)
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
    table = summary_over_seeds(best, "condition", ["strict", "eval", "boxed", "run_on"], order)
    ppo_paper, tab17 = paper.table("ppo").set_index(["dataset", "label_noise"])["MATH500"], paper.table("tab17")
    grpo_full = tab17[(tab17["dataset"] == "DSR-sub") & (tab17["label_noise"] == 0)]["MATH500"].iloc[0]
    published = {"base": 36.0, grpo: paper.table("tab8").set_index("dataset").loc["{pi_1}", "MATH500"],
                 ppo: ppo_paper[("{pi_1}", 0.0)], full_grpo: grpo_full, full_ppo: ppo_paper[("DSR-sub", 0.0)]}
    table["paper MATH500"] = [published.get(c) for c in table["condition"]]
    return Result(table, [lift], best[["seed", "condition", "strict"]])
