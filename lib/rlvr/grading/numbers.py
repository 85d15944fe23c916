"""Exact parsing and comparison of plain numeric answers, without evaluation.

A normalised answer that is an integer, a decimal, a fraction (``a/b``,
``\\frac{a}{b}``) or a mixed number (``22\\frac{1}{2}``) becomes an exact
``Fraction``; anything else is left to the symbolic grader. Big integers stay
exact, so ``9292725`` never equals ``9292724`` however close they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# Python refuses int() on more than 4300 digits; such "answers" are not numbers.
MAX_DIGITS = 4000

_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_SLASH = re.compile(r"([+-]?)(\d+)/(\d+)")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_MIXED = re.compile(r"([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}")


@dataclass(frozen=True)
class Number:
    value: Fraction
    is_int: bool  # the value is a whole number (5, 5.0, \frac{10}{2})
    fraction: tuple[int, int] | None = None  # literal numerator/denominator, as written

    def __float__(self) -> float:
        return float(self.value)


def parse_number(s: str) -> Number | None:
    """Parse a normalised answer as an exact number; None when it is not a plain number.

    >>> parse_number("22\\\\frac{1}{2}").value
    Fraction(45, 2)
    >>> parse_number("12.80").value == parse_number("12.8").value
    True
    >>> parse_number("\\\\sqrt{2}") is None
    True
    """
    if not s or len(s) > MAX_DIGITS:
        return None
    if _INT.fullmatch(s):
        v = Fraction(int(s))
        return Number(v, True)
    if _DEC.fullmatch(s):
        v = Fraction(s)
        return Number(v, v.denominator == 1)
    m = _SLASH.fullmatch(s) or _FRAC.fullmatch(s)
    if m:
        sign, num, den = m.group(1), int(m.group(2)), int(m.group(3))
        if den == 0:
            return None
        if sign == "-":
            num = -num
        if den < 0:
            num, den = -num, -den
        v = Fraction(num, den)
        return Number(v, v.denominator == 1, (num, den))
    m = _MIXED.fullmatch(s)
    if m:
        sign, whole, num, den = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den == 0:
            return None
        v = (whole + Fraction(num, den)) * (-1 if sign == "-" else 1)
        return Number(v, v.denominator == 1)
    return None


_REL_TOL = Fraction(1, 10_000)


def close(a: Fraction, b: Fraction, rel_tol: Fraction = _REL_TOL) -> bool:
    """``math.isclose(a, b, rel_tol=1e-4)`` in exact arithmetic (no float overflow)."""
    return abs(a - b) <= rel_tol * max(abs(a), abs(b))


def numbers_equal(pred: Number, gold: Number, protocol: str) -> bool:
    """Numeric equality by the protocol's rule.

    ``train`` (the reference reward): exact value, and two written fractions must
    be written the same (PRM800K refuses an unreduced ``2/4`` for ``1/2``).
    ``eval`` (Qwen2.5-Math): relative tolerance 1e-4, also accepting the gold
    answer read as a percentage (gold/100 or gold*100), as its grader does.
    """
    if protocol == "train":
        if pred.fraction and gold.fraction and not (pred.is_int or gold.is_int):
            return pred.fraction == gold.fraction
        return pred.value == gold.value
    return any(close(pred.value, g) for g in (gold.value, gold.value / 100, gold.value * 100))
