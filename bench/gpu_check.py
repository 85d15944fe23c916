"""The GPU check: a few steps of the lab's own GRPO trainer, `paper` preset, on a randomly
initialised model of Qwen2.5-Math-1.5B's architecture (built from its config: nothing downloaded).

One command for a machine with a CUDA GPU. For each generation path (``transformers``, then
``vllm`` and ``unsloth`` where those are installed), and then PPO on the transformers path (its
critic a float32 copy of the model: the memory a PPO run adds), it trains ``--steps`` steps of the paper
preset at a reduced batch and response length (``--prompts`` x 8 rollouts, ``--tokens`` new
tokens, so a path takes minutes) through ``rlvr.train.train``, each path in a fresh process, and
prints seconds a step, generated tokens a second, peak GPU memory and model FLOPs utilisation
(2 x parameters a generated token + 6 x parameters a trained token, plus 2 x for the reference
model's forward when beta > 0, and 8 x parameters a token for PPO's critic (its values at rollout time,
its forward and backward in training), over the GPU's dense bf16 peak; the first step, with CUDA's and
vLLM's warm-up, is left out). A path that is not installed is reported as never run; a path
that fails makes the check exit non-zero with its error.

    python bench/gpu_check.py                       # on the GPU machine
    python bench/gpu_check.py --tiny                # anywhere: a tiny shape on the CPU (a test runs this)
    python bench/gpu_check.py --paths transformers --json gpu-check.json
    python bench/gpu_check.py --algorithms grpo        # no PPO run

The random model's tokenizer is the embedded toy-base's, padded with filler tokens to the
architecture's 151,936 ids, so whatever the model samples decodes; its completions are noise,
every reward is 0, and the time is the recipe's, not a learning run's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "lib")]

PATHS = ("transformers", "vllm", "unsloth")
ALGORITHMS = ("grpo", "ppo")  # PPO runs on the transformers path: one more path adds no PPO code
PROBLEM = ("The pressure P exerted by wind on a sail varies jointly as the area A of the sail and the cube of the "
           "wind's velocity V. When the velocity is 8 miles per hour, the pressure on a sail of 2 square feet is "
           "4 pounds. Find the wind velocity when the pressure on 4 square feet of sail is 32 pounds.")


def build_model(folder: Path, tiny: bool) -> int:
    """A randomly initialised Qwen2.5-Math-1.5B-shaped model (or a tiny one) and a tokenizer that
    covers its ids, saved in ``folder``; returns the parameter count."""
    import torch
    from gpu_step import QWEN25_MATH_15B, TINY
    from rlvr.models import load_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    shape = TINY if tiny else QWEN25_MATH_15B
    tokenizer = load_tokenizer("toy-base")
    tokenizer.add_tokens([f"<r{i}>" for i in range(shape["vocab_size"] - len(tokenizer))])
    config = Qwen2Config(**shape, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def train_path(path: str, args, algorithm: str = "grpo") -> dict:
    """Train ``args.steps`` steps of ``algorithm`` through ``path`` in this process; the figures."""
    import pandas as pd
    import torch
    from gpu_step import peak_tflops
    from rlvr.config import preset
    from rlvr.train import train

    work = Path(tempfile.mkdtemp(prefix=f"gpu-check-{path}-{algorithm}-"))
    parameters = build_model(work / "model", args.tiny)
    overrides = dict(
        model=str(work / "model"), problem=PROBLEM, answer="12.8", prompts_per_step=args.prompts,
        max_completion_length=args.tokens, steps=args.steps, save_every=10**6, output_dir=str(work / "run"),
        backend=path, algorithm=algorithm,
    )
    if path == "unsloth":
        overrides["lora_rank"] = 64  # the Unsloth path trains LoRA adapters (docs/gpu.md)
    if args.tiny:
        overrides.update(gradient_checkpointing=False, fast_generation=False)
    cfg = preset("paper", **overrides)
    on_gpu = torch.cuda.is_available()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    train(cfg, progress=False)
    total = time.perf_counter() - t0
    steps = pd.read_json(work / "run" / "steps.jsonl", lines=True)
    timed = steps.iloc[1:] if len(steps) > 1 else steps  # the first step carries the warm-up
    rollouts = cfg.prompts_per_step * cfg.rollouts_per_prompt
    generated = float(timed["completions_mean_length"].mean()) * rollouts
    prompt = len(PROBLEM.split()) * 2  # a rough token count of the prompt: the trained tokens' small part
    seconds = float(timed["seconds"].mean())
    per_token = 6 + 2 * (cfg.beta > 0) + 8 * (algorithm == "ppo")
    flops = 2 * parameters * generated + per_token * parameters * (generated + prompt * rollouts)
    peak = peak_tflops(torch.device("cuda")) if on_gpu else None
    return {
        "path": path, "algorithm": algorithm, "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "parameters": parameters,
        "steps": len(steps), "rollouts_per_step": rollouts, "max_new_tokens": cfg.max_completion_length,
        "seconds_per_step": round(seconds, 3), "first_step_seconds": round(float(steps["seconds"].iloc[0]), 3),
        "generated_tokens_per_s": round(generated / seconds, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_gpu else None,
        "mfu": round(flops / seconds / (peak * 1e12), 4) if peak else None, "wall_seconds": round(total, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny shape on the CPU: checks the script anywhere")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS),
                        help="grpo: every path; ppo: the transformers path too (default both)")
    parser.add_argument("--steps", type=int, help="training steps a run (default 3; 2 with --tiny)")
    parser.add_argument("--prompts", type=int, help="prompts a step, 8 rollouts each (default 8; 2 with --tiny)")
    parser.add_argument("--tokens", type=int, help="new tokens a rollout (default 512; 16 with --tiny)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one path:algorithm, in this process
    args = parser.parse_args()
    for name, tiny, full in (("steps", 2, 3), ("prompts", 2, 8), ("tokens", 16, 512)):
        if getattr(args, name) is None:
            setattr(args, name, tiny if args.tiny else full)
    if args.child:
        path, algorithm = args.child.split(":")
        print(json.dumps(train_path(path, args, algorithm)))
        return 0

    import torch

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if unknown := sorted(set(paths) - set(PATHS)):
        parser.error(f"unknown path(s) {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    if unknown := sorted(set(algorithms) - set(ALGORITHMS)):
        parser.error(f"unknown algorithm(s) {', '.join(unknown)}; choose from {', '.join(ALGORITHMS)}")
    runs = [(path, "grpo") for path in paths if "grpo" in algorithms]
    runs += [("transformers", "ppo")] if "ppo" in algorithms and "transformers" in paths else []
    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA GPU here; run with --tiny to check the script on the CPU", file=sys.stderr)
        return 2
    results, failed = [], []
    for path, algorithm in runs:
        name = path if algorithm == "grpo" else f"{path}, {algorithm}"
        if path != "transformers" and importlib.util.find_spec(path) is None:
            print(f"{path}: not installed here, never ran (pip install -e '.[gpu]')", flush=True)
            results.append({"path": path, "algorithm": algorithm, "ran": False, "why": "not installed"})
            continue
        if args.tiny and path != "transformers":
            print(f"{path}: needs a GPU, not run with --tiny", flush=True)
            results.append({"path": path, "algorithm": algorithm, "ran": False, "why": "--tiny runs on the CPU"})
            continue
        command = [sys.executable, __file__, "--child", f"{path}:{algorithm}", "--steps", str(args.steps),
                   "--prompts", str(args.prompts), "--tokens", str(args.tokens), *(["--tiny"] if args.tiny else [])]
        print(f"{name}: {args.steps} steps of {args.prompts} x 8 rollouts, {args.tokens} new tokens ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        figures = next((json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith("{")),
                       None)
        if done.returncode != 0 or figures is None:
            error = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"{name}: FAILED (exit {done.returncode}): {error}", flush=True)
            print("\n".join(done.stderr.splitlines()[-20:]), file=sys.stderr)
            failed.append(name)
            results.append({"path": path, "algorithm": algorithm, "ran": False, "why": f"failed: {error}"})
            continue
        results.append({**figures, "ran": True})
        print(f"{name}: {figures['seconds_per_step']} s a step, {figures['generated_tokens_per_s']} generated "
              f"tokens/s, peak {figures['peak_memory_gib']} GiB, MFU {figures['mfu']} ({figures['device']})",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"error: the GPU check failed on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
