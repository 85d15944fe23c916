"""The run folder has one owner: its names, logs, checkpoints and recorded config."""

import json
import subprocess
import sys
from dataclasses import replace

import pandas as pd
import pytest
from rlvr import rundir
from rlvr.config import preset


def fake_run(path, steps=(2, 4), logged=6):
    """A run folder as training leaves it: checkpoints, and logs written past the last one."""
    log = rundir.RunLog(path)
    for step in range(1, logged + 1):
        log.append(rundir.STEPS_LOG, [{"step": step, "train_accuracy": step / 10}])
        log.append(rundir.ROLLOUTS_LOG, [{"step": step, "epoch": (step - 1) // 2, "example_id": "a", "correct": True}])
    for step in steps:
        (rundir.checkpoint_dir(path, step)).mkdir()
        (rundir.checkpoint_dir(path, step) / "config.json").write_text("{}")
    return path


def test_checkpoints_are_found_by_step_and_an_unwritten_one_does_not_count(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "checkpoint-6").mkdir()  # killed while saving: no model written
    (run / "checkpoint-final").mkdir()
    assert list(rundir.checkpoints(run)) == [2, 4]
    assert rundir.last_step(run) == 4 and rundir.last_step(tmp_path / "empty") is None
    assert rundir.is_complete(run, 4) and not rundir.is_complete(run, 6)


# A checkpoint folder as each launcher leaves it (transformers 5.17's Trainer, accelerate 1.15, DeepSpeed):
# the weights evaluation loads and the trainer's record, then what only a resume reads.
EVALUATED = ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "trainer_state.json",
             "training_args.bin"]
RESUMED = {
    "one process": ["optimizer.pt", "scheduler.pt", "rng_state.pth"],
    "FSDP": ["pytorch_model_fsdp.bin", "optimizer.bin", "scheduler.pt", "rng_state_0.pth", "rng_state_1.pth"],
    "DeepSpeed": ["global_step4/mp_rank_00_model_states.pt", "latest", "zero_to_fp32.py", "rng_state_0.pth",
                  "global_step4/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt"],
    "PPO": ["optimizer.pt", "scheduler.pt", "critic/optimizer.pt"],
}


def lay_out(folder, names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"0")


@pytest.mark.parametrize("launcher", RESUMED)
def test_only_the_latest_checkpoint_keeps_what_a_resume_needs(tmp_path, launcher):
    run = tmp_path / "run"
    evaluated = EVALUATED + (["critic/config.json", "critic/model.safetensors"] if launcher == "PPO" else [])
    for step in (2, 4):
        lay_out(rundir.checkpoint_dir(run, step), evaluated + RESUMED[launcher])
    rundir.drop_training_state(run, keep=4)

    def kept(step):
        folder = rundir.checkpoint_dir(run, step)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    assert kept(2) == sorted(evaluated)
    assert kept(4) == sorted(evaluated + RESUMED[launcher])


def test_a_checkpoint_whose_only_weights_are_the_training_copy_keeps_them(tmp_path):
    run = tmp_path / "run"
    for step in (2, 4):  # weights never written in the form evaluation loads
        lay_out(rundir.checkpoint_dir(run, step), ["config.json", "pytorch_model_fsdp.bin", "optimizer.bin"])
    rundir.drop_training_state(run, keep=4)
    assert sorted(p.name for p in rundir.checkpoint_dir(run, 2).iterdir()) == ["config.json", "pytorch_model_fsdp.bin"]


def test_logs_are_cut_back_to_the_checkpoint_a_resume_starts_from(tmp_path):
    run = fake_run(tmp_path / "run")
    rundir.RunLog(run).truncate_after(rundir.last_step(run))
    assert [r["step"] for r in rundir.read_log(run, rundir.STEPS_LOG)] == [1, 2, 3, 4]
    with open(run / rundir.STEPS_LOG, "a") as f:
        f.write('{"step": 5, "train_acc')  # a line cut by a kill
    assert [r["step"] for r in rundir.read_log(run, rundir.STEPS_LOG)] == [1, 2, 3, 4]


def test_a_running_run_reads_from_its_logs_and_a_finished_one_from_parquet(tmp_path):
    run = fake_run(tmp_path / "run")
    assert rundir.load_run(run)["steps"]["step"].tolist() == list(range(1, 7))
    written = rundir.write_tables(run)
    assert (run / "steps.parquet").is_file() and written["history"] == run / rundir.HISTORY
    assert json.loads((run / rundir.HISTORY).read_text()) == {"a": [1.0, 1.0, 1.0]}
    (run / rundir.STEPS_LOG).unlink()
    assert isinstance(rundir.load_run(run)["steps"], pd.DataFrame) and len(rundir.load_run(run)["steps"]) == 6
    with pytest.raises(FileNotFoundError, match="no run there"):
        rundir.load_run(tmp_path / "nope")


def test_a_folder_holding_other_settings_is_refused_but_how_it_ran_may_differ(tmp_path):
    cfg = preset("cpu", output_dir=str(tmp_path / "run"))
    rundir.check_same_settings(cfg)  # nothing there yet
    rundir.write_run_config(tmp_path / "run", {"config": cfg.to_dict()})
    assert rundir.read_run_config(tmp_path / "run")["config"]["seed"] == 0
    rundir.check_same_settings(replace(cfg, threads=2, report_to=["wandb"]))
    with pytest.raises(ValueError, match="seed: 0 there, 1 now"):
        rundir.check_same_settings(replace(cfg, seed=1))


def test_a_setting_another_algorithm_reads_does_not_hold_a_run_back(tmp_path):
    grpo = preset("cpu", output_dir=str(tmp_path / "grpo"))
    rundir.write_run_config(grpo.output_dir, {"config": replace(grpo, critic_learning_rate=1e-5).to_dict()})
    rundir.check_same_settings(grpo)  # GRPO has no critic: its learning rate changes nothing
    ppo = replace(grpo, algorithm="ppo", output_dir=str(tmp_path / "ppo"))
    rundir.write_run_config(ppo.output_dir, {"config": replace(ppo, critic_learning_rate=1e-5).to_dict()})
    with pytest.raises(ValueError, match="critic_learning_rate: 1e-05 there, 0.0001 now"):
        rundir.check_same_settings(ppo)


def test_folder_names_are_made_safe_one_way():
    assert rundir.slug("rows=[4],train.learning_rate=1e-05") == "rows=_4_,train.learning_rate=1e-05"
    assert rundir.slug("x/y z") == "x_y_z" and rundir.is_safe_name("a=1,b") and not rundir.is_safe_name("..")


def test_reading_results_needs_neither_torch_nor_the_trainer():
    script = ("import sys, rlvr.rundir, rlvr.analysis, rlvr.config, rlvr.sweep, rlvr.ablations\n"
              "print(sorted(m for m in ('torch', 'trl', 'rlvr.train') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_run_folder_has_one_writer_and_a_killed_one_frees_it(tmp_path, held_by_another_process):
    folder = tmp_path / "run"
    with held_by_another_process(folder) as pid:
        with pytest.raises(rundir.RunBusy, match=f"being written by pid {pid} .*run again"):
            with rundir.exclusive(folder):
                pass
    # The holder was killed without cleaning up: the folder is free again.
    with rundir.exclusive(folder) as held:
        assert held == folder
        with pytest.raises(rundir.RunBusy):  # ...and held by this process now
            with rundir.exclusive(folder):
                pass


def finished_job(folder):
    """A finished notebook job with one training run: tables and records beside weights, evaluation
    samples, JSONL logs and the executed notebook."""
    run = fake_run(folder / "1shot-outcome")
    rundir.write_tables(run)
    (run / rundir.RUN_CONFIG).write_text("{}")
    (run / "checkpoint-4" / "model.safetensors").write_bytes(b"weights")
    (run / rundir.EVAL_DIR / "step-4").mkdir(parents=True)
    pd.DataFrame({"correct": [True]}).to_parquet(run / rundir.EVAL_DIR / "step-4" / rundir.EVAL_SAMPLES)
    pd.DataFrame({"step": [0, 4], "strict": [0.1, 0.3]}).to_parquet(folder / "scores.parquet")
    pd.DataFrame({"step": [4], "strict": [0.3]}).to_csv(folder / rundir.SUMMARY, index=False)
    (folder / rundir.NOTEBOOK).write_text("{}")
    rundir.write_job_record(folder, {"status": "ok"})
    return folder


def test_a_finished_experiment_job_is_kept_in_git_without_its_weights_and_comes_back_in_a_fresh_clone(tmp_path):
    from rlvr.evaluate import evaluate_checkpoints

    job = finished_job(tmp_path / "outputs" / "map" / "qwen-like" / "tab8" / "train.seed=0")
    kept = rundir.keep_job(job, tmp_path)
    assert kept == tmp_path / "results" / "map" / "qwen-like" / "tab8" / "train.seed=0"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == [
        "1shot-outcome/history_accuracy.json", "1shot-outcome/run_config.json", "1shot-outcome/steps.parquet",
        "job.json", "scores.parquet", "summary.csv"]

    rundir.shutil.rmtree(tmp_path / "outputs")  # a fresh clone: results/ is in git, outputs/ is not
    assert rundir.restore_kept(tmp_path) == [job]
    assert rundir.is_job_complete(job)
    assert pd.read_parquet(job / "scores.parquet")["strict"].tolist() == [0.1, 0.3]
    assert rundir.load_run(job / "1shot-outcome")["steps"]["train_accuracy"].tolist()[-1] == 0.6
    with pytest.raises(FileNotFoundError, match="without its weights; run its job again"):
        evaluate_checkpoints(job / "1shot-outcome")  # what read them (Tab. 16 reads Tab. 8's) is told so
    assert rundir.restore_kept(tmp_path) == []  # a folder on disk is left alone


def test_only_finished_jobs_of_the_experiment_trees_are_kept(tmp_path):
    assert rundir.keep_job(finished_job(tmp_path / "outputs" / "00_quickstart"), tmp_path) is None
    unfinished = finished_job(tmp_path / "outputs" / "research" / "sweep" / "lr=1e-05")
    rundir.write_job_record(unfinished, {"status": "failed"})
    assert rundir.keep_job(unfinished, tmp_path) is None and not (tmp_path / "results").exists()
