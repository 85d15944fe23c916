"""Seconds per GRPO step on the CPU preset: TRL's trainer, before and after the fast path, and plain torch.

Every GRPO row does the same work per step on ``toy-base`` and pi-like 1-shot data
(the ``cpu`` preset: 2 prompts x 8 rollouts, up to 200 new tokens, temperature
1.0): generate the groups, score them with the outcome reward, one
forward/backward of the clipped policy loss with the entropy bonus, one
optimizer step. Seeded alike, the rows draw the same rollouts (the fast sampler
draws what generate() draws), so they time the same tokens.

- TRL with transformers' generate() and gradient checkpointing (TRL's defaults);
- TRL as the ``cpu`` preset runs it: ``rlvr.fastgen`` sampling, no checkpointing;
- plain torch with generate(), and plain torch with ``rlvr.fastgen``: a minimal
  decode-and-update loop written out here, the floor for eager PyTorch on this machine;
- PPO on the TRL row's settings: the same plus the critic's values and update (``rlvr.ppo``);
- the arithmetic floor: the step's FLOPs (every row's own tokens, no padding) at the
  rate one thread reaches on the step's largest matrix product.

TRL steps are split into generation, reward and the rest (forward/backward,
optimizer, TRL's bookkeeping) by timing its methods.

    .venv/bin/python bench/grpo_step.py [--steps 12] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "toy-train-00007"


def timed(obj, name: str, bucket: dict):
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - t0

    setattr(obj, name, wrapper)


def bench_trl(steps: int, out: Path, label: str, length_groups: bool = True, **overrides) -> dict:
    from rlvr import trainer as engine
    from rlvr.callbacks import StepTable
    from rlvr.config import preset
    from rlvr.data import training_dataset
    from rlvr.models import load_model, load_tokenizer
    from rlvr.rundir import ROLLOUTS_LOG, RunLog
    from rlvr.train import TRAINERS, run_rewards
    from rlvr.trl_args import grpo_config

    torch.manual_seed(0)
    cfg = preset("cpu", examples=[EXAMPLE], steps=steps, save_every=10_000, output_dir=str(out), **overrides)
    dataset = training_dataset(cfg)
    log, by_step = RunLog(out), {}
    trainer = TRAINERS[cfg.algorithm](
        model=load_model("toy-base", dtype="float32"), reward_funcs=run_rewards(cfg),
        args=grpo_config(cfg, on_gpu=False), train_dataset=dataset, processing_class=load_tokenizer("toy-base"),
        callbacks=[StepTable(log, by_step)], config=cfg, run_log=log, by_step=by_step,
    )
    bucket: dict[str, float] = {}
    timed(trainer, "_generate", bucket)
    timed(trainer, "_calculate_rewards", bucket)
    group_rows = engine.LENGTH_GROUP_ROWS
    engine.LENGTH_GROUP_ROWS = group_rows if length_groups else 10**9  # off: TRL scores the padded batch
    t0 = time.perf_counter()
    try:
        trainer.train()
    finally:
        engine.LENGTH_GROUP_ROWS = group_rows
    total = time.perf_counter() - t0
    tokens = sum(r["n_tokens"] for r in log.read(ROLLOUTS_LOG))
    generation, reward = bucket.get("_generate", 0.0), bucket.get("_calculate_rewards", 0.0)
    return {
        "implementation": label, "steps": steps,
        "s_per_step": round(total / steps, 3), "tokens_per_s": round(tokens / total, 1),
        "generation_share": round(generation / total, 3), "reward_share": round(reward / total, 3),
        "rest_share": round(1 - (generation + reward) / total, 3),
    }


def attention_flops(model, shape) -> int:
    """Forward FLOPs of causal attention's two products for a [batch, length] input."""
    batch, length = shape
    return 2 * model.config.num_hidden_layers * batch * length * length * model.config.hidden_size


def gemm_rate(seconds: float = 1.0) -> float:
    """FLOP/s of one thread on the step's largest matrix product (a group's MLP input projection)."""
    a, b = torch.randn(4 * 246, 128), torch.randn(128, 768)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] * count / (time.perf_counter() - t0)


