"""The base model sampled on one example, for the experiments that need to know what it does there.

``reachable_wrong_label``: the wrong answer it boxes most often, which Tab. 5 row 12 trains on as a
label its rollouts can reach (as the paper's 12.7 for pi_1's 12.8). ``pass_rate``: how often it earns
the reward on the example at all (the paper: its base says pi_1's 12.8 in 6.3% of 128 samples), which
says whether 1-shot RLVR on it has anything to start from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from .backends import get_backend
from .config import TrainConfig
from .data import choose_examples
from .grading import extract_answer, grade_many
from .models import eval_dtype_for, resolve


def reachable_wrong_label(cfg: TrainConfig, exclude: tuple[str, ...] = (), tries: int = 64) -> str:
    """The wrong answer the base model boxes most often on ``cfg``'s example (``tries`` samples at
    the training temperature): a wrong label its rollouts can reach. ``exclude``: answers not
    to pick (the close label)."""
    row = choose_examples(cfg)[0]
    backend = get_backend("auto", resolve(cfg.model), dtype=eval_dtype_for(cfg.model), seed=cfg.seed)
    prompt = backend.prompt(row["problem"], "train")
    texts = [g.text for g in backend.generate([prompt] * tries, temperature=cfg.temperature, top_p=1.0,
                                              max_new_tokens=cfg.max_completion_length, seed=cfg.seed)]
    right = grade_many(texts, [row["answer"]] * tries, "train")
    answers = Counter(a for text, ok in zip(texts, right) if not ok and (a := extract_answer(text)) is not None
                      and a not in exclude)
    if not answers:
        raise RuntimeError(f"{row['id']}: none of {tries} samples boxed a wrong answer; pass the label yourself")
    return answers.most_common(1)[0][0]


def pass_rate(cfg: TrainConfig, tries: int = 1024, batch: int = 128) -> tuple[int, int]:
    """How many of ``tries`` samples of ``cfg``'s base model on ``cfg``'s example earn the training reward
    (right answer, boxed), at the training temperature and length: (right, tries). Batches of ``batch``,
    each from a seed of its own, so a larger ``tries`` only adds samples."""
    row = choose_examples(cfg)[0]
    backend = get_backend("auto", resolve(cfg.model), dtype=eval_dtype_for(cfg.model), seed=cfg.seed)
    texts = sampled(backend, backend.prompt(row["problem"], "train"), tries, batch, temperature=cfg.temperature,
                    max_new_tokens=cfg.max_completion_length, seed=cfg.seed)
    return sum(sum(grade_many(some, [row["answer"]] * len(some), "train")) for some in texts), tries


def sampled(backend, prompt: str, tries: int, batch: int, *, temperature: float, max_new_tokens: int,
            seed: int) -> Iterator[list[str]]:
    """``tries`` answers to ``prompt``, ``batch`` at a time: the first batch drawn from ``seed`` itself,
    each later one from a seed of its own, so asking for more only adds answers."""
    for done in range(0, tries, batch):
        yield [g.text for g in backend.generate([prompt] * min(batch, tries - done), temperature=temperature,
                                                top_p=1.0, max_new_tokens=max_new_tokens,
                                                seed=seed + 1_000_003 * (done // batch))]
