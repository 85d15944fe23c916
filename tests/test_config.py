"""One configuration language: presets, params files, notebook and sweep overrides, clear errors."""

import dataclasses
import subprocess
import sys
import typing

import pytest
import yaml
from rlvr import lab
from rlvr.cli import _overrides
from rlvr.config import PRESETS, EvalConfig, TrainConfig, eval_preset, load_params, nest, preset, preset_configs
from rlvr.data import DATASETS
from rlvr.parameters import check_configs, layered
from rlvr.prompts import TEMPLATES
from rlvr.registry import BACKENDS, TRAINING_BACKENDS, implementations
from rlvr.rewards import REWARDS


def test_the_paper_preset_is_the_reference_codes_recipe():
    cfg = preset("paper")
    assert (cfg.model, cfg.dataset) == ("Qwen2.5-Math-1.5B", "dsr_sub")
    assert (cfg.learning_rate, cfg.weight_decay, cfg.beta, cfg.entropy_coef) == (1e-6, 0.01, 0.001, 0.001)
    assert (cfg.prompts_per_step, cfg.rollouts_per_prompt, cfg.temperature, cfg.top_p) == (128, 8, 0.6, 1.0)
    assert (cfg.max_completion_length, cfg.steps, cfg.save_every) == (3072, 2000, 20)
    assert cfg.max_grad_norm == 1.0 and cfg.pg_loss_coef == 1.0 and cfg.clip_epsilon == 0.2
    assert cfg.optimizer_steps_per_rollout == 1
    assert eval_preset("paper") == EvalConfig()  # the Qwen2.5-Math evaluation: six benchmarks, 3072 tokens


def test_the_cpu_preset_is_small():
    cfg = preset("cpu")
    assert cfg.model == "toy-base" and cfg.prompts_per_step * cfg.rollouts_per_prompt <= 32 and cfg.steps <= 200
    assert eval_preset("cpu").benchmarks == ["toy-test"] and eval_preset("cpu").max_new_tokens == 200
    assert set(PRESETS) == {"paper", "cpu"}


def test_a_params_file_names_a_preset_and_says_only_what_differs(tmp_path):
    path = tmp_path / "pi1.yaml"
    path.write_text("preset: cpu\nexamples: [toy-train-00007]\nentropy_coef: 0\nsteps: 50\n")
    cfg = load_params(path)
    assert cfg.examples == ["toy-train-00007"] and cfg.entropy_coef == 0.0 and cfg.steps == 50
    assert cfg.learning_rate == preset("cpu").learning_rate  # the rest is the preset's
    assert load_params(path, seed=3).seed == 3


def test_numbers_in_exponent_form_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-4 (no dot) as a string; it is still meant as a number.
    path = tmp_path / "lr.yaml"
    path.write_text("preset: cpu\nlearning_rate: 1e-4\n")
    assert load_params(path).learning_rate == 1e-4
    assert load_params(path, learning_rate="3e-5").learning_rate == 3e-5


