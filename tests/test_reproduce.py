"""The reproduce's verdicts and report, on small tables (the reproduce itself is not run here)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from rlvr import reproduce
from rlvr.cli import main
from rlvr.reproduce import FAILS, HOLDS_ALL, HOLDS_MEAN, NOT_RUN, Pattern, claim
from rlvr.rundir import HISTORY, JOB_RECORD, RUN_CONFIG, SUMMARY, keep_job, restore_kept
from rlvr.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]


def per_seed(**columns):
    return pd.DataFrame(columns, index=pd.Index([0, 1, 2], name="seed"))


def test_a_pattern_holds_on_all_seeds_on_the_mean_or_fails():
    values = per_seed(base=[0.10, 0.10, 0.10], one=[0.30, 0.35, 0.05])
    everywhere = claim(values, "one above a fifth of the base", lambda r: r["one"] > r["base"] / 5)
    mostly = claim(values, "one above the base", lambda r: r["one"] > r["base"])
    never = claim(values, "one below the base", lambda r: r["one"] < r["base"])
    assert everywhere.per_seed == {0: True, 1: True, 2: True} and everywhere.on_mean
    assert mostly.per_seed == {0: True, 1: True, 2: False} and mostly.on_mean  # mean 0.233 > 0.10
    assert never.per_seed == {0: False, 1: False, 2: True} and not never.on_mean
    assert Pattern("p", [everywhere]).verdict == HOLDS_ALL
    assert Pattern("p", [everywhere, mostly]).verdict == HOLDS_MEAN
    assert Pattern("p", [everywhere, mostly, never]).verdict == FAILS
    assert Pattern("p").verdict == NOT_RUN


def test_a_seed_missing_a_number_fails_that_seed():
    values = per_seed(base=[0.1, 0.1, 0.1], one=[0.3, None, 0.3])
    result = claim(values, "one above the base", lambda r: r["one"] > r["base"])
    assert result.per_seed == {0: True, 1: False, 2: True} and result.on_mean


def test_mean_and_std_in_percent():
    assert reproduce.mean_std(pd.Series([0.30, 0.34, 0.32])) == "32.0 ± 2.0"
    assert reproduce.mean_std(pd.Series([0.5])) == "50.0" and reproduce.mean_std(pd.Series([], dtype=float)) == "-"


def steps_table(train_accuracy):
    return pd.DataFrame({"step": range(1, len(train_accuracy) + 1), "train_accuracy": train_accuracy})


def test_post_saturation_counts_only_a_rise_after_twice_the_saturation_step():
    # Training accuracy saturates at step 10 (5-step mean reaches 0.9); evaluations every 10 steps.
    steps = steps_table([0.2] * 5 + [1.0] * 95)
    rising = pd.DataFrame({"step": [0, 10, 20, 30, 40, 100], "strict": [0.1, 0.2, 0.30, 0.31, 0.36, 0.34]})
    result = reproduce.post_saturation(steps, rising)
    assert result["saturation"] == 10 and result["twice_step"] == 20
    assert result["at_twice"] == 0.30 and result["best_after"] == 0.36 and result["best_step"] == 40
    assert result["reproduced"]
    # The rise up to twice the saturation step does not count; flat after it is not reproduced.
    flat = rising.assign(strict=[0.1, 0.2, 0.33, 0.32, 0.34, 0.33])
    assert not reproduce.post_saturation(steps, flat)["reproduced"]
    # Never saturating is not reproduced either.
    assert not reproduce.post_saturation(steps_table([0.2] * 100), rising)["reproduced"]


def test_late_rollouts_describe_the_example_over_the_last_steps():
    steps = steps_table([0.5] * 50 + [1.0] * 40 + [0.0] * 10).assign(
        boxed_rate=[1.0] * 90 + [0.5] * 10, completions_mean_length=[30.0] * 90 + [80.0] * 10)
    late = reproduce.late_rollouts(steps, last=20)
    assert late == {"late_solved": 0.5, "late_boxed": 0.75, "late_tokens": 55.0}


def test_only_names_known_experiments_in_their_order():
    assert reproduce.chosen("tab17x".replace("17x", "8") + ",postsat") == ["postsat", "tab8"]
    assert reproduce.chosen(None) == list(reproduce.ORDER)
    assert reproduce.chosen("beyond,tab8") == ["tab8", "beyond"]  # an extra runs only when named
    with pytest.raises(ValueError, match="unknown experiment\\(s\\) tab99; choose from selection, postsat"):
        reproduce.chosen("tab5,tab99")


def test_each_experiment_names_the_notebook_its_sweep_files_execute():
    for experiment in reproduce.EXPERIMENTS.values():
        for sweep_file in experiment.sweeps:
            sweep = load_sweep(ROOT / reproduce.SWEEPS / sweep_file, root=ROOT)
            assert sweep.notebook == ROOT / experiment.notebook, (experiment.name, sweep_file)
    assert set(reproduce.ORDER + reproduce.EXTRAS) == set(reproduce.EXPERIMENTS)


def fake_project(tmp_path) -> Path:
    """A project folder with the real sweep files and notebooks, and made-up tab8 runs for two seeds."""
    shutil.copytree(ROOT / "params" / "sweeps" / "reproduce", tmp_path / "params" / "sweeps" / "reproduce")
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    strict = {0: {"full set (outcome)": 0.45, "1-shot (outcome)": 0.33, "1-shot (format)": 0.25},
              1: {"full set (outcome)": 0.40, "1-shot (outcome)": 0.36, "1-shot (format)": 0.38}}
    for seed, best in strict.items():
        run = tmp_path / "outputs" / "reproduce" / "tab8" / f"train.seed={seed}"
        run.mkdir(parents=True)
        rows = []
        for condition, value in best.items():
            rows.append({"condition": condition, "step": 0, "strict": 0.136, "eval": 0.21, "boxed": 0.18,
                         "run_on": 0.71})
            run_on = 0.6 if "format" in condition else 0.05
            rows.append({"condition": condition, "step": 50, "strict": value, "eval": value, "boxed": 0.9,
                         "run_on": run_on})
            rows.append({"condition": condition, "step": 100, "strict": value - 0.01, "eval": value, "boxed": 0.9,
                         "run_on": run_on})
        pd.DataFrame(rows).to_csv(run / "summary.csv", index=False)
        (run / "run.json").write_text(json.dumps({"status": "ok"}))
    return tmp_path


def test_the_report_states_each_verdict_and_keeps_the_hand_written_part(tmp_path):
    root = fake_project(tmp_path)
    doc = root / "docs" / "results-toy.md"
    doc.parent.mkdir()
    doc.write_text("# Results\n\nNotes written by hand.\n")
    reproduce.report(["tab8", "tab5"], seeds=[0, 1], root=root, doc=doc)
    text = doc.read_text()
    assert text.startswith("# Results\n") and "Notes written by hand." in text
    assert text.index(reproduce.BEGIN) < text.index(reproduce.END) < text.index("Notes written by hand.")
    # format-only < 1-shot holds on seed 0 (25 < 33) not seed 1 (38 > 36); on the mean 31.5 < 34.5.
    assert "format-only < 1-shot outcome: seed 0 yes, seed 1 no; on the mean yes" in text
    assert "| 1-shot (outcome) | 2 | 50, 50 | 34.5 ± 2.1 |" in " ".join(text.split())
    assert f"**{HOLDS_MEAN}**: base < format-only < 1-shot outcome <= full set" in text
    assert "### The loss terms (Tab. 5 rows 1-10)\n\nNot run yet." in text
    assert (root / "docs" / "figures" / "tab8.png").stat().st_size > 1000
    # Run again after a subset: the generated part is replaced, not repeated, every experiment keeps
    # its section, and the hand-written part stays. An extra experiment shows once it has runs.
    reproduce.report(["tab8"], seeds=[0, 1], root=root, doc=doc, minutes=3)
    again = doc.read_text()
    assert again.count(reproduce.BEGIN) == 1 and "Notes written by hand." in again
    assert "### The loss terms (Tab. 5 rows 1-10)" in again
    assert "The last `rlvr reproduce` (tab8) took 3 minutes" in again
    reproduce.report(["tab8"], seeds=[0, 1], root=root, doc=doc)  # --report-only: no time of its own
    assert "The last `rlvr reproduce` (tab8) took 3 minutes" in doc.read_text()
    assert "Beyond the paper" not in again

    # On a machine without those jobs (nor results/ of them), what was written of them stays, said so,
    # once; an experiment never run still reads "Not run yet.".
    shutil.rmtree(root / "outputs")
    for _ in range(2):
        reproduce.report(None, seeds=[0, 1], root=root, doc=doc)
        kept = doc.read_text()
        assert kept.count(reproduce.document.KEPT_NOTE) == 1
        assert f"**{HOLDS_MEAN}**: base < format-only < 1-shot outcome <= full set" in kept
        assert "| 1-shot (outcome) | 2 | 50, 50 | 34.5 ± 2.1 |" in " ".join(kept.split())
        assert f"| tab8 | base < format-only < 1-shot outcome <= full set; the outcome reward removes running on, " \
               f"format-only does not (Tab. 8, Tab. 14) | {HOLDS_MEAN} | 1/2 |" in kept
        assert "### The loss terms (Tab. 5 rows 1-10)\n\nNot run yet." in kept


def test_the_command_lists_the_runs_to_do_and_refuses_an_unknown_experiment(tmp_path, monkeypatch, capsys):
    from rlvr.cli import main

    monkeypatch.chdir(fake_project(tmp_path))
    assert main(["reproduce", "--only", "tab8,tab16", "--seeds", "0,1,2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    # seeds 0 and 1 of tab8 are complete (fake_project); tab16 reads tab8's runs, so it comes after.
    assert "reproduce tab8: 3 runs, 2 complete, 1 to run\n  run  tab8/train.seed=2\n" in out
    assert out.index("reproduce tab8") < out.index("reproduce tab16: 3 runs, 0 complete, 3 to run")
    assert main(["reproduce", "--only", "tab99", "--dry-run"]) == 2
    assert "unknown experiment(s) tab99" in capsys.readouterr().err


def fake_scores(root: Path, experiment: str, seed: int, strict: dict) -> Path:
    """A made-up notebook run of ``experiment``: the base at 14% and each condition's best strict accuracy."""
    run = root / "outputs" / "reproduce" / experiment / f"train.seed={seed}"
    run.mkdir(parents=True)
    rows = [{"condition": c, "step": s, "strict": v if s else 0.14, "eval": 0.2, "boxed": 0.5, "run_on": 0.3}
            for c, v in strict.items() for s in (0, 50)]
    pd.DataFrame(rows).to_parquet(run / "scores.parquet")
    pd.DataFrame(strict.items(), columns=["condition", "strict"]).to_csv(run / "summary.csv", index=False)
    (run / "run.json").write_text(json.dumps({"status": "ok"}))
    return run


