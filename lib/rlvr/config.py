"""Typed experiment configuration, validated at load, with named presets.

``paper`` is the reference code's recipe for Qwen2.5-Math-1.5B (paper
section 2, including the defaults hidden in verl); ``cpu`` is the embedded
default's small version. A params file (YAML) names a preset and overrides
fields; an unknown key or a bad value fails before anything runs, naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml


@dataclass
class TrainConfig:
    # What to train
    model: str = "toy-base"
    dataset: str = "toy-train"
    data_source: str | None = None  # a local file or folder (else $RLVR_DATA_DIR, else the hub)
    limit: int | None = None  # the first N problems of the dataset (a smaller pool)
    examples: list[str] | None = None  # ids of the 1-/few-shot examples; None: the whole dataset (or pool)
    example_rank: int | None = None  # pi_i: the i-th example by historical variance (needs history_file)
    history_file: str | None = None  # per-example accuracy history (reference JSON or a run's table)
    problem: str | None = None  # a free-text 1-shot problem...
    answer: str | None = None  # ...and its label
    label: str | None = None  # override the label of the chosen example(s) (Tab. 5 rows 11-13)
    label_noise: float = 0.0  # fraction of labels corrupted (Tab. 17)
    reward: str = "outcome"  # "outcome" or "format"
    # GRPO
    prompts_per_step: int = 128  # rollout batch in prompts; a 1-shot set is its example repeated this often
    rollouts_per_prompt: int = 8
    temperature: float = 0.6
    top_p: float = 1.0
    max_completion_length: int = 3072
    steps: int = 2000
    optimizer_steps_per_rollout: int = 1  # the reference code does 1; the paper's text says 8
    learning_rate: float = 1e-6
    weight_decay: float = 0.01
    beta: float = 0.001  # low-variance (k3) KL loss; 0 loads no reference model
    entropy_coef: float = 0.001  # entropy bonus (verl's hidden default)
    pg_loss_coef: float = 1.0  # 0: entropy-only training (Tab. 5 row 10)
    clip_epsilon: float = 0.2
    max_grad_norm: float = 1.0
    # Run
    seed: int = 0
    save_every: int = 20
    output_dir: str = "outputs/runs/default"
    backend: str = "auto"  # "auto", "transformers", "vllm", "unsloth"
    vllm_mode: str = "colocate"  # "colocate": vLLM inside each training process; "server": `trl vllm-serve`
    vllm_server_host: str = "0.0.0.0"  # server mode: where `trl vllm-serve` listens (TRL's defaults)
    vllm_server_port: int = 8000
    lora_rank: int = 0  # Unsloth fast path only (a deviation from the paper's full fine-tuning)
    report_to: list[str] = field(default_factory=list)  # e.g. ["tensorboard"], ["wandb"]
    threads: int | None = None  # CPU threads for torch (default: half the cores)

    def validate(self) -> TrainConfig:
        problems = []
        if self.reward not in ("outcome", "format"):
            problems.append(f"reward: {self.reward!r} is not 'outcome' or 'format'")
        if self.backend not in ("auto", "transformers", "vllm", "unsloth"):
            problems.append(f"backend: {self.backend!r} is not auto, transformers, vllm or unsloth")
        if self.vllm_mode not in ("colocate", "server"):
            problems.append(f"vllm_mode: {self.vllm_mode!r} is not 'colocate' or 'server'")
        elif self.vllm_mode == "server" and self.backend not in ("auto", "vllm"):
            # A server generates with vLLM; Unsloth runs its own engine in-process.
            problems.append(f"vllm_mode: 'server' generates with a vLLM server; it needs backend vllm (or auto), "
                            f"not {self.backend!r}")
        if not 1 <= self.vllm_server_port <= 65535:
            problems.append(f"vllm_server_port: {self.vllm_server_port} is not a port (1-65535)")
        if self.lora_rank < 0:
            problems.append(f"lora_rank: must not be negative, got {self.lora_rank}")
        elif self.backend == "unsloth" and self.lora_rank == 0:
            problems.append("lora_rank: backend 'unsloth' trains LoRA adapters and needs lora_rank > 0 (e.g. 64)")
        elif self.lora_rank > 0 and self.backend != "unsloth":
            # The paper fine-tunes all weights; LoRA is only offered where Unsloth needs it.
            problems.append(f"lora_rank: LoRA is offered only on the Unsloth path (backend: unsloth), "
                            f"not with backend {self.backend!r}; leave lora_rank at 0 for full fine-tuning")
        for name in ("prompts_per_step", "rollouts_per_prompt", "steps", "max_completion_length",
                     "optimizer_steps_per_rollout", "save_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.rollouts_per_prompt < 2:
            problems.append("rollouts_per_prompt: GRPO needs at least 2 rollouts per prompt")
        if self.prompts_per_step % self.optimizer_steps_per_rollout:
            problems.append("optimizer_steps_per_rollout: must divide prompts_per_step")
        # entropy_coef may be negative: Tab. 5 row 6 runs with -0.003 (entropy is then penalised).
        for name in ("temperature", "learning_rate", "beta", "pg_loss_coef", "clip_epsilon",
                     "max_grad_norm", "weight_decay"):
            if getattr(self, name) < 0:
                problems.append(f"{name}: must not be negative, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            problems.append(f"limit: must be at least 1, got {self.limit}")
        if not 0.0 <= self.label_noise <= 1.0:
            problems.append(f"label_noise: must be within [0, 1], got {self.label_noise}")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"top_p: must be within (0, 1], got {self.top_p}")
        if (self.problem is None) != (self.answer is None):
            problems.append("problem/answer: give both (a free-text example and its label) or neither")
        chosen = sum(x is not None for x in (self.examples, self.example_rank, self.problem))
        if chosen > 1:
            problems.append("examples/example_rank/problem: choose the training examples one way only")
        if self.example_rank is not None and (self.example_rank < 1 or not self.history_file):
            problems.append("example_rank: needs a rank >= 1 and a history_file to rank by")
        if problems:
            raise ValueError("invalid training config:\n  " + "\n  ".join(problems))
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The reference code's run for Qwen2.5-Math-1.5B (scripts/train/training_1.5b_pi1_r128.sh).
    "paper": {},
    # The embedded default on a CPU: minutes, not days. lr and temperature as the prototype found
    # them to work for a 0.9M-parameter model; KL off (no reference model to run). Responses get
    # the evaluation's 200 tokens, as the paper trains with its evaluation's 3072: a shorter training
    # budget truncates answers that run on, and truncation alone then teaches the format reward to stop.
    "cpu": dict(
        model="toy-base", dataset="toy-train", prompts_per_step=2, rollouts_per_prompt=8, temperature=1.0,
        max_completion_length=200, steps=100, learning_rate=5e-5, beta=0.0, entropy_coef=0.001,
        save_every=25, threads=1,
    ),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return from_dict({**PRESETS[name], **overrides})


def _coerce(name: str, value, hint):
    origin = get_origin(hint)
    allowed = get_args(hint) if origin is not None else (hint,)
    if value is None:
        if type(None) in allowed:
            return None
        raise ValueError(f"{name}: may not be empty")
    for typ in allowed:
        base = get_origin(typ) or typ
        if base is list and isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is float and isinstance(value, str):
            # YAML 1.1 reads `1e-4` (no dot) as a string; a number written that way is still meant.
            try:
                return float(value)
            except ValueError:
                pass
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if base is bool and isinstance(value, bool):
            return value
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed if t is not type(None))
    raise ValueError(f"{name}: {value!r} is not a valid {names}")


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A validated config from plain values; unknown keys are an error naming them."""
    hints = get_type_hints(TrainConfig)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
    kwargs = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    return TrainConfig(**kwargs).validate()


def load(path: str | Path, **overrides) -> TrainConfig:
    """A params file: ``preset: cpu`` (or ``paper``) plus any fields to override."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of settings, not {type(values).__name__}")
    name = values.pop("preset", "cpu")
    try:
        return preset(name, **{**values, **overrides})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
