"""What the map (`rlvr reproduce --map`) cost, from its jobs' own records: per world, the jobs found, the
seconds they ran in all, and the machine's busy time (the union of their start-to-finish intervals: the
wall time during which at least one of them ran, whatever ran beside it), then the same for the whole map.

Every finished job writes ``job.json`` with its start and finish (``rlvr.rundir``), and the map keeps it
under ``results/`` (in git), so the figures need no log and survive sittings on different machines.
``--since`` keeps only jobs started at or after a time: one measuring run of the map apart from earlier
ones. Busy time is the budget's measure: two jobs at once on the 2-core machine count once.

``--whole`` also estimates the whole map from what was measured: each sweep's jobs not found in a world
taken at the mean of those found there (its other seeds, or tab3's other examples), its job-hours
turned into hours of the machine at the busy-to-job ratio measured; a sweep with no job found anywhere
in a world is named, and the total says it leaves it out.

    .venv/bin/python bench/map_cost.py [--root .] [--tree results] [--since 2026-12-07T01:40] [--json OUT]
                                       [--by-experiment] [--whole] [--jobs-csv OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from rlvr.reproduce.outputs import sweep_jobs  # noqa: E402
from rlvr.reproduce.registry import EXPERIMENTS, SEEDS, map_column, map_order  # noqa: E402
from rlvr.rundir import JOB_RECORD  # noqa: E402


def world_experiments(world: str) -> dict[str, str]:
    """The map's experiments in ``world``, by the folder each sweep file's jobs land in."""
    return {Path(sweep).stem: name for name in map_column(world) for sweep in EXPERIMENTS[name].sweeps}


def job_records(tree: Path, world: str, since: datetime | None) -> list[dict]:
    """The finished jobs' records of ``world``'s column under ``tree`` (``results`` or ``outputs``)."""
    folder = tree / "reproduce" if world == "toy-base" else tree / "map" / world
    records = []
    for stem, name in world_experiments(world).items():
        for path in sorted((folder / stem).glob(f"*/{JOB_RECORD}")):
            record = json.loads(path.read_text())
            seed = re.search(r"train\.seed=(\d+)", path.parent.name)
            if record.get("status") != "ok" or not record.get("started") or not record.get("finished"):
                continue
            if seed and int(seed.group(1)) not in SEEDS:  # seeds the map does not run (a second look)
                continue
            started, finished = (datetime.fromisoformat(record[k]) for k in ("started", "finished"))
            if since is None or started >= since:
                records.append({"experiment": name, "sweep": stem, "job": path.parent.name, "started": started,
                                "finished": finished, "seconds": (finished - started).total_seconds()})
    return records


def busy_seconds(records: list[dict]) -> float:
    """The length of the union of the records' [started, finished] intervals."""
    total, end = 0.0, None
    for record in sorted(records, key=lambda r: r["started"]):
        start, finish = record["started"], record["finished"]
        if end is None or start >= end:
            total += (finish - start).total_seconds()
            end = finish
        elif finish > end:
            total += (finish - end).total_seconds()
            end = finish
    return total


def column_size(root: Path, world: str) -> dict[str, int]:
    """How many jobs each sweep of ``world``'s column runs over ``SEEDS`` (a world changes what a job
    runs, not how many there are)."""
    return {Path(sweep).stem: len(sweep_jobs(sweep, SEEDS if EXPERIMENTS[name].seeded else None, root))
            for name in map_column(world) for sweep in EXPERIMENTS[name].sweeps}


