"""The notebook jobs' outputs across seeds: a sweep file's jobs, the tables their notebooks saved
stacked with each job's seed, each seed's best checkpoint beside the base, and mean ± std over seeds.

Every file name comes from ``rlvr.rundir`` (a job's summary and tables, a training run's config).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .. import analysis
from ..parameters import declared_parameters
from ..rundir import HISTORY, META, RUN_CONFIG, SUMMARY, job_table
from ..runner import Job
from ..selection import load_history, ranking_table
from ..sweep import Sweep, load_sweep
from ..toyworld import profile
from ..toyworld.worlds import is_world, named
from .verdicts import mean_std

SWEEPS = Path("params/sweeps/reproduce")  # the experiments' sweep files, relative to the project root


MAP_OUT = Path("outputs/map")  # a world's jobs: MAP_OUT/<world>/, laid out as outputs/reproduce/
# The sweeps whose pattern a difficulty gap targets (post-saturation): in a world with the gap they are
# evaluated on toy-test-long as well, the other experiments' checks read toy-test alone.
LONG_TEST_SWEEPS = ("postsat.yaml",)
# In the map's worlds but its full column (``WHOLE``), a sweep runs only what the predictions target
# (docs/worlds.md, predictions 1-2): for the follow-ups, the signals that sharpen the model's own
# distribution beside the outcome reward, and their papers' recipes; not format, PSR or W-REINFORCE, nor
# pass@k to 256 (about 40% of a follow-ups job). Their patterns read "not run" there.
WHOLE = ("qwen-like",)
TARGETED = {"beyond.yaml": {
    "conditions": ["outcome", "random", "majority", "entropy minimisation", "NSR"],
    "recipes": [f"params/toy/{stem}.yaml" for stem in ("random_clip", "random_noclip", "one_shot_em_gao", "nsr_zhu",
                                                       "grpo_zhu")],
    "pass_at_samples": 0}}
SELECTION_SWEEP = "selection.yaml"  # the selection experiment's: the run that ranks the examples


def selection_history(sweep_files: Sequence[str], root: Path, world: str | None = None) -> dict | None:
    """The history the selection run left in its job folder (one job: the paper ranks once), in ``world``;
    None until it has run."""
    histories = [history for sweep_file in sweep_files for _, job in sweep_jobs(sweep_file, None, root, world)
                 for history in sorted(job.out_dir.glob(f"*/{HISTORY}"))]
    return load_history(histories[0]) if histories else None


def world_example(world: str, root: Path) -> str | None:
    """A world's pi_1: rank 1 of its own selection run, as the paper ranks each model's examples by that
    model's training history (toy-base's pi_1 can rank far down in another world); None until it has run."""
    history = selection_history((SELECTION_SWEEP,), root, world)
    return None if history is None else str(ranking_table(history)["example_id"].iloc[0])


def example_world(world: str) -> str:
    """Whose pi_1 a world's 1-shot runs train on: a control (``NAME~SWITCH``, ``NAME~SWITCH=VALUE``)
    trains on NAME's, so that it differs from NAME by its switch alone; any other world on its own, as the
    paper picks pi_1 for each model."""
    return world.split("~", 1)[0]


def in_world(sweep: Sweep, world: str | None) -> Sweep:
    """``sweep`` run from another embedded world's base model: its jobs in ``MAP_OUT/<world>/`` (and a
    path to another experiment's jobs there too), training on the world's pi_1 (``world_example`` of
    ``example_world``; refused until that selection has run), evaluated on toy-test-long as well where the world has
    a difficulty gap and the sweep is one it targets (``LONG_TEST_SWEEPS``), cut to what the predictions
    target outside the map's full column (``TARGETED``). None or toy-base: the sweep as it is (toy-base's
    jobs are the default reproduce's, ``outputs/reproduce``)."""
    if world in (None, "toy-base"):
        return sweep
    out, prefix = MAP_OUT / world, f"{sweep.out.as_posix()}/"
    fixed = {k: f"{out.as_posix()}/{v.removeprefix(prefix)}" if isinstance(v, str) and v.startswith(prefix) else v
             for k, v in sweep.fixed.items()}
    fixed["train.model"] = world
    if "example" in declared_parameters(sweep.notebook):
        source = example_world(world)
        if (example := world_example(source, sweep.root)) is None:
            whose = "its own pi_1" if source == world else f"{source}'s pi_1 (a control differs by its switch alone)"
            raise FileNotFoundError(f"{world}: its 1-shot runs train on {whose}, which {source}'s selection run "
                                    f"ranks; run it first: rlvr reproduce --world {source} --only selection")
        fixed["example"] = example
    if named(world).difficulty_gap and sweep.path.name in LONG_TEST_SWEEPS:
        fixed["eval.benchmarks"] = ["toy-test", "toy-test-long"]
    if world not in WHOLE:
        fixed |= TARGETED.get(sweep.path.name, {})
    return dataclasses.replace(sweep, out=out, fixed=fixed)


