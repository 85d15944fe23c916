"""Padded tokens per real completion token, as TRL pads a rollout batch and as the lab's GPU path cuts it.

On GPUs the trainer groups a rollout batch's micro-batches by completion length and cuts each at its
own longest (``rlvr.trainer.length_grouped_micro_batches``); TRL shuffles them and pads every one to
the batch's longest. The ratio depends on the rollouts' lengths, not on the hardware, so this runs
the grouping on the CPU on real rollouts: ``--steps`` steps of the ``cpu`` preset on a 1-shot
example (toy-base's own lengths, up to 200 tokens) and on the full training set, with
``--micro-batch`` rollouts a micro-batch, and prints each step's two ratios from the step table.
The paper's settings (1,024 rollouts of up to 3,072 tokens in micro-batches of 2-4) are not
measured here: their length distribution needs the real model.

    .venv/bin/python bench/padding.py [--steps 10] [--micro-batch 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--micro-batch", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from rlvr.config import preset
    from rlvr.train import train
    from rlvr.trainer import RLVRTrainer

    RLVRTrainer.groups_by_length = lambda self: True  # the GPU path's batching, here on the CPU
    runs = {"1-shot (toy-train-00007)": dict(examples=["toy-train-00007"]),
            "full set (128 problems, 8 a step)": dict(limit=128, prompts_per_step=8)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in runs.items():
            cfg = preset("cpu", steps=args.steps, save_every=args.steps, micro_batch=args.micro_batch,
                         output_dir=str(Path(tmp) / name.split()[0]), **data)
            out = train(cfg, progress=False)
            steps = pd.read_parquet(out / "steps.parquet")
            rows.append({"run": name, "rollouts a step": cfg.prompts_per_step * cfg.rollouts_per_prompt,
                         "micro-batch": args.micro_batch,
                         "padded per real, cut (mean, max)": f"{steps['padded_per_real'].mean():.2f}, "
                                                            f"{steps['padded_per_real'].max():.2f}",
                         "as TRL pads (mean, max)": f"{steps['padded_per_real_uncut'].mean():.2f}, "
                                                    f"{steps['padded_per_real_uncut'].max():.2f}"})
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
