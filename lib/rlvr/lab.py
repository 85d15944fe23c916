"""What the notebooks need beyond the library proper: set-up, widgets, live
plots, a rollout browser, and saving a notebook's results in one call.

Model output is untrusted text: it becomes HTML in one place, ``text_html``, which
every renderer of completions here goes through (``rollouts_html``, ``show_rollouts``,
``rollout_browser``); pandas' own table display escapes too, and cuts long cells.

Notebooks stay thin: narrative, a ``parameters`` cell, and calls into ``rlvr``.
The test suite executes every notebook with ``RLVR_SMOKE=1``; a notebook then
cuts its run lengths (in a cell that says so) and writes under
``outputs/smoke/`` so a test never touches a researcher's results.
"""

from __future__ import annotations

import html
import json
import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import HTML, display
from transformers import TrainerCallback
from transformers.utils import logging as hf_logging

from .config import EvalConfig, TrainConfig, load_params, preset_configs
from .env import smoke
from .plots import training_steps
from .provenance import environment
from .rundir import META, STEPS_LOG, SUMMARY, job_table, read_log, slug

SMOKE = smoke()
# What smoke mode cuts: a few steps, a few problems.
SMOKE_TRAIN = {"steps": 4, "save_every": 2}
SMOKE_EVAL = {"limit": 40}


