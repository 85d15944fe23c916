"""Named datasets, all normalised to one schema.

Every dataset comes out with ``id``, ``problem`` and ``answer`` (the gold final
answer as a string), plus ``subject``, ``level`` or ``domain`` where the source
has them, and ``solution`` where it has one.

Where a dataset comes from, in order:

1. ``source=`` given to ``load_dataset``: a file (``.jsonl``, ``.json``,
   ``.parquet``) or a folder holding one;
2. ``$RLVR_DATA_DIR``: a folder laid out like the paper's data
   (``eval/<name>/test.jsonl``, ``train/<name>.parquet``);
3. the Hugging Face hub, by dataset id (cached by ``datasets``).

The embedded toy splits are generated on the fly (seeded, identical
everywhere). Raw rows in the formats of the Qwen2.5-Math evaluation, the hub
datasets and the reference code's training parquet (``prompt`` chat list,
``reward_model.ground_truth``, ``extra_info.index``) are all recognised.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pandas as pd
from datasets import Dataset

from . import env, registry
from .grading import extract_boxed, gold_answer
from .labels import corrupt_labels, override_label
from .prompts import TRAIN_SUFFIX, training_messages
from .registry import implementations
from .selection import load_history, rank_examples
from .toyworld import make_split
from .toyworld.problems import LONG_EXTRA


def _first(row: dict, *keys: str):
    for key in keys:
        if row.get(key) not in (None, ""):
            return row[key]
    return None


def normalize_row(row: dict, index: int, kind: str = "math") -> dict:
    """One raw row, in any of the known formats, in the common schema."""
    out: dict = {}
    prompt = row.get("prompt")
    if prompt is not None and not isinstance(prompt, str) and isinstance(row.get("reward_model"), dict):
        # The reference code's (verl) training rows: a chat list (a numpy array from parquet).
        content = list(prompt)[-1]["content"]
        out["problem"] = content[: -len(TRAIN_SUFFIX)] if content.endswith(TRAIN_SUFFIX) else content
        out["answer"] = gold_answer(row["reward_model"].get("ground_truth"))
        extra = row.get("extra_info") or {}
        out["id"] = str(extra.get("index", index))
        return out
    if kind == "choice":  # ARC: question + lettered choices
        choices = row["choices"]
        options = " ".join(f"({label}) {text}" for label, text in zip(choices["label"], choices["text"]))
        out["problem"] = f"{row['question']}\nAnswer Choices: {options}"
        out["answer"] = str(row["answerKey"])
        out["id"] = str(row.get("id", index))
        return out
    out["problem"] = _first(row, "question", "problem", "Question", "input")
    if out["problem"] is None:
        raise ValueError(
            f"row {index} has no problem text (looked for question/problem/Question/input): {sorted(row)}"
        )
    final = row.get("final_answer")  # OlympiadBench: a list of answers
    if isinstance(final, (list, tuple)) and final:
        out["answer"] = gold_answer(str(final[0]).strip().strip("$"))
    elif row.get("answer") not in (None, ""):
        out["answer"] = gold_answer(row["answer"])
    elif row.get("solution"):
        boxed = extract_boxed(row["solution"] if isinstance(row["solution"], str) else str(row["solution"]))
        out["answer"] = (boxed or "").strip()
    else:
        out["answer"] = ""
    row_id = _first(row, "unique_id", "id", "idx")
    out["id"] = str(index if row_id is None else row_id)
    subject = _first(row, "subject", "type", "subfield")
    if subject is not None:
        out["subject"] = str(subject)
    if row.get("level") is not None:
        out["level"] = str(row["level"])
    if row.get("domain") is not None:
        out["domain"] = str(row["domain"])
    if isinstance(row.get("solution"), str):
        out["solution"] = row["solution"]
    return out


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str = "test"
    revision: str | None = None  # None: the hub's default branch (no verified commit to pin yet)
    # The paper's copy, as ``fingerprint`` reads it: a copy loaded from elsewhere (a hub revision, a local
    # file) is checked against it, since a revision pin can be checked only where the hub can be reached.
    content: str | None = None
    local: tuple[str, ...] = ()  # paths under $RLVR_DATA_DIR, first found wins
    kind: str = "math"
    generate: Callable[[], list[dict]] | None = field(default=None, compare=False)


def _toy(split: str, extra: int = 0) -> Callable[[], list[dict]]:
    def load() -> list[dict]:
        return [
            {
                "id": p["id"],
                "problem": p["problem"],
                "answer": p["answer"],
                "domain": p["domain"],
                "template": p["template"],
                "solution": " ".join(f"{s}." for s in p["steps"]),
            }
            for p in make_split(split, extra=extra)
        ]

    return load


def _spec(name, hub_id=None, local=(), **kw) -> DatasetSpec:
    return DatasetSpec(name, hub_id=hub_id, local=tuple(local), **kw)


# Hub ids are the ones lighteval / open-r1 / verl use; revisions are commits
# seen pinned in public code (docs/data.md says where), None where none was;
# contents are the reference repository's copies (the paper's evaluation sets
# and DSR-sub), which every load is checked against.
DATASETS: dict[str, DatasetSpec] = implementations(registry.DATASETS, {
    spec.name: spec
    for spec in [
        _spec("toy-train", generate=_toy("train")),
        _spec("toy-test", generate=_toy("test")),
        _spec("toy-test-long", generate=_toy("test", extra=LONG_EXTRA)),
        _spec(
            "math500",
            "HuggingFaceH4/MATH-500",
            ["eval/math500/test.jsonl"],
            revision="6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be",
            content="500:27e82a051a73dbc1",
        ),
        _spec(
            "aime24",
            "HuggingFaceH4/aime_2024",
            ["eval/aime24/test.jsonl"],
            hub_split="train",
            revision="2fe88a2f1091d5048c0f36abc874fb997b3dd99a",
            content="30:b9b2d3f54aba126d",
        ),
        _spec(
            "aime25",
            "yentinglin/aime_2025",
            ["eval/aime25/test.jsonl"],
            hub_split="train",
            revision="6f71d77b0b89b9dabe07ab466c51df33f514df7f",
            content="30:a26a3176d4b1758e",
        ),
        _spec(
            "amc23",
            "math-ai/amc23",
            ["eval/amc23/test.jsonl"],
            revision="80815d37005feb82cd7f8fbc6901d5d3eff43057",
            content="40:34de3c923dde75d9",
        ),
        _spec(
            "minerva_math",
            "math-ai/minervamath",
            ["eval/minerva_math/test.jsonl"],
            revision="ee46ddc498933b1977577953250ca5c66be64f96",
            content="272:c86fc1e48d4c3167",
        ),
        _spec(
            "olympiadbench",
            "Hothan/OlympiadBench",
            ["eval/olympiadbench/test.jsonl"],
            hub_config="OE_TO_maths_en_COMP",
            hub_split="train",
            revision="3b426ee1d587c71b495146dde9f3e995ee7ac59f",
            content="675:e80cdf24a55acd73",
        ),
        _spec(
            "arc_easy",
            "allenai/ai2_arc",
            ["eval/arc_easy/test.jsonl"],
            hub_config="ARC-Easy",
            kind="choice",
            revision="210d026faf9955653af8916fad021475a3f00453",
        ),
        _spec(
            "arc_challenge",
            "allenai/ai2_arc",
            ["eval/arc_challenge/test.jsonl"],
            hub_config="ARC-Challenge",
            kind="choice",
            revision="210d026faf9955653af8916fad021475a3f00453",
        ),
        _spec(
            "math_train",
            "DigitalLearningGmbH/MATH-lighteval",
            ["train/math_train.parquet", "train/math_train.jsonl"],
            hub_config="default",
            hub_split="train",
            revision="0530c78699ea5e8eb5530600900e1f328b48acad",
        ),
        _spec(
            "deepscaler",
            "agentica-org/DeepScaleR-Preview-Dataset",
            ["train/deepscaler.parquet", "train/deepscaler.jsonl"],
            hub_split="train",
            revision="b6ae8c60f5c1f2b594e2140b91c49c9ad0949e29",
        ),
        _spec(
            "dsr_sub",
            "ypwang61/One-Shot-RLVR-Datasets",
            ["train/dsr_sub.parquet"],
            hub_split="dsr_sub",
            content="1209:786d197b803bd825",
        ),
    ]
}, "datasets")
EVAL_BENCHMARKS = registry.EVAL_BENCHMARKS


def _read_file(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open() as f:
            return [json.loads(line) for line in f if line.strip()]
    if suffix == ".json":
        data = json.loads(path.read_text())
        return data if isinstance(data, list) else data.get("data", data.get("rows", []))
    if suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    raise ValueError(f"cannot read {path}: expected a .jsonl, .json or .parquet file")


def _find_in_folder(folder: Path, spec: DatasetSpec) -> Path | None:
    candidates = [folder / rel for rel in spec.local]
    candidates += [folder / Path(rel).name for rel in spec.local]
    candidates += [folder / spec.name / "test.jsonl", folder / "test.jsonl"]
    candidates += sorted(folder.glob("*.parquet")) + sorted(folder.glob("*.jsonl"))
    return next((c for c in candidates if c.is_file()), None)


def _missing(spec: DatasetSpec, looked: list[str], error: Exception | None) -> FileNotFoundError:
    where = "\n  ".join(looked) if looked else "(nowhere)"
    hint = (
        f"Point it at a local copy with load_dataset({spec.name!r}, source='path/to/file.jsonl'), "
        f"or set {env.DATA_DIR} to a folder laid out as eval/<name>/test.jsonl and train/<name>.parquet"
    )
    if spec.hub_id:
        hint += f", or download {spec.hub_id} where there is internet (it is then cached)"
    return FileNotFoundError(
        f"dataset {spec.name!r} not found. Looked in:\n  {where}\n{hint}." + (f"\n({error})" if error else "")
    )


def _raw_rows(spec: DatasetSpec, source: str | os.PathLike | None) -> list[dict]:
    looked: list[str] = []
    if source is not None:
        path = Path(source)
        if path.is_dir():
            found = _find_in_folder(path, spec)
            if found:
                return _read_file(found)
            looked.append(f"{path}/ (no {', '.join(spec.local) or 'data file'} in it)")
        elif path.is_file():
            return _read_file(path)
        else:
            looked.append(f"{path} (does not exist)")
        raise _missing(spec, looked, None)
    root = os.environ.get(env.DATA_DIR)
    if root:
        found = _find_in_folder(Path(root), spec)
        if found:
            return _read_file(found)
        looked.append(f"${env.DATA_DIR}={root}: none of {', '.join(spec.local)}")
    if spec.hub_id is None:
        looked.append("the hub: this dataset has no hub id; it needs a local copy")
        raise _missing(spec, looked, None)

    looked.append(f"the Hugging Face hub: {spec.hub_id}" + (f" ({spec.hub_config})" if spec.hub_config else ""))
    try:
        ds = datasets.load_dataset(spec.hub_id, spec.hub_config, split=spec.hub_split, revision=spec.revision)
    except Exception as exc:  # offline, missing, renamed: all the same to the user
        raise _missing(spec, looked, exc) from exc
    return list(ds)


def fingerprint(rows: Sequence[dict]) -> str:
    """``"<rows>:<sha256 prefix>"`` of the rows' problems and answers, whatever their order or
    surrounding whitespace: what two copies of a benchmark must share to be one benchmark."""
    lines = sorted(f"{r['problem'].strip()}\x1f{str(r['answer']).strip()}" for r in rows)
    return f"{len(lines)}:{hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:16]}"


def load_dataset(
    name: str,
    source: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    subset: Sequence[str] | None = None,
) -> Dataset:
    """A registered dataset in the common schema, as a ``datasets.Dataset``.

    ``subset`` keeps the rows with these ids (in the given order), ``limit``
    the first ``limit`` rows after that.
    """
    try:
        spec = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)}") from None
    if spec.generate is not None and source is None:
        rows = spec.generate()
    else:
        rows = [normalize_row(r, i, spec.kind) for i, r in enumerate(_raw_rows(spec, source))]
        # A copy the lab found (a data folder, the hub) is checked; a file named outright is the user's choice.
        found = source is None or Path(source).is_dir()
        if found and spec.content and (got := fingerprint(rows)) != spec.content:
            warnings.warn(f"{name}: the copy found ({source or 'data folder or hub'}) is not the paper's "
                          f"(rows:hash {got}, the paper's {spec.content}): its scores do not compare with the "
                          "paper's; docs/data.md lists the copies and how they differ", stacklevel=2)
    if subset is not None:
        by_id = {r["id"]: r for r in rows}
        unknown = [i for i in subset if str(i) not in by_id]
        if unknown:
            raise ValueError(f"{name}: no rows with ids {unknown[:5]}{'...' if len(unknown) > 5 else ''}")
        rows = [by_id[str(i)] for i in subset]
    if limit is not None:
        rows = rows[:limit]
    return Dataset.from_list(rows)


# ----------------------------------------------------------------------------- a config's training set


def choose_examples(cfg) -> Dataset:
    """The training examples of a ``TrainConfig``, labels already overridden or corrupted as configured."""
    if cfg.problem is not None:
        data = Dataset.from_list([{"id": "custom", "problem": cfg.problem, "answer": str(cfg.answer)}])
    else:
        data = load_dataset(cfg.dataset, cfg.data_source, limit=cfg.limit)
        ids = cfg.examples
        if cfg.example_rank is not None:
            ranking = rank_examples(load_history(cfg.history_file))
            ids = [ranking[cfg.example_rank - 1]]
        if ids is not None:
            data = load_dataset(cfg.dataset, cfg.data_source, subset=ids)
    if cfg.label is not None:
        data = override_label(data, cfg.label)
    if cfg.label_noise > 0:
        data = corrupt_labels(data, cfg.label_noise, seed=cfg.seed)
    return data


def training_dataset(cfg) -> Dataset:
    """Rows with a chat ``prompt``, the gold ``answer`` and ``example_id``.

    A 1-/few-shot set (fewer examples than prompts per step) is repeated to
    fill the batch: k examples get ``prompts_per_step // k`` copies each, as the
    reference code's ``pi1_r128`` (128 copies) and 2-shot (64 + 64) files.
    """
    examples = choose_examples(cfg)
    rows = [
        {"prompt": training_messages(r["problem"]), "answer": r["answer"], "example_id": str(r["id"])}
        for r in examples
    ]
    if len(rows) < cfg.prompts_per_step:
        copies = max(1, cfg.prompts_per_step // len(rows))
        rows = [row for row in rows for _ in range(copies)]
    return Dataset.from_list(rows)
