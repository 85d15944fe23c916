"""Where training runs (docs/gpu.md), checked on a CPU: the GPU paths' configuration,
not their execution (no GPU, vLLM or Unsloth here)."""

import contextlib
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from accelerate.commands.config.config_args import ClusterConfig
from rlvr.backends import qwen_stop_token_ids, request_sampling
from rlvr.config import preset
from rlvr.data import training_dataset
from rlvr.env import world_size
from rlvr.models import load_model_and_tokenizer
from rlvr.prompts import QWEN_STOP_TOKEN_IDS
from rlvr.train import run_rewards, train
from rlvr.trainer import RLVRTrainer
from rlvr.trl_args import KL_UNCLAMPED, batch_split, deviations, grpo_arguments, grpo_config
from trl.generation import vllm_generation
from trl.trainer import grpo_trainer
from trl.trainer.utils import create_model_from_path

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = ROOT / "configs" / "accelerate"


def test_the_cpu_path_imports_neither_vllm_nor_unsloth():
    # A fresh interpreter: what importing and configuring pulls in, whatever other tests loaded.
    script = (
        "import sys\n"
        "from rlvr.config import preset\n"
        "from rlvr.trl_args import grpo_config\n"
        "for c in (preset('cpu'), preset('paper')):\n"
        "    grpo_config(c, on_gpu=False)\n"
        "print(sorted(m for m in ('vllm', 'unsloth', 'unsloth_zoo') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_lora_goes_with_the_unsloth_backend_and_only_with_it():
    with pytest.raises(ValueError, match="lora_rank: backend 'unsloth'"):
        preset("paper", backend="unsloth")
    with pytest.raises(ValueError, match="lora_rank: LoRA is offered only on the Unsloth path"):
        preset("paper", backend="transformers", lora_rank=64)
    with pytest.raises(ValueError, match="lora_rank: must not be negative"):
        preset("paper", lora_rank=-1)
    cfg = preset("paper", backend="unsloth", lora_rank=64)
    assert deviations(cfg) and "LoRA (rank 64" in deviations(cfg)[0]
    assert deviations(preset("paper")) == [KL_UNCLAMPED]  # TRL's KL term, below: nothing else


def test_the_recorded_kl_departure_is_trls_unclamped_k3_wherever_trls_loss_trains():
    # verl 0.2's low_var_kl, the paper's code, clamps k3 to [-10, 10]; TRL's loss does not, Unsloth's does.
    for cfg in (preset("paper"), preset("paper", backend="vllm"), preset("paper", algorithm="ppo")):
        assert KL_UNCLAMPED in deviations(cfg)
    assert "TRL's, unclamped" in KL_UNCLAMPED and "clamps it to [-10, 10]" in KL_UNCLAMPED
    unsloth = deviations(preset("paper", backend="unsloth", lora_rank=64))
    assert KL_UNCLAMPED not in unsloth
    assert any("k3 KL term is clamped to [-10, 10] as the paper's code clamps it" in d for d in unsloth)
    # No k3 term in the loss, nothing to clamp: no reference model (beta 0), or PPO's KL in the rewards.
    assert KL_UNCLAMPED not in deviations(preset("paper", beta=0.0))
    assert KL_UNCLAMPED not in deviations(preset("paper", algorithm="ppo", kl_penalty="reward"))


def test_vllm_mode_is_checked():
    with pytest.raises(ValueError, match="vllm_mode: 'remote' is not"):
        preset("paper", vllm_mode="remote")
    with pytest.raises(ValueError, match="vllm_mode: 'server' .* not 'unsloth'"):
        preset("paper", backend="unsloth", lora_rank=8, vllm_mode="server")
    with pytest.raises(ValueError, match="vllm_server_port"):
        preset("paper", vllm_mode="server", vllm_server_port=70000)


def test_server_mode_reaches_trl():
    cfg = preset("paper", backend="vllm", vllm_mode="server", vllm_server_host="10.0.0.7", vllm_server_port=8001)
    args = grpo_config(cfg, on_gpu=False)
    assert args.use_vllm and args.vllm_mode == "server"
    assert (args.vllm_server_host, args.vllm_server_port) == ("10.0.0.7", 8001)
    default = grpo_config(preset("cpu"), on_gpu=False)
    assert not default.use_vllm and default.vllm_mode == "colocate"


@pytest.mark.skipif(torch.cuda.is_available() and importlib.util.find_spec("unsloth") is not None,
                    reason="Unsloth can run here; this checks the refusal where it cannot")
def test_unsloth_on_a_machine_without_it_fails_before_writing_anything(tmp_path):
    out = tmp_path / "run"
    cfg = preset("cpu", backend="unsloth", lora_rank=8, output_dir=str(out))
    with pytest.raises(RuntimeError) as caught:
        train(cfg)
    message = str(caught.value)
    if not torch.cuda.is_available():
        assert "needs an NVIDIA GPU" in message
    if importlib.util.find_spec("unsloth") is None:
        assert 'pip install -e ".[gpu]"' in message
    assert not out.exists()


@pytest.mark.parametrize("processes, micro, accumulation", [(1, 16, 64), (8, 16, 8), (2, 16, 32)])
def test_the_global_batch_is_the_papers_for_any_process_count(processes, micro, accumulation):
    cfg = preset("paper")
    assert batch_split(cfg, processes) == (micro, accumulation)
    assert micro * accumulation * processes == 128 * 8


def test_a_process_count_that_does_not_divide_the_batch_is_refused():
    with pytest.raises(ValueError, match=r"1024 completions .* over 7 training processes.*\[1, 2, 4, 8, 16\]"):
        batch_split(preset("paper"), 7)


def test_micro_batches_divide_each_share_exactly():
    # 3 prompts x 8 rollouts = 24 completions: micro-batches of 12, not 16 (which would drop 8).
    assert batch_split(preset("cpu", prompts_per_step=3), 1) == (12, 2)
    assert batch_split(preset("paper", optimizer_steps_per_rollout=8), 8) == (16, 1)


def test_the_process_count_comes_from_the_launcher(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert world_size() == 8


@pytest.mark.parametrize("name, kind", [("deepspeed_zero2", "DEEPSPEED"), ("deepspeed_zero3", "DEEPSPEED"),
                                        ("fsdp", "FSDP")])
def test_accelerate_configs_are_valid_and_as_documented(name, kind):
    path = ACCELERATE / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text())
    assert raw["num_processes"] == 8 and raw["num_machines"] == 1 and raw["mixed_precision"] == "bf16"
    config = ClusterConfig.from_yaml_file(path)  # accelerate's own loader: unknown keys fail
    assert config.distributed_type.value == kind
    if name == "deepspeed_zero3":  # checkpoints hold full weights (what evaluation loads)
        assert raw["deepspeed_config"]["zero_stage"] == 3 and raw["deepspeed_config"]["zero3_save_16bit_model"]
    if name == "fsdp":
        assert raw["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_the_docs_launch_only_configs_that_exist():
    doc = (ROOT / "docs" / "gpu.md").read_text()
    named = set(re.findall(r"configs/accelerate/[\w.-]+\.yaml", doc))
    assert named >= {f"configs/accelerate/{n}.yaml" for n in ("deepspeed_zero2", "deepspeed_zero3", "fsdp")}
    assert all((ROOT / p).is_file() for p in named)


def test_a_run_records_its_deviations(tmp_path):
    out = train(preset("cpu", steps=1, save_every=1, examples=["toy-train-00007"], output_dir=str(tmp_path / "run")))
    run = json.loads((out / "run_config.json").read_text())
    assert run["deviations"] == []  # full fine-tuning, no KL term: none (a LoRA run lists its LoRA settings)


def run_gpu_check(tmp_path, *flags):
    command = [sys.executable, "bench/gpu_check.py", "--tiny", "--json", str(tmp_path / "check.json"), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[1])


def test_the_gpu_check_trains_the_paper_preset_on_a_tiny_shape_and_reports_its_figures(tmp_path):
    done = run_gpu_check(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    transformers, vllm, unsloth, ppo = json.loads((tmp_path / "check.json").read_text())
    assert transformers["ran"] and transformers["steps"] == 2 and transformers["rollouts_per_step"] == 16
    assert transformers["seconds_per_step"] > 0 and transformers["generated_tokens_per_s"] > 0
    assert not vllm["ran"] and not unsloth["ran"]  # not here, and said so
    assert ppo["ran"] and ppo["algorithm"] == "ppo" and ppo["path"] == "transformers" and ppo["steps"] == 2
    assert "never ran" in done.stdout or "not run with --tiny" in done.stdout
    assert transformers["peak_memory_gib"] is None and transformers["estimate"]["peak_gib"] > 0  # no CUDA: estimated


def test_the_gpu_check_at_the_80gb_settings_prints_the_estimate_of_the_config_it_ran(tmp_path):
    from rlvr.config import TrainConfig, load_params
    from rlvr.memory import PROMPT_TOKENS, ModelShape, estimate

    done = run_gpu_check(tmp_path, "--settings", "80gb")
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = json.loads((tmp_path / "check.json").read_text())
    assert run["ran"] and run["setting"] == "80gb" and run["path"] == "transformers" and run["steps"] == 2
    ran = TrainConfig.from_dict(run["config"])
    params = load_params(ROOT / "params/paper/one_shot_pi1_80gb.yaml")
    assert (ran.micro_batch, ran.trl, ran.beta) == (params.micro_batch, params.trl, params.beta)
    assert ran.micro_batch == 2 and ran.trl["vllm_enable_sleep_mode"] and ran.beta > 0  # not the preset's 16
    assert ran.backend == "transformers" and run["rollouts_per_step"] == 16 and run["max_new_tokens"] == 16
    # The printed estimate is rlvr.memory's for that config and shape: at the preflight's prompt cap and as run.
    shape = ModelShape(**run["shape"])
    for key, prompt in (("estimate", PROMPT_TOKENS), ("estimate_as_run", run["prompt_tokens"])):
        expected = estimate(ran, shape, gpu_gib=80.0, prompt_tokens=prompt)
        assert run[key]["prompt_tokens"] == prompt and run[key]["peak_phase"] == expected.peak_phase
        assert run[key]["peak_gib"] == pytest.approx(expected.peak_gib, abs=0.001)
    assert 50 < run["prompt_tokens"] < PROMPT_TOKENS
    assert run["estimate"]["peak_gib"] > run["estimate_as_run"]["peak_gib"]  # the cap counts more prompt
    assert run["peak_memory_gib"] is None and run["padded_per_real"] is None  # the CPU: neither measured nor grouped
    assert "measured peak: not measured (no CUDA)" in done.stdout
    assert f"estimate, the preflight's (prompt at {PROMPT_TOKENS:,} tokens)" in done.stdout
    assert "\n| 80gb, transformers, grpo | cpu | 2 x 8, 16 | 2 |" in done.stdout  # the table to paste


def test_the_gpu_check_fails_loudly_when_a_path_fails(tmp_path):
    done = run_gpu_check(tmp_path, "--paths", "transformers", "--tokens", "0")  # no response length: refused
    assert done.returncode == 1
    assert "transformers: FAILED" in done.stdout and "the GPU check failed on transformers" in done.stderr


class StandInVLLM:
    """vLLM's ``LLM`` as far as TRL's colocated generation uses it. Built, it resets the process's global
    random state to its seed, as vLLM's worker does as it starts (``set_random_seed``); a request is sampled
    from a generator of its own seed when it has one, else from that global state, as vLLM's sampler."""

    def __init__(self, *, seed, **settings):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        runner = SimpleNamespace(model=SimpleNamespace(load_weights=lambda weights: None))
        self.llm_engine = SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(
            model_runner=runner)))

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        outputs = []
        for prompt, request in zip(prompts, params, strict=True):
            generator = None if request.seed is None else torch.Generator().manual_seed(request.seed)
            tokens = torch.randint(3, 100, (request.max_tokens,), generator=generator).tolist()
            sample = SimpleNamespace(token_ids=tokens, logprobs=[{t: SimpleNamespace(logprob=-1.0, rank=1)}
                                                                 for t in tokens])
            outputs.append(SimpleNamespace(prompt_token_ids=prompt["prompt_token_ids"], outputs=[sample]))
        return outputs

    def reset_prefix_cache(self):
        pass


class StandInSamplingParams(SimpleNamespace):
    def __init__(self, seed=None, **settings):
        super().__init__(seed=seed, **settings)


def toy_trainer(tmp_path, **settings):
    cfg = preset("cpu", examples=["toy-train-00007"], output_dir=str(tmp_path / "run"), **settings)
    model, tokenizer = load_model_and_tokenizer("toy-base")
    return RLVRTrainer(model=model, reward_funcs=run_rewards(cfg), args=grpo_config(cfg, on_gpu=False),
                       train_dataset=training_dataset(cfg), processing_class=tokenizer, config=cfg)


@pytest.fixture
def stand_in_vllm(monkeypatch):
    """TRL's colocated vLLM generation with StandInVLLM as its engine (vLLM needs CUDA)."""
    monkeypatch.setattr(vllm_generation, "is_vllm_available", lambda *args, **kwargs: True)
    monkeypatch.setattr(vllm_generation, "LLM", StandInVLLM, raising=False)
    monkeypatch.setattr(vllm_generation, "SamplingParams", StandInSamplingParams, raising=False)


@contextlib.contextmanager
def environment_kept():
    """TRL sets RANK, WORLD_SIZE and a rendezvous address for vLLM, which would make the next trainer
    built in this process start torch.distributed: put the environment back."""
    kept = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(kept)


def test_under_vllm_the_run_seed_decides_the_rollouts(tmp_path, stand_in_vllm):
    # A one-shot batch: one prompt throughout, so only the sampler's seeds tell runs apart.
    def first_rollouts(seed):
        with environment_kept():
            trainer = toy_trainer(tmp_path / str(seed), backend="vllm", seed=seed, max_completion_length=6)
            assert trainer.accelerator.distributed_type == "NO"
            completions, _ = trainer._generate_single_turn([[5, 6, 7]] * 16, None, {}, 8)
        return completions

    seed_0 = first_rollouts(0)
    assert len({tuple(c) for c in seed_0}) == 16  # each copy of the prompt drew its own
    assert first_rollouts(0) == seed_0
    assert first_rollouts(1) != seed_0


def test_a_lone_process_loads_the_reference_model_on_the_policys_device(tmp_path, monkeypatch):
    # TRL's default for a run neither DDP nor DeepSpeed runs is device_map="auto": every visible GPU.
    loaded = []

    def spy(model_id, *args, **kwargs):
        loaded.append(kwargs)
        return create_model_from_path(model_id, *args, **kwargs)

    monkeypatch.setattr(grpo_trainer, "create_model_from_path", spy)
    trainer = toy_trainer(tmp_path, beta=0.001)
    assert [kwargs["device_map"] for kwargs in loaded] == [str(trainer.args.device)]
    assert next(trainer.ref_model.parameters()).device == next(trainer.model.parameters()).device


def test_each_copy_of_a_prompt_gets_its_own_vllm_seed():
    requests = request_sampling(8, temperature=0.6, top_p=1.0, max_new_tokens=3072, seed=3)
    assert [r["seed"] for r in requests] == list(range(3, 11))  # avg@8: eight draws, not one drawn eight times
    assert {r["max_tokens"] for r in requests} == {3072}


def test_qwen_stop_tokens_come_from_the_models_config_not_its_folder_name(tmp_path):
    def folder(name, **config):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        return str(tmp_path / name)

    checkpoint = folder("outputs/run/checkpoint-20", model_type="qwen2", vocab_size=151936)
    assert qwen_stop_token_ids(checkpoint) == QWEN_STOP_TOKEN_IDS  # a Qwen2.5 checkpoint, whatever its path
    assert qwen_stop_token_ids(folder("my-qwen2-toy", model_type="qwen2", vocab_size=400)) == ()
    assert qwen_stop_token_ids(folder("qwen2-named-llama", model_type="llama", vocab_size=128256)) == ()
    assert qwen_stop_token_ids("toy-base") == ()


def test_the_micro_batch_is_a_setting_and_the_reference_model_runs_in_bfloat16_on_a_gpu():
    # The paper's 1024 completions on one GPU, 4 at a time (16 ran out of an H200's memory at 3072 tokens).
    assert batch_split(preset("paper", micro_batch=4), 1) == (4, 256)
    on_gpu = grpo_arguments(preset("paper", micro_batch=4), on_gpu=True)
    assert on_gpu["per_device_train_batch_size"] == 4 and on_gpu["gradient_accumulation_steps"] == 256
    assert on_gpu["model_init_kwargs"] == {"dtype": "bfloat16"} and on_gpu["bf16"]
    assert grpo_arguments(preset("cpu"), on_gpu=False)["model_init_kwargs"] == {"dtype": "float32"}
    with pytest.raises(ValueError, match="micro_batch"):
        preset("paper", micro_batch=0)


def test_the_clip_is_symmetric_unless_asked_and_said_so_to_trl():
    # Unsloth sets epsilon_high = 0.28 with the dapo loss when it is left unset: the lab always sets it.
    assert grpo_arguments(preset("paper"), on_gpu=True)["epsilon_high"] == 0.2
    higher = preset("paper", clip_epsilon_high=0.28)
    assert grpo_arguments(higher, on_gpu=True)["epsilon_high"] == 0.28
    assert any("asymmetric clip" in d for d in deviations(higher))
    with pytest.raises(ValueError, match="set clip_epsilon_high instead"):
        preset("paper", trl={"epsilon_high": 0.28})


def test_the_train_command_asks_for_unsloth_before_anything_binds_trl(tmp_path):
    # Unsloth replaces TRL's trainer as it loads; a config's trl: block is checked against TRL's GRPOConfig,
    # so the command must reach Unsloth first (here it stops there: no GPU, no unsloth).
    params = tmp_path / "unsloth.yaml"
    params.write_text(f"preset: cpu\nbackend: unsloth\nlora_rank: 8\ntrl: {{top_entropy_quantile: 0.2}}\n"
                      f"output_dir: {tmp_path / 'run'}\n")
    probe = ("import sys\nfrom rlvr.cli import main\n"
             f"rc = main(['train', r'{params}'])\nprint(rc, 'rlvr.train' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    if importlib.util.find_spec("unsloth") is None or not torch.cuda.is_available():
        assert done.stdout.split() == ["2", "False"], done.stderr[-2000:]
        assert "backend 'unsloth' cannot run on this machine" in done.stderr
        assert not (tmp_path / "run").exists()
