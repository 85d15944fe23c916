"""Runs compared by condition, the paper's ablation grids as configs, and the guard
against reusing a run folder that holds other settings."""

import json
from dataclasses import replace

import pandas as pd
import pytest
from rlvr import ablations, paper, probes
from rlvr.config import EvalConfig, preset
from rlvr.rundir import check_same_settings, is_complete
from rlvr.runs import compare

PI1 = "toy-train-00004"


def test_tab5_rows_switch_the_loss_terms_the_paper_names(tmp_path):
    base = preset("cpu", examples=[PI1])
    rows = ablations.tab5(base, tmp_path, entropy_coef=0.002)
    assert len(rows) == 10 and len({cfg.output_dir for cfg in rows.values()}) == 10
    by_row = {int(name.split(":")[0].split()[1]): cfg for name, cfg in rows.items()}
    nothing, default, entropy_only = by_row[1], by_row[5], by_row[10]
    assert (nothing.pg_loss_coef, nothing.weight_decay, nothing.beta, nothing.entropy_coef) == (0.0, 0.0, 0.0, 0.0)
    assert (default.pg_loss_coef, default.weight_decay, default.beta, default.entropy_coef) == (
        1.0,
        0.01,
        0.001,
        0.002,
    )
    assert (entropy_only.pg_loss_coef, entropy_only.entropy_coef) == (0.0, 0.002)
    # Row 6 is the paper's three-times bonus (printed "-0.003" in its sign, where the default is -0.001).
    assert by_row[6].entropy_coef == 0.006
    assert ablations.tab5(base, tmp_path, rows=[6])["row 6: PG + WD + KL + Ent 0.003"].entropy_coef == 0.003
    # Every row's switches are the paper's table's, not a copy of it.
    for row, printed in paper.table("tab5").query("row <= 10").set_index("row").iterrows():
        assert (by_row[row].pg_loss_coef > 0, by_row[row].weight_decay > 0, by_row[row].beta > 0) == (
            printed["pg_loss"],
            printed["weight_decay"],
            printed["kl"],
        )
    with pytest.raises(ValueError, match="rows 1-10"):
        ablations.tab5(base, tmp_path, rows=[12])
    # Row 13 is row 5's terms with a label no rollout says: only the reward-free terms can train.
    (name, unguessable), = ablations.tab5(base, tmp_path, rows=[13]).items()
    assert name == "row 13: PG + WD + KL + Ent 0.001, label 929725"
    assert (unguessable.label, unguessable.pg_loss_coef, unguessable.beta) == ("929725", 1.0, 0.001)


def test_the_reachable_wrong_label_is_one_the_base_model_boxes():
    # pi_1 (9 boxes of 10 stamps shared among 6 children: 15): toy-base often boxes a wrong answer.
    label = probes.reachable_wrong_label(preset("cpu", examples=[PI1]), exclude=("16",), tries=32)
    assert label not in ("15", "16") and label.strip()


def test_how_often_the_base_model_solves_the_one_shot_example():
    # toy-base's pi_1 is within its base's reach (about 7%, as the paper's base says pi_1's label 6.3%
    # of the time); a label no rollout says is not.
    cfg = preset("cpu", examples=[PI1])
    right, tries = probes.pass_rate(cfg, tries=256)
    assert tries == 256 and 3 <= right <= 50
    first, _ = probes.pass_rate(cfg, tries=128)  # the same first batch: more tries only add samples
    assert first <= right and probes.pass_rate(cfg, tries=128) == (first, 128)
    assert probes.pass_rate(replace(cfg, label="929725"), tries=128) == (0, 128)


def test_label_and_noise_grids(tmp_path):
    base = preset("cpu", examples=[PI1])
    labels = ablations.label_rows(base, tmp_path, correct="15", close="16", reachable="90")
    assert [cfg.label for cfg in labels.values()] == ["15", "16", "90", "929725"]
    with pytest.raises(ValueError, match="must differ"):
        ablations.label_rows(base, tmp_path, correct="15", close="16", reachable="16")
    noise = ablations.label_noise(preset("cpu"), tmp_path, levels=(0.0, 0.6), algorithms=("grpo", "ppo"))
    assert list(noise) == ["0% wrong labels", "60% wrong labels", "PPO, 0% wrong labels", "PPO, 60% wrong labels"]
    assert [(cfg.algorithm, cfg.label_noise) for cfg in noise.values()] == [
        ("grpo", 0.0), ("grpo", 0.6), ("ppo", 0.0), ("ppo", 0.6)]
    assert [ablations.noise_level(name) for name in noise] == [("grpo", 0), ("grpo", 60), ("ppo", 0), ("ppo", 60)]
    assert ablations.noise_level("right label (15)") is None
    assert noise["PPO, 60% wrong labels"].output_dir.endswith("noise-60-ppo")
    assert all(c.examples is None for c in noise.values())
    grid = ablations.tab14(base, tmp_path, full_set=preset("cpu"))
    assert sorted((c.reward, c.entropy_coef > 0) for c in grid.values())[:4] == [
        ("format", False),
        ("format", True),
        ("format", True),
        ("outcome", False),
    ]
    assert grid["full set, format, with entropy"].examples is None


