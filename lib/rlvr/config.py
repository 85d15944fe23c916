"""The lab's one configuration language: ``TrainConfig``, ``EvalConfig`` and named presets.

Every setting of a training run or an evaluation is a field here, with its help
text and, where the set of values is closed, the registry that lists them
(``rlvr.registry``; prompt templates ``rlvr.prompts.TEMPLATES``). A notebook's ``train`` and ``eval`` parameters, a
params file, a sweep's ``train.<field>`` keys, ``--set`` and the widgets all
become overrides of these fields on top of a preset, so a field added here is
usable everywhere without another edit.

Configs are checked on construction (``__post_init__``, ``rlvr.fields``): every
value is coerced to its field's type (``"1e-4"`` for a float, ``"a,b"`` for a
list) and then validated, so ``dataclasses.replace`` checks too. An unknown key
or a bad value raises ``ValueError`` naming the key and what it accepts. A
``trl:`` mapping is checked against TRL's ``GRPOConfig`` (``rlvr.trl_args``).

This module sits at the bottom of the lab: it imports nothing of the trainer,
evaluation, sweeps or runner, and importing it loads none of torch,
transformers, TRL or datasets (TRL's fields are read when a ``trl:`` mapping is
checked).

Presets (``PRESETS``): ``paper``, the reference code's recipe for
Qwen2.5-Math-1.5B (paper section 2, including verl's hidden defaults) and the
Qwen2.5-Math evaluation (section 5), which are also the fields' defaults; and
``cpu``, the embedded default's small version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import registry
from .fields import Config, setting
from .prompts import TEMPLATES
from .trl_args import trl_problems

# ----------------------------------------------------------------------------- training


@dataclass
class TrainConfig(Config):
    """One GRPO training run. Defaults are the paper's recipe (the ``paper`` preset)."""

    renamed_settings = registry.RENAMED_SETTINGS

    # What to train
    model: str = setting("Qwen2.5-Math-1.5B", "a registered name (rlvr.models.MODELS), a hub id or a local folder")
    dataset: str = setting("dsr_sub", "the training set (and the pool the examples come from)",
                           choices=registry.DATASETS)
    data_source: str | None = setting(None, "a local data file or folder (else $RLVR_DATA_DIR, else the hub)")
    limit: int | None = setting(None, "the first N problems of the dataset only (a smaller pool)")
    examples: list[str] | None = setting(None, "ids of the 1-/few-shot examples; None: the whole dataset (or pool)")
    example_rank: int | None = setting(None, "pi_i: the i-th example by historical variance (needs history_file)")
    history_file: str | None = setting(None, "per-example accuracy history to rank by (reference JSON or a run's)")
    problem: str | None = setting(None, "a free-text 1-shot problem (with `answer`)")
    answer: str | None = setting(None, "the label of the free-text problem")
    label: str | None = setting(None, "override the label of the chosen example(s) (Tab. 5 rows 11-13)")
    label_noise: float = setting(0.0, "share of labels made wrong (Tab. 17)")
    reward: str = setting("outcome", "the reward function (rlvr.rewards.REWARDS)", choices=registry.REWARDS)
    reward_p: float = setting(0.5, "reward: random only: the probability of a reward of 1 per rollout")
    # GRPO (and PPO)
    algorithm: str = setting("grpo", "the RL algorithm (ALGORITHMS: grpo, ppo)", choices=registry.ALGORITHMS)
    prompts_per_step: int = setting(128, "rollout batch in prompts; a 1-shot set is its example repeated this often")
    rollouts_per_prompt: int = setting(8, "rollouts per prompt: the GRPO group size")
    temperature: float = setting(0.6, "sampling temperature of the rollouts")
    top_p: float = setting(1.0, "nucleus sampling of the rollouts")
    max_completion_length: int = setting(3072, "most tokens a rollout may generate")
    steps: int = setting(2000, "rollout steps (each a batch of prompts_per_step x rollouts_per_prompt)")
    optimizer_steps_per_rollout: int = setting(1, "optimizer steps per rollout batch (reference code 1; paper text 8)")
    learning_rate: float = setting(1e-6, "AdamW learning rate (constant, no warm-up)")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    beta: float = setting(0.001, "low-variance (k3) KL loss coefficient; 0 loads no reference model")
    entropy_coef: float = setting(0.001, "entropy bonus coefficient (verl's hidden default); negative penalises")
    pg_loss_coef: float = setting(1.0, "scale of the policy-gradient loss; 0: entropy/KL-only training (Tab. 5); "
                                       "0 with a negative entropy_coef: entropy minimisation without reward")
    advantage: str = setting("algorithm", "the policy gradient's advantages (rlvr.registry.ADVANTAGES: algorithm, "
                                          "algorithm-positive/-negative; Zhu et al.'s psr, nsr, w-reinforce)",
                             choices=registry.ADVANTAGES)
    positive_weight: float = setting(0.1, "advantage w-reinforce only: the weight of a right rollout (Zhu et al.'s "
                                          "lambda, 0.1 in their paper)")
    clip_epsilon: float = setting(0.2, "PPO clip range of the importance ratio")
    ratio_clip: bool = setting(True, "false: the importance ratio unclipped (Shao et al.'s control: their random "
                                     "reward's gain rests on the clip's bias); the clip acts only off-policy, with "
                                     "optimizer_steps_per_rollout > 1")
    gamma: float = setting(1.0, "PPO only: discount of GAE (verl's default for the paper's runs)", only_for="ppo")
    gae_lambda: float = setting(1.0, "PPO only: GAE's lambda (verl's default: advantages = return - value)",
                                only_for="ppo")
    critic_learning_rate: float = setting(1e-5, "PPO only: the critic's AdamW learning rate (verl's default)",
                                          only_for="ppo")
    value_clip: float = setting(0.5, "PPO only: how far the critic's new values may move from the rollout's "
                                     "in the value loss (verl's cliprange_value)", only_for="ppo")
    kl_penalty: str = setting("loss", "where the KL term (beta) goes (KL_PENALTIES: loss, the actor's k3 loss; "
                                      "reward, PPO only: in the token rewards, verl's PPO default)",
                              choices=registry.KL_PENALTIES, only_for="ppo")
    clip_epsilon_high: float | None = setting(
        None, "upper clip range of the ratio; None: clip_epsilon (symmetric, the paper's); e.g. 0.28: DAPO's "
              "clip-higher (said explicitly to TRL: Unsloth would otherwise set 0.28 with the dapo loss)")
    max_grad_norm: float = setting(1.0, "gradient-norm clip")
    trl: dict[str, Any] = setting(
        help="further trl.GRPOConfig fields, passed through (e.g. loss_type, top_entropy_quantile, "
             "mask_truncated_completions); a field this config sets already is refused, naming the setting to use",
        factory=dict)
    # Run
    seed: int = setting(0, "seed of sampling, shuffling and label noise")
    save_every: int = setting(20, "a checkpoint every this many rollout steps")
    output_dir: str = setting("outputs/runs/default", "the run folder", affects_results=False)
    backend: str = setting("auto", "how rollouts are generated (rlvr.registry.TRAINING_BACKENDS)",
                           choices=registry.TRAINING_BACKENDS)
    vllm_mode: str = setting("colocate", "vLLM inside each training process, or a `trl vllm-serve` server",
                             choices=registry.VLLM_MODES)
    vllm_server_host: str = setting("0.0.0.0", "server mode: where `trl vllm-serve` listens", affects_results=False)
    vllm_server_port: int = setting(8000, "server mode: its port", affects_results=False)
    lora_rank: int = setting(0, "LoRA rank, Unsloth path only (a deviation from the paper's full fine-tuning)")
    fast_generation: bool = setting(
        True, "sample rollouts with rlvr.fastgen where it covers the model (a CPU Qwen2): generate()'s sampling, "
              "less overhead; false: transformers' generate()", affects_results=False)
    micro_batch: int = setting(
        16, "most completions in one forward/backward pass (each process's share of the batch is cut into "
            "micro-batches that divide it): memory, not results", affects_results=False)
    gradient_checkpointing: bool = setting(
        True, "recompute activations in the backward pass: less memory, more time (TRL's default)",
        affects_results=False)
    report_to: list[str] = setting(help="experiment trackers, e.g. [tensorboard], [wandb]", factory=list,
                                   affects_results=False)
    threads: int | None = setting(None, "CPU threads for torch (default: half the cores)", affects_results=False)

    @property
    def optimizer_steps(self) -> int:
        """The run's length in optimizer steps, which its checkpoints and step table count."""
        return self.steps * self.optimizer_steps_per_rollout

    def problems(self) -> list[str]:
        problems = []
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name}: must be between 0 and 1, got {getattr(self, name)}")
        for name in ("critic_learning_rate", "value_clip"):
            if getattr(self, name) <= 0:
                problems.append(f"{name}: must be positive, got {getattr(self, name)}")
        if self.advantage in registry.REWARD_ADVANTAGES and self.algorithm != "grpo":
            problems.append(f"advantage: {self.advantage!r} is Zhu et al.'s objective on the rewards alone (no "
                            f"critic, no group normalisation); with algorithm {self.algorithm!r} use advantage "
                            "algorithm, algorithm-positive or algorithm-negative")
        if not 0 < self.positive_weight <= 1:
            problems.append(f"positive_weight: must be within (0, 1], got {self.positive_weight}")
        elif self.positive_weight != type(self).positive_weight and self.advantage != "w-reinforce":
            problems.append(f"positive_weight: weighs W-REINFORCE's right rollouts only; with advantage "
                            f"{self.advantage!r} it changes nothing: set advantage w-reinforce, or leave it out")
        if not self.ratio_clip and self.clip_epsilon_high is not None:
            problems.append("clip_epsilon_high: the clip's upper range, but ratio_clip is false (no clip): "
                            "leave one of them out")
        if self.kl_penalty == "reward" and self.algorithm != "ppo":
            problems.append("kl_penalty: 'reward' puts the KL in token rewards, which only PPO's GAE reads; "
                            "use algorithm ppo, or kl_penalty loss")
        if self.algorithm == "ppo" and self.backend == "unsloth":
            problems.append("algorithm: ppo trains a full critic beside the policy; the Unsloth path (LoRA) has "
                            "none: use backend vllm, transformers or auto")
        if self.vllm_mode == "server" and self.backend not in ("auto", "vllm"):
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
        problems += self._below(1, "prompts_per_step", "rollouts_per_prompt", "steps", "max_completion_length",
                                "optimizer_steps_per_rollout", "save_every", "limit", "micro_batch")
        if self.rollouts_per_prompt < 2:
            problems.append("rollouts_per_prompt: GRPO needs at least 2 rollouts per prompt")
        if self.optimizer_steps_per_rollout >= 1 and self.prompts_per_step % self.optimizer_steps_per_rollout:
            problems.append("optimizer_steps_per_rollout: must divide prompts_per_step")
        # entropy_coef may be negative: entropy is then penalised (entropy minimisation).
        problems += self._below(0, "temperature", "learning_rate", "beta", "pg_loss_coef", "clip_epsilon",
                                "max_grad_norm", "weight_decay")
        if not 0.0 <= self.reward_p <= 1.0:
            problems.append(f"reward_p: must be within [0, 1], got {self.reward_p}")
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
        if self.trl:
            problems += trl_problems(self)  # imports TRL: only paid for where TRL knobs are used
        return problems