def whole_estimate(root: Path, world: str, records: list[dict]) -> tuple[float, list[str], int]:
    """``world``'s job-seconds for its whole column: the jobs found, and each sweep's missing ones at
    the mean of its found ones; with the sweeps none of whose jobs were found, and the column's jobs."""
    seconds, missing, sizes = 0.0, [], column_size(root, world)
    for stem, size in sizes.items():
        found = [r["seconds"] for r in records if r["sweep"] == stem]
        if not found:
            missing.append(stem)
            continue
        seconds += sum(found) + (size - len(found)) * sum(found) / len(found)
    return seconds, missing, sum(sizes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder whose map to read")
    parser.add_argument("--tree", default="results", choices=("results", "outputs"),
                        help="results/ (kept in git, the default) or outputs/ (this machine's jobs)")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None,
                        help="only jobs started at or after this time (ISO, UTC: 2026-12-07T01:40)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--jobs-csv", type=Path, default=None,
                        help="also write every job found here, one row each (world, experiment, sweep, job, "
                             "started, finished, seconds): the figures above recomputed from it")
    parser.add_argument("--by-experiment", action="store_true",
                        help="also each world's experiments: jobs found and their job-seconds")
    parser.add_argument("--whole", action="store_true",
                        help="also estimate the whole map: each sweep's missing jobs at its found ones' mean")
    args = parser.parse_args()
    since = args.since.replace(tzinfo=args.since.tzinfo or datetime.now().astimezone().tzinfo) if args.since else None
    rows, every, estimated, unmeasured = [], [], 0.0, []
    print(f"{'world':32s} {'jobs':>5s} {'job-hours':>10s} {'busy hours':>11s}")
    for world in map_order():
        records = job_records(args.root / args.tree, world, since)
        every += [{"world": world, **record} for record in records]
        row = {"world": world, "jobs": len(records), "job_seconds": round(sum(r["seconds"] for r in records)),
               "busy_seconds": round(busy_seconds(records))}
        rows.append(row)
        print(f"{world:32s} {row['jobs']:5d} {row['job_seconds'] / 3600:10.2f} {row['busy_seconds'] / 3600:11.2f}")
        if args.by_experiment:
            row["experiments"] = {}
            for name in map_column(world):
                mine = [r["seconds"] for r in records if r["experiment"] == name]
                row["experiments"][name] = {"jobs": len(mine), "job_seconds": round(sum(mine))}
                if mine:
                    print(f"  {name:30s} {len(mine):5d} {sum(mine) / 3600:10.2f}")
        if args.whole:
            seconds, missing, jobs = whole_estimate(args.root, world, records)
            estimated += seconds
            unmeasured += [f"{world}/{stem}" for stem in missing]
            row["whole_job_seconds"], row["unmeasured"] = round(seconds), missing
            print(f"  {'whole column, estimated':30s} {jobs:5d} "
                  f"{seconds / 3600:10.2f}" + (f"  (no job of {', '.join(missing)})" if missing else ""))
    total = {"world": "the map", "jobs": len(every), "job_seconds": round(sum(r["seconds"] for r in every)),
             "busy_seconds": round(busy_seconds(every))}
    hours = total["job_seconds"] / 3600, total["busy_seconds"] / 3600
    print(f"{'the map':32s} {total['jobs']:5d} {hours[0]:10.2f} {hours[1]:11.2f}")
    if args.whole and total["job_seconds"]:
        ratio = total["busy_seconds"] / total["job_seconds"]
        total["whole_job_seconds"], total["whole_busy_seconds"] = round(estimated), round(estimated * ratio)
        total["unmeasured"] = unmeasured
        print(f"{'the whole map, estimated':32s} {'':5s} {estimated / 3600:10.2f} {estimated * ratio / 3600:11.2f}"
              f"  (busy {ratio:.3f} of job time, as measured)"
              + (f"; leaves out {len(unmeasured)} sweeps with no job: {', '.join(unmeasured)}" if unmeasured else ""))
    if args.jobs_csv:
        args.jobs_csv.parent.mkdir(parents=True, exist_ok=True)
        fields = ("world", "experiment", "sweep", "job", "started", "finished", "seconds")
        with args.jobs_csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({**r, "started": r["started"].isoformat(), "finished": r["finished"].isoformat(),
                              "seconds": round(r["seconds"], 2)} for r in every)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"since": args.since and args.since.isoformat(), "tree": args.tree,
                                         "rows": [*rows, total]}, indent=1))


if __name__ == "__main__":
    main()
