"""The GRPO engine: one ``TrainConfig`` becomes one run of TRL's ``GRPOTrainer``.

TRL does the RL (generation, group advantages, the clipped policy loss, k3 KL,
the entropy bonus); this module configures it to the paper's recipe and adds
what the paper's experiments need and TRL lacks: ``pg_loss_coef`` (0 trains on
the entropy and KL terms alone, Tab. 5), checkpoints in the base model's dtype
(not float32: Tab. 7), and the run's tables (every rollout's reward with its
step, epoch and example; one row per step), cut back to the checkpoint on resume
so a killed run continues without lost or doubled rows (``rlvr.rundir``).

The loss trained, as TRL 1.14 computes it with the settings below. For a rollout
batch of G rollouts o_1..o_G of each prompt q, with rewards r_i::

    A_i    = (r_i - mean_j r_j) / (std_j r_j + 1e-4)          per group (scale_rewards="group")
    rho_it = pi_theta(o_it | q, o_i<t) / pi_old(o_it | ...)    = 1 in value, on-policy (num_iterations=1)
    kl_it  = exp(ref_it - logp_it) - (ref_it - logp_it) - 1    k3 ("low_var_kl"), no importance weight
    L_pg   = sum_it [ -min(rho_it A_i c, clip(rho_it, 1-eps, 1+eps) A_i c) + beta kl_it ] / T
    L      = L_pg - entropy_coef * H

with c = ``pg_loss_coef`` (and A_i set to 0 where its sign is not ``advantage_sign``'s: PSR/NSR),
eps = ``clip_epsilon``, T the number of completion
tokens in the whole rollout batch (token-level aggregation, loss_type "dapo"),
and H the mean per-token entropy over the completion tokens of a micro-batch
(divided by the gradient-accumulation steps, so averaged over micro-batches).

Departure from the reference code (its verl ``dp_actor``): verl's "token-mean"
averages the policy and KL terms over the tokens of each micro-batch, then over
micro-batches; TRL divides them by the token count of the whole batch, so every
token weighs the same whichever micro-batch it falls in. The two agree when
micro-batches hold equally many tokens; the entropy term is a per-micro-batch
mean in both. ``trl:`` settings can change any of this; what they change is
recorded in the run's ``run_config.json`` as a deviation.

The follow-up literature's modes, and how they depart from their papers:

- PSR / NSR (``advantage_sign``; Zhu et al. 2025, arXiv 2506.01347): the paper trains
  on rewards of +1 / -1 without group normalisation; here the GRPO advantage's sign
  picks the rollouts and their advantages keep GRPO's magnitude, and T still counts
  every rollout's tokens, so the term is scaled by the share of tokens it trains on.
  KL and entropy terms act on all rollouts.
- Entropy minimisation without reward (``pg_loss_coef: 0``, ``entropy_coef < 0``;
  one-shot EM, arXiv 2505.20282): L = |entropy_coef| * H, the mean token entropy of
  the policy's own samples over the full vocabulary at the rollout temperature,
  averaged per micro-batch as TRL does; the reward is computed and logged but trains
  nothing. Sampling temperature, batch and steps are the config's, not that paper's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PrinterCallback, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.trainer.utils import pad

from . import fastgen
from .config import TrainConfig, coerce
from .data import training_dataset
from .env import process_rank, world_size
from .generation import cpu_threads
from .grading import extract_answer, grade_many
from .models import (
    BASE_DTYPE_KEY,
    EVAL_TEMPLATE_KEY,
    eval_dtype_for,
    eval_template_for,
    load_model,
    load_tokenizer,
    no_transformers_bars,
    resolve,
)
from .progress import Bars, ShowProgress
from .provenance import environment
from .rewards import completion_text, get_reward
from .rundir import (
    ADAPTER_DIR,
    ROLLOUTS_LOG,
    SAMPLES_LOG,
    STEPS_LOG,
    RunLog,
    checkpoint_dir,
    drop_training_state,
    exclusive,
    last_step,
    read_run_config,
    write_run_config,
    write_tables,
)

SAMPLES_PER_STEP = 8


# ----------------------------------------------------------------------------- records


def make_reward(cfg: TrainConfig, log: RunLog, steps_per_epoch: int, by_step: dict | None = None) -> Callable:
    """The configured reward as a TRL reward function that also records every rollout
    (to the log, and into ``by_step`` for the step table)."""
    reward_fn = get_reward(cfg.reward)

    def reward(prompts, completions, answer, example_id, trainer_state=None, **kwargs):
        texts = [completion_text(c) for c in completions]
        rewards = reward_fn(prompts=prompts, completions=completions, answer=answer, trainer_state=trainer_state,
                            reward_p=cfg.reward_p, seed=cfg.seed, group_size=cfg.rollouts_per_prompt,
                            process_index=process_rank(), **kwargs)
        correct = grade_many(texts, answer, "train")  # training accuracy, whatever the reward
        step = (trainer_state.global_step if trainer_state is not None else 0) + 1
        epoch = (step - 1) // steps_per_epoch
        ids = kwargs.get("completion_ids") or [None] * len(texts)
        rank, world = process_rank(), world_size()
        per_process = len(texts) // cfg.rollouts_per_prompt  # groups this process holds
        rows = [
            {
                "step": step,
                "epoch": epoch,
                "example_id": eid,
                "row": rank * per_process + i // cfg.rollouts_per_prompt,
                "rollout": i % cfg.rollouts_per_prompt,
                "reward": r,
                "correct": bool(c),
                "boxed": extract_answer(t, "train") is not None,
                "n_tokens": len(tok) if tok is not None else None,
                "truncated": tok is not None and len(tok) >= cfg.max_completion_length,
            }
            for i, (eid, r, c, t, tok) in enumerate(zip(example_id, rewards, correct, texts, ids))
        ]
        samples = [
            {"step": step, "example_id": eid, "completion": t, "correct": bool(c)}
            for eid, t, c in list(zip(example_id, texts, correct))[:SAMPLES_PER_STEP]
        ]
        if world > 1:
            # Each process scores its own share of the batch: the main process writes them all.
            rows, samples = _gather(rows), _gather(samples)[:SAMPLES_PER_STEP]
            if rank != 0:
                return rewards
        log.append(ROLLOUTS_LOG, rows)
        if by_step is not None:
            by_step.setdefault(step, []).extend(rows)
        log.append(SAMPLES_LOG, samples)
        return rewards

    reward.__name__ = f"{cfg.reward}_reward"
    return reward


def _gather(rows: list[dict]) -> list[dict]:
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


class StepTable(TrainerCallback):
    """One row per optimizer step: TRL's metrics plus accuracy, format and speed."""

    def __init__(self, log: RunLog, by_step: dict):
        self.log = log
        self.by_step = by_step  # rollouts of the current step, filled by the reward function
        self.last: tuple[list[dict], int | None] = ([], None)  # the latest rollout batch and its step
        self.row: dict | None = None  # the latest row written
        self.t0 = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs and "reward" not in logs or not state.is_world_process_zero:
            return
        step = state.global_step
        rollouts = self.by_step.pop(step, None)
        if rollouts is None:
            # With several optimizer steps per rollout batch, the later steps train on the
            # batch generated at the first: report that batch (rollout_step says which).
            rollouts, rollout_step = self.last
        else:
            self.last, rollout_step = (rollouts, step), step
        seconds = time.perf_counter() - self.t0
        tokens = sum(r["n_tokens"] or 0 for r in rollouts)
        row = {
            "step": step,
            "rollout_step": rollout_step,
            "train_accuracy": _mean(r["correct"] for r in rollouts),
            "boxed_rate": _mean(r["boxed"] for r in rollouts),
            "truncation_rate": _mean(r["truncated"] for r in rollouts),
            "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
            **{k.replace("/", "_"): v for k, v in logs.items()},
        }
        self.log.append(STEPS_LOG, [row])
        self.row = row