@pytest.mark.parametrize(
    "text, message",
    [
        ("preset: cpu\nlearning_rat: 1e-5\n", "unknown TrainConfig key\\(s\\) 'learning_rat'; its fields: model"),
        ("preset: cpu\nsteps: many\n", "steps: 'many' is not a valid int"),
        ("preset: cpu\nbeta: lots\n", "beta: 'lots' is not a valid float"),
        ("preset: cpu\nreward: length\n", "reward: 'length' is not one of outcome, format"),
        ("preset: cpu\nrollouts_per_prompt: 1\n", "at least 2 rollouts"),
        ("preset: cpu\nlabel_noise: 1.5\n", "label_noise"),
        ("preset: cpu\nproblem: What is 2+2?\n", "give both"),
        ("preset: gpu\n", "unknown preset 'gpu'; choose one of paper, cpu"),
        ("- a list\n", "mapping"),
        ("steps: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_params_file_fails_before_anything_runs_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_params(path)


def test_a_missing_params_file_is_reported():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_params("params/nope.yaml")


def test_configs_are_checked_on_construction_so_every_replace_is_checked_too():
    cfg = preset("cpu")
    with pytest.raises(ValueError, match="steps: must be at least 1"):
        dataclasses.replace(cfg, steps=0)
    with pytest.raises(ValueError, match="temperature: 'hot' is not a valid float"):
        dataclasses.replace(cfg, temperature="hot")
    assert dataclasses.replace(cfg, learning_rate="1e-4").learning_rate == 1e-4  # coerced, as from YAML
    assert dataclasses.replace(cfg, examples="a, b").examples == ["a", "b"]  # a comma list, as from a widget
    with pytest.raises(ValueError, match="benchmarks: 'math5000' is not one of"):
        EvalConfig(benchmarks=["math500", "math5000"])
    with pytest.raises(ValueError, match="limit: must be at least 1"):
        eval_preset("cpu", limit=0)


def test_configs_round_trip_through_dicts():
    cfg = preset("cpu", examples=["a", "b"], trl={"top_entropy_quantile": 0.2})
    assert TrainConfig(**cfg.to_dict()) == cfg
    demo = eval_preset("cpu", demos=[("q", "a")])
    assert EvalConfig(**yaml.safe_load(yaml.safe_dump(demo.to_dict()))) == demo  # pairs come back as pairs


def test_allowed_values_come_from_the_registries():
    assert TrainConfig.choices("reward") == list(REWARDS)
    assert TrainConfig.choices("backend") == list(TRAINING_BACKENDS)
    assert TrainConfig.choices("dataset") == EvalConfig.choices("benchmarks") == list(DATASETS)
    assert EvalConfig.choices("backend") == list(BACKENDS) and EvalConfig.choices("template") == list(TEMPLATES)
    assert TrainConfig.choices("learning_rate") is None
    assert all(TrainConfig.help()[name] for name in TrainConfig.field_names())  # every field documented
    assert all(EvalConfig.help()[name] for name in EvalConfig.field_names())



def test_an_implementation_table_must_name_exactly_its_registrys_values():
    registry = {"a": "the first", "b": "the second"}
    assert list(implementations(registry, {"b": 2, "a": 1}, "tests")) == ["a", "b"]  # the registry's order
    with pytest.raises(ValueError, match="the tests disagree with their registry: no implementation of b; c not in"):
        implementations(registry, {"a": 1, "c": 3}, "tests")


def test_importing_the_configs_stays_light():
    # A fresh interpreter: the configs load none of the heavy libraries (nor the trainer) until a run needs them.
    probe = ("import sys, rlvr.config\n"
             "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets', 'rlvr.train', 'rlvr.trainer') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["[]"], done.stderr[-2000:]

def test_the_widgets_offer_the_registrys_values():
    panel = lab.settings_panel(preset("cpu"), names=("reward", "backend", "learning_rate", "fast_generation"))
    assert list(panel.widgets["reward"].options) == list(REWARDS)
    panel.widgets["fast_generation"].value = False
    assert panel.config().fast_generation is False
    assert list(panel.widgets["backend"].options) == list(TRAINING_BACKENDS)
    assert panel.widgets["learning_rate"].tooltip == TrainConfig.help()["learning_rate"]


# ----------------------------------------------------------------------------- every field, every way in

# Values for the fields a generic value cannot exercise alone (they need a partner field).
PARTNERS = {
    "example_rank": {"example_rank": 2, "history_file": "h.json"},
    "history_file": {"example_rank": 2, "history_file": "h.json"},
    "problem": {"problem": "What is 6 * 7?", "answer": "42"},
    "answer": {"problem": "What is 6 * 7?", "answer": "42"},
    "lora_rank": {"backend": "unsloth", "lora_rank": 8},
    "kl_penalty": {"algorithm": "ppo", "kl_penalty": "reward"},  # the KL in the rewards: PPO only
    "optimizer_steps_per_rollout": {"optimizer_steps_per_rollout": 2},
    "trl": {"trl": {"top_entropy_quantile": 0.2}},
    "demos": {"demos": [["What is 1 + 1?", "\\boxed{2}"]]},
    "positive_weight": {"advantage": "w-reinforce", "positive_weight": 0.25},  # W-REINFORCE's weight only
}


def sample_values(cls, base):
    """For each field of ``cls``, overrides that set it to a value other than ``base``'s."""
    hints = typing.get_type_hints(cls)
    for name in cls.field_names():
        if name in PARTNERS:
            yield name, PARTNERS[name]
            continue
        current, hint, choices = getattr(base, name), hints[name], cls.choices(name)
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        kind = typing.get_origin(args[0]) or args[0]
        if choices:
            other = next(c for c in choices if c != current and c != "unsloth")  # unsloth needs lora_rank
            value = [other] if kind is list else other
        elif kind is list:
            value = ["x1", "x2"]
        elif kind is bool:
            value = not current
        elif kind is int:
            value = (current or 1) + 2
        elif kind is float:
            value = 0.25 if current != 0.25 else 0.5
        else:
            value = f"{current}-other"
        yield name, {name: value}


@pytest.mark.parametrize("cls, key", [(TrainConfig, "train"), (EvalConfig, "eval")])
def test_every_field_is_reachable_from_a_notebook_a_params_file_a_sweep_and_set(tmp_path, cls, key):
    base = preset_configs("cpu")[0 if cls is TrainConfig else 1]
    for name, values in sample_values(cls, base):
        want = cls(**{**dataclasses.asdict(base), **values})
        # A notebook's `train` / `eval` parameter.
        got = preset_configs("cpu", **{key: values})[0 if cls is TrainConfig else 1]
        assert getattr(got, name) == getattr(want, name), name
        # A sweep's dotted keys and `--set`, merged into the notebook's default dict, then checked.
        dotted = {f"{key}.{k}": v for k, v in values.items()}
        set_pairs = [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip()}" for k, v in dotted.items()]
        for layer in (dotted, _overrides(set_pairs)):
            declared = {"preset": {"default": '"cpu"'}, key: {"default": "{}"}, "out_dir": {"default": '"x"'}}
            parameters = layered(declared, [layer])
            check_configs(declared, parameters, "sweep")
            got = preset_configs("cpu", **{key: parameters[key]})[0 if cls is TrainConfig else 1]
            assert getattr(got, name) == getattr(want, name), name
        # A training params file.
        if cls is TrainConfig:
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump({"preset": "cpu", **values}))
            assert getattr(load_params(path), name) == getattr(want, name), name


def test_dotted_keys_nest_and_merge():
    assert nest({"train.learning_rate": 1e-4, "train.trl.loss_type": "grpo", "rows": [4]}) == {
        "train": {"learning_rate": 1e-4, "trl": {"loss_type": "grpo"}}, "rows": [4]}
    declared = {"train": {"default": '{"steps": 50}'}, "out_dir": {"default": '"x"'}}
    # A params file's `train` and a sweep's train.<field> both merge into the notebook's default dict.
    assert layered(declared, [{"train": {"seed": 1}}, {"train.learning_rate": 1e-4}]) == {
        "train": {"steps": 50, "seed": 1, "learning_rate": 1e-4}}


def test_a_notebook_may_not_set_through_train_what_its_experiment_sets(monkeypatch):
    monkeypatch.setattr(lab, "SMOKE", False)
    cfg, _ = lab.configs("cpu", {"seed": 3}, sets=("beta",), examples=["toy-train-00004"])
    assert (cfg.seed, cfg.examples) == (3, ["toy-train-00004"])
    with pytest.raises(ValueError, match="train: beta set by this notebook itself"):
        lab.configs("cpu", {"beta": 0.1}, sets=("beta",))
    with pytest.raises(ValueError, match="train: examples set by this notebook itself"):
        lab.configs("cpu", {"examples": ["x"]}, examples=["toy-train-00004"])
    with pytest.raises(ValueError, match="output_dir"):
        lab.configs("cpu", {"output_dir": "elsewhere"})