def fake_beyond(root: Path, seed: int, strict: dict, passk: dict) -> None:
    """A made-up 08_beyond_the_paper run: best strict accuracy per condition, pass@k curves per model."""
    run = fake_scores(root, "beyond", seed, strict)
    curves = [{"model": m, "k": k, "pass_at_k": v, "benchmark": "toy-test"}
              for m, values in passk.items() for k, v in zip((1, 4, 16), values)]
    pd.DataFrame(curves).to_parquet(run / "pass_at.parquet")


def test_the_follow_up_papers_findings_are_checked_on_beyond_runs(tmp_path):
    root = fake_project(tmp_path)
    strict = {"1-shot, outcome": 0.34, "1-shot, random": 0.20, "1-shot, majority": 0.30,
              "1-shot, entropy minimisation": 0.10, "1-shot, NSR": 0.20}
    # The base catches up at k = 16 on seed 0 only; averaged over seeds it does not.
    fake_beyond(root, 0, strict, {"base": (0.1, 0.4, 0.9), "1-shot, outcome": (0.3, 0.6, 0.8)})
    fake_beyond(root, 1, {**strict, "1-shot, random": 0.12},
                {"base": (0.1, 0.4, 0.6), "1-shot, outcome": (0.3, 0.7, 0.9)})
    result = reproduce.check_beyond(reproduce.complete_jobs("beyond.yaml", [0, 1], root), root)
    verdicts = {p.finding.split(" (")[0]: p for p in result.patterns}
    random, majority, em, nsr, w_reinforce, yue = result.patterns
    assert random.claims[0].per_seed == {0: True, 1: False} and random.verdict == HOLDS_MEAN  # 20 > 14; 12 < 14
    assert majority.verdict == HOLDS_ALL  # a gain of 16 against outcome's 20
    assert em.verdict == FAILS  # 10 < 14
    assert nsr.claims[0].per_seed == {0: False, 1: False}  # 6 < 10
    assert yue.claims[0].per_seed == {0: True, 1: False} and not yue.claims[0].on_mean
    assert "1-shot, outcome: 16, -" in yue.note
    table = result.table.set_index("condition")
    assert table.loc["1-shot, random", "theirs: MATH-500 gain, Qwen2.5-Math-7B"] == "21.4"
    assert table.loc["1-shot, majority", "gain over the base (points)"] == "16.0"
    assert len(verdicts) == 6
    assert w_reinforce.verdict == "not run" and em.recipe_verdict == "not run"  # no recipe ran


