"""The report: the generated part of ``docs/results-toy.md`` (between ``BEGIN`` and ``END``; the
hand-written rest is kept) and a figure per experiment under ``docs/figures/``."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..runner import Job
from .outputs import example_reach, example_world, world_example
from .registry import EXPERIMENTS, EXTRAS, MAP, ORDER, SEEDS, chosen, chosen_in, experiment_jobs, targeted
from .verdicts import FAILS, HOLDS_ALL, HOLDS_MEAN, NOT_RUN, Result

DOC = Path("docs/results-toy.md")
FIGURES = Path("docs/figures")
MAP_DOCS = Path("docs/map")  # each world's report of the map (rlvr.reproduce.registry.MAP)


def report_path(world: str | None = None) -> Path:
    """Where a reproduce's report goes: toy-base's in ``DOC``, another world's in ``MAP_DOCS/<world>.md``."""
    return DOC if world in (None, "toy-base") else MAP_DOCS / f"{world}.md"

BEGIN = "<!-- BEGIN GENERATED: `rlvr reproduce` rewrites everything down to END GENERATED -->"
END = "<!-- END GENERATED -->"
MAP_BEGIN = "<!-- BEGIN GENERATED MAP: `rlvr reproduce --map` rewrites everything down to END GENERATED MAP -->"
MAP_END = "<!-- END GENERATED MAP -->"


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


def _complete(name: str, seeds: Sequence[int], root: Path, world: str | None) -> list[Job]:
    """An experiment's complete jobs on disk, in ``world``."""
    try:
        return [job for _, job in experiment_jobs([name], seeds, root, world) if job.complete]
    except FileNotFoundError:  # a world whose selection has not run has no runs on its pi_1 yet
        return []


def report(names: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS, root: str | Path | None = None,
           doc: str | Path | None = None, minutes: float | None = None, failed: dict | None = None,
           world: str | None = None) -> Path:
    """Regenerate the generated part of ``doc`` from the jobs on disk (the rest of it is kept).

    Every experiment gets its section (an extra one once it has jobs), whichever ``names``
    this invocation ran: a reproduce of a subset must not drop the others' results. In another
    ``world`` (the map's), the experiments run there, into ``docs/map/<world>.md`` by default."""
    root = Path(root or Path.cwd())
    doc = Path(doc or report_path(world))
    figures = doc.parent / FIGURES.name / (world or "")
    figures.mkdir(parents=True, exist_ok=True)
    ran = chosen_in(world, names)
    text = doc.read_text() if doc.is_file() else (
        "# The paper's effect on the embedded default\n" if world is None else
        f"# The paper's patterns in the world `{world}` (the map: docs/worlds.md)\n")
    complete = {e: _complete(e, seeds, root, world) for e in ORDER + EXTRAS}
    written = _written_sections(text)
    # toy-base's report has every experiment of the paper; a world's, those run in it (or written before).
    names = [e for e in ORDER + EXTRAS if (e in ORDER and world is None) or e in ran or complete[e]
             or EXPERIMENTS[e].title in written]
    if minutes:
        took = f" The last `rlvr reproduce` ({', '.join(ran)}) took {minutes:.0f} minutes."
    else:  # a report that executed nothing (--report-only) keeps what the last reproduce took
        took = next(iter(re.findall(r" The last `rlvr reproduce` \([^)]*\) took \d+ minutes\.", text)), "")
    parts = [BEGIN, "", "## Reproduced in the embedded world (`rlvr reproduce`)" if world is None else
             f"## Reproduced in `{world}` (`rlvr reproduce --world {world}`)", ""]
    parts.append(f"Seeds {', '.join(map(str, seeds))}; strict accuracy on all 500 problems of `toy-test` (the "
                 "training reward's rule), best checkpoint per run, mean ± sample std over seeds, next to the "
                 "paper's MATH500 (Qwen2.5-Math-1.5B). Verdicts: *holds on all seeds*, *holds on the mean*, "
                 "*fails* (rules in `rlvr/reproduce/__init__.py`)." + took)
    verdicts, kept_rows = [], []
    for name in names:
        experiment = EXPERIMENTS[name]
        if experiment.check is None:
            continue
        if not complete[name] and experiment.title in written:  # its jobs are gone: what was written stays
            section, rows = written[experiment.title]
            parts += ["", section if KEPT_NOTE in section else f"{section}\n\n{KEPT_NOTE}"]
            kept_rows += [row for row in rows if row.startswith(f"| {name} | ")]
            continue
        result = experiment.check(complete[name], root)
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
              "| experiment | pattern | verdict | seeds on which every claim holds | at the paper's recipe |",
              "|---|---|---|---|---|"]
    rows = {n: [f"| {n} | {p.finding} | {p.verdict} | {p.seeds_held} | {p.recipe_verdict} |"
                for m, p in verdicts if m == n] for n in names}
    parts += [row for n in names for row in rows[n] or [r for r in kept_rows if r.startswith(f"| {n} | ")]]
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