def project_root(start: str | Path | None = None) -> Path | None:
    """The folder holding this project's ``pyproject.toml`` (above ``start``), if any."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "lib" / "rlvr").is_dir():
            return folder
    return None


def setup() -> Path:
    """Work from the project root (so ``params/`` and ``outputs/`` resolve the same
    under JupyterLab, papermill and nbval) and set the plotting theme."""
    # Per-load progress bars and config notices would bury the notebook's own output.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    root = project_root()
    if root is not None:
        os.chdir(root)
    sns.set_theme(style="whitegrid", context="notebook")
    return Path.cwd()


def configs(preset: str, train: Mapping | None = None, eval: Mapping | None = None, *, sets: Iterable[str] = (),
            **fixed) -> tuple[TrainConfig, EvalConfig]:
    """A notebook's ``(TrainConfig, EvalConfig)``: the preset, then its ``train`` and
    ``eval`` parameters, then ``fixed``, the fields the notebook's experiment sets itself
    (``examples=[example]``, say). ``train`` may not set those, nor the fields named in
    ``sets`` (a Tab. 5 row sets the loss terms), nor ``output_dir`` (``out_dir`` decides).
    Smoke mode then cuts runs and evaluations short."""
    train, eval = dict(train or {}), dict(eval or {})
    if clash := sorted({"output_dir", *sets, *fixed} & set(train)):
        raise ValueError(f"train: {', '.join(clash)} set by this notebook itself (from its own parameters, "
                         "or out_dir for output_dir); change them there, not in `train`")
    train.update(fixed)
    if SMOKE:
        train, eval = {**train, **SMOKE_TRAIN}, {**eval, **SMOKE_EVAL}
        print(f"smoke mode: train {SMOKE_TRAIN}, eval {SMOKE_EVAL}")
    return preset_configs(preset, train, eval)


def recipes(paths: Iterable[str | Path], out: str | Path, train: Mapping | None = None,
            like: TrainConfig | None = None) -> dict[str, TrainConfig]:
    """Training params files as a notebook's conditions, each named ``recipe: <file stem>`` and
    written to ``out/recipe-<stem>``: a follow-up at its paper's recipe (``params/toy/nsr_zhu.yaml``)
    beside the notebook's own conditions. The notebook's ``train`` settings (a sweep's seed, say) go
    on top of each file, and smoke mode cuts them short. A 1-shot recipe trains on ``like``'s 1-shot
    example (the file names the default's pi_1; a world has its own), as the notebook's 1-shot
    conditions do. A file that trains another model than ``like`` (the notebook's own config) is
    refused: its recipe belongs to another preset."""
    train = {**(train or {}), **(SMOKE_TRAIN if SMOKE else {})}
    conditions = {}
    for path in map(Path, paths):
        cfg = load_params(path, **train)
        if like is not None and cfg.model != like.model:
            raise ValueError(f"recipe {path} trains {cfg.model}, this notebook {like.model}: give recipes for "
                             f"{like.model} (params/toy/ holds toy-base's), or none")
        if like is not None and like.examples and len(like.examples) == 1 and cfg.examples and len(cfg.examples) == 1:
            cfg = replace(cfg, examples=list(like.examples))
        conditions[f"recipe: {path.stem}"] = replace(cfg, output_dir=str(Path(out) / slug(f"recipe-{path.stem}")))
    return conditions


def output_dir(path: str | Path) -> Path:
    """Where a notebook writes: ``path``, or ``outputs/smoke/<name>`` under the test suite."""
    path = Path(path)
    if SMOKE and "smoke" not in path.parts:
        path = Path("outputs") / "smoke" / path.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(out_dir: str | Path, summary: pd.DataFrame, *, tables: dict[str, pd.DataFrame] | None = None,
         figures: dict | None = None, settings: dict | None = None) -> None:
    """Write a notebook's results: ``summary.csv`` (what a sweep collects), other
    tables as Parquet, figures as PNG, and the settings and versions beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (tables or {}).items():
        table.to_parquet(job_table(out, name), index=False)
    for name, fig in (figures or {}).items():
        fig.savefig(out / f"{name}.png", dpi=120, bbox_inches="tight")
    meta = {"settings": settings or {}, "smoke": SMOKE, "environment": environment()}
    (out / META).write_text(json.dumps(meta, indent=2, default=str))
    # Last: a sweep treats summary.csv as the sign that the notebook finished.
    summary.to_csv(out / SUMMARY, index=False)
    print(f"saved in {out}/: summary.csv, {len(tables or {})} tables, {len(figures or {})} figures, meta.json")


class LivePlot(TrainerCallback):
    """Redraws a run's training curves in the notebook every ``every`` steps.

    Reads the run's own step log (written just before by the step-table
    callback), so what it shows is exactly what is saved.
    """

    def __init__(
        self,
        run_dir: str | Path,
        every: int = 5,
        metrics=("train_accuracy", "reward_std", "entropy", "completions_mean_length"),
    ):
        self.run_dir, self.every, self.metrics = Path(run_dir), every, metrics
        self._handle = self._fig = None

    def refresh(self):
        """Redraw from the run's step log (also callable from outside the training loop)."""
        rows = read_log(self.run_dir, STEPS_LOG)
        if not rows:
            return
        if self._fig is None:
            self._fig = plt.figure(figsize=(12, 2.8))
            plt.close(self._fig)  # shown through the display handle only, not again at cell end
        training_steps(pd.DataFrame(rows), self.metrics, fig=self._fig)
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every == 0:
            self.refresh()

    def on_train_end(self, args, state, control, **kwargs):
        self.refresh()


def settings_panel(
    cfg: TrainConfig,
    names=(
        "model",
        "examples",
        "reward",
        "learning_rate",
        "temperature",
        "entropy_coef",
        "beta",
        "weight_decay",
        "steps",
        "seed",
    ),
    example_choices=None,
):
    """Widgets to change a config's settings before running the next cell.

    ``panel.config()`` gives the config with the widgets' values; under papermill
    the widgets are never touched and it returns ``cfg`` unchanged.
    """
    types = {f.name: f.type for f in fields(TrainConfig)}
    help_text = TrainConfig.help()
    controls = {}
    for name in names:
        value = getattr(cfg, name)
        choices = TrainConfig.choices(name)
        if name == "examples":
            # Free text with suggestions: any id of the dataset can be typed in.
            options = list(dict.fromkeys([*(value or []), *(example_choices or [])]))
            controls[name] = widgets.Combobox(
                options=options,
                value=", ".join(value or []),
                ensure_option=False,
                description="examples",
                placeholder="example ids, comma-separated",
            )
        elif choices is not None:
            controls[name] = widgets.Dropdown(options=choices, value=value, description=name)
        elif str(types[name]) == "bool":
            controls[name] = widgets.Checkbox(value=value, description=name)
        elif "float" in str(types[name]):
            controls[name] = widgets.FloatText(value=value, description=name, step=None)
        elif "int" in str(types[name]):
            controls[name] = widgets.IntText(value=value, description=name)
        else:
            controls[name] = widgets.Text(value=str(value), description=name)
    for name, control in controls.items():
        control.style.description_width = "initial"
        control.tooltip = help_text[name]
    display(widgets.VBox(list(controls.values())))

    class Panel:
        widgets = controls  # by setting name

        def config(self) -> TrainConfig:
            values = {n: c.value for n, c in controls.items()}
            if "examples" in values:
                ids = [e.strip() for e in values["examples"].split(",") if e.strip()]
                values["examples"] = ids or cfg.examples
            return replace(cfg, **values)

    return Panel()


TEXT_LIMIT = 4000  # characters of one completion shown; the rest is counted, not shown


def text_html(text, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text (a completion, an extracted answer) as HTML that shows it as text.

    Markup is escaped (``<script>``, ``</table>`` show as written); control and format
    characters other than newline and tab (escape sequences, NUL, bidirectional overrides)
    show as ``\\xNN`` / ``\\uNNNN``; beyond ``limit`` characters the text is cut and the rest counted.
    """
    text = "" if text is None else str(text)
    rest = len(text) - limit
    text = text[:limit] if rest > 0 else text
    visible = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
        else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in text
    )
    shown = html.escape(visible, quote=True)
    return shown + (f" <i>[{rest:,} more characters]</i>" if rest > 0 else "")


ROLLOUT_COLUMNS = ("step", "example_id", "correct", "completion")


def rollouts_html(rows: pd.DataFrame, columns=ROLLOUT_COLUMNS) -> str:
    """A table of rollouts as HTML: every text cell through ``text_html``, shown whole and wrapped."""
    rows = rows[[c for c in columns if c in rows.columns]]
    text = [c for c in rows.columns if pd.api.types.is_string_dtype(rows[c]) or rows[c].dtype == object]
    styled = (rows.style.hide(axis="index")
              .format(text_html, subset=text)
              .set_properties(subset=text, **{"white-space": "pre-wrap", "text-align": "left",
                                               "font-family": "monospace"}))
    return styled.to_html()


def show_rollouts(rows: pd.DataFrame, columns=ROLLOUT_COLUMNS):
    """``rollouts_html`` for display in a notebook cell (the last line of a cell shows it)."""
    return HTML(rollouts_html(rows, columns))


def rollout_browser(samples: pd.DataFrame, n: int = 4):
    """A slider over training steps showing that step's sampled rollouts; returns the widgets.

    The first step's rollouts are also shown as a static table, so an
    executed notebook (papermill, no one to move the slider) shows start and end.
    """
    steps = sorted(samples["step"].unique())
    if not steps:
        print("no rollouts logged")
        return None

    def table(step):
        return rollouts_html(samples[samples["step"] == step].head(n))

    display(show_rollouts(samples[samples["step"] == steps[0]].head(n)))
    out = widgets.HTML(table(steps[-1]))
    slider = widgets.SelectionSlider(options=steps, value=steps[-1], description="step", continuous_update=False)
    slider.observe(lambda change: setattr(out, "value", table(change["new"])), names="value")
    box = widgets.VBox([slider, out])
    display(box)
    return box