def test_each_follow_up_is_also_judged_at_its_papers_recipe_with_its_mechanisms_signal(tmp_path):
    root = fake_project(tmp_path)
    strict = {"1-shot, outcome": 0.34, "1-shot, random": 0.12, "recipe: random_clip": 0.20,
              "recipe: random_noclip": 0.18, "recipe: nsr_zhu": 0.30, "recipe: grpo_zhu": 0.44,
              "recipe: w-reinforce_zhu": 0.30}
    for seed, noclip in ((0, 0.18), (1, 0.21)):  # seed 1: the clip removed does better
        run = fake_scores(root, "beyond", seed, {**strict, "recipe: random_noclip": noclip})
        pd.DataFrame({"condition": ["recipe: random_clip", "1-shot, random", "recipe: nsr_zhu"],
                      "clipped": [0.02, float("nan"), 0.001], "all_wrong_groups": [float("nan"), float("nan"), 0.6],
                      "all_wrong_weight": [float("nan"), float("nan"), 0.7], "entropy_start": [0.3, 0.3, 0.3],
                      "entropy_end": [0.2, 0.4, 0.1]}).to_parquet(run / "signals.parquet")
    result = reproduce.check_beyond(reproduce.complete_jobs("beyond.yaml", [0, 1], root), root)
    random, majority, em, nsr, w_reinforce, yue = result.patterns
    # The lab's recipe: 12 < the base's 14. Shao et al.'s: above the base, above the clip removed on seed 0 only.
    assert random.verdict == FAILS and random.recipe_verdict == HOLDS_MEAN
    assert [c.per_seed for c in random.recipe_claims] == [{0: True, 1: True}, {0: True, 1: False}]
    assert nsr.recipe_verdict == HOLDS_ALL  # a gain of 16 against GRPO's 30 at the same recipe: at least half
    assert w_reinforce.recipe_verdict == FAILS  # a gain of 16 against GRPO's 30
    assert majority.recipe_verdict == "-"  # TTRL's recipe is the lab's: no second verdict
    signals = result.table.set_index("condition")
    assert signals.loc["recipe: random_clip", "clipped tokens, off-policy updates (%)"] == "2.00%"
    assert signals.loc["1-shot, random", "clipped tokens, off-policy updates (%)"] == "on-policy"
    assert signals.loc["recipe: nsr_zhu", "all-wrong groups; their advantage weight"] == "60%; 70%"
    assert signals.loc["recipe: nsr_zhu", "entropy, first → last steps"] == "0.30 → 0.10"
    assert signals.loc["recipe: grpo_zhu", "entropy, first → last steps"] == "-"  # no signals saved for it
    assert "code-like share of worked rollouts, first → last fifth (%)" not in signals  # a world of one mode


def test_in_a_world_of_two_reasoning_modes_each_follow_up_shows_how_its_code_like_share_moved(tmp_path):
    root = fake_project(tmp_path)
    prose, code = "9 * 10 = 90. The answer is \\boxed{90}.", "Code: 9 * 10 = 90. The answer is \\boxed{90}."
    for seed, late in ((0, [code, code]), (1, [code, prose])):
        job = fake_scores(root, "beyond", seed, {"1-shot, outcome": 0.34, "recipe: random_clip": 0.20})
        run = job / "recipe-random_clip"  # the condition's training run, as the notebook's settings name it
        run.mkdir()
        pd.DataFrame([{"step": step, "completion": text, "correct": True}
                      for step in range(1, 11) for text in ([prose, code] if step <= 5 else late)]
                     ).to_parquet(run / "samples.parquet")
        (job / "meta.json").write_text(json.dumps({"settings": {
            "recipe: random_clip": {"output_dir": str(run.relative_to(root))}}}))
    table = reproduce.check_beyond(reproduce.complete_jobs("beyond.yaml", [0, 1], root), root).table
    shares = table.set_index("condition")["code-like share of worked rollouts, first → last fifth (%)"]
    assert shares["recipe: random_clip"] == "50 → 75"  # half at first; all (seed 0) and half (seed 1) at the end
    assert shares["1-shot, outcome"] == "-"  # its run is not on disk here


def test_wrong_labels_are_checked_for_grpo_and_ppo_alike(tmp_path):
    root = fake_project(tmp_path)
    labels = {"right label (15)": 0.36, "close wrong label (16)": 0.35, "reachable wrong label (90)": 0.20,
              "unguessable label (929725)": 0.30}
    grpo = {"0% wrong labels": 0.45, "60% wrong labels": 0.40, "90% wrong labels": 0.20}
    for seed, ppo_60 in ((0, 0.38), (1, 0.44)):  # seed 1: PPO's 60% above its 0%
        ppo = {"PPO, 0% wrong labels": 0.42, "PPO, 60% wrong labels": ppo_60, "PPO, 90% wrong labels": 0.18}
        fake_scores(root, "labels", seed, {**labels, **grpo, **ppo})
    result = reproduce.check_labels(reproduce.complete_jobs("labels.yaml", [0, 1], root), root)
    label_rows, noise, ppo_noise = result.patterns
    assert label_rows.verdict == HOLDS_ALL and noise.verdict == HOLDS_ALL
    assert ppo_noise.claims[0].per_seed == {0: True, 1: False} and ppo_noise.verdict == HOLDS_MEAN
    published = result.table.set_index("condition")["paper MATH500"]
    assert published["60% wrong labels"] == 71.8 and published["PPO, 60% wrong labels"] == 71.6