def shaped_advantages(advantages: torch.Tensor, pg_loss_coef: float, sign: str) -> torch.Tensor:
    """The advantages the policy term trains on. The clipped policy term is linear in them, so
    scaling by ``pg_loss_coef`` scales that term alone (0 leaves KL and entropy: Tab. 5 row 10);
    a zero advantage gives its rollout no policy gradient, so PSR / NSR zero the other sign."""
    advantages = advantages * pg_loss_coef
    if sign == "positive":
        return advantages.clamp(min=0)
    if sign == "negative":
        return advantages.clamp(max=0)
    return advantages


class LatestKeepsTrainingState(TrainerCallback):
    """After each checkpoint is written, earlier checkpoints lose their optimizer state
    (``rundir.drop_training_state``): 100 checkpoints of the paper's run would otherwise hold
    100 copies of it."""

    def __init__(self, out: Path):
        self.out = out

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            drop_training_state(self.out, keep=state.global_step)


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


# ----------------------------------------------------------------------------- trainer

# Rows scored together on the CPU: small enough that a group's rows have similar lengths,
# large enough that per-op overhead stays small (the cpu preset's 16 rollouts: 4 groups).
LENGTH_GROUP_ROWS = 4


class RLVRTrainer(GRPOTrainer):
    """TRL's GRPO with what the paper needs that TRL lacks, read from ``config``:
    the policy-gradient loss's scale, and checkpoints in the base model's dtype
    that record the base model's evaluation template."""

    def __init__(self, *args, config: TrainConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.remove_callback(PrinterCallback)  # it prints every step's log dict; the step table has them
        self.rlvr_config = config
        self.pg_loss_coef = config.pg_loss_coef
        self.base_dtype = eval_dtype_for(config.model)
        self.eval_template = eval_template_for(config.model)
        self.lora = config.lora_rank > 0  # the Unsloth path: a PEFT model with LoRA adapters
        self.samplers: set[str] = set()  # what generated the rollouts (recorded in run_config.json)

    def uses_fast_sampler(self) -> bool:
        """Whether text rollouts come from rlvr.fastgen, which samples as transformers' generate()
        does without its per-token overhead: where it covers the model and the sampling settings."""
        return (self.rlvr_config.fast_generation and not self.use_vllm
                and not self.use_transformers_continuous_batching and self.min_p is None
                and self.repetition_penalty == 1.0 and not self.args.generation_kwargs
                and fastgen.supports(self.accelerator.unwrap_model(self.model)))

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if images or multimodal_fields or not self.uses_fast_sampler():
            self.samplers.add("trl")
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        self.samplers.add("rlvr.fastgen")
        model = self.accelerator.unwrap_model(self.model)
        pad_id = self._tokenizer.pad_token_id
        rows = [torch.tensor(ids) for ids in prompt_ids]
        ids = pad(rows, padding_value=pad_id, padding_side="left")
        mask = pad([torch.ones_like(r) for r in rows], padding_value=0, padding_side="left")
        with profiling_context(self, "rlvr.fastgen.sample"):
            tokens = fastgen.sample(model, ids, mask, max_new_tokens=self.max_completion_length,
                                    eos_token_ids=self.eos_token_ids, pad_token_id=pad_id,
                                    temperature=self.temperature, top_p=self.top_p, top_k=self.top_k or None)
        ends = set(self.eos_token_ids)
        completions = []
        for row in tokens.tolist():  # up to and including the first end token, as TRL keeps it
            stop = next((i for i, t in enumerate(row) if t in ends), len(row) - 1)
            completions.append(row[: stop + 1])
        return completions, None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args,
                                           **kwargs):
        # On the CPU, score text rollouts in groups of similar length, each cut at its longest
        # completion: TRL pads every row to the batch's longest, and at this size the work
        # follows the tokens (about a third fewer at the cpu preset). A causal model's outputs
        # for a row's tokens do not depend on padding after them, so the values are TRL's.
        # Anywhere else the call goes through exactly as it came: Unsloth's trainer passes
        # batch_size and its own flags by position.
        batch_size = kwargs.pop("batch_size", None)
        plain_text = not args and all(v is None for v in kwargs.values() if not isinstance(v, bool))
        if (input_ids.device.type != "cpu" or self.use_liger_kernel or kwargs.get("compute_aux_loss")
                or not plain_text or input_ids.size(0) < 2 * LENGTH_GROUP_ROWS):
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              *args, **kwargs)
        completion_lengths = attention_mask[:, -logits_to_keep:].sum(1)
        order = torch.argsort(completion_lengths, stable=True)
        prompt_columns = input_ids.size(1) - logits_to_keep
        logps, entropies = [], []
        for rows in order.split(LENGTH_GROUP_ROWS):
            keep = max(int(completion_lengths[rows].max()), 1)
            part_logps, part_entropies, _ = super()._get_per_token_logps_and_entropies(
                model, input_ids[rows, : prompt_columns + keep], attention_mask[rows, : prompt_columns + keep],
                keep, batch_size=batch_size, **kwargs)
            logps.append(torch.nn.functional.pad(part_logps, (0, logits_to_keep - keep)))
            if part_entropies is not None:
                entropies.append(torch.nn.functional.pad(part_entropies, (0, logits_to_keep - keep)))
        inverse = torch.argsort(order)
        return torch.cat(logps)[inverse], (torch.cat(entropies)[inverse] if entropies else None), None

    def _generate_and_score_completions(self, inputs):
        # pg_loss_coef and advantage_sign shape the advantages as they are made, before any loss
        # reads them: TRL's loss and the Unsloth path's own loss function (which never calls
        # _compute_loss) then train the same thing.
        batch = super()._generate_and_score_completions(inputs)
        batch["advantages"] = shaped_advantages(batch["advantages"], self.pg_loss_coef,
                                                self.rlvr_config.advantage_sign)
        return batch

    def _save(self, output_dir=None, state_dict=None):
        # Checkpoints in the base model's dtype, with it and the base model's
        # prompt template recorded for evaluation.
        output_dir = output_dir or self.args.output_dir
        setattr(self.model.config, BASE_DTYPE_KEY, self.base_dtype)
        setattr(self.model.config, EVAL_TEMPLATE_KEY, self.eval_template)
        self.model.config.dtype = self.base_dtype
        if self.lora:
            # Evaluation loads a checkpoint folder as a full model, so the merged 16-bit
            # weights go there (Unsloth merges into a copy; training goes on unmerged); the
            # adapters, which a resume needs, go to a subfolder that model loaders ignore.
            super()._save(os.path.join(output_dir, ADAPTER_DIR), state_dict=state_dict)
            self.model.save_pretrained_merged(output_dir, self.processing_class, save_method="merged_16bit")
            return
        dtype = getattr(torch, self.base_dtype)
        state_dict = state_dict if state_dict is not None else self.model.state_dict()
        state_dict = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
        super()._save(output_dir, state_dict=state_dict)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        # A LoRA checkpoint's root holds merged weights, which must not be loaded into
        # the PEFT model; its adapters resume it (as transformers resumes PEFT models).
        adapter = os.path.join(resume_from_checkpoint, ADAPTER_DIR)
        if self.lora and os.path.isdir(adapter):
            model = model if model is not None else self.model
            model.load_adapter(adapter, model.active_adapters[0], is_trainable=True)
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)



