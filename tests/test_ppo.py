"""PPO's pieces on small tensors: GAE against a hand computation, whitening, the value loss; a PPO run
in one process and in two."""

import subprocess
import sys

import pandas as pd
import pytest
import torch
import torch.distributed as dist
from rlvr.config import preset
from rlvr.ppo import (
    average_gradients,
    broadcast_parameters,
    gae,
    kl_penalised,
    last_token_rewards,
    process_sum,
    replicas_differ,
    value_loss,
    whiten,
)
from rlvr.train import train


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


def test_a_kl_penalty_in_the_rewards_reaches_every_earlier_token_through_gae():
    # verl's PPO default: r_t = outcome on the last token - beta * (log pi_old - log pi_ref) on every token.
    # With gamma = lambda = 1 and values 0, A_t = outcome - beta * (the KL of tokens t..T).
    mask = torch.tensor([[1, 1, 1, 0]])
    old, ref = torch.tensor([[-1.0, -2.0, -0.5, -9.0]]), torch.tensor([[-1.5, -1.0, -0.5, -1.0]])
    rewards = kl_penalised(last_token_rewards(torch.tensor([1.0]), mask), old, ref, mask, beta=0.1)
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.1, 1.0, 0.0]]))  # padding: no penalty
    advantages, _ = gae(rewards, torch.zeros(1, 4), mask)
    torch.testing.assert_close(advantages, torch.tensor([[1.05, 1.1, 1.0, 0.0]]))


def test_the_kl_goes_in_the_rewards_only_under_ppo():
    with pytest.raises(ValueError, match="kl_penalty: 'reward'.*use algorithm ppo"):
        preset("cpu", kl_penalty="reward")
    with pytest.raises(ValueError, match="kl_penalty"):
        preset("cpu", algorithm="ppo", kl_penalty="rewards")


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


def test_a_ppo_run_with_the_kl_in_its_rewards_leaves_it_out_of_the_actors_loss(tmp_path):
    def run(kl_penalty):
        cfg = preset("cpu", algorithm="ppo", examples=["toy-train-00004"], steps=2, save_every=2, beta=0.05,
                     kl_penalty=kl_penalty, output_dir=str(tmp_path / kl_penalty))
        return pd.read_parquet(train(cfg, progress=False) / "steps.parquet")

    in_reward, in_loss = run("reward"), run("loss")
    assert in_reward["kl_in_reward"].notna().all() and "kl" not in in_reward  # TRL's KL loss term: off
    assert in_loss["kl"].notna().all() and "kl_in_reward" not in in_loss
    # Step 1 samples from the same starting policy: its KL to the reference (the same model) is 0 either way.
    assert in_reward["kl_in_reward"].iloc[0] == pytest.approx(0.0, abs=1e-6) == in_loss["kl"].iloc[0]
    assert in_reward["kl_in_reward"].iloc[1] != 0.0  # after one step the policy has moved


def _two_processes(rank, folder):
    # One of two gloo processes, each holding half of a batch and its own copy of a critic.
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=2)
    values, mask = _batch()
    rows = slice(2 * rank, 2 * rank + 2)
    white = whiten(values[rows], mask[rows], total=process_sum)
    torch.manual_seed(rank)  # the copies start different, as two fresh value heads would
    critic = torch.nn.Linear(3, 1)
    broadcast_parameters(critic)
    equal_after_broadcast = not replicas_differ(critic)
    critic(values[rows, :3]).sum().backward()
    average_gradients(critic)
    with torch.no_grad():
        critic.bias += rank  # now they differ
    torch.save({"white": white, "grad": critic.weight.grad, "weight": critic.weight.detach(),
                "equal_after_broadcast": equal_after_broadcast, "differ_seen": replicas_differ(critic)},
               f"{folder}/{rank}.pt")
    dist.destroy_process_group()


def _batch():
    torch.manual_seed(0)
    return torch.randn(4, 5), torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 4 + [0], [1] * 2 + [0] * 3])


def test_two_processes_whiten_over_the_whole_batch_and_keep_their_critics_equal(tmp_path):
    torch.multiprocessing.spawn(_two_processes, args=(str(tmp_path),), nprocs=2)
    first, second = (torch.load(tmp_path / f"{rank}.pt", weights_only=True) for rank in (0, 1))
    values, mask = _batch()
    # Each process's half, whitened with the whole batch's mean and variance.
    torch.testing.assert_close(torch.cat([first["white"], second["white"]]), whiten(values, mask))
    # The first process's critic, everywhere; the gradient, the mean of the two halves' (as DDP's).
    assert first["equal_after_broadcast"] and second["equal_after_broadcast"]
    torch.testing.assert_close(first["weight"], second["weight"])
    torch.manual_seed(0)
    critic = torch.nn.Linear(3, 1)
    torch.testing.assert_close(first["weight"], critic.weight.detach())
    critic(values[:, :3]).sum().backward()
    torch.testing.assert_close(first["grad"], critic.weight.grad / 2)
    torch.testing.assert_close(second["grad"], critic.weight.grad / 2)
    assert first["differ_seen"] and second["differ_seen"]


def test_a_ppo_run_trains_in_two_processes(tmp_path):
    # torchrun on the CPU (gloo), as accelerate launch on GPUs: each process scores and values its share
    # of the rollouts; the critics' gradients are averaged, and each checkpoint checks the copies are equal.
    out, params = tmp_path / "run", tmp_path / "ppo.yaml"
    params.write_text(f"preset: cpu\nalgorithm: ppo\nexamples: [toy-train-00004]\nsteps: 4\nsave_every: 2\n"
                      f"output_dir: {out}\n")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    done = subprocess.run([*launch, "-m", "rlvr.cli", "train", str(params)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    steps, rollouts = pd.read_parquet(out / "steps.parquet"), pd.read_parquet(out / "rollouts.parquet")
    assert steps["step"].tolist() == [1, 2, 3, 4] and steps["critic_value_loss"].notna().all()
    assert rollouts.groupby("step").size().tolist() == [16] * 4  # both processes' 8
    assert (out / "checkpoint-4" / "critic" / "model.safetensors").exists()
