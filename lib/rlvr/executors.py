"""Where jobs execute, and on which GPUs: this machine, or a SLURM cluster; and where each job stands.

``execute_jobs`` takes any list of jobs (``rlvr.runner.Job``: one sweep's, or several sweeps' as
``rlvr reproduce`` gives it) and executes each through ``rlvr.runner.execute_job``.

``local`` (the default): the jobs execute here, each in its own kernel. With GPUs, each job takes
``gpus_per_run`` of them: the visible GPUs are cut into disjoint sets, a job gets a set as its
``CUDA_VISIBLE_DEVICES`` and gives it back when it ends, and no more jobs go at once than there are
sets. ``slurm``: each job is one SLURM job, submitted through submitit, with its sweep file's
``slurm:`` section (partition, CPUs, memory, time limit, extra sbatch options, set-up lines) and
``gpus_per_run`` GPUs, optionally after other SLURM jobs have ended; it executes the same notebook
into the same folder, so resuming and the summaries do not depend on the executor.

A job with several GPUs trains with one process per GPU: ``train_run`` (``rlvr.runs``) sees
``RLVR_TRAIN_PROCESSES`` in its environment and starts ``rlvr train`` through ``accelerate launch``
with that many processes and the job's accelerate config (``configs/accelerate/``); everything else
in the notebook (evaluation, tables) runs in the kernel as before.

``RLVR_GPUS`` stands in for the machine's GPUs (a count, ``4``, or device ids, ``0,1,2,3``): what
the executor hands out can be checked on a machine without any.

``job_states`` says where any list of jobs stands, whichever executor ran them, from their folders
and ``squeue`` (not ``sacct``: clusters without job accounting work too).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import env as env_names
from .rundir import NOTEBOOK, SLURM_RECORD, RunBusy, exclusive, read_job_record
from .runner import Job, execute_job

EXECUTORS = ("local", "slurm")
DEFAULT_ACCELERATE_CONFIG = "configs/accelerate/deepspeed_zero3.yaml"  # docs/gpu.md: the 8-GPU recipe


def visible_gpus() -> list[str]:
    """The GPUs jobs here may use: ``$RLVR_GPUS``, else ``$CUDA_VISIBLE_DEVICES``, else every CUDA device."""
    given = os.environ.get(env_names.GPUS)
    if given is not None:
        given = given.strip()
        if given.isdigit():
            return [str(i) for i in range(int(given))]
        return [g.strip() for g in given.split(",") if g.strip()]
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    try:
        import torch  # noqa: PLC0415 - seconds to import: only asked where no variable names the GPUs

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def default_gpus_per_run() -> int:
    """1 where there is a GPU, 0 (CPU jobs) where there is none."""
    return 1 if visible_gpus() else 0


def device_sets(gpus: list[str], per_run: int) -> list[str]:
    """The visible GPUs cut into disjoint sets of ``per_run``, each a ``CUDA_VISIBLE_DEVICES`` value."""
    if per_run < 0:
        raise ValueError(f"gpus_per_run must be >= 0, got {per_run}")
    if per_run == 0:
        return []
    if per_run > len(gpus):
        raise ValueError(f"gpus_per_run is {per_run} but this machine has {len(gpus)} GPU(s) "
                         f"({', '.join(gpus) or 'none'}); lower gpus_per_run, or run with --executor slurm")
    return [",".join(gpus[i:i + per_run]) for i in range(0, len(gpus) - per_run + 1, per_run)]


def job_environment(devices: str | None, per_run: int, accelerate_config: str | None) -> dict[str, str]:
    """What a job's kernel gets in its environment beyond this process's own."""
    env = {}
    if devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = devices
    if per_run > 1:
        env[env_names.TRAIN_PROCESSES] = str(per_run)
        env[env_names.ACCELERATE_CONFIG] = accelerate_config or DEFAULT_ACCELERATE_CONFIG
    return env


def training_command(params_file: str | Path, processes: int, accelerate_config: str | None = None) -> list[str]:
    """The command that trains one run's params file with ``processes`` processes."""
    train = ["-m", "rlvr.cli", "train", str(params_file)]
    if processes <= 1:
        return [sys.executable, *train]
    config = accelerate_config or os.environ.get(env_names.ACCELERATE_CONFIG) or DEFAULT_ACCELERATE_CONFIG
    if not Path(config).is_file():
        raise FileNotFoundError(f"accelerate config {config} not found (set accelerate_config in the sweep file, "
                                "one of configs/accelerate/)")
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
            "--num_processes", str(processes), *train]


