"""What a model does on the toy test set: the base model's profile.

Greedy answers to every test problem (training prompt, the model's chat
template), measured the ways the paper looks at Qwen2.5-Math-1.5B:

* ``strict``: the training reward (the last box is right): what RLVR optimises;
* ``eval``: the paper's evaluation protocol (box, "the answer is", last number);
* ``first_answer``: the first answer stated, format ignored (run-on cut off):
  roughly what the model "knows";
* ``boxed``: a box is present; ``run_on``: the text runs on into a new question;
* ``reflection``: a self-reflection word is used (the paper's "recheck", "rethink", "recalculate");
  ``repetition``: the text ends in a repeated chunk (a loop);
* ``code``: the first answer is in the code-like reasoning mode (``corpus.CODE_MARK``); ``worked``: it
  writes at least one step (the modes are shares of the worked answers).

``world_profile`` adds what greedy answers to toy-test cannot show: sampled answers (temperature 1,
``SAMPLES`` a problem: how often each reasoning mode and checking are reachable, and each mode's
accuracy), the gain from 1 and 4 demonstrations of the question's own template, and the longer
problems of toy-test-long.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from ..generation import generate
from ..grading import extract_answer, grade_many
from ..prompts import few_shot_input, training_messages
from ..rundir import load_run
from ..textfeatures import ends_in_repetition, first_answer, reflection_counts, runs_on
from .corpus import CODE_MARK, STEP
from .problems import LONG_EXTRA, make_split


def answer_table(
    model, tokenizer, problems: list[dict], max_new_tokens: int = 200, batch_size: int = 50, *,
    demos: int = 0, temperature: float = 0.0, samples: int = 1, seed: int = 0, other_demos: bool = False,
) -> pd.DataFrame:
    """One row an answer: ``samples`` answers a problem at ``temperature`` (0: greedy), each prompt
    led by ``demos`` worked examples of its problem's template (``other_demos``: of another domain's;
    ``template_demos``)."""
    shown = template_demos(problems, demos, other=other_demos)
    prompts = [
        tokenizer.apply_chat_template(training_messages(few_shot_input(p["problem"], shown[p["id"]])),
                                      tokenize=False, add_generation_prompt=True)
        for p in problems for _ in range(samples)
    ]
    gens = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                    temperature=temperature, seed=seed)
    responses = [g.text for g in gens]
    rows = [p for p in problems for _ in range(samples)]
    golds = [p["answer"] for p in rows]
    firsts = [first_answer(r) for r in responses]
    return pd.DataFrame(
        {
            "id": [p["id"] for p in rows],
            "domain": [p["domain"] for p in rows],
            "template": [p["template"] for p in rows],
            "answer": golds,
            "response": responses,
            "n_tokens": [g.n_tokens for g in gens],
            "finished": [g.finished for g in gens],
            "strict": grade_many(responses, golds, "train"),
            "eval": grade_many(responses, golds, "eval"),
            "first_answer": grade_many(firsts, golds, "eval"),
            "boxed": [extract_answer(r, "train") is not None for r in responses],
            "run_on": [runs_on(r) for r in responses],
            "reflection": [sum(reflection_counts(r).values()) > 0 for r in responses],
            "repetition": [ends_in_repetition(r) for r in responses],
            **modes(firsts),
        }
    )


def modes(firsts: list[str]) -> dict[str, list[bool]]:
    """Of each first answer (``first_answer``), whether it works a step (``worked``) and whether it
    is in the code-like mode (``code``; a share of the worked ones wherever it is reported)."""
    return {"code": [CODE_MARK in f for f in firsts], "worked": [bool(STEP.search(f)) for f in firsts]}


def mode_shifts(runs: dict[str, str | Path]) -> pd.DataFrame:
    """``mode_shift`` of each named training run (a run not on disk is left out), one row a run."""
    rows = [{"condition": name, **mode_shift(load_run(run)["samples"])} for name, run in runs.items()
            if Path(run).is_dir()]
    return pd.DataFrame(rows, columns=["condition", "worked_start", "worked_end", "code_start", "code_end"])


def mode_shift(samples: pd.DataFrame, fraction: float = 0.2) -> dict[str, float]:
    """How a training run's reasoning modes moved: of its kept rollouts (a run's ``samples`` table)
    in the first and the last ``fraction`` of its logged steps, the share that work a step and the
    code-like mode's share of those (NaN where none worked). Shao et al. (arXiv 2506.10947) read a
    spurious reward's gain on Qwen2.5-Math through this share (code reasoning 65% -> over 90%)."""
    names = ["worked_start", "worked_end", "code_start", "code_end"]
    if samples.empty:
        return dict.fromkeys(names, float("nan"))
    steps = sorted(samples["step"].unique())
    k = max(1, round(len(steps) * fraction))
    table = samples.assign(**modes([first_answer(text) for text in samples["completion"]]))
    shares = {}
    for end, window in (("start", steps[:k]), ("end", steps[-k:])):
        part = table[table["step"].isin(window)]
        worked = part[part["worked"]]
        shares[f"worked_{end}"] = float(part["worked"].mean())
        shares[f"code_{end}"] = float(worked["code"].mean()) if len(worked) else float("nan")
    return {name: shares[name] for name in names}


