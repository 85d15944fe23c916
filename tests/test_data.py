"""Datasets by name, in one schema, from local copies in the paper's formats."""

import json

import pytest
from rlvr.data import DATASETS, EVAL_BENCHMARKS, fingerprint, load_dataset, normalize_row
from rlvr.grading import extract_boxed

EXPECTED = {
    "math500": (500, "test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)"),
    "aime24": (30, "60", "204"),
    "aime25": (30, "0", "70"),
    "amc23": (40, "0", "27"),  # a float 27.0 in the file
    "minerva_math": (272, "0", "1.6"),  # the last box of the solution
    "olympiadbench": (675, "1606", "2"),  # final_answer[0], $ stripped
}


@pytest.mark.parametrize("name", EVAL_BENCHMARKS)
def test_every_benchmark_normalises_to_the_common_schema(shared_data, name):
    ds = load_dataset(name, shared_data / "eval" / name / "test.jsonl")
    size, first_id, first_answer = EXPECTED[name]
    assert len(ds) == size
    assert {"id", "problem", "answer"} <= set(ds.column_names)
    assert ds[0]["id"] == first_id and ds[0]["answer"] == first_answer
    assert all(isinstance(a, str) and a for a in ds["answer"])
    assert len(set(ds["id"])) == size  # ids are unique


def test_math500_keeps_subject_and_level_and_its_answers_are_the_solution_boxes(shared_data):
    ds = load_dataset("math500", shared_data / "eval")  # a folder laid out like the paper's data
    assert set(ds["subject"]) >= {"Algebra", "Geometry", "Precalculus", "Number Theory"}
    assert set(ds["level"]) == {"1", "2", "3", "4", "5"}
    assert sum(extract_boxed(s) == a for s, a in zip(ds["solution"], ds["answer"])) >= 495


def test_the_reference_training_rows_are_recognised(shared_data):
    dsr = load_dataset("dsr_sub", shared_data / "train" / "dsr_sub.parquet")
    assert len(dsr) == 1209
    pi1 = dsr[124]
    assert pi1["id"] == "124" and pi1["answer"] == "12.8"
    assert "wind" in pi1["problem"] and not pi1["problem"].endswith("\\boxed{}.")
    one_shot = load_dataset("dsr_sub", shared_data / "train" / "pi1_r128.parquet")
    assert len(one_shot) == 128 and set(one_shot["id"]) == {"124"}


def test_limit_subset_and_the_data_dir_variable(shared_data, monkeypatch):
    monkeypatch.setenv("RLVR_DATA_DIR", str(shared_data))
    assert list(load_dataset("aime24", limit=3)["id"]) == ["60", "61", "62"]
    assert list(load_dataset("aime24", subset=["62", "60"])["id"]) == ["62", "60"]
    with pytest.raises(ValueError, match="no rows with ids"):
        load_dataset("aime24", subset=["nope"])


def test_every_copy_the_lab_finds_is_checked_against_the_papers(shared_data, tmp_path, monkeypatch, recwarn):
    # The reference repository's copies are the paper's: found through the data folder, each matches.
    monkeypatch.setenv("RLVR_DATA_DIR", str(shared_data))
    for name in [*EVAL_BENCHMARKS, "dsr_sub"]:
        assert fingerprint(load_dataset(name)) == DATASETS[name].content
    assert not recwarn.list
    # A copy with one answer changed (another revision, another mirror) loads, with a warning naming both.
    rows = [json.loads(line) for line in open(shared_data / "eval" / "aime24" / "test.jsonl")]
    rows[3]["answer"] = "999"
    (tmp_path / "eval" / "aime24").mkdir(parents=True)
    (tmp_path / "eval" / "aime24" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    monkeypatch.setenv("RLVR_DATA_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match=r"aime24: the copy found .* is not the paper's .*the paper's 30:b9b2d3f5"):
        assert len(load_dataset("aime24")) == 30


def test_a_missing_dataset_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub

    # No network here anyway; offline mode makes the hub fail at once instead of retrying.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RLVR_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("math500")
    message = str(err.value)
    assert "'math500'" in message and "HuggingFaceH4/MATH-500" in message
    assert "RLVR_DATA_DIR" in message and "source=" in message
    with pytest.raises(FileNotFoundError, match="One-Shot-RLVR-Datasets"):
        load_dataset("dsr_sub")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("aime24", tmp_path / "nothing.jsonl")


def test_arc_choices_become_a_lettered_problem():
    row = {
        "id": "Q1",
        "question": "Which is a mammal?",
        "choices": {"label": ["A", "B"], "text": ["trout", "whale"]},
        "answerKey": "B",
    }
    out = normalize_row(row, 0, DATASETS["arc_easy"].kind)
    assert out == {"id": "Q1", "problem": "Which is a mammal?\nAnswer Choices: (A) trout (B) whale", "answer": "B"}


def test_toy_datasets_need_no_files():
    assert len(load_dataset("toy-test")) == 500
    with pytest.raises(ValueError, match="registered"):
        load_dataset("gsm8k-typo")
