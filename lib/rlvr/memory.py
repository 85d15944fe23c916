"""What a GPU run needs before it loads anything: a driver its CUDA can start on, and the memory.

``estimate(cfg, shape, launch, gpu_gib)`` is a training run's peak GPU memory per process, term by
term, by arithmetic from the config and the model's shape (its ``config.json``), in each phase of a
step: generation (vLLM awake, or transformers' KV cache), the update (one micro-batch's forward and
backward; the no-grad scoring passes hold less) and the optimizer step. ``train()`` refuses a run
whose estimate exceeds the GPU before it loads anything; ``rlvr train PARAMS --dry-run`` prints it.
What the terms assume, read in TRL 1.14.2, transformers 5.17.0 and accelerate 1.15.0:

- One process, DDP or FSDP: accelerate's native bf16 autocast over the lab's float32 master weights,
  and accelerate converts the model's outputs to float32, so the full-vocabulary logits of a
  micro-batch's completion tokens are float32. TRL's fused log-prob/entropy kernel keeps them for
  its backward and allocates their gradient beside them: two float32 copies at the backward's
  start. DeepSpeed runs the model in bf16 without autocast or that conversion: two bf16 copies.
- Activations (no gradient checkpointing), bytes a token a layer under autocast: the two RMSNorms
  keep their float32 input and output (2 x 8h), q/k/v and gate/up each keep their own bf16 cast of
  the normed input (6h + 4h), attention keeps q (RoPE's float32 cos promotes it; the bf16 cast 2h),
  k and v (2 x 2kv), its output (2h) and o_proj's contiguous input (2h), the MLP four bf16 tensors of
  width i (8i): 32h + 4kv + 8i; plus the bf16 casts of the weights, which the graph keeps. With
  checkpointing each layer keeps its float32 input (4h) and one layer is recomputed in the backward.
- The PPO critic (``rlvr.ppo``) runs in float32 without autocast (40h + 8kv + 16i a token a layer),
  on the actor's micro-batch while the actor's graph is alive, checkpointed like the actor.
- vLLM colocated holds ``vllm_gpu_memory_utilization`` of the whole device while awake; sleep mode
  (level 2 in TRL) gives back its weights and KV cache while the policy updates.
- A stated allowance, not derived: 1 GiB for the CUDA context and library workspaces (outside
  torch's allocator) and 5% of the tensors for the caching allocator's fragmentation.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .config import TrainConfig
from .env import world_size
from .trl_args import batch_split
from .unsloth_path import PROMPT_TOKENS

GIB = 2**30
CONTEXT_GIB = 1.0  # CUDA context, cuBLAS/NCCL workspaces: a stated allowance
FRAGMENTATION = 0.05  # the caching allocator's slack over the tensors it holds: a stated allowance
SHARDINGS = ("none", "zero2", "zero3", "fsdp")
# TRL's defaults (GRPOConfig) for the vLLM settings a config's `trl:` mapping may change.
TRL_VLLM_SHARE, TRL_SLEEP = 0.3, False
# The oldest Linux driver each CUDA major release starts on (NVIDIA's CUDA toolkit release notes).
DRIVER_FLOOR = {12: 525, 13: 580}


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer's sizes, as its ``config.json`` names them."""

    hidden: int
    layers: int
    vocab: int
    heads: int
    kv_heads: int
    intermediate: int
    tied: bool = True  # the output head shares the embedding's weights
    qkv_bias: bool = True  # Qwen2's q/k/v projections have biases

    def __post_init__(self):
        for name in ("hidden", "layers", "vocab", "heads", "kv_heads", "intermediate"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a whole number >= 1, got {getattr(self, name)!r}")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} must divide hidden {self.hidden}, kv_heads {self.kv_heads} heads")

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        """From a ``config.json`` mapping (its text part, for a multimodal model)."""
        config = config.get("text_config") or config
        keys = {"hidden": "hidden_size", "layers": "num_hidden_layers", "vocab": "vocab_size",
                "heads": "num_attention_heads", "intermediate": "intermediate_size"}
        if missing := [k for k in keys.values() if k not in config]:
            raise ValueError(f"the model's config has no {', '.join(missing)}: its memory cannot be estimated")
        values = {name: config[key] for name, key in keys.items()}
        return cls(**values, kv_heads=config.get("num_key_value_heads") or values["heads"],
                   tied=bool(config.get("tie_word_embeddings", False)),
                   qkv_bias=bool(config.get("attention_bias", config.get("model_type") == "qwen2")))

    @classmethod
    def of(cls, model: str) -> ModelShape:
        """A registered name's, folder's or hub id's shape (its config.json; the hub's through transformers)."""
        from .models import model_config  # noqa: PLC0415 - loads torch and transformers: only where a shape is read

        config = model_config(model)
        if config is None:
            raise ValueError(f"could not read {model!r}'s config.json (a folder, a hub id or a registered name)")
        return cls.from_config(config)

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.hidden // self.heads

    @property
    def layer_params(self) -> int:
        h, kv = self.hidden, self.kv_dim
        attention = h * h + 2 * h * kv + h * h + ((h + 2 * kv) if self.qkv_bias else 0)
        return attention + 3 * h * self.intermediate + 2 * h  # + gate, up, down; two norms

    @property
    def params(self) -> int:
        head = 0 if self.tied else self.vocab * self.hidden
        return self.vocab * self.hidden + self.layers * self.layer_params + self.hidden + head

    def per_token(self, dtype: str) -> int:
        """Bytes one layer keeps for its backward, a token: ``autocast`` (bf16 over float32 weights),
        ``bf16`` (bf16 weights, DeepSpeed) or ``float32`` (no autocast: the PPO critic)."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return {"autocast": 32 * h + 4 * kv + 8 * i, "bf16": 24 * h + 4 * kv + 8 * i,
                "float32": 40 * h + 8 * kv + 16 * i}[dtype]


@dataclass(frozen=True)
class Launch:
    """How many training processes share the run, one a GPU, and how their state is sharded."""

    processes: int = 1
    sharding: str = "none"  # none (one process or DDP), zero2, zero3 (DeepSpeed), fsdp

    def __post_init__(self):
        if not isinstance(self.processes, int) or self.processes < 1:
            raise ValueError(f"processes: must be a whole number >= 1, got {self.processes!r}")
        if self.sharding not in SHARDINGS:
            raise ValueError(f"sharding: one of {', '.join(SHARDINGS)}, got {self.sharding!r}")

    @classmethod
    def from_accelerate_config(cls, path: str | Path) -> Launch:
        """What an ``accelerate launch --config_file`` file says (configs/accelerate/)."""
        values = yaml.safe_load(Path(path).read_text()) or {}
        kind = values.get("distributed_type", "NO")
        sharding = {"DEEPSPEED": f"zero{values.get('deepspeed_config', {}).get('zero_stage', 2)}",
                    "FSDP": "fsdp"}.get(kind, "none")
        if sharding not in SHARDINGS:
            raise ValueError(f"{path}: the preflight knows ZeRO stages 2 and 3, not {sharding}")
        return cls(int(values.get("num_processes", 1)), sharding)

    @classmethod
    def from_environment(cls) -> Launch:
        """This process's launch, from what ``accelerate launch`` sets in each process."""
        env = os.environ
        sharding = "none"
        if env.get("ACCELERATE_USE_DEEPSPEED") == "true":
            sharding = f"zero{env.get('ACCELERATE_DEEPSPEED_ZERO_STAGE', '2')}"
        elif env.get("ACCELERATE_USE_FSDP") == "true":
            sharding = "fsdp"
        return cls(world_size(), sharding if sharding in SHARDINGS else "none")

    @property
    def deepspeed(self) -> bool:
        return self.sharding.startswith("zero")


