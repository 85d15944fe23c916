"""The reward functions inside TRL's real GRPOTrainer, on a tiny model built here."""

import pytest
import torch
from datasets import Dataset
from rlvr.grading import grade
from rlvr.rewards import format_reward, outcome_reward
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
from trl import GRPOConfig, GRPOTrainer

TEXTS = [r"What is 3 + 4? The answer is \boxed{7}.", r"Compute 2 * 6. So \boxed{12}.", "Question: Answer:"]


def tiny_model_and_tokenizer():
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        TEXTS * 20, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<pad>", "<eos>"])
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(config), tokenizer


def test_grpo_trainer_calls_our_rewards_with_the_answer_column(tmp_path):
    model, tokenizer = tiny_model_and_tokenizer()
    seen = []

    def recording_outcome(prompts, completions, answer, **kwargs):
        rewards = outcome_reward(prompts=prompts, completions=completions, answer=answer, **kwargs)
        seen.append((completions, answer, rewards))
        return rewards

    recording_outcome.__name__ = "outcome_reward"
    dataset = Dataset.from_dict({"prompt": ["What is 3 + 4?", "Compute 2 * 6."], "answer": ["7", "12"]})
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=6,
        max_steps=1,
        learning_rate=1e-4,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        temperature=1.0,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[recording_outcome, format_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

    completions, answers, rewards = seen[0]
    assert len(completions) == len(answers) == len(rewards) == 4
    assert set(answers) <= {"7", "12"}
    # Whatever the random model wrote, the reward is exactly the grader's verdict.
    assert rewards == [float(grade(c, a)) for c, a in zip(completions, answers)]
    logged = trainer.state.log_history[0]
    assert "rewards/outcome_reward/mean" in logged and "rewards/format_reward/mean" in logged


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models run fastest on one thread on a 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
