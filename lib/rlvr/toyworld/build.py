"""Build (or rebuild and check) the toy base model shipped in ``checkpoint/toy-base``.

    python -m rlvr.toyworld.build                      # rebuild the shipped checkpoint in place
    python -m rlvr.toyworld.build --out /tmp/toy-base --check
                                                       # rebuild elsewhere, compare with the shipped profile
    python -m rlvr.toyworld.build --out outputs/worlds/verifying --world verification=0.1
                                                       # a world with switches on (rlvr.toyworld.world)

Corpus, tokenizer and model are all seeded, and pretraining runs a fixed number
of steps on one thread, so a rebuild reproduces the shipped weights on the same
kind of CPU (about 10 minutes here) and its profile within noise elsewhere.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch
import yaml
from transformers import Qwen2ForCausalLM

from . import corpus as corpus_module
from .corpus import corpus_stats, make_corpus
from .model import PretrainConfig, pretrain
from .profile import KINDS, summarise, world_profile
from .tokenizer import load_toy_tokenizer, train_tokenizer, wrap
from .world import CHECKPOINT, GENERATOR_VERSION, World

N_DOCUMENTS = 60_000
STATE = "pretrain-state.pt"  # a build's pretraining state, until its model is written
TOKENIZER_DOCUMENTS = 20_000
CHECK_TOLERANCE = 0.03  # a rebuild's strict accuracy may differ by this much on another CPU
# Compared within CHECK_TOLERANCE. Running on is reported, not judged: greedy running on is a near-tie in
# these models (30 points apart over corpus samples, 8 between two builds of one corpus: docs/worlds.md).
CHECKED, REPORTED = ("strict", "boxed"), ("run_on",)


def library_versions() -> dict:
    return {name: version(name) for name in ("torch", "transformers", "tokenizers")} | {
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def build(out: Path, cfg: PretrainConfig | None = None, progress: bool = True, world: World | None = None,
          n_documents: int = N_DOCUMENTS, name: str | None = None, until: int | None = None,
          n_test: int | None = None, fresh: bool = False) -> dict | None:
    """Pretrain a base model on ``world``'s corpus (default: toy-base's) into ``out``, with its profile.

    ``cfg`` defaults to the world's size at toy-base's settings. Resumable: the pretraining's state is
    kept in ``out/STATE`` (every 100 steps) until the model is written, and a build started again picks
    up from it (``fresh``: starts afresh instead); ``until`` stops after that many steps (returns None,
    only the state written). ``n_test`` profiles a prefix of toy-test (``profile.world_profile``).
    """
    world = world or World()
    cfg = cfg or PretrainConfig.for_size(world.size)
    name = name or ("toy-base" if world == World() else out.name)
    torch.set_num_threads(1)  # deterministic, and faster than two on a busy 2-core machine
    t0 = time.perf_counter()
    documents = make_corpus(n_documents, world=world)
    tokenizer = wrap(train_tokenizer(documents[:TOKENIZER_DOCUMENTS]))
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        (out / STATE).unlink(missing_ok=True)
    corpus_seconds = time.perf_counter() - t0
    model, log = pretrain(documents, tokenizer, cfg, progress=progress, state=out / STATE, until=until)
    if until is not None and until < cfg.steps:
        return None
    pretrain_seconds = corpus_seconds + log[-1]["seconds"]  # the steps' time summed over every sitting

    t1 = time.perf_counter()
    profile, answers = world_profile(model, tokenizer, n_test)
    model.save_pretrained(out)
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    record = {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "profile_on_toy_test": profile,
        "pretrain": cfg.to_dict(),
        "pretrain_seconds": round(pretrain_seconds, 1),
        "profile_seconds": round(time.perf_counter() - t1, 1),
        "world": {"generator": GENERATOR_VERSION, **world.to_dict()},
        "corpus": {
            "documents": n_documents,
            "seed": world.corpus_seed,
            "style_seed": corpus_module.STYLE_SEED,
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in corpus_stats(documents[:5000]).items()},
        },
        "loss_log": log,
        "versions": library_versions(),
    }
    (out / "profile.json").write_text(json.dumps(record, indent=2))
    save_answers(answers, out)
    (out / STATE).unlink(missing_ok=True)  # the model is written: nothing left to resume
    return record


def save_answers(answers, out: Path) -> None:
    """The answers behind a profile: the greedy ones to toy-test as ever (``test_answers.parquet``), and
    every kind (``profile_answers.parquet``: sampled, with demos, toy-test-long), to redraw any figure."""
    answers[answers["kind"] == "greedy"].drop(columns="kind").to_parquet(out / "test_answers.parquet", index=False)
    answers.to_parquet(out / "profile_answers.parquet", index=False)


def reprofile(path: Path, fresh: bool = False) -> dict:
    """A built base model's profile again, in place (a world built before the profile measured what it
    measures now). Where its saved answers hold every kind the profile reads, they are summarised again
    (the answers are seeded: answering again gives the same ones); else, or ``fresh``, the model answers
    again, and its greedy answers are the build's own, so only the added parts are new."""
    record = json.loads((path / "profile.json").read_text())
    saved = path / "profile_answers.parquet"
    answers = pd.read_parquet(saved) if saved.is_file() and not fresh else None
    if answers is not None and set(KINDS) <= set(answers["kind"]):
        record["profile_on_toy_test"] = summarise(answers)
    else:
        torch.set_num_threads(1)
        model, tokenizer = Qwen2ForCausalLM.from_pretrained(path).eval(), load_toy_tokenizer(path)
        t0 = time.perf_counter()
        profile, answers = world_profile(model, tokenizer)
        record |= {"profile_on_toy_test": profile, "profile_seconds": round(time.perf_counter() - t0, 1)}
        save_answers(answers, path)
    (path / "profile.json").write_text(json.dumps(record, indent=2))
    return record