def template_demos(problems: list[dict], k: int, seed: int = 0,
                   other: bool = False) -> dict[str, list[tuple[str, str]]]:
    """``k`` toy-train problems of each problem's own template (``other``: of another domain's, as the
    paper's in-context demo is another problem), worked and boxed as a rewarded answer is written
    (in-context learning can only show where earlier answers say how the next is written)."""
    if k == 0:
        return {p["id"]: [] for p in problems}
    train = make_split("train")
    rng = random.Random(seed)

    def worked(d: dict) -> str:
        return " ".join(f"{s}." for s in d["steps"]) + f" The answer is \\boxed{{{d['answer']}}}."

    def pool(p: dict) -> list[dict]:
        return [d for d in train if (d["domain"] != p["domain"] if other else d["template"] == p["template"])]

    return {p["id"]: [(d["problem"], worked(d)) for d in rng.sample(pool(p), k)] for p in problems}


METRICS = ["strict", "eval", "first_answer", "boxed", "run_on", "reflection", "repetition", "code"]
SAMPLES = 4  # sampled answers a problem in a world's profile
DEMOS = (0, 1, 4)


def _rates(table: pd.DataFrame) -> dict:
    rates = {m: round(float(table[m].mean()), 4) for m in METRICS if m != "code"}
    worked = table[table["worked"]]
    code, prose = worked[worked["code"]], worked[~worked["code"]]
    checking, unchecked = table[table["reflection"]], table[~table["reflection"]]
    skipped = table[~table["worked"]]
    return rates | {
        # Working the steps or skipping them: a near-tie greedy decoding flips one way or the other.
        "worked": round(float(table["worked"].mean()), 4),
        "worked_accuracy": round(float(worked["first_answer"].mean()), 4) if len(worked) else None,
        "skipped_accuracy": round(float(skipped["first_answer"].mean()), 4) if len(skipped) else None,
        "code": round(float(worked["code"].mean()), 4) if len(worked) else 0.0,  # a share of the worked answers
        "code_accuracy": round(float(code["first_answer"].mean()), 4) if len(code) else None,
        "prose_accuracy": round(float(prose["first_answer"].mean()), 4) if len(prose) else None,
        # Whether checking pays in the model's own hands: the premise of the verification switch.
        "reflection_accuracy": round(float(checking["first_answer"].mean()), 4) if len(checking) else None,
        "no_reflection_accuracy": round(float(unchecked["first_answer"].mean()), 4) if len(unchecked) else None,
    }


def profile_summary(table: pd.DataFrame) -> dict:
    """Overall and per-domain rates, as plain floats (for JSON)."""
    per_domain = {domain: _rates(group) | {"n": int(len(group))} for domain, group in table.groupby("domain")}
    return {"n": int(len(table)), **_rates(table), "per_domain": per_domain}


# The answers a world's profile reads, by kind (the ``kind`` column of its answers table).
KINDS = ("greedy", "sampled", *(f"demos-{k}" for k in DEMOS if k), "demos-1-other", "long")


def world_answers(model, tokenizer, n_test: int | None = None) -> pd.DataFrame:
    """Every answer a world's profile reads, one table with a ``kind`` column (``KINDS``): greedy
    answers to toy-test (``n_test``: a prefix of it, a quick look; the profile of record uses all 500),
    ``SAMPLES`` sampled ones a problem at temperature 1, greedy ones after 1 and 4 demonstrations of the
    question's template and after 1 of another domain's (the paper's in-context baseline), and greedy
    ones to toy-test-long. Seeded: the same model gives the same answers."""
    test, long_test = make_split("test", n_test), make_split("test", n_test, extra=LONG_EXTRA)
    tables = {"greedy": answer_table(model, tokenizer, test),
              "sampled": answer_table(model, tokenizer, test, temperature=1.0, samples=SAMPLES),
              **{f"demos-{k}": answer_table(model, tokenizer, test, demos=k, batch_size=25) for k in DEMOS if k},
              "demos-1-other": answer_table(model, tokenizer, test, demos=1, other_demos=True, batch_size=25),
              "long": answer_table(model, tokenizer, long_test)}
    return pd.concat([t.assign(kind=kind) for kind, t in tables.items()], ignore_index=True)


def summarise(answers: pd.DataFrame) -> dict:
    """A world's profile from its answers (``world_answers``): the greedy ones' rates
    (``profile_summary``), then ``sampled``, ``in_context`` (strict, first answer and boxed with 0, 1
    and 4 demos, and with 1 of another domain's) and ``long``."""
    tables = {kind: answers[answers["kind"] == kind].drop(columns="kind") for kind in KINDS}
    profile = profile_summary(tables["greedy"])
    profile["sampled"] = {"temperature": 1.0, "samples": SAMPLES, **_rates(tables["sampled"])}
    shown = {**{str(k): f"demos-{k}" if k else "greedy" for k in DEMOS}, "1 other": "demos-1-other"}
    profile["in_context"] = {key: {m: round(float(tables[kind][m].mean()), 4)
                                   for m in ("strict", "first_answer", "boxed")} for key, kind in shown.items()}
    profile["long"] = {k: v for k, v in profile_summary(tables["long"]).items() if k != "per_domain"}
    return profile


def world_profile(model, tokenizer, n_test: int | None = None) -> tuple[dict, pd.DataFrame]:
    """A built world's profile on toy-test and every answer behind it (``world_answers``, ``summarise``)."""
    answers = world_answers(model, tokenizer, n_test)
    return summarise(answers), answers
