"""Named datasets, all in one schema: ``id``, ``problem``, ``answer`` (+ ``domain`` ...).

A name is looked up in ``DATASETS``. The embedded toy splits are generated on
the fly (seeded, identical everywhere); the paper's benchmarks and training
sets join this registry with the evaluation harness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from datasets import Dataset


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    load: Callable[[], list[dict]]
    description: str


def _toy(split: str) -> Callable[[], list[dict]]:
    def load() -> list[dict]:
        from .toyworld import make_split

        return [
            {
                "id": p["id"],
                "problem": p["problem"],
                "answer": p["answer"],
                "domain": p["domain"],
                "template": p["template"],
                "solution": " ".join(f"{s}." for s in p["steps"]),
            }
            for p in make_split(split)
        ]

    return load


DATASETS: dict[str, DatasetSpec] = {
    "toy-train": DatasetSpec("toy-train", _toy("train"), "embedded miniature math world, 2000 training problems"),
    "toy-test": DatasetSpec("toy-test", _toy("test"), "embedded miniature math world, 500 held-out problems"),
}


def load_dataset(name: str, limit: int | None = None) -> Dataset:
    """A registered dataset as a ``datasets.Dataset`` (first ``limit`` rows if given)."""
    try:
        spec = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)}") from None
    rows = spec.load()
    if limit is not None:
        rows = rows[:limit]
    return Dataset.from_list(rows)
