"""Answer grading for RLVR: extraction, the paper's two protocols, safe equivalence.

>>> from rlvr.grading import grade, extract_boxed
>>> extract_boxed(r"The answer is $\\boxed{\\frac{1}{2}}$.")
'\\\\frac{1}{2}'
>>> grade(r"\\boxed{22\\frac{1}{2}}", "22.5")
True
"""

from .extract import extract_answer_eval, extract_answer_train, extract_boxed
from .grade import clear_cache, gold_answer, grade, grade_many, quick_verdict
from .normalize import normalize_answer
from .protocols import PROTOCOLS, get_protocol
from .sandbox import DEFAULT_TIMEOUT_S, Sandbox, configure, shutdown


def extract_answer(response: str | None, protocol: str = "train") -> str | None:
    """The final answer a protocol reads from ``response`` (None: no answer)."""
    return get_protocol(protocol).extract(response)


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "PROTOCOLS",
    "Sandbox",
    "clear_cache",
    "configure",
    "extract_answer",
    "extract_answer_eval",
    "extract_answer_train",
    "extract_boxed",
    "get_protocol",
    "gold_answer",
    "grade",
    "grade_many",
    "normalize_answer",
    "quick_verdict",
    "shutdown",
]
