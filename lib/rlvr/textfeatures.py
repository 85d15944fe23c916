"""Features of a response's text that the paper's analyses count: self-reflection words (Fig. 4),
running on into a new question (the embedded world's failure mode), and ending in repetition.

A leaf: plain string functions that evaluation, the toy world's profile and the analyses share.
"""

from __future__ import annotations

import re

# The paper's self-reflection words (Fig. 4); any inflection counts: "recalculating" is a recalculation.
REFLECTION_WORDS = {"rethink": "rethink", "recheck": "recheck", "recalculate": "recalculat"}
# Where a response runs on into another question (the toy corpus's "Question: ...\nAnswer: ..." pairs).
RUN_ON_MARK = "Question:"


def runs_on(text: str) -> bool:
    """Whether the response runs on into a new question."""
    return RUN_ON_MARK in text


def first_answer(text: str) -> str:
    """The response up to where it runs on into another question."""
    return text.split(RUN_ON_MARK, 1)[0]


def ends_in_repetition(text: str, min_repeats: int = 3, max_period: int = 100) -> bool:
    """True when the text ends with one chunk (1-100 characters) repeated at least 3 times."""
    tail = text[-min_repeats * max_period :]
    for period in range(1, max_period + 1):
        span = period * min_repeats
        if span > len(tail):
            break
        chunk = tail[-period:]
        if chunk.strip() and tail[-span:] == chunk * min_repeats:
            return True
    return False


def reflection_counts(text: str) -> dict[str, int]:
    """Uses of each self-reflection word in the text."""
    lower = text.lower()
    return {word: len(re.findall(r"\b" + stem, lower)) for word, stem in REFLECTION_WORDS.items()}