def batch_split(cfg: TrainConfig, processes: int) -> tuple[int, int]:
    """``(per-device micro-batch, gradient-accumulation steps)`` that keep an optimizer
    step at the configured global batch (128 x 8 = 1024 completions in the paper) for any
    number of processes: each process takes an equal share, in equal micro-batches of at
    most ``micro_batch`` completions."""
    per_optimizer_step = cfg.prompts_per_step * cfg.rollouts_per_prompt // cfg.optimizer_steps_per_rollout
    if per_optimizer_step % processes:
        fits = [n for n in range(1, 17) if per_optimizer_step % n == 0]
        raise ValueError(
            f"{per_optimizer_step} completions per optimizer step do not split evenly over {processes} "
            f"training processes; TRL gives every process the same batch. Train on {fits} processes "
            "(or change prompts_per_step, which departs from the paper's batch)."
        )
    share = per_optimizer_step // processes
    # The largest micro-batch that divides the share: a remainder would silently shrink the batch.
    micro = max(d for d in range(1, min(cfg.micro_batch, share) + 1) if share % d == 0)
    return micro, share // micro


# GRPOConfig fields the paper's recipe fixes, where TRL's default differs or is easy to
# change under us. `trl:` may override these; the run records each as a deviation.
RECIPE: dict[str, Any] = {
    "optim": "adamw_torch",  # the paper's AdamW, said explicitly: Unsloth's config would default to 8-bit AdamW
    "top_k": 0,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "use_bias_correction_kl": False,  # verl's low_var_kl has no importance weight
    "loss_type": "dapo",  # token mean over the whole rollout batch, as verl's token-mean
    "scale_rewards": "group",
    "mask_truncated_completions": False,
    "vllm_importance_sampling_correction": False,  # verl 0.2 had none
    "shuffle_dataset": True,
}
# GRPOConfig fields set from a TrainConfig field: `trl:` may not set them (the field is the one place).
FROM_CONFIG = {
    "seed": "seed",
    "max_steps": "steps",
    "num_generations": "rollouts_per_prompt",
    "max_completion_length": "max_completion_length",
    "temperature": "temperature",
    "top_p": "top_p",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "max_grad_norm": "max_grad_norm",
    "beta": "beta",
    "epsilon": "clip_epsilon",
    "epsilon_high": "clip_epsilon_high",
    "entropy_coef": "entropy_coef",
    "save_steps": "save_every",
    "report_to": "report_to",
    "use_vllm": "backend",
    "vllm_mode": "vllm_mode",
    "vllm_server_host": "vllm_server_host",
    "vllm_server_port": "vllm_server_port",
    "output_dir": "output_dir",
    "per_device_train_batch_size": "micro_batch",
    "gradient_accumulation_steps": "prompts_per_step",
    "steps_per_generation": "optimizer_steps_per_rollout",
    "num_iterations": "optimizer_steps_per_rollout",
    "gradient_checkpointing": "gradient_checkpointing",
}
# GRPOConfig fields the lab's own bookkeeping depends on (step table, checkpoints, devices).
MANAGED = {
    "save_strategy": "checkpoints every save_every steps are what evaluation and resume read",
    "logging_steps": "the step table has one row per optimizer step",
    "use_cpu": "set from the machine (CUDA or not)",
    "bf16": "set from the machine (bfloat16 compute on GPU)",
    "disable_tqdm": "the lab's own progress bar (rlvr.progress) replaces transformers' bar and per-step table",
    "model_init_kwargs": "the reference model's dtype: bfloat16 on a GPU",
}