def test_a_reachable_label_drawn_otherwise_on_each_seed_is_one_condition(tmp_path):
    root = fake_project(tmp_path)
    for seed, reachable in ((0, 90), (1, 45)):  # each seed's own samples gave another wrong answer
        fake_scores(root, "labels", seed, {
            "right label (15)": 0.36, "close wrong label (16)": 0.35, f"reachable wrong label ({reachable})": 0.20,
            "unguessable label (929725)": 0.30, "0% wrong labels": 0.45, "60% wrong labels": 0.40,
            "90% wrong labels": 0.20, "PPO, 0% wrong labels": 0.42, "PPO, 60% wrong labels": 0.38,
            "PPO, 90% wrong labels": 0.18})
    result = reproduce.check_labels(reproduce.complete_jobs("labels.yaml", [0, 1], root), root)
    label_rows, noise, _ = result.patterns
    assert label_rows.verdict == HOLDS_ALL and noise.verdict == HOLDS_ALL  # every seed judged on its own row
    row = result.table.set_index("condition").loc["reachable wrong label (by seed: 90, 45)"]
    assert row["seeds"] == 2 and row["paper MATH500"] == 57.0


def test_ppo_beside_grpo_is_checked_on_the_one_shot_example(tmp_path):
    root = fake_project(tmp_path)
    for seed, ppo in ((0, 0.34), (1, 0.20)):  # seed 1: 16 points under GRPO, beyond the seeds' spread
        fake_scores(root, "ppo", seed, {"1-shot, GRPO": 0.36, "1-shot, PPO": ppo, "full set, GRPO": 0.45,
                                        "full set, PPO": 0.40})
    (lift,) = reproduce.check_ppo(reproduce.complete_jobs("ppo.yaml", [0, 1], root), root).patterns
    assert lift.claims[0].per_seed == {0: True, 1: True}  # above the base (14%)
    assert lift.claims[1].per_seed == {0: True, 1: False}
    assert lift.note == "PPO minus GRPO, 1-shot, per seed (points): -2.0, -16.0; full set: -5.0, -5.0"


def fake_eval(strict_by_step: dict, n: int = 50) -> pd.DataFrame:
    """An evaluation table: n problems over the five toy domains, a share ``strict`` of them right per step."""
    domains = ["arithmetic", "counting", "geometry", "linear", "remainder"]
    return pd.concat([pd.DataFrame({"step": step, "subject": [domains[i % 5] for i in range(n)],
                                    "strict": [i < round(strict * n) for i in range(n)], "n_tokens": 30})
                      for step, strict in strict_by_step.items()], ignore_index=True)


