"""Synthetic math word problems with exact integer answers.

A ~1M-parameter model can only show RLVR's effects if its world is small
enough to learn yet varied enough to generalise over: five domains of
integer-answer problems, four problem shapes each, numbers mostly below 100.
Every problem carries its worked solution (a list of operations ``a op b =
result``, the answer being the last result) and the parameters it was drawn
from, so its answer can be derived two independent ways: by the steps, and by
the plain formula or enumeration that ``check_answer`` uses.

Train and test are kept apart by construction: a hash of the problem text
assigns every possible text to exactly one split, so no seed, size or
corpus can make them overlap.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator

from .templates import DOMAINS, TEMPLATES, Step, Template, Work, apply

SPLIT_SEEDS = {"train": 1, "test": 2}
SPLIT_SIZES = {"train": 2000, "test": 500}
TEST_SHARE = 5  # one problem text in TEST_SHARE belongs to the test split
# A longer problem: a problem of a template, then this many more operations on its answer
# ("toy-test-long"; a world with a difficulty gap has seen such problems in its corpus).
LONG_EXTRA = 2
EXTENSION_SEED = 4


def split_of(text: str) -> str:
    """The split a problem text belongs to, fixed by a hash of the text itself."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return "test" if digest % TEST_SHARE == 0 else "train"


def _worked(template: Template, params: dict) -> list[Step]:
    work = Work()
    template.work(params, work)
    return work.steps


def solve(problem: dict) -> list[Step]:
    """The worked solution of a problem, rebuilt from its template and parameters (and the operations
    an extended problem adds to its answer)."""
    steps = _worked(TEMPLATES[problem["template"]], problem["params"])
    for op, n in problem.get("extra", ()):
        last = steps[-1].result
        steps.append(Step(last, op, n, apply(last, op, n), a_from=len(steps) - 1))
    return steps


_EXTRA_WORDS = {"+": "add {n}", "-": "subtract {n}", "*": "multiply by {n}"}
_EXTENDED = " Take that answer, "  # where an extended problem's own text ends


def extend(problem: dict, rng: random.Random, k: int) -> dict:
    """``problem`` with ``k`` more operations on its answer, each one more step:
    "... How many are left? Take that answer, add 7, then multiply by 3. What is the result?"

    The split stays the one of the problem's own text, so an extended test problem is never
    an extended train problem.
    """
    if k == 0:
        return problem
    value, extra = int(problem["answer"]), []
    for _ in range(k):
        op = rng.choice("+-*")
        if op == "-" and value == 0:
            op = "+"  # the world has only non-negative numbers
        n = rng.randint(2, 5) if op == "*" else rng.randint(1, min(20, value)) if op == "-" else rng.randint(2, 20)
        extra.append((op, n))
        value = apply(value, op, n)
    words = ", then ".join(_EXTRA_WORDS[op].format(n=n) for op, n in extra)
    extended = {**problem, "problem": f"{problem['problem']}{_EXTENDED}{words}. What is the result?",
                "extra": extra}
    steps = solve(extended)
    return {**extended, "answer": str(steps[-1].result), "steps": [s.render() for s in steps]}


def _draw(template: Template, rng: random.Random, split: str) -> dict:
    while True:
        params = template.sample(rng)
        text = template.text.format(**params)
        if split_of(text) == split:
            break
    steps = _worked(template, params)
    return {
        "problem": text,
        "answer": str(steps[-1].result),
        "domain": template.domain,
        "template": template.id,
        "params": params,
        "steps": [s.render() for s in steps],
    }


def _templates_in(domains: Iterable[str] | None) -> list[Template]:
    if domains is None:
        return list(TEMPLATES.values())
    wanted = set(domains)
    unknown = wanted - set(DOMAINS)
    if unknown:
        raise ValueError(f"unknown domains {sorted(unknown)}; known: {DOMAINS}")
    return [t for t in TEMPLATES.values() if t.domain in wanted]


def stream(seed: int, split: str = "train", domains: Iterable[str] | None = None) -> Iterator[dict]:
    """An endless, seeded stream of one split's problems (no ids; texts may repeat).

    Templates come in rounds that use each template once in shuffled order,
    so any prefix of the stream is close to balanced across templates.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; known: {sorted(SPLIT_SEEDS)}")
    pool = _templates_in(domains)
    rng = random.Random(seed)
    while True:
        for template in rng.sample(pool, len(pool)):
            yield _draw(template, rng, split)


def generate_problems(
    n: int,
    seed: int,
    domains: Iterable[str] | None = None,
    *,
    split: str = "train",
    id_prefix: str | None = None,
) -> list[dict]:
    """``n`` distinct problems of ``split`` (default train), deterministic in ``seed``.

    Ids are ``{id_prefix}-{index:05d}``; the default prefix names split and
    seed so problems from different calls never share an id. A smaller ``n``
    gives a prefix of a larger one.
    """
    prefix = id_prefix or f"toy-{split}-s{seed}"
    max_draws = 100 * n + 1000  # far more than needed unless n exceeds the distinct texts
    seen: set[str] = set()
    problems: list[dict] = []
    for draws, problem in enumerate(stream(seed, split, domains)):
        if len(problems) == n:
            break
        if draws == max_draws:
            raise ValueError(f"found only {len(problems)} distinct problems of the {n} asked for")
        if problem["problem"] not in seen:
            seen.add(problem["problem"])
            problems.append({"id": f"{prefix}-{len(problems):05d}", **problem})
    return problems


def make_split(name: str, n: int | None = None, extra: int = 0) -> list[dict]:
    """The fixed ``train`` (2000) or ``test`` (500) split, ids like ``toy-test-00042``.

    ``n`` takes a prefix (or a longer run of the same stream); the two splits
    never share a problem text, whatever their sizes. ``extra`` adds that many operations to every
    problem (``extend``): the same problems made longer, ids like ``toy-test-long-00042``.
    """
    if name not in SPLIT_SIZES:
        raise ValueError(f"unknown split {name!r}; known: {sorted(SPLIT_SIZES)}")
    size = SPLIT_SIZES[name] if n is None else n
    problems = generate_problems(size, SPLIT_SEEDS[name], split=name, id_prefix=f"toy-{name}")
    if not extra:
        return problems
    rng = random.Random(f"extend-{EXTENSION_SEED}")
    return [{**extend(p, rng, extra), "id": p["id"].replace(f"toy-{name}", f"toy-{name}-long")} for p in problems]


def check_answer(problem: dict) -> bool:
    """Is the stored answer right? Recomputed from the stored parameters by the
    template's own formula, not by its steps; the text must match the parameters."""
    template = TEMPLATES[problem["template"]]
    params = problem["params"]
    text = template.text.format(**params)
    if text != problem["problem"].split(_EXTENDED)[0]:
        return False
    answer = template.answer(params)
    for op, n in problem.get("extra", ()):
        answer = apply(answer, op, n)
    return str(answer) == problem["answer"]
