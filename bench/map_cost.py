"""What the map (`rlvr reproduce --map`) cost, from its jobs' own records: per world, the jobs found, the
seconds they ran in all, and the machine's busy time (the union of their start-to-finish intervals: the
wall time during which at least one of them ran, whatever ran beside it), then the same for the whole map.

Every finished job writes ``job.json`` with its start and finish (``rlvr.rundir``), and the map keeps it
under ``results/`` (in git), so the figures need no log and survive sittings on different machines.
``--since`` keeps only jobs started at or after a time: one measuring run of the map apart from earlier
ones. Busy time is the budget's measure: two jobs at once on the 2-core machine count once.

    .venv/bin/python bench/map_cost.py [--root .] [--tree results] [--since 2026-12-07T01:40] [--json OUT]
                                       [--by-experiment]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

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
                records.append({"experiment": name, "job": path.parent.name, "started": started,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder whose map to read")
    parser.add_argument("--tree", default="results", choices=("results", "outputs"),
                        help="results/ (kept in git, the default) or outputs/ (this machine's jobs)")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None,
                        help="only jobs started at or after this time (ISO, UTC: 2026-12-07T01:40)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--by-experiment", action="store_true",
                        help="also each world's experiments: jobs found and their job-seconds")
    args = parser.parse_args()
    since = args.since.replace(tzinfo=args.since.tzinfo or datetime.now().astimezone().tzinfo) if args.since else None
    rows, every = [], []
    print(f"{'world':32s} {'jobs':>5s} {'job-hours':>10s} {'busy hours':>11s}")
    for world in map_order():
        records = job_records(args.root / args.tree, world, since)
        every += records
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
    total = {"world": "the map", "jobs": len(every), "job_seconds": round(sum(r["seconds"] for r in every)),
             "busy_seconds": round(busy_seconds(every))}
    hours = total["job_seconds"] / 3600, total["busy_seconds"] / 3600
    print(f"{'the map':32s} {total['jobs']:5d} {hours[0]:10.2f} {hours[1]:11.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"since": args.since and args.since.isoformat(), "tree": args.tree,
                                         "rows": [*rows, total]}, indent=1))


if __name__ == "__main__":
    main()
