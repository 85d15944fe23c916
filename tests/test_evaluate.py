"""The evaluation harness on the embedded model and the real benchmark files."""

import json

import pandas as pd
import pytest
import torch
from rlvr.analysis import pass_at, pass_at_k, select_checkpoint, summarize
from rlvr.config import EvalConfig
from rlvr.evaluate import evaluate, evaluate_checkpoints
from rlvr.models import BASE_DTYPE_KEY, eval_dtype_for, load_model_and_tokenizer
from rlvr.textfeatures import ends_in_repetition, reflection_counts


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_the_paper_protocol_is_the_default():
    config = EvalConfig()
    assert config.benchmarks == ["math500", "aime24", "amc23", "minerva_math", "olympiadbench", "aime25"]
    assert config.decoding("math500") == {"n_samples": 1, "temperature": 0.0, "top_p": 1.0}
    assert config.decoding("aime24") == {"n_samples": 8, "temperature": 0.6, "top_p": 1.0}
    assert (config.max_new_tokens, config.seed) == (3072, 0)
    assert EvalConfig(n_samples=2, temperature=1.0).decoding("math500")["n_samples"] == 2


def test_avg_at_8_tiles_the_problems_and_averages_every_sample(shared_data):
    config = EvalConfig(
        benchmarks=["aime24", "math500"], limit=3, max_new_tokens=8, data_source=str(shared_data / "eval")
    )
    table = evaluate("toy-base", config, progress=False)
    aime = table[table.benchmark == "aime24"]
    assert len(aime) == 24 and sorted(aime["sample"].unique()) == list(range(8))
    assert (aime.groupby("problem_id").size() == 8).all() and set(aime["temperature"]) == {0.6}
    math = table[table.benchmark == "math500"]
    assert len(math) == 3 and set(math["sample"]) == {0} and set(math["temperature"]) == {0.0}
    assert set(table["dtype"]) == {"float32"} and set(table["template"]) == {"train"}
    columns = {
        "response",
        "extracted",
        "correct",
        "strict",
        "n_tokens",
        "has_box",
        "run_on",
        "finished",
        "truncated",
        "ends_in_repetition",
        "rethink",
        "recheck",
        "recalculate",
    }
    assert columns <= set(table.columns)
    assert (table["n_tokens"] <= 8).all() and table["truncated"].any()


def test_toy_base_scores_on_toy_test_as_its_profile_says():
    table = evaluate("toy-base", EvalConfig(benchmarks=["toy-test"], limit=100, max_new_tokens=200), progress=False)
    recorded = pd.read_parquet(load_answers_path()).head(100)
    assert table["response"].tolist() == recorded["response"].tolist()
    assert table["correct"].tolist() == recorded["eval"].tolist()
    assert table["strict"].tolist() == recorded["strict"].tolist()
    assert table["run_on"].tolist() == recorded["run_on"].tolist()


def load_answers_path():
    from rlvr.toyworld.build import CHECKPOINT

    return CHECKPOINT / "test_answers.parquet"


def fake_table():
    rows = []
    for step, right in ((0, 0.25), (20, 0.75), (40, 0.5)):
        for benchmark, n in (("math500", 4), ("aime24", 2)):
            samples = 8 if benchmark == "aime24" else 1
            for p in range(n):
                for s in range(samples):
                    rows.append(
                        {
                            "step": step,
                            "benchmark": benchmark,
                            "problem_id": f"{benchmark}-{p}",
                            "sample": s,
                            "subject": "Algebra" if p % 2 else "Geometry",
                            "correct": (p + s) / (n * samples) < right,
                            "strict": False,
                            "run_on": False,
                            "has_box": True,
                            "truncated": False,
                            "ends_in_repetition": False,
                            "n_tokens": 10,
                            "rethink": 0,
                            "recheck": 1,
                            "recalculate": 0,
                        }
                    )
    return pd.DataFrame(rows)


def test_summaries_per_benchmark_subject_and_average():
    summary = summarize(fake_table())
    per = summary["per_benchmark"].set_index(["step", "benchmark"])
    assert per.loc[(20, "math500"), "eval"] == 0.75 and per.loc[(20, "math500"), "problems"] == 4
    assert per.loc[(20, "math500"), "strict"] == 0.0 and per.loc[(20, "math500"), "n"] == 4
    assert per.loc[(20, "aime24"), "samples"] == 8  # avg@8: mean over all 16 rows
    assert summary["average"].set_index("step").loc[20, "average"] == pytest.approx(
        (per.loc[(20, "math500"), "eval"] + per.loc[(20, "aime24"), "eval"]) / 2
    )
    subjects = summary["per_subject"]
    assert set(subjects["subject"]) == {"Algebra", "Geometry"} and set(subjects["benchmark"]) == {"math500"}


