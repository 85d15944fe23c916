"""PPO's pieces on small tensors: GAE against a hand computation, whitening, the value loss."""

import pytest
import torch
from rlvr.ppo import gae, last_token_rewards, value_loss, whiten


def test_the_outcome_reward_sits_on_each_responses_last_token():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    rewards = last_token_rewards(torch.tensor([1.0, 0.5, 1.0]), mask)
    assert rewards.tolist() == [[0, 0, 1, 0], [0.5, 0, 0, 0], [0, 0, 0, 0]]  # an empty response: nothing


def test_gae_matches_a_hand_computation():
    # One response of 3 tokens, reward 1 at the end, gamma 0.9, lambda 0.5:
    #   delta_3 = 1 - 0.3 = 0.7; delta_2 = 0.9*0.3 - 0.2 = 0.07; delta_1 = 0.9*0.2 - 0.1 = 0.08
    #   A_3 = 0.7; A_2 = 0.07 + 0.45*0.7 = 0.385; A_1 = 0.08 + 0.45*0.385 = 0.25325
    values = torch.tensor([[0.1, 0.2, 0.3, 9.0]])  # the 4th token is padding: its value is ignored
    mask = torch.tensor([[1, 1, 1, 0]])
    rewards = last_token_rewards(torch.tensor([1.0]), mask)
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.5)
    torch.testing.assert_close(advantages, torch.tensor([[0.25325, 0.385, 0.7, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[0.35325, 0.585, 1.0, 0.0]]))


def test_with_lambda_one_the_advantages_are_the_returns_minus_the_values():
    # gamma = lambda = 1 (the paper's verl settings): A_t = (outcome) - V_t, R_t = outcome.
    torch.manual_seed(0)
    values, mask = torch.randn(4, 6), torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4, [1] * 5 + [0]])
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0])
    advantages, returns = gae(last_token_rewards(scores, mask), values, mask)
    torch.testing.assert_close(advantages, (returns - values) * mask)
    torch.testing.assert_close(returns, scores[:, None] * mask.float())


def test_whitening_gives_mean_zero_and_unit_variance_over_the_response_tokens():
    values = torch.tensor([[1.0, 2.0, 3.0, 50.0], [4.0, 5.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    white = whiten(values, mask)
    kept = white[mask.bool()]
    assert kept.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert kept.var().item() == pytest.approx(1.0, abs=1e-5)  # unbiased, as verl's
    assert white[0, 3].item() == 0.0  # padding stays out


def test_the_value_loss_falls_when_a_critic_is_trained_on_a_fixed_target():
    torch.manual_seed(0)
    features, mask = torch.randn(8, 5, 16), torch.ones(8, 5)
    returns = features @ torch.randn(16)  # a target a critic of this shape can reach
    critic = torch.nn.Linear(16, 1)
    optimizer = torch.optim.SGD(critic.parameters(), lr=0.1)
    losses = []
    for _ in range(50):
        predicted = critic(features).squeeze(-1)
        loss = value_loss(predicted, predicted.detach(), returns, mask)  # old = the current values
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_the_value_loss_takes_the_worse_of_the_clipped_and_unclipped_predictions():
    old, returns, mask = torch.tensor([[0.0]]), torch.tensor([[2.0]]), torch.tensor([[1]])
    # A prediction of 1.5 moved 1.5 from the old value; clipped to 0.5 it is further from the return.
    assert value_loss(torch.tensor([[1.5]]), old, returns, mask).item() == pytest.approx(0.5 * 1.5**2)
    # A prediction of -1 (clipped to -0.5): the unclipped one is the worse, 0.5 * 3^2.
    assert value_loss(torch.tensor([[-1.0]]), old, returns, mask).item() == pytest.approx(0.5 * 9.0)


def test_a_ppo_run_trains_a_critic_beside_the_policy_and_resumes_both(tmp_path):
    import pandas as pd
    from rlvr.config import preset
    from rlvr.train import train

    def cfg(steps):
        return preset("cpu", algorithm="ppo", examples=["toy-train-00004"], steps=steps, save_every=2,
                      output_dir=str(tmp_path / "run"))

    out = train(cfg(4), progress=False)
    assert (out / "checkpoint-2" / "critic" / "model.safetensors").exists()
    assert not (out / "checkpoint-2" / "critic" / "optimizer.pt").exists()  # only the latest keeps it
    train(cfg(6), progress=False)  # resumes from checkpoint-4: the policy's and the critic's state
    steps = pd.read_parquet(out / "steps.parquet")
    assert steps["step"].tolist() == list(range(1, 7)) and steps["critic_value_loss"].notna().all()
    critic_state = torch.load(out / "checkpoint-6" / "critic" / "optimizer.pt", weights_only=True)["state"]
    assert int(critic_state[0]["step"]) == 6  # 4 restored + 2 more: the critic's optimizer came back too
