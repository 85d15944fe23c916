"""The toy world's problem templates: five domains, four problem shapes each.

A template says how a problem is worded, how its parameters are drawn, how it is solved step by step
(each step an operation ``a op b = result``, the answer the last result) and by which plain formula
its answer can be checked independently (``problems.check_answer``).
"""

from __future__ import annotations

import itertools
import operator
import random
from collections.abc import Callable
from dataclasses import dataclass

DOMAINS = ("arithmetic", "linear", "remainder", "counting", "geometry")

_OPS: dict[str, Callable[[int, int], int]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
}


def apply(a: int, op: str, b: int) -> int:
    """The result of one step. ``/`` must divide exactly: every step stays an integer."""
    if op == "/":
        quotient, rest = divmod(a, b)
        if rest:
            raise ValueError(f"{a} / {b} is not a whole number")
        return quotient
    return _OPS[op](a, b)


@dataclass(frozen=True)
class Step:
    """One operation of a worked solution.

    ``a_from``/``b_from`` name the earlier step an operand came from, so a
    slipped result can be carried through the rest of the solution.
    """

    a: int
    op: str
    b: int
    result: int
    a_from: int | None = None
    b_from: int | None = None

    def render(self) -> str:
        return f"{self.a} {self.op} {self.b} = {self.result}"


class _Result(int):
    """An intermediate result that remembers which step produced it."""

    step: int

    def __new__(cls, value: int, step: int) -> _Result:
        result = super().__new__(cls, value)
        result.step = step
        return result


class Work:
    """Records a solution as templates compute it: ``w(a, op, b)`` does one step."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, a: int, op: str, b: int) -> int:
        step = Step(int(a), op, int(b), apply(a, op, b), getattr(a, "step", None), getattr(b, "step", None))
        self.steps.append(step)
        return _Result(step.result, len(self.steps) - 1)


@dataclass(frozen=True)
class Template:
    """A problem shape: how to draw its parameters, phrase them, work them and check them.

    ``answer`` is written apart from ``work`` (a formula, an enumeration or a
    search) so that a mistake in one shows up as a disagreement with the other.
    """

    id: str
    text: str  # a str.format pattern over the parameters
    sample: Callable[[random.Random], dict]
    work: Callable[[dict, Work], object]
    answer: Callable[[dict], int | None]

    @property
    def domain(self) -> str:
        return self.id.split("/")[0]


def _ints(r: random.Random, **ranges: tuple[int, int]) -> dict[str, int]:
    return {name: r.randint(lo, hi) for name, (lo, hi) in ranges.items()}


_NAMES = ("Ava", "Ben", "Chloe", "Dan", "Ella", "Finn", "Grace", "Hugo", "Ivy", "Jack")
_ITEMS = ("apples", "marbles", "stickers", "cards", "stamps", "shells")
_GOODS = ("pens", "notebooks", "rulers", "erasers", "folders", "markers")
_GROUPED = ("students", "marbles", "eggs", "cards", "players", "books")
_THINGS = ("books", "songs", "toppings", "games", "colours")
_EVENTS = ("party", "meeting", "workshop", "reunion", "conference", "picnic")
_PEOPLE = (("people", "person"), ("guests", "guest"), ("friends", "friend"))
_ROLES = (("president", "vice-president"), ("captain", "vice-captain"), ("winner", "runner-up"))
_MEMBERS = ("students", "club members", "players", "volunteers", "candidates")
_PLACES = ("garden", "room", "table", "field", "poster")
_UNITS = ("cm", "metres", "inches")


def _sample_word(r: random.Random) -> dict:
    p = {"name": r.choice(_NAMES), "item": r.choice(_ITEMS)}
    p.update(_ints(r, start=(10, 60), bags=(2, 9), per=(3, 12)))
    p["gave"] = r.randint(1, min(60, p["start"] + p["bags"] * p["per"]))
    return p


def _sample_expression(r: random.Random) -> dict:
    p = _ints(r, a=(2, 60), b=(2, 12), c=(2, 12))
    p["d"] = r.randint(1, min(60, p["a"] + p["b"] * p["c"]))
    return p


def _sample_shop(r: random.Random) -> dict:
    item1, item2 = r.sample(_GOODS, 2)
    p = {"name": r.choice(_NAMES), "item1": item1, "item2": item2}
    p.update(_ints(r, p1=(2, 15), p2=(2, 15), n1=(2, 9), n2=(2, 9)))
    return p


def _sample_sharing(r: random.Random) -> dict:
    p = {"item": r.choice(_ITEMS), **_ints(r, boxes=(2, 9), per=(2, 12))}
    total = p["boxes"] * p["per"]
    p["kids"] = r.choice([k for k in range(2, 13) if total % k == 0])
    return p


def _sample_axb(r: random.Random) -> dict:
    a, x, b = r.randint(2, 9), r.randint(1, 20), r.randint(1, 40)
    return {"var": r.choice("xyn"), "a": a, "b": b, "c": a * x + b}


def _sample_number(r: random.Random) -> dict:
    a, x = r.randint(2, 9), r.randint(2, 25)
    b = r.randint(1, min(30, a * x - 1))
    return {"a": a, "b": b, "c": a * x - b}


def _sample_both_sides(r: random.Random) -> dict:
    a = r.randint(3, 9)
    d, x, b = r.randint(2, a - 1), r.randint(1, 15), r.randint(1, 30)
    return {"var": r.choice("xyn"), "a": a, "b": b, "d": d, "c": (a - d) * x + b}


def _sample_consecutive(r: random.Random) -> dict:
    k, x = r.randint(2, 5), r.randint(1, 99)
    return {"k": k, "s": k * x + k * (k - 1) // 2}


def _sample_handshakes(r: random.Random) -> dict:
    people, person = r.choice(_PEOPLE)
    return {"event": r.choice(_EVENTS), "n": r.randint(3, 32), "people": people, "person": person}


def _sample_ordered_pair(r: random.Random) -> dict:
    first, second = r.choice(_ROLES)
    return {"first": first, "second": second, "n": r.randint(3, 31), "members": r.choice(_MEMBERS)}


def _sample_rectangle(r: random.Random, longest: int) -> dict:
    sides = _ints(r, length=(2, longest), width=(2, longest))
    return {"place": r.choice(_PLACES), "unit": r.choice(_UNITS), **sides}


def _sample_triangle(r: random.Random) -> dict:
    base = r.randint(2, 30)
    height = r.choice([h for h in range(2, 31) if base * h % 2 == 0])
    return {"unit": r.choice(_UNITS), "base": base, "height": height}


def _remainder(w: Work, n: int, d: int) -> int:
    """Long division: ``n // d``, back to a multiple of ``d``, and what is left."""
    return w(n, "-", w(w(n, "//", d), "*", d))


