"""Generation backends behind one interface.

``vllm``: the GPU fast path (batched, paged attention), imported only when
chosen. ``transformers``: batched ``generate`` on CPU, and the GPU fallback.
``get_backend("auto", ...)`` picks vLLM when a GPU and vLLM are present.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .generation import Generation, cpu_threads, generate
from .memory import check_cuda_driver
from .models import load_model, load_tokenizer, model_config
from .prompts import QWEN_STOP_STRINGS, QWEN_STOP_TOKEN_IDS, eval_prompt
from .registry import BACKENDS


class Backend:
    """Turns rendered prompts into generations; subclasses own a model."""

    name = "base"
    tokenizer = None
    path = ""

    def prompt(self, problem: str, template: str, demos: Sequence[tuple[str, str]] = ()) -> str:
        return eval_prompt(problem, template, self.tokenizer, demos)

    def stop_token_ids(self) -> tuple[int, ...]:
        return qwen_stop_token_ids(self.path)

    def generate(self, prompts, *, temperature, top_p, max_new_tokens, seed, desc=None) -> list[Generation]:
        raise NotImplementedError


def qwen_stop_token_ids(path: str) -> tuple[int, ...]:
    """Qwen's stop ids for a Qwen2 model with Qwen's vocabulary, else none.

    The Qwen2.5-Math evaluation adds them when "qwen2" is in the model's path, so the base model
    (``Qwen/Qwen2.5-Math-1.5B``) and its checkpoints under ``outputs/`` would stop differently;
    here the model's own config decides (its type, and a vocabulary that holds the ids: the
    embedded toy models are Qwen2 models with a 400-token vocabulary of their own)."""
    config = model_config(path)
    qwen = config is not None and config.get("model_type") == "qwen2" and \
        config.get("vocab_size", 0) > max(QWEN_STOP_TOKEN_IDS)
    return QWEN_STOP_TOKEN_IDS if qwen else ()


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, path: str, dtype: str | None = None, device: str | None = None, batch_size: int = 32,
                 model=None, tokenizer=None, threads: int | None = None):
        self.path = str(path)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device == "cpu":
            torch.set_num_threads(cpu_threads(threads))
        self.model = model if model is not None else load_model(self.path, dtype=dtype, device=device)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(self.path)
        self.batch_size = batch_size

    def generate(self, prompts, *, temperature, top_p, max_new_tokens, seed, desc=None) -> list[Generation]:
        # Similar lengths batch together (less padding); results go back in order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        bar = tqdm(total=len(prompts), desc=desc, leave=False) if desc else None
        out = generate(
            self.model,
            self.tokenizer,
            [prompts[i] for i in order],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=self.batch_size,
            seed=seed,
            stop_token_ids=self.stop_token_ids(),
            progress=bar,
        )
        if bar is not None:
            bar.close()
        result: list[Generation] = [None] * len(prompts)  # type: ignore[list-item]
        for i, gen in zip(order, out):
            result[i] = gen
        return result


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(
        self,
        path: str,
        dtype: str | None = None,
        seed: int = 0,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
    ):
        from vllm import LLM  # noqa: PLC0415  (the GPU extra, pip install -e ".[gpu]": absent on CPU machines)

        self.path = str(path)
        self.llm = LLM(
            model=self.path,
            dtype=dtype or "auto",
            seed=seed,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts, *, temperature, top_p, max_new_tokens, seed, desc=None) -> list[Generation]:
        from vllm import SamplingParams  # noqa: PLC0415  (the GPU extra)

        params = [SamplingParams(**kw) for kw in request_sampling(len(prompts), temperature=temperature, top_p=top_p,
                                                                   max_new_tokens=max_new_tokens, seed=seed,
                                                                   stop_token_ids=self.stop_token_ids())]
        outputs = self.llm.generate(list(prompts), params, use_tqdm=bool(desc))
        return [
            Generation(
                prompt=o.prompt,
                text=o.outputs[0].text,
                n_tokens=len(o.outputs[0].token_ids),
                finished=o.outputs[0].finish_reason == "stop",
            )
            for o in outputs
        ]


def request_sampling(n: int, *, temperature: float, top_p: float, max_new_tokens: int, seed: int,
                     stop_token_ids: Sequence[int] = ()) -> list[dict]:
    """vLLM ``SamplingParams`` arguments for ``n`` requests, each with its own seed (``seed + i``).

    vLLM seeds a request's sampler with its ``seed``: one seed for every request would give the
    copies of a prompt (avg@8's eight samples) one identical sample eight times. Distinct seeds give
    each copy its own draw, reproducibly, as the transformers backend's single generator does."""
    return [dict(temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed + i,
                 stop=list(QWEN_STOP_STRINGS), stop_token_ids=list(stop_token_ids)) for i in range(n)]


def rollout_seeds(seed: int, engine: int, step: int, n: int, call: int = 0) -> list[int]:
    """Seeds of the ``n`` requests a training run (``seed``) sends its vLLM engine number ``engine`` at
    ``step`` (``call``: the how-many-th time at that step): distinct within the batch, others for another
    run seed or step, the same when the run is repeated or resumed."""
    state = np.random.SeedSequence([seed, engine, step, call]).generate_state(n, np.uint64)
    return [int(s >> 1) for s in state]  # 63 bits: vLLM keeps a request's seed as an int64


class SeededRequests:
    """A vLLM engine whose ``generate`` gives each request its own seed, ``seeds(n)`` for ``n`` requests,
    where the caller sends one ``SamplingParams`` without a seed for them all; the rest is the engine's.

    vLLM samples an unseeded request from the process's global random state, which its worker resets to
    the engine's own seed as it starts, after the trainer seeded it from the run's: TRL's colocated
    engine gets the process index, so every run seed would draw the same rollouts of a one-shot batch
    (the same prompt throughout), and one seed for all requests would draw one rollout many times."""

    def __init__(self, engine, seeds):
        self.engine, self.seeds = engine, seeds

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def generate(self, prompts, sampling_params=None, *args, **kwargs):
        if sampling_params is not None and not isinstance(sampling_params, Sequence) and sampling_params.seed is None:
            n = 1 if isinstance(prompts, str | dict) else len(prompts)
            sampling_params = [_seeded(sampling_params, seed) for seed in self.seeds(n)]
        return self.engine.generate(prompts, sampling_params, *args, **kwargs)


def _seeded(params, seed: int):
    params = copy.copy(params)
    params.seed = seed
    getattr(params, "__dict__", {}).pop("sampling_type", None)  # vLLM caches whether a request is seeded
    return params


def vllm_usable() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False

    return torch.cuda.is_available()


def get_backend(name: str, path: str, *, dtype: str | None = None, seed: int = 0, batch_size: int = 32) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    check_cuda_driver()  # a driver too old for torch's CUDA: said so, not a silent fall back to the CPU
    if name == "vllm" or (name == "auto" and vllm_usable()):
        if not vllm_usable():
            raise RuntimeError('the vllm backend needs a GPU and the GPU extra: pip install -e ".[gpu]"')
        return VLLMBackend(path, dtype=dtype, seed=seed)
    return TransformersBackend(path, dtype=dtype, batch_size=batch_size)
