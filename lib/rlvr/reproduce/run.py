"""Executing the chosen experiments' incomplete jobs, then writing the report; where each job stands.

The experiments' jobs are their sweep files' jobs, executed by ``rlvr.executors.execute_jobs``:
here (two side by side on a CPU, one per free set of ``gpus_per_run`` GPUs on a GPU machine) or
as SLURM jobs. They go in two waves, as an experiment with ``after`` reads another's jobs (tab16
reads tab8's): here the second wave starts once the first has ended; on SLURM its jobs wait for the
first wave's (``--dependency=afterany``) and the command returns once everything is submitted,
saying how to follow the jobs (``--status``) and to write the report once they are done
(``--report-only``), unless asked to wait.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..executors import (
    JobState,
    check_execution,
    default_gpus_per_run,
    execute_jobs,
    job_states,
    live_jobs,
    wait_for,
)
from ..rundir import RUN_CONFIG, STEPS_LOG, is_kept_without_weights, read_log
from ..runner import Job
from ..toyworld.worlds import stale
from ..twins import reusing_runs
from .document import DOC, map_report, report, report_path
from .outputs import job_seed
from .registry import (
    EXPERIMENTS,
    MAP,
    SEEDS,
    chosen_in,
    experiment_jobs,
    map_column,
    map_order,
    report_seeds,
    targeted,
)

POLL_S = 5.0  # how often a waiting reproduce asks SLURM where its jobs stand


def _training_line(out_dir: Path) -> str | None:
    """Where a notebook job stands: the run folder it trains in now, at step n of N."""
    logs = sorted(out_dir.rglob(STEPS_LOG), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    rows = read_log(logs[-1].parent, STEPS_LOG)
    try:
        config = json.loads((logs[-1].parent / RUN_CONFIG).read_text())["config"]
        total = f"/{config['steps'] * config.get('optimizer_steps_per_rollout', 1)}"
    except (OSError, ValueError, KeyError):
        total = ""
    where = logs[-1].parent.relative_to(out_dir).as_posix()
    return f"{where} step {rows[-1]['step']}{total}" if rows else None


@contextmanager
def _training_lines(active: Callable[[], dict[Path, str]], every_s: float) -> Iterator[None]:
    """Every ``every_s``, a line for each active job (folder -> label) that trains: its step."""
    stop = threading.Event()

    def watch():
        while not stop.wait(every_s):
            for out_dir, label in list(active().items()):
                if line := _training_line(out_dir):
                    print(f"  {label}: {line}", flush=True)

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield
    finally:
        stop.set()


def world_experiments(world: str | None, only=None) -> list[str]:
    """The experiments to run in ``world`` (``chosen_in``); a world not built (or built otherwise) is
    refused with the command that builds it."""
    if world not in (None, "toy-base") and (why := stale(world)):
        raise FileNotFoundError(why)
    return chosen_in(world, only)


def reproduce_status(only=None, seeds: Sequence[int] = SEEDS, root: str | Path | None = None,
                     world: str | None = None) -> dict[str, dict[str, JobState]]:
    """Each chosen experiment's jobs' states, by ``<sweep>/<job>`` (``rlvr.executors.job_states``); in a
    world whose selection has not run, the experiments that wait for its pi_1 have none listed yet."""
    root = Path(root or Path.cwd())
    names = chosen_in(world, only)
    states: dict[str, dict[str, JobState]] = {name: {} for name in names}
    for name in names:
        try:
            listed = experiment_jobs([name], seeds, root, world)
        except FileNotFoundError:
            continue
        for (_, job), state in zip(listed, job_states([job for _, job in listed])):
            states[name][f"{job.out_dir.parent.name}/{job.name}"] = state
    return states


def map_status(seeds: Sequence[int] = SEEDS, root: str | Path | None = None) -> dict[str, dict[str, JobState]]:
    """The map's job states (as ``reproduce_status``) by ``<world>/<experiment>``, in the order the map runs
    them (``map_order``)."""
    worlds = {world: reproduce_status(targeted(), seeds, root) if world == "toy-base"
              else reproduce_status(None, seeds, root, world) for world in map_order()}
    return {f"{world}/{name}": states for world, experiments in worlds.items() for name, states in experiments.items()}


def reproduce(only=None, seeds: Sequence[int] = SEEDS, parallel: int | None = None, root: str | Path | None = None,
              dry_run: bool = False, report_to: str | Path | None = DOC, progress_every_s: float = 60.0,
              executor: str = "local", gpus_per_run: int | None = None, wait: bool = False,
              world: str | None = None) -> dict[str, list[str]]:
    """Execute the chosen experiments' incomplete jobs, then write the report. Returns the jobs that
    failed, by experiment.

    ``executor``: ``local`` here, ``parallel`` at once (default: 2 on a CPU, one per free set of
    ``gpus_per_run`` GPUs on a GPU machine); ``slurm`` submits each job as a SLURM job (jobs queued or
    running already are not submitted twice) and returns once submitted, or with ``wait`` once they
    have ended, then writes the report. ``world``: run them from that embedded world's base model instead
    (``world_experiments``; jobs in ``outputs/map/<world>/``, report in ``docs/map/<world>.md``)."""
    check_execution(executor, parallel)
    root = Path(root or Path.cwd())
    world = None if world == "toy-base" else world
    names = world_experiments(world, only)
    if not dry_run:
        _rerun_unweighted_reads(names, seeds, root, world)
    report_to = report_path(world) if report_to == DOC else report_to
    waves = [[n for n in names if not EXPERIMENTS[n].after], [n for n in names if EXPERIMENTS[n].after]]
    if world is not None and "selection" in names:  # its own pi_1 comes from its selection run: the rest waits
        waves = [["selection"], *[[n for n in wave if n != "selection"] for wave in waves]]
    failed: dict[str, list[str]] = {}
    t0 = time.monotonic()
    first_wave: list[str] = []  # SLURM job ids the next wave waits for
    submitted: list[tuple[str, Job]] = []
    for wave in (w for w in waves if w):
        try:
            listed = experiment_jobs(wave, seeds, root, world)
        except FileNotFoundError as exc:  # the world's selection has not run: listing or submitting only
            print(f"reproduce {', '.join(wave)}: waits for the world's selection run ({exc})", flush=True)
            continue
        live = live_jobs([job for _, job in listed]) if executor == "slurm" else {}
        todo = [(name, job) for name, job in listed if not job.complete and job.out_dir not in live]
        print(f"reproduce {', '.join(wave)}: {len(listed)} runs, {len(listed) - len(todo) - len(live)} complete"
              + (f", {len(live)} queued or running" if live else "") + f", {len(todo)} to run", flush=True)
        if dry_run:
            for name, job in todo:
                print(f"  run  {name}/{job.name}")
        elif executor == "slurm":
            outcomes = execute_jobs([job for _, job in todo], "slurm", gpus_per_run=gpus_per_run, after=first_wave)
            first_wave = first_wave + [o.slurm_job for o in outcomes] + [i for i in live.values() if i]
            submitted += todo
        else:
            for name, error in _execute_here(todo, parallel, gpus_per_run, t0, progress_every_s, root):
                failed.setdefault(name, []).append(error)
    if dry_run:
        return failed
    if executor == "slurm":
        print(f"{len(submitted)} jobs submitted; follow them with: rlvr reproduce --status"
              f"{_options(only and names, seeds)}", flush=True)
        if not wait:
            # The same report as a reproduce here writes: every seed, not only this invocation's.
            print("once they are done, write the report with: rlvr reproduce --report-only"
                  f"{_options(only and names, report_seeds(seeds))}", flush=True)
            return failed
        failed = _wait(experiment_jobs(names, seeds, root, world), t0, progress_every_s)
    if report_to:
        # The report shows every seed, not only the ones this invocation ran (--seeds 1,2 finishes a reproduce).
        report(names, report_seeds(seeds), root, root / report_to, minutes=(time.monotonic() - t0) / 60,
               failed=failed, world=world)
    return failed


# Within a world of the map, the longest jobs first (minutes a job in qwen-like, two at once: beyond ~50,
# post-saturation ~30, labels ~24, Tab. 5 ~16, Tab. 14 ~10, Tab. 8 ~7, Tab. 3 ~2).
LONGEST_FIRST = ("selection", "beyond", "postsat", "labels", "tab5", "tab14", "tab8", "tab3", "tab16", "ppo")


def reproduce_map(seeds: Sequence[int] = SEEDS, root: str | Path | None = None, **execution) -> dict[str, list[str]]:
    """The map: every world of ``MAP`` with its experiments (resumable, as ``reproduce``), each world's
    report, then the matrix in ``docs/results-toy.md``. Every world must be built first: the ones that
    are not are named with the command that builds each, before anything runs.

    Here, the worlds' jobs share one pool (toy-base's column among them, ``map_order``), in two waves: every world's
    selection run (the rest of a world trains on its pi_1), then every world's experiments, world by
    world in ``map_order`` and the longest first within a world, a job that reads another's (tab16
    its world's tab8) waiting for it while a free core takes the next; so a world's results come in
    as early as they can while the next world's jobs fill a free core (one world after another would
    leave a core idle at each world's last job).
    On SLURM (or a dry run) one world after another, each ``reproduce``."""
    root = Path(root or Path.cwd())
    if missing := [why for world in MAP if (why := stale(world))]:
        raise FileNotFoundError("the map needs every world built:\n  " + "\n  ".join(missing))
    failed: dict[str, list[str]] = {}
    if execution.get("dry_run") or execution.get("executor", "local") != "local":
        for world in map_order():
            if world == "toy-base":
                print("map: toy-base's column", flush=True)
                failures = reproduce(targeted(), seeds=seeds, root=root, report_to=None, **execution)
            else:
                print(f"map: world {world}", flush=True)
                failures = reproduce(seeds=seeds, root=root, world=world, **execution)
            failed |= {f"{world}/{k}": v for k, v in failures.items()}
        if not execution.get("dry_run"):
            map_report(report_seeds(seeds), root, root / DOC)
    else:
        # toy-base's column too (its jobs in outputs/reproduce, the default reproduce's; its report is the
        # default reproduce's to write, docs/results-toy.md).
        t0 = time.monotonic()
        names = {world: map_column(world) for world in map_order()}  # every world checked built above
        for world, experiments in names.items():
            _rerun_unweighted_reads(experiments, seeds, root, None if world == "toy-base" else world)

        def reads(world: str | None, name: str) -> list[Job]:  # the jobs an experiment's notebook reads
            try:
                return [job for _, job in experiment_jobs(EXPERIMENTS[name].after, seeds, root, world)]
            except FileNotFoundError:
                return []

        for wave, takes in {"selection runs": lambda n: n == "selection",
                            "experiments": lambda n: n != "selection"}.items():
            todo, waits = [], {}
            for world, experiments in names.items():
                in_world = None if world == "toy-base" else world
                try:
                    listed = experiment_jobs([n for n in experiments if takes(n)], seeds, root, in_world)
                except FileNotFoundError as exc:  # its selection run failed: its report says what is missing
                    print(f"map {wave}: {world} waits for its selection run ({exc})", flush=True)
                    continue
                for name, job in listed:
                    if not job.complete:
                        todo.append((f"{world}/{name}", job))
                        waits[job.out_dir] = reads(in_world, name)
            order = list(names)
            todo.sort(key=lambda item: (order.index(item[0].rsplit("/", 1)[0]),
                                        LONGEST_FIRST.index(item[0].rsplit("/", 1)[1])))
            print(f"map {wave}: {len(todo)} runs to do across the worlds", flush=True)
            # A job that reads another's (tab16 reads its world's tab8) waits for it; a free core
            # takes the next job in order meanwhile.
            for name, error in _execute_here(todo, execution.get("parallel"), execution.get("gpus_per_run"), t0,
                                             execution.get("progress_every_s", 60.0), root,
                                             ready=lambda job: all(j.complete for j in waits[job.out_dir])):
                failed.setdefault(name, []).append(error)
        map_reports(seeds, root, minutes=(time.monotonic() - t0) / 60, failed=failed)
    return failed


def _rerun_unweighted_reads(names: Sequence[str], seeds: Sequence[int], root: Path, world: str | None) -> None:
    """A job brought back from ``results/`` has no weights; where a job still to run reads its run (Tab. 16
    evaluates Tab. 8's checkpoints), it runs again, in the same reproduce: its folder in ``outputs/`` goes
    (``results/`` keeps the copy until the new one replaces it)."""
    for name in (n for n in names if EXPERIMENTS[n].after):
        try:
            pending = [job_seed(job) for _, job in experiment_jobs([name], seeds, root, world) if not job.complete]
            reads = experiment_jobs(EXPERIMENTS[name].after, pending, root, world) if pending else []
        except FileNotFoundError:  # the world's selection has not run: nothing of it is on disk
            continue
        for _, job in reads:
            if is_kept_without_weights(job.out_dir):
                print(f"reproduce {name}: reads {job.out_dir.relative_to(root)}, kept without its weights: it runs "
                      "again", flush=True)
                shutil.rmtree(job.out_dir)


def map_reports(seeds: Sequence[int] = SEEDS, root: str | Path | None = None, minutes: float | None = None,
                failed: dict[str, list[str]] | None = None) -> Path:
    """Every world's report of the map (``docs/map/<world>.md``) and the matrix in ``docs/results-toy.md``,
    from the jobs on disk: what a map cut off part way (it takes more than a session) has to show."""
    root, seeds, failed = Path(root or Path.cwd()), report_seeds(seeds), failed or {}
    for world in MAP:
        report(None, seeds, root, root / report_path(world), minutes=minutes, world=world,
               failed={k.split("/", 1)[1]: v for k, v in failed.items() if k.split("/", 1)[0] == world})
    return map_report(seeds, root, root / DOC)


def _options(names: Sequence[str] | None, seeds: Sequence[int]) -> str:
    """``--only`` and ``--seeds`` as a command line takes them, where they differ from the defaults."""
    return (f" --only {','.join(names)}" if names else "") + (
        f" --seeds {','.join(map(str, seeds))}" if list(seeds) != list(SEEDS) else "")


def _execute_here(todo: list[tuple[str, Job]], parallel: int | None, gpus_per_run: int | None, t0: float,
                  progress_every_s: float, root: Path, ready: Callable[[Job], bool] | None = None,
                  ) -> list[tuple[str, str]]:
    """One wave's jobs on this machine, a line as each ends and the training steps as they go (a job
    waits until ``ready``); returns (experiment, "job: error") for each that failed. A run the jobs ask
    for that one of ``root/outputs`` has trained already is copied from it (``rlvr.twins``)."""
    per_run = default_gpus_per_run() if gpus_per_run is None else gpus_per_run
    experiment = {job.out_dir: name for name, job in todo}
    active: dict[Path, str] = {}
    done, lock = [0], threading.Lock()

    def started(job: Job) -> None:
        active[job.out_dir] = f"[{experiment[job.out_dir]}] {job.name}"

    def finished(job: Job, error: str | None) -> None:
        active.pop(job.out_dir, None)
        with lock:
            done[0] += 1
            print(f"reproduce: {done[0]}/{len(todo)} jobs done, {(time.monotonic() - t0) / 60:.0f} min so far",
                  flush=True)

    with _training_lines(lambda: active, progress_every_s), reusing_runs(root / "outputs"):
        outcomes = execute_jobs([job for _, job in todo], "local", parallel or (None if per_run else 2), per_run,
                                labels=[f"[{name}]" for name, _ in todo], started=started, finished=finished,
                                ready=ready)
    return [(name, f"{job.name}: {o.error}") for (name, job), o in zip(todo, outcomes) if o.error]


def _wait(listed: list[tuple[str, Job]], t0: float, progress_every_s: float) -> dict[str, list[str]]:
    """Follow SLURM jobs until none is queued or running: a line as the count of finished ones
    grows and the training steps as they go; returns the failed ones by experiment."""
    last, running = [-1], {}

    def show(states: list[JobState]) -> None:
        ended = sum(s.state in ("done", "failed") for s in states)
        if ended != last[0]:
            print(f"reproduce: {ended}/{len(listed)} jobs done, {(time.monotonic() - t0) / 60:.0f} min so far",
                  flush=True)
            last[0] = ended
        running.clear()
        running.update({job.out_dir: f"[{name}] {job.name}" for (name, job), s in zip(listed, states)
                        if s.state == "running"})

    with _training_lines(lambda: running, progress_every_s):
        states = wait_for([job for _, job in listed], POLL_S, show)
    failed: dict[str, list[str]] = {}
    for (name, job), state in zip(listed, states):
        if state.state == "failed":
            failed.setdefault(name, []).append(f"{job.name}: {state.detail.splitlines()[0] if state.detail else ''}")
    return failed