def test_every_check_reads_its_experiments_jobs_and_gives_a_table_and_verdicts(tmp_path):
    root = fake_project(tmp_path)  # tab8: seeds 0 and 1
    seeds = [0, 1]
    for seed in seeds:
        fake_scores(root, "tab5", seed, {f"row {i}: terms": 0.34 if 2 <= i <= 7 else 0.14 for i in range(1, 11)})
        fake_scores(root, "labels", seed, {"right label": 0.36, "close wrong label (16)": 0.35,
                                           "reachable wrong label (18)": 0.20, "unguessable label (929725)": 0.30,
                                           "0% wrong labels": 0.45, "60% wrong labels": 0.40, "90% wrong labels": 0.20,
                                           "PPO, 0% wrong labels": 0.42, "PPO, 60% wrong labels": 0.38,
                                           "PPO, 90% wrong labels": 0.18})
        fake_scores(root, "tab14", seed, {f"1-shot, {reward}, {entropy} entropy": value for entropy in ("with", "no")
                                          for reward, value in (("outcome", 0.36), ("format", 0.25))})
        fake_beyond(root, seed, {"1-shot, outcome": 0.34, "1-shot, random": 0.20, "1-shot, majority": 0.30,
                                 "1-shot, entropy minimisation": 0.10, "1-shot, NSR": 0.20,
                                 "1-shot, W-REINFORCE (Zhu et al.)": 0.30},
                    {"base": (0.1, 0.4, 0.9), "1-shot, outcome": (0.3, 0.6, 0.8)})
        fake_scores(root, "ppo", seed, {"1-shot, GRPO": 0.36, "1-shot, PPO": 0.34})
    # Every other job where its sweep puts it (tab3's folders are named after their example lists).
    jobs = {f: [job for _, job in reproduce.sweep_jobs(f, None if f == "selection.yaml" else seeds, root)]
            for f in ("tab16.yaml", "tab3.yaml", "tab3-wrong-label.yaml", "postsat.yaml", "selection.yaml")}
    for job in jobs["tab16.yaml"]:
        job.out_dir.mkdir(parents=True)
        pd.DataFrame({"setting": ["base (no demos)", "example in-context (own solution)",
                                  "1-shot RLVR (best checkpoint)"], "step": [None, None, 50],
                      "strict": [0.14, 0.16, 0.34]}).to_csv(job.out_dir / SUMMARY, index=False)
    for i, job in enumerate(jobs["tab3.yaml"] + jobs["tab3-wrong-label.yaml"]):
        job.out_dir.mkdir(parents=True)
        fake_eval({0: 0.14, 50: 0.20 + 0.01 * i}).to_parquet(job.out_dir / "eval.parquet")
        job.out_dir.joinpath(SUMMARY).write_text("step,strict\n")
    for job in jobs["postsat.yaml"]:
        run = job.out_dir / "run"  # the notebook's training run; its pass@k samples in pass-at/
        (job.out_dir / "pass-at").mkdir(parents=True)
        run.mkdir()
        (run / RUN_CONFIG).write_text("{}")
        pd.DataFrame({"step": range(1, 201), "train_accuracy": [0.5] * 20 + [1.0] * 180, "boxed_rate": 1.0,
                      "completions_mean_length": 30.0}).to_parquet(run / "steps.parquet")
        pd.DataFrame({"step": range(0, 201, 20), "strict": [0.1, 0.2, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4],
                      "length": 30.0}).to_csv(job.out_dir / SUMMARY, index=False)
        pd.DataFrame({"step": range(0, 201, 20), "rethink": 0.0}).to_parquet(job.out_dir / "reflection.parquet")
        pd.DataFrame({"model": ["base", "best checkpoint"], "k": 8, "pass_at_k": [0.4, 0.5]}).to_parquet(
            job.out_dir / "pass_at.parquet")
        pd.DataFrame({"step": [1, 1, 2, 2, 100], "correct": [False, True, True, True, True],  # kept rollouts
                      "completion": ["Recheck: 8 - 3 = 4.", "7", "7", "7", "7"]}).to_parquet(run / "samples.parquet")
    for job in jobs["tab16.yaml"] + jobs["tab3.yaml"] + jobs["tab3-wrong-label.yaml"] + jobs["postsat.yaml"]:
        (job.out_dir / JOB_RECORD).write_text(json.dumps({"status": "ok"}))
    (selection,) = jobs["selection.yaml"]  # not complete: its history is enough
    (selection.out_dir / "selection-run").mkdir(parents=True)
    (selection.out_dir / "selection-run" / HISTORY).write_text(json.dumps({"toy-train-00050": [0, 0],
                                                                           "toy-train-00004": [0, 1]}))
    tables = {}
    for name, experiment in reproduce.EXPERIMENTS.items():
        if experiment.check is None:
            continue
        complete = [job for f in experiment.sweeps for job in reproduce.complete_jobs(f, seeds, root)]
        result = experiment.check(complete, root)
        tables[name] = result.table
        assert not result.table.empty and not result.points.empty, name
        assert all(p.verdict != NOT_RUN for p in result.patterns), name
        if name == "tab3":  # the selection's history, found through its registry row, names the never-solved one
            examples = set(result.table["example"])
            assert {"toy-train-00050 (never solved)", "toy-train-00037 (wrong label 84)"} <= examples
        if name == "postsat":  # read from its training run: the 5-step mean reaches 0.9 at step 24
            assert result.table["saturation step"].tolist() == [24, 24]
            # the one rollout that checked was wrong, the others right: checking did not pay there
            assert result.table["solved up to saturation, checking / not (%)"].tolist() == ["0 / 100"] * 2
            assert result.table["the example's rollouts that check, up to -> after saturation (%)"].tolist() == [
                "25.0 -> 0.0"] * 2

    # In a fresh clone, what results/ kept of each finished job gives every check the same table.
    selection.out_dir.joinpath(SUMMARY).write_text("example\n")
    (selection.out_dir / JOB_RECORD).write_text(json.dumps({"status": "ok"}))
    for summary in list((root / "outputs").glob(f"**/{SUMMARY}")):
        assert keep_job(summary.parent, root) is not None, summary
    shutil.rmtree(root / "outputs")
    restore_kept(root)
    for name, table in tables.items():
        experiment = reproduce.EXPERIMENTS[name]
        complete = [job for f in experiment.sweeps for job in reproduce.complete_jobs(f, seeds, root)]
        pd.testing.assert_frame_equal(experiment.check(complete, root).table, table, obj=name)


def fake_selection(root: Path, world: str, top: str) -> None:
    """A world's selection run, whose history ranks ``top`` first (its accuracy varies most)."""
    run = root / "outputs" / "map" / world / "selection" / "train.seed=0" / "selection-run"
    run.mkdir(parents=True)
    (run / "history_accuracy.json").write_text(json.dumps(
        {top: [0.0, 1.0, 0.0, 1.0], "toy-train-00004": [0.5, 0.5, 0.6, 0.5], "toy-train-00001": [0.0] * 4}))


def test_a_seed_reaches_its_example_only_where_every_policy_gradient_run_solved_it(tmp_path):
    from rlvr.reproduce.outputs import example_reach
    from rlvr.runner import Job

    def job(seed, runs):
        out = tmp_path / f"train.seed={seed}"
        for name, (config, history) in runs.items():
            (out / name).mkdir(parents=True)
            (out / name / "run_config.json").write_text(json.dumps({"config": {
                "reward": "outcome", "examples": ["toy-train-00080"], "label": None, "label_noise": 0.0, **config}}))
            (out / name / "history_accuracy.json").write_text(json.dumps({"toy-train-00080": history}))
        return Job(name=out.name, values={"train.seed": seed}, parameters={}, out_dir=out, notebook=tmp_path,
                   root=tmp_path)

    solved, never = [0.0, 0.25], [0.0, 0.0]
    jobs = [job(0, {"no-entropy": ({"entropy_coef": 0.0}, solved), "with-entropy": ({}, never)}),
            job(1, {"outcome": ({}, solved), "em": ({"pg_loss_coef": 0.0, "entropy_coef": -1.0}, never)}),
            job(2, {"em": ({"pg_loss_coef": 0.0, "entropy_coef": -1.0}, solved), "outcome": ({}, never)})]
    # Seed 0: one run reached it, the other never did; seed 1: entropy minimisation's run does not count,
    # neither for nor against; seed 2: its solving without a reward does not make the outcome run's reach.
    assert example_reach(jobs) == {0: False, 1: True, 2: False}
    # Tab. 3 trains on other examples by design (one never solved): the world's own example is what counts.
    jobs.append(job(3, {"pi1": ({}, solved), "another": ({"examples": ["toy-train-00001"]}, never)}))
    assert example_reach(jobs)[3] is False and example_reach(jobs, "toy-train-00080")[3] is True