# ----------------------------------------------------------------------------- evaluation

GREEDY = {"n_samples": 1, "temperature": 0.0}
AVG_AT_8 = {"n_samples": 8, "temperature": 0.6}
# The Qwen2.5-Math evaluation's decoding per benchmark (paper section 5); others are greedy.
PAPER_DECODING = {
    "math500": GREEDY,
    "minerva_math": GREEDY,
    "olympiadbench": GREEDY,
    "aime24": AVG_AT_8,
    "aime25": AVG_AT_8,
    "amc23": AVG_AT_8,
}


@dataclass
class EvalConfig(Config):
    """What to evaluate and how; defaults are the paper's protocol. ``None`` fields take
    each benchmark's own value from the protocol (``PAPER_DECODING``)."""

    benchmarks: list[str] = setting(help="evaluation sets (registered datasets)",
                                    factory=lambda: list(registry.EVAL_BENCHMARKS), choices=registry.DATASETS)
    n_samples: int | None = setting(None, "samples per problem (default: 1 greedy; avg@8 on AIME/AMC)")
    temperature: float | None = setting(None, "sampling temperature (default: 0 greedy; 0.6 for avg@8)")
    top_p: float = setting(1.0, "nucleus sampling")
    max_new_tokens: int = setting(3072, "most tokens an answer may have")
    seed: int = setting(0, "sampling seed")
    template: str | None = setting(None, "prompt template (default: the model's own, rlvr.prompts.TEMPLATES)",
                                   choices=TEMPLATES)
    backend: str = setting("auto", "generation backend (rlvr.registry.BACKENDS)", choices=registry.BACKENDS,
                           affects_results=False)
    dtype: str | None = setting(None, "weights' dtype (default: the dtype the base model ships in)")
    limit: int | None = setting(None, "the first N problems of each benchmark")
    data_source: str | None = setting(None, "a local data folder (else $RLVR_DATA_DIR, else the hub)")
    batch_size: int = setting(32, "prompts per generation batch", affects_results=False)
    demos: list[tuple[str, str]] = setting(help="in-context demos (question, worked answer) before every question "
                                                "(Tab. 16)", factory=list)

    def problems(self) -> list[str]:
        problems = []
        if not self.benchmarks:
            problems.append("benchmarks: name at least one")
        problems += self._below(1, "max_new_tokens", "batch_size", "n_samples", "limit")
        problems += self._below(0, "temperature")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"top_p: must be within (0, 1], got {self.top_p}")
        return problems

    def decoding(self, benchmark: str) -> dict:
        base = PAPER_DECODING.get(benchmark, GREEDY)
        return {
            "n_samples": self.n_samples if self.n_samples is not None else base["n_samples"],
            "temperature": self.temperature if self.temperature is not None else base["temperature"],
            "top_p": self.top_p,
        }


