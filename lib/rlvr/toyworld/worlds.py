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

import yaml

from .. import env
from ..registry import WORLDS
from .world import CHECKPOINT, GENERATOR_VERSION, World, written_alike


def named(name: str) -> World:
    """A named world's switches (``rlvr.registry.WORLDS``). ``NAME~SWITCH`` is that world with one of
    its switches back at today's value (the control that tells what the switch does), ``NAME~SWITCH=VALUE``
    that world with a switch at another level (a level swept, not chosen), ``NAME@S`` the same world from
    corpus sample ``S`` (``World.corpus_seed``); they combine: ``qwen-like~verification=0.2@4``."""
    rest, _, seed = name.partition("@")
    base, *changes = rest.split("~")
    if base not in WORLDS:
        raise ValueError(f"unknown world {base!r}; worlds: {', '.join(WORLDS)} (`rlvr world list`), each also "
                         "with a switch off as NAME~SWITCH, at another level as NAME~SWITCH=VALUE, or from "
                         "another corpus sample as NAME@SEED")
    switches = dict(WORLDS[base][0])
    for change in changes:
        switch, is_level, value = change.partition("=")
        if is_level:
            switches[switch] = yaml.safe_load(value)
        elif switch in switches:
            del switches[switch]
        else:
            raise ValueError(f"{name!r}: {base} does not set {switch!r}; it sets {', '.join(switches) or 'nothing'} "
                             f"(another level: {base}~{switch}=VALUE)")
    if seed:
        if not seed.isdigit():
            raise ValueError(f"{name!r}: the corpus seed after @ is a whole number, as in {base}@4")
        switches["corpus_seed"] = int(seed)
    return World.from_dict(switches, where=name)


def is_world(name: str) -> bool:
    """Does ``name`` name a world (``NAME``, with ``~SWITCH``, ``~SWITCH=VALUE`` or ``@SEED``)?"""
    return name.partition("@")[0].split("~")[0] in WORLDS


def worlds_dir() -> Path:
    return Path(os.environ.get(env.WORLDS) or "outputs/worlds")


def world_path(name: str) -> Path:
    named(name)
    return CHECKPOINT if name == "toy-base" else worlds_dir() / name


def recorded_world(path: Path) -> dict | None:
    """The world a built base model records in its profile, a switch added since at its default (which
    writes what the build wrote); toy-base's predates the record (version 1, whose corpus version 2's
    defaults write document for document). None where nothing is built."""
    profile = path / "profile.json"
    if not profile.is_file():
        return None
    record = json.loads(profile.read_text())
    # A build from before the world named its corpus seed records it with the corpus.
    return {**World().to_dict(), "corpus_seed": record["corpus"]["seed"],
            **record.get("world", {"generator": 1, **World().to_dict()})}


def built() -> list[str]:
    """The names of the worlds built in ``worlds_dir()``, the named ones first, then their variants."""
    variants = sorted(p.name for p in worlds_dir().iterdir() if p.name not in WORLDS and is_world(p.name)) \
        if worlds_dir().is_dir() else []
    return [name for name in [*WORLDS, *variants] if recorded_world(world_path(name)) is not None]


def stale(name: str) -> str | None:
    """Why a built world cannot be used as this lab defines it (None: it can)."""
    world = named(name)
    got = recorded_world(world_path(name))
    if got is None:
        return f"world {name!r} is not built ({world_path(name)}): build it with `rlvr world build {name}`"
    switches = {k: v for k, v in got.items() if k != "generator"}
    if name != "toy-base" and (switches != world.to_dict() or not written_alike(got["generator"], world)):
        return (f"world {name!r} in {world_path(name)} was built by generator version {got['generator']} with "
                f"{switches}; this lab's version {GENERATOR_VERSION} defines it as {world.to_dict()}, and writes "
                f"its corpus otherwise: rebuild it with `rlvr world build {name} --fresh`")
    return None


def built_world(name: str) -> Path:
    """A named world's base model folder, refused when it is unknown, not built, or built otherwise."""
    if why := stale(name):
        raise FileNotFoundError(why)
    return world_path(name)


