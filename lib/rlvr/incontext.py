"""Demos for the in-context baseline (the paper's Tab. 16).

Two kinds: the training example with a solution the model itself wrote (the
paper's "pi_1 in-context"), and a classic fixed set of worked examples (the
"Qwen official 4 examples"). For real models both come from the reference
code's file (``qwen_incontext_examples.json``, given by path); for the toy
world they are built here. Demos are ``(question, answer)`` pairs, placed in
one user turn before the question (``rlvr.prompts.few_shot_input``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .analysis import score
from .backends import get_backend
from .data import load_dataset
from .evaluate import evaluate
from .grading import grade_many
from .models import eval_dtype_for, eval_template_for, resolve
from .probes import sampled

Demo = tuple[str, str]


def load_demos(path: str | Path, key: str = "math", n: int | None = 4) -> list[Demo]:
    """Demos from the reference code's examples file: ``key`` is ``"math"`` (the
    official examples; the first 4 are the paper's) or ``"math500_pi1_incontext"``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no demos file there; pass the path of qwen_incontext_examples.json")
    data = json.loads(path.read_text())
    if key not in data:
        raise KeyError(f"{path} has no {key!r}; it has {sorted(k for k, v in data.items() if isinstance(v, list))}")
    demos = [(d["question"], d["answer"]) for d in data[key]]
    return demos[:n] if n else demos


def toy_demos(n: int = 4, exclude: tuple[str, ...] = ()) -> list[Demo]:
    """Worked toy-world examples, one per domain in turn, each ending in a boxed answer."""
    picked: dict[str, Demo] = {}
    for row in load_dataset("toy-train"):
        if row["id"] in exclude or row["domain"] in picked:
            continue
        picked[row["domain"]] = (row["problem"], f"{row['solution']} The answer is \\boxed{{{row['answer']}}}.")
        if len(picked) == n:
            break
    return list(picked.values())


def self_demo(model: str, problem: str, answer: str, *, tries: int = 1024, batch: int = 32,
              temperature: float = 1.0, max_new_tokens: int = 200, seed: int = 0) -> Demo:
    """The problem with a solution ``model`` wrote itself and that earns the reward.

    Samples ``batch`` solutions at a time, up to ``tries``, and keeps the first one the training
    reward accepts (right answer, boxed), the way the paper's pi_1 demo was made. A pi_1 is picked for
    its variance in training, not for being easy: a base may solve it once in a few hundred samples.
    """
    backend = get_backend("auto", resolve(model), dtype=eval_dtype_for(model), seed=seed)
    prompt = backend.prompt(problem, eval_template_for(model))
    for texts in sampled(backend, prompt, tries, batch, temperature=temperature, max_new_tokens=max_new_tokens,
                         seed=seed):
        for text, ok in zip(texts, grade_many(texts, [answer] * len(texts), "train")):
            if ok:
                return problem, text.strip()
    raise RuntimeError(
        f"none of {tries} samples solved the problem with a boxed answer; raise `tries` or pick another example"
    )


def evaluate_demo_sets(model: str, demo_sets: dict[str, list[Demo]], eval_config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate ``model`` once per named demo set; returns (scores, evaluation table)."""
    tables = []
    for name, demos in demo_sets.items():
        table = evaluate(model, replace(eval_config, demos=list(demos)), progress=False)
        tables.append(table.assign(setting=name, n_demos=len(demos)))
    table = pd.concat(tables, ignore_index=True)
    return score(table, ["setting", "n_demos"]), table
