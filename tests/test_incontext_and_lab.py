"""Demos for the in-context baseline, and the notebook helpers."""

import json

import pandas as pd
import pytest
from rlvr import incontext, lab
from rlvr.config import preset
from rlvr.prompts import few_shot_input


def test_toy_demos_are_worked_boxed_examples_one_per_domain():
    demos = incontext.toy_demos(4, exclude=("toy-train-00000",))
    assert len(demos) == 4 and all(answer.endswith("}.") and "\\boxed{" in answer for _, answer in demos)
    assert "Solve for y: 2y + 15 = 49." not in [q for q, _ in demos]  # toy-train-00000 excluded
    prompt = few_shot_input("What is 2 + 2?", demos)
    assert prompt.index(demos[0][0]) < prompt.index("What is 2 + 2?")


def test_the_reference_demos_file_is_read(shared_data):
    path = shared_data / "incontext" / "qwen_incontext_examples.json"
    official = incontext.load_demos(path, "math", n=4)
    assert len(official) == 4 and official[0][0].startswith("Kevin Kangaroo")
    (own,) = incontext.load_demos(path, "math500_pi1_incontext", n=1)
    assert "12.8" in own[1]
    with pytest.raises(KeyError, match="math"):
        incontext.load_demos(path, "nope")


def test_the_models_own_solution_earns_the_reward():
    question, solution = incontext.self_demo("toy-base", "Solve for y: 9y + 8 = 71.", "7", tries=16, max_new_tokens=48)
    assert question == "Solve for y: 9y + 8 = 71." and "\\boxed{7}" in solution


def test_a_rarely_solved_example_is_sampled_batch_after_batch_until_one_earns_the_reward():
    rare = dict(problem="What is the remainder when 1234 is divided by 7?", answer="2", batch=1,
                max_new_tokens=48, seed=1)
    with pytest.raises(RuntimeError, match="none of 1 samples solved the problem"):
        incontext.self_demo("toy-base", **rare, tries=1)
    _, solution = incontext.self_demo("toy-base", **rare, tries=8)
    assert "\\boxed{2}" in solution


def test_lab_save_writes_the_summary_last_with_settings_and_versions(tmp_path):
    lab.save(tmp_path / "nb", summary=pd.DataFrame({"x": [1]}), tables={"t": pd.DataFrame({"y": [2]})},
             settings={"steps": 4})
    meta = json.loads((tmp_path / "nb" / "meta.json").read_text())
    assert meta["settings"] == {"steps": 4} and "torch" in meta["environment"]["versions"]
    assert pd.read_parquet(tmp_path / "nb" / "t.parquet")["y"].tolist() == [2]
    assert (tmp_path / "nb" / "summary.csv").is_file()


def test_settings_panel_returns_the_config_the_widgets_hold():
    cfg = preset("cpu", examples=["toy-train-00004"])
    panel = lab.settings_panel(cfg, names=("examples", "learning_rate", "steps"))
    assert panel.config() == cfg  # untouched (as under papermill): the parameters as given
    panel.widgets["learning_rate"].value = 1e-4
    panel.widgets["steps"].value = 30
    assert (panel.config().learning_rate, panel.config().steps) == (1e-4, 30)
    panel.widgets["examples"].value = "toy-train-00004, toy-train-00007"  # few-shot
    assert panel.config().examples == ["toy-train-00004", "toy-train-00007"]
    panel.widgets["steps"].value = 0
    with pytest.raises(ValueError, match="steps"):
        panel.config()


def test_params_files_become_a_notebooks_conditions_at_their_papers_recipes(tmp_path):
    # 08_beyond_the_paper runs each follow-up at its paper's recipe beside its own conditions.
    one_shot = preset("cpu", examples=["toy-train-00004"])
    runs = lab.recipes(["params/toy/nsr_zhu.yaml", "params/toy/random_clip.yaml"], tmp_path, {"seed": 2},
                       like=one_shot)
    nsr, random = runs["recipe: nsr_zhu"], runs["recipe: random_clip"]
    assert (nsr.advantage, nsr.optimizer_steps_per_rollout, nsr.examples, nsr.seed) == ("nsr", 4, None, 2)
    assert (random.reward, random.examples, random.seed) == ("random", ["toy-train-00004"], 2)
    assert nsr.output_dir == str(tmp_path / "recipe-nsr_zhu")
    # A notebook on another 1-shot example (a world's own pi_1) runs the 1-shot recipes on it too.
    other = lab.recipes(["params/toy/random_clip.yaml", "params/toy/nsr_zhu.yaml"], tmp_path,
                        like=preset("cpu", examples=["toy-train-00080"]))
    assert other["recipe: random_clip"].examples == ["toy-train-00080"] and other["recipe: nsr_zhu"].examples is None
    # A toy recipe beside a notebook training another model belongs to another preset.
    with pytest.raises(ValueError, match="trains toy-base, this notebook Qwen"):
        lab.recipes(["params/toy/nsr_zhu.yaml"], tmp_path, like=preset("paper"))
    with pytest.raises(FileNotFoundError, match="no_such.yaml"):
        lab.recipes(["params/toy/no_such.yaml"], tmp_path)