def test_how_far_each_worlds_one_shot_example_is_from_its_base(tmp_path):
    from rlvr.reproduce.outputs import base_pass_rates

    root = fake_project(tmp_path)
    run = root / "outputs" / "reproduce" / "selection" / "train.seed=0" / "selection-run"
    run.mkdir(parents=True)  # toy-base's selection ranks its pi_1 first
    history = {"toy-train-00004": [0.0, 1.0], "toy-train-00001": [0.5, 0.5]}
    (run / "history_accuracy.json").write_text(json.dumps(history))
    # qwen-like's selection has not run: it has no example yet and is left out.
    table = base_pass_rates(["toy-base", "qwen-like"], root, tries=128)
    (row,) = table.to_dict("records")
    assert (row["world"], row["trains on"], row["whose"]) == ("toy-base", "toy-train-00004", "toy-base")
    assert 0 < row["right"] < 64 and row["%"] == round(100 * row["right"] / 128, 1)


def test_the_map_runs_each_experiment_from_a_worlds_base_and_tabulates_every_verdict(tmp_path, monkeypatch, capsys):
    from rlvr.cli import main
    from rlvr.reproduce.document import map_report
    from rlvr.toyworld.worlds import named

    root = fake_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("RLVR_WORLDS", str(root / "worlds"))
    # In a world, a job trains from that world's base on its own pi_1 (none until its selection has run),
    # in outputs/map/<world>/, and reads its own world's runs.
    with pytest.raises(FileNotFoundError, match="run it first: rlvr reproduce --world qwen-like --only selection"):
        reproduce.sweep_jobs("tab16.yaml", [0], root, "qwen-like")
    fake_selection(root, "qwen-like", "toy-train-00119")
    (_, tab16), = [(s, j) for s, j in reproduce.sweep_jobs("tab16.yaml", [0], root, "qwen-like")]
    assert tab16.parameters["train"]["model"] == "qwen-like" and tab16.parameters["example"] == "toy-train-00119"
    assert tab16.out_dir == root / "outputs/map/qwen-like/tab16/train.seed=0"
    assert tab16.parameters["rlvr_run"] == "outputs/map/qwen-like/tab8/train.seed={seed}/1shot-outcome"
    (_, postsat), = reproduce.sweep_jobs("postsat.yaml", [0], root, "qwen-like")
    assert postsat.parameters["eval"]["benchmarks"] == ["toy-test", "toy-test-long"]  # its difficulty gap
    # A world not built is refused, naming the command; the map names every world it lacks.
    assert main(["reproduce", "--world", "qwen-like", "--dry-run"]) == 2
    assert "build it with `rlvr world build qwen-like`" in capsys.readouterr().err
    assert main(["reproduce", "--map", "--dry-run"]) == 2
    assert "`rlvr world build qwen-like~verification`" in capsys.readouterr().err
    # qwen-like built (its record is what a build writes), with one seed's tab8 in which format-only loses.
    (root / "worlds" / "qwen-like").mkdir(parents=True)
    (root / "worlds" / "qwen-like" / "profile.json").write_text(json.dumps(
        {"corpus": {"seed": 3}, "world": {"generator": 3, **named("qwen-like").to_dict()}}))
    assert main(["reproduce", "--world", "qwen-like", "--only", "tab8", "--dry-run"]) == 0
    out = capsys.readouterr().out  # its selection first (here its history alone, so not complete), then tab8
    assert out.index("reproduce selection: 1 runs") < out.index("reproduce tab8: 3 runs, 0 complete, 3 to run")
    for seed in (0, 1):
        shutil.copytree(root / f"outputs/reproduce/tab8/train.seed={seed}",
                        root / f"outputs/map/qwen-like/tab8/train.seed={seed}")
    summary = root / "outputs/map/qwen-like/tab8/train.seed=1/summary.csv"
    # Format-only now below 1-shot on seed 1 too (its two checkpoints 38% and 37% before).
    summary.write_text(summary.read_text().replace("0.38", "0.30").replace("0.37", "0.29"))
    # Its 1-shot outcome runs: the example never solved in training on seed 0, solved at step 3 on seed 1.
    # (A format-reward run and a wrong-label run never "solve" it by design: they do not count; nor does
    # entropy minimisation's, which has no policy-gradient loss and here solves it on seed 0.)
    for seed, history in ((0, [0.0] * 4), (1, [0.0, 0.0, 0.25, 0.5])):
        job = root / f"outputs/map/qwen-like/tab8/train.seed={seed}"
        for run, config in (("1shot-outcome", {"reward": "outcome"}), ("1shot-format", {"reward": "format"}),
                            ("wrong-label", {"reward": "outcome", "label": "94"}),
                            ("1shot-em", {"reward": "outcome", "pg_loss_coef": 0.0, "entropy_coef": -1.0})):
            (job / run).mkdir(exist_ok=True)
            (job / run / "run_config.json").write_text(json.dumps(
                {"config": {"examples": ["toy-train-00119"], "label": None, "label_noise": 0.0, **config}}))
            solved = history if run == "1shot-outcome" else [0.0, 1.0, 1.0, 1.0] if run == "1shot-em" else [0.0] * 4
            (job / run / "history_accuracy.json").write_text(json.dumps({"toy-train-00119": solved}))
    doc = root / "docs" / "results-toy.md"
    doc.parent.mkdir()
    doc.write_text("# Results\n\nNotes written by hand.\n")
    map_report([0, 1], root, doc)
    text = doc.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| tab8 | base < format-only"))
    cells = [c.strip() for c in row.strip("|").split("|")][2:]
    # toy-base (its seed 1 breaks the pattern), qwen-like (both seeds hold); the other worlds that target
    # tab8 not run yet (·), the rest do not target it.
    # qwen-like's cell says its 1-shot outcome run missed the example on seed 0 (it holds there regardless).
    assert cells == ["on the mean (1/2)", "holds (2/2; example missed on seed 0)", "·", "·", "", "·", "·", "", "", "·",
                     "", "", ""]
    assert "Notes written by hand." in text and (root / "docs" / "figures" / "map.png").stat().st_size > 1000
    # Whether the 1-shot cells can speak for the switches: qwen-like's example was reached on one seed of two.
    reach = next(line for line in text.splitlines() if line.startswith("| reach |"))
    assert [c.strip() for c in reach.strip("|").split("|")][3] == "fails (1/2)"
    table = pd.read_csv(root / "docs" / "map" / "verdicts.csv", dtype=str)
    assert set(table.columns) == {"experiment", "pattern", "world", "verdict", "seeds held",
                                  "seeds whose 1-shot run missed the example"}
    assert table.loc[table.world.eq("qwen-like") & table.experiment.eq("tab8"),
                     "seeds whose 1-shot run missed the example"].eq("0").all()
    map_report([0, 1], root, doc)  # again: replaced, not repeated
    assert doc.read_text().count("## The map") == 1
    # Without the jobs (another machine ran them), the verdicts as last written stand.
    shutil.move(root / "outputs", root / "elsewhere")
    map_report([0, 1], root, doc)
    assert pd.read_csv(root / "docs" / "map" / "verdicts.csv", dtype=str).equals(table)
    shutil.move(root / "elsewhere", root / "outputs")
    # Where the map stands, world by world in the order they run, running nothing: toy-base's column
    # after the 3M worlds and before the 0.9M post-saturation controls.
    capsys.readouterr()
    assert main(["reproduce", "--map", "--status"]) == 0
    status = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    assert "qwen-like/tab8: 2 done, 1 not started" in status
    worlds = list(dict.fromkeys(line.split("/")[0] for line in status))
    assert worlds.index("toy-base-3M") < worlds.index("toy-base") < worlds.index("qwen-like~verification")
    assert worlds[-1] == "qwen-like~difficulty_gap"


