"""The Unsloth fast path (``backend: unsloth``): LoRA on one GPU, rollouts by Unsloth's vLLM engine.

A deviation from the paper, which fine-tunes every weight: Unsloth's vLLM path
(``fast_inference=True``) trains LoRA adapters only, here of rank ``lora_rank``
with alpha = rank on the attention and MLP projections, over frozen 16-bit base
weights. Checkpoints hold the merged 16-bit model (what evaluation loads) and
the adapters in ``adapter/`` (what a resume loads); see ``RLVRTrainer._save``.

Unsloth itself is imported only when that backend is chosen (``prepare``), so the
CPU install never needs unsloth (or vllm); this module imports nothing that loads
transformers or TRL, and takes plain arguments, not a config. Unsloth patches
transformers and TRL on import and asks to be imported before them; ``rlvr.train``
imports transformers, so ``train()`` imports unsloth after it. Call ``prepare()``
first in a fresh process for the import order Unsloth wants (docs/gpu.md shows
how); not run here (no GPU, and unsloth is not installed in this project's CPU
machines).
"""

from __future__ import annotations

import importlib.util

# The reference code's prompt budget (verl data.max_prompt_length); with the completion
# length it sizes Unsloth's sequence buffers and vLLM's context.
PROMPT_TOKENS = 1024
# Share of GPU memory Unsloth's vLLM engine reserves (weights + KV cache); the rest trains
# the adapters. Lower it on out-of-memory.
GPU_MEMORY_UTILIZATION = 0.6
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def prepare() -> None:
    """Fail fast, before a run writes anything, where Unsloth cannot run; else import it."""
    import torch  # noqa: PLC0415  (seconds to import: the command line imports this module to start with it)

    problems = []
    if not torch.cuda.is_available():
        problems.append("Unsloth needs an NVIDIA GPU with CUDA, and torch sees none here")
    if importlib.util.find_spec("unsloth") is None:
        problems.append('unsloth is not installed: on a CUDA machine, `pip install -e ".[gpu]"`')
    if problems:
        raise RuntimeError(
            "backend 'unsloth' cannot run on this machine: " + "; ".join(problems)
            + ". Use backend 'transformers' (CPU) or 'vllm' (GPU, full fine-tuning as in the paper)."
        )
    try:
        import unsloth  # noqa: F401, PLC0415  (optional, GPU only; patches transformers and TRL as it loads)
    except Exception as exc:  # it raises more than ImportError where CUDA or its pins are off
        raise RuntimeError(f"unsloth is installed but does not import ({exc}); see docs/gpu-extra.md") from exc


def load_unsloth_model(model_path: str, *, max_seq_length: int, lora_rank: int, seed: int):
    """``(model, tokenizer)``: the base model at ``model_path`` (a hub id or a folder) in 16 bit with
    LoRA adapters of rank ``lora_rank`` (seeded by ``seed``) and a vLLM engine for sequences of up to
    ``max_seq_length`` tokens (``PROMPT_TOKENS`` plus the completion length)."""
    prepare()
    from unsloth import FastLanguageModel  # noqa: PLC0415  (optional, GPU only: after prepare's checks)

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=model_path,
        max_seq_length=max_seq_length,
        load_in_4bit=False,  # 16-bit base weights: LoRA, not QLoRA
        fast_inference=True,  # generation by Unsloth's vLLM engine, sharing the weights
        max_lora_rank=lora_rank,
        gpu_memory_utilization=GPU_MEMORY_UTILIZATION,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=lora_rank,
        lora_alpha=lora_rank,
        target_modules=LORA_TARGETS,
        use_gradient_checkpointing="unsloth",
        random_state=seed,
    )
    return model, tokenizer