def map_verdicts(seeds: Sequence[int] = SEEDS, root: str | Path | None = None,
                 written: pd.DataFrame | None = None) -> pd.DataFrame:
    """The map as a tidy table: one row a pattern in a world (toy-base's from ``outputs/reproduce``, the
    others' from ``MAP``'s worlds), its verdict ("not run" where its jobs are not on disk). ``written``:
    the table as last written (``verdicts.csv``), whose rows stand where their jobs are not on disk."""
    root = Path(root or Path.cwd())
    rows = []
    written = written if written is not None else pd.DataFrame(columns=["experiment", "world", "verdict"])
    for world, names in {"toy-base": targeted(), **MAP}.items():
        before = written[written["world"] == world]
        names = chosen(names)
        # Each experiment's jobs and the world's example, looked up once: the reach row and each cell read them.
        reading = dict.fromkeys([*names, *(after for name in names for after in EXPERIMENTS[name].after)])
        complete = {name: _complete(name, seeds, root, world) for name in reading}
        example = _example(world, root)
        if reached := example_reach([job for name in names for job in complete[name]], example):
            rows.append({"experiment": "reach", "pattern": REACH, "world": world,
                         "verdict": HOLDS_ALL if all(reached.values()) else FAILS,
                         "seeds held": f"{sum(reached.values())}/{len(reached)}", MISSED: ""})
        else:  # no 1-shot job on disk: the reach as last written
            rows += before[before["experiment"] == "reach"].to_dict("records")
        for name in names:
            experiment = EXPERIMENTS[name]
            if experiment.check is None:
                continue
            kept = before[before["experiment"] == name]
            if not complete[name] and (kept["verdict"] != NOT_RUN).any():
                rows += kept.to_dict("records")  # its jobs are gone: the verdicts as last written stand
                continue
            result = experiment.check(complete[name], root)
            reads = example_reach([job for n in (name, *experiment.after) for job in complete[n]], example) if (
                experiment.on_example) else {}
            missed = ", ".join(str(seed) for seed, ok in sorted(reads.items()) if not ok)
            for p in result.patterns:  # a pattern not run reads no example (its experiment's tab8 may)
                rows.append({"experiment": name, "pattern": p.finding, "world": world, "verdict": p.verdict,
                             "seeds held": p.seeds_held, MISSED: missed if p.verdict != NOT_RUN else ""})
                if p.recipe_claims is not None:  # the same finding as its own paper ran it: a row of its own
                    rows.append({"experiment": name, "pattern": p.finding + RECIPE, "world": world,
                                 "verdict": p.recipe_verdict, "seeds held": p.recipe_seeds_held,
                                 MISSED: missed if p.recipe_verdict != NOT_RUN else ""})
    table = pd.DataFrame(rows, columns=["experiment", "pattern", "world", "verdict", "seeds held", MISSED])
    # A pattern with no verdict where its experiment's others have one was left out of that world's jobs
    # (``TARGETED``): not a cell still to run.
    ran = table.groupby(["experiment", "world"])["verdict"].transform(lambda v: v.ne(NOT_RUN).any())
    table.loc[ran & table["verdict"].eq(NOT_RUN), "verdict"] = LEFT_OUT
    return table


# A pattern whose experiment ran in a world without the conditions it reads (``TARGETED``'s cut).
LEFT_OUT = "left out in this world"


# The seeds on which a 1-shot run a cell reads never solved the world's example (``Experiment.on_example``).
MISSED = "seeds whose 1-shot run missed the example"


