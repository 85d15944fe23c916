"""`rlvr notebook`: one notebook through papermill, its parameters checked first; like a sweep's job, it
leaves a job.json saying how it went."""

import json

import pandas as pd
from rlvr.cli import main
from test_sweep import write_configured_notebook, write_notebook


def test_a_notebook_runs_with_parameters_into_its_output_folder(tmp_path, monkeypatch, capsys):
    write_notebook(tmp_path / "notebooks" / "09_tiny.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", "09", "--set", "a=3"]) == 0
    out = tmp_path / "outputs" / "09_tiny"
    assert (out / "notebook.ipynb").is_file()
    assert pd.read_csv(out / "summary.csv")["value"].tolist() == [6]
    assert "outputs/09_tiny/notebook.ipynb" in capsys.readouterr().out
    record = json.loads((out / "job.json").read_text())
    assert record["status"] == "ok" and record["parameters"] == {"a": 3, "out_dir": "outputs/09_tiny"}


def test_bad_parameters_fail_before_anything_runs(tmp_path, monkeypatch, capsys):
    write_notebook(tmp_path / "notebooks" / "09_tiny.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", "09_tiny", "--set", "lr=3"]) == 2
    assert "'lr'" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("a: many\n")
    assert main(["notebook", "09_tiny", "--params", "bad.yaml"]) == 2
    assert "a: 'many' is not of type int" in capsys.readouterr().err
    assert main(["notebook", "09_tiny", "--set", "a"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["notebook", "nope"]) == 2
    assert not (tmp_path / "outputs").exists()


def test_a_failing_notebook_reports_the_error_and_keeps_the_partial_notebook(tmp_path, monkeypatch, capsys):
    write_notebook(tmp_path / "notebooks" / "09_tiny.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", "09_tiny", "--set", "fail=true"]) == 1
    assert "asked to fail" in capsys.readouterr().err
    assert (tmp_path / "outputs" / "09_tiny" / "notebook.ipynb").is_file()
    record = json.loads((tmp_path / "outputs" / "09_tiny" / "job.json").read_text())
    assert record["status"] == "failed" and record["error"] == "ValueError: asked to fail"


def test_set_reaches_one_config_field_and_keeps_the_notebooks_other_defaults(tmp_path, monkeypatch):
    write_configured_notebook(tmp_path / "notebooks" / "09_configured.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", "09", "--set", "train.learning_rate=1e-4", "--set", "eval.limit=3"]) == 0
    summary = pd.read_csv(tmp_path / "outputs" / "09_configured" / "summary.csv")
    assert summary[["learning_rate", "steps", "limit"]].values.tolist() == [[1e-4, 50, 3]]


def test_a_bad_config_field_is_refused_naming_it(tmp_path, monkeypatch, capsys):
    write_configured_notebook(tmp_path / "notebooks" / "09_configured.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["notebook", "09", "--set", "train.learnig_rate=1e-4"]) == 2
    err = capsys.readouterr().err
    assert "'learnig_rate'" in err and "learning_rate" in err
    assert not (tmp_path / "outputs").exists()