def sweep_jobs(sweep_file: str, seeds: Sequence[int] | None, root: Path,
               world: str | None = None) -> list[tuple[Sweep, Job]]:
    """A sweep file's jobs, each with its sweep, over ``seeds`` where it sweeps ``train.seed`` (None: its
    own), in ``world`` (``in_world``; None: toy-base's)."""
    sweep = in_world(load_sweep(root / SWEEPS / sweep_file, root=root), world)
    if "train.seed" in sweep.grid and seeds is not None:
        sweep = dataclasses.replace(sweep, grid={**sweep.grid, "train.seed": list(seeds)})
    return [(sweep, job) for job in sweep.jobs()]


def job_world(job: Job) -> str | None:
    """The world a job ran in (None: toy-base's, the lab's default)."""
    model = job.parameters.get("train", {}).get("model")
    return model if isinstance(model, str) and is_world(model) and model != "toy-base" else None


def job_seed(job: Job) -> int:
    return int(job.values.get("train.seed", 0))


def complete_jobs(sweep_file: str, seeds: Sequence[int] | None, root: Path, world: str | None = None) -> list[Job]:
    return [job for _, job in sweep_jobs(sweep_file, seeds, root, world) if job.complete]


def has_saved_table(job: Job, name: str) -> bool:
    return job_table(job.out_dir, name).is_file()


def saved_table(job: Job, name: str) -> pd.DataFrame:
    """A table the job's notebook saved: its summary (``SUMMARY``, CSV) or another one by name (Parquet)."""
    return pd.read_csv(job.out_dir / SUMMARY) if name == SUMMARY else pd.read_parquet(job_table(job.out_dir, name))


def stacked(jobs: list[Job], name: str) -> pd.DataFrame:
    """One of the jobs' saved tables, stacked, with each job's seed."""
    return pd.concat([saved_table(job, name).assign(seed=job_seed(job)) for job in jobs], ignore_index=True)


def example_reach(jobs: list[Job], example: str | None = None) -> dict[int, bool]:
    """Per seed, whether every one of the jobs' 1-shot runs with the outcome reward, the right label and
    a policy gradient solved its example at least once in training. Where a run never did, its policy
    gradient had nothing to act on, and the cells it feeds measure the example's reach in the world,
    not the world's switches (one run reaching it on that seed, without the entropy bonus say, does not
    mend the others). A run without the policy-gradient loss, entropy minimisation's, does not count:
    it may solve the example without any reward. ``example``: only the runs on that example (None: any)."""
    reached: dict[int, bool] = {}
    for job in jobs:
        for config in job.out_dir.glob(f"*/{RUN_CONFIG}"):
            cfg = json.loads(config.read_text()).get("config", {})
            if (cfg.get("reward") != "outcome" or len(cfg.get("examples") or []) != 1 or cfg.get("label") is not None
                    or cfg.get("label_noise") or not cfg.get("pg_loss_coef", 1.0)
                    or (example is not None and cfg["examples"] != [example])):
                continue
            if (history := config.parent / HISTORY).is_file():
                solved = any(v > 0 for values in json.loads(history.read_text()).values() for v in values)
                reached[job_seed(job)] = reached.get(job_seed(job), True) and solved
    return reached


