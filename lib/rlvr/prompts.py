"""Prompts of the paper.

The training prompt is the problem followed by ``TRAIN_SUFFIX``, sent through
the model's chat template as one user turn (reference code, paper section 2.3).
The evaluation template ``qwen25-math-cot`` and the few-shot builder arrive
with the evaluation harness.
"""

from __future__ import annotations

TRAIN_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


def training_messages(problem: str) -> list[dict]:
    """The chat messages of the training prompt for ``problem``."""
    return [{"role": "user", "content": problem + TRAIN_SUFFIX}]
