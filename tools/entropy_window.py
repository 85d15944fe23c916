"""Is there a window where entropy alone (Tab. 5 row 10) or the unguessable label (row 13) beats the base?

    rlvr sweep params/sweeps/entropy_budget.yaml      # the runs: 20 steps, every step evaluated
    .venv/bin/python tools/entropy_window.py

Per learning rate and row, over the sweep's seeds: strict accuracy at every step (mean of the seeds), the
best step's mean minus the base, the seeds' spread there, and the rollouts' token entropy and running-on
share at the first and last step. A window is a step whose mean beats the base by more than the spread.
Writes outputs/entropy_budget/window.csv (one row per learning rate, row and step).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OUT = Path("outputs/entropy_budget")


def main() -> None:
    frames = []
    for job in sorted(OUT.glob("train.learning_rate=*")):
        if not (job / "summary.csv").is_file():
            continue
        values = dict(part.split("=") for part in job.name.split(","))
        lr, seed = float(values["train.learning_rate"]), int(values["train.seed"])
        scores = pd.read_parquet(job / "scores.parquet")
        steps = pd.read_parquet(job / "steps.parquet")[["condition", "step", "entropy"]]
        frames.append(scores.merge(steps, on=["condition", "step"], how="left").assign(lr=lr, seed=seed))
    table = pd.concat(frames, ignore_index=True)
    table["row"] = table["condition"].str.extract(r"row (\d+)", expand=False).astype(int)
    per_step = (table.groupby(["lr", "row", "step"])
                .agg(strict=("strict", "mean"), spread=("strict", "std"), run_on=("run_on", "mean"),
                     boxed=("boxed", "mean"), entropy=("entropy", "mean"), seeds=("seed", "nunique"))
                .reset_index())
    per_step.to_csv(OUT / "window.csv", index=False)
    print("| learning rate | row | seeds | strict per step, 0-20 (mean of seeds, %) | best step: mean - base "
          "(spread) | window | running on, step 0 → 20 (%) | entropy, step 1 → 20 |")
    print("|---|---|---|---|---|---|---|---|")
    for (lr, row), g in per_step.groupby(["lr", "row"]):
        g = g.sort_values("step")
        base = g[g["step"] == 0]["strict"].iloc[0]
        trained = g[g["step"] > 0]
        best = trained.loc[trained["strict"].idxmax()]
        window = trained[trained["strict"] - base > trained["spread"].fillna(0)]
        print(f"| {lr:g} | {row} | {int(g['seeds'].max())} | {' '.join(f'{v * 100:.1f}' for v in g['strict'])} | "
              f"step {int(best['step'])}: {(best['strict'] - base) * 100:+.1f} ({best['spread'] * 100:.1f}) | "
              f"{'steps ' + ', '.join(map(str, window['step'].astype(int))) if len(window) else 'none'} | "
              f"{g['run_on'].iloc[0] * 100:.0f} → {g['run_on'].iloc[-1] * 100:.0f} | "
              f"{trained['entropy'].iloc[0]:.3f} → {trained['entropy'].iloc[-1]:.3f} |")


if __name__ == "__main__":
    main()
