"""Named embedded worlds (``rlvr.registry.WORLDS``): where each is built, whether its build is the one
this lab defines, and ``rlvr world list`` / ``rlvr world build NAME``.

A world's name works wherever a model's does (``rlvr.models.resolve``); a world not built, or built
by another version of the generator or with other switches, is refused with the command that builds it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .. import env
from ..registry import WORLDS
from .world import CHECKPOINT, GENERATOR_VERSION, World


def named(name: str) -> World:
    """A named world's switches (``rlvr.registry.WORLDS``)."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; worlds: {', '.join(WORLDS)} (`rlvr world list`)")
    return World(**WORLDS[name][0])


def worlds_dir() -> Path:
    return Path(os.environ.get(env.WORLDS) or "outputs/worlds")


def world_path(name: str) -> Path:
    named(name)
    return CHECKPOINT if name == "toy-base" else worlds_dir() / name


def recorded_world(path: Path) -> dict | None:
    """The world a built base model records in its profile (toy-base's predates the record: version 1,
    whose corpus version 2's defaults write document for document); None where nothing is built."""
    profile = path / "profile.json"
    if not profile.is_file():
        return None
    record = json.loads(profile.read_text())
    # A build from before the world named its corpus seed records it with the corpus.
    return {"corpus_seed": record["corpus"]["seed"],
            **record.get("world", {"generator": 1, **World().to_dict()})}


def stale(name: str) -> str | None:
    """Why a built world cannot be used as this lab defines it (None: it can)."""
    want = {"generator": GENERATOR_VERSION, **named(name).to_dict()}
    got = recorded_world(world_path(name))
    if got is None:
        return f"world {name!r} is not built ({world_path(name)}): build it with `rlvr world build {name}`"
    if name != "toy-base" and got != want:
        return (f"world {name!r} in {world_path(name)} was built by generator version {got.get('generator')} with "
                f"{ {k: v for k, v in got.items() if k != 'generator'} }; this lab's version {GENERATOR_VERSION} "
                f"defines it as {named(name).to_dict()}: rebuild it with `rlvr world build {name} --fresh`")
    return None


def built_world(name: str) -> Path:
    """A named world's base model folder, refused when it is unknown, not built, or built otherwise."""
    if why := stale(name):
        raise FileNotFoundError(why)
    return world_path(name)


def world_command(args) -> int:
    """``rlvr world list`` and ``rlvr world build NAME``."""
    if args.action == "list":
        for name, (switches, about) in WORLDS.items():
            problem = stale(name)
            recorded = recorded_world(world_path(name))
            if problem is None:
                p = json.loads((world_path(name) / "profile.json").read_text())["profile_on_toy_test"]
                state = f"built: strict {p['strict']:.3f}, boxed {p['boxed']:.3f}, runs on {p['run_on']:.3f}"
            else:
                state = "not built" if recorded is None else f"stale (generator {recorded.get('generator')})"
            print(f"{name:16s} {state:56s} {about}" + (f"  [{switches}]" if switches else ""))
        return 0
    try:
        world = named(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.name == "toy-base":
        print("error: toy-base ships with the lab; rebuild it with `python -m rlvr.toyworld.build`", file=sys.stderr)
        return 2
    if stale(args.name) is None and not args.fresh:
        print(f"world {args.name} is built already ({world_path(args.name)}); --fresh builds it again")
        return 0
    from .build import build  # noqa: PLC0415 - imports torch: only a build pays for it
    from .model import PretrainConfig  # noqa: PLC0415

    record = build(world_path(args.name), PretrainConfig(steps=args.steps), world=world, name=args.name)
    print(f"world {args.name} built in {world_path(args.name)}: "
          + json.dumps({k: v for k, v in record["profile_on_toy_test"].items() if k != "per_domain"}))
    return 0
