"""Notebooks with parameters: ``rlvr notebook`` (one run) and ``rlvr sweep`` (a grid).

A sweep file names a notebook and a grid of its parameters; every combination is
one run, executed by papermill into ``outputs/<sweep>/<run>/`` (``notebook.ipynb``
plus the tables and figures the notebook writes to its ``out_dir``). A run is
complete once its ``summary.csv`` exists and ``run.json`` says ``"ok"``; complete
runs are skipped, so re-running a sweep resumes it and retries the failed runs.
The cross-run table (``outputs/<sweep>/summary.csv``) stacks each complete run's
``summary.csv`` behind the run's name and swept values.

Parameters come in layers (a params file, the sweep's ``fixed`` values, its grid
values, ``--set``), each applied on top of the notebook's own defaults. A key
``train.<field>`` or ``eval.<field>`` sets one field of the notebook's ``train``
or ``eval`` dict (a ``TrainConfig`` / ``EvalConfig`` override) and keeps the
others; dict parameters given whole merge key by key. Before anything runs, the
names and types are checked against the notebook's ``parameters`` cell and each
run's ``train``/``eval`` against the config dataclasses on top of its preset.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from . import env
from .config import merge, nest, preset_configs
from .rundir import (
    RunBusy,
    clear_job_record,
    exclusive,
    is_job_complete,
    is_safe_name,
    read_job_record,
    slug,
    write_job_record,
)

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
# Notebook parameters that are config overrides: checked against the dataclasses on top of the preset.
CONFIG_PARAMETERS = ("train", "eval")


@dataclass
class Job:
    name: str
    values: dict  # the swept values only: they label the run in the summary
    parameters: dict  # everything papermill injects, out_dir included
    out_dir: Path  # absolute

    @property
    def complete(self) -> bool:
        return is_job_complete(self.out_dir)


@dataclass
class Sweep:
    path: Path
    notebook: Path
    name: str
    grid: dict
    fixed: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # the params file's contents
    out: Path = Path("outputs")
    parallel: int | None = None  # runs at once here; None: one per free GPU set, or 1 on a CPU
    kernel: str | None = None
    root: Path = field(default_factory=Path.cwd)  # papermill's cwd; relative paths resolve from here
    gpus_per_run: int | None = None  # None: 1 where there is a GPU, 0 where there is none
    accelerate_config: str | None = None  # for runs with several GPUs (configs/accelerate/)
    slurm: dict = field(default_factory=dict)  # the `slurm:` section, for --executor slurm

    @property
    def out_dir(self) -> Path:
        return self.root / self.out / self.name

    def jobs(self) -> list[Job]:
        declared = _papermill().inspect_notebook(str(self.notebook))
        runs = []
        for combo in itertools.product(*self.grid.values()):
            values = dict(zip(self.grid, combo))
            name = slug(",".join(f"{k}={v}" for k, v in values.items()))
            # Relative to root, like every other path a notebook sees.
            rel = self.out / self.name / name
            parameters = layered(declared, [self.params, self.fixed, values])
            parameters["out_dir"] = str(rel)
            runs.append(Job(name, values, parameters, self.root / rel))
        return runs


@dataclass
class SweepResult:
    summary: pd.DataFrame
    done: list[str] = field(default_factory=list)  # executed now, ok
    skipped: list[str] = field(default_factory=list)  # complete from an earlier invocation
    failed: dict[str, str] = field(default_factory=dict)  # run name -> error
    pending: list[str] = field(default_factory=list)  # dry run: would execute
    submitted: dict[str, str] = field(default_factory=dict)  # --executor slurm: run name -> job id


def _kernel_manager(env: dict | None = None):
    """Kernels that talk to papermill over local sockets (unix domain sockets, each kernel its own
    names) rather than unencrypted TCP on the loopback, which ipykernel warns about at every start;
    ``env`` is added to the kernel's environment (its GPUs, say)."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    class LocalSocketKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            Path(jupyter_runtime_dir()).mkdir(parents=True, exist_ok=True)
            self.ip = str(Path(jupyter_runtime_dir()) / f"kernel-{uuid.uuid4().hex}")  # removed at shutdown

        async def _async_pre_start_kernel(self, **kw):
            if env:
                kw["env"] = {**kw.get("env", os.environ), **env}
            return await super()._async_pre_start_kernel(**kw)

    return LocalSocketKernelManager


