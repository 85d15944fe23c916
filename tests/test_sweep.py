"""`rlvr sweep`: a notebook executed once per grid point, each a job (real kernels, tiny notebooks)."""

from __future__ import annotations

import json
import os
import threading
import time

import nbformat
import pytest
import yaml
from rlvr.cli import main
from rlvr.sweep import load_sweep, run_sweep

BODY = """\
import os
import pandas as pd
if fail:
    raise ValueError("asked to fail")
os.makedirs(out_dir, exist_ok=True)
pd.DataFrame({"value": [a * 2 + b]}).to_csv(f"{out_dir}/summary.csv", index=False)
"""


def notebook_file(path, parameters: str, body: str):
    """A notebook at ``path``: a ``parameters`` cell (papermill's), then ``body``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def write_notebook(path, body=BODY):
    notebook_file(path, 'out_dir = "x"\na = 1\nb = 0\nfail = False\nlabel = "none"\nrate = 0.5', body)


CONFIGURED = """\
import os
import pandas as pd
from rlvr.config import preset_configs
train_cfg, eval_cfg = preset_configs(preset, train, eval)
os.makedirs(out_dir, exist_ok=True)
pd.DataFrame({"learning_rate": [train_cfg.learning_rate], "steps": [train_cfg.steps], "limit": [eval_cfg.limit],
              "rows": [str(rows)]}).to_csv(f"{out_dir}/summary.csv", index=False)
"""


def write_configured_notebook(path):
    """A notebook declared like the lab's: a preset, `train` and `eval` overrides, an experiment parameter."""
    notebook_file(path, 'preset = "cpu"\nrows = [1]\ntrain = {"steps": 50}\neval = {}\nout_dir = "x"', CONFIGURED)