def trl_problems(cfg: TrainConfig) -> list[str]:
    """What is wrong with ``cfg.trl``: keys that are no GRPOConfig field, keys a config
    field or the lab sets, values of the wrong type."""
    fields = {f.name: f for f in dataclasses.fields(GRPOConfig)}
    try:
        from typing import get_type_hints

        hints = get_type_hints(GRPOConfig)
    except Exception:  # an annotation this Python cannot resolve: skip type checks
        hints = {}
    problems = []
    for key, value in cfg.trl.items():
        if key in FROM_CONFIG:
            problems.append(f"trl.{key}: set by the config field {FROM_CONFIG[key]!r}; set {FROM_CONFIG[key]} instead")
        elif key in MANAGED:
            problems.append(f"trl.{key}: managed by the lab ({MANAGED[key]})")
        elif key not in fields:
            close = [n for n in fields if key.lower() in n.lower() or n.lower() in key.lower()][:5]
            problems.append(
                f"trl.{key}: not a trl.GRPOConfig field"
                + (f" (close: {', '.join(close)})" if close else "")
                + "; see https://huggingface.co/docs/trl/grpo_trainer"
            )
        elif key in hints and value is not None and _basic(hints[key]):
            try:
                coerce(f"trl.{key}", value, hints[key])
            except ValueError as exc:
                problems.append(str(exc))
    return problems


