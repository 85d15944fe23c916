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

from .templates import DOMAINS, TEMPLATES, Step, Template, Work

SPLIT_SEEDS = {"train": 1, "test": 2}
SPLIT_SIZES = {"train": 2000, "test": 500}
TEST_SHARE = 5  # one problem text in TEST_SHARE belongs to the test split


def split_of(text: str) -> str:
    """The split a problem text belongs to, fixed by a hash of the text itself."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return "test" if digest % TEST_SHARE == 0 else "train"


def _worked(template: Template, params: dict) -> list[Step]:
    work = Work()
    template.work(params, work)
    return work.steps


def solve(problem: dict) -> list[Step]:
    """The worked solution of a problem, rebuilt from its template and parameters."""
    return _worked(TEMPLATES[problem["template"]], problem["params"])


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


def make_split(name: str, n: int | None = None) -> list[dict]:
    """The fixed ``train`` (2000) or ``test`` (500) split, ids like ``toy-test-00042``.

    ``n`` takes a prefix (or a longer run of the same stream); the two splits
    never share a problem text, whatever their sizes.
    """
    if name not in SPLIT_SIZES:
        raise ValueError(f"unknown split {name!r}; known: {sorted(SPLIT_SIZES)}")
    size = SPLIT_SIZES[name] if n is None else n
    return generate_problems(size, SPLIT_SEEDS[name], split=name, id_prefix=f"toy-{name}")


def check_answer(problem: dict) -> bool:
    """Is the stored answer right? Recomputed from the stored parameters by the
    template's own formula, not by its steps; the text must match the parameters."""
    template = TEMPLATES[problem["template"]]
    params = problem["params"]
    if template.text.format(**params) != problem["problem"]:
        return False
    return str(template.answer(params)) == problem["answer"]
