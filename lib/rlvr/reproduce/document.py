"""The report: the generated part of ``docs/results-toy.md`` (between ``BEGIN`` and ``END``; the
hand-written rest is kept) and a figure per experiment under ``docs/figures/``."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .outputs import complete_jobs
from .registry import EXPERIMENTS, EXTRAS, ORDER, SEEDS, chosen
from .verdicts import Result

DOC = Path("docs/results-toy.md")
FIGURES = Path("docs/figures")
BEGIN = "<!-- BEGIN GENERATED: `rlvr reproduce` rewrites everything down to END GENERATED -->"
END = "<!-- END GENERATED -->"


def figure(result: Result, title: str, path: Path) -> Path:
    """Per-seed points and their mean: bars by condition, or curves by step (post-saturation)."""
    # Drawing libraries load in seconds: only a report that draws a figure pays for them.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import seaborn as sns  # noqa: PLC0415

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


def _claim_line(c, rule: str | None) -> str:
    seeds_text = ", ".join(f"seed {s} {'yes' if ok else 'no'}" for s, ok in sorted(c.per_seed.items()))
    mean = "; on the mean yes" if c.on_mean else "; on the mean no" if not rule else ""
    return f"  - {c.text}: {seeds_text}{mean}"


def report(names: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS, root: str | Path | None = None,
           doc: str | Path = DOC, minutes: float | None = None, failed: dict | None = None) -> Path:
    """Regenerate the generated part of ``doc`` from the jobs on disk (the rest of it is kept).

    Every experiment gets its section (an extra one once it has jobs), whichever ``names``
    this invocation ran: a reproduce of a subset must not drop the others' results."""
    root = Path(root or Path.cwd())
    doc = Path(doc)
    figures = doc.parent / FIGURES.name
    figures.mkdir(parents=True, exist_ok=True)
    ran = chosen(names) if names else list(ORDER)
    names = list(ORDER) + [e for e in EXTRAS if e in ran or any(
        complete_jobs(f, seeds, root) for f in EXPERIMENTS[e].sweeps)]
    text = doc.read_text() if doc.is_file() else "# The paper's effect on the embedded default\n"
    if minutes:
        took = f" The last `rlvr reproduce` ({', '.join(ran)}) took {minutes:.0f} minutes."
    else:  # a report that executed nothing (--report-only) keeps what the last reproduce took
        took = next(iter(re.findall(r" The last `rlvr reproduce` \([^)]*\) took \d+ minutes\.", text)), "")
    parts = [BEGIN, "", "## Reproduced in the embedded world (`rlvr reproduce`)", ""]
    parts.append(f"Seeds {', '.join(map(str, seeds))}; strict accuracy on all 500 problems of `toy-test` (the "
                 "training reward's rule), best checkpoint per run, mean ± sample std over seeds, next to the "
                 "paper's MATH500 (Qwen2.5-Math-1.5B). Verdicts: *holds on all seeds*, *holds on the mean*, "
                 "*fails* (rules in `rlvr/reproduce/__init__.py`)." + took)
    verdicts = []
    for name in names:
        experiment = EXPERIMENTS[name]
        if experiment.check is None:
            continue
        jobs = [job for f in experiment.sweeps for job in complete_jobs(f, seeds, root)]
        result = experiment.check(jobs, root)
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
            parts += [_claim_line(c, p.rule) for c in p.claims]
            if p.recipe_claims is not None:
                parts.append(f"  - at the paper's recipe: **{p.recipe_verdict}**")
                parts += ["  " + _claim_line(c, None) for c in p.recipe_claims]
            if p.note:
                parts.append(f"  - {p.note}")
        for failure in (failed or {}).get(name, []):
            parts.append(f"- failed run: {failure}")
    parts += ["", "### Verdicts", "",
              "The lab's recipe (the cpu preset), and where a follow-up's paper ran it otherwise, that paper's "
              "recipe (`params/toy/`, through `recipes` in 08_beyond_the_paper).", "",
              "| experiment | pattern | verdict | at the paper's recipe |", "|---|---|---|---|"]
    parts += [f"| {n} | {p.finding} | {p.verdict} | {p.recipe_verdict} |" for n, p in verdicts]
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
