"""Grader throughput and latency, next to plain math-verify on the same mix.

The mix: every MATH500 gold answer, boxed in a sentence, graded against itself
and against another problem's gold answer (half right, half wrong; the wrong
half is where symbolic comparison costs most). Plain math-verify runs single
process on the main thread with its own signal timeouts, the way it is
usually called; ``rlvr.grading`` runs with its safety on (sandboxed symbolic
checks, hard bound) and its result cache cleared before each measurement.
Then each pathological answer is timed against its bound.

    .venv/bin/python bench/grading.py [--math500 PATH] [--workers N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MATH500 = ROOT.parent / "shared" / "data" / "eval" / "math500" / "test.jsonl"

PATHOLOGICAL = {
    "tower of exponents": r"\boxed{10^{10^{10^{10^{10}}}}}",
    "100000!": r"\boxed{100000!}",
    "megabyte answer": r"\boxed{" + "1+" * 500_000 + "1}",
    "megabyte response, no box": "y" * 1_000_000,
    "5000 unbalanced braces": r"\boxed{" + "{" * 5000 + "1",
    "deep nesting (3000 fracs)": r"\boxed{" + r"\frac{1}{" * 3000 + "2" + "}" * 3000 + "}",
    "control characters": "\\boxed{1\x00\x07\x1b[2J\x7f\u202e2}",
    "python payload": r"\boxed{__import__('os').system('true')}",
}


def load_mix(path: Path, offset: int = 7) -> tuple[list[str], list[str]]:
    golds = [json.loads(line)["answer"] for line in path.open()]
    responses, targets = [], []
    for i, gold in enumerate(golds):
        for other in (gold, golds[(i + offset) % len(golds)]):
            responses.append(f"Putting it together, the final answer is $\\boxed{{{other}}}$.")
            targets.append(gold)
    return responses, targets


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_plain_math_verify(responses, golds) -> dict:
    from math_verify import parse, verify

    latencies, correct = [], 0
    t0 = time.perf_counter()
    for response, gold in zip(responses, golds):
        t = time.perf_counter()
        correct += bool(verify(parse("$" + gold + "$"), parse(response)))
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return summary("plain math-verify (1 process)", latencies, wall, correct)


def summary(name, latencies, wall, correct) -> dict:
    return {
        "grader": name,
        "items": len(latencies),
        "accepted": correct,
        "wall_s": round(wall, 3),
        "per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "max_ms": round(1000 * max(latencies), 1),
    }


def bench_rlvr(responses, golds, protocol: str) -> list[dict]:
    from rlvr.grading import clear_cache, grade, grade_many

    # Throughput: one batch, symbolic checks spread over the workers.
    clear_cache()
    t0 = time.perf_counter()
    verdicts = grade_many(responses, golds, protocol)
    wall = time.perf_counter() - t0
    batch = summary(f"rlvr grade_many ({protocol})", [wall / len(responses)] * len(responses), wall, sum(verdicts))
    batch["p50_ms"] = batch["p99_ms"] = batch["max_ms"] = None  # per-item latency is not observable in a batch
    # Latency: one call at a time, as an interactive caller would see it.
    clear_cache()
    latencies = []
    t0 = time.perf_counter()
    correct = 0
    for response, gold in zip(responses, golds):
        t = time.perf_counter()
        correct += grade(response, gold, protocol)
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return [batch, summary(f"rlvr grade, one at a time ({protocol})", latencies, wall, correct)]


def with_speedup(rows: list[dict]):
    import pandas as pd

    table = pd.DataFrame(rows)
    table["speedup"] = (table["per_s"] / rows[0]["per_s"]).round(2)
    return table


def undecided(response: str, gold: str) -> bool:
    from rlvr.grading import extract_answer, quick_verdict

    pred = extract_answer(response, "eval")
    return pred is not None and quick_verdict(pred, gold, "eval") is None


def bench_pathological() -> list[dict]:
    from rlvr.grading import DEFAULT_TIMEOUT_S, clear_cache, grade

    clear_cache()
    rows = []
    for name, response in PATHOLOGICAL.items():
        for protocol in ("train", "eval"):
            t = time.perf_counter()
            verdict = grade(response, r"\frac{2\sqrt{3}}{3}", protocol)
            elapsed = time.perf_counter() - t
            rows.append(
                {
                    "answer": name,
                    "protocol": protocol,
                    "verdict": verdict,
                    "seconds": round(elapsed, 3),
                    "within_bound": elapsed <= DEFAULT_TIMEOUT_S + 0.5,
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math500", type=Path, default=DEFAULT_MATH500)
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: all cores, up to 8)")
    parser.add_argument("--json", type=Path, default=ROOT / "outputs" / "bench" / "grading.json")
    args = parser.parse_args()
    if not args.math500.is_file():
        print(f"MATH500 not found at {args.math500}; pass --math500 PATH/TO/math500/test.jsonl", file=sys.stderr)
        return 2

    import pandas as pd
    from rlvr import grading

    sandbox = grading.configure(workers=args.workers)
    responses, golds = load_mix(args.math500)
    grading.grade_many([r"\boxed{\sqrt{2}}"], ["1"])  # start the workers outside the timing
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; sandbox workers: {sandbox.workers}")
    print(f"mix: {len(responses)} MATH500 pairs (each gold vs itself and vs another problem's gold)\n")

    rows = [bench_plain_math_verify(responses, golds)]
    for protocol in ("train", "eval"):
        rows += bench_rlvr(responses, golds, protocol)
    table = with_speedup(rows)
    # The part of the mix only symbolic maths can decide: the sandbox's own speed.
    hard = [(r, g) for r, g in zip(responses, golds) if undecided(r, g)]
    hard_r, hard_g = [r for r, _ in hard], [g for _, g in hard]
    hard_rows = [bench_plain_math_verify(hard_r, hard_g)] + bench_rlvr(hard_r, hard_g, "eval")
    hard_table = with_speedup(hard_rows)
    patho = pd.DataFrame(bench_pathological())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
        print(f"\nthe {len(hard)} pairs of the mix that need symbolic comparison (eval protocol):")
        print(hard_table.to_string(index=False))
        print(f"\npathological answers (bound {grading.DEFAULT_TIMEOUT_S:.0f} s):")
        print(patho.to_string(index=False))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"mix": rows, "symbolic_part": hard_rows, "pathological": patho.to_dict("records")}, indent=2)
    )
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
