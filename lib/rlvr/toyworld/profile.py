"""What a model does on the toy test set: the base model's profile.

Greedy answers to every test problem (training prompt, the model's chat
template), measured the ways the paper looks at Qwen2.5-Math-1.5B:

* ``strict``: the training reward (the last box is right): what RLVR optimises;
* ``eval``: the paper's evaluation protocol (box, "the answer is", last number);
* ``first_answer``: the first answer stated, format ignored (run-on cut off):
  roughly what the model "knows";
* ``boxed``: a box is present; ``run_on``: the text runs on into a new question;
* ``reflection``: a self-reflection word is used (the paper's "recheck", "rethink", "recalculate");
  ``repetition``: the text ends in a repeated chunk (a loop).
"""

from __future__ import annotations

import pandas as pd

from ..generation import generate
from ..grading import extract_answer, grade_many
from ..prompts import training_messages
from ..textfeatures import ends_in_repetition, first_answer, reflection_counts, runs_on


def answer_table(
    model, tokenizer, problems: list[dict], max_new_tokens: int = 200, batch_size: int = 50
) -> pd.DataFrame:
    prompts = [
        tokenizer.apply_chat_template(training_messages(p["problem"]), tokenize=False, add_generation_prompt=True)
        for p in problems
    ]
    gens = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    responses = [g.text for g in gens]
    golds = [p["answer"] for p in problems]
    return pd.DataFrame(
        {
            "id": [p["id"] for p in problems],
            "domain": [p["domain"] for p in problems],
            "template": [p["template"] for p in problems],
            "answer": golds,
            "response": responses,
            "n_tokens": [g.n_tokens for g in gens],
            "finished": [g.finished for g in gens],
            "strict": grade_many(responses, golds, "train"),
            "eval": grade_many(responses, golds, "eval"),
            "first_answer": grade_many([first_answer(r) for r in responses], golds, "eval"),
            "boxed": [extract_answer(r, "train") is not None for r in responses],
            "run_on": [runs_on(r) for r in responses],
            "reflection": [sum(reflection_counts(r).values()) > 0 for r in responses],
            "repetition": [ends_in_repetition(r) for r in responses],
        }
    )


METRICS = ["strict", "eval", "first_answer", "boxed", "run_on", "reflection", "repetition"]


def profile_summary(table: pd.DataFrame) -> dict:
    """Overall and per-domain rates, as plain floats (for JSON)."""
    overall = {m: round(float(table[m].mean()), 4) for m in METRICS}
    per_domain = {
        domain: {m: round(float(group[m].mean()), 4) for m in METRICS} | {"n": int(len(group))}
        for domain, group in table.groupby("domain")
    }
    return {"n": int(len(table)), **overall, "per_domain": per_domain}
