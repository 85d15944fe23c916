"""Where a sweep's jobs execute: GPUs shared out on one machine, and a real one-node SLURM cluster."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from rlvr.cli import main
from rlvr.executors import device_sets, kernels_share_cores, on_free_devices, training_command
from rlvr.sweep import load_sweep, sweep_status
from test_sweep import notebook_file, write_notebook, write_sweep

# A job that records what it was given: its GPUs, its training processes, the command train_run would
# launch, and when it ran (to check that jobs sharing a moment never share a GPU).
RECORDS = """\
import os, time
import pandas as pd
from rlvr.env import training_processes
from rlvr.executors import training_command
start = time.time()
time.sleep(1.5)
os.makedirs(out_dir, exist_ok=True)
pd.DataFrame({"gpus": [os.environ.get("CUDA_VISIBLE_DEVICES")], "processes": [training_processes()],
              "command": [" ".join(training_command("run.yaml", training_processes()))],
              "start": [start], "end": [time.time()]}).to_csv(f"{out_dir}/summary.csv", index=False)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    write_notebook(tmp_path / "notebooks" / "tiny.ipynb", RECORDS)
    configs = tmp_path / "configs" / "accelerate"
    configs.mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "configs" / "accelerate" / "fsdp.yaml", configs)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_visible_gpus_are_cut_into_disjoint_sets_one_a_run():
    gpus = [str(i) for i in range(8)]
    assert device_sets(gpus, 1) == list("01234567")
    assert device_sets(gpus, 2) == ["0,1", "2,3", "4,5", "6,7"]
    assert device_sets(gpus, 3) == ["0,1,2", "3,4,5"]  # two GPUs stay idle
    assert device_sets(gpus, 0) == []  # CPU jobs
    with pytest.raises(ValueError, match="gpus_per_run is 9 but this machine has 8"):
        device_sets(gpus, 9)


def test_notebooks_run_side_by_side_train_their_conditions_one_at_a_time_and_a_users_choice_stands(monkeypatch):
    monkeypatch.delenv("RLVR_PARALLEL", raising=False)
    with kernels_share_cores(2):
        assert os.environ["RLVR_PARALLEL"] == "1"
    assert "RLVR_PARALLEL" not in os.environ  # as before: unset
    with kernels_share_cores(1):
        assert "RLVR_PARALLEL" not in os.environ
    monkeypatch.setenv("RLVR_PARALLEL", "3")
    with kernels_share_cores(2):
        assert os.environ["RLVR_PARALLEL"] == "3"
    assert os.environ["RLVR_PARALLEL"] == "3"


def test_a_job_waits_until_it_is_ready_while_the_next_ready_one_takes_the_free_worker():
    # "b" reads what "a" writes; two workers: "c" runs beside "a", and "b" goes as soon as "a" ends.
    done, started, ended = set(), {}, {}

    def work(item, devices):
        started[item] = time.monotonic()
        time.sleep({"a": 0.3, "b": 0.05, "c": 0.8}[item])
        done.add(item)
        ended[item] = time.monotonic()
        return item.upper()

    results = on_free_devices(["a", "b", "c"], work, [], 2, ready=lambda item: item != "b" or "a" in done)
    assert results == ["A", "B", "C"]  # in the items' order
    assert sorted(started, key=started.get) == ["a", "c", "b"]
    assert ended["a"] <= started["b"] < ended["c"]
    # Nothing ready and nothing running: the first left goes anyway (its own error says what it lacked).
    assert on_free_devices(["x"], lambda item, devices: item, [], 2, ready=lambda item: False) == ["x"]


