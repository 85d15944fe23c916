"""Batched generation with transformers (the CPU backend, and the GPU fallback).

Prompts are already-rendered strings. Left padding keeps every prompt's end
aligned so one ``generate`` call serves a whole batch; generation stops at the
tokenizer's EOS (and any extra stop ids) or at ``max_new_tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from . import fastgen


def cpu_threads(requested: int | None = None) -> int:
    """Torch threads for CPU work: as requested, else half the logical cores.

    On a 2-core machine one thread ran several times faster than two whenever
    anything else was running (OpenMP threads spin-wait for a busy core;
    docs/benchmarks.md).
    """
    return requested or max(1, (os.cpu_count() or 2) // 2)


@dataclass
class Generation:
    prompt: str
    text: str
    n_tokens: int
    finished: bool  # stopped by EOS/stop id rather than cut at max_new_tokens


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
    stop_token_ids: Sequence[int] = (),
    progress=None,
    fast: bool = True,
) -> list[Generation]:
    """Generate one continuation per prompt; ``temperature == 0`` is greedy. ``fast``:
    sample with ``rlvr.fastgen`` where it covers the model (same outputs, less overhead)."""
    stops = sorted({tokenizer.eos_token_id, *stop_token_ids} - {None})
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    torch.manual_seed(seed)
    model.eval()
    out: list[Generation] = []
    for batch in _batches(list(prompts), batch_size):
        enc = tokenizer(list(batch), return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        sampling = (
            {"do_sample": True, "temperature": temperature, "top_p": top_p}
            if temperature > 0
            else {"do_sample": False}
        )
        if fast and fastgen.supports(model):
            ids = fastgen.sample(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=max_new_tokens,
                                 eos_token_ids=stops, pad_token_id=pad_id, temperature=temperature, top_p=top_p)
        else:
            ids = model.generate(
                **enc, max_new_tokens=max_new_tokens, eos_token_id=stops, pad_token_id=pad_id, top_k=None, **sampling
            )[:, enc["input_ids"].shape[1] :]
        for prompt, row in zip(batch, ids.tolist()):
            stop_at = next((i for i, t in enumerate(row) if t in stops), None)
            kept = row if stop_at is None else row[:stop_at]
            out.append(
                Generation(
                    prompt,
                    tokenizer.decode(kept, skip_special_tokens=True),
                    len(kept) + (stop_at is not None),
                    stop_at is not None,
                )
            )
        if progress is not None:
            progress.update(len(batch))
    return out
