"""How far training runs have got: one bar per run where the researcher is looking, one line
per run on the terminal that started a notebook.

A bar shows the step, the ETA and the latest training accuracy (tqdm's meter), and nothing else
goes into the cell per step (transformers' own per-step table and log printer are switched off in
``train``). In a notebook cell it is an output updated in place, not a widget: a notebook executed
by papermill then keeps each bar as it ended, readable in any viewer (a widget's saved state is
not restored by JupyterLab, which would show the bar as it started). In a terminal it is tqdm's. Under a Jupyter kernel
(JupyterLab, or papermill under ``rlvr notebook`` / ``rlvr sweep``) one line per run also goes to
the terminal the kernel was started from, at most every ``every_s`` seconds: step, ETA and
training accuracy, named by the run's folder so that runs of a sweep are told apart.
"""

from __future__ import annotations

import html
import os
import sys
import time
from pathlib import Path

from IPython.display import display
from tqdm import tqdm
from transformers import TrainerCallback

from .rundir import STEPS_LOG, read_log


def kernel_terminal() -> int | None:
    """The file descriptor of the terminal a Jupyter kernel was started from, or None outside one.

    ipykernel sends ``sys.stderr`` into the running cell and, where it watches file descriptors
    (Linux and macOS, outside pytest), descriptor 2 too, keeping a copy of the original: writing
    to that copy (or to descriptor 2 where it is not watched) reaches the terminal, not the cell.
    """
    if type(sys.stderr).__module__ != "ipykernel.iostream":
        return None
    copy = getattr(sys.stderr, "_original_stdstream_copy", None)
    return copy if isinstance(copy, int) else 2


class CellBar:
    """A progress bar as a notebook cell output updated in place (the part of tqdm's interface
    ``Bars`` uses): HTML with a ``<progress>`` element where HTML is shown, tqdm's meter as text."""

    every_s = 0.5  # redraws at most this often, and at close

    def __init__(self, total: int, initial: int, desc: str):
        self.total, self.n, self.initial, self.desc, self.postfix = total, initial, initial, desc, ""
        self.drawn = 0.0
        self.first: tuple[float, int] | None = None  # (time, step) of the first step seen move
        self.moved = time.monotonic()  # when the step last moved: time spent waiting for a worker or
        # evaluating after the last step counts in neither the elapsed time nor the rate
        self.handle = display(self, display_id=True)

    def __repr__(self) -> str:
        elapsed, rate = 0.0, None
        if self.first is not None:
            elapsed = (self.moved if self.n >= self.total else time.monotonic()) - self.first[0]
            if self.moved > self.first[0] and self.n > self.first[1]:
                rate = (self.n - self.first[1]) / (self.moved - self.first[0])
        return tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, unit="step", rate=rate,
                                 initial=self.initial, postfix=self.postfix or None, ncols=100)

    def _repr_html_(self) -> str:
        return (f"<div><progress value='{self.n}' max='{self.total}' style='width: 20em; vertical-align: middle'>"
                f"</progress> <code>{html.escape(repr(self))}</code></div>")

    def refresh(self, force: bool = True) -> None:
        if force or time.monotonic() - self.drawn >= self.every_s:
            self.drawn = time.monotonic()
            self.handle.update(self)

    def update(self, k: int) -> None:
        now = time.monotonic()
        self.n += k
        if self.first is None:
            self.first = (now, self.n)  # the clock starts at the first step seen
        self.moved = now
        self.refresh(force=self.n >= self.total)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text
        if refresh:
            self.refresh()

    def close(self) -> None:
        self.refresh()