def _basic(hint) -> bool:
    """Whether ``config.coerce`` can check values of this type (plain types and their unions)."""
    import types
    from typing import Union, get_args, get_origin

    if get_origin(hint) in (Union, types.UnionType):
        return all(_basic(a) for a in get_args(hint))
    return hint in (int, float, str, bool, type(None)) or get_origin(hint) in (list, dict)


def recipe_deviations(cfg: TrainConfig) -> list[str]:
    """The recipe fields ``trl:`` changes, as sentences for run_config.json."""
    return [
        f"trl.{k}: {v!r} instead of the recipe's {RECIPE[k]!r}"
        if k in RECIPE
        else f"trl.{k}: {v!r} (TRL's default otherwise)"
        for k, v in cfg.trl.items()
    ]


def grpo_arguments(cfg: TrainConfig, on_gpu: bool, processes: int = 1) -> dict[str, Any]:
    """The keyword arguments of TRL's ``GRPOConfig`` for ``cfg``: its fields, the recipe, the
    lab's bookkeeping, then ``cfg.trl`` (which ``TrainConfig`` has checked for clashes)."""
    micro, accumulation = batch_split(cfg, processes)
    # Unsloth generates with its own in-process vLLM engine, which TRL's colocate mode hands over to.
    use_vllm = cfg.backend in ("vllm", "unsloth") or (
        cfg.backend == "auto" and on_gpu and (cfg.vllm_mode == "server" or _has_vllm())
    )
    from_config = {
        "output_dir": cfg.output_dir,
        "seed": cfg.seed,
        "max_steps": cfg.optimizer_steps,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": accumulation,
        "steps_per_generation": accumulation * cfg.optimizer_steps_per_rollout,
        "num_iterations": 1,  # on-policy: one pass over each rollout batch
        "num_generations": cfg.rollouts_per_prompt,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "learning_rate": cfg.learning_rate,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "beta": cfg.beta,
        "epsilon": cfg.clip_epsilon,
        "epsilon_high": cfg.clip_epsilon if cfg.clip_epsilon_high is None else cfg.clip_epsilon_high,
        "entropy_coef": cfg.entropy_coef,
        "save_steps": cfg.save_every * cfg.optimizer_steps_per_rollout,
        "report_to": cfg.report_to or "none",
        "use_vllm": use_vllm,
        "vllm_mode": cfg.vllm_mode,
        "vllm_server_host": cfg.vllm_server_host,
        "vllm_server_port": cfg.vllm_server_port,
        "gradient_checkpointing": cfg.gradient_checkpointing,
    }
    managed = {
        "save_strategy": "steps",
        "logging_steps": 1,
        "use_cpu": not on_gpu,
        "bf16": on_gpu,
        "disable_tqdm": True,
        # The reference model only ever runs forward: bfloat16 on a GPU (as verl's), half the memory
        # of TRL's float32 default; the policy keeps float32 master weights.
        "model_init_kwargs": {"dtype": "bfloat16" if on_gpu else "float32"},
    }
    return {**from_config, **RECIPE, **managed, **cfg.trl}


