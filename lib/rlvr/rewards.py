"""Reward functions, usable directly as TRL ``GRPOTrainer(reward_funcs=...)``.

TRL calls each one as ``f(prompts=..., completions=..., completion_ids=...,
**columns)`` where ``columns`` holds every dataset column (one value per
completion) plus trainer hooks. Completions are plain strings, or chat
messages (``[{"role": "assistant", "content": ...}]``) for conversational
datasets; both are accepted. The gold answer comes from the ``answer`` column.

A registry maps names to functions, as open-r1 does, so a config can say
``reward: format`` and ablations stay one setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .grading import extract_answer, grade_many

RewardFunc = Callable[..., list[float]]


def completion_text(completion) -> str:
    """The generated text of one completion, plain or conversational."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    # A list of messages: the assistant's turn(s) are the completion.
    parts = [
        str(m.get("content") or "")
        for m in completion
        if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
    ]
    return "".join(parts)


def _answers(answer, n: int, name: str) -> Sequence:
    if answer is None:
        raise ValueError(
            f"{name} needs the gold answers in a dataset column named 'answer' "
            "(rename your label column to 'answer', e.g. dataset.rename_column('solution', 'answer'))"
        )
    if len(answer) != n:
        raise ValueError(f"{name}: {n} completions but {len(answer)} answers")
    return answer


def outcome_reward(prompts=None, completions=(), answer=None, **kwargs) -> list[float]:
    """1.0 iff the last ``\\boxed{}`` answer equals the gold answer (the paper's reward).

    >>> outcome_reward(prompts=["q"], completions=[r"so \\boxed{12.80}"], answer=["12.8"])
    [1.0]
    """
    texts = [completion_text(c) for c in completions]
    golds = _answers(answer, len(texts), "outcome_reward")
    return [1.0 if ok else 0.0 for ok in grade_many(texts, golds, "train")]


def format_reward(prompts=None, completions=(), **kwargs) -> list[float]:
    """1.0 iff a final answer can be extracted, right or wrong (paper Tab. 14's baseline).

    >>> format_reward(completions=[r"\\boxed{7}", "7", r"\\boxed{}"])
    [1.0, 0.0, 0.0]
    """
    return [
        0.0 if extract_answer(completion_text(c), "train") is None else 1.0 for c in completions
    ]


REWARDS: dict[str, RewardFunc] = {
    "outcome": outcome_reward,
    "format": format_reward,
}


def get_reward(name: str) -> RewardFunc:
    """Look a reward function up by its registry name (``outcome``, ``format``)."""
    try:
        return REWARDS[name]
    except KeyError:
        raise ValueError(f"unknown reward {name!r}; choose one of {sorted(REWARDS)}") from None
