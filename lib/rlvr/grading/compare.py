"""Deciding whether two normalised answers are equal, as far as can be done safely.

``verdict`` answers True, False, or None (undecided). Without a ``symbolic``
comparator it only uses string equality, exact numbers and the structure of
tuples, intervals and sets, so it is safe to run in the caller's process on
untrusted text. The sandboxed worker calls the same function with math-verify
as the ``symbolic`` comparator for what is left undecided.

The reference graders named in comments: for ``eval``, Qwen2.5-Math's
``evaluation/grader.py`` (``math_equal``); for ``train``, PRM800K's
``grading/grader.py`` and ``math_normalize.py`` as the DeepScaleR reward copies
them (``rllm/rewards/math_utils/utils.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .numbers import Number, numbers_equal, parse_number

Symbolic = Callable[[str, str], bool]

_OPEN = "([{"
_CLOSE = ")]}"


@dataclass(frozen=True)
class Sequence:
    """A tuple ``(a,b)``, interval ``[a,b)``, set ``{a,b}`` or bare list ``a, b``."""

    open: str
    close: str
    items: tuple[str, ...]

    @property
    def unordered(self) -> bool:
        return self.open in ("{", "")


def _split_top_level(s: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            items.append(s[start:i])
            start = i + 1
    items.append(s[start:])
    return items


def _encloses(s: str) -> bool:
    """True when the first bracket of ``s`` closes at its last character."""
    depth = 0
    for i, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return False
    return depth == 0


def as_sequence(s: str) -> Sequence | None:
    """Read a normalised answer as a sequence of at least two items (sets: one)."""
    if len(s) >= 2 and s[0] in _OPEN and s[-1] in _CLOSE and _encloses(s):
        items = _split_top_level(s[1:-1])
        if len(items) >= 2 or s[0] == "{":
            return Sequence(s[0], s[-1], tuple(items))
        return None
    items = _split_top_level(s)
    if len(items) >= 2:
        return Sequence("", "", tuple(items))
    return None


def scalar_verdict(pred: str, gold: str, protocol: str) -> bool | None:
    """Equality of two single answers by strings and exact numbers; None if undecided."""
    if pred == gold or pred.lower() == gold.lower():
        return True
    pn, gn = parse_number(pred), parse_number(gold)
    if pn is not None and gn is not None:
        return numbers_equal(pn, gn, protocol)
    if protocol == "train" and ((gn is not None and gn.is_int) or (pn is not None and pn.is_int)):
        # The reference reward never lets an integer equal a non-integer literal
        # ("2^{10}" is not "1024" there).
        return False
    return None


# A number with commas that are not thousands separators ("1000,99", "1,22").
_COMMA_NUMBER = re.compile(r"[+-]?\d+(?:,\d+)+(?:\.\d+)?")


def _comma_number(s: str) -> Number | None:
    return parse_number(s.replace(",", "")) if _COMMA_NUMBER.fullmatch(s) else None


def _qwen_digits_verdict(pred: str, gold: str) -> bool | None:
    """Qwen2.5-Math's ``grader.py`` (``parse_digits``) deletes every comma of a
    number before comparing, so ``1000,99`` is 100099, which its percentage rule
    then matches to 1000.99 (x100); ``1,2`` is 12 there too. The evaluation does
    the same when one side is such a number; two such lists stay lists."""
    pc, gc = _comma_number(pred), _comma_number(gold)
    if (pc is None) == (gc is None):
        return None
    pn = pc if pc is not None else parse_number(pred)
    gn = gc if gc is not None else parse_number(gold)
    if pn is None or gn is None:
        return None
    return numbers_equal(pn, gn, "eval")


def _item_verdict(pred: str, gold: str, protocol: str, symbolic: Symbolic | None) -> bool | None:
    v = scalar_verdict(pred, gold, protocol)
    if v is None and symbolic is not None:
        v = symbolic(pred, gold)
    return v


def _equal_braces_aside(ps: Sequence, gs: Sequence) -> bool:
    """Qwen2.5-Math's ``math_equal`` deletes every ``{}()`` before comparing the
    strings, so ``{1,3}``, ``(1,3)`` and ``1,3`` are one answer there (in order;
    square brackets are kept)."""
    kinds = {(ps.open, ps.close), (gs.open, gs.close)}
    return kinds <= {("(", ")"), ("{", "}"), ("", "")} and all(
        p.lower() == g.lower() for p, g in zip(ps.items, gs.items)
    )


def _sequence_verdict(
    ps: Sequence, gs: Sequence, protocol: str, symbolic: Symbolic | None
) -> bool | None:
    if len(ps.items) != len(gs.items):
        return False
    if protocol == "eval" and _equal_braces_aside(ps, gs):
        return True
    if ps.unordered != gs.unordered:
        return False
    if not gs.unordered and (ps.open, ps.close) != (gs.open, gs.close):
        # An open interval is not a closed one, in both protocols. The training
        # reward agrees (grade_answer_sympy compares the first and last characters);
        # Qwen's math_equal does not: it matches two bracketed answers item by item
        # and accepts (1,2] for [1,2). The evaluation is stricter here, on purpose.
        return False
    if not gs.unordered:
        undecided = False
        for p, g in zip(ps.items, gs.items):
            v = _item_verdict(p, g, protocol, symbolic)
            if v is False:
                return False
            undecided |= v is None
        return None if undecided else True
    # Unordered: every gold item must pair with a distinct predicted one.
    free = list(ps.items)
    undecided = False
    for g in gs.items:
        found = False
        for j, p in enumerate(free):
            v = _item_verdict(p, g, protocol, symbolic)
            if v:
                del free[j]
                found = True
                break
            undecided |= v is None
        if not found:
            return None if undecided else False
    return True


def verdict(pred: str, gold: str, protocol: str, symbolic: Symbolic | None = None) -> bool | None:
    """Compare two normalised answers; None only when undecided without ``symbolic``."""
    v = scalar_verdict(pred, gold, protocol)
    if v is not None:
        return v
    if protocol == "eval":
        v = _qwen_digits_verdict(pred, gold)
        if v is not None:
            return v
    ps, gs = as_sequence(pred), as_sequence(gold)
    if ps is not None and gs is not None:
        return _sequence_verdict(ps, gs, protocol, symbolic)
    if (gs is not None and parse_number(pred) is not None) or (
        ps is not None and parse_number(gold) is not None
    ):
        return False  # a single number against a list of several
    if symbolic is not None:
        return symbolic(pred, gold)
    return None