def grpo_config(cfg: TrainConfig, on_gpu: bool) -> GRPOConfig:
    """TRL's GRPOConfig for ``cfg`` on this machine."""
    processes = world_size()
    args = GRPOConfig(**grpo_arguments(cfg, on_gpu, processes))
    if args.world_size != processes:  # a launcher that does not set WORLD_SIZE: the batch would be off
        raise RuntimeError(
            f"WORLD_SIZE says {processes} processes, accelerate runs {args.world_size}; "
            "launch with `accelerate launch` (docs/gpu.md)"
        )
    return args


def _has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def deviations(cfg: TrainConfig) -> list[str]:
    """How a run's setup departs from the paper's method (recorded in run_config.json)."""
    found = recipe_deviations(cfg)
    if cfg.lora_rank > 0:
        found.append(
            f"LoRA (rank {cfg.lora_rank}, alpha {cfg.lora_rank}, attention and MLP projections) on the "
            "Unsloth path instead of full fine-tuning; base weights frozen in 16 bit; the learning rate "
            f"{cfg.learning_rate:g} was set for full fine-tuning"
        )
    if cfg.algorithm == "ppo":
        kl = ("the KL term is the actor's k3 loss (beta), as in the GRPO runs, where verl's PPO default puts a KL "
              "penalty in the reward (kl_penalty: reward); ") if cfg.beta > 0 and cfg.kl_penalty == "loss" else ""
        found.append(f"PPO: {kl}each prompt gets rollouts_per_prompt responses (TRL needs at least 2; verl's PPO "
                     "default samples 1); the critic is replicated on each training process, not sharded")
    if cfg.clip_epsilon_high is not None and cfg.clip_epsilon_high != cfg.clip_epsilon:
        found.append(f"clip_epsilon_high: {cfg.clip_epsilon_high:g}, an asymmetric clip (the paper's is "
                     f"{cfg.clip_epsilon:g} both ways)")
    if cfg.backend == "unsloth":
        found.append(
            "the loss is Unsloth's own function (unsloth_zoo's grpo_compute_loss), not TRL's: pg_loss_coef "
            "and advantage_sign act on the advantages before it, the optimizer and the upper clip are set "
            "explicitly, and it keeps the entropy bonus; its k3 KL term is clamped (log-ratio to [-20, 20], "
            "the term to [-10, 10]) where TRL's is not (read in unsloth 2026.10.7, not run)"
        )
    return found


