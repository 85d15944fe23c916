"""Reward functions, called exactly the way TRL's GRPOTrainer calls them."""

from types import SimpleNamespace

import pytest
from rlvr import registry
from rlvr.rewards import (
    REWARDS,
    format_reward,
    get_reward,
    get_reward_funcs,
    majority_reward,
    outcome_reward,
    random_reward,
)

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
    assert set(REWARDS) == {"outcome", "format", "random", "majority"}
    with pytest.raises(ValueError, match="choose one of"):
        get_reward("length")
    # TRL names logged metrics after the function.
    assert outcome_reward.__name__ == "outcome_reward"


def at_step(step):
    return SimpleNamespace(global_step=step)


def test_random_reward_ignores_the_text_and_is_seeded():
    texts = ["anything"] * 4000
    assert random_reward(completions=texts, reward_p=0.0) == [0.0] * 4000
    assert random_reward(completions=texts, reward_p=1.0) == [1.0] * 4000
    draws = random_reward(completions=texts, reward_p=0.3, seed=1, trainer_state=at_step(7))
    assert abs(sum(draws) / len(draws) - 0.3) < 0.03
    # The same seed and step draw the same rewards (a resumed run too); another step or seed others.
    assert draws == random_reward(completions=["other text"] * 4000, reward_p=0.3, seed=1, trainer_state=at_step(7))
    assert draws != random_reward(completions=texts, reward_p=0.3, seed=1, trainer_state=at_step(8))
    assert draws != random_reward(completions=texts, reward_p=0.3, seed=2, trainer_state=at_step(7))


def test_majority_reward_pays_the_groups_most_common_answer_and_never_reads_the_gold():
    group_a = [r"\boxed{5}", r"\boxed{4}", r"so \boxed{4}", "no box"]  # majority 4, though 5 came first
    group_b = [r"\boxed{7}", r"\boxed{8}", r"\boxed{8}", r"\boxed{7}"]  # a tie: the answer seen first, 7
    expected = [0.0, 1.0, 1.0, 0.0] + [1.0, 0.0, 0.0, 1.0]
    assert majority_reward(completions=group_a + group_b, group_size=4) == expected
    # Through TRL's call, with the gold answers right, wrong or absent: the same rewards.
    for answers in (["4"] * 4 + ["8"] * 4, ["999"] * 8, None):
        assert majority_reward(prompts=["p"] * 8, completions=group_a + group_b, answer=answers,
                               group_size=4) == expected
    # Without a group size (TRL used directly), consecutive identical prompts form a group.
    assert majority_reward(prompts=["q1"] * 4 + ["q2"] * 4, completions=group_a + group_b) == expected
    # The pseudo-label is graded like a gold answer: 4.0 earns it when the majority says 4.
    assert majority_reward(completions=[r"\boxed{4}", r"\boxed{4}", r"\boxed{4.0}", r"\boxed{5}"],
                           group_size=4) == [1.0, 1.0, 1.0, 0.0]
    # A group where nobody boxes an answer earns nothing.
    assert majority_reward(completions=["no", "box"], group_size=2) == [0.0, 0.0]


def test_a_runs_reward_functions_have_its_parameters_bound_and_keep_their_names():
    assert list(REWARDS) == list(registry.REWARDS)  # the implementations are the registry's, in its order
    (outcome,) = get_reward_funcs("outcome", reward_p=0.3, seed=1, group_size=4)
    assert outcome is outcome_reward  # it takes none of them
    spurious, majority = get_reward_funcs(["random", "majority"], reward_p=0.3, seed=1, group_size=4, process_index=2)
    assert (spurious.__name__, majority.__name__) == ("random_reward", "majority_reward")  # TRL's metric names
    texts = ["anything"] * 400
    assert trl_call(spurious, texts, None) == random_reward(completions=texts, reward_p=0.3, seed=1, process_index=2)
    group = [r"\boxed{4}", r"\boxed{4}", r"\boxed{5}", "no box"]
    assert trl_call(majority, group, None) == majority_reward(completions=group, group_size=4)

