"""``grade``: is a model response's final answer equal to the gold answer?

Cheap, safe decisions (string equality after normalisation, exact numbers,
tuples/intervals/sets of those) happen in the caller's process. Only what is
left goes to math-verify, in the sandbox's worker processes under a hard time
bound. Results are cached: an RL step grades the same few answers many times.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from . import _worker
from .compare import verdict
from .extract import extract_boxed
from .normalize import MAX_ANSWER_CHARS, normalize_answer
from .protocols import get_protocol
from .sandbox import Sandbox, get_sandbox

_CACHE_SIZE = 100_000
_cache: OrderedDict[tuple[str, str, str], bool] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _cache_get(key):
    with _cache_lock:
        v = _cache.get(key)
        if v is not None:
            _cache.move_to_end(key)
        return v


def _cache_put(key, value: bool) -> None:
    with _cache_lock:
        _cache[key] = value
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def gold_answer(gold) -> str:
    """The gold answer as a string: a boxed gold gives its box; numbers are
    written without a spurious ``.0`` (AMC's ``27.0`` is ``27``). A missing or
    empty label gives ``""``, which no response matches (as in the reference
    reward; DSR-sub's index 265 has such a label)."""
    if gold is None:
        return ""
    if isinstance(gold, float) and gold.is_integer():
        gold = int(gold)
    text = str(gold)
    if "\\boxed" in text or "\\fbox" in text:
        boxed = extract_boxed(text)
        if boxed is not None:
            text = boxed
    return text.strip()


def _decide(pred: str, gold: str, protocol: str) -> tuple[bool | None, tuple[str, str] | None]:
    """The safe verdict and the normalised forms it was reached on (kept for the
    sandbox, so an undecided pair is not normalised twice)."""
    if len(pred) > MAX_ANSWER_CHARS:
        # No real answer is this long; only an exact match can be right.
        return pred.strip() == gold.strip(), None
    forms = (normalize_answer(pred, protocol), normalize_answer(gold, protocol))
    return verdict(*forms, protocol), forms


def quick_verdict(pred: str, gold: str, protocol: str) -> bool | None:
    """Decide without symbolic maths (safe on untrusted text); None if undecided."""
    return _decide(pred, gold, protocol)[0]


def grade_many(
    responses: Sequence[str | None],
    golds: Sequence,
    protocol: str = "train",
    *,
    timeout: float | None = None,
    sandbox: Sandbox | None = None,
) -> list[bool]:
    """Grade many responses at once; symbolic checks run in parallel in the sandbox.

    ``timeout`` bounds each symbolic verification (default: the sandbox's, 3 s);
    one that overruns counts as wrong.
    """
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} gold answers")
    proto = get_protocol(protocol)
    results = [False] * len(responses)
    pending: dict[tuple[str, str, str], list[int]] = {}
    forms: dict[tuple[str, str, str], tuple[str, str]] = {}
    for i, (response, gold) in enumerate(zip(responses, golds)):
        pred = proto.extract(response)
        gold_text = gold_answer(gold)
        if pred is None or not gold_text:
            continue
        key = (pred, gold_text, proto.name)
        cached = _cache_get(key)
        if cached is not None:
            results[i] = cached
            continue
        if key in pending:
            pending[key].append(i)
            continue
        v, normalised = _decide(key[0], key[1], proto.name)
        if v is None:
            pending[key] = [i]
            forms[key] = normalised
        else:
            _cache_put(key, v)
            results[i] = v
    if pending:
        keys = list(pending)
        calls = [(p, g, *forms[(p, g, proto_name)], proto_name) for p, g, proto_name in keys]
        box = sandbox or get_sandbox()
        for key, ok in zip(keys, box.map(_worker.symbolic_grade, calls, timeout=timeout)):
            _cache_put(key, ok)
            for i in pending[key]:
                results[i] = ok
    return results


def grade(response: str | None, gold, protocol: str = "train", *, timeout: float | None = None) -> bool:
    """True iff ``response``'s final answer equals ``gold`` under ``protocol``.

    >>> grade(r"... so $x = \\boxed{12.80}$", "12.8")
    True
    >>> grade("the answer is 12.8", "12.8")            # train: a box is required
    False
    >>> grade("the answer is 12.8", "12.8", "eval")    # eval falls back
    True
    """
    return grade_many([response], [gold], protocol, timeout=timeout)[0]