def test_each_job_gets_its_own_gpus_and_a_multi_gpu_job_launches_through_accelerate(project, monkeypatch):
    monkeypatch.setenv("RLVR_GPUS", "4")  # four GPUs, as far as the runner knows
    path = write_sweep(project, grid={"a": [1, 2, 3]}, gpus_per_run=2,
                       accelerate_config="configs/accelerate/fsdp.yaml")
    assert main(["sweep", str(path), "--parallel", "3"]) == 0
    jobs = pd.read_csv(project / "outputs" / "demo" / "summary.csv", dtype={"gpus": str})
    assert set(jobs["gpus"]) == {"0,1", "2,3"} and jobs["processes"].eq(2).all()
    for a, b in [(a, b) for a in jobs.itertuples() for b in jobs.itertuples() if a.run < b.run]:
        if a.start < b.end and b.start < a.end:  # ran at the same time: on different GPUs
            assert a.gpus != b.gpus
    overlapping = sum(a.start < b.end and b.start < a.end for a in jobs.itertuples() for b in jobs.itertuples()
                      if a.run < b.run)
    assert overlapping <= 1  # three jobs, two sets of GPUs: never three at once
    command = jobs["command"][0].split()
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert command[3:7] == ["--config_file", "configs/accelerate/fsdp.yaml", "--num_processes", "2"]
    assert command[-4:] == ["-m", "rlvr.cli", "train", "run.yaml"]
    record = json.loads((project / "outputs" / "demo" / "a=1" / "job.json").read_text())
    assert record["environment"]["CUDA_VISIBLE_DEVICES"] in ("0,1", "2,3")


def test_one_gpu_jobs_train_in_the_kernel_and_a_cpu_sweep_hands_out_no_gpus(project, monkeypatch):
    monkeypatch.setenv("RLVR_GPUS", "2")
    path = write_sweep(project, grid={"a": [1, 2]})  # gpus_per_run defaults to 1 where there are GPUs
    assert main(["sweep", str(path)]) == 0
    jobs = pd.read_csv(project / "outputs" / "demo" / "summary.csv", dtype={"gpus": str})
    assert sorted(jobs["gpus"]) == ["0", "1"] and jobs["processes"].eq(1).all()
    assert jobs["command"][0].split()[1:] == ["-m", "rlvr.cli", "train", "run.yaml"]
    monkeypatch.setenv("RLVR_GPUS", "0")
    path = write_sweep(project, name="cpu", grid={"a": [1]})
    assert main(["sweep", str(path)]) == 0
    assert pd.read_csv(project / "outputs" / "cpu" / "summary.csv", dtype={"gpus": str})["gpus"].isna().all()


def test_a_sweep_asking_for_more_gpus_than_there_are_is_refused(project, monkeypatch, capsys):
    monkeypatch.setenv("RLVR_GPUS", "0,1")
    path = write_sweep(project, grid={"a": [1]}, gpus_per_run=4)
    assert main(["sweep", str(path)]) == 2
    assert "gpus_per_run is 4 but this machine has 2 GPU(s)" in capsys.readouterr().err
    assert not (project / "outputs" / "demo").exists()


def test_a_multi_gpu_launch_without_its_accelerate_config_says_where_they_are():
    with pytest.raises(FileNotFoundError, match="configs/accelerate"):
        training_command("run.yaml", 2, "configs/accelerate/nope.yaml")
    assert training_command("run.yaml", 1) == [sys.executable, "-m", "rlvr.cli", "train", "run.yaml"]


# ----------------------------------------------------------------------------- a real SLURM


SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node SLURM cluster on this machine (its cores and memory, no GPUs), with its own munge;
    yields its slurm.conf. Needs Debian's slurm-wlm and munge, and root (.ci/run installs them)."""
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs a one-node SLURM: apt-get install slurm-wlm munge, as root "
                    f"({'missing ' + ', '.join(missing) if missing else 'not root'}; .ci/run installs them)")
    d = tmp_path_factory.mktemp("slurm")
    for sub in ("munge", "state", "spool", "log"):
        (d / sub).mkdir()
    (d / "munge").chmod(0o700)
    (d / "munge" / "key").write_bytes(os.urandom(1024))
    (d / "munge" / "key").chmod(0o600)
    subprocess.run(["munged", "--force", f"--socket={d}/munge/sock", f"--key-file={d}/munge/key",
                    f"--log-file={d}/log/munged.log", f"--pid-file={d}/munge/pid", f"--seed-file={d}/munge/seed"],
                   check=True)
    host = socket.gethostname().split(".")[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024
    conf = d / "slurm.conf"
    conf.write_text(f"""\
ClusterName=rlvrtest
SlurmctldHost={host}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={d}/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)
    try:
        for _ in range(60):
            idle = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env).stdout
            if "idle" in idle:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the SLURM node never became idle: {(d / 'log' / 'slurmctld.log').read_text()[-2000:]}")
        yield conf
    finally:
        # A job whose notebook is done may still be winding down: with the daemons gone first, its
        # step would be left waiting for them forever. Cancel what is left and let it end.
        subprocess.run(["scancel", "--user", str(os.getuid())], env=env, capture_output=True)
        for _ in range(60):
            if not subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=env).stdout.strip():
                break
            time.sleep(0.5)
        for pid_file in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
            if (d / pid_file).is_file():
                try:
                    os.kill(int((d / pid_file).read_text().split()[0]), 15)
                except (ProcessLookupError, ValueError):
                    pass


# The first attempt of a job waits until the test lets it go (or is cancelled); a retry goes straight through.
WAITS = """\
import os, time
import pandas as pd
while not os.path.exists(release):
    time.sleep(0.5)
os.makedirs(out_dir, exist_ok=True)
pd.DataFrame({"value": [a * 2], "job": [os.environ.get("SLURM_JOB_ID")]}).to_csv(f"{out_dir}/summary.csv", index=False)
"""


def wait_for(predicate, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(1)
    raise AssertionError("timed out")


def test_a_sweep_on_slurm_completes_and_a_cancelled_job_is_reported_then_retried(slurm, tmp_path, monkeypatch,
                                                                                   capsys):
    monkeypatch.setenv("SLURM_CONF", str(slurm))
    monkeypatch.chdir(tmp_path)
    notebook_file(tmp_path / "notebooks" / "tiny.ipynb", 'out_dir = "x"\na = 1\nrelease = "go"', WAITS)
    release = tmp_path / "release"
    path = write_sweep(tmp_path, grid={"a": [1, 2]}, fixed={"release": str(release)},
                       slurm={"partition": "debug", "cpus_per_task": 1, "mem": "1G", "time": 10})
    sweep = load_sweep(path)

    assert main(["sweep", str(path), "--executor", "slurm"]) == 0  # submitted, not waited for
    assert "2 jobs submitted" in capsys.readouterr().out
    def both_running():
        states = sweep_status(sweep)
        return states if all(s.state == "running" for s in states.values()) else None

    states = wait_for(both_running)
    cancelled = states["a=2"].slurm_job
    subprocess.run(["scancel", cancelled], check=True)
    wait_for(lambda: sweep_status(sweep)["a=2"].state == "failed")
    release.touch()  # a=1 finishes; a=2 was killed on its way
    wait_for(lambda: sweep_status(sweep)["a=1"].state == "done")

    assert main(["sweep", str(path), "--status"]) == 0
    shown = capsys.readouterr().out
    assert "1 done, 1 failed" in shown and f"SLURM job {cancelled} ended without finishing" in shown

    assert main(["sweep", str(path), "--executor", "slurm", "--wait"]) == 0  # retries the failed job only
    out = capsys.readouterr().out
    assert "1 complete" in out and "submitted a=2" in out
    summary = pd.read_csv(tmp_path / "outputs" / "demo" / "summary.csv")
    assert summary[["run", "a", "value"]].values.tolist() == [["a=1", 1, 2], ["a=2", 2, 4]]
    assert str(summary.loc[1, "job"]) != cancelled  # the retry was a new job