# ----------------------------------------------------------------------------- presets

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The reference code's run for Qwen2.5-Math-1.5B (scripts/train/training_1.5b_pi1_r128.sh) and the
    # Qwen2.5-Math evaluation: the fields' defaults.
    "paper": {"train": {}, "eval": {}},
    # The embedded default on a CPU: minutes, not days. lr and temperature as tuned for a 0.9M-parameter
    # model (docs/results-toy.md); KL off (no reference model to run). PPO's critic at 1e-4, not verl's
    # 1e-5: at 1e-5 a 0.9M-parameter critic barely moves in 100 steps and the full-set PPO run learns half
    # of GRPO's gain (1e-5 / 1e-4 / 1e-3 on seed 0: 27.2 / 42.2 / 43.8%; docs/results-toy.md). Responses get
    # the evaluation's 200 tokens, as the paper trains with its evaluation's 3072: a shorter training
    # budget truncates answers that run on, and truncation alone then teaches the format reward to stop.
    "cpu": {
        "train": dict(model="toy-base", dataset="toy-train", prompts_per_step=2, rollouts_per_prompt=8,
                      temperature=1.0, max_completion_length=200, steps=100, learning_rate=5e-5, beta=0.0,
                      entropy_coef=0.001, save_every=25, threads=1, gradient_checkpointing=False,
                      critic_learning_rate=1e-4),
        # 128 prompts a batch: fewer, larger matmuls per generated token on a CPU (same greedy answers).
        "eval": dict(benchmarks=["toy-test"], max_new_tokens=200, batch_size=128),
    },
}


