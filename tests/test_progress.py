"""What a researcher sees while runs train: one bar per run, and no per-step tables or notices."""

import os

import nbformat
import papermill
from rlvr.config import preset
from rlvr.runs import _in_worker
from rlvr.train import train
from test_sweep import notebook_file

NOISE = ("Training Loss", "{'loss'", "Loading weights", "Writing model shards", "PAD/BOS/EOS")


def test_a_training_run_in_a_terminal_shows_one_bar_and_nothing_per_step(tmp_path, capfd):
    train(preset("cpu", examples=["toy-train-00007"], steps=3, save_every=3, output_dir=str(tmp_path / "run")))
    out, err = capfd.readouterr()
    assert not [n for n in NOISE if n in out + err]
    assert "run: 100%" in err and "3/3" in err and "training accuracy" in err


def test_a_worker_sends_even_native_output_to_the_runs_log(tmp_path):
    cfg = preset("cpu", output_dir=str(tmp_path / "run"))

    def noisy():
        print("from python")
        os.write(2, b"from a native library\n")
        return 7

    assert _in_worker(cfg, noisy) == 7
    log = (tmp_path / "run" / "train.log").read_text()
    assert "from python" in log and "from a native library" in log
    os.write(2, b"")  # descriptor 2 is this process's own again


COMPARE = """\
from rlvr import runs
from rlvr.config import preset, preset_configs
eval_cfg = preset_configs("cpu", eval={"limit": 4})[1]
conditions = {name: preset("cpu", examples=["toy-train-00007"], reward=reward, steps=2, save_every=2,
                           output_dir=f"{out_dir}/{name}")
              for name, reward in [("outcome", "outcome"), ("format", "format")]}
scores, _ = runs.compare(conditions, eval_cfg, parallel=parallel)
"""


def executed(tmp_path, parallel: int):
    notebook_file(tmp_path / "compare.ipynb", f'out_dir = "{tmp_path}/runs"\nparallel = {parallel}', COMPARE)
    papermill.execute_notebook(str(tmp_path / "compare.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False)
    return nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[1].outputs


def test_an_executed_notebook_keeps_each_runs_bar_as_it_ended_and_the_terminal_gets_a_line_per_run(tmp_path, capfd):
    for parallel in (1, 2):  # in the kernel, and side by side in worker processes
        outputs = executed(tmp_path / str(parallel), parallel)
        bars = [o["data"] for o in outputs if "<progress" in o.get("data", {}).get("text/html", "")]
        assert [b["text/plain"].split(":")[0] for b in bars] == ["outcome", "format"]
        assert all("100%" in b["text/plain"] and "2/2" in b["text/plain"] for b in bars)  # as it ended
        shown = "".join(o.get("text", "") + str(o.get("data", "")) for o in outputs)
        assert not [n for n in NOISE if n in shown], shown
        assert "step 2/2" not in shown  # the terminal's lines stay on the terminal...
        terminal = capfd.readouterr().err
        assert f"{tmp_path / str(parallel)}/runs/format: step 2/2" in terminal  # ...which gets them, by run folder