def train(cfg: TrainConfig, *, resume: bool = True, callbacks: Sequence = (),
          progress: bool | str = True) -> Path:
    """Run (or resume) one training run; returns its output folder.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (a notebook's
    live plot, for one); they see each step after its row is in the step log.
    ``progress``: a bar for the run (``rlvr.progress``) labelled with the run folder's
    name, or with this text; False for none (a run whose caller shows its progress).
    """
    if cfg.backend == "unsloth":  # fails where Unsloth cannot run, before anything is written
        from .unsloth_path import prepare

        prepare()
    on_gpu = torch.cuda.is_available()
    args = grpo_config(cfg, on_gpu)  # TRL's own checks, before anything is written
    dataset = training_dataset(cfg)  # and the data's (a missing history file, an unknown example)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Under a multi-process launch (torchrun, accelerate) only the main process writes files,
    # and it holds the folder against a second run resuming into it at the same time.
    main_process = process_rank() == 0
    with exclusive(out) if main_process else contextlib.nullcontext():
        _train(cfg, args, dataset, out, main_process, on_gpu, resume, callbacks, progress)
    return out


# TRL says model_init_kwargs are ignored when it is given a loaded policy, but it builds the reference
# model with them (which is why they are set: its dtype): the warning would mislead.
_IGNORED_INIT_KWARGS = "`model_init_kwargs` will be ignored"


@contextlib.contextmanager
def _without_trl_warning(text: str):
    """TRL's GRPO trainer's log records containing ``text`` dropped inside."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        return text not in record.getMessage()

    logger = logging.getLogger("trl.trainer.grpo_trainer")
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _train(cfg: TrainConfig, args: GRPOConfig, dataset, out: Path, main_process: bool, on_gpu: bool,
           resume: bool, callbacks: Sequence, progress: bool | str) -> None:
    if not on_gpu:
        torch.set_num_threads(cpu_threads(cfg.threads))
    log = RunLog(out)
    previous = last_step(out) if resume else None
    if main_process and previous is None:
        log.clear()
    elif main_process:
        log.truncate_after(previous)

    steps_per_epoch = max(1, len(dataset) // cfg.prompts_per_step)
    departures = deviations(cfg)
    for text in departures:
        warnings.warn(f"deviation from the paper: {text}", stacklevel=2)
    if main_process:
        write_run_config(
            out,
            {
                "config": cfg.to_dict(),
                "model_path": resolve(cfg.model),
                "dataset_rows": len(dataset),
                "examples": sorted(set(dataset["example_id"]))[:50],
                "deviations": departures,
                "grpo_config": grpo_arguments(cfg, on_gpu, world_size()),
                "environment": environment(),
            },
        )

    if cfg.backend == "unsloth":
        from .unsloth_path import load_unsloth_model

        model, tokenizer = load_unsloth_model(cfg)
    else:
        model = load_model(cfg.model, dtype="float32")  # float32 master weights; bf16 compute on GPU
        tokenizer = load_tokenizer(cfg.model)
    by_step: dict[int, list[dict]] = {}
    table = StepTable(log, by_step)
    if progress and main_process:
        label = progress if isinstance(progress, str) else out.name
        bars = Bars({label: (out, cfg.optimizer_steps)})
        callbacks = [*callbacks, ShowProgress(bars, label, lambda: table.row)]
    trainer_class = RLVRTrainer
    if cfg.algorithm == "ppo":
        from .ppo import PPOTrainer as trainer_class
    with no_transformers_bars(), _without_trl_warning(_IGNORED_INIT_KWARGS):  # loads the reference model, a critic
        trainer = trainer_class(
            model=model,
            reward_funcs=[make_reward(cfg, log, steps_per_epoch, by_step)],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[table, LatestKeepsTrainingState(out), *callbacks],
            config=cfg,
        )
    with no_transformers_bars():
        trainer.train(resume_from_checkpoint=str(checkpoint_dir(out, previous)) if previous else None)
    if main_process:
        write_tables(out)
        # What generated the rollouts of this process's training (a resumed run: since the resume).
        write_run_config(out, {**(read_run_config(out) or {}), "samplers": sorted(trainer.samplers)})