def _preset(name: str) -> dict[str, dict[str, Any]]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _from_preset(cls, part: str, name: str, overrides: Mapping, where: str = ""):
    return cls.from_dict({**_preset(name)[part], **overrides}, where)


def preset(name: str, **overrides) -> TrainConfig:
    """The training preset ``name`` with ``overrides`` applied."""
    return _from_preset(TrainConfig, "train", name, overrides)


def eval_preset(name: str, **overrides) -> EvalConfig:
    """The evaluation preset ``name`` with ``overrides`` applied."""
    return _from_preset(EvalConfig, "eval", name, overrides)


def load_params(path: str | Path, **overrides) -> TrainConfig:
    """A training params file: ``preset: cpu`` (or ``paper``) plus the fields that differ."""
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
        return preset(name, **merge(values, overrides))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def merge(base: Mapping, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` applied; nested mappings merge key by key (``train: {trl: {...}}``)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def nest(dotted: Mapping[str, Any]) -> dict:
    """``{"train.learning_rate": 1e-4}`` -> ``{"train": {"learning_rate": 1e-4}}`` (undotted keys as they are)."""
    nested: dict = {}
    for key, value in dotted.items():
        *parents, last = str(key).split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part!r} is given both as a value and as a mapping")
        node[last] = merge(node[last], value) if isinstance(node.get(last), dict) and isinstance(value, Mapping) \
            else value
    return nested


def preset_configs(preset_name: str, train: Mapping | None = None, eval: Mapping | None = None,
            where: str = "") -> tuple[TrainConfig, EvalConfig]:
    """The ``(TrainConfig, EvalConfig)`` of a preset with a notebook's ``train`` and ``eval`` overrides."""
    prefix = f"{where}: " if where else ""
    return (_from_preset(TrainConfig, "train", preset_name, train or {}, f"{prefix}train"),
            _from_preset(EvalConfig, "eval", preset_name, eval or {}, f"{prefix}eval"))
