"""Prompts of the paper.

* Training: the problem followed by ``TRAIN_SUFFIX``, sent through the model's
  own chat template as one user turn (reference code, paper section 2.3).
* Evaluation: the Qwen2.5-Math evaluation's ``qwen25-math-cot`` template, a
  hard-coded string rather than the tokenizer's chat template (section 5). For
  instruct and distilled models (Llama-3.2-3B-Instruct,
  DeepSeek-R1-Distill-Qwen-1.5B) and the toy model, the model's own chat
  template: ``"train"`` (the question plus the training suffix, which asks for
  the box as qwen25-math-cot's system prompt does) or ``"chat"`` (the question
  alone).
* Few-shot (the in-context baseline): all demos in one user turn,
  ``"\\n\\n".join(q + "\\n" + a)`` then a blank line and the question, as that
  evaluation does.
"""

from __future__ import annotations

from collections.abc import Sequence

TRAIN_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."

# Exactly as Qwen2.5-Eval/evaluation/utils.py renders "qwen25-math-cot".
QWEN25_MATH_COT = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n"
    "<|im_start|>user\n{input}<|im_end|>\n"
    "<|im_start|>assistant\n"
)
QWEN_STOP_STRINGS = ("</s>", "<|im_end|>", "<|endoftext|>")
QWEN_STOP_TOKEN_IDS = (151645, 151643)  # added for Qwen2 models (backends.qwen_stop_token_ids)

# The registry of evaluation prompt templates.
TEMPLATES = {
    "qwen25-math-cot": "the Qwen2.5-Math evaluation's hard-coded prompt (Qwen base models)",
    "train": "the model's chat template with the training prompt (instruct, distilled and toy models)",
    "chat": "the model's chat template with the question alone",
}


def training_messages(problem: str) -> list[dict]:
    """The chat messages of the training prompt for ``problem``."""
    return [{"role": "user", "content": problem + TRAIN_SUFFIX}]


def training_prompt(problem: str, tokenizer) -> str:
    """The training prompt as text, through the model's chat template."""
    return tokenizer.apply_chat_template(training_messages(problem), tokenize=False, add_generation_prompt=True)


def few_shot_input(question: str, demos: Sequence[tuple[str, str]] = ()) -> str:
    """The user turn with demos ``(question, answer)`` before ``question``."""
    if not demos:
        return question
    return "\n\n".join(q + "\n" + a for q, a in demos) + "\n\n" + question


def eval_prompt(
    question: str,
    template: str = "qwen25-math-cot",
    tokenizer=None,
    demos: Sequence[tuple[str, str]] = (),
) -> str:
    """The evaluation prompt for ``question`` under ``template``.

    >>> eval_prompt("What is 1+1?").endswith("<|im_start|>assistant\\n")
    True
    """
    user = few_shot_input(question, demos)
    if template == "qwen25-math-cot":
        return QWEN25_MATH_COT.format(input=user).strip(" ")
    if template in ("chat", "train"):
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"the {template!r} template needs a tokenizer with a chat template")
        content = user + TRAIN_SUFFIX if template == "train" else user
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
    raise ValueError(f"unknown prompt template {template!r}; choose one of {', '.join(TEMPLATES)}")
