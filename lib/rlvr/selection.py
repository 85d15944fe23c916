"""Historical-variance data selection (paper section 6).

A full-set RLVR run records each example's mean training accuracy in every
epoch; an example's score is the population standard deviation of that
history (the paper's Eq. 1 says variance: same ranking). Sorting by score,
descending and stable in the history's key order, gives pi_1, pi_2, ... (the
reference run's history ranks DSR-sub index 124 first, 682 thirteenth).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def load_history(path: str | Path) -> dict[str, list[float]]:
    """``{example_id: [accuracy in epoch 1, 2, ...]}`` from a history JSON file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"history file {path} does not exist: a training run writes one (history_accuracy.json in its "
            "folder; for the embedded default, `rlvr train params/toy/selection_run.yaml`), or choose the "
            "example by id instead (examples: [toy-train-00004])")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path} is not a history: expected {{example_id: [per-epoch accuracy, ...]}}")
    return {str(k): [float(x) for x in v] for k, v in data.items()}


def scores(history: dict[str, list[float]]) -> dict[str, float]:
    return {k: float(np.std(v)) if v else 0.0 for k, v in history.items()}


def rank_examples(history: dict[str, list[float]]) -> list[str]:
    """Example ids from pi_1 on: highest historical standard deviation first,
    ties in the history's key order (Python's stable sort, as the reference)."""
    s = scores(history)
    return sorted(s, key=lambda k: s[k], reverse=True)


def ranking_table(history: dict[str, list[float]]) -> pd.DataFrame:
    s = scores(history)
    order = rank_examples(history)
    return pd.DataFrame(
        {
            "rank": range(1, len(order) + 1),
            "example_id": order,
            "score": [s[k] for k in order],
            "mean_accuracy": [float(np.mean(history[k])) if history[k] else 0.0 for k in order],
            "epochs": [len(history[k]) for k in order],
        }
    )


def history_from_rollouts(rollouts: pd.DataFrame, column: str = "correct") -> dict[str, list[float]]:
    """A run's per-epoch mean accuracy per example, in the reference file's shape."""
    means = rollouts.groupby(["example_id", "epoch"], sort=True)[column].mean()
    history: dict[str, list[float]] = {}
    for (example, _epoch), value in means.items():
        history.setdefault(str(example), []).append(float(value))
    return history
