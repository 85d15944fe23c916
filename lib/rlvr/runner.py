"""One notebook job executed: the one runner behind ``rlvr notebook``, ``rlvr sweep``, ``rlvr
reproduce`` and both executors (``rlvr.executors``: this machine, or a SLURM job).

A ``Job`` is one notebook with one set of parameters, executed by papermill into its folder
(``notebook.ipynb`` plus the tables and figures the notebook writes to its ``out_dir``). It carries
everything executing it needs (notebook, kernel, project root, accelerate config, SLURM section), so
jobs from several sweeps can go through one executor. ``execute_job`` holds the folder for one
writer (``rundir.exclusive``), removes what vouched for an earlier attempt, runs the kernel with
the job's extra environment (its GPUs, say) and leaves ``job.json``: parameters, environment,
status, error and times. A job is complete once its ``summary.csv`` exists and ``job.json`` says
``"ok"``.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .config import nest
from .parameters import check_configs, check_parameters, declared_parameters, layered, read_yaml
from .rundir import (
    KEPT_ROOT,
    NOTEBOOK,
    SUMMARY,
    RunBusy,
    clear_job_record,
    exclusive,
    is_job_complete,
    keep_job,
    write_job_record,
)


@dataclass
class Job:
    """One notebook with one set of parameters into its folder, and what executing it needs."""

    name: str
    values: dict  # the swept values only: they label the job in a sweep's summary
    parameters: dict  # everything papermill injects, out_dir included (relative to root)
    out_dir: Path  # absolute
    notebook: Path
    root: Path  # papermill's cwd; relative paths resolve from here
    kernel: str | None = None  # None: the notebook's own kernelspec
    accelerate_config: str | None = None  # for a job with several GPUs (configs/accelerate/)
    slurm: dict = field(default_factory=dict)  # its sweep file's `slurm:` section, for --executor slurm

    @property
    def complete(self) -> bool:
        return is_job_complete(self.out_dir)


def _kernel_manager(env: dict):
    """Kernels that talk to papermill over local sockets (unix domain sockets, each kernel its own
    names) rather than unencrypted TCP on the loopback, which ipykernel warns about at every start;
    ``env`` is added to the kernel's environment (its GPUs, say)."""
    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415 - only where a kernel starts
    from jupyter_core.paths import jupyter_runtime_dir  # noqa: PLC0415 - as jupyter_client

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


def notebook_job(
    notebook: str | Path,
    params_file: str | Path | None = None,
    overrides: dict | None = None,
    out_dir: str | Path | None = None,
    root: str | Path | None = None,
    kernel: str | None = None,
) -> Job:
    """``rlvr notebook``'s job: one notebook into ``out_dir`` (default: the params' ``out_dir``, else
    ``outputs/<notebook name>``), its parameters from a params file and then ``overrides``, checked
    against the notebook before anything is written."""
    root = Path(root or Path.cwd())
    notebook = root / notebook if not Path(notebook).is_absolute() else Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: no such notebook (they live in notebooks/)")
    if params_file and not (root / params_file).is_file():
        raise FileNotFoundError(f"{params_file}: no such params file")
    declared = declared_parameters(notebook)
    layers = [read_yaml(root / params_file, "params file") if params_file else {}, overrides or {}]
    for where, layer in zip((str(params_file), "--set"), layers):
        check_parameters(declared, nest(layer), where, notebook.name)
    parameters = layered(declared, layers)
    check_configs(declared, parameters, str(params_file or "parameters"))
    out = Path(out_dir or parameters.get("out_dir") or Path("outputs") / notebook.stem)
    parameters["out_dir"] = str(out)
    return Job(out.name, dict(overrides or {}), parameters, root / out, notebook, root, kernel)


def execute_job(job: Job, env: dict | None = None, label: str | None = None,
                summary_required: bool = True) -> str | None:
    """Execute one job, ``env`` added to its kernel's environment; returns the error, or None when
    it succeeded. ``label`` (``[3/8]``, ``[tab8]``): print a line as it starts and ends. A job whose
    folder another process holds is left alone (``busy: ...``). ``summary_required``: a notebook
    that ends without writing ``summary.csv`` failed (a sweep's job is complete only with one)."""
    try:
        with exclusive(job.out_dir):
            return _execute_held(job, env or {}, label, summary_required)
    except RunBusy as exc:  # another sweep is on this job: leave its files alone
        if label:
            print(f"{label} BUSY    {job.name}: {exc}", flush=True)
        return f"busy: {exc}"


def _execute_held(job: Job, env: dict, label: str | None, summary_required: bool) -> str | None:
    import papermill  # noqa: PLC0415 - a second to import: `rlvr train` and `rlvr --help` start without it

    # A stale record or table from an earlier attempt must not vouch for this one.
    clear_job_record(job.out_dir)
    on = f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if "CUDA_VISIBLE_DEVICES" in env else ""
    if label:
        print(f"{label} start   {job.name}{on}", flush=True)
    started, t0, error = datetime.now(timezone.utc), time.perf_counter(), None
    try:
        # The kernel starts in the job's root (nbclient's `resources` path), rather than through
        # papermill's `cwd`, which chdirs this whole process: jobs run in threads side by side, and
        # one's chdir, undone late, would move another's (and the caller's) working directory.
        papermill.execute_notebook(
            str(job.notebook.resolve()),
            str((job.out_dir / NOTEBOOK).resolve()),
            parameters=job.parameters,
            kernel_name=job.kernel,
            progress_bar=False,
            kernel_manager_class=_kernel_manager(env),
            resources={"metadata": {"path": str(job.root.resolve())}},
        )
        if summary_required and not (job.out_dir / SUMMARY).is_file():
            error = f"the notebook finished without writing {job.parameters['out_dir']}/{SUMMARY}"
    except papermill.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"  # the full traceback stays in the kept notebook
    except Exception as exc:  # a kernel that dies, a bad kernel name...: record it, go on with the others
        error = f"{type(exc).__name__}: {exc}"
    seconds = round(time.perf_counter() - t0, 2)
    write_job_record(job.out_dir, {
        "job": job.name,
        "notebook": str(job.notebook.relative_to(job.root) if job.notebook.is_relative_to(job.root)
                        else job.notebook),
        "parameters": job.parameters,
        "environment": env,
        "status": "failed" if error else "ok",
        "error": error,
        "started": started.isoformat(),
        "finished": datetime.now(timezone.utc).isoformat(),
        "seconds": seconds,
    })
    if label:
        print(f"{label} {'FAILED' if error else 'ok    '}  {job.name} ({seconds:.1f} s)"
              f"{': ' + error if error else ''}", flush=True)
    if not error:
        try:
            keep_job(job.out_dir, job.root)
        except OSError as exc:  # the job is done and on disk: say so, and leave its result as it is
            print(f"could not keep {job.out_dir} in {KEPT_ROOT}/ ({exc}): a fresh clone will not have it", flush=True)
    return error
