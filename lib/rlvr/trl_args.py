"""A ``TrainConfig`` in TRL's terms: the arguments of ``trl.GRPOConfig``, and what a run departs from.

Three tables say where each ``GRPOConfig`` field the lab sets comes from: ``RECIPE`` (the
paper's recipe, where TRL's default differs or is easy to change under us), ``FROM_CONFIG``
(a config field) and ``MANAGED`` (the lab's bookkeeping). A config's ``trl:`` mapping passes
further fields through; ``trl_problems`` refuses the ones these tables own, and a recipe field
it changes is recorded as a deviation.

As in TRL's own layout (``grpo_config.py`` imports nothing of ``grpo_trainer.py``), this
module imports nothing of the trainer, nor of ``rlvr.config``, whose check of a ``trl:``
mapping calls it: a config is taken as it comes (duck-typed), and TRL, which takes seconds
to import, only where a ``GRPOConfig`` is needed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import types
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from .env import world_size
from .fields import coerce

if TYPE_CHECKING:
    from trl import GRPOConfig


def batch_split(cfg, processes: int) -> tuple[int, int]:
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


# TRL's clip bounds that never act: the ratio clamped to [1 - 1, 1 + 1e9], and a ratio is positive and
# never near 1e9 (``ratio_clip: false``, the unclipped objective of Shao et al.'s control).
NO_CLIP = (1.0, 1e9)

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
    "model_init_kwargs": "the reference model's dtype (bfloat16 on a GPU) and device (the policy's)",
}


def trl_problems(cfg) -> list[str]:
    """What is wrong with ``cfg.trl``: keys that are no GRPOConfig field, keys a config
    field or the lab sets, values of the wrong type."""
    from trl import GRPOConfig  # noqa: PLC0415  (seconds to import: only where a trl: mapping is set)

    fields = {f.name: f for f in dataclasses.fields(GRPOConfig)}
    try:
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
    """Whether ``fields.coerce`` can check values of this type (plain types and their unions)."""
    if get_origin(hint) in (Union, types.UnionType):
        return all(_basic(a) for a in get_args(hint))
    return hint in (int, float, str, bool, type(None)) or get_origin(hint) in (list, dict)


def recipe_deviations(cfg) -> list[str]:
    """The recipe fields ``trl:`` changes, as sentences for run_config.json."""
    return [
        f"trl.{k}: {v!r} instead of the recipe's {RECIPE[k]!r}"
        if k in RECIPE
        else f"trl.{k}: {v!r} (TRL's default otherwise)"
        for k, v in cfg.trl.items()
    ]


def grpo_arguments(cfg, on_gpu: bool, processes: int = 1) -> dict[str, Any]:
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
        "epsilon": cfg.clip_epsilon if cfg.ratio_clip else NO_CLIP[0],
        "epsilon_high": (NO_CLIP[1] if not cfg.ratio_clip
                         else cfg.clip_epsilon if cfg.clip_epsilon_high is None else cfg.clip_epsilon_high),
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


def grpo_config(cfg, on_gpu: bool) -> GRPOConfig:
    """TRL's GRPOConfig for ``cfg`` on this machine."""
    from trl import GRPOConfig  # noqa: PLC0415  (seconds to import: a config's own checks do without it)

    processes = world_size()
    args = GRPOConfig(**grpo_arguments(cfg, on_gpu, processes))
    if args.world_size != processes:  # a launcher that does not set WORLD_SIZE: the batch would be off
        raise RuntimeError(
            f"WORLD_SIZE says {processes} processes, accelerate runs {args.world_size}; "
            "launch with `accelerate launch` (docs/gpu.md)"
        )
    # TRL loads the reference model with device_map="auto" unless DDP or DeepSpeed runs (it sets None
    # there), which spreads the reference of a lone process (or an FSDP process) over every visible GPU.
    args.model_init_kwargs = {**(args.model_init_kwargs or {}), "device_map": str(args.device)}
    return args


def _has_vllm() -> bool:
    return importlib.util.find_spec("vllm") is not None


def deviations(cfg) -> list[str]:
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
    if not cfg.ratio_clip:
        found.append("ratio_clip: false, the importance ratio unclipped (Shao et al.'s control for the clip's bias; "
                     "the paper clips at 0.2)")
    elif cfg.clip_epsilon_high is not None and cfg.clip_epsilon_high != cfg.clip_epsilon:
        found.append(f"clip_epsilon_high: {cfg.clip_epsilon_high:g}, an asymmetric clip (the paper's is "
                     f"{cfg.clip_epsilon:g} both ways)")
    if cfg.backend == "unsloth":
        found.append(
            "the loss is Unsloth's own function (unsloth_zoo's grpo_compute_loss), not TRL's: pg_loss_coef "
            "and advantage act on the advantages before it, the optimizer and the upper clip are set "
            "explicitly, and it keeps the entropy bonus; its k3 KL term is clamped to [-10, 10] as the "
            "paper's code clamps it, after clamping the log-ratio to [-20, 20] as later verl does "
            "(read in unsloth 2026.10.7, not run)"
        )
    elif cfg.beta > 0 and cfg.kl_penalty == "loss":
        found.append(KL_UNCLAMPED)
    return found


# TRL 1.14's k3 (GRPOTrainer._compute_loss) has no clamp; the paper's code (verl 0.2,
# core_algos.kl_penalty, "low_var_kl") returns torch.clamp(kld, min=-10, max=10).
KL_UNCLAMPED = (
    "the k3 KL term is TRL's, unclamped, where the paper's code (verl 0.2's low_var_kl) clamps it to "
    "[-10, 10]: a token whose log-probability lies more than 2.61 below the reference's, or 11 above it, "
    "adds its full k3 (over 10) and that term's gradient here, a constant 10 without gradient there"
)
