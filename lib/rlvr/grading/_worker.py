"""Code that runs only inside the grader's sandbox processes.

math-verify (and through it sympy) parses and compares here, never in the
caller's process: a hostile answer can make sympy run for minutes or eat
memory, and the sandbox kills such a worker at the time bound. Only the LaTeX
extraction of math-verify is used; its plain-expression extraction goes through
sympy's ``parse_expr``, which evaluates Python, so it is never enabled.
"""

from __future__ import annotations

import logging
import math
import re
import resource
import sys
from functools import lru_cache

import latex2sympy2_extended.latex2sympy2 as l2s
import math_verify.parser as mv_parser
import sympy.parsing.sympy_parser as sympy_parser
import sympy.physics.units  # noqa: F401  (imported lazily by math-verify otherwise)
from math_verify import LatexExtractionConfig, parse, verify

from .compare import as_sequence, verdict

logging.getLogger("math_verify").setLevel(logging.ERROR)
_CONFIG = [LatexExtractionConfig(boxed_match_priority=0)]


def _address_space_now() -> int:
    """Bytes of address space in use (a forked trainer may already map many GB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_NUMERIC_LITERAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _loading_a_module() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _disable_python_evaluation() -> None:
    """Make sympy's ``parse_expr`` (which runs ``eval``) refuse all but numerals.

    The LaTeX parser builds numbers with ``sympy.Number(token)``, which goes
    through ``parse_expr`` with a digits-only token; that is one use let
    through. The other is sympy's own module code defining constants while a
    lazily imported module loads (``sympy.physics.units`` does). Any other
    string reaching it (a ``sympify`` of model text anywhere in sympy) becomes
    an error, so a wrong answer, instead of evaluated Python.
    """
    original = sympy_parser.parse_expr

    def numerals_only(s, *args, **kwargs):
        if isinstance(s, str) and (_NUMERIC_LITERAL.fullmatch(s) or _loading_a_module()):
            return original(s, *args, **kwargs)
        raise RuntimeError("Python evaluation of model output is disabled in the grader")

    for module in (sympy_parser, mv_parser, l2s):
        module.parse_expr = numerals_only


def init(memory_mb: int | None) -> None:
    """Pool initializer: no Python evaluation; cap memory so a runaway sympy
    fails instead of swapping."""
    _disable_python_evaluation()
    if memory_mb:
        limit = _address_space_now() + memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    sys.setrecursionlimit(3000)


@lru_cache(maxsize=4096)
def _parse(answer: str):
    return tuple(parse("\\boxed{" + answer + "}", extraction_config=_CONFIG, parsing_timeout=None))


def _numeric_close(pred_parsed, gold_parsed) -> bool:
    """Qwen's evaluation: numeric values within relative 1e-4 (gold also read as a percentage)."""
    for g in gold_parsed:
        for p in pred_parsed:
            try:
                if not (getattr(g, "is_number", False) and getattr(p, "is_number", False)):
                    continue
                gv, pv = complex(g.evalf(30)), complex(p.evalf(30))
            except Exception:
                continue
            if gv.imag or pv.imag:
                continue
            for ref in (gv.real, gv.real / 100, gv.real * 100):
                if math.isclose(pv.real, ref, rel_tol=1e-4):
                    return True
    return False


def math_verify_equal(pred: str, gold: str, protocol: str) -> bool | None:
    """math-verify's verdict; None when either side does not parse."""
    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    if not gold_parsed or not pred_parsed:
        return None
    if verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None):
        return True
    return protocol == "eval" and _numeric_close(pred_parsed, gold_parsed)


def symbolic_grade(pred_raw: str, gold_raw: str, pred: str, gold: str, protocol: str) -> bool:
    """Final say on a pair the caller could not decide.

    math-verify on the raw answers first. The normalised forms get a second
    look only where they can change the outcome (a symbolic comparison can
    take seconds, so none is repeated for nothing): element by element for
    tuples, intervals and sets, whole when a raw side did not parse.
    """
    try:
        raw = math_verify_equal(pred_raw, gold_raw, protocol)
        if raw:
            return True
        if as_sequence(pred) is not None or as_sequence(gold) is not None:
            return bool(verdict(pred, gold, protocol, lambda p, g: bool(math_verify_equal(p, g, protocol))))
        if raw is None and (pred, gold) != (pred_raw, gold_raw):
            return bool(math_verify_equal(pred, gold, protocol))
        return False
    except (Exception, RecursionError, MemoryError):
        return False
