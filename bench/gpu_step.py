"""One GRPO-shaped step on a randomly initialised model of Qwen2.5-Math-1.5B's shape, on a GPU.

What the paper's step costs in compute, without its weights (nothing is
downloaded): transformers' generate() samples ``rollouts`` completions of
``max_new_tokens`` for each of ``prompts`` random prompts (forced to full length,
so every row does the same work), then one forward/backward of a
clipped-ratio policy loss over prompt + completion in bfloat16 (float32 master
weights under autocast, as the trainer runs on a GPU) in micro-batches, and one
AdamW step. It prints seconds for each phase, generated tokens/s, peak memory
and the model FLOPs utilisation (2 x parameters a generated token, 6 x
parameters a trained token, over the GPU's dense bf16 peak).

    python bench/gpu_step.py                      # on a GPU: the 1.5B shape
    python bench/gpu_step.py --tiny --device cpu  # a few seconds on a CPU: checks the script
    python bench/gpu_step.py --skip-generation --max-new-tokens 3072 --micro-batch 16 --steps 1
                                                  # the paper's training memory at micro-batch 16

With ``--skip-generation`` the rollouts are random tokens of full length: the
training phase's memory and time without paying for the decoding. A phase that
runs out of GPU memory is reported (``"oom": true`` with the peak reached), not
raised, so one script can probe several micro-batches.

Needs only torch and transformers (the device machine has both).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

# Qwen2.5-Math-1.5B's config.json (hub revision of the paper's runs).
QWEN25_MATH_15B = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                       num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=4096,
                       rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
TINY = dict(vocab_size=400, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True)
# Dense bfloat16 peaks (TFLOP/s) for the MFU column; others print no MFU.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def rollouts(model, prompts, config, args) -> torch.Tensor:
    """Prompt + completion token ids, every completion ``max_new_tokens`` long."""
    if args.skip_generation:
        completions = torch.randint(1, config.vocab_size, (len(prompts), args.max_new_tokens), device=prompts.device)
        return torch.cat([prompts, completions], dim=1)
    model.eval()
    bf16 = prompts.device.type == "cuda"
    with torch.no_grad(), torch.autocast(prompts.device.type, dtype=torch.bfloat16, enabled=bf16):
        return model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=0.6,
                              top_k=0, max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                              pad_token_id=0)


def policy_update(model, optimizer, sequences, args, n: int) -> None:
    """One clipped-ratio policy-gradient step over all rollouts, in micro-batches (random advantages)."""
    model.train()
    device = sequences.device
    bf16 = device.type == "cuda"
    advantages = torch.randn(n, 1, device=device)
    for start in range(0, n, args.micro_batch):
        batch = sequences[start:start + args.micro_batch]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            # Logits for the completion positions only, as TRL asks for them (logits_to_keep).
            logits = model(batch, logits_to_keep=args.max_new_tokens + 1).logits[:, :-1].float()
        logp = logits.log_softmax(-1).gather(-1, batch[:, args.prompt_tokens:, None]).squeeze(-1)
        ratio = torch.exp(logp - logp.detach())
        adv = advantages[start:start + args.micro_batch]
        loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean() * len(batch) / n
        loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="a tiny model of the same architecture")
    parser.add_argument("--skip-generation", action="store_true", help="random full-length rollouts, no decoding")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    config = Qwen2Config(**(TINY if args.tiny else QWEN25_MATH_15B))
    with device:  # initialised where it runs: seconds, not a minute of CPU initialisation
        model = Qwen2ForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01)
    n = args.prompts * args.rollouts
    prompts = torch.randint(1, config.vocab_size, (args.prompts, args.prompt_tokens), device=device)
    prompts = prompts.repeat_interleave(args.rollouts, dim=0)
    rows = []
    for step in range(args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        try:
            sequences = rollouts(model, prompts, config, args)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            policy_update(model, optimizer, sequences, args, n)
            if device.type == "cuda":
                torch.cuda.synchronize()
        except torch.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            row = {"step": step, "params": params, "micro_batch": args.micro_batch, "oom": True,
                   "sequence_tokens": args.prompt_tokens + args.max_new_tokens,
                   "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            torch.cuda.empty_cache()
            break
        t2 = time.perf_counter()
        generated, trained = n * args.max_new_tokens, n * (args.prompt_tokens + args.max_new_tokens)
        flops = (0 if args.skip_generation else 2 * params * generated) + 6 * params * trained
        peak = peak_tflops(device)
        rows.append({
            "step": step, "params": params, "completions": n, "micro_batch": args.micro_batch,
            "sequence_tokens": args.prompt_tokens + args.max_new_tokens,
            "generation_s": None if args.skip_generation else round(t1 - t0, 2),
            "train_s": round(t2 - t1, 2), "step_s": round(t2 - t0, 2),
            "generated_tokens_per_s": None if args.skip_generation else round(generated / (t1 - t0), 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda"
            else None,
            "mfu": round(flops / (t2 - t0) / (peak * 1e12), 4) if peak else None,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        })
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