# Not a pattern of the paper: whether a world's 1-shot cells can say anything about its switches.
REACH = ("every 1-shot run with the outcome reward solves its example at least once in training (where one "
         "does not, the cells it feeds on that seed measure the example's reach, not the world's switches)")


def _example(world: str | None, root: Path) -> str | None:
    """The world's 1-shot example, whose reach the map reads (Tab. 3 trains on others by design, one of
    them never solved); None in a project without the selection experiment: every 1-shot run counts."""
    try:
        return world_example(example_world(world or "toy-base"), root)
    except FileNotFoundError:
        return None


# A report rewritten where an experiment's jobs are not on disk (another machine ran them, and they
# predate ``results/``) keeps that experiment's section and verdicts as last written, saying so.
KEPT_NOTE = ("*Kept as last written: this experiment's jobs are not on this disk (nor in `results/`), so "
             "these are the tables and verdicts of the report that last read them.*")


def _written_sections(text: str) -> dict[str, tuple[str, list[str]]]:
    """The generated part's experiment sections, by title: each one's text (its heading on), and the
    lines of the verdicts table; only sections with results (not "Not run yet.")."""
    if BEGIN not in text or END not in text:
        return {}
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    sections = generated.split("\n### ")[1:]
    table = next((s for s in sections if s.startswith("Verdicts\n")), "")
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| experiment |")]
    return {section.split("\n", 1)[0]: ("### " + section.rstrip("\n"), rows) for section in sections
            if not section.startswith("Verdicts\n") and "\nNot run yet." not in section}


RECIPE = ", at its paper's recipe"


def _figure_label(experiment: str, pattern: str) -> str:
    """A matrix row's label: the experiment and the pattern cut short, keeping what tells two rows of one
    finding apart (the recipe it ran at)."""
    recipe = " (its paper's recipe)" if pattern.endswith(RECIPE) else ""
    finding = pattern.removesuffix(RECIPE)
    return f"{experiment}: {textwrap.shorten(finding, 62 - len(recipe))}{recipe}"


_MARKS = {HOLDS_ALL: ("holds", 2), HOLDS_MEAN: ("on the mean", 1), FAILS: ("fails", 0), NOT_RUN: ("·", -1),
          LEFT_OUT: ("left out", -1)}


def _mark(verdict: str) -> tuple[str, float]:
    """A verdict's mark in the matrix and its colour code; a pattern with its own rule ("reproduced (2
    of 3 seeds)", "fails (0 of 3 seeds)", post-saturation's) reads as holds or fails."""
    if verdict in _MARKS:
        return _MARKS[verdict]
    if verdict.startswith("reproduced"):
        return _MARKS[HOLDS_ALL]
    if verdict.startswith(FAILS):
        return _MARKS[FAILS]
    return "", float("nan")  # a world that does not run the pattern


def figure_cells(matrix: pd.DataFrame, held: pd.DataFrame, missed: pd.DataFrame) -> pd.DataFrame:
    """The text in each cell of the map's figure: on how many seeds the pattern holds (``*`` where a 1-shot
    run it reads missed the example), ``·`` still to run, "out" left out of the world's cut, blank where the
    world does not run the experiment; so the grey cells read apart without the table."""
    judged = matrix.apply(lambda column: column.map(lambda v: _mark(v)[1] >= 0))
    text = held.fillna("").astype(str) + missed.map(lambda seeds: "*" if seeds else "").astype(str)
    grey = matrix.apply(lambda column: column.map({NOT_RUN: "·", LEFT_OUT: "out"})).fillna("")
    return text.where(judged, grey).astype(str)