@dataclass(frozen=True)
class Term:
    name: str
    bytes: float
    why: str


@dataclass(frozen=True)
class Estimate:
    """The terms of each phase of a step, on one GPU of ``gpu_gib``."""

    phases: dict[str, list[Term]]
    gpu_gib: float
    notes: tuple[str, ...] = ()

    def tensors(self, phase: str) -> float:
        return sum(t.bytes for t in self.phases[phase])

    def allowance(self, phase: str) -> float:
        vllm = sum(t.bytes for t in self.phases[phase] if t.name.startswith("vLLM"))
        return CONTEXT_GIB * GIB + FRAGMENTATION * (self.tensors(phase) - vllm)

    def total(self, phase: str) -> float:
        return self.tensors(phase) + self.allowance(phase)

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=self.total)

    @property
    def peak_gib(self) -> float:
        return self.total(self.peak_phase) / GIB

    @property
    def fits(self) -> bool:
        return self.peak_gib <= self.gpu_gib

    def report(self) -> str:
        lines = []
        for phase, terms in self.phases.items():
            lines.append(f"{phase}:")
            lines += [f"  {t.bytes / GIB:7.2f} GiB  {t.name}: {t.why}" for t in terms]
            lines.append(f"  {self.allowance(phase) / GIB:7.2f} GiB  allowance (stated, not derived): "
                         f"{CONTEXT_GIB:g} GiB CUDA context + {FRAGMENTATION:.0%} of the tensors for fragmentation")
            tensors = self.tensors(phase) / GIB
            lines.append(f"  {self.total(phase) / GIB:7.2f} GiB  total ({tensors:.2f} GiB of tensors)")
        verdict = "fits" if self.fits else "does NOT fit"
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"peak {self.peak_gib:.1f} GiB ({self.peak_phase}): {verdict} a {self.gpu_gib:g} GiB GPU")
        return "\n".join(lines)


