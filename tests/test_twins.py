"""A run already trained with the same settings is copied rather than trained again, where `rlvr reproduce`
turns reuse on: the copy is what training again gives, and any other setting trains."""

import dataclasses
import json
import os

import pandas as pd
from rlvr.config import EvalConfig, preset
from rlvr.env import REUSE_RUNS
from rlvr.evaluate import evaluate_checkpoints
from rlvr.train import train
from rlvr.twins import reusing_runs

HANDSHAKES = "toy-train-00007"


def cfg(out, **overrides):
    settings = {"examples": [HANDSHAKES], "steps": 2, "save_every": 2, "output_dir": str(out)}
    return preset("cpu", **{**settings, **overrides})


def record(run):
    return json.loads((run / "run_config.json").read_text())


def untimed(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in table.columns if "second" in c or "time" in c or c.endswith("per_s")])


def test_a_run_with_the_same_settings_is_copied_and_is_what_training_again_gives(tmp_path):
    with reusing_runs(tmp_path / "outputs"):
        first = train(cfg(tmp_path / "outputs/tab8/1shot-outcome"))
        copy = train(cfg(tmp_path / "outputs/tab14/1shot-outcome-ent1"))
    assert REUSE_RUNS not in os.environ  # reuse is off again outside the block
    assert record(copy)["copied_from"] == str(first.resolve())
    assert record(copy)["config"]["output_dir"] == str(copy)
    weights = "checkpoint-2/model.safetensors"
    assert (copy / weights).stat().st_ino == (first / weights).stat().st_ino  # hard-linked, not a second copy

    again = train(cfg(tmp_path / "elsewhere/run"))  # reuse off: trained from scratch
    assert "copied_from" not in record(again)
    for table in ("steps.parquet", "rollouts.parquet"):
        pd.testing.assert_frame_equal(untimed(pd.read_parquet(copy / table)), untimed(pd.read_parquet(again / table)))
    assert (copy / weights).read_bytes() == (again / weights).read_bytes()


def test_a_run_that_differs_in_any_setting_trains(tmp_path):
    with reusing_runs(tmp_path / "outputs"):
        train(cfg(tmp_path / "outputs/a"))
        other = train(cfg(tmp_path / "outputs/b", entropy_coef=0.0))
        longer = train(cfg(tmp_path / "outputs/c", steps=4))
    assert "copied_from" not in record(other) and "copied_from" not in record(longer)
    assert sorted(p.name for p in longer.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


def test_the_base_models_evaluation_is_shared_by_the_jobs_that_ask_for_the_same_one(tmp_path):
    small = EvalConfig(benchmarks=["toy-test"], limit=4, max_new_tokens=16)

    def base(job, config=small):
        table = evaluate_checkpoints(tmp_path / "outputs" / job / "base-eval", config, base_model="toy-base",
                                     only=[0], progress=False)
        return table, tmp_path / "outputs" / job / "base-eval/eval/step-0/samples.parquet"

    with reusing_runs(tmp_path / "outputs"):
        (first, first_file), (second, second_file) = base("tab5"), base("tab14")
        other, other_file = base("beyond", dataclasses.replace(small, limit=3))
    pd.testing.assert_frame_equal(first, second)
    assert second_file.stat().st_mtime == first_file.stat().st_mtime  # copied with its time, not evaluated again
    assert len(other) == 3 and other_file.stat().st_mtime != first_file.stat().st_mtime