def test_pass_at_k_is_the_unbiased_estimator():
    from math import comb

    for n in (1, 4, 8, 16):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)
    assert pass_at_k(8, 1, 1) == pytest.approx(1 / 8) and pass_at_k(8, 1, 8) == 1.0
    with pytest.raises(ValueError, match="0 <= c <= n and 1 <= k <= n"):
        pass_at_k(8, 9, 1)


def test_pass_at_averages_over_problems_for_k_in_powers_of_two():
    # Two problems, 4 samples each: one solved once, one never.
    table = pd.DataFrame({"benchmark": "toy-test", "problem_id": ["a"] * 4 + ["b"] * 4, "sample": [0, 1, 2, 3] * 2,
                          "correct": [True, False, False, False] + [False] * 4})
    rows = pass_at(table).set_index("k")["pass_at_k"]
    assert rows.index.tolist() == [1, 2, 4]
    assert rows.tolist() == pytest.approx([(1 / 4) / 2, (1 / 2) / 2, 1 / 2])
    # Evaluations with several samples a problem (avg@8 on aime24 here) carry the table.
    assert set(summarize(fake_table())["pass_at"]["k"]) == {1, 2, 4, 8}


def test_the_best_checkpoint_is_reported_beside_the_last():
    picked = select_checkpoint(fake_table())
    assert picked["checkpoint"].tolist() == ["best average (paper)", "last"]
    assert picked["step"].tolist() == [20, 40]


def save_checkpoint(run_dir, step, dtype=torch.float32):
    model, tokenizer = load_model_and_tokenizer("toy-base")
    folder = run_dir / f"checkpoint-{step}"
    model.to(dtype).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config[BASE_DTYPE_KEY] = "bfloat16"  # what training records for a bf16 base model
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_float32_checkpoint_is_evaluated_in_its_base_models_dtype(tmp_path):
    folder = save_checkpoint(tmp_path, 10)
    assert eval_dtype_for(str(folder)) == "bfloat16"
    table = evaluate(str(folder), EvalConfig(benchmarks=["toy-test"], limit=4, max_new_tokens=16), progress=False)
    assert set(table["dtype"]) == {"bfloat16"}


def test_checkpoint_series_resumes_where_it_stopped(tmp_path):
    run = tmp_path / "run"
    for step in (10, 20, 30):
        save_checkpoint(run, step)
    config = EvalConfig(benchmarks=["toy-test"], limit=3, max_new_tokens=16, dtype="float32")
    first = evaluate_checkpoints(run, config, every=2, base_model="toy-base", progress=False)
    assert sorted(first["step"].unique()) == [0, 20, 30]  # every 2nd, the last, and the base model
    done = {step: (run / "eval" / f"step-{step}" / "samples.parquet") for step in (0, 20, 30)}
    stamps = {step: path.stat().st_mtime_ns for step, path in done.items()}
    done[30].unlink()  # as if killed while evaluating step 30
    again = evaluate_checkpoints(run, config, every=2, base_model="toy-base", progress=False)
    assert done[0].stat().st_mtime_ns == stamps[0] and done[20].stat().st_mtime_ns == stamps[20]
    assert done[30].is_file()
    pd.testing.assert_frame_equal(
        first.sort_values(["step", "problem_id"]).reset_index(drop=True),
        again.sort_values(["step", "problem_id"]).reset_index(drop=True),
    )


def test_the_command_line_evaluates_a_runs_checkpoints_and_picks_the_best(tmp_path, capsys):
    from rlvr.cli import main

    run = tmp_path / "run"
    for step in (10, 20):
        save_checkpoint(run, step)
    assert main(["evaluate-run", str(run), "--preset", "cpu", "--limit", "3", "--max-new-tokens", "16",
                 "--base", "toy-base"]) == 0
    shown = capsys.readouterr().out
    assert "best average (paper)" in shown and "last" in shown
    assert sorted(p.name for p in (run / "eval").iterdir()) == ["step-0", "step-10", "step-20"]


