"""The ``rlvr`` command line.

``rlvr demo``: grade a handful of responses to the paper's pi_1 example both
ways the paper does (training reward, evaluation), including hostile ones, then
let the embedded toy base model answer a few held-out problems and grade those;
tables go to ``outputs/quickstart/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# pi_1 (DSR-sub index 124): true label 12.8; the base model answers 12.7 most of the time.
DEMO_GOLD = "12.8"
DEMO_RESPONSES = [
    ("boxed, right", r"The pressure is $P = kAV^3$ ... so $V = \sqrt[3]{2048} = \boxed{12.8}$."),
    ("boxed, trailing zero", r"Therefore $V=\boxed{12.80}$ miles per hour."),
    ("boxed, as a fraction", r"$V = \boxed{\frac{64}{5}}$"),
    ("boxed, with units", r"$\boxed{12.8 \text{ mph}}$"),
    ("boxed, wrong (12.7)", r"Rounding, the wind speed is $\boxed{12.7}$."),
    ("no box, 'the answer is'", "So the answer is 12.8."),
    ("no box, last number", "The wind must blow at 12.8 miles per hour"),
    ("empty box", r"The answer is \boxed{}. 12.8"),
    ("unclosed box", r"The answer is \boxed{12.8"),
    ("hostile: tower of powers", r"\boxed{10^{10^{10^{10^{10}}}}}"),
    ("hostile: 10^6 unbalanced braces", r"\boxed{" + "{" * 1_000_000),
    ("hostile: python code", r"\boxed{__import__('os').system('echo pwned')}"),
]


def demo(out_dir: Path) -> int:
    import pandas as pd

    from .grading import extract_answer, grade
    from .rewards import format_reward, outcome_reward

    rows = []
    for label, response in DEMO_RESPONSES:
        row = {"case": label}
        for protocol in ("train", "eval"):
            t0 = time.perf_counter()
            row[f"{protocol}_answer"] = (extract_answer(response, protocol) or "")[:24]
            row[f"{protocol}_correct"] = grade(response, DEMO_GOLD, protocol)
            row[f"{protocol}_ms"] = round(1000 * (time.perf_counter() - t0), 1)
        rows.append(row)
    table = pd.DataFrame(rows)
    responses = [r for _, r in DEMO_RESPONSES]
    table["outcome_reward"] = outcome_reward(
        prompts=["pi_1"] * len(responses), completions=responses, answer=[DEMO_GOLD] * len(responses)
    )
    table["format_reward"] = format_reward(prompts=["pi_1"] * len(responses), completions=responses)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "grading_demo.csv"
    table.to_csv(path, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"Grading responses to pi_1 (gold answer {DEMO_GOLD}) by the paper's two protocols:\n")
        print(table.to_string(index=False))
    print(f"\nwritten: {path}")
    toy_demo(out_dir)
    return 0


def toy_demo(out_dir: Path, n: int = 8) -> None:
    """The embedded base model answers held-out problems; both protocols grade them."""
    import pandas as pd
    import torch

    from .data import load_dataset
    from .models import load
    from .toyworld.profile import answer_table

    torch.set_num_threads(1)
    model, tokenizer = load("toy-base")
    problems = [dict(row) for row in load_dataset("toy-test", limit=n)]
    table = answer_table(model, tokenizer, problems)
    path = out_dir / "toy_base_answers.csv"
    table.to_csv(path, index=False)
    shown = table.assign(response=table["response"].str.slice(0, 70))[["domain", "answer", "response", "strict", "eval"]]
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(f"\nThe embedded base model (toy-base) on {n} held-out toy-test problems")
        print("(strict = the training reward: last box right; eval = the paper's evaluation):\n")
        print(shown.to_string(index=False))
    print(f"\nwritten: {path}")


def _eval_config(args):
    from .evaluate import EvalConfig

    config = EvalConfig(
        max_new_tokens=args.max_new_tokens, seed=args.seed, backend=args.backend, limit=args.limit,
        data_source=args.data, n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p,
        template=args.template, dtype=args.dtype, batch_size=args.batch_size,
    )
    if args.benchmarks:
        config.benchmarks = args.benchmarks.split(",")
    return config


def _print_summary(table) -> None:
    from .evaluate import summarize

    summary = summarize(table)
    print(summary["per_benchmark"].to_string(index=False))
    print(summary["average"].to_string(index=False))


def evaluate_command(args) -> int:
    import re

    from .evaluate import evaluate, save

    config = _eval_config(args)
    table = evaluate(args.model, config)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", args.model.strip("/"))[-80:]
    out = save(table, args.out or Path("outputs/eval") / name, config, {"model": args.model})
    _print_summary(table)
    print(f"\nwritten: {out}")
    return 0


def evaluate_run_command(args) -> int:
    from .evaluate import evaluate_checkpoints, select_checkpoint

    table = evaluate_checkpoints(args.run, _eval_config(args), every=args.every, base_model=args.base, out_dir=args.out)
    if table.empty:
        print(f"no checkpoint-<step> folders in {args.run}")
        return 1
    _print_summary(table)
    print("\n" + select_checkpoint(table).to_string(index=False))
    return 0


def _overrides(pairs: list[str]) -> dict:
    import yaml

    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        values[key.strip()] = yaml.safe_load(value)
    return values


def train_command(args) -> int:
    from .config import load

    try:
        cfg = load(args.params, **_overrides(args.set))
        if cfg.backend == "unsloth":
            # Unsloth must be imported before transformers and TRL to patch them.
            from .unsloth_path import prepare

            prepare()
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .train import train

    out = train(cfg, resume=not args.fresh)
    print(f"run written to {out} (steps.parquet, rollouts.parquet, samples.parquet, checkpoint-*/)")
    return 0


def headline_command(args) -> int:
    from .experiments import headline

    summary = headline(args.params, args.out, seeds=args.seeds)
    with __import__("pandas").option_context("display.width", 200):
        print(summary.round(3).to_string(index=False))
    print(f"\nwritten: {args.out}/results.csv, {args.out}/summary.csv")
    return 0


def select_command(args) -> int:
    from .selection import load_history, ranking_table

    table = ranking_table(load_history(args.history))
    print(table.head(args.top).to_string(index=False))
    return 0


def sweep_command(args) -> int:
    from .sweep import load_sweep, run_sweep

    try:
        sweep = load_sweep(args.sweep)
        if args.parallel is not None and args.parallel < 1:
            raise ValueError(f"--parallel must be >= 1, got {args.parallel}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_sweep(sweep, parallel=args.parallel, dry_run=args.dry_run)
    if args.dry_run:
        return 0
    with __import__("pandas").option_context("display.width", 200, "display.max_columns", 30):
        print("\n" + result.summary.to_string(index=False))
    print(f"\nwritten: {sweep.out_dir / 'summary.csv'}")
    print(f"{len(result.done)} ran, {len(result.skipped)} skipped (complete), {len(result.failed)} failed")
    for name, error in result.failed.items():
        print(f"FAILED {name}: {error} (see {sweep.out_dir / name / 'notebook.ipynb'})", file=sys.stderr)
    return 1 if result.failed else 0


def notebook_command(args) -> int:
    import papermill

    from .sweep import run_notebook

    name = args.notebook
    path = Path(name) if name.endswith(".ipynb") else next(iter(sorted(Path("notebooks").glob(f"{name}*.ipynb"))), None)
    if path is None:
        print(f"error: no notebook matches {name!r} in notebooks/ (e.g. 00_quickstart)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        out = run_notebook(path, args.params, _overrides(args.set), args.out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except papermill.PapermillExecutionError as exc:
        print(f"error: the notebook failed: {exc.ename}: {exc.evalue}", file=sys.stderr)
        return 1
    print(f"\nexecuted in {time.perf_counter() - t0:.0f} s: {out / 'notebook.ipynb'}")
    for figure in sorted(out.glob("*.png")):
        print(f"figure: {figure}")
    if (out / "summary.csv").is_file():
        print(f"table:  {out / 'summary.csv'}")
    return 0


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmarks", help="comma-separated (default: the paper's six)")
    p.add_argument("--limit", type=int, help="first N problems of each benchmark")
    p.add_argument("--data", help="local data folder (eval/<name>/test.jsonl); default $RLVR_DATA_DIR, then the hub")
    p.add_argument("--backend", default="auto", choices=["auto", "vllm", "transformers"])
    p.add_argument("--max-new-tokens", type=int, default=3072)
    p.add_argument("--n-samples", type=int, help="samples per problem (default: 1 greedy; avg@8 on AIME/AMC)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--template", choices=["qwen25-math-cot", "train", "chat"])
    p.add_argument("--dtype", help="default: the dtype the base model ships in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", type=Path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlvr", description="One-Shot RLVR Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="grade example responses end to end (the quickstart)")
    p_demo.add_argument("--out", type=Path, default=Path("outputs/quickstart"))
    p_eval = sub.add_parser("evaluate", help="evaluate a model on the paper's benchmarks")
    p_eval.add_argument("model", help="registered name (toy-base, Qwen2.5-Math-1.5B, ...), hub id or folder")
    _add_eval_options(p_eval)
    p_run = sub.add_parser("evaluate-run", help="evaluate the checkpoints of a training run, resumably")
    p_run.add_argument("run", type=Path, help="a run folder holding checkpoint-<step>/ folders")
    p_run.add_argument("--every", type=int, default=1, help="every k-th checkpoint (the last always)")
    p_run.add_argument("--base", help="also evaluate this base model as step 0")
    _add_eval_options(p_run)
    p_train = sub.add_parser("train", help="GRPO training from a params file (resumes a killed run)")
    p_train.add_argument("params", type=Path, help="YAML: `preset: cpu|paper` plus settings to override")
    p_train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting (repeatable)")
    p_train.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    p_select = sub.add_parser("select", help="rank examples by historical variance (pi_1, pi_2, ...)")
    p_select.add_argument("history", type=Path, help="a history JSON (a run's history_accuracy.json or the reference's)")
    p_select.add_argument("--top", type=int, default=20)
    p_head = sub.add_parser("headline", help="selection, then 1-shot / format-only / full-set over seeds, evaluated")
    p_head.add_argument("--params", type=Path, default=Path("params/toy"))
    p_head.add_argument("--out", type=Path, default=Path("outputs/headline"))
    p_head.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p_nb = sub.add_parser("notebook", help="execute one notebook with papermill into outputs/<notebook>/")
    p_nb.add_argument("notebook", help="a notebook name or its number prefix (00_quickstart, 04) or a path")
    p_nb.add_argument("--params", type=Path, help="a papermill params file, e.g. params/paper/00_quickstart.yaml")
    p_nb.add_argument("--set", action="append", metavar="KEY=VALUE", help="one parameter (YAML value; repeatable)")
    p_nb.add_argument("--out", type=Path, help="output folder (default: the params' out_dir, else outputs/<notebook>)")
    p_sweep = sub.add_parser("sweep", help="run a notebook over a parameter grid (resumable) into outputs/<sweep>/")
    p_sweep.add_argument("sweep", type=Path, help="a sweep file, e.g. params/sweeps/entropy.yaml")
    p_sweep.add_argument("--parallel", type=int, help="notebooks at once (default: the file's `parallel`, else 1)")
    p_sweep.add_argument("--dry-run", action="store_true", help="check the sweep and list its runs; execute nothing")
    args = parser.parse_args(argv)
    if args.command == "notebook":
        return notebook_command(args)
    if args.command == "sweep":
        return sweep_command(args)
    if args.command == "headline":
        return headline_command(args)
    if args.command == "train":
        return train_command(args)
    if args.command == "select":
        return select_command(args)
    if args.command == "demo":
        return demo(args.out)
    if args.command == "evaluate":
        return evaluate_command(args)
    if args.command == "evaluate-run":
        return evaluate_run_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
