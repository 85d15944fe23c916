"""PPO's pieces beyond GRPO's: token-level values, GAE, advantage whitening, the clipped value loss.

The reference code runs PPO through verl's ``main_ppo`` (the paper's Tab. 4 and Tab. 17 PPO rows);
its defaults for this recipe (``verl/trainer/config/ppo_trainer.yaml`` of the paper's repository):
``gamma = 1.0``, ``lam = 1.0`` (GAE), critic learning rate ``1e-5``, value clip ``0.5``, critic
gradient clip ``1.0``, no critic warm-up, and the advantages whitened over the batch's response
tokens. The outcome reward is given on a response's last token and is 0 elsewhere; with
``kl_penalty: reward`` (verl's PPO default) every token's reward also loses
``beta * (log pi_old - log pi_ref)``, and the actor's loss has no KL term.

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

import contextlib
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import AutoModelForTokenClassification
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from .models import resolve
from .rundir import CRITIC_DIR, CRITIC_OPTIMIZER
from .trainer import RLVRTrainer, overrides

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


def kl_penalised(rewards: torch.Tensor, old_logps: torch.Tensor, ref_logps: torch.Tensor, mask: torch.Tensor,
                 beta: float) -> torch.Tensor:
    """Token rewards less ``beta`` times the sampled tokens' KL estimate to the reference model,
    ``log pi_old - log pi_ref`` (verl's ``kl_penalty: kl``), on response tokens only."""
    return rewards - beta * (old_logps - ref_logps) * mask.to(rewards.dtype)


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


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8, total=None) -> torch.Tensor:
    """``values`` shifted and scaled to mean 0 and variance 1 over the masked tokens (verl's
    ``masked_whiten``, unbiased variance); padding stays 0. ``total`` sums a tensor over the
    training processes (``process_sum``) so that the statistics are the whole batch's, each
    process holding its share; None: this process holds the whole batch."""
    total = total or (lambda tensor: tensor)
    mask = mask.to(values.dtype)
    count = total(mask.sum())
    mean = total((values * mask).sum()) / count
    variance = total((((values - mean) * mask) ** 2).sum()) / (count - 1).clamp(min=1)
    return (values - mean) * torch.rsqrt(variance + eps) * mask


def value_loss(predicted: torch.Tensor, old: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip: float = VALUE_CLIP) -> torch.Tensor:
    """The critic's loss: half the squared error to the returns, the worse of the unclipped
    prediction and the one kept within ``clip`` of the values at rollout time, averaged over tokens."""
    clipped = old + (predicted - old).clamp(-clip, clip)
    worst = torch.maximum((predicted - returns) ** 2, (clipped - returns) ** 2)
    mask = mask.to(predicted.dtype)
    return 0.5 * (worst * mask).sum() / mask.sum().clamp(min=1)


# ----------------------------------------------------------------------------- several processes


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def process_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the training processes (itself in one process)."""
    if _world() > 1:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
    return tensor


def process_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """The mean of ``values`` over every process's masked tokens."""
    mask = mask.to(values.dtype)
    return (process_sum((values * mask).sum()) / process_sum(mask.sum())).item()


def average_gradients(module: torch.nn.Module) -> None:
    """Each gradient of ``module`` replaced by its mean over the processes, as DDP would: the replicas
    then take the same optimizer step and stay equal."""
    if (world := _world()) > 1:
        for parameter in module.parameters():
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= world


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Every process's copy of ``module`` made the first process's (a new value head is random)."""
    if _world() > 1:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def replicas_differ(module: torch.nn.Module) -> bool:
    """Whether the processes' copies of ``module`` differ (compared by a float64 checksum)."""
    if _world() == 1:
        return False
    checksum = torch.stack([p.detach().double().sum() for p in module.parameters()]).sum().reshape(1)
    gathered = [torch.empty_like(checksum) for _ in range(_world())]
    dist.all_gather(gathered, checksum)
    return any(not torch.equal(other, checksum) for other in gathered)


# ----------------------------------------------------------------------------- the trainer


@contextlib.contextmanager
def _quiet_loading():
    """transformers' warnings silenced inside."""
    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