@contextmanager
def kernels_share_cores(workers: int) -> Iterator[None]:
    """With several notebooks at once, their kernels (which inherit this environment) share
    the cores: each trains its own conditions one at a time (``$RLVR_PARALLEL=1``, unless set already)."""
    share = workers > 1 and os.environ.get(env_names.PARALLEL) is None
    with env_names.variable_set(env_names.PARALLEL, "1" if share else None):
        yield


def check_execution(executor: str, parallel: int | None) -> None:
    """Refuse an unknown executor or a count of jobs at once below 1, before anything runs."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if parallel is not None and parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")


@dataclass
class JobOutcome:
    job: Job
    error: str | None = None  # executed here: why it failed (None: it succeeded)
    slurm_job: str | None = None  # submitted to SLURM: its job id


def execute_jobs(jobs: Sequence[Job], executor: str = "local", parallel: int | None = None,
                 gpus_per_run: int | None = None, labels: Sequence[str] | None = None, after: Sequence[str] = (),
                 started: Callable[[Job], None] | None = None,
                 finished: Callable[[Job, str | None], None] | None = None,
                 ready: Callable[[Job], bool] | None = None) -> list[JobOutcome]:
    """Execute ``jobs`` (from one sweep or several), one outcome each, in their order.

    ``local``: here, ``parallel`` at once (default: one per free set of ``gpus_per_run`` GPUs, or 1
    on a CPU), each printing its start and end under its label (default ``[i/n]``); ``started`` and
    ``finished`` are called around each (from the pool's threads); ``ready``: a job waits until it
    says yes (what it reads is complete), the next ready one in order taking its place. ``slurm``:
    each is submitted as a SLURM job that starts once the SLURM jobs ``after`` have ended, and this
    returns once they are submitted. ``gpus_per_run``: default 1 where there is a GPU, 0 where there is none."""
    check_execution(executor, parallel)
    per_run = default_gpus_per_run() if gpus_per_run is None else gpus_per_run
    if executor == "slurm":
        return submit_slurm(jobs, per_run, after)
    sets = device_sets(visible_gpus(), per_run)  # [] on a CPU: jobs take no GPU
    workers = parallel or max(1, len(sets))
    if sets:
        workers = min(workers, len(sets))  # never more jobs than free sets
    labels = labels or [f"[{i}/{len(jobs)}]" for i in range(1, len(jobs) + 1)]

    def execute(i: int, devices: str | None) -> JobOutcome:
        job = jobs[i]
        if started:
            started(job)
        error = execute_job(job, job_environment(devices, per_run, job.accelerate_config), labels[i])
        if finished:
            finished(job, error)
        return JobOutcome(job, error)

    with kernels_share_cores(workers):
        # Each papermill execution starts its own kernel process; threads only wait on them.
        return on_free_devices(range(len(jobs)), execute, sets, workers,
                               ready=(lambda i: ready(jobs[i])) if ready else None)


def on_free_devices(items: Sequence, work: Callable, sets: Sequence[str], workers: int | None = None,
                    ready: Callable[[object], bool] | None = None) -> list:
    """``work(item, devices)`` for each item, ``workers`` at once (default one a device set), each
    holding one of ``sets`` (``CUDA_VISIBLE_DEVICES`` values) while it runs and handing it to the next
    item as it ends; ``devices`` is None where ``sets`` is empty. A free worker takes the first item
    in order that is ``ready`` (default: every item), waiting while none is and another still runs;
    when nothing runs and none is ready, the first left goes anyway (its own error says what it
    lacked). Results in the items' order."""
    free: queue.Queue = queue.Queue()
    for devices in sets:
        free.put(devices)
    workers = workers or max(1, len(sets))
    pending, running, results = list(range(len(items))), [0], [None] * len(items)
    changed = threading.Condition()

    def take() -> int | None:
        with changed:
            while pending:
                for k, i in enumerate(pending):
                    if ready is None or ready(items[i]):
                        break
                else:
                    if running[0]:
                        changed.wait()
                        continue
                    k = 0
                running[0] += 1
                return pending.pop(k)
            return None

    def worker() -> None:
        while (i := take()) is not None:
            devices = free.get() if sets else None
            try:
                results[i] = work(items[i], devices)
            finally:
                if devices is not None:
                    free.put(devices)
                with changed:
                    running[0] -= 1
                    changed.notify_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    return results


# ----------------------------------------------------------------------------- where jobs stand


STATES = ("done", "running", "pending", "failed", "not started")


@dataclass
class JobState:
    state: str  # one of STATES
    slurm_job: str | None = None  # the SLURM job id, for jobs submitted there
    detail: str = ""  # why it failed: the error and the log's last lines


def _tail(path: str | Path | None, lines: int = 8) -> str:
    if not path or not Path(path).is_file():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def _with_log(why: str, record: dict) -> str:
    """Why a job failed, and the end of its SLURM log where it has one (read only for failed jobs)."""
    log = _tail(record.get("stderr"))
    return why + ("\n" + log if log else "")


def _held(folder: Path) -> bool:
    try:
        with exclusive(folder):
            return False
    except RunBusy:
        return True


def _slurm_record(job: Job) -> dict:
    path = job.out_dir / SLURM_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def job_states(jobs: Sequence[Job]) -> list[JobState]:
    """Each job's state, in their order, whichever executor ran it: ``done``; ``running`` (its folder
    is held by a live process here, or its SLURM job runs); ``pending`` (its SLURM job waits in the
    queue); ``failed``, with the error and the end of its log; ``not started``."""
    records = [_slurm_record(job) for job in jobs]
    queued = slurm_queue() if any(records) else {}
    states = []
    for job, record in zip(jobs, records):
        slurm_job = record.get("job")
        outcome = read_job_record(job.out_dir) or {}
        if job.complete:
            states.append(JobState("done", slurm_job))
        elif slurm_job in queued:
            states.append(JobState("pending" if queued[slurm_job] == "PENDING" else "running", slurm_job))
        elif job.out_dir.is_dir() and _held(job.out_dir):
            states.append(JobState("running", slurm_job))
        elif outcome.get("status") == "failed":
            states.append(JobState("failed", slurm_job, _with_log(outcome.get("error") or "", record)))
        elif slurm_job:
            why = f"SLURM job {slurm_job} ended without finishing the notebook (cancelled, killed, or out of time)"
            states.append(JobState("failed", slurm_job, _with_log(why, record)))
        elif (job.out_dir / NOTEBOOK).is_file():
            states.append(JobState("failed", None, "interrupted: the notebook started and never finished"))
        else:
            states.append(JobState("not started"))
    return states


def wait_for(jobs: Sequence[Job], every_s: float = 5.0,
             on_look: Callable[[list[JobState]], None] | None = None) -> list[JobState]:
    """Look where ``jobs`` stand every ``every_s`` seconds (``on_look`` sees each look) until none is
    queued or running; returns their last states."""
    while True:
        states = job_states(jobs)
        if on_look:
            on_look(states)
        if not any(s.state in ("pending", "running") for s in states):
            return states
        time.sleep(every_s)


def live_jobs(jobs: Sequence[Job]) -> dict[Path, str | None]:
    """The jobs queued or running now (not to be started twice), by folder: their SLURM job id,
    or None where a process here holds the folder."""
    return {job.out_dir: state.slurm_job for job, state in zip(jobs, job_states(jobs))
            if state.state in ("pending", "running")}


# ----------------------------------------------------------------------------- SLURM, through submitit


def slurm_queue() -> dict[str, str]:
    """The jobs in the SLURM queue now: {job id: state (PENDING, RUNNING, ...)}."""
    if shutil.which("squeue") is None:
        raise RuntimeError("squeue not found: --executor slurm needs SLURM's client commands on this machine")
    listed = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        raise RuntimeError(f"squeue failed: {listed.stderr.strip()}")
    return dict(line.split(maxsplit=1) for line in listed.stdout.splitlines() if line.strip())


def _sbatch_options(lines: list[str]) -> dict:
    """``["--account=abc", "--exclusive"]`` as submitit's ``additional_parameters``."""
    options = {}
    for line in lines:
        key, _, value = str(line).strip().removeprefix("#SBATCH").strip().lstrip("-").partition("=")
        if not key:
            raise ValueError(f"slurm: sbatch: cannot read option {line!r} (write it as --name=value or --flag)")
        options[key.replace("-", "_")] = value if value else True
    return options


def submit_slurm(jobs: Sequence[Job], gpus_per_run: int, after: Sequence[str] = ()) -> list[JobOutcome]:
    """Submit each job as one SLURM job (submitit), to start once the SLURM jobs ``after`` have ended.

    The SLURM job executes the notebook into the job's folder exactly as ``--executor local`` does,
    and beside it ``slurm.json`` records the SLURM job id and its log files (submitit's, under
    ``outputs/<sweep>/.slurm/<job id>/``) for ``job_states``."""
    import submitit  # noqa: PLC0415 - only for --executor slurm

    outcomes = []
    for job in jobs:
        section, sweep_dir = dict(job.slurm), job.out_dir.parent
        executor = submitit.SlurmExecutor(folder=sweep_dir / ".slurm" / "%j")
        parameters = {"time": section.get("time", 24 * 60),  # submitit's own default (5 minutes) ends jobs early
                      "job_name": f"rlvr:{sweep_dir.name}:{job.name}"}
        for key in ("partition", "cpus_per_task", "mem", "setup"):
            if key in section:
                parameters[key] = section[key]
        if gpus_per_run:
            parameters["gpus_per_node"] = gpus_per_run
        if after:
            parameters["dependency"] = "afterany:" + ":".join(after)
        if section.get("sbatch"):
            parameters["additional_parameters"] = _sbatch_options(section["sbatch"])
        executor.update_parameters(**parameters)
        env = job_environment(None, gpus_per_run, job.accelerate_config)  # SLURM sets CUDA_VISIBLE_DEVICES
        submitted = executor.submit(run_job, job, env)
        job.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"job": str(submitted.job_id), "submitted": datetime.now(timezone.utc).isoformat(),
                  "stdout": str(submitted.paths.stdout), "stderr": str(submitted.paths.stderr)}
        (job.out_dir / SLURM_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        print(f"  submitted {job.name}: SLURM job {submitted.job_id}", flush=True)
        outcomes.append(JobOutcome(job, slurm_job=str(submitted.job_id)))
    return outcomes


def run_job(job: Job, env: dict) -> None:
    """A SLURM job's work: the job's notebook, as ``--executor local`` executes it; fails the SLURM
    job when the notebook fails (its job.json says why)."""
    os.environ.update(env)
    error = execute_job(job, env, f"[job {os.environ.get('SLURM_JOB_ID', '?')}]")
    if error:
        raise RuntimeError(f"job {job.name} failed: {error}")
