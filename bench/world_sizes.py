"""What a world's model size costs on this CPU: pretraining seconds a step (and the 1300-step build
that makes), and sampling throughput with ``rlvr.fastgen`` (what every GRPO step and evaluation pays),
for each size of ``rlvr.registry.WORLD_SIZES``, on randomly initialised weights at one thread.

Sampling runs a fixed 200 tokens a row (no end token is honoured), so each size decodes the same
tokens and the figures compare arithmetic, not answer lengths.

    .venv/bin/python bench/world_sizes.py [--steps 30] [--rows 64] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from rlvr import fastgen  # noqa: E402
from rlvr.registry import WORLD_SIZES  # noqa: E402
from rlvr.toyworld.corpus import make_corpus  # noqa: E402
from rlvr.toyworld.model import PretrainConfig, pack, qwen2_config  # noqa: E402
from rlvr.toyworld.tokenizer import load_toy_tokenizer  # noqa: E402
from rlvr.toyworld.world import CHECKPOINT  # noqa: E402
from transformers import Qwen2ForCausalLM  # noqa: E402


def measure(size: str, steps: int, rows: int, tokenizer, data: torch.Tensor) -> dict:
    cfg = PretrainConfig.for_size(size)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(qwen2_config(tokenizer, cfg))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps + 3):  # three warm-up steps, untimed
        if step == 3:
            t0 = time.perf_counter()
        batch = data[(step * cfg.batch_size) % (len(data) - cfg.batch_size):][: cfg.batch_size]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    per_step = (time.perf_counter() - t0) / steps
    model.eval()
    prompt = torch.full((rows, 24), tokenizer.pad_token_id + 1 if tokenizer.pad_token_id is not None else 5)
    mask = torch.ones_like(prompt)
    t0 = time.perf_counter()
    ids = fastgen.sample(model, prompt, mask, max_new_tokens=200, eos_token_ids=[], pad_token_id=0, temperature=1.0)
    wall = time.perf_counter() - t0
    return {"size": size, "parameters": model.num_parameters(), "pretrain_s_per_step": round(per_step, 3),
            "build_pretrain_min": round(per_step * PretrainConfig.steps / 60, 1),
            "sample_tokens_per_s": round(ids.numel() / wall, 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a build runs
    tokenizer = load_toy_tokenizer(CHECKPOINT)
    data = pack(make_corpus(2000), tokenizer, PretrainConfig.seq_len)
    rows = [measure(size, args.steps, args.rows, tokenizer, data) for size in WORLD_SIZES]
    for row in rows:
        print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