def bench_plain(steps: int, fast: bool) -> dict:
    from rlvr import fastgen
    from rlvr.config import preset
    from rlvr.data import training_dataset
    from rlvr.models import load_model, load_tokenizer
    from rlvr.prompts import training_prompt
    from rlvr.rewards import outcome_reward

    torch.manual_seed(0)
    cfg = preset("cpu", examples=[EXAMPLE])
    model, tok = load_model("toy-base", dtype="float32"), load_tokenizer("toy-base")
    row = training_dataset(cfg)[0]
    prompt = training_prompt(row["prompt"][0]["content"].removesuffix(
        " Let's think step by step and output the final answer within \\boxed{}."), tok)
    n = cfg.prompts_per_step * cfg.rollouts_per_prompt
    enc = tok([prompt] * n, return_tensors="pt", add_special_tokens=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    times = {"generation": 0.0, "reward": 0.0, "train": 0.0}
    # Every matrix product's weights (the embedding lookup is not a product; the head is).
    body_params = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    body_params += 0 if "lm_head.weight" in dict(model.named_parameters()) else model.lm_head.weight.numel()
    flops = {"generation": 0.0, "train": 0.0}
    tokens = 0
    t_start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            if fast:
                completion = fastgen.sample(model, enc["input_ids"], enc["attention_mask"],
                                            max_new_tokens=cfg.max_completion_length,
                                            eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id,
                                            temperature=cfg.temperature)
            else:
                seqs = model.generate(**enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                                      max_new_tokens=cfg.max_completion_length, pad_token_id=tok.pad_token_id)
                completion = seqs[:, enc["input_ids"].shape[1]:]
        seqs = torch.cat([enc["input_ids"], completion], dim=1)

        mask = torch.ones_like(completion, dtype=torch.float)
        for i, r in enumerate(completion.tolist()):  # up to and including the first EOS
            if tok.eos_token_id in r:
                mask[i, r.index(tok.eos_token_id) + 1:] = 0
        t1 = time.perf_counter()
        texts = tok.batch_decode([c[: int(m.sum())] for c, m in zip(completion, mask)], skip_special_tokens=True)
        rewards = torch.tensor(outcome_reward(prompts=[prompt] * n, completions=texts, answer=[row["answer"]] * n))
        groups = rewards.view(-1, cfg.rollouts_per_prompt)
        adv = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-4)).view(-1, 1)
        t2 = time.perf_counter()
        model.train()
        # Scored in groups of similar length, each cut at its longest completion (as the trainer does).
        lengths = mask.sum(1)
        optimizer.zero_grad()
        total_tokens = mask.sum()
        for rows in torch.argsort(lengths).split(4):
            keep = int(lengths[rows].max())
            part, part_mask = completion[rows, :keep], mask[rows, :keep]
            ids = torch.cat([enc["input_ids"][rows], part], dim=1)
            logits = model(ids).logits[:, enc["input_ids"].shape[1] - 1 : -1] / cfg.temperature
            logp_all = logits.log_softmax(-1)
            logp = logp_all.gather(-1, part.unsqueeze(-1)).squeeze(-1)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
            ratio = torch.exp(logp - logp.detach())
            pg = -torch.min(ratio * adv[rows], ratio.clamp(1 - cfg.clip_epsilon, 1 + cfg.clip_epsilon) * adv[rows])
            loss = ((pg - cfg.entropy_coef * entropy) * part_mask).sum() / total_tokens
            loss.backward()
            flops["train"] += 6 * body_params * ids.numel() + 3 * attention_flops(model, ids.shape)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        t3 = time.perf_counter()
        times["generation"] += t1 - t0
        times["reward"] += t2 - t1
        times["train"] += t3 - t2
        tokens += int(mask.sum())
        prompt_length = enc["input_ids"].shape[1]
        for length in mask.sum(1).tolist():  # each row's own tokens only: the arithmetic a step cannot avoid
            context = prompt_length + length
            flops["generation"] += 2 * body_params * context + attention_flops(model, (1, context))
    total = time.perf_counter() - t_start
    return {
        "implementation": f"plain torch, {'rlvr.fastgen (the floor)' if fast else 'generate()'}", "steps": steps,
        "s_per_step": round(total / steps, 3), "tokens_per_s": round(tokens / total, 1),
        "generation_share": round(times["generation"] / total, 3), "reward_share": round(times["reward"] / total, 3),
        "rest_share": round(times["train"] / total, 3),
        "gflop_per_step": round((flops["generation"] + flops["train"]) / steps / 1e9, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--json", type=Path, default=ROOT / "outputs" / "bench" / "grpo_step.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            bench_trl(args.steps, Path(tmp) / "a", "TRL, generate() + checkpointing", length_groups=False,
                      fast_generation=False, gradient_checkpointing=True),
            bench_trl(args.steps, Path(tmp) / "b", "TRL, cpu preset (rlvr.fastgen)"),
            # PPO on the same engine: a critic's forward on each rollout batch, its update beside the actor's.
            bench_trl(args.steps, Path(tmp) / "c", "TRL, cpu preset, PPO (critic + GAE)", algorithm="ppo"),
            bench_plain(args.steps, fast=False),
            bench_plain(args.steps, fast=True),
        ]
    table = pd.DataFrame(rows)
    before, after, floor = rows[0]["s_per_step"], rows[1]["s_per_step"], rows[4]["s_per_step"]
    ratio = after / floor
    rate = gemm_rate()
    arithmetic = rows[4]["gflop_per_step"] * 1e9 / rate
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    print(f"\nTRL step, cpu preset: {after:.3f} s, {before / after:.2f}x faster than generate() + checkpointing "
          f"({before:.3f} s); {ratio:.2f}x the hand-written loop ({floor:.3f} s)")
    print(f"PPO step, cpu preset: {rows[2]['s_per_step']:.3f} s, {rows[2]['s_per_step'] / after:.2f}x the GRPO step")
    print(f"arithmetic floor: {rows[4]['gflop_per_step']} GFLOP a step (every row's own tokens, no padding) at "
          f"{rate / 1e9:.1f} GFLOP/s (one thread, the step's largest matrix product) = {arithmetic:.3f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "speedup": before / after, "over_floor": ratio,
                                     "gemm_gflops": rate / 1e9, "arithmetic_floor_s": arithmetic}, indent=2))
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
