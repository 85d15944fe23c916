"""`rlvr reproduce` executes its experiments' jobs like a sweep's: GPUs shared out on one machine, a
SLURM cluster (a second wave waiting for the first), and `--status`; on a tiny project of tiny
notebooks standing in for the paper's experiments."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from rlvr.cli import main
from rlvr.reproduce import EXPERIMENTS, Experiment, Result
from rlvr.reproduce.run import reproduce_status
from rlvr.rundir import SUMMARY, write_job_record
from test_executors import slurm, wait_for  # noqa: F401 - slurm: the one-node cluster fixture
from test_sweep import notebook_file

# A job that records its GPUs and when it ran; it may wait for a file to appear (`release`), or for
# `meet` jobs to have started (each leaves a file in the `barrier` folder; a minute at most, so jobs that
# never run together end all the same and their times tell), or, where its out_dir holds a key of `hold`, for
# a file matching that key's pattern (a minute at most), and may need another job's summary first (`reads`,
# as tab16 reads tab8's jobs).
TINY = """\
import glob, os, time
import pandas as pd
start = time.time()
while release and not os.path.exists(release):
    time.sleep(0.2)
if barrier:
    os.makedirs(barrier, exist_ok=True)
    open(os.path.join(barrier, out_dir.replace("/", "_")), "w").close()
    while len(os.listdir(barrier)) < meet and time.time() - start < 60:
        time.sleep(0.1)
for part, pattern in hold.items():
    while part in out_dir and not glob.glob(pattern) and time.time() - start < 60:
        time.sleep(0.1)
read_end = pd.read_csv(reads.format(seed=train["seed"]))["end"][0] if reads else None
time.sleep(0.5)
os.makedirs(out_dir, exist_ok=True)
pd.DataFrame({"gpus": [os.environ.get("CUDA_VISIBLE_DEVICES")], "start": [start], "end": [time.time()],
              "read_end": [read_end], "slurm": [os.environ.get("SLURM_JOB_ID")]}).to_csv(f"{out_dir}/summary.csv",
                                                                                       index=False)
"""
SLURM = {"partition": "debug", "cpus_per_task": 1, "mem": "1G", "time": 10}


def listed(jobs, root):
    """A stand-in for an experiment's check: the table lists its complete jobs."""
    return Result(pd.DataFrame({"job": [job.name for job in jobs]}), [])