def map_report(seeds: Sequence[int] = SEEDS, root: str | Path | None = None, doc: str | Path = DOC) -> Path:
    """The map's matrix (patterns x worlds, a verdict a cell) into ``doc`` between ``MAP_BEGIN`` and
    ``MAP_END`` (the rest kept), its tidy table as ``docs/map/verdicts.csv`` and its figure."""
    import matplotlib  # noqa: PLC0415 - drawing libraries load on use
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import seaborn as sns  # noqa: PLC0415

    doc = Path(doc)
    out = doc.parent / MAP_DOCS.name
    written = pd.read_csv(out / "verdicts.csv", dtype=str, keep_default_na=False) if (
        out / "verdicts.csv").is_file() else None
    table = map_verdicts(seeds, root, written)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "verdicts.csv", index=False)
    worlds = ["toy-base", *MAP]
    matrix = table.pivot_table(index=["experiment", "pattern"], columns="world", values="verdict", aggfunc="first",
                               sort=False).reindex(columns=worlds).fillna("")
    codes = matrix.apply(lambda column: column.map(lambda v: _mark(v)[1])).astype(float)
    held = table.pivot_table(index=["experiment", "pattern"], columns="world", values="seeds held", aggfunc="first",
                             sort=False).reindex(index=matrix.index, columns=worlds)
    missed = table.pivot_table(index=["experiment", "pattern"], columns="world", values=MISSED, aggfunc="first",
                               sort=False).reindex(index=matrix.index, columns=worlds).astype(object).fillna("")
    fig, ax = plt.subplots(figsize=(1.1 * len(worlds) + 7, 0.32 * len(matrix) + 2))
    # Each cell says on how many seeds it holds, so the figure reads without the table.
    sns.heatmap(codes, cmap=["#d9d9d9", "#fc9272", "#c7e9c0", "#31a354"], vmin=-1.5, vmax=2.5, cbar=False,
                linewidths=0.5, ax=ax, annot=figure_cells(matrix, held, missed), fmt="", annot_kws={"fontsize": 7},
                yticklabels=[_figure_label(e, p) for e, p in matrix.index])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("The map: each pattern's verdict in each world (green holds, pale green on the mean, red fails, "
                 "grey: · not run yet, out left out of the world's cut; *: a 1-shot run it reads missed the "
                 "example on some seed)", fontsize=9)
    fig.tight_layout()
    figure_path = doc.parent / FIGURES.name / "map.png"
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure_path, dpi=110)
    plt.close(fig)
    cells = matrix.apply(lambda column: column.map(lambda v: _mark(v)[0])).astype(str)
    missed_on = missed.map(lambda seeds: f"; example missed on seed{'s' * (',' in seeds)} {seeds}" if seeds else "")
    missed_on = missed_on.astype(str)
    cells = cells.where(matrix.isin([NOT_RUN, LEFT_OUT, ""]),
                        cells + " (" + held.fillna("-").astype(str) + missed_on + ")")
    lines = [MAP_BEGIN, "", "## The map: the paper's patterns across embedded worlds (`rlvr reproduce --map`)", "",
             f"Seeds {', '.join(map(str, seeds))}; in brackets, on how many seeds every claim of the pattern holds, "
             "and the seeds on which a 1-shot run the cell reads never solved the world's example (there the cell "
             "measures the example's reach, not the world's switches: the `reach` row); `·` not run yet, 'left out' "
             "where the experiment ran in that world without the conditions the pattern reads (outside `qwen-like` "
             "the follow-ups run a cut: docs/worlds.md). "
             "A world's name says what it switches (docs/worlds.md: "
             "`NAME~SWITCH` is NAME with that switch off, its control). A pattern that holds because of a property "
             "built into a world shows the property is sufficient in that world, nothing about Qwen2.5-Math. "
             "Each world's tables: `docs/map/<world>.md`; the verdicts as a table: `docs/map/verdicts.csv`.", "",
             "| experiment | pattern | " + " | ".join(f"`{w}`" for w in worlds) + " |",
             "|---|---|" + "---|" * len(worlds)]
    lines += [f"| {e} | {p} | " + " | ".join(row) + " |" for (e, p), row in zip(matrix.index, cells.values.tolist())]
    lines += ["", f"![The map]({figure_path.relative_to(doc.parent).as_posix()})", "", MAP_END]
    text = doc.read_text() if doc.is_file() else "# The paper's effect on the embedded default\n"
    generated = "\n".join(lines)
    if MAP_BEGIN in text and MAP_END in text:
        before, rest = text.split(MAP_BEGIN, 1)
        text = before + generated + rest.split(MAP_END, 1)[1]
    elif END in text:  # after the reproduce's generated part
        before, after = text.split(END, 1)
        text = before + END + "\n\n" + generated + after
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    doc.write_text(text)
    return doc
