"""The paper's prompts, byte for byte."""

import json

import pytest
from rlvr.models import load_tokenizer
from rlvr.prompts import TRAIN_SUFFIX, eval_prompt, few_shot_input, training_prompt


def test_qwen25_math_cot_renders_exactly_as_the_evaluation_does():
    expected = (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is $1+1$?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert eval_prompt("What is $1+1$?") == expected
    assert eval_prompt("What is $1+1$?", "qwen25-math-cot") == expected


def test_the_training_suffix_is_the_reference_codes():
    assert TRAIN_SUFFIX == " Let's think step by step and output the final answer within \\boxed{}."


def test_training_and_chat_prompts_use_the_models_own_template():
    tokenizer = load_tokenizer("toy-base")
    assert training_prompt("What is 2 + 3?", tokenizer) == f"Question: What is 2 + 3?{TRAIN_SUFFIX}\nAnswer:"
    assert eval_prompt("What is 2 + 3?", "train", tokenizer) == training_prompt("What is 2 + 3?", tokenizer)
    assert eval_prompt("What is 2 + 3?", "chat", tokenizer) == "Question: What is 2 + 3?\nAnswer:"
    with pytest.raises(ValueError, match="needs a tokenizer"):
        eval_prompt("x", "chat")
    with pytest.raises(ValueError, match="unknown prompt template"):
        eval_prompt("x", "alpaca")


def test_few_shot_demos_go_in_one_user_turn(shared_data):
    demos_file = json.loads((shared_data / "incontext" / "qwen_incontext_examples.json").read_text())
    demos = [(d["question"], d["answer"]) for d in demos_file["math"][:4]]
    user = few_shot_input("What is 2 + 3?", demos)
    assert user == "\n\n".join(q + "\n" + a for q, a in demos) + "\n\nWhat is 2 + 3?"
    prompt = eval_prompt("What is 2 + 3?", demos=demos)
    assert prompt.count("<|im_start|>user\n") == 1 and prompt.endswith(
        "What is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    )
