"""Typed training configs: presets, params files, and clear errors for bad ones."""

import pytest

from rlvr.config import PRESETS, TrainConfig, load, preset


def test_the_paper_preset_is_the_reference_codes_recipe():
    cfg = preset("paper")
    assert (cfg.learning_rate, cfg.weight_decay, cfg.beta, cfg.entropy_coef, cfg.clip_epsilon) == (1e-6, 0.01, 0.001, 0.001, 0.2)
    assert (cfg.prompts_per_step, cfg.rollouts_per_prompt, cfg.temperature, cfg.top_p) == (128, 8, 0.6, 1.0)
    assert (cfg.max_completion_length, cfg.steps, cfg.save_every, cfg.optimizer_steps_per_rollout) == (3072, 2000, 20, 1)
    assert cfg.max_grad_norm == 1.0 and cfg.pg_loss_coef == 1.0


def test_the_cpu_preset_is_small():
    cfg = preset("cpu")
    assert cfg.model == "toy-base" and cfg.prompts_per_step * cfg.rollouts_per_prompt <= 32 and cfg.steps <= 200
    assert set(PRESETS) == {"paper", "cpu"}


def test_a_params_file_names_a_preset_and_overrides_it(tmp_path):
    path = tmp_path / "pi1.yaml"
    path.write_text("preset: cpu\nexamples: [toy-train-00007]\nentropy_coef: 0\nsteps: 50\n")
    cfg = load(path)
    assert cfg.examples == ["toy-train-00007"] and cfg.entropy_coef == 0.0 and cfg.steps == 50
    assert load(path, seed=3).seed == 3


def test_numbers_in_exponent_form_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-4 (no dot) as a string; it is still meant as a number.
    path = tmp_path / "lr.yaml"
    path.write_text("preset: cpu\nlearning_rate: 1e-4\n")
    assert load(path).learning_rate == 1e-4
    assert load(path, learning_rate="3e-5").learning_rate == 3e-5


@pytest.mark.parametrize(
    "text, message",
    [
        ("preset: cpu\nlearning_rat: 1e-5\n", "unknown config keys \\['learning_rat'\\]"),
        ("preset: cpu\nsteps: many\n", "steps: 'many' is not a valid int"),
        ("preset: cpu\nbeta: lots\n", "beta: 'lots' is not a valid float"),
        ("preset: cpu\nreward: length\n", "reward: 'length'"),
        ("preset: cpu\nrollouts_per_prompt: 1\n", "at least 2 rollouts"),
        ("preset: cpu\nlabel_noise: 1.5\n", "label_noise"),
        ("preset: cpu\nproblem: What is 2+2?\n", "give both"),
        ("preset: gpu\n", "unknown preset 'gpu'"),
        ("- a list\n", "mapping"),
        ("steps: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_params_file_fails_before_anything_runs_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load(path)


def test_a_missing_params_file_is_reported():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load("params/nope.yaml")


def test_configs_round_trip_through_dicts():
    cfg = preset("cpu", examples=["a", "b"])
    assert TrainConfig(**cfg.to_dict()) == cfg