def _papermill():
    # Imported where notebooks run, so `rlvr train` and `rlvr evaluate` start without it.
    import papermill

    return papermill


def _mapping(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _read_yaml(path: Path, what: str) -> dict:
    try:
        return _mapping(yaml.safe_load(path.read_text()), f"{what} {path}")
    except yaml.YAMLError as exc:  # report it like every other malformed file
        raise ValueError(f"{what} {path} is not valid YAML: {exc}") from None


def load_sweep(path: str | Path, root: str | Path | None = None) -> Sweep:
    """Read and check a sweep file; raises before anything is written or executed."""
    path, root = Path(path), Path(root or Path.cwd())
    spec = _read_yaml(path, "sweep file")
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
    slurm = _mapping(spec.get("slurm"), f"{path}: 'slurm'")
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

    grid = _mapping(spec["grid"], f"{path}: 'grid'")
    if not grid:
        raise ValueError(f"{path}: 'grid' is empty; give at least one parameter with a list of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid key '{key}' must be a non-empty list, got {values!r}")
    fixed = _mapping(spec.get("fixed"), f"{path}: 'fixed'")
    if both := sorted(set(fixed) & set(grid)):
        raise ValueError(f"{path}: key(s) {', '.join(map(repr, both))} are in both 'fixed' and 'grid'")

    params = {}
    if spec.get("params"):
        params_file = root / str(spec["params"])
        if not params_file.is_file():
            raise FileNotFoundError(f"{path}: 'params': no such file {params_file}")
        params = _read_yaml(params_file, "params file")

    # Papermill would inject unknown names silently; a typo must fail here instead.
    declared = _papermill().inspect_notebook(str(notebook))
    if "out_dir" not in declared:
        found = ", ".join(declared) or "none"
        raise ValueError(f"{notebook}: its `parameters` cell must declare out_dir (found: {found})")
    for where, keys in (("fixed", fixed), ("grid", grid)):
        if "out_dir" in keys:  # a params file may carry one (for running the notebook alone); it is overridden
            raise ValueError(f"{path}: {where} key 'out_dir' is set by the sweep (outputs/<sweep>/<run>)")
    grid_values = [("grid", {key: value}) for key, values in grid.items() for value in values]
    for where, values in ((f"params file {spec.get('params')}", params), ("fixed", fixed), *grid_values):
        check_parameters(declared, nest(values), f"{path}: {where}", spec["notebook"])

    sweep = Sweep(
        path, notebook, name, grid, fixed, params, Path(spec.get("out", "outputs")), parallel, spec.get("kernel"),
        root, gpus_per_run=gpus_per_run, accelerate_config=spec.get("accelerate_config"), slurm=slurm,
    )
    runs = sweep.jobs()
    names = [run.name for run in runs]
    if len(set(names)) < len(names):
        raise ValueError(f"{path}: grid values collide once made folder-safe: {names}")
    for run in runs:
        check_configs(declared, run.parameters, f"{path}: run {run.name}")
    return sweep


def _default(parameter: dict):
    try:
        return ast.literal_eval(parameter.get("default", "None"))
    except (ValueError, SyntaxError):
        return None  # an expression papermill cannot evaluate statically: no type to check against


def layered(declared: dict, layers: list[dict]) -> dict:
    """The parameters papermill injects: each layer (dotted keys allowed) on top of the
    last; a dict parameter merges into the notebook's default dict rather than replacing it."""
    parameters: dict = {}
    for layer in layers:
        for key, value in nest(layer).items():
            default = _default(declared[key]) if key in declared else None
            if isinstance(value, dict) and isinstance(parameters.get(key, default), dict):
                value = merge(parameters.get(key, default), value)
            parameters[key] = value
    return parameters


def check_configs(declared: dict, parameters: dict, where: str) -> None:
    """A notebook's ``train`` and ``eval`` parameters as configs on top of its preset:
    unknown fields and bad values are refused, naming the field and what it accepts."""
    if not any(name in declared for name in CONFIG_PARAMETERS):
        return
    effective = {name: _default(declared[name]) for name in ("preset", *CONFIG_PARAMETERS) if name in declared}
    effective.update({k: v for k, v in parameters.items() if k in effective})
    preset_configs(effective.get("preset") or "cpu", effective.get("train") or {}, effective.get("eval") or {}, where)


def check_parameters(declared: dict, values: dict, where: str, notebook) -> None:
    """Every name must be a parameter of the notebook (papermill would inject an
    unknown one silently), and every value of its default's type (ints pass for
    floats; any value passes where the default is None)."""
    if bad := sorted(set(values) - set(declared)):
        raise ValueError(
            f"{where}: key(s) {', '.join(map(repr, bad))} are not parameters of {notebook}"
            f" (its parameters: {', '.join(declared)})"
        )
    for key, value in values.items():
        if value is None:
            continue
        default = _default(declared[key])
        if default is None:
            continue
        wanted = type(default)
        ok = isinstance(value, wanted) and not (wanted is not bool and isinstance(value, bool))
        ok = ok or (wanted is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise ValueError(
                f"{where}: {key}: {value!r} is not of type {wanted.__name__} (the notebook's default is {default!r})"
            )


def run_notebook(
    notebook: str | Path,
    params_file: str | Path | None = None,
    overrides: dict | None = None,
    out_dir: str | Path | None = None,
    root: str | Path | None = None,
    kernel: str | None = None,
) -> Path:
    """Execute one notebook with papermill into ``out_dir`` (default
    ``outputs/<notebook name>``) as ``notebook.ipynb``; parameters come from a
    params file and then ``overrides``, checked against the notebook first."""
    root = Path(root or Path.cwd())
    notebook = root / notebook if not Path(notebook).is_absolute() else Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: no such notebook (they live in notebooks/)")
    if params_file and not (root / params_file).is_file():
        raise FileNotFoundError(f"{params_file}: no such params file")
    declared = _papermill().inspect_notebook(str(notebook))
    layers = [_read_yaml(root / params_file, "params file") if params_file else {}, overrides or {}]
    for where, layer in zip((str(params_file), "--set"), layers):
        check_parameters(declared, nest(layer), where, notebook.name)
    parameters = layered(declared, layers)
    check_configs(declared, parameters, str(params_file or "parameters"))
    out = Path(out_dir or parameters.get("out_dir") or Path("outputs") / notebook.stem)
    parameters["out_dir"] = str(out)
    (root / out).mkdir(parents=True, exist_ok=True)
    print(f"executing {notebook.relative_to(root) if notebook.is_relative_to(root) else notebook} into {out}/; "
          "each training run reports here as it goes", flush=True)
    _papermill().execute_notebook(
        str(notebook), str(root / out / "notebook.ipynb"), parameters=parameters, kernel_name=kernel, cwd=str(root),
        progress_bar=False, kernel_manager_class=_kernel_manager(),
    )
    return root / out


def _execute(sweep: Sweep, run: Job, label: str, env: dict | None = None) -> str | None:
    """Execute one run (``env``: added to its kernel's environment); returns the error, or None
    when it succeeded."""
    try:
        with exclusive(run.out_dir):
            return _execute_held(sweep, run, label, env or {})
    except RunBusy as exc:  # another sweep is on this run: leave its files alone
        print(f"{label} BUSY    {run.name}: {exc}", flush=True)
        return f"busy: {exc}"


def _execute_held(sweep: Sweep, run: Job, label: str, env: dict) -> str | None:
    # A stale marker or table from an earlier attempt must not vouch for this one.
    clear_job_record(run.out_dir)
    on = f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if "CUDA_VISIBLE_DEVICES" in env else ""
    print(f"{label} start   {run.name}{on}", flush=True)
    started, t0, error = datetime.now(timezone.utc), time.perf_counter(), None
    try:
        _papermill().execute_notebook(
            str(sweep.notebook),
            str(run.out_dir / "notebook.ipynb"),
            parameters=run.parameters,
            kernel_name=sweep.kernel,
            cwd=str(sweep.root),
            progress_bar=False,
            kernel_manager_class=_kernel_manager(env),
        )
        if not (run.out_dir / "summary.csv").is_file():
            error = f"the notebook finished without writing {run.parameters['out_dir']}/summary.csv"
    except _papermill().PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"  # the full traceback stays in the kept notebook
    except Exception as exc:  # a kernel that dies, a bad kernel name...: record it, keep sweeping
        error = f"{type(exc).__name__}: {exc}"
    seconds = round(time.perf_counter() - t0, 2)
    record = {
        "run": run.name,
        "parameters": run.parameters,
        "environment": env,
        "status": "failed" if error else "ok",
        "error": error,
        "started": started.isoformat(),
        "finished": datetime.now(timezone.utc).isoformat(),
        "seconds": seconds,
    }
    write_job_record(run.out_dir, record)
    print(
        f"{label} {'FAILED' if error else 'ok    '}  {run.name} ({seconds:.1f} s){': ' + error if error else ''}",
        flush=True,
    )
    return error


STATES = ("done", "running", "pending", "failed", "not started")
SLURM_RECORD = "slurm.json"  # beside a run submitted to SLURM: its job id and log files


@dataclass
class RunState:
    state: str  # one of STATES
    job: str | None = None  # the SLURM job id, for runs submitted there
    detail: str = ""  # why it failed: the error and the log's last lines


def _tail(path: str | Path | None, lines: int = 8) -> str:
    if not path or not Path(path).is_file():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def sweep_status(sweep: Sweep) -> dict[str, RunState]:
    """Each run's state, by run name, whichever executor ran it: ``done``; ``running`` (its folder is
    held by a live process here, or its SLURM job runs); ``pending`` (its SLURM job waits in the
    queue); ``failed``, with the error and the end of its log; ``not started``."""
    from .executors import slurm_queue

    records = {run.name: json.loads((run.out_dir / SLURM_RECORD).read_text())
               for run in sweep.jobs() if (run.out_dir / SLURM_RECORD).is_file()}
    queued = slurm_queue() if records else {}
    states = {}
    for run in sweep.jobs():
        record = records.get(run.name, {})
        job = record.get("job")
        outcome = read_job_record(run.out_dir) or {}
        if run.complete:
            states[run.name] = RunState("done", job)
        elif job in queued:
            states[run.name] = RunState("pending" if queued[job] == "PENDING" else "running", job)
        elif run.out_dir.is_dir() and _held(run.out_dir):
            states[run.name] = RunState("running", job)
        elif outcome.get("status") == "failed":
            log = _tail(record.get("stderr"))
            states[run.name] = RunState("failed", job, outcome.get("error", "") + ("\n" + log if log else ""))
        elif job:
            log = _tail(record.get("stderr"))
            why = f"SLURM job {job} ended without finishing the notebook (cancelled, killed, or out of time)"
            states[run.name] = RunState("failed", job, why + ("\n" + log if log else ""))
        elif (run.out_dir / "notebook.ipynb").is_file():
            states[run.name] = RunState("failed", None, "interrupted: the notebook started and never finished")
        else:
            states[run.name] = RunState("not started")
    return states


def _held(folder: Path) -> bool:
    try:
        with exclusive(folder):
            return False
    except RunBusy:
        return True


def collect_summaries(sweep: Sweep) -> pd.DataFrame:
    """Every complete run's summary.csv, led by its run name and swept values."""
    tables = []
    for run in sweep.jobs():
        if not run.complete:
            continue
        table = pd.read_csv(run.out_dir / "summary.csv")
        # The swept value is authoritative where the notebook also reports it.
        table = table.drop(columns=[c for c in ("run", *run.values) if c in table.columns])
        for i, (key, value) in enumerate({"run": run.name, **run.values}.items()):
            table.insert(i, key, [value] * len(table))
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["run", *sweep.grid])


@contextmanager
def kernels_share_cores(workers: int):
    """With several notebooks at once, their kernels (which inherit this environment) share
    the cores: each trains its own conditions one at a time (``$RLVR_PARALLEL=1``)."""
    before = os.environ.get(env.PARALLEL)
    if workers > 1 and before is None:
        os.environ[env.PARALLEL] = "1"
    try:
        yield
    finally:
        if workers > 1 and before is None:
            os.environ.pop(env.PARALLEL, None)


def run_sweep(sweep: Sweep | str | Path, parallel: int | None = None, dry_run: bool = False,
              executor: str = "local", gpus_per_run: int | None = None) -> SweepResult:
    """Execute every incomplete run and write the cross-run summary.

    ``executor``: ``local`` executes the runs here, ``parallel`` at once (default: one per free set
    of ``gpus_per_run`` GPUs, or 1 on a CPU), each on its own GPUs; ``slurm`` submits each run as a
    SLURM job (``rlvr.executors``) and returns once they are submitted (``result.submitted``), and
    ``sweep_status`` follows them. ``gpus_per_run`` overrides the sweep file's.
    """
    from .executors import EXECUTORS, default_gpus_per_run, device_sets, run_environment, visible_gpus

    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if parallel is not None and parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    per_run = gpus_per_run if gpus_per_run is not None else sweep.gpus_per_run
    per_run = default_gpus_per_run() if per_run is None else per_run
    runs = sweep.jobs()
    states = sweep_status(sweep) if executor == "slurm" else {}
    live = {name for name, state in states.items() if state.state in ("pending", "running")}
    todo = [run for run in runs if not run.complete and run.name not in live]
    result = SweepResult(summary=pd.DataFrame(), skipped=[r.name for r in runs if r.complete])
    print(
        f"sweep {sweep.name}: {len(runs)} runs, {len(result.skipped)} complete"
        + (f", {len(live)} queued or running" if live else "")
        + f", {len(todo)} to run -> {sweep.out_dir}",
        flush=True,
    )
    if dry_run:
        for run in runs:
            print(f"  {'skip' if run.complete else 'wait' if run.name in live else 'run '}  {run.name}")
        result.pending = [run.name for run in todo]
        result.summary = collect_summaries(sweep)
        return result

    if executor == "slurm":
        from .executors import submit_slurm

        result.submitted = submit_slurm(sweep, todo, per_run)
    else:
        sets = device_sets(visible_gpus(), per_run)  # [] on a CPU: runs take no GPU
        workers = parallel or sweep.parallel or max(1, len(sets))
        if sets:
            workers = min(workers, len(sets))  # never more runs than free sets
        free: queue.Queue = queue.Queue()
        for devices in sets:
            free.put(devices)

        def execute(numbered):
            i, run = numbered
            devices = free.get() if sets else None
            try:
                env = run_environment(devices, per_run, sweep.accelerate_config)
                return _execute(sweep, run, f"[{i}/{len(todo)}]", env)
            finally:
                if devices is not None:
                    free.put(devices)

        with kernels_share_cores(workers), ThreadPoolExecutor(max_workers=workers) as pool:
            # Each papermill execution starts its own kernel process; threads only wait on them.
            for run, error in zip(todo, pool.map(execute, enumerate(todo, 1))):
                if error:
                    result.failed[run.name] = error
                else:
                    result.done.append(run.name)

    result.summary = collect_summaries(sweep)
    sweep.out_dir.mkdir(parents=True, exist_ok=True)
    result.summary.to_csv(sweep.out_dir / "summary.csv", index=False)
    return result
