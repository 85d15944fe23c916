"""Notebooks over a grid of parameters: ``rlvr sweep``.

A sweep file names a notebook and a grid of its parameters; every combination is one job
(``rlvr.runner.Job``), executed by papermill into ``outputs/<sweep>/<job>/`` here or on a SLURM
cluster (``rlvr.executors``). Complete jobs are skipped, so re-running a sweep resumes it and
retries the failed jobs. The cross-job table (``outputs/<sweep>/summary.csv``) stacks each complete
job's ``summary.csv`` behind the job's name and swept values.

A job's parameters are layered and checked as ``rlvr.parameters`` says: a params file, the sweep's
``fixed`` values, its grid values, each on top of the notebook's defaults; names, types and each
job's ``train``/``eval`` settings are checked before anything runs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import nest
from .executors import JobState, check_execution, execute_jobs, job_states, live_jobs, wait_for
from .parameters import check_configs, check_parameters, declared_parameters, layered, mapping, read_yaml
from .rundir import SUMMARY, is_safe_name, slug
from .runner import Job

KEYS = ("notebook", "name", "out", "params", "fixed", "grid", "parallel", "kernel", "gpus_per_run",
        "accelerate_config", "slurm")
# The sweep file's `slurm:` section (rlvr.executors): submitit SlurmExecutor parameters.
SLURM_KEYS = {
    "partition": str,  # sbatch --partition
    "cpus_per_task": int,  # CPUs per job
    "mem": str,  # memory per job, sbatch's form: 64G
    "time": int,  # time limit per job, minutes
    "sbatch": list,  # extra sbatch options, e.g. ["--account=abc", "--qos=high", "--exclusive"]
    "setup": list,  # shell lines run in the job before it starts (module load, conda activate)
}


@dataclass
class Sweep:
    path: Path
    notebook: Path
    name: str
    grid: dict
    fixed: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # the params file's contents
    out: Path = Path("outputs")
    parallel: int | None = None  # jobs at once here; None: one per free GPU set, or 1 on a CPU
    kernel: str | None = None
    root: Path = field(default_factory=Path.cwd)  # papermill's cwd; relative paths resolve from here
    gpus_per_run: int | None = None  # None: 1 where there is a GPU, 0 where there is none
    accelerate_config: str | None = None  # for jobs with several GPUs (configs/accelerate/)
    slurm: dict = field(default_factory=dict)  # the `slurm:` section, for --executor slurm

    @property
    def out_dir(self) -> Path:
        return self.root / self.out / self.name

    def jobs(self) -> list[Job]:
        declared = declared_parameters(self.notebook)
        jobs = []
        for combo in itertools.product(*self.grid.values()):
            values = dict(zip(self.grid, combo))
            name = slug(",".join(f"{k}={v}" for k, v in values.items()))
            # Relative to root, like every other path a notebook sees.
            rel = self.out / self.name / name
            parameters = layered(declared, [self.params, self.fixed, values])
            parameters["out_dir"] = str(rel)
            jobs.append(Job(name, values, parameters, self.root / rel, self.notebook, self.root, self.kernel,
                            self.accelerate_config, self.slurm))
        return jobs


@dataclass
class SweepResult:
    summary: pd.DataFrame
    done: list[str] = field(default_factory=list)  # executed now, ok
    skipped: list[str] = field(default_factory=list)  # complete from an earlier invocation
    failed: dict[str, str] = field(default_factory=dict)  # job name -> error
    pending: list[str] = field(default_factory=list)  # dry run: would execute
    submitted: dict[str, str] = field(default_factory=dict)  # --executor slurm: job name -> SLURM job id


def load_sweep(path: str | Path, root: str | Path | None = None) -> Sweep:
    """Read and check a sweep file; raises before anything is written or executed."""
    path, root = Path(path), Path(root or Path.cwd())
    spec = read_yaml(path, "sweep file")
    if unknown := sorted(set(spec) - set(KEYS)):
        raise ValueError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))} (valid: {', '.join(KEYS)})")
    for key in ("notebook", "grid"):
        if key not in spec:
            raise ValueError(f"{path}: missing required key '{key}'")
    notebook = root / str(spec["notebook"])
    if not notebook.is_file():
        raise FileNotFoundError(f"{path}: 'notebook': no such file {notebook}")
    name = str(spec.get("name") or path.stem)
    if not is_safe_name(name):
        raise ValueError(f"{path}: 'name' {name!r} is not a safe folder name (letters, digits, _ . , = + -)")
    parallel = spec.get("parallel")
    if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1):
        raise ValueError(f"{path}: 'parallel' must be an integer >= 1, got {parallel!r}")
    gpus_per_run = spec.get("gpus_per_run")
    if gpus_per_run is not None and (isinstance(gpus_per_run, bool) or not isinstance(gpus_per_run, int)
                                     or gpus_per_run < 0):
        raise ValueError(f"{path}: 'gpus_per_run' must be an integer >= 0, got {gpus_per_run!r}")
    slurm = mapping(spec.get("slurm"), f"{path}: 'slurm'")
    for key, value in slurm.items():
        if key not in SLURM_KEYS:
            raise ValueError(f"{path}: slurm: unknown key {key!r} (valid: {', '.join(SLURM_KEYS)})")
        if not isinstance(value, SLURM_KEYS[key]) or isinstance(value, bool):
            raise ValueError(f"{path}: slurm: {key!r} must be a {SLURM_KEYS[key].__name__}, got {value!r}")
    if "accelerate_config" in spec and not (root / str(spec["accelerate_config"])).is_file():
        raise FileNotFoundError(f"{path}: 'accelerate_config': no such file {spec['accelerate_config']} "
                                "(the configs are in configs/accelerate/)")
    for key in ("out", "kernel", "accelerate_config"):
        if key in spec and not isinstance(spec[key], str):
            raise ValueError(f"{path}: '{key}' must be a string, got {spec[key]!r}")

    grid = mapping(spec["grid"], f"{path}: 'grid'")
    if not grid:
        raise ValueError(f"{path}: 'grid' is empty; give at least one parameter with a list of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid key '{key}' must be a non-empty list, got {values!r}")
    fixed = mapping(spec.get("fixed"), f"{path}: 'fixed'")
    if both := sorted(set(fixed) & set(grid)):
        raise ValueError(f"{path}: key(s) {', '.join(map(repr, both))} are in both 'fixed' and 'grid'")

    params = {}
    if spec.get("params"):
        params_file = root / str(spec["params"])
        if not params_file.is_file():
            raise FileNotFoundError(f"{path}: 'params': no such file {params_file}")
        params = read_yaml(params_file, "params file")

    # Papermill would inject unknown names silently; a typo must fail here instead.
    declared = declared_parameters(notebook)
    if "out_dir" not in declared:
        found = ", ".join(declared) or "none"
        raise ValueError(f"{notebook}: its `parameters` cell must declare out_dir (found: {found})")
    for where, keys in (("fixed", fixed), ("grid", grid)):
        if "out_dir" in keys:  # a params file may carry one (for running the notebook alone); it is overridden
            raise ValueError(f"{path}: {where} key 'out_dir' is set by the sweep (outputs/<sweep>/<job>)")
    grid_values = [("grid", {key: value}) for key, values in grid.items() for value in values]
    for where, values in ((f"params file {spec.get('params')}", params), ("fixed", fixed), *grid_values):
        check_parameters(declared, nest(values), f"{path}: {where}", spec["notebook"])

    sweep = Sweep(
        path, notebook, name, grid, fixed, params, Path(spec.get("out", "outputs")), parallel, spec.get("kernel"),
        root, gpus_per_run=gpus_per_run, accelerate_config=spec.get("accelerate_config"), slurm=slurm,
    )
    jobs = sweep.jobs()
    names = [job.name for job in jobs]
    if len(set(names)) < len(names):
        raise ValueError(f"{path}: grid values collide once made folder-safe: {names}")
    for job in jobs:
        check_configs(declared, job.parameters, f"{path}: job {job.name}")
    return sweep


def sweep_status(sweep: Sweep, wait: bool = False) -> dict[str, JobState]:
    """Each job's state by job name (``rlvr.executors.job_states``); ``wait``: once none is queued or
    running any more (``rlvr.executors.wait_for``)."""
    jobs = sweep.jobs()
    return {job.name: state for job, state in zip(jobs, wait_for(jobs) if wait else job_states(jobs))}


def collect_summaries(sweep: Sweep) -> pd.DataFrame:
    """Every complete job's summary.csv, led by its job name and swept values (column ``run``, as
    the summaries have always been read)."""
    tables = []
    for job in sweep.jobs():
        if not job.complete:
            continue
        table = pd.read_csv(job.out_dir / SUMMARY)
        # The swept value is authoritative where the notebook also reports it.
        table = table.drop(columns=[c for c in ("run", *job.values) if c in table.columns])
        for i, (key, value) in enumerate({"run": job.name, **job.values}.items()):
            table.insert(i, key, [value] * len(table))
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["run", *sweep.grid])


def write_summary(sweep: Sweep) -> pd.DataFrame:
    """The cross-job table, written to ``outputs/<sweep>/summary.csv``."""
    summary = collect_summaries(sweep)
    sweep.out_dir.mkdir(parents=True, exist_ok=True)
    summary.to_csv(sweep.out_dir / SUMMARY, index=False)
    return summary


def run_sweep(sweep: Sweep | str | Path, parallel: int | None = None, dry_run: bool = False,
              executor: str = "local", gpus_per_run: int | None = None) -> SweepResult:
    """Execute every incomplete job (``rlvr.executors.execute_jobs``) and write the cross-job summary.

    ``executor``: ``local`` executes the jobs here, ``parallel`` at once (default: the file's, else
    one per free set of ``gpus_per_run`` GPUs, or 1 on a CPU), each on its own GPUs; ``slurm``
    submits each job as a SLURM job and returns once they are submitted (``result.submitted``), and
    ``sweep_status`` follows them. ``gpus_per_run`` overrides the sweep file's.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    check_execution(executor, parallel)
    per_run = gpus_per_run if gpus_per_run is not None else sweep.gpus_per_run
    jobs = sweep.jobs()
    live = live_jobs(jobs) if executor == "slurm" else {}
    todo = [job for job in jobs if not job.complete and job.out_dir not in live]
    result = SweepResult(summary=pd.DataFrame(), skipped=[job.name for job in jobs if job.complete])
    print(
        f"sweep {sweep.name}: {len(jobs)} runs, {len(result.skipped)} complete"
        + (f", {len(live)} queued or running" if live else "")
        + f", {len(todo)} to run -> {sweep.out_dir}",
        flush=True,
    )
    if dry_run:
        for job in jobs:
            print(f"  {'skip' if job.complete else 'wait' if job.out_dir in live else 'run '}  {job.name}")
        result.pending = [job.name for job in todo]
        result.summary = collect_summaries(sweep)
        return result

    for outcome in execute_jobs(todo, executor, parallel or sweep.parallel, per_run):
        if outcome.slurm_job:
            result.submitted[outcome.job.name] = outcome.slurm_job
        elif outcome.error:
            result.failed[outcome.job.name] = outcome.error
        else:
            result.done.append(outcome.job.name)
    result.summary = write_summary(sweep)
    return result
