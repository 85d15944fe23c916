"""PPO's pieces beyond GRPO's: token-level values, GAE, advantage whitening, the clipped value loss.

The reference code runs PPO through verl's ``main_ppo`` (the paper's Tab. 4 and Tab. 17 PPO rows);
its defaults for this recipe (``verl/trainer/config/ppo_trainer.yaml`` of the paper's repository):
``gamma = 1.0``, ``lam = 1.0`` (GAE), critic learning rate ``1e-5``, value clip ``0.5``, critic
gradient clip ``1.0``, no critic warm-up, and the advantages whitened over the batch's response
tokens. The outcome reward is given on a response's last token and is 0 elsewhere.

For one response of T tokens with rewards r_t (r_T the outcome, the rest 0) and values V_t::

    delta_t = r_t + gamma * V_{t+1} - V_t           (V_{T+1} = 0: the response ends)
    A_t     = delta_t + gamma * lam * A_{t+1}       (A_{T+1} = 0)
    R_t     = A_t + V_t                             the critic's target (the return)

then A is whitened (mean 0, variance 1 over every response token of the batch, as verl's
``masked_whiten`` does) and the critic trains on
``0.5 * mean(max((V' - R)^2, (clip(V', V - c, V + c) - R)^2))`` with c the value clip.
With gamma = lam = 1 this is the Monte-Carlo return minus the value: A_t = r_T - V_t.
"""

from __future__ import annotations

import torch

# verl's defaults for the paper's PPO runs (its ppo_trainer.yaml).
GAMMA, LAM = 1.0, 1.0
CRITIC_LEARNING_RATE = 1e-5
VALUE_CLIP = 0.5


def last_token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-level rewards: each response's score on its last token (``mask``: 1 on response tokens)."""
    rewards = torch.zeros_like(mask, dtype=scores.dtype)
    last = mask.sum(dim=1).long() - 1
    rows = torch.arange(mask.shape[0])
    keep = last >= 0  # an empty response has no token to carry its reward
    rewards[rows[keep], last[keep]] = scores[keep]
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = GAMMA,
        lam: float = LAM) -> tuple[torch.Tensor, torch.Tensor]:
    """``(advantages, returns)`` by generalised advantage estimation, token by token, each response
    ending at its last masked token (``rewards``, ``values``, ``mask``: batch x tokens)."""
    mask = mask.to(values.dtype)
    values = values * mask
    advantages = torch.zeros_like(values)
    running = torch.zeros(values.shape[0], dtype=values.dtype, device=values.device)
    following = torch.zeros_like(running)  # V_{t+1}: 0 past the end
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * following - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]  # padding carries nothing back
        advantages[:, t] = running
        following = values[:, t]
    return advantages, (advantages + values) * mask


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``values`` shifted and scaled to mean 0 and variance 1 over the masked tokens (verl's
    ``masked_whiten``, unbiased variance); padding stays 0."""
    mask = mask.to(values.dtype)
    count = mask.sum()
    mean = (values * mask).sum() / count
    variance = (((values - mean) * mask) ** 2).sum() / (count - 1).clamp(min=1)
    return (values - mean) * torch.rsqrt(variance + eps) * mask


def value_loss(predicted: torch.Tensor, old: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip: float = VALUE_CLIP) -> torch.Tensor:
    """The critic's loss: half the squared error to the returns, the worse of the unclipped
    prediction and the one kept within ``clip`` of the values at rollout time, averaged over tokens."""
    clipped = old + (predicted - old).clamp(-clip, clip)
    worst = torch.maximum((predicted - returns) ** 2, (clipped - returns) ** 2)
    mask = mask.to(predicted.dtype)
    return 0.5 * (worst * mask).sum() / mask.sum().clamp(min=1)
