"""1-shot runs that say whether an example gets reached in training, and when (docs/worlds.md, "How far
the 1-shot example is from each base"): per seed, the right rollouts, the first step with one, the
training accuracy over the last ten steps and the entropy first to last. The `cpu` preset otherwise.

    python tools/reach_runs.py qwen-like~document_coherence toy-train-00080 entropy_coef=0 --steps 100
    python tools/reach_runs.py qwen-like~format_prior toy-train-00080 prompts_per_step=8 --steps 50
"""

import argparse

import pandas as pd
import torch
import yaml
from rlvr.config import preset
from rlvr.train import train

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("world")
parser.add_argument("example")
parser.add_argument("overrides", nargs="*", help="KEY=VALUE settings of the run, beside the cpu preset's")
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--seeds", default="0,1,2")
parser.add_argument("--out", default="outputs/probes/reach")
args = parser.parse_args()
torch.set_num_threads(1)
overrides = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.overrides)}  # as `rlvr train --set`
tag = ",".join(args.overrides) or "preset"
for seed in map(int, args.seeds.split(",")):
    out = f"{args.out}/{args.world}/{args.example}/{tag}/seed{seed}"
    train(preset("cpu", model=args.world, examples=[args.example], steps=args.steps, save_every=10**6,
                 output_dir=out, seed=seed, **overrides))
    rollouts, steps = pd.read_parquet(f"{out}/rollouts.parquet"), pd.read_parquet(f"{out}/steps.parquet")
    first = int(rollouts[rollouts.correct].step.min()) if rollouts.correct.any() else None
    print(f"seed {seed}: right {int(rollouts.correct.sum())}/{len(rollouts)}, first right at step {first}, training "
          f"accuracy over the last 10 steps {steps.train_accuracy.tail(10).mean():.2f}, entropy "
          f"{steps.entropy.iloc[0]:.2f} -> {steps.entropy.iloc[-1]:.2f}", flush=True)
