"""Reward functions, usable directly as TRL ``GRPOTrainer(reward_funcs=...)``.

TRL calls each one as ``f(prompts=..., completions=..., completion_ids=...,
**columns)`` where ``columns`` holds every dataset column (one value per
completion) plus trainer hooks. Completions are plain strings, or chat
messages (``[{"role": "assistant", "content": ...}]``) for conversational
datasets; both are accepted. The gold answer comes from the ``answer`` column.

A registry maps names to functions, as open-r1 does, so a config can say
``reward: format`` and ablations stay one setting; the names are
``rlvr.registry.REWARDS``, which ``REWARDS`` here must match (checked on import).

Beside the paper's two, the follow-up literature's controls: ``random`` (Shao et
al. 2025, "Spurious Rewards": 1 with probability ``reward_p``, whatever the text)
and ``majority`` (TTRL, Zuo et al. 2025: the group's most common answer is the
label; the gold answer is never read). A run binds their ``reward_p``,
``seed``, ``group_size`` and process index when it looks them up
(``get_reward_funcs``); used directly in TRL they fall back to p = 0.5, seed 0,
process 0 and groups of consecutive identical prompts. They stay pure functions
of their arguments: the run's record of every rollout is the trainer's
(``rlvr.trainer``).
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from . import registry
from .env import process_rank
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


def random_reward(prompts=None, completions=(), reward_p: float = 0.5, seed: int = 0, trainer_state=None,
                  process_index: int = 0, **kwargs) -> list[float]:
    """1.0 with probability ``reward_p`` per rollout, independent of the text ("Spurious Rewards").

    Drawn from (seed, step, process), so a run and its resume draw the same rewards.

    >>> random_reward(completions=["a", "b", "c"], reward_p=0.0)
    [0.0, 0.0, 0.0]
    """
    step = trainer_state.global_step if trainer_state is not None else 0
    rng = np.random.default_rng([seed, step, process_index])
    return [float(u < reward_p) for u in rng.random(len(completions))]


def groups(prompts, n: int, group_size: int | None = None) -> list[range]:
    """The rollout groups of a reward call: ``group_size`` consecutive rollouts (TRL places a
    prompt's rollouts together), else runs of consecutive identical prompts."""
    if group_size:
        if n % group_size:
            raise ValueError(f"{n} completions do not split into groups of {group_size}")
        return [range(i, i + group_size) for i in range(0, n, group_size)]
    keys = [repr(p) for p in (prompts if prompts is not None else [None] * n)]  # chat prompts are lists
    bounds = [0] + [i for i in range(1, n) if keys[i] != keys[i - 1]] + [n]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


def majority_label(answers: Sequence[str | None]) -> str | None:
    """The most common extracted answer (None: none extracted); a tie goes to the answer seen first.

    >>> majority_label(["4", None, "5", "5", "4"])
    '4'
    """
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    top = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == top)


def majority_reward(prompts=None, completions=(), group_size: int | None = None, **kwargs) -> list[float]:
    """TTRL's label-free reward: within each group, the most common extracted answer is the
    pseudo-label, and a rollout earns 1.0 if its answer equals it by the train protocol.
    The ``answer`` column is never read.

    >>> majority_reward(completions=[r"\\boxed{4}", r"\\boxed{4}", r"\\boxed{5}", "no box"], group_size=4)
    [1.0, 1.0, 0.0, 0.0]
    """
    texts = [completion_text(c) for c in completions]
    rewards = [0.0] * len(texts)
    for group in groups(prompts, len(texts), group_size):
        label = majority_label([extract_answer(texts[i], "train") for i in group])
        if label is None:
            continue
        for i, ok in zip(group, grade_many([texts[i] for i in group], [label] * len(group), "train")):
            rewards[i] = 1.0 if ok else 0.0
    return rewards


REWARDS: dict[str, RewardFunc] = registry.implementations(registry.REWARDS, {
    "outcome": outcome_reward,
    "format": format_reward,
    "random": random_reward,
    "majority": majority_reward,
}, "reward functions")


def get_reward(name: str) -> RewardFunc:
    """Look a reward function up by its registry name (``outcome``, ``format``, ``random``, ``majority``)."""
    try:
        return REWARDS[name]
    except KeyError:
        raise ValueError(f"unknown reward {name!r}; choose one of {sorted(REWARDS)}") from None


def get_reward_funcs(names: str | Sequence[str], *, reward_p: float = 0.5, seed: int = 0,
                     group_size: int | None = None, process_index: int | None = None) -> list[RewardFunc]:
    """TRL's ``reward_funcs`` for the rewards ``names`` (one name or several), each with the run's
    parameters it takes bound (as open-r1's ``get_reward_funcs`` does): ``reward_p``, ``seed``,
    ``group_size``, and ``process_index`` (None: this process's, ``rlvr.env.process_rank``). Each
    keeps its function's ``__name__``, after which TRL names its logged metrics."""
    given = {"reward_p": reward_p, "seed": seed, "group_size": group_size,
             "process_index": process_rank() if process_index is None else process_index}
    funcs = []
    for name in [names] if isinstance(names, str) else names:
        func = get_reward(name)
        bound = {key: value for key, value in given.items() if key in inspect.signature(func).parameters}
        funcs.append(functools.update_wrapper(functools.partial(func, **bound), func) if bound else func)
    return funcs