def write_project(root, release: str = "", slurm_section: dict | None = None, barrier: str = "", meet: int = 0,
                  hold: dict | None = None):
    """tab8 and tab16 sweep files over train.seed, each job a tiny notebook; tab16's jobs read tab8's."""
    notebook_file(root / "notebooks" / "tiny.ipynb",
                  'out_dir = "x"\ntrain = {}\nrelease = ""\nreads = ""\nbarrier = ""\nmeet = 0\nhold = {}', TINY)
    fixed = {"tab8": {"release": release, "barrier": barrier, "meet": meet, "hold": hold or {}},
             "tab16": {"reads": "outputs/reproduce/tab8/train.seed={seed}/" + SUMMARY, "barrier": barrier}}
    for name in ("tab8", "tab16"):
        spec = {"notebook": "notebooks/tiny.ipynb", "out": "outputs/reproduce", "fixed": fixed[name],
                "grid": {"train.seed": [0, 1, 2]}, **({"slurm": slurm_section} if slurm_section else {})}
        path = root / "params" / "sweeps" / "reproduce" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(spec))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The tiny project as the working directory, and an experiment registry of its two experiments
    (the paper's other experiments have no sweep files here)."""
    write_project(tmp_path)
    for name in list(EXPERIMENTS):
        tiny = name in ("tab8", "tab16")
        monkeypatch.setitem(EXPERIMENTS, name, Experiment(
            name=name, title=f"tiny {name}", notebook="notebooks/tiny.ipynb", sweeps=(f"{name}.yaml",) if tiny else (),
            check=listed if tiny else None, after=("tab8",) if name == "tab16" else ()))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def summaries(root, experiment):
    return {f.parent.name: pd.read_csv(f, dtype={"gpus": str}).iloc[0]
            for f in sorted((root / "outputs" / "reproduce" / experiment).glob(f"*/{SUMMARY}"))}


def test_with_four_gpus_each_job_gets_its_own_and_tab16_runs_after_tab8(project, monkeypatch, capsys):
    monkeypatch.setenv("RLVR_GPUS", "4")  # four GPUs, as far as the executor knows
    assert main(["reproduce", "--only", "tab8,tab16", "--seeds", "0,1", "--gpus-per-run", "1"]) == 0
    out = capsys.readouterr().out
    tab8, tab16 = summaries(project, "tab8"), summaries(project, "tab16")
    assert list(tab8) == list(tab16) == ["train.seed=0", "train.seed=1"]
    for wave in (tab8, tab16):  # each wave's jobs go at once, on different GPUs
        assert len({job.gpus for job in wave.values()}) == 2 and {job.gpus for job in wave.values()} <= set("0123")
    jobs = [*tab8.values(), *tab16.values()]
    for a, b in [(a, b) for i, a in enumerate(jobs) for b in jobs[i + 1:]]:
        if a.start < b.end and b.start < a.end:  # ran at the same time: on different GPUs
            assert a.gpus != b.gpus
    assert min(job.start for job in tab16.values()) > max(job.end for job in tab8.values())
    record = json.loads((project / "outputs" / "reproduce" / "tab16" / "train.seed=1" / "job.json").read_text())
    assert record["status"] == "ok" and record["environment"]["CUDA_VISIBLE_DEVICES"] in set("0123")
    assert "reproduce tab8: 2 runs, 0 complete, 2 to run" in out and "[tab16] start   train.seed=0 on GPU" in out
    assert "reproduce: 2/2 jobs done" in out and "written: docs/results-toy.md" in out
    assert "| train.seed=1 |" in (project / "docs" / "results-toy.md").read_text()  # the report, from the jobs


def test_status_lists_each_experiments_jobs_by_state(project, capsys, held_by_another_process):
    jobs = project / "outputs" / "reproduce" / "tab8"
    (jobs / "train.seed=0").mkdir(parents=True)  # finished
    (jobs / "train.seed=0" / SUMMARY).write_text("end\n1\n")
    write_job_record(jobs / "train.seed=0", {"status": "ok"})
    (jobs / "train.seed=1").mkdir()  # failed
    write_job_record(jobs / "train.seed=1", {"status": "failed", "error": "ValueError: asked to fail"})
    with held_by_another_process(jobs / "train.seed=2"):  # being executed by another reproduce
        assert main(["reproduce", "--only", "tab8,tab16", "--status"]) == 0
    shown = capsys.readouterr().out
    assert "tab8: 1 done, 1 running, 1 failed\n" in shown and "tab16: 3 not started\n" in shown
    assert "  failed       tab8/train.seed=1\n      ValueError: asked to fail\n" in shown
    assert "  not started  tab16/train.seed=2\n" in shown
    assert not (project / "outputs" / "reproduce" / "tab16").exists()  # nothing ran


def test_a_fresh_clone_takes_up_the_finished_jobs_that_landed_in_results(project, capsys):
    assert main(["reproduce", "--only", "tab8", "--seeds", "0,1"]) == 0
    kept = project / "results" / "reproduce" / "tab8"
    assert sorted(f.name for f in kept.iterdir()) == ["train.seed=0", "train.seed=1"]  # each as it finished
    assert not (kept / "train.seed=0" / "notebook.ipynb").exists()

    shutil.rmtree(project / "outputs")  # what a fresh clone lacks; results/ is in git
    capsys.readouterr()
    assert main(["reproduce", "--only", "tab8", "--seeds", "0,1,2"]) == 0
    out = capsys.readouterr().out
    assert "results/: 2 finished jobs brought back, 0 kept" in out
    assert "reproduce tab8: 3 runs, 2 complete, 1 to run" in out  # only seed 2 runs
    assert "| train.seed=0 |" in (project / "docs" / "results-toy.md").read_text()

    # A job that finished without being kept (an older version ran it) is kept by the next command.
    shutil.rmtree(kept / "train.seed=2")
    assert main(["reproduce", "--only", "tab8", "--seeds", "0,1,2", "--status"]) == 0
    assert "results/: 0 finished jobs brought back, 1 kept" in capsys.readouterr().out
    assert (kept / "train.seed=2" / "summary.csv").is_file()

    # Tab. 16 reads Tab. 8's runs, whose weights a fresh clone lacks: the Tab. 8 jobs it reads run again first.
    shutil.rmtree(project / "outputs")
    capsys.readouterr()
    assert main(["reproduce", "--only", "tab8,tab16", "--seeds", "0"]) == 0
    out = capsys.readouterr().out
    assert "reproduce tab16: reads outputs/reproduce/tab8/train.seed=0, kept without its weights: it runs again" in out
    assert "reproduce tab8: 1 runs, 0 complete, 1 to run" in out and "[tab16] ok" in out
    assert (project / "outputs" / "reproduce" / "tab8" / "train.seed=1" / "kept.json").is_file()  # none reads it


def test_on_slurm_the_second_wave_waits_for_the_first(slurm, project, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("SLURM_CONF", str(slurm))
    release = project / "release"
    write_project(project, release=str(release), slurm_section=SLURM)
    command = ["reproduce", "--only", "tab8,tab16", "--seeds", "0"]

    assert main([*command, "--executor", "slurm"]) == 0  # submitted, not waited for
    out = capsys.readouterr().out
    assert "2 jobs submitted; follow them with: rlvr reproduce --status --only tab8,tab16 --seeds 0" in out
    assert "write the report with: rlvr reproduce --report-only --only tab8,tab16\n" in out  # seeds 0, 1, 2
    states = wait_for(lambda: (s := reproduce_status("tab8,tab16", [0]))["tab8"]["tab8/train.seed=0"].state
                      == "running" and s)
    assert states["tab16"]["tab16/train.seed=0"].state == "pending"  # its SLURM job waits for tab8's
    assert main([*command, "--status"]) == 0
    assert "tab8: 1 running" in (shown := capsys.readouterr().out) and "tab16: 1 pending" in shown

    release.touch()
    assert main([*command, "--executor", "slurm", "--wait"]) == 0  # submits nothing twice, waits, then reports
    out = capsys.readouterr().out
    assert "reproduce tab8: 1 runs, 0 complete, 1 queued or running, 0 to run" in out
    assert "0 jobs submitted" in out and "reproduce: 2/2 jobs done" in out
    tab8, tab16 = summaries(project, "tab8")["train.seed=0"], summaries(project, "tab16")["train.seed=0"]
    assert tab16.start > tab8.end and tab16.read_end == tab8.end and tab8.slurm != tab16.slurm
    assert "| train.seed=0 |" in (project / "docs" / "results-toy.md").read_text()


def test_the_map_runs_every_worlds_jobs_in_one_pool_so_no_world_waits_for_anothers_end(project, monkeypatch, capsys):
    from rlvr.reproduce import document, registry, run
    from rlvr.toyworld.worlds import named

    worlds = {"qwen-like": ("tab8", "tab16"), "llama-like": ("tab8",)}
    for module in (registry, run, document):
        monkeypatch.setattr(module, "MAP", worlds)
    monkeypatch.setenv("RLVR_WORLDS", str(project / "worlds"))
    for world in worlds:  # built, as far as the map can tell (the record a build writes)
        (project / "worlds" / world).mkdir(parents=True)
        (project / "worlds" / world / "profile.json").write_text(json.dumps(
            {"corpus": {"seed": 3}, "world": {"generator": 3, **named(world).to_dict()}}))
    # A dry run lists the worlds one after another in the order they run: toy-base's column where the
    # registry puts it (here before llama-like), last where that world is not in the map.
    monkeypatch.setattr(registry, "TOY_BASE_BEFORE", "llama-like")
    assert main(["reproduce", "--map", "--seeds", "0", "--dry-run"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("map: ")]
    assert listed == ["map: world qwen-like", "map: toy-base's column", "map: world llama-like"]
    monkeypatch.setattr(registry, "TOY_BASE_BEFORE", "qwen-like~verification")
    assert main(["reproduce", "--map", "--seeds", "0", "--parallel", "2"]) == 0
    out = capsys.readouterr().out

    def ran(world, experiment):
        return pd.read_csv(project / "outputs" / "map" / world / experiment / "train.seed=0" / SUMMARY).iloc[0]

    qwen, llama, after = ran("qwen-like", "tab8"), ran("llama-like", "tab8"), ran("qwen-like", "tab16")
    assert qwen.start < llama.end and llama.start < qwen.end  # side by side, across the two worlds
    assert after.start > qwen.end and after.read_end == qwen.end  # tab16 read its own world's tab8
    # toy-base's column as well, last (its jobs where the default reproduce keeps them), reading its own tab8
    toy_base = summaries(project, "tab8")["train.seed=0"]
    assert toy_base.start > min(qwen.end, llama.end) and summaries(project, "tab16")["train.seed=0"].read_end \
        == toy_base.end
    assert "map experiments: 5 runs to do across the worlds" in out
    assert "| train.seed=0 |" in (project / "docs" / "map" / "llama-like.md").read_text()  # each world's report
    assert "## The map" in (project / "docs" / "results-toy.md").read_text()  # and the matrix
    assert main(["reproduce", "--map", "--seeds", "0"]) == 0  # resumed: nothing left to run
    assert "map experiments: 0 runs to do" in capsys.readouterr().out
    # A map cut off part way (it outlasts a session) shows what is on disk: every world's report and the matrix.
    (project / "docs" / "map" / "llama-like.md").unlink()
    assert main(["reproduce", "--map", "--report-only"]) == 0
    assert "| train.seed=0 |" in (project / "docs" / "map" / "llama-like.md").read_text()


def test_a_worlds_tab16_runs_once_its_tab8_is_in_while_the_other_worlds_jobs_fill_the_cores(project, monkeypatch,
                                                                                            capsys):
    from rlvr.reproduce import document, registry, run
    from rlvr.toyworld.worlds import named

    worlds = {"qwen-like": ("tab8", "tab16"), "llama-like": ("tab8",)}
    for module in (registry, run, document):
        monkeypatch.setattr(module, "MAP", worlds)
    monkeypatch.setenv("RLVR_WORLDS", str(project / "worlds"))
    for world in worlds:
        (project / "worlds" / world).mkdir(parents=True)
        (project / "worlds" / world / "profile.json").write_text(json.dumps(
            {"corpus": {"seed": 3}, "world": {"generator": 3, **named(world).to_dict()}}))
    # Both worlds' tab8 jobs wait to meet: on a loaded machine a job's kernel can start seconds late. toy-base's
    # tab8, last in order, then holds its core until qwen-like's tab16 has started (a minute at most): were
    # tab16 queued behind the later worlds, it would start only after that minute and after toy-base's tab8.
    write_project(project, barrier=str(project / "started"), meet=2,
                  hold={"reproduce/tab8": str(project / "started" / "*qwen-like_tab16*")})
    assert main(["reproduce", "--map", "--seeds", "0", "--parallel", "2"]) == 0

    def ran(world, experiment):
        return pd.read_csv(project / "outputs" / "map" / world / experiment / "train.seed=0" / SUMMARY).iloc[0]

    qwen, tab16, llama = ran("qwen-like", "tab8"), ran("qwen-like", "tab16"), ran("llama-like", "tab8")
    assert qwen.start < llama.end and llama.start < qwen.end  # tab16 waited; llama-like's tab8 took the second core
    assert tab16.start >= qwen.end and tab16.read_end == qwen.end
    # ...and it went as soon as qwen-like's tab8 was in, not after the worlds that come later
    assert tab16.start < summaries(project, "tab8")["train.seed=0"].end  # toy-base's tab8, last in order