def test_a_series_evaluated_one_process_a_checkpoint_gives_the_same_table(tmp_path):
    # Where vLLM evaluates, each checkpoint gets a process of its own (an engine frees the GPU
    # only when its process ends); the tables are those of the evaluation in this process.
    run = tmp_path / "run"
    save_checkpoint(run, 10)
    config = EvalConfig(benchmarks=["toy-test"], limit=3, max_new_tokens=16, dtype="float32")
    here = evaluate_checkpoints(run, config, base_model="toy-base", out_dir=tmp_path / "here", progress=False)
    apart = evaluate_checkpoints(run, config, base_model="toy-base", out_dir=tmp_path / "apart", progress=False,
                                 isolate=True)
    pd.testing.assert_frame_equal(here, apart)
    assert not list((tmp_path / "apart").rglob("request.json"))  # the request to the child is cleared


def test_on_a_node_with_several_gpus_the_checkpoints_spread_over_them(tmp_path, monkeypatch):
    # Two visible GPUs (RLVR_GPUS names them as a sweep's jobs would get them): each checkpoint gets
    # a process of its own on one of them, both busy at once; the table is the one-process table.
    run = tmp_path / "run"
    for step in (10, 20, 30):
        save_checkpoint(run, step)
    config = EvalConfig(benchmarks=["toy-test"], limit=3, max_new_tokens=16, dtype="float32")
    here = evaluate_checkpoints(run, config, base_model="toy-base", out_dir=tmp_path / "here", progress=False)
    monkeypatch.setenv("RLVR_GPUS", "0,1")
    spread = evaluate_checkpoints(run, config, base_model="toy-base", out_dir=tmp_path / "spread", progress=False)
    pd.testing.assert_frame_equal(here, spread)
    devices = [json.loads((tmp_path / "spread" / f"step-{s}" / "eval_config.json").read_text())["devices"]
               for s in (0, 10, 20, 30)]
    assert sorted(set(devices)) == ["0", "1"]
    assert json.loads((tmp_path / "here" / "step-10" / "eval_config.json").read_text())["devices"] is None


def test_repetition_and_self_reflection_words():
    assert ends_in_repetition("so the answer is 5. " + "I think I think " * 5)
    assert ends_in_repetition("aaaaaaaaaaaa")
    assert not ends_in_repetition(r"The answer is \boxed{5}.")
    assert reflection_counts("Let me recheck. Rethink: recalculating... RECHECK") == {
        "rethink": 1,
        "recheck": 2,
        "recalculate": 1,
    }


def test_the_command_line_writes_tables_and_the_exact_config(tmp_path, capsys):
    from rlvr.cli import main

    out = tmp_path / "eval"
    command = ["evaluate", "toy-base", "--benchmarks", "toy-test", "--limit", "3", "--max-new-tokens", "20"]
    assert main([*command, "--out", str(out)]) == 0
    written = {"samples.parquet", "per_benchmark.csv", "per_subject.csv", "average.csv", "eval_config.json"}
    assert {p.name for p in out.iterdir()} == written
    meta = json.loads((out / "eval_config.json").read_text())
    assert meta["config"]["limit"] == 3 and meta["config"]["benchmarks"] == ["toy-test"]
    assert "transformers" in meta["environment"]["versions"]
    assert "toy-test" in capsys.readouterr().out


def test_samples_on_the_command_line_give_pass_at_k(tmp_path):
    from rlvr.cli import main

    out = tmp_path / "e"
    assert main(["evaluate", "toy-base", "--preset", "cpu", "--samples", "4", "--temperature", "0.6",
                 "--limit", "3", "--out", str(out)]) == 0
    passk = pd.read_csv(out / "pass_at.csv")
    assert passk["k"].tolist() == [1, 2, 4] and (passk["n"] == 4).all()
    assert passk["pass_at_k"].is_monotonic_increasing
    assert len(pd.read_parquet(out / "samples.parquet")) == 12


def test_the_command_line_refuses_a_bad_setting_naming_it(tmp_path, capsys):
    from rlvr.cli import main

    assert main(["evaluate", "toy-base", "--benchmarks", "toy-test,math5000", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "benchmarks: 'math5000' is not one of" in err and "math500" in err
    assert not (tmp_path / "e").exists()


def test_every_evaluation_setting_is_a_command_line_option(capsys):
    from rlvr.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = capsys.readouterr().out
    for name in EvalConfig.field_names():
        if name != "demos":  # pairs of texts, set from Python
            assert f"--{name.replace('_', '-')}" in help_text, name
