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

import pandas as pd
import yaml

from .analysis import select_checkpoint, summarize
from .config import PRESETS, EvalConfig, eval_preset, load_params, nest
from .executors import EXECUTORS, STATES, JobState
from .grading import extract_answer, grade
from .memory import dry_run
from .reproduce import EXTRAS, ORDER, SEEDS, report, report_seeds, reproduce
from .reproduce.document import report_path
from .reproduce.run import map_reports, map_status, reproduce_map, reproduce_status
from .rewards import format_reward, outcome_reward
from .rundir import KEPT_ROOT, NOTEBOOK, SUMMARY, keep_finished, restore_kept, slug
from .runner import execute_job, notebook_job
from .selection import load_history, ranking_table
from .sweep import load_sweep, run_sweep, sweep_status, write_summary
from .unsloth_path import prepare

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
    table["outcome_reward"] = outcome_reward(prompts=["pi_1"] * len(responses), completions=responses,
                                             answer=[DEMO_GOLD] * len(responses))
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
    # Each of these imports torch, transformers or datasets (seconds): only `rlvr demo` pays for them.
    import torch  # noqa: PLC0415

    from .data import load_dataset  # noqa: PLC0415
    from .models import load_model_and_tokenizer  # noqa: PLC0415
    from .toyworld.profile import answer_table  # noqa: PLC0415

    torch.set_num_threads(1)
    model, tokenizer = load_model_and_tokenizer("toy-base")
    problems = [dict(row) for row in load_dataset("toy-test", limit=n)]
    table = answer_table(model, tokenizer, problems)
    path = out_dir / "toy_base_answers.csv"
    table.to_csv(path, index=False)
    shown = table.assign(response=table["response"].str.slice(0, 70))[
        ["domain", "answer", "response", "strict", "eval"]
    ]
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(f"\nThe embedded base model (toy-base) on {n} held-out toy-test problems")
        print("(strict = the training reward: last box right; eval = the paper's evaluation):\n")
        print(shown.to_string(index=False))
    print(f"\nwritten: {path}")


def _eval_config(args):
    """The EvalConfig the options ask for, or None after printing why they are bad."""
    # Each option is read as a YAML scalar (as --set values are), then checked by EvalConfig.
    values = {name: yaml.safe_load(getattr(args, name)) for name in EvalConfig.field_names()
              if getattr(args, name, None) is not None}
    try:
        return eval_preset(args.preset, **values)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _print_summary(table) -> None:
    summary = summarize(table)
    print(summary["per_benchmark"].to_string(index=False))
    print(summary["average"].to_string(index=False))


def evaluate_command(args) -> int:
    from .evaluate import evaluate, save_evaluation  # noqa: PLC0415 - imports torch: only evaluations pay

    config = _eval_config(args)
    if config is None:
        return 2
    table = evaluate(args.model, config)
    out = save_evaluation(
        table, args.out or Path("outputs/eval") / slug(args.model.strip("/"))[-80:], config, {"model": args.model}
    )
    _print_summary(table)
    print(f"\nwritten: {out}")
    return 0


def evaluate_run_command(args) -> int:
    from .evaluate import evaluate_checkpoints  # noqa: PLC0415 - imports torch: only evaluations pay

    config = _eval_config(args)
    if config is None:
        return 2
    table = evaluate_checkpoints(args.run, config, every=args.every, base_model=args.base, out_dir=args.out)
    if table.empty:
        print(f"no checkpoint-<step> folders in {args.run}")
        return 1
    _print_summary(table)
    print("\n" + select_checkpoint(table).to_string(index=False))
    return 0


