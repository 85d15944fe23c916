"""The table behind docs/predictions.md's follow-up results, from tools/followup_runs.sh's runs.

    .venv/bin/python tools/followup_table.py [name-prefix ...]

For each outputs/followups/<name>/seed<S>/ (a training run evaluated by `rlvr evaluate-run`): the best
checkpoint's strict accuracy per seed (the base is step 0), its boxed and running-on shares, and the
mechanism signals of the run's step table (rlvr.analysis.SIGNALS). Writes outputs/followups/summary.csv
(one row per run and seed) and prints the markdown table (mean ± std over seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from rlvr import analysis
from rlvr.rundir import load_run

ROOT = Path("outputs/followups")


def run_rows(run: Path) -> dict:
    scores = pd.concat([pd.read_csv(f) for f in sorted(run.glob("eval/step-*/per_benchmark.csv"))])
    best = analysis.best_step(scores[scores["step"] > 0].assign(condition=run.parent.name), "strict").iloc[0]
    base = scores[scores["step"] == 0].iloc[0]
    signals = analysis.mechanism_signals(load_run(run)["steps"].assign(condition=run.parent.name)).iloc[0]
    return {"name": run.parent.name, "seed": int(run.name.removeprefix("seed")), "base": base["strict"],
            "best_step": int(best["step"]), "strict": best["strict"], "boxed": best["boxed"],
            "run_on": best["run_on"], **{k: signals[k] for k in analysis.SIGNALS}}


def main(prefixes: list[str]) -> None:
    runs = [r for r in sorted(ROOT.glob("*/seed*")) if r.is_dir() and (r.parent / f"{r.name}.done").exists()
            and (not prefixes or r.parent.name.startswith(tuple(prefixes)))]
    table = pd.DataFrame([run_rows(r) for r in runs])
    table.to_csv(ROOT / "summary.csv", index=False)
    print(f"base strict: {table['base'].unique() * 100}")
    print("| run | strict, best checkpoint (%) per seed | mean ± std | boxed / runs on at best (%) | clipped tokens, "
          "off-policy updates (%) | all-wrong groups; their weight | entropy first → last |")
    print("|---|---|---|---|---|---|---|")
    for name, g in table.groupby("name", sort=False):
        s = g["strict"] * 100
        clipped = "on-policy" if g["clipped"].isna().all() else f"{g['clipped'].mean() * 100:.2f}"
        wrong = "-" if g["all_wrong_groups"].isna().all() else (
            f"{g['all_wrong_groups'].mean():.2f}; {g['all_wrong_weight'].mean():.2f}")
        print(f"| {name} | {', '.join(f'{v:.1f}' for v in s)} | {s.mean():.1f} ± {s.std():.1f} | "
              f"{g['boxed'].mean() * 100:.0f} / {g['run_on'].mean() * 100:.0f} | {clipped} | {wrong} | "
              f"{g['entropy_start'].mean():.2f} → {g['entropy_end'].mean():.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
