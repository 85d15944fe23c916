"""Label tools for the paper's label experiments.

* ``override_label``: give an example a different label (Tab. 5 rows 11-13:
  pi_1's true label 12.8 replaced by 12.7, 4, or an unguessable 929725).
* ``corrupt_labels``: corrupt a fraction of a dataset's labels (Tab. 17: 60%
  and 90% of DSR-sub) with the paper's recipe: integers get a random number
  within 10 added or subtracted and their sign flipped at random; fractions get
  numerator and denominator perturbed the same way.

Both work on a pandas DataFrame or a ``datasets.Dataset`` with an ``answer``
column and return the same type, with the originals kept in
``original_answer``, a ``label_changed`` flag and ``label_change`` saying how
(``override``, ``integer``, ``decimal``, ``fraction``, ``number-in-expression``
for labels like ``2\\sqrt{3}``, ``swap`` for labels with no number, which get
another row's label).
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
from datasets import Dataset

from .grading import grade_many
from .grading.grade import gold_answer

_INT = re.compile(r"^\s*([+-]?)(\d+)\s*$")
_DEC = re.compile(r"^\s*([+-]?\d+\.\d+)\s*$")
_FRAC = re.compile(r"^\s*(-?)\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}\s*$")
_SLASH = re.compile(r"^\s*(-?)(\d+)\s*/\s*(\d+)\s*$")
_DIGITS = re.compile(r"\d+")


def _to_frame(data) -> tuple[pd.DataFrame, bool]:
    if isinstance(data, pd.DataFrame):
        return data.copy(), False
    to_pandas = getattr(data, "to_pandas", None)
    if to_pandas is None:
        raise TypeError(f"expected a pandas DataFrame or a datasets.Dataset, got {type(data).__name__}")
    return to_pandas(), True


def _from_frame(df: pd.DataFrame, was_dataset: bool):
    if not was_dataset:
        return df

    return Dataset.from_pandas(df, preserve_index=False)


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    if "answer" not in df.columns:
        raise ValueError(
            f"no 'answer' column (columns: {list(df.columns)}); the label tools change 'answer'"
        )
    df["answer"] = [gold_answer(a) for a in df["answer"]]
    if "original_answer" not in df.columns:  # keep the first originals when tools are stacked
        df["original_answer"] = df["answer"]
        df["label_changed"] = False
        df["label_change"] = None
    return df


def override_label(data, label, ids=None, id_column: str = "id"):
    """Set the label of the rows whose ``id_column`` is in ``ids`` (all rows if None).

    A 1-shot dataset is one example repeated, so ``override_label(ds, "12.7")``
    relabels it whole.
    """
    df, was_dataset = _to_frame(data)
    df = _prepare(df)
    if ids is None:
        rows = np.ones(len(df), dtype=bool)
    else:
        if id_column not in df.columns:
            raise ValueError(f"no {id_column!r} column to select ids from (columns: {list(df.columns)})")
        wanted = set(ids) if isinstance(ids, (list, tuple, set)) else {ids}
        rows = df[id_column].isin(wanted).to_numpy()
        if not rows.any():
            raise ValueError(f"none of the ids {sorted(map(str, wanted))} is in column {id_column!r}")
    df.loc[rows, "answer"] = str(label)
    df.loc[rows, "label_changed"] = True
    df.loc[rows, "label_change"] = "override"
    return _from_frame(df, was_dataset)


def _shift(rng: np.random.Generator) -> int:
    """A nonzero random number within 10, added or subtracted."""
    return int(rng.integers(1, 11)) * (1 if rng.random() < 0.5 else -1)


def _perturb(label: str, rng: np.random.Generator) -> tuple[str, str] | None:
    m = _INT.match(label)
    if m:
        v = int(m.group(1) + m.group(2)) + _shift(rng)
        if rng.random() < 0.5:
            v = -v
        return str(v), "integer"
    m = _DEC.match(label)
    if m:
        v = Decimal(m.group(1)) + _shift(rng)
        if rng.random() < 0.5:
            v = -v
        return str(v), "decimal"
    m = _FRAC.match(label) or _SLASH.match(label)
    if m:
        sign, num, den = m.group(1), int(m.group(2)), int(m.group(3))
        num, den = num + _shift(rng), den + _shift(rng)
        if den <= 0 or num <= 0:
            return None
        if rng.random() < 0.5:
            sign = "" if sign == "-" else "-"
        if "/" in label and "frac" not in label:
            return f"{sign}{num}/{den}", "fraction"
        return f"{sign}\\frac{{{num}}}{{{den}}}", "fraction"
    digits = list(_DIGITS.finditer(label))
    if digits:
        d = digits[int(rng.integers(len(digits)))]
        v = abs(int(d.group()) + _shift(rng))
        return label[: d.start()] + str(v) + label[d.end() :], "number-in-expression"
    return None


def corrupt_labels(data, fraction: float, seed: int = 0, max_tries: int = 20):
    """Corrupt ``round(fraction * len(data))`` randomly chosen labels (seeded).

    Every new label is checked with the training grader to really be wrong
    (``-5`` from ``5`` would be, ``\\frac{2}{4}`` for ``\\frac{1}{2}`` too).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction!r}")
    df, was_dataset = _to_frame(data)
    df = _prepare(df)
    rng = np.random.default_rng(seed)
    n_bad = int(round(fraction * len(df)))
    chosen = rng.choice(len(df), size=n_bad, replace=False) if n_bad else np.array([], dtype=int)
    answers = df["answer"].tolist()
    todo = sorted(int(i) for i in chosen)
    done: dict[int, tuple[str, str]] = {}
    for _ in range(max_tries):  # propose for all rows at once, grade in one batch
        proposals = {i: _perturb(answers[i], rng) for i in todo}
        proposals = {i: p for i, p in proposals.items() if p is not None}
        idx = list(proposals)
        same = grade_many(
            ["\\boxed{" + proposals[i][0] + "}" for i in idx], [answers[i] for i in idx], "train"
        )
        done.update({i: proposals[i] for i, s in zip(idx, same) if not s})
        todo = [i for i in todo if i not in done]
        if not todo:
            break
    for i in todo:  # no number to perturb: take another row's (different) label
        others = [a for a in answers if a != answers[i]]
        if not others:
            raise ValueError("cannot corrupt labels: every row has the same non-numeric label")
        done[i] = (others[int(rng.integers(len(others)))], "swap")
    for i, (new, kind) in done.items():
        answers[i] = new
        df.iat[i, df.columns.get_loc("label_changed")] = True
        df.iat[i, df.columns.get_loc("label_change")] = kind
    df["answer"] = answers
    return _from_frame(df, was_dataset)