def base_pass_rates(worlds: Sequence[str], root: Path, tries: int = 1024) -> pd.DataFrame:
    """How often each world's base earns the reward on the example its 1-shot runs train on (a control's
    parent's pi_1) and on its own pi_1, ``tries`` samples each at the ``cpu`` preset's temperature and
    length (``probes.pass_rate``): what a 1-shot run has to start from before any training. A world whose
    selection has not run is left out."""
    from ..config import preset  # noqa: PLC0415 - a probe loads the model; the report does not need it
    from ..probes import pass_rate  # noqa: PLC0415

    def solved(world: str, example: str, key: str = "") -> dict:
        right, _ = pass_rate(preset("cpu", model=world, examples=[example]), tries=tries)
        return {f"{key}right": right, f"{key}%": round(100 * right / tries, 1)}

    rows = []
    for world in worlds:
        whose = example_world(world)
        if (trains_on := world_example(whose, root)) is None:
            continue
        row = {"world": world, "trains on": trains_on, "whose": whose, "tries": tries, **solved(world, trains_on)}
        if (own := world_example(world, root)) not in (None, trains_on):
            row |= {"own pi_1 example": own, **solved(world, own, "own pi_1 ")}
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.astype({c: "Int64" for c in ("own pi_1 right",) if c in table})  # blank where it is the same


def condition_runs(job: Job) -> dict[str, Path]:
    """Each condition's training run, for a notebook that trains several (from the settings it saved:
    each condition's config with its output folder)."""
    meta = job.out_dir / META
    settings = json.loads(meta.read_text()).get("settings", {}) if meta.is_file() else {}
    return {name: job.root / cfg["output_dir"] for name, cfg in settings.items()
            if isinstance(cfg, dict) and cfg.get("output_dir")}


def seeds_mode_shifts(jobs: list[Job]) -> pd.DataFrame:
    """How each condition's reasoning modes moved in training (``toyworld.profile.mode_shifts``), one
    row a seed and condition."""
    tables = [profile.mode_shifts(condition_runs(job)).assign(seed=job_seed(job)) for job in jobs]
    return pd.concat(tables, ignore_index=True) if tables else profile.mode_shifts({}).assign(seed=[])


def training_run(job: Job) -> Path:
    """The training run the job's notebook trained in the job's folder: the subfolder with a run config."""
    found = sorted(config.parent for config in job.out_dir.glob(f"*/{RUN_CONFIG}"))
    if not found:
        raise FileNotFoundError(f"{job.out_dir}: no training run there (no */{RUN_CONFIG})")
    return found[0]


def best_checkpoints(scores: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return analysis.best_step(scores[scores["step"] > 0], "strict", by)


def with_base(scores: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Each seed's base model (step 0, condition "base") and each group's best checkpoint."""
    base = scores[scores["step"] == 0].groupby("seed").first().reset_index().assign(condition="base")
    return pd.concat([base, best_checkpoints(scores, by)], ignore_index=True)


def one_row_per_seed(best: pd.DataFrame, column: str = "strict", by: str = "condition") -> pd.DataFrame:
    return best.pivot_table(index="seed", columns=by, values=column, aggfunc="first")


def by_condition(jobs: list[Job]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A notebook's score tables stacked over seeds, each (seed, condition)'s best checkpoint beside
    the base, and their strict accuracy one row per seed, one column per condition."""
    scores = stacked(jobs, "scores")
    best = with_base(scores, ["seed", "condition"])
    return scores, best, one_row_per_seed(best)


def summary_over_seeds(best: pd.DataFrame, by: str, columns: list[str],
                       order: list[str] | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of each column, one row per ``by`` value (with the seeds' best steps)."""
    rows = []
    names = order or list(dict.fromkeys(best[by]))
    for name in names:
        group = best[best[by] == name]
        if group.empty:
            continue
        row = {by: name, "seeds": group["seed"].nunique(),
               "best steps": ", ".join("-" if pd.isna(s) else str(int(s)) for s in group.sort_values("seed")["step"])}
        row.update({c: mean_std(group[c]) for c in columns if c in group})
        rows.append(row)
    return pd.DataFrame(rows)