def generation_path(cfg: TrainConfig) -> str:
    """Where rollouts are generated on a GPU: ``vllm`` (colocated), ``server`` or ``transformers``."""
    if cfg.vllm_mode == "server":
        return "server"
    return "transformers" if cfg.backend == "transformers" else "vllm"


def vllm_settings(cfg: TrainConfig) -> tuple[float, bool]:
    """(vLLM's share of the GPU, sleep mode) as TRL will run them."""
    return (float(cfg.trl.get("vllm_gpu_memory_utilization", TRL_VLLM_SHARE)),
            bool(cfg.trl.get("vllm_enable_sleep_mode", TRL_SLEEP)))


def estimate(cfg: TrainConfig, shape: ModelShape, launch: Launch = Launch(), gpu_gib: float = 80.0, *,
             prompt_tokens: int = PROMPT_TOKENS, generation: str | None = None) -> Estimate:
    """Peak memory per GPU of ``cfg``'s training run. ``prompt_tokens``: the longest prompt (TRL pads
    to it; default the reference code's cap, 1024). ``generation``: ``vllm`` (colocated), ``server``
    (vLLM on other GPUs), ``transformers``; default from the config (``auto``: vLLM, as on a GPU
    machine with the gpu extra)."""
    if cfg.backend == "unsloth":
        raise ValueError("the memory preflight covers TRL's full fine-tuning; the Unsloth path (LoRA, its own "
                         "loss and vLLM engine) is not estimated")
    generation = generation or generation_path(cfg)
    micro, _ = batch_split(cfg, launch.processes)
    p, n, gpu = shape.params, launch.processes, gpu_gib * GIB
    share, sleep = vllm_settings(cfg)
    amp = not launch.deepspeed  # accelerate's autocast and its float32 outputs (not under DeepSpeed)
    whole = launch.sharding == "none"  # float32 weights under autocast; sharded runs compute in bf16 weights
    every = {"zero2": (1, n, n), "zero3": (n, n, n), "fsdp": (n, n, n)}.get(launch.sharding, (1, 1, 1))
    w_div, g_div, o_div = every

    weights = (Term("policy weights", 2 * p / w_div, f"bf16 under DeepSpeed, {_split(w_div)}") if launch.deepspeed
               else Term("policy weights", 4 * p / w_div, f"float32 master weights, {_split(w_div)}"))
    grads = Term("gradients", 4 * p / g_div, f"float32, {_split(g_div)}")
    moments = 8 + (4 if launch.deepspeed else 0)  # DeepSpeed keeps a float32 master copy in its optimizer
    optimizer = Term("AdamW state", moments * p / o_div, f"float32 moments{' + master' * launch.deepspeed}, "
                                                         f"{_split(o_div)}")
    persistent = [weights, optimizer]
    if cfg.beta > 0:
        ref_div = n if launch.sharding in ("zero3", "fsdp") else 1
        persistent.append(Term("reference model", 2 * p / ref_div, f"bf16 (beta > 0), {_split(ref_div)}"))
    critic = []
    if cfg.algorithm == "ppo":
        # The base model with a one-output token head instead of the output head, float32, on every process.
        c = p + shape.hidden - (0 if shape.tied else shape.vocab * shape.hidden)
        persistent.append(Term("critic weights + AdamW", 12 * c, "float32, replicated on every process"))
        critic = [Term("critic gradients", 4 * c, "float32")]
    if launch.sharding in ("zero3", "fsdp"):
        unit = max(shape.layer_params, shape.vocab * shape.hidden)
        persistent.append(Term("gathered weights", 2 * 2 * unit, "the largest unit gathered in bf16, and the next"))

    vllm = Term("vLLM", share * gpu, f"colocated: {share:g} of the GPU (weights + KV cache)")
    sequence = prompt_tokens + cfg.max_completion_length
    if generation == "vllm":
        generating = [vllm]
    elif generation == "transformers":
        rows = cfg.prompts_per_step * cfg.rollouts_per_prompt // n
        kv = rows * sequence * shape.layers * shape.kv_dim * ((4 if whole else 2) + 2)
        sampling = 2 * rows * shape.vocab * 4
        generating = [Term("KV cache", kv, f"transformers' generate(), {rows} rollouts x {sequence} tokens"
                                           f"{' (keys float32 after RoPE)' if whole else ''}"),
                      Term("sampling buffers", sampling, "the last position's float32 logits and probabilities")]
    else:
        generating = []
    awake = [vllm] if generation == "vllm" and not sleep else []

    tokens = micro * sequence
    logits_bytes = 4 if amp else 2
    logits = micro * cfg.max_completion_length * shape.vocab * logits_bytes
    dtype = "autocast" if whole else "bf16"
    casts = 2 * shape.vocab * shape.hidden if whole else 0  # the output head's bf16 weight cast
    if cfg.gradient_checkpointing:
        saved = shape.layers * (4 if whole else 2) * shape.hidden * tokens
        what = f"checkpointed: each layer's input, {micro} x {sequence} tokens"
        recompute = shape.per_token(dtype) * tokens + (2 * shape.layer_params if whole else 0)
    else:
        saved = shape.layers * shape.per_token(dtype) * tokens
        casts += 2 * shape.layers * shape.layer_params if whole else 0
        what = f"every layer's, {micro} x {sequence} tokens ({shape.per_token(dtype):,} bytes a token a layer)"
        recompute = 0
    saved += (8 if whole else 6) * shape.hidden * tokens  # the final norm's
    update = [*persistent, grads, *critic, *awake, Term("activations", saved, what)]
    if casts:
        update.append(Term("weight casts", casts, "bf16 copies of the weights the graph keeps (autocast)"))
    update += [Term("logits", logits, f"{micro} x {cfg.max_completion_length} x {shape.vocab:,} "
                                     f"{'float32 (accelerate makes outputs float32)' if amp else 'bf16'}")]
    backward = Term("logits' gradient", logits, "the fused log-prob kernel's, beside the logits")
    if recompute > logits:
        backward = Term("layer recomputed", recompute, "gradient checkpointing's, in the backward")
    if critic:
        c_tokens = shape.per_token("float32") * tokens
        c_saved = shape.layers * 4 * shape.hidden * tokens + c_tokens if cfg.gradient_checkpointing \
            else shape.layers * c_tokens
        if max(c_saved, 4 * c) > backward.bytes:  # its pass, or its foreach AdamW step
            backward = Term("critic pass", max(c_saved, 4 * c), "float32, while the actor's graph waits")
    update.append(backward)

    optimizer_step = [*persistent, grads, *critic, *awake]
    if not launch.deepspeed:  # torch's foreach AdamW: one parameter-sized float32 intermediate (its sqrt)
        optimizer_step.append(Term("AdamW step", 4 * p / o_div, "foreach intermediate, float32"))
    notes = [f"micro-batch {micro} on each of {n} process(es), {launch.sharding} sharding"]
    if generation == "vllm":
        kv_seq = 2 * shape.layers * shape.kv_dim * 2 * sequence
        fits = int((share * gpu - 2 * p) // kv_seq)
        notes.append(f"vLLM's share holds its bf16 weights and KV cache for ~{max(fits, 0)} full-length rollouts "
                     f"at once; sleep mode {'on' if sleep else 'off'}")
    return Estimate({"generation": [*persistent, *generating], "update": update, "optimizer step": optimizer_step},
                    gpu_gib, tuple(notes))


def _split(div: int) -> str:
    return "whole on each GPU" if div == 1 else f"a 1/{div} shard"


def suggestions(cfg: TrainConfig, shape: ModelShape, launch: Launch = Launch(), gpu_gib: float = 80.0,
                **kwargs) -> list[str]:
    """Settings that fit (``--set`` overrides), largest micro-batch first: with the config's vLLM
    settings, with sleep mode, and with a smaller vLLM share."""
    share, sleep = vllm_settings(cfg)
    colocated = generation_path(cfg) == "vllm" and kwargs.get("generation") in (None, "vllm")
    options = [(share, sleep), (share, True), (min(share, 0.2), True)] if colocated else [(share, sleep)]
    found, largest = [], 0
    per_process = math.prod(batch_split(cfg, launch.processes))  # a process's completions an optimizer step
    for vllm_share, vllm_sleep in dict.fromkeys(options):
        for micro in sorted((d for d in range(1, cfg.micro_batch + 1) if per_process % d == 0), reverse=True):
            trl = {**cfg.trl, "vllm_gpu_memory_utilization": vllm_share, "vllm_enable_sleep_mode": vllm_sleep} \
                if colocated else cfg.trl
            candidate = replace(cfg, micro_batch=micro, trl=trl)
            if estimate(candidate, shape, launch, gpu_gib, **kwargs).fits:
                if micro <= largest:  # a costlier setting is named only where it buys a larger micro-batch
                    break
                largest = micro
                sets = [f"micro_batch={micro}"] if micro != cfg.micro_batch else []
                sets += ["trl.vllm_enable_sleep_mode=true"] if vllm_sleep != sleep else []
                sets += [f"trl.vllm_gpu_memory_utilization={vllm_share:g}"] if vllm_share != share else []
                found.append(" ".join(f"--set {s}" for s in sets))
                break
    return found


def preflight(cfg: TrainConfig, launch: Launch, gpu_gib: float, shape: ModelShape | None = None) -> Estimate:
    """The estimate of ``cfg`` on this launch's GPUs; a ``MemoryError`` naming settings that fit where it
    would not fit."""
    shape = shape or ModelShape.of(cfg.model)
    found = estimate(cfg, shape, launch, gpu_gib)
    if not found.fits:
        fixes = suggestions(cfg, shape, launch, gpu_gib)
        hint = ("; settings that fit: " + " | ".join(fixes)) if fixes else "; no micro-batch or vLLM setting fits"
        raise MemoryError(f"{found.report()}\nthis run would run out of GPU memory{hint}")
    return found


def dry_run(cfg: TrainConfig, gpu_gib: float, launch_file: Path | None) -> int:
    """``rlvr train --dry-run``: print the estimate and the verdict; 0 if it fits, 1 if not."""
    launch = Launch.from_accelerate_config(launch_file) if launch_file else Launch()
    try:
        print(preflight(cfg, launch, gpu_gib).report())
    except MemoryError as exc:
        print(exc)
        return 1
    return 0


# ----------------------------------------------------------------------------- the driver


def nvidia_driver_version() -> str | None:
    """The NVIDIA kernel driver's version (``580.95.05``), None where there is none."""
    proc = Path("/proc/driver/nvidia/version")
    if proc.is_file():
        for word in proc.read_text().split():
            if word[:1].isdigit() and word.count(".") >= 1:
                return word
    if smi := shutil.which("nvidia-smi"):
        result = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.split()[0]
    return None


def check_cuda_driver() -> None:
    """Where torch's CUDA cannot start on this machine's NVIDIA driver, a ``RuntimeError`` naming the
    driver found and the one needed (torch would otherwise fall back to the CPU with a warning).
    Nothing on a CPU build of torch or on a machine without an NVIDIA driver."""
    import torch  # noqa: PLC0415 - seconds to import: only where a run starts

    cuda = torch.version.cuda
    if not cuda or torch.cuda.is_available():  # the driver is asked only where CUDA failed to start
        return
    driver = nvidia_driver_version()
    if driver is None:
        return
    major = int(cuda.split(".")[0])
    floor = DRIVER_FLOOR.get(major)
    if floor is not None and int(driver.split(".")[0]) < floor:
        raise RuntimeError(f"CUDA cannot start: torch {torch.__version__} is built for CUDA {cuda}, which needs "
                           f"an NVIDIA driver {floor} or newer; this machine's is {driver}. Update the driver "
                           "(docs/gpu-extra.md), or install a torch built for an older CUDA.")