CONFIGURED_NB = {"notebook": "notebooks/configured.ipynb"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root holding notebooks/tiny.ipynb and notebooks/configured.ipynb; sweeps run from
    it, as from the repository root."""
    write_notebook(tmp_path / "notebooks" / "tiny.ipynb")
    write_configured_notebook(tmp_path / "notebooks" / "configured.ipynb")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_sweep(root, name="demo", **spec):
    path = root / "params" / "sweeps" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"notebook": "notebooks/tiny.ipynb", **spec}))
    return path


JOBS = ["a=1,b=0", "a=1,b=10", "a=2,b=0", "a=2,b=10"]
ROWS = [["a=1,b=0", 1, 0, 2], ["a=1,b=10", 1, 10, 12], ["a=2,b=0", 2, 0, 4], ["a=2,b=10", 2, 10, 14]]


def test_a_grid_runs_once_per_combination_then_resumes(project):
    path = write_sweep(project, grid={"a": [1, 2], "b": [0, 10]})
    sweep = load_sweep(path)
    assert [job.name for job in sweep.jobs()] == JOBS

    result = run_sweep(sweep)
    assert result.done == JOBS and not result.failed
    assert result.summary.values.tolist() == ROWS  # columns: run (the job), a, b, value
    assert list(result.summary.columns) == ["run", "a", "b", "value"]
    job_dir = project / "outputs" / "demo" / "a=2,b=10"
    assert (job_dir / "notebook.ipynb").is_file()
    record = json.loads((job_dir / "job.json").read_text())
    assert record["status"] == "ok" and record["parameters"]["out_dir"] == "outputs/demo/a=2,b=10"
    assert (project / "outputs" / "demo" / "summary.csv").is_file()

    # A second invocation executes nothing and still reports every job.
    mtime = (job_dir / "notebook.ipynb").stat().st_mtime_ns
    again = run_sweep(path)
    assert again.skipped == JOBS and again.done == []
    assert (job_dir / "notebook.ipynb").stat().st_mtime_ns == mtime
    assert again.summary.equals(result.summary)


def test_parallel_jobs_complete_the_same(project, capsys):
    path = write_sweep(project, grid={"a": [1, 2], "b": [0, 10]})
    assert main(["sweep", str(path), "--parallel", "2"]) == 0
    assert "4 ran, 0 skipped (complete), 0 failed" in capsys.readouterr().out
    assert run_sweep(path).summary.values.tolist() == ROWS
    # Two at a time: some job started before another had finished.
    records = [json.loads(f.read_text()) for f in (project / "outputs" / "demo").glob("*/job.json")]
    spans = sorted((r["started"], r["finished"]) for r in records)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_a_job_runs_in_its_root_without_moving_this_process(project, tmp_path_factory, monkeypatch):
    # Jobs run in threads beside each other and beside the caller: none may chdir the process.
    path = write_sweep(project, grid={"a": [1]})
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.add(os.getcwd())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_sweep(load_sweep(path, root=project))
    finally:
        done.set()
        watcher.join()
    assert result.done == ["a=1"]
    assert (project / "outputs" / "demo" / "a=1" / "summary.csv").is_file()  # its relative paths: the root's
    assert seen == {str(elsewhere)}


def test_a_failed_job_is_reported_kept_and_retried(project, capsys):
    path = write_sweep(project, "flaky", grid={"fail": [False, True]}, fixed={"a": 5})
    assert main(["sweep", str(path)]) == 1  # the failure shows in the exit status...
    assert "FAILED fail=True: ValueError: asked to fail" in capsys.readouterr().err
    out = project / "outputs" / "flaky"
    failed = json.loads((out / "fail=True" / "job.json").read_text())
    assert failed["status"] == "failed" and failed["error"] == "ValueError: asked to fail"
    assert (out / "fail=True" / "notebook.ipynb").is_file()  # ...and the partial notebook is kept
    assert json.loads((out / "fail=False" / "job.json").read_text())["status"] == "ok"

    # Fix the notebook; the next invocation re-executes only the failed job.
    write_notebook(project / "notebooks" / "tiny.ipynb", BODY.replace("if fail:", "if False:"))
    result = run_sweep(path)
    assert result.skipped == ["fail=False"] and result.done == ["fail=True"]
    assert result.summary.values.tolist() == [["fail=False", False, 10], ["fail=True", True, 10]]


def test_a_job_another_sweep_is_executing_is_left_alone(project, capsys, held_by_another_process):
    path = write_sweep(project, grid={"a": [1, 2]})
    busy = project / "outputs" / "demo" / "a=1"
    busy.mkdir(parents=True)
    (busy / "notebook.ipynb").write_text("the other sweep's notebook, half written")
    with held_by_another_process(busy):
        result = run_sweep(path)
    assert result.done == ["a=2"] and list(result.failed) == ["a=1"]
    assert result.failed["a=1"].startswith("busy:") and "BUSY" in capsys.readouterr().out
    assert (busy / "notebook.ipynb").read_text() == "the other sweep's notebook, half written"
    assert not (busy / "job.json").exists()
    # Once the other sweep is gone, the next invocation runs it.
    assert run_sweep(path).done == ["a=1"]


def test_dry_run_lists_jobs_and_writes_nothing(project, capsys):
    path = write_sweep(project, grid={"a": [1, 2], "fail": [False, True]})
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert "run   a=2,fail=True" in capsys.readouterr().out
    assert not (project / "outputs").exists()


def test_job_names_are_folder_safe(project):
    path = write_sweep(project, grid={"label": ["x/y z"], "rate": [1e-4, 1]})
    assert [job.name for job in load_sweep(path).jobs()] == ["label=x_y_z,rate=0.0001", "label=x_y_z,rate=1"]


@pytest.mark.parametrize("spec, error, words", [
    ({"grid": {"a": [1]}, "grdi": {}}, ValueError, ["'grdi'", "grid"]),
    ({"grid": {"lr": [1]}}, ValueError, ["'lr'", "out_dir, a, b, fail"]),
    ({"grid": {"a": 1}}, ValueError, ["'a'", "non-empty list"]),
    ({"grid": {"a": []}}, ValueError, ["'a'", "non-empty list"]),
    ({"grid": {"out_dir": ["y"]}}, ValueError, ["'out_dir'"]),
    ({"fixed": {"a": 1}, "grid": {"a": [2]}}, ValueError, ["'a'", "fixed"]),
    ({"grid": {"a": [1]}, "parallel": 0}, ValueError, ["'parallel'"]),
    ({"grid": {"a": [1, "many"]}}, ValueError, ["a: 'many'", "int"]),
    ({"grid": {"a": [1]}, "fixed": {"fail": "no"}}, ValueError, ["fail: 'no'", "bool"]),
    ({"grid": {"a": [1]}, "notebook": "notebooks/nope.ipynb"}, FileNotFoundError, ["'notebook'", "nope.ipynb"]),
    ({"fixed": {"a": 1}}, ValueError, ["'grid'"]),
    ({"grid": {"a": [1]}, "params": "params/missing.yaml"}, FileNotFoundError, ["'params'", "missing.yaml"]),
    ({"grid": {"a": [1]}, "params": "params/bad.yaml"}, ValueError, ["'sep'", "params/bad.yaml"]),
    ({"grid": {"a": [1]}, "params": "params/list.yaml"}, ValueError, ["list.yaml", "mapping"]),
    ({"grid": {"a": [1]}, "kernel": 3}, ValueError, ["'kernel'"]),
    # A notebook with config parameters: each job's settings are checked against the configs.
    ({"grid": {"train.learnig_rate": [1e-5]}, **CONFIGURED_NB}, ValueError, ["'learnig_rate'", "learning_rate"]),
    ({"grid": {"train.reward": ["outcome", "length"]}, **CONFIGURED_NB}, ValueError,
     ["reward: 'length' is not one of outcome, format"]),
    ({"grid": {"eval.benchmarks": [["toy-test", "nope"]]}, **CONFIGURED_NB}, ValueError, ["'nope' is not one of"]),
    ({"grid": {"train.trl.epsilon": [0.3]}, **CONFIGURED_NB}, ValueError, ["trl.epsilon", "clip_epsilon"]),
    ({"grid": {"trian.steps": [3]}, **CONFIGURED_NB}, ValueError, ["'trian'", "not parameters"]),
])
def test_a_malformed_sweep_fails_before_anything_runs(project, capsys, spec, error, words):
    (project / "params").mkdir()
    (project / "params" / "bad.yaml").write_text("a: 3\nsep: 1\n")
    (project / "params" / "list.yaml").write_text("- a\n- b\n")
    path = write_sweep(project, **spec)
    with pytest.raises(error) as exc:
        load_sweep(path)
    assert all(word in str(exc.value) for word in words), str(exc.value)
    assert main(["sweep", str(path)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (project / "outputs").exists()


def test_a_params_file_applies_to_every_job(project):
    (project / "params").mkdir()
    (project / "params" / "tiny.yaml").write_text("a: 7\nout_dir: ignored\n")
    path = write_sweep(project, params="params/tiny.yaml", grid={"fail": [False]})
    (job,) = load_sweep(path).jobs()
    assert job.parameters == {"a": 7, "fail": False, "out_dir": "outputs/demo/fail=False"}


def test_a_grid_over_config_fields_and_notebook_parameters(project, capsys):
    path = write_sweep(project, "lr", notebook="notebooks/configured.ipynb", fixed={"eval.limit": 7},
                       grid={"train.learning_rate": [1.0e-5, 5.0e-5], "rows": [[4], [5]]})
    assert main(["sweep", str(path), "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "4 runs" in listed and "run   rows=_4_,train.learning_rate=1e-05" in listed
    result = run_sweep(path, parallel=2)
    assert not result.failed and len(result.done) == 4
    summary = result.summary.sort_values("run")  # rows=[4] first, then rows=[5]
    assert summary["learning_rate"].tolist() == [1e-5, 5e-5, 1e-5, 5e-5]
    assert summary["rows"].tolist() == [[4], [4], [5], [5]]
    assert set(summary["steps"]) == {50} and set(summary["limit"]) == {7}  # the notebook's default kept