def test_a_pattern_left_out_of_a_worlds_cut_reads_apart_from_one_still_to_run(tmp_path):
    from rlvr.reproduce.document import LEFT_OUT, MISSED, map_verdicts

    root = fake_project(tmp_path)
    # llama-like's follow-ups ran (on another machine) without pass@k: that row has no verdict, the others do.
    written = pd.DataFrame({"experiment": "beyond", "world": "llama-like", "seeds held": "0/3", MISSED: "",
                            "pattern": ["a random reward lifts the base", "at large k the base catches up"],
                            "verdict": [FAILS, NOT_RUN]})
    table = map_verdicts([0, 1, 2], root, written).set_index(["world", "pattern"])["verdict"]
    assert table["llama-like", "a random reward lifts the base"] == FAILS
    assert table["llama-like", "at large k the base catches up"] == LEFT_OUT
    # A world none of whose follow-ups ran has every cell still to run.
    assert table.loc["qwen-like"].eq(NOT_RUN).all()


def test_the_map_figure_writes_in_each_grey_cell_whether_it_is_still_to_run_or_left_out():
    from rlvr.reproduce.document import LEFT_OUT, figure_cells

    index = pd.MultiIndex.from_tuples([("beyond", "a random reward lifts the base"),
                                       ("beyond", "at large k the base catches up")])
    matrix = pd.DataFrame({"qwen-like": [HOLDS_ALL, NOT_RUN], "llama-like": [FAILS, LEFT_OUT], "~gap": ["", ""]},
                          index=index)
    held = pd.DataFrame({"qwen-like": ["3/3", None], "llama-like": ["0/3", "0/3"], "~gap": [None, None]}, index=index)
    missed = pd.DataFrame({"qwen-like": ["", ""], "llama-like": ["1", ""], "~gap": ["", ""]}, index=index)
    cells = figure_cells(matrix, held, missed)
    assert cells["qwen-like"].tolist() == ["3/3", "·"]
    assert cells["llama-like"].tolist() == ["0/3*", "out"]  # a left-out cell does not show the seeds of its experiment
    assert cells["~gap"].tolist() == ["", ""]  # a world that does not run the experiment


def fake_postsat_job(job, test_curve, long_curve):
    """A finished 200-step post-saturation job: the example saturates at step 21; test accuracy every 20 steps."""
    steps = range(0, 201, 20)
    run = job.out_dir / "run"
    run.mkdir(parents=True)
    (run / RUN_CONFIG).write_text("{}")
    pd.DataFrame({"step": range(1, 201), "train_accuracy": [0.5] * 20 + [1.0] * 180, "boxed_rate": 1.0,
                  "completions_mean_length": 30.0}).to_parquet(run / "steps.parquet")
    summary = pd.concat([pd.DataFrame({"step": steps, "benchmark": b, "strict": v, "length": 30.0})
                         for b, v in (("toy-test", test_curve), ("toy-test-long", long_curve))])
    summary.to_csv(job.out_dir / SUMMARY, index=False)
    pd.DataFrame({"step": steps, "rethink": 0.0}).to_parquet(job.out_dir / "reflection.parquet")
    # pass@k from both benchmarks: Tab. 20's pattern reads toy-test's alone (the longer ones go the other way).
    passes = pd.DataFrame({"model": ["base", "best checkpoint"] * 2, "k": 8, "pass_at_k": [0.4, 0.5, 0.3, 0.1],
                           "benchmark": ["toy-test"] * 2 + ["toy-test-long"] * 2})
    passes.to_parquet(job.out_dir / "pass_at.parquet")
    (job.out_dir / JOB_RECORD).write_text(json.dumps({"status": "ok"}))


def test_in_a_world_with_a_difficulty_gap_post_saturation_is_also_judged_on_the_longer_problems(tmp_path):
    from rlvr.reproduce.postsat import check_postsat

    root = fake_project(tmp_path)
    fake_selection(root, "gap", "toy-train-00119")
    jobs = [job for _, job in reproduce.sweep_jobs("postsat.yaml", [0, 1, 2], root, "gap")]
    assert all(job.parameters["eval"]["benchmarks"] == ["toy-test", "toy-test-long"] for job in jobs)
    (_, tab8), *_ = reproduce.sweep_jobs("tab8.yaml", [0], root, "gap")
    assert "benchmarks" not in tab8.parameters.get("eval", {})  # the gap targets post-saturation alone
    flat = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]  # flat after saturation
    rising = [0.0, 0.05, 0.1, 0.1, 0.12, 0.14, 0.16, 0.16, 0.17, 0.18, 0.18]
    for job in jobs:
        fake_postsat_job(job, flat, rising)
    result = check_postsat(jobs, root)
    rise, passk, long_rise = result.patterns
    assert rise.verdict == "fails (0 of 3 seeds)" and long_rise.verdict == "reproduced (3 of 3 seeds)"
    assert passk.verdict == "holds on all seeds" and "base k=8 40.0" in passk.note
    assert "toy-test-long" in long_rise.finding and set(result.points["curve"]) >= {"toy-test-long (strict)"}