def test_a_folder_holding_a_run_with_other_settings_is_refused(tmp_path):
    cfg = preset("cpu", examples=[PI1], output_dir=str(tmp_path / "run"))
    check_same_settings(cfg)  # an empty folder: fine
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run_config.json").write_text(json.dumps({"config": cfg.to_dict()}))
    check_same_settings(replace(cfg, threads=2, report_to=["tensorboard"]))  # how it runs, not what: fine
    with pytest.raises(ValueError, match="learning_rate: 5e-05 there, 0.0001 now"):
        check_same_settings(replace(cfg, learning_rate=1e-4))


def test_compare_trains_each_condition_and_evaluates_the_base_once(tmp_path):
    base = preset("cpu", examples=[PI1], steps=2, save_every=2)
    conditions = {
        "outcome": replace(base, output_dir=str(tmp_path / "outcome")),
        "format": replace(base, reward="format", output_dir=str(tmp_path / "format")),
    }
    small = EvalConfig(benchmarks=["toy-test"], limit=4, max_new_tokens=24)
    scores, table = compare(conditions, small, base_model="toy-base")
    assert sorted(map(tuple, scores[["condition", "step"]].values.tolist())) == [
        ("format", 0),
        ("format", 2),
        ("outcome", 0),
        ("outcome", 2),
    ]
    assert set(scores["n"]) == {4}
    assert (tmp_path / "base-eval" / "eval" / "step-0" / "samples.parquet").is_file()
    assert not (tmp_path / "outcome" / "eval" / "step-0").exists()  # shared, not redone per condition
    # Both conditions' step 0 is the same base evaluation.
    step0 = table[table["step"] == 0].groupby("condition")["response"].apply(list)
    assert step0["outcome"] == step0["format"]


def test_the_headline_conditions_are_one_table_for_the_quickstart_and_the_reproduce(tmp_path):
    conditions = ablations.headline_conditions(preset("cpu", seed=2), tmp_path, example=PI1)
    assert list(conditions) == list(ablations.HEADLINE)
    full, one, fmt = conditions.values()  # the paper's order, the full set first
    assert (one.examples, one.reward, fmt.examples, fmt.reward) == ([PI1], "outcome", [PI1], "format")
    assert full.examples is None and full.reward == "outcome" and {c.seed for c in conditions.values()} == {2}


def test_conditions_trained_side_by_side_give_what_one_after_another_gives(tmp_path):
    small = EvalConfig(benchmarks=["toy-test"], limit=4, max_new_tokens=24)
    results = {}
    for parallel in (1, 2):
        base = preset("cpu", examples=[PI1], steps=2, save_every=2)
        conditions = {
            "outcome": replace(base, output_dir=str(tmp_path / str(parallel) / "outcome")),
            "format": replace(base, reward="format", output_dir=str(tmp_path / str(parallel) / "format")),
        }
        _, table = compare(conditions, small, base_model="toy-base", parallel=parallel)
        rollouts = {name: pd.read_parquet(tmp_path / str(parallel) / name / "rollouts.parquet") for name in conditions}
        results[parallel] = (table.drop(columns="model"), rollouts)
    pd.testing.assert_frame_equal(results[1][0], results[2][0])
    for name in ("outcome", "format"):
        pd.testing.assert_frame_equal(results[1][1][name], results[2][1][name])


def test_a_run_trained_in_a_process_of_its_own_refreshes_the_notebooks_watchers(tmp_path):
    # On a GPU, train_run trains in a child process (the kernel must hold no GPU memory after it).
    from rlvr.runs import _launch

    class Watcher:
        refreshed = 0

        def refresh(self):
            self.refreshed += 1

    watcher = Watcher()
    cfg = preset("cpu", examples=["toy-train-00007"], steps=2, save_every=2, output_dir=str(tmp_path / "run"))
    _launch(cfg, 1, False, [watcher])
    assert is_complete(cfg.output_dir, 2) and watcher.refreshed >= 1
    assert (tmp_path / "run" / "launch.yaml").is_file()  # exactly this config, for the child
