"""Claims and verdicts (the rules are in the package's docstring), and what a check gives the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

HOLDS_ALL, HOLDS_MEAN, FAILS, NOT_RUN = "holds on all seeds", "holds on the mean", "fails", "not run"


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
    # The same finding at its own paper's recipe (batch, updates per rollout batch, objective), beside
    # the lab's: None where the lab's recipe is the paper's, so there is no second verdict.
    recipe_claims: list[Claim] | None = None

    @property
    def verdict(self) -> str:
        return self.rule or _verdict(self.claims)

    @property
    def seeds_held(self) -> str:
        """On how many seeds every claim holds, as "k/n" ("-" without claims): a verdict that holds on
        three seeds can turn on a fourth, so the count travels with it."""
        return _seeds_held(self.claims)

    @property
    def recipe_seeds_held(self) -> str:
        return _seeds_held(self.recipe_claims or [])

    @property
    def recipe_verdict(self) -> str:
        return "-" if self.recipe_claims is None else _verdict(self.recipe_claims)


def _seeds_held(claims: list[Claim]) -> str:
    seeds = sorted({s for c in claims for s in c.per_seed})
    held = sum(all(c.per_seed.get(s, False) for c in claims) for s in seeds)
    return f"{held}/{len(seeds)}" if seeds else "-"


def _verdict(claims: list[Claim]) -> str:
    if not claims:
        return NOT_RUN
    if all(c.holds_all for c in claims):
        return HOLDS_ALL
    return HOLDS_MEAN if all(c.on_mean for c in claims) else FAILS


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


@dataclass
class Result:
    """What an experiment's check gives the report: the table (mean ± std over seeds), the
    patterns with their verdicts, and the per-seed numbers behind its figure."""

    table: pd.DataFrame
    patterns: list[Pattern]
    points: pd.DataFrame = field(default_factory=pd.DataFrame)  # seed, condition, strict (or step curves)
    curves: bool = False
    measure: str = "strict accuracy on toy-test, best checkpoint (%)"