def check(rebuilt: dict, shipped: dict) -> list[str]:
    """Differences beyond tolerance between a rebuild's profile and the shipped one (``CHECKED``)."""
    problems = []
    for key in CHECKED:
        a, b = rebuilt["profile_on_toy_test"][key], shipped["profile_on_toy_test"][key]
        if abs(a - b) > CHECK_TOLERANCE:
            problems.append(f"{key}: rebuilt {a:.3f} vs shipped {b:.3f}")
    return problems


def command(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--steps", type=int, default=PretrainConfig.steps)
    parser.add_argument("--fresh", action="store_true", help="start the pretraining afresh where a build was cut off")
    parser.add_argument("--check", action="store_true", help="compare with the shipped profile.json")
    parser.add_argument("--world", action="append", default=[], metavar="SWITCH=VALUE",
                        help="a switch of the world (rlvr.toyworld.world.World), e.g. format_prior=majority; "
                             "repeatable; the defaults are toy-base's world")
    args = parser.parse_args(argv)
    try:
        if bad := [pair for pair in args.world if "=" not in pair]:
            raise ValueError(f"--world takes SWITCH=VALUE, got {', '.join(bad)}; switches: "
                             f"{', '.join(World.field_names())}")
        # Values read as YAML, as `rlvr train --set` reads them: corpus_seed=4 is a number.
        world = World.from_dict({k: yaml.safe_load(v) for k, v in (pair.split("=", 1) for pair in args.world)},
                                where="--world")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check and world != World():
        print("error: --check compares with toy-base's profile; a world with switches on has none to compare with",
              file=sys.stderr)
        return 2
    if args.out == CHECKPOINT and world != World():
        print(f"error: {CHECKPOINT} holds toy-base; write a world with switches on elsewhere (--out)", file=sys.stderr)
        return 2
    record = build(args.out, PretrainConfig.for_size(world.size, steps=args.steps), world=world, fresh=args.fresh)
    p = record["profile_on_toy_test"]
    print(json.dumps({k: v for k, v in p.items() if not isinstance(v, dict)}))
    for domain, row in p["per_domain"].items():  # a mode's accuracy is None where no answer is in it
        print(f"  {domain:10s} " + "  ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "n" and v is not None))
    if args.check:
        shipped = json.loads((CHECKPOINT / "profile.json").read_text())
        problems = check(record, shipped)
        print("check:", "matches the shipped profile" if not problems else "; ".join(problems))
        print("not checked (a near-tie in these models): " + ", ".join(
            f"{k} rebuilt {record['profile_on_toy_test'][k]:.3f} vs shipped {shipped['profile_on_toy_test'][k]:.3f}"
            for k in REPORTED))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(command())
