"""The embedded default: the shipped toy base model loads offline and behaves as recorded."""

import json

import pytest
from rlvr.data import load_dataset
from rlvr.models import MODELS, load_model_and_tokenizer, load_tokenizer
from rlvr.prompts import training_messages
from rlvr.toyworld.build import CHECK_TOLERANCE, CHECKPOINT, check
from rlvr.toyworld.profile import answer_table, profile_summary

RECORD = json.loads((CHECKPOINT / "profile.json").read_text())


@pytest.fixture(scope="module")
def toy(monkeypatch_module):
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from the hub
    return load_model_and_tokenizer("toy-base")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_toy_base_is_registered_like_any_model(toy):
    model, tokenizer = toy
    assert MODELS["toy-base"].dtype == "float32"
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 2e6


def test_the_chat_template_renders_the_training_prompt(toy):
    _, tokenizer = toy
    text = tokenizer.apply_chat_template(
        training_messages("What is 2 + 3?"), tokenize=False, add_generation_prompt=True
    )
    assert (
        text
        == "Question: What is 2 + 3? Let's think step by step and output the final answer within \\boxed{}.\nAnswer:"
    )


def test_digits_are_single_tokens_and_text_round_trips(toy):
    _, tokenizer = toy
    text = "Compute 31 + 7 * 8 - 28. The answer is \\boxed{59}."
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    assert "3" in tokens and "1" in tokens and "31" not in tokens
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_a_saved_toy_tokenizer_reloads_as_itself(toy, tmp_path):
    _, tokenizer = toy
    tokenizer.save_pretrained(tmp_path)  # what a training checkpoint does
    reloaded = load_tokenizer(str(tmp_path))
    text = "Solve for n: 2n + 11 = 17. The answer is \\boxed{3}."
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert reloaded.chat_template == tokenizer.chat_template


def test_toy_splits_are_registered_datasets():
    test = load_dataset("toy-test")
    assert len(test) == 500 and set(test.column_names) >= {"id", "problem", "answer", "domain"}
    assert load_dataset("toy-train", limit=10)["id"][0] == "toy-train-00000"
    with pytest.raises(ValueError, match="registered"):
        load_dataset("toy-nope")


def test_the_base_model_reproduces_its_recorded_profile(toy):
    model, tokenizer = toy
    problems = [dict(row) for row in load_dataset("toy-test")]
    profile = profile_summary(answer_table(model, tokenizer, problems))
    print({k: profile[k] for k in ("strict", "eval", "boxed", "run_on")})
    assert check({"profile_on_toy_test": profile}, RECORD) == []
    # The shipped weights themselves: running on too (a rebuild's is only reported, see the slow test).
    assert abs(profile["run_on"] - RECORD["profile_on_toy_test"]["run_on"]) <= CHECK_TOLERANCE


def test_the_recorded_profile_meets_the_targets():
    p = RECORD["profile_on_toy_test"]
    assert 0.10 <= p["strict"] <= 0.25  # strict accuracy (last box right)
    assert p["boxed"] < 0.60
    assert p["run_on"] >= 0.20
    strict = {d: row["strict"] for d, row in p["per_domain"].items()}
    assert sum(v <= 0.03 for v in strict.values()) >= 2, strict  # near zero somewhere
    assert max(strict.values()) >= 0.30, strict  # and decent somewhere else


@pytest.mark.slow
def test_a_rebuild_matches_the_shipped_profile(tmp_path):
    # About 11 minutes on one thread: `make test-all` runs it, CI does not. Strict and boxed within the
    # tolerance; running on is a near-tie a rebuild does not reproduce (docs/worlds.md), so not compared.
    from rlvr.toyworld.build import build

    assert check(build(tmp_path, progress=False), RECORD) == []