def _overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs, each value read as YAML (``1e-4``, ``[4, 5]``, ``true``); keys may be dotted."""
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        values[key.strip()] = yaml.safe_load(value)
    return values


def train_command(args) -> int:
    try:
        overrides = nest(_overrides(args.set))
        if _asks_for_unsloth(args.params, overrides):
            # First of all: Unsloth patches transformers and TRL as it loads, and building the
            # config imports TRL where it has a `trl:` block (rlvr.trl_args checks it).
            prepare()
        cfg = load_params(args.params, **overrides)
        if args.dry_run:
            return dry_run(cfg, args.gpu_memory, args.launch)
        from .data import training_dataset  # noqa: PLC0415 - imports datasets (2 s): only training pays

        training_dataset(cfg)  # its examples exist (a history file to rank by, say) before anything runs
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .train import train  # noqa: PLC0415 - binds TRL's trainer, which Unsloth must patch first

    try:
        out = train(cfg, resume=not args.fresh)
    except MemoryError as exc:  # the memory preflight's refusal, naming settings that fit
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"run written to {out} (steps.parquet, rollouts.parquet, samples.parquet, checkpoint-*/)")
    return 0


def _asks_for_unsloth(params: Path, overrides: dict) -> bool:
    """Whether a params file (with its --set overrides) trains on the Unsloth path, read before the
    config is built; a file that does not read is left to load_params to report."""
    try:
        values = yaml.safe_load(Path(params).read_text()) or {}
    except (OSError, yaml.YAMLError):
        values = {}
    return overrides.get("backend", values.get("backend") if isinstance(values, dict) else None) == "unsloth"


def reproduce_command(args) -> int:
    try:
        _check_counts(args)
        if args.status:
            table = map_status(args.seeds) if args.map else reproduce_status(args.only, args.seeds, world=args.world)
            for name, states in table.items():
                _print_states(name, states)
            return 0
        if args.report_only:
            seeds = report_seeds(args.seeds)  # as after a run
            doc = map_reports(seeds) if args.map else report(args.only, seeds, world=args.world)
            print(f"written: {doc} and its figures")
            return 0
        execution = dict(parallel=args.parallel, dry_run=args.dry_run, executor=args.executor,
                         gpus_per_run=args.gpus_per_run, wait=args.wait)
        failed = reproduce_map(args.seeds, **execution) if args.map else reproduce(
            args.only, seeds=args.seeds, world=args.world, **execution)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, jobs in failed.items():
        print(f"{name}: {len(jobs)} failed job(s):", *jobs, sep="\n  ", file=sys.stderr)
    if not args.dry_run and (args.executor == "local" or args.wait):
        print(f"written: {report_path(None if args.map else args.world)} and its figures (rerun to resume or retry "
              "failed jobs)")
    return 1 if failed else 0


def _check_counts(args) -> None:
    if args.parallel is not None and args.parallel < 1:
        raise ValueError(f"--parallel must be >= 1, got {args.parallel}")
    if args.gpus_per_run is not None and args.gpus_per_run < 0:
        raise ValueError(f"--gpus-per-run must be >= 0, got {args.gpus_per_run}")


def select_command(args) -> int:
    table = ranking_table(load_history(args.history))
    print(table.head(args.top).to_string(index=False))
    return 0


def sweep_command(args) -> int:
    try:
        sweep = load_sweep(args.sweep)
        _check_counts(args)
        if args.status:
            _print_states(f"sweep {sweep.name} ({sweep.out_dir})", sweep_status(sweep))
            return 0
        result = run_sweep(sweep, parallel=args.parallel, dry_run=args.dry_run, executor=args.executor,
                           gpus_per_run=args.gpus_per_run)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return 0
    if args.executor == "slurm":
        if not args.wait:
            print(f"{len(result.submitted)} jobs submitted; follow them with: rlvr sweep {args.sweep} --status")
            return 0
        states = sweep_status(sweep, wait=True)
        result.summary = write_summary(sweep)
        result.failed = {name: s.detail for name, s in states.items() if s.state == "failed"}
        result.done = [name for name, s in states.items() if s.state == "done" and name not in result.skipped]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print("\n" + result.summary.to_string(index=False))
    print(f"\nwritten: {sweep.out_dir / SUMMARY}")
    print(f"{len(result.done)} ran, {len(result.skipped)} skipped (complete), {len(result.failed)} failed")
    for name, error in result.failed.items():
        print(f"FAILED {name}: {error} (see {sweep.out_dir / name / NOTEBOOK})", file=sys.stderr)
    return 1 if result.failed else 0


def _print_states(title: str, states: dict[str, JobState]) -> None:
    """A count per state, then each job's state (and why, where it failed)."""
    counts = {state: sum(s.state == state for s in states.values()) for state in STATES}
    print(f"{title}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
    for name, s in states.items():
        slurm = f"  [SLURM job {s.slurm_job}]" if s.slurm_job else ""
        print(f"  {s.state:<12} {name}{slurm}")
        for line in s.detail.splitlines():
            print(f"      {line}")


def notebook_command(args) -> int:
    name = args.notebook
    path = (
        Path(name) if name.endswith(".ipynb") else next(iter(sorted(Path("notebooks").glob(f"{name}*.ipynb"))), None)
    )
    if path is None:
        print(f"error: no notebook matches {name!r} in notebooks/ (e.g. 00_quickstart)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        job = notebook_job(path, args.params, _overrides(args.set), args.out)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = job.notebook.relative_to(job.root) if job.notebook.is_relative_to(job.root) else job.notebook
    print(f"executing {shown} into {job.parameters['out_dir']}/; each training run reports here as it goes",
          flush=True)
    # Not every notebook saves a summary.csv; `rlvr notebook` asks only that it runs to the end.
    error = execute_job(job, summary_required=False)
    if error:
        print(f"error: the notebook failed: {error}", file=sys.stderr)
        return 1
    out = job.out_dir
    print(f"\nexecuted in {time.perf_counter() - t0:.0f} s: {out / NOTEBOOK}")
    for figure in sorted(out.glob("*.png")):
        print(f"figure: {figure}")
    if (out / SUMMARY).is_file():
        print(f"table:  {out / SUMMARY}")
    _print_results(out)
    return 0


def _print_results(out: Path) -> None:
    """The notebook's comparison with the paper (``comparison.parquet``) where it saved one."""
    path = out / "comparison.parquet"
    if path.is_file():
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(f"\n{path.name} (ours beside the paper's published figures, %):")
            print(pd.read_parquet(path).to_string(index=False))


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    """One option per EvalConfig field (its help and choices from the config), on top of ``--preset``."""
    p.add_argument("--preset", default="paper", choices=list(PRESETS),
                   help="evaluation preset the options apply to (default: paper, the paper's protocol)")
    for name, help_text in EvalConfig.help().items():
        if name == "demos":
            continue  # pairs of texts: from Python (rlvr.incontext), not a command line
        aliases = {"data_source": ["--data"], "n_samples": ["--samples"]}
        flags = [f"--{name.replace('_', '-')}"] + aliases.get(name, [])
        choices = EvalConfig.choices(name)
        p.add_argument(
            *flags,
            dest=name,
            metavar=name.upper() if choices and len(choices) > 8 else None,
            choices=None if name == "benchmarks" else choices,
            help=help_text + (" (comma-separated)" if name == "benchmarks" else ""),
        )
    p.add_argument("--out", type=Path)


def _add_execution_options(p: argparse.ArgumentParser, parallel: str, slurm: str, gpus: str, then: str) -> None:
    """Where and how jobs execute, and their states: the same options for `rlvr sweep` and `rlvr reproduce`."""
    p.add_argument("--parallel", type=int, help=f"notebooks at once here (default: {parallel})")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help=f"local: run here (default); slurm: each job a SLURM job, through submitit ({slurm})")
    p.add_argument("--gpus-per-run", type=int, help=f"GPUs each job takes (default: {gpus}1 where there is a GPU, "
                                                    "0 where there is none)")
    p.add_argument("--status", action="store_true", help="list each job's state (done, running, pending, failed "
                                                         "with its log's end, not started); run nothing")
    p.add_argument("--wait", action="store_true", help=f"with --executor slurm: wait for the jobs, then write {then}")


def _experiments() -> str:
    return f"{', '.join(ORDER)} (the default: all of these), and {', '.join(EXTRAS)} (only when named)"


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are comma-separated integers, got {text!r}") from None


def _world(args) -> int:
    from .toyworld.worlds import world_command  # noqa: PLC0415 - the toy world's modules load on use

    return world_command(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlvr", description="One-Shot RLVR Lab")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="grade example responses end to end")
    p.add_argument("--out", type=Path, default=Path("outputs/quickstart"))
    p.set_defaults(func=lambda args: demo(args.out))
    p = sub.add_parser("evaluate", help="evaluate a model on the paper's benchmarks")
    p.add_argument("model", help="registered name (toy-base, Qwen2.5-Math-1.5B, ...), hub id or folder")
    _add_eval_options(p)
    p.set_defaults(func=evaluate_command)
    p = sub.add_parser("evaluate-run", help="evaluate the checkpoints of a training run, resumably")
    p.add_argument("run", type=Path, help="a run folder holding checkpoint-<step>/ folders")
    p.add_argument("--every", type=int, default=1, help="every k-th checkpoint (the last always)")
    p.add_argument("--base", help="also evaluate this base model as step 0")
    _add_eval_options(p)
    p.set_defaults(func=evaluate_run_command)
    p = sub.add_parser("train", help="GRPO training from a params file (resumes a killed run)")
    p.add_argument("params", type=Path, help="YAML: `preset: cpu|paper` plus the settings that differ")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one TrainConfig field (repeatable)")
    p.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    p.add_argument("--dry-run", action="store_true", help="print the GPU memory estimate and verdict; train nothing")
    p.add_argument("--gpu-memory", type=float, default=80.0, help="--dry-run: each GPU's memory in GiB (default 80)")
    p.add_argument("--launch", type=Path, help="--dry-run: the accelerate config file it launches by (default 1 GPU)")
    p.set_defaults(func=train_command)
    p = sub.add_parser("select", help="rank examples by historical variance (pi_1, pi_2, ...)")
    p.add_argument("history", type=Path, help="a history JSON (a run's history_accuracy.json or the reference's)")
    p.add_argument("--top", type=int, default=20)
    p.set_defaults(func=select_command)
    p = sub.add_parser("notebook", help="execute one notebook with papermill into outputs/<notebook>/")
    p.add_argument("notebook", help="a notebook name or its number prefix (00_quickstart, 04) or a path")
    p.add_argument("--params", type=Path, help="a notebook params file, e.g. params/paper/00_quickstart.yaml")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="one parameter, or one config field as train.<field> / eval.<field> (YAML value; repeatable)",
    )
    p.add_argument("--out", type=Path, help="output folder (default: the params' out_dir, else outputs/<notebook>)")
    p.set_defaults(func=notebook_command)
    p = sub.add_parser("sweep", help="run a notebook over a parameter grid (resumable) into outputs/<sweep>/")
    p.add_argument("sweep", type=Path, help="a sweep file, e.g. params/sweeps/entropy.yaml")
    _add_execution_options(p, "the file's `parallel`, else one per free set of GPUs, else 1",
                           "the file's `slurm:` section", "the file's `gpus_per_run`, else ", "the summary")
    p.add_argument("--dry-run", action="store_true", help="check the sweep and list its jobs; execute nothing")
    p.set_defaults(func=sweep_command)
    p = sub.add_parser("reproduce", help="every experiment of the paper over seeds (resumable), then the report "
                                         "in docs/results-toy.md")
    p.add_argument("--only", help="experiments, comma-separated: " + _experiments())
    p.add_argument("--seeds", type=_seeds, default=list(SEEDS), help="comma-separated seeds (default 0,1,2); the "
                                                                    "report shows 0, 1, 2 and these")
    _add_execution_options(p, "2 on a CPU, else one per free set of GPUs", "each sweep file's `slurm:` section; "
                           "an experiment that reads another's jobs waits for them", "", "the report")
    p.add_argument("--dry-run", action="store_true", help="list the jobs still to do; execute nothing")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the jobs on disk (with "
                                                              "--map: every world's, then the matrix)")
    p.add_argument("--world", help="run in this embedded world (`rlvr world list`): the map's experiments for it")
    p.add_argument("--map", action="store_true", help="every world of the map, then its matrix (docs/worlds.md)")
    p.set_defaults(func=reproduce_command)
    p = sub.add_parser("world", help="the embedded worlds: list them, build one by name (resumable), or measure "
                                     "a built one's profile again (docs/worlds.md)")
    p.add_argument("action", choices=("list", "build", "profile"))
    p.add_argument("name", nargs="?", help="a world's name (`rlvr world list`), NAME@SEED from another corpus sample")
    p.add_argument("--steps", type=int, default=1300, help="pretraining steps (default: toy-base's 1300)")
    p.add_argument("--fresh", action="store_true", help="build again a world already built; with profile, answer "
                                                       "again rather than summarise the saved answers")
    p.set_defaults(func=_world)
    args = parser.parse_args(argv)
    if args.command == "world" and args.action != "list" and not args.name:
        parser.error(f"rlvr world {args.action} NAME: which world (`rlvr world list`)")
    if args.command in ("reproduce", "sweep"):  # finished jobs from results/ into a fresh clone, and the other way
        restored, kept = restore_kept(Path.cwd()), keep_finished(Path.cwd())
        if restored or kept:
            print(f"{KEPT_ROOT}/: {len(restored)} finished jobs brought back, {len(kept)} kept (tables, not weights)",
                  flush=True)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