def profile_table(names: list[str] | None = None) -> list[dict]:
    """One row a built world (default: every one built), its profile in percent: greedy answers to
    toy-test (strict, eval, first answer, boxed, runs on, loops, rechecks, code-like mode; the share
    that works the steps, and the first answer's accuracy when it does and when it skips them),
    sampled ones (the code-like mode's share of worked answers and each mode's accuracy; rechecks,
    and the accuracy of the answers that recheck and of the others), strict with 0, 1 and 4 demos,
    and greedy strict and first answer on toy-test-long. Older profiles lack the later parts (None)."""
    rows = []
    for name in names or built():
        p = json.loads((world_path(name) / "profile.json").read_text())["profile_on_toy_test"]
        sampled, shots, long = p.get("sampled", {}), p.get("in_context", {}), p.get("long", {})

        def pct(value):
            return None if value is None else round(100 * value, 1)

        rows.append({"world": name, "strict": pct(p["strict"]), "eval": pct(p["eval"]),
                     "first answer": pct(p["first_answer"]), "boxed": pct(p["boxed"]), "runs on": pct(p["run_on"]),
                     "loops": pct(p.get("repetition")), "rechecks": pct(p.get("reflection")),
                     "code share": pct(p.get("code")), "worked": pct(p.get("worked")),
                     "worked acc.": pct(p.get("worked_accuracy")), "skipped acc.": pct(p.get("skipped_accuracy")),
                     "sampled: code share": pct(sampled.get("code")),
                     "sampled: code acc.": pct(sampled.get("code_accuracy")),
                     "sampled: prose acc.": pct(sampled.get("prose_accuracy")),
                     "sampled: rechecks": pct(sampled.get("reflection")),
                     "sampled: acc. rechecking": pct(sampled.get("reflection_accuracy")),
                     "sampled: acc. not": pct(sampled.get("no_reflection_accuracy")),
                     **{f"{k} demos": pct(shots.get(k, {}).get("strict")) for k in ("0", "1", "4", "1 other")},
                     "long: strict": pct(long.get("strict")), "long: first answer": pct(long.get("first_answer"))})
    return rows


def _line(name: str, width: int = 0) -> str:
    if stale(name) is None:
        p = json.loads((world_path(name) / "profile.json").read_text())["profile_on_toy_test"]
        state = f"built: strict {p['strict']:.3f}, boxed {p['boxed']:.3f}, runs on {p['run_on']:.3f}"
    else:
        recorded = recorded_world(world_path(name))
        state = "not built" if recorded is None else f"stale (generator {recorded.get('generator')})"
    differs = {k: v for k, v in named(name).to_dict().items() if v != getattr(World(), k)}
    switches, about = WORLDS.get(name, ({}, f"a variant: {differs}"))
    return f"{name:{width}s}  {state:56s} {about}" + (f"  [{switches}]" if switches else "")


def world_command(args) -> int:
    """``rlvr world list``, ``rlvr world build NAME`` and ``rlvr world profile NAME``."""
    if args.action == "list":
        names = list(dict.fromkeys([*WORLDS, *built()]))
        width = max(map(len, names))
        for name in names:
            print(_line(name, width))
        return 0
    try:
        world = named(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = world_path(args.name)
    if args.action == "profile":
        if recorded_world(path) is None:
            print(f"error: world {args.name} is not built; build it with `rlvr world build {args.name}`",
                  file=sys.stderr)
            return 2
        from .build import reprofile  # noqa: PLC0415 - imports torch: only a profile pays for it

        reprofile(path, fresh=args.fresh)
        print(_line(args.name))
        return 0
    if args.name == "toy-base":
        print("error: toy-base ships with the lab; rebuild it with `python -m rlvr.toyworld.build`", file=sys.stderr)
        return 2
    if stale(args.name) is None and not args.fresh:
        print(f"world {args.name} is built already ({path}); --fresh builds it again")
        return 0
    from .build import build  # noqa: PLC0415 - imports torch: only a build pays for it
    from .model import PretrainConfig  # noqa: PLC0415

    record = build(path, PretrainConfig.for_size(world.size, steps=args.steps), world=world, name=args.name,
                   fresh=args.fresh)
    print(f"world {args.name} built in {path}: "
          + json.dumps({k: v for k, v in record["profile_on_toy_test"].items() if not isinstance(v, dict)}))
    return 0