def test_post_saturation_over_more_seeds_needs_two_thirds_of_them_not_two(tmp_path, monkeypatch):
    from rlvr.reproduce.postsat import check_postsat

    root = fake_project(tmp_path)
    fake_selection(root, "gap", "toy-train-00119")
    jobs = [job for _, job in reproduce.sweep_jobs("postsat.yaml", range(6), root, "gap")]
    flat = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    rising = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.32, 0.34, 0.36, 0.38, 0.4]  # +10 points after twice saturation
    for seed, job in enumerate(jobs):  # three of six seeds rise
        fake_postsat_job(job, rising if seed % 2 else flat, rising if seed < 4 else flat)
    rise, _, long_rise = check_postsat(jobs, root).patterns
    assert rise.verdict == "fails (3 of 6 seeds)"  # the rule's 2 of 3 is two thirds of the seeds
    assert long_rise.verdict == "reproduced (4 of 6 seeds)"
    # The report of more seeds, written again from the jobs on disk, keeps seeds 0-2 beside the ones named.
    monkeypatch.chdir(root)
    assert main(["reproduce", "--world", "gap", "--only", "postsat", "--seeds", "3,4,5", "--report-only"]) == 0
    assert "**fails (3 of 6 seeds)**" in (root / "docs" / "map" / "gap.md").read_text()


def test_outside_the_maps_full_column_the_follow_ups_run_only_what_the_predictions_target(tmp_path):
    from rlvr import ablations
    from rlvr.reproduce.outputs import TARGETED

    root = fake_project(tmp_path)
    for world in ("qwen-like", "llama-like"):
        fake_selection(root, world, "toy-train-00119")
    (_, whole), = reproduce.sweep_jobs("beyond.yaml", [0], root, "qwen-like")
    (_, cut), = reproduce.sweep_jobs("beyond.yaml", [0], root, "llama-like")
    assert "conditions" not in whole.parameters and "pass_at_samples" not in whole.parameters  # the notebook's all
    assert cut.parameters["pass_at_samples"] == 0 and "PSR" not in cut.parameters["conditions"]
    assert set(cut.parameters["conditions"]) <= set(ablations.BEYOND)  # names the notebook knows
    assert all((ROOT / recipe).is_file() for recipe in cut.parameters["recipes"])
    # every recipe a prediction reads: the clip and its control, Gao's EM, Zhu's NSR and its GRPO
    from rlvr.reproduce.follow_ups import EM, GRPO, NO_CLIP, NSR, RANDOM

    stems = {f"recipe: {Path(r).stem}" for r in TARGETED["beyond.yaml"]["recipes"]}
    assert stems == {RANDOM, NO_CLIP, EM, NSR, GRPO}


def test_the_maps_matrix_reads_a_patterns_own_rule_and_its_papers_recipe():
    from rlvr.reproduce.document import _mark
    from rlvr.reproduce.verdicts import Claim, Pattern

    # Post-saturation's own rule ("reproduced (2 of 3 seeds)") reads as holds or fails, not as a blank cell.
    assert _mark("reproduced (2 of 3 seeds)")[0] == "holds" and _mark("fails (0 of 3 seeds)")[0] == "fails"
    assert _mark("holds on the mean") == ("on the mean", 1) and _mark("")[0] == ""
    # A follow-up at its own paper's recipe gets a row of its own, with its own seed count.
    nsr = Pattern("NSR gains half", claims=[Claim("lab", {0: True, 1: False}, True)],
                  recipe_claims=[Claim("recipe", {0: True, 1: True}, True)])
    assert (nsr.seeds_held, nsr.recipe_seeds_held, nsr.recipe_verdict) == ("1/2", "2/2", "holds on all seeds")
    # In the figure, the two rows stay apart however short their labels are cut.
    from rlvr.reproduce.document import RECIPE, _figure_label

    finding = "training only on rollouts with a negative advantage (NSR) gains at least half as much as GRPO"
    lab, recipe = _figure_label("beyond", finding), _figure_label("beyond", finding + RECIPE)
    assert lab != recipe and recipe.endswith("(its paper's recipe)") and lab.startswith("beyond: training")
    assert max(len(lab), len(recipe)) <= 70


def test_a_control_trains_on_its_parent_worlds_pi1_so_it_differs_by_its_switch_alone(tmp_path):
    root = fake_project(tmp_path)
    with pytest.raises(FileNotFoundError, match="qwen-like's pi_1 .* --world qwen-like --only selection"):
        reproduce.sweep_jobs("tab16.yaml", [0], root, "qwen-like~format_prior")
    fake_selection(root, "qwen-like", "toy-train-00119")
    fake_selection(root, "qwen-like~format_prior", "toy-train-00004")  # its own ranking is not what it trains on
    fake_selection(root, "llama-like", "toy-train-00004")
    (_, control), = reproduce.sweep_jobs("tab16.yaml", [0], root, "qwen-like~format_prior")
    (_, other), = reproduce.sweep_jobs("tab16.yaml", [0], root, "llama-like")
    assert control.parameters["example"] == "toy-train-00119" and control.parameters["train"]["model"] == \
        "qwen-like~format_prior"
    assert other.parameters["example"] == "toy-train-00004"  # another model: its own pi_1, as the paper picks
    # ... so a control runs no selection of its own, where another model does.
    from rlvr.reproduce.registry import chosen_in

    assert "selection" not in chosen_in("qwen-like~format_prior") and "selection" in chosen_in("llama-like")