class Bars:
    """A bar per run, ``runs``: {label: (run folder, total steps)}; ``update`` or ``poll`` moves them."""

    def __init__(self, runs: dict[str, tuple[str | Path, int]], every_s: float = 10.0):
        self.runs = {label: (Path(folder), total) for label, (folder, total) in runs.items()}
        self.every_s, self.last_said = every_s, 0.0
        self.bars: dict = {}
        self.state: dict[str, tuple[int, float | None, str]] = {}  # label: (step, accuracy, note)
        self.said: dict[str, tuple] = {}  # what the terminal was last told per run: a line only when it moved
        # label: (time, step) of the first step seen move; the ETA's rate counts from there, so a
        # run's start-up (loading, the first rollouts' warm-up) does not skew it
        self.started: dict[str, tuple[float, int]] = {}

    def start(self, label: str, step: int = 0) -> None:
        """Show the run's bar at ``step``, where it starts (a resumed run: its last checkpoint)."""
        if label not in self.bars:
            total = self.runs[label][1]
            self.bars[label] = (CellBar(total, step, label) if kernel_terminal() is not None else
                                tqdm(total=total, initial=step, desc=label, unit="step", dynamic_ncols=True))
            self.state[label] = (step, None, "")

    def start_all(self) -> None:
        """Every run's bar, each at the last step of its step log."""
        for label, (folder, _) in self.runs.items():
            rows = read_log(folder, STEPS_LOG)
            self.start(label, rows[-1]["step"] if rows else 0)

    def update(self, label: str, step: int, accuracy: float | None = None, note: str = "") -> None:
        self.start(label, step)
        if label not in self.started and step > self.state[label][0]:
            self.started[label] = (time.monotonic(), step)
        bar = self.bars[label]
        shown = note or (f"training accuracy {accuracy:.2f}" if accuracy is not None else "")
        bar.set_postfix_str(shown, refresh=False)
        if step != bar.n:
            bar.update(step - bar.n)  # redraws, at most every few tenths of a second
        else:
            bar.refresh()
        self.state[label] = (step, accuracy, note)
        self.tell_terminal()

    def note(self, label: str, text: str) -> None:
        """A word about a run beside its bar (and on the terminal now): 'evaluating 4 checkpoints'."""
        step, accuracy, _ = self.state.get(label, (0, None, ""))
        self.update(label, step, accuracy, text)
        self.tell_terminal(force=True)

    def poll(self) -> None:
        """Move each bar to the last row of its run's step log (runs training in other processes)."""
        for label, (folder, _) in self.runs.items():
            rows = read_log(folder, STEPS_LOG)
            step, _, note = self.state.get(label, (None, None, ""))
            if rows and rows[-1]["step"] != step:
                self.update(label, rows[-1]["step"], rows[-1].get("train_accuracy"), note)

    def line(self, label: str) -> str | None:
        step, accuracy, note = self.state[label]
        folder, total = self.runs[label]
        if accuracy is None and not note or self.said.get(label) == (step, note):  # not started, or not moved
            return None
        self.said[label] = (step, note)
        first_time, first_step = self.started.get(label, (None, step))
        rate = (time.monotonic() - first_time) / (step - first_step) if step > first_step else None
        eta = ", done" if step >= total else f", {rate * (total - step):.0f} s left" if rate else ""
        shown = f", training accuracy {accuracy:.2f}" if accuracy is not None else ""
        return f"  {folder}: step {step}/{total}{eta}{shown}" + (f"; {note}" if note else "")

    def tell_terminal(self, force: bool = False) -> None:
        fd = kernel_terminal()
        if fd is None or not force and time.monotonic() - self.last_said < self.every_s:
            return
        self.last_said = time.monotonic()
        lines = [line for label in self.state if (line := self.line(label))]
        if lines:
            try:
                os.write(fd, ("\n".join(lines) + "\n").encode())
            except OSError:  # the terminal is gone (a closed JupyterLab server's console): bars only
                pass

    def close(self) -> None:
        self.tell_terminal(force=True)
        for bar in self.bars.values():
            bar.close()


class ShowProgress(TrainerCallback):
    """Moves one run's bar after each optimizer step, from the row the step table just wrote
    (``row()`` gives it: {'step', 'train_accuracy', ...})."""

    def __init__(self, bars: Bars, label: str, row):
        self.bars, self.label, self.row = bars, label, row

    def on_train_begin(self, args, state, control, **kwargs):
        self.bars.start(self.label, state.global_step)

    def on_log(self, args, state, control, **kwargs):
        row = self.row()
        if row and state.is_world_process_zero:
            self.bars.update(self.label, row["step"], row.get("train_accuracy"))

    def on_train_end(self, args, state, control, **kwargs):
        self.bars.close()
