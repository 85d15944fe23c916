"""Where a sweep's runs execute, and on which GPUs: this machine, or a SLURM cluster.

``local`` (the default): the runs execute here, each in its own kernel. With GPUs, each run
takes ``gpus_per_run`` of them: the visible GPUs are cut into disjoint sets, a run gets a set
as its ``CUDA_VISIBLE_DEVICES`` and gives it back when it ends, and no more runs go at once than
there are sets. ``slurm``: each run is one SLURM job, submitted through submitit, with the sweep
file's ``slurm:`` section (partition, CPUs, memory, time limit, extra sbatch options, set-up
lines) and ``gpus_per_run`` GPUs; the job executes the same notebook into the same run folder,
so resuming a sweep and its ``summary.csv`` do not depend on the executor.

A run with several GPUs trains with one process per GPU: ``train_run`` (``rlvr.runs``)
sees ``RLVR_TRAIN_PROCESSES`` in its environment and starts ``rlvr train`` through
``accelerate launch`` with that many processes and the sweep's accelerate config
(``configs/accelerate/``); everything else in the notebook (evaluation, tables) runs in the
kernel as before.

``RLVR_GPUS`` stands in for the machine's GPUs (a count, ``4``, or device ids, ``0,1,2,3``):
what the runner hands out can be checked on a machine without any.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import env as env_names

EXECUTORS = ("local", "slurm")
DEFAULT_ACCELERATE_CONFIG = "configs/accelerate/deepspeed_zero3.yaml"  # docs/gpu.md: the 8-GPU recipe


def visible_gpus() -> list[str]:
    """The GPUs runs here may use: ``$RLVR_GPUS``, else ``$CUDA_VISIBLE_DEVICES``, else every CUDA device."""
    given = os.environ.get(env_names.GPUS)
    if given is not None:
        given = given.strip()
        if given.isdigit():
            return [str(i) for i in range(int(given))]
        return [g.strip() for g in given.split(",") if g.strip()]
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def default_gpus_per_run() -> int:
    """1 where there is a GPU, 0 (CPU runs) where there is none."""
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


def run_environment(devices: str | None, per_run: int, accelerate_config: str | None) -> dict[str, str]:
    """What a run's kernel gets in its environment beyond this process's own."""
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


# ----------------------------------------------------------------------------- SLURM, through submitit


def slurm_queue() -> dict[str, str]:
    """The jobs in the SLURM queue now: {job id: state (PENDING, RUNNING, ...)}."""
    import shutil
    import subprocess

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


def submit_slurm(sweep, runs, gpus_per_run: int) -> dict[str, str]:
    """Submit each run as one SLURM job (submitit); returns {run name: job id}.

    The job executes the notebook into the run's folder exactly as ``--executor local`` does, and
    beside it ``slurm.json`` records the job id and its log files (submitit's, under
    ``outputs/<sweep>/.slurm/<job id>/``) for ``rlvr sweep FILE --status``."""
    import json
    from datetime import datetime, timezone

    import submitit

    section = dict(sweep.slurm)
    executor = submitit.SlurmExecutor(folder=sweep.out_dir / ".slurm" / "%j")
    parameters = {"time": section.get("time", 24 * 60)}  # submitit's own default (5 minutes) ends runs early
    for key in ("partition", "cpus_per_task", "mem", "setup"):
        if key in section:
            parameters[key] = section[key]
    if gpus_per_run:
        parameters["gpus_per_node"] = gpus_per_run
    if section.get("sbatch"):
        parameters["additional_parameters"] = _sbatch_options(section["sbatch"])
    executor.update_parameters(**parameters)
    env = run_environment(None, gpus_per_run, sweep.accelerate_config)  # SLURM sets CUDA_VISIBLE_DEVICES
    submitted = {}
    for run in runs:
        executor.update_parameters(job_name=f"rlvr:{sweep.name}:{run.name}")
        job = executor.submit(run_job, sweep, run, env)
        run.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"job": str(job.job_id), "submitted": datetime.now(timezone.utc).isoformat(),
                  "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}
        (run.out_dir / "slurm.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"  submitted {run.name}: SLURM job {job.job_id}", flush=True)
        submitted[run.name] = str(job.job_id)
    return submitted


def run_job(sweep, run, env: dict) -> None:
    """A SLURM job's work: the run's notebook, as ``--executor local`` executes it; fails the job
    when the notebook fails (its run.json says why)."""
    from .sweep import _execute

    os.environ.update(env)
    error = _execute(sweep, run, f"[job {os.environ.get('SLURM_JOB_ID', '?')}]", env)
    if error:
        raise RuntimeError(f"run {run.name} failed: {error}")
