"""The two grading protocols of the paper.

``train``: the reference code's training reward (``deepscaler.compute_score``):
the last ``\\boxed{}`` is the answer, and without one the response is wrong;
equality is exact (integers must match exactly, two written fractions must be
written alike), otherwise symbolic.

``eval``: the Qwen2.5-Math evaluation (``math_eval.py``): lenient extraction
("the answer is ...", then the last number) and numeric tolerance (relative
1e-4, gold also read as a percentage), otherwise symbolic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .extract import extract_answer_eval, extract_answer_train


@dataclass(frozen=True)
class Protocol:
    name: str
    extract: Callable[[str | None], str | None]
    summary: str


PROTOCOLS: dict[str, Protocol] = {
    "train": Protocol(
        "train",
        extract_answer_train,
        "reference training reward: last \\boxed{} required; exact numbers",
    ),
    "eval": Protocol(
        "eval",
        extract_answer_eval,
        "Qwen2.5-Math evaluation: box, 'the answer is', last number; relative 1e-4",
    ),
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown grading protocol {name!r}; choose one of {sorted(PROTOCOLS)}"
        ) from None
