"""Reward functions, called exactly the way TRL's GRPOTrainer calls them."""

import pytest
from rlvr.rewards import REWARDS, format_reward, get_reward, outcome_reward

PROMPT = "Compute $\\sqrt[3]{2048}$. Let's think step by step and output the final answer within \\boxed{}."
COMPLETIONS = [
    r"$\sqrt[3]{2048} = 12.8$, so the answer is $\boxed{12.8}$.",
    r"Rounding gives $\boxed{12.7}$.",
    "The answer is 12.8.",  # right, but no box: the paper's reward gives 0
    r"The answer is \boxed{}.",
    r"\boxed{\frac{64}{5}}",
]


def trl_call(reward_func, completions, answers, conversational=False):
    """What GRPOTrainer._calculate_rewards passes: every dataset column but the
    prompt as a keyword, plus its own hooks."""
    if conversational:
        prompts = [[{"role": "user", "content": PROMPT}]] * len(completions)
        completions = [[{"role": "assistant", "content": c}] for c in completions]
    else:
        prompts = [PROMPT] * len(completions)
    return reward_func(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(completions),
        answer=answers,
        id=["pi_1"] * len(completions),
        trainer_state=None,
        log_extra=lambda column, values: None,
        log_metric=lambda name, value: None,
    )


@pytest.mark.parametrize("conversational", [False, True])
def test_outcome_reward_is_the_papers_binary_reward(conversational):
    rewards = trl_call(outcome_reward, COMPLETIONS, ["12.8"] * len(COMPLETIONS), conversational)
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert all(isinstance(r, float) for r in rewards)


@pytest.mark.parametrize("conversational", [False, True])
def test_format_reward_pays_for_any_extractable_answer(conversational):
    rewards = trl_call(format_reward, COMPLETIONS, ["12.8"] * len(COMPLETIONS), conversational)
    assert rewards == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_each_completion_is_graded_against_its_own_row():
    assert trl_call(outcome_reward, [r"\boxed{1}", r"\boxed{1}"], ["1", "2"]) == [1.0, 0.0]


def test_a_missing_answer_column_says_what_to_do():
    with pytest.raises(ValueError, match="column named 'answer'"):
        outcome_reward(prompts=[PROMPT], completions=[r"\boxed{1}"], solution=["1"])


def test_rewards_are_registered_by_name():
    assert get_reward("outcome") is outcome_reward
    assert get_reward("format") is format_reward
    assert set(REWARDS) == {"outcome", "format"}
    with pytest.raises(ValueError, match="choose one of"):
        get_reward("length")
    # TRL names logged metrics after the function.
    assert outcome_reward.__name__ == "outcome_reward"