def _choose_two(w: Work, n: int) -> int:
    return w(w(n, "*", w(n, "-", 1)), "/", 2)


def _square_area(p: dict, w: Work) -> int:
    side = w(p["perimeter"], "/", 4)
    return w(side, "*", side)


def _solve_by_search(holds: Callable[[int], bool], limit: int) -> int | None:
    """The first whole number in ``0..limit`` satisfying ``holds`` (None: none does):
    checks an equation by substitution rather than by solving it as the steps do."""
    return next((x for x in range(limit + 1) if holds(x)), None)


_TEMPLATE_LIST = (
    Template(
        "arithmetic/word",
        "{name} has {start} {item}. {name} buys {bags} bags of {per} {item} each and then gives away "
        "{gave} {item}. How many {item} does {name} have now?",
        _sample_word,
        lambda p, w: w(w(p["start"], "+", w(p["bags"], "*", p["per"])), "-", p["gave"]),
        lambda p: p["start"] + p["bags"] * p["per"] - p["gave"],
    ),
    Template(
        "arithmetic/expression",
        "Compute {a} + {b} * {c} - {d}.",
        _sample_expression,
        lambda p, w: w(w(p["a"], "+", w(p["b"], "*", p["c"])), "-", p["d"]),
        lambda p: p["a"] + p["b"] * p["c"] - p["d"],
    ),
    Template(
        "arithmetic/shop",
        "At a shop, {item1} cost {p1} dollars each and {item2} cost {p2} dollars each. {name} buys "
        "{n1} {item1} and {n2} {item2}. How many dollars does {name} spend?",
        _sample_shop,
        lambda p, w: w(w(p["n1"], "*", p["p1"]), "+", w(p["n2"], "*", p["p2"])),
        lambda p: p["n1"] * p["p1"] + p["n2"] * p["p2"],
    ),
    Template(
        "arithmetic/sharing",
        "There are {boxes} boxes with {per} {item} in each box. The {item} are shared equally among "
        "{kids} children. How many {item} does each child get?",
        _sample_sharing,
        lambda p, w: w(w(p["boxes"], "*", p["per"]), "/", p["kids"]),
        lambda p: p["boxes"] * p["per"] // p["kids"],
    ),
    Template(
        "linear/ax-plus-b",
        "Solve for {var}: {a}{var} + {b} = {c}.",
        _sample_axb,
        lambda p, w: w(w(p["c"], "-", p["b"]), "/", p["a"]),
        lambda p: _solve_by_search(lambda x: p["a"] * x + p["b"] == p["c"], p["c"]),
    ),
    Template(
        "linear/times-a-number",
        "{a} times a number minus {b} is {c}. What is the number?",
        _sample_number,
        lambda p, w: w(w(p["c"], "+", p["b"]), "/", p["a"]),
        lambda p: _solve_by_search(lambda x: p["a"] * x - p["b"] == p["c"], p["c"] + p["b"]),
    ),
    Template(
        "linear/both-sides",
        "Solve for {var}: {a}{var} + {b} = {d}{var} + {c}.",
        _sample_both_sides,
        lambda p, w: w(w(p["c"], "-", p["b"]), "/", w(p["a"], "-", p["d"])),
        lambda p: _solve_by_search(lambda x: p["a"] * x + p["b"] == p["d"] * x + p["c"], p["c"]),
    ),
    Template(
        "linear/consecutive",
        "The sum of {k} consecutive whole numbers is {s}. What is the smallest of them?",
        _sample_consecutive,
        lambda p, w: w(w(p["s"], "-", w(w(p["k"], "*", w(p["k"], "-", 1)), "/", 2)), "/", p["k"]),
        lambda p: _solve_by_search(lambda x: sum(range(x, x + p["k"])) == p["s"], p["s"]),
    ),
    Template(
        "remainder/divided-by",
        "What is the remainder when {n} is divided by {d}?",
        lambda r: _ints(r, n=(20, 199), d=(3, 12)),
        lambda p, w: _remainder(w, p["n"], p["d"]),
        lambda p: p["n"] % p["d"],
    ),
    Template(
        "remainder/left-over",
        "{n} {group} are split into groups of {k}. How many {group} are left over?",
        lambda r: {"group": r.choice(_GROUPED), **_ints(r, n=(20, 99), k=(3, 12))},
        lambda p, w: _remainder(w, p["n"], p["k"]),
        lambda p: p["n"] % p["k"],
    ),
    Template(
        "remainder/of-a-sum",
        "What is the remainder when {a} + {b} is divided by {d}?",
        lambda r: _ints(r, a=(10, 99), b=(10, 99), d=(3, 12)),
        lambda p, w: _remainder(w, w(p["a"], "+", p["b"]), p["d"]),
        lambda p: (p["a"] + p["b"]) % p["d"],
    ),
    Template(
        "remainder/of-a-product",
        "What is the remainder when the product of {a} and {b} is divided by {d}?",
        lambda r: _ints(r, a=(3, 30), b=(3, 30), d=(3, 12)),
        lambda p, w: _remainder(w, w(p["a"], "*", p["b"]), p["d"]),
        lambda p: (p["a"] * p["b"]) % p["d"],
    ),
    Template(
        "counting/product-rule",
        "{name} has {x} shirts, {y} pairs of trousers and {z} hats. How many different outfits of one "
        "shirt, one pair of trousers and one hat can {name} make?",
        lambda r: {"name": r.choice(_NAMES), **_ints(r, x=(2, 9), y=(2, 9), z=(2, 9))},
        lambda p, w: w(w(p["x"], "*", p["y"]), "*", p["z"]),
        lambda p: len(list(itertools.product(range(p["x"]), range(p["y"]), range(p["z"])))),
    ),
    Template(
        "counting/choose-2",
        "In how many ways can {name} choose 2 of {n} {things} if the order does not matter?",
        lambda r: {"name": r.choice(_NAMES), "things": r.choice(_THINGS), "n": r.randint(3, 32)},
        lambda p, w: _choose_two(w, p["n"]),
        lambda p: len(list(itertools.combinations(range(p["n"]), 2))),
    ),
    Template(
        "counting/handshakes",
        "At a {event}, each of {n} {people} shakes hands once with every other {person}. "
        "How many handshakes are there?",
        _sample_handshakes,
        lambda p, w: _choose_two(w, p["n"]),
        lambda p: sum(1 for i in range(p["n"]) for j in range(p["n"]) if i < j),
    ),
    Template(
        "counting/ordered-pair",
        "In how many ways can a {first} and a {second} be chosen from {n} {members}?",
        _sample_ordered_pair,
        lambda p, w: w(p["n"], "*", w(p["n"], "-", 1)),
        lambda p: len(list(itertools.permutations(range(p["n"]), 2))),
    ),
    Template(
        "geometry/rectangle-area",
        "A rectangular {place} is {length} {unit} long and {width} {unit} wide. "
        "What is its area in square {unit}?",
        lambda r: _sample_rectangle(r, longest=30),
        lambda p, w: w(p["length"], "*", p["width"]),
        lambda p: p["length"] * p["width"],
    ),
    Template(
        "geometry/rectangle-perimeter",
        "A rectangular {place} is {length} {unit} long and {width} {unit} wide. "
        "What is its perimeter in {unit}?",
        lambda r: _sample_rectangle(r, longest=40),
        lambda p, w: w(2, "*", w(p["length"], "+", p["width"])),
        lambda p: sum((p["length"], p["width"], p["length"], p["width"])),
    ),
    Template(
        "geometry/square-from-perimeter",
        "A square {place} has a perimeter of {perimeter} {unit}. What is its area in square {unit}?",
        lambda r: {"place": r.choice(_PLACES), "unit": r.choice(_UNITS), "perimeter": 4 * r.randint(2, 30)},
        _square_area,
        lambda p: (p["perimeter"] // 4) ** 2,
    ),
    Template(
        "geometry/right-triangle",
        "A right triangle has legs of {base} {unit} and {height} {unit}. What is its area in square {unit}?",
        _sample_triangle,
        lambda p, w: w(w(p["base"], "*", p["height"]), "/", 2),
        lambda p: p["base"] * p["height"] // 2,
    ),
)
TEMPLATES: dict[str, Template] = {t.id: t for t in _TEMPLATE_LIST}