class PPOTrainer(RLVRTrainer):
    """PPO on the GRPO engine: TRL's generation, rewards, actor loss (clip, KL, entropy), logging,
    checkpoints and vLLM paths, with the GRPO advantages replaced by GAE over a critic's token values.

    The critic is a separate model, the base model with a one-output token head (transformers'
    ``AutoModelForTokenClassification``), as verl's critic is: initialised from the policy's starting
    weights, trained on its own AdamW (``critic_learning_rate``, gradient clip 1.0, the actor's
    weight decay) after each actor micro-batch, stepped when the actor steps. The value of a response
    token is the critic's output at the position before it (the state the token is chosen in).

    Under several processes (``accelerate launch``: the paper preset's 8 GPUs) each holds a whole
    critic: its gradients are averaged over the processes, as DDP does, so the copies take the same
    steps (checked at each checkpoint), and the advantages are whitened over the whole batch.

    Departures from verl's PPO (also in the run's recorded deviations): the critic is replicated on
    each process, not sharded (FSDP) as verl's; the critic trains in float32 on the
    same micro-batches as the actor; the KL term is by default the actor's k3 loss (``beta``), as in
    the GRPO runs, where verl's PPO default is a penalty in the token rewards (``kl_penalty: reward``
    here; the policy's rollout-time log-probabilities then cost one more forward pass); each prompt gets
    ``rollouts_per_prompt`` responses (TRL's engine needs two or more; verl's PPO samples one).
    """


    def __init__(self, *args, config, **kwargs):
        super().__init__(*args, config=config, **kwargs)
        with _quiet_loading():  # transformers reports the value head as missing: it is new by design
            self._load_critic(resolve(config.model), num_labels=1)
        self._critic_micro_batches = 0
        # TRL computes the reference log-probabilities while beta != 0; the loss then leaves the KL out.
        self._kl_in_reward = config.kl_penalty == "reward" and self.beta != 0

    def _load_critic(self, path, **kwargs) -> None:
        """The critic from ``path`` (float32, on this process's device) and a fresh AdamW for it."""
        self.critic = AutoModelForTokenClassification.from_pretrained(path, dtype=torch.float32, **kwargs)
        self.critic.to(self.accelerator.device)
        if self.args.gradient_checkpointing:  # as the actor: layer inputs kept, each layer recomputed (rlvr.memory)
            self.critic.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        broadcast_parameters(self.critic)
        self.critic_optimizer = torch.optim.AdamW(self.critic.parameters(), lr=self.rlvr_config.critic_learning_rate,
                                                  weight_decay=self.rlvr_config.weight_decay)

    def critic_values(self, prompt_ids, prompt_mask, completion_ids, completion_mask) -> torch.Tensor:
        """The critic's value of each response token's state (batch x response tokens)."""
        ids = torch.cat([prompt_ids, completion_ids], dim=1)
        mask = torch.cat([prompt_mask, completion_mask], dim=1)
        outputs = self.critic(input_ids=ids, attention_mask=mask).logits.squeeze(-1)
        start = prompt_ids.size(1) - 1
        return outputs[:, start:start + completion_ids.size(1)]

    def algorithm_advantages(self, batch: dict) -> torch.Tensor:
        """GAE over the critic's values of the batch's response tokens, whitened over the whole batch;
        the batch also gets the values and returns the critic then trains on."""
        mask = batch["completion_mask"]
        # In micro-batches, as TRL scores the policy: the whole rollout batch at once would hold its float32
        # activations for every rollout of the step (the memory of a training micro-batch is the bound).
        step = self.args.per_device_train_batch_size
        parts = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")
        with torch.no_grad():
            values = torch.cat([self.critic_values(*(batch[k][i:i + step] for k in parts))
                                for i in range(0, mask.size(0), step)])
        scores = self.own_rewards(mask.size(0)).to(values.device)
        rewards = last_token_rewards(scores, mask)
        if self._kl_in_reward:
            old = batch.get("old_per_token_logps")
            old = self._policy_logps(batch) if old is None else old
            rewards = kl_penalised(rewards, old, batch["ref_per_token_logps"], mask, self.beta)
            self._metrics["train"]["kl_in_reward"].append(process_mean(old - batch["ref_per_token_logps"], mask))
        advantages, returns = gae(rewards, values, mask, self.rlvr_config.gamma, self.rlvr_config.gae_lambda)
        batch["old_values"], batch["returns"] = values * mask, returns
        self._metrics["train"]["critic/values_mean"].append(process_mean(values, mask))
        return whiten(advantages, mask, total=process_sum)

    def _policy_logps(self, batch) -> torch.Tensor:
        """The policy's log-probabilities of the sampled tokens as it was at rollout time (what TRL
        only computes when it needs them for importance sampling)."""
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        with torch.no_grad():
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, ids, mask, batch["completion_ids"].size(1),
                batch_size=self.args.per_device_train_batch_size)
        return logps

    @overrides()
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # The actor's loss as GRPO's (without its KL term when the KL is in the rewards); the critic
        # learns from the same micro-batch here, on its own.
        beta = self.beta
        if self._kl_in_reward:
            self.beta = 0.0
        try:
            loss = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        finally:
            self.beta = beta
        if self.model.training:
            self._train_critic(inputs)
        return loss

    def _train_critic(self, inputs) -> None:
        self.critic.train()
        mask = inputs["completion_mask"]
        predicted = self.critic_values(inputs["prompt_ids"], inputs["prompt_mask"], inputs["completion_ids"], mask)
        critic_loss = value_loss(predicted, inputs["old_values"], inputs["returns"], mask, self.rlvr_config.value_clip)
        (critic_loss / self.current_gradient_accumulation_steps).backward()
        self._metrics["train"]["critic/value_loss"].append(process_sum(critic_loss.detach()).item() / _world())
        self._critic_micro_batches += 1
        if self._critic_micro_batches % self.current_gradient_accumulation_steps == 0:
            average_gradients(self.critic)
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), self.args.max_grad_norm)
            self.critic_optimizer.step()
            self.critic_optimizer.zero_grad()

    @overrides()
    def _save_checkpoint(self, model, trial):
        # The critic first: a checkpoint whose policy is written (what makes it count for a resume)
        # then always has its critic, even if the run is killed while saving.
        if replicas_differ(self.critic):
            raise RuntimeError("the training processes' critics differ: their gradients were not averaged alike; "
                               "this checkpoint is not saved")
        folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        if self.accelerator.is_main_process:  # the copies are equal: one writes
            self.critic.save_pretrained(folder / CRITIC_DIR)
            torch.save(self.critic_optimizer.state_dict(), folder / CRITIC_DIR / CRITIC_OPTIMIZER)
        super()._save_checkpoint(model, trial)

    @overrides()
    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        folder = Path(checkpoint) / CRITIC_DIR
        self._load_critic(folder)
        self.critic_optimizer.load_state_dict(torch.load(folder / CRITIC_OPTIMIZER, weights_only=True))
