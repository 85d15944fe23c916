"""The GPU memory preflight (rlvr.memory): the estimate of a run's peak memory per GPU, term by term,
checked against the H200 measurement, the refusal of a run that would not fit, and the CUDA driver check."""

import dataclasses
import json
import re
from pathlib import Path

import papermill
import pytest
import torch
import yaml
from rlvr import memory
from rlvr.cli import _overrides, main
from rlvr.config import load_params, preset, preset_configs
from rlvr.memory import GIB, Launch, ModelShape, check_cuda_driver, estimate, preflight
from rlvr.parameters import layered

ROOT = Path(__file__).resolve().parents[1]
QWEN_DIR = ROOT / "tests" / "data" / "qwen2.5-math-1.5b"  # Qwen2.5-Math-1.5B's config.json, no weights
QWEN = ModelShape.from_config(json.loads((QWEN_DIR / "config.json").read_text()))
ZERO3 = ROOT / "configs" / "accelerate" / "deepspeed_zero3.yaml"
H200_GIB = 143_771 / 1024  # the H200 of docs/benchmarks.md (143,771 MiB)


def test_a_registered_name_reads_its_hub_models_config_through_transformers(tmp_path, monkeypatch):
    # The hub's cache as huggingface_hub lays it out, offline: the registered name is looked up by its hub id.
    import huggingface_hub

    snapshot = tmp_path / "models--Qwen--Qwen2.5-Math-1.5B" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((QWEN_DIR / "config.json").read_text())
    (tmp_path / "models--Qwen--Qwen2.5-Math-1.5B" / "refs").mkdir()
    (tmp_path / "models--Qwen--Qwen2.5-Math-1.5B" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert ModelShape.of("Qwen2.5-Math-1.5B") == QWEN


def test_the_shape_of_qwen25_math_15b_from_its_config():
    assert (QWEN.hidden, QWEN.layers, QWEN.vocab, QWEN.heads, QWEN.kv_heads, QWEN.intermediate) == \
        (1536, 28, 151936, 12, 2, 8960)
    assert QWEN.kv_dim == 256 and QWEN.tied
    assert QWEN.params == 1_543_714_304  # 1.54 B: embedding 233.4 M (tied) + 28 layers of 46.8 M + a norm


def h200_probe(micro_batch: int):
    """bench/gpu_step.py's settings for the H200 memory probe: 8 prompts x 8 rollouts of 256 + 3072 random
    tokens, no generation, no reference model, no vLLM, no gradient checkpointing."""
    cfg = preset("paper", prompts_per_step=8, micro_batch=micro_batch, beta=0.0, gradient_checkpointing=False,
                 backend="transformers")
    return estimate(cfg, QWEN, gpu_gib=H200_GIB, prompt_tokens=256)


def test_the_terms_at_the_h200_probes_settings():
    update = {t.name: t.bytes for t in h200_probe(4).phases["update"]}
    p, tokens = QWEN.params, 4 * (256 + 3072)
    assert update["policy weights"] == 4 * p and update["gradients"] == 4 * p and update["AdamW state"] == 8 * p
    # Autocast keeps 32h + 4kv + 8i bytes a token a layer, and the final norm 8h.
    assert update["activations"] == 28 * (32 * 1536 + 4 * 256 + 8 * 8960) * tokens + 8 * 1536 * tokens
    assert update["logits"] == update["logits' gradient"] == 4 * 3072 * 151936 * 4  # float32: 6.96 GiB each
    assert update["logits"] / GIB == pytest.approx(6.96, abs=0.01)
    assert "reference model" not in update and "vLLM" not in update


def probe_peak_gib(micro_batch: int) -> float:
    """The estimate with what bench/gpu_step.py itself holds instead of TRL's: its one step allocates AdamW's
    state only after the backward, and its loss head keeps four float32 copies of the logits at the
    backward's start (the logits, log_softmax's output, gather's gradient, log_softmax's gradient) where
    TRL's fused kernel keeps two."""
    found = h200_probe(micro_batch)
    terms = {t.name: t.bytes for t in found.phases["update"]}
    return (found.tensors("update") - terms["AdamW state"] + 2 * terms["logits"]) / GIB


def test_the_estimate_against_the_h200_measurement():
    assert probe_peak_gib(4) == pytest.approx(83.9, rel=0.03)  # measured 83.9 GiB; the arithmetic gives 84.7
    assert probe_peak_gib(8) > H200_GIB and probe_peak_gib(16) > H200_GIB  # both ran out of memory there
    assert not h200_probe(8).fits  # TRL's own step at micro-batch 8 would not fit the H200 either


def test_a_run_that_would_not_fit_is_refused_naming_settings_that_fit():
    cfg = preset("paper", examples=["124"])  # micro-batch 16, vLLM at TRL's 30%, no sleep mode
    with pytest.raises(MemoryError, match="does NOT fit") as refused:
        preflight(cfg, Launch(), 80.0, QWEN)
    assert "--set micro_batch=4 |" in str(refused.value)  # the largest that fits with these vLLM settings
    assert "--set micro_batch=8 --set trl.vllm_enable_sleep_mode=true" in str(refused.value)
    assert "vllm_gpu_memory_utilization" not in str(refused.value)  # a smaller share buys no larger micro-batch
    fixed = dataclasses.replace(cfg, micro_batch=8, trl={"vllm_enable_sleep_mode": True})
    assert preflight(fixed, Launch(), 80.0, QWEN).fits


def test_sleep_mode_takes_vllms_share_out_of_the_update_not_out_of_generation():
    awake = estimate(preset("paper", micro_batch=4), QWEN)
    asleep = estimate(preset("paper", micro_batch=4, trl={"vllm_enable_sleep_mode": True}), QWEN)
    assert awake.tensors("update") - asleep.tensors("update") == pytest.approx(0.3 * 80 * GIB)
    assert awake.tensors("generation") == asleep.tensors("generation")


def test_sharding_divides_the_state_over_the_processes():
    assert Launch.from_accelerate_config(ZERO3) == Launch(8, "zero3")
    one, eight = (estimate(preset("paper", micro_batch=4), QWEN, launch) for launch in (Launch(), Launch(8, "zero3")))
    terms = {t.name: t.bytes for t in eight.phases["update"]}
    assert terms["AdamW state"] == 12 * QWEN.params / 8 and terms["policy weights"] == 2 * QWEN.params / 8
    assert terms["logits"] == 4 * 3072 * 151936 * 2  # bf16 under DeepSpeed: no float32 outputs
    assert eight.peak_gib < one.peak_gib


def paper_runs():
    """Each params/paper file with the launches it names: notebooks train in one process on one GPU,
    either algorithm (05 and 09 train PPO); the two files for 8 GPUs name their ZeRO-3 launch."""
    notebooks = {p.stem: p for p in (ROOT / "notebooks").glob("*.ipynb")}
    for path in sorted((ROOT / "params" / "paper").glob("*.yaml")):
        values = yaml.safe_load(path.read_text())
        if path.stem in notebooks:
            if "preset" not in values:  # 01_data_selection trains its selection_params file, checked on its own
                continue
            declared = papermill.inspect_notebook(str(notebooks[path.stem]))
            train = layered(declared, [values]).get("train") or {}
            cfg, _ = preset_configs(values["preset"], train)
            for algorithm in ("grpo", "ppo"):
                yield pytest.param(dataclasses.replace(cfg, algorithm=algorithm), Launch(),
                                   id=f"{path.stem}-{algorithm}-1gpu")
        else:
            cfg = load_params(path)
            launches = {"ppo_pi1": [Launch(8, "zero3")], "one_shot_pi1": [Launch(), Launch(8, "zero3")]}
            for launch in launches.get(path.stem, [Launch()]):
                yield pytest.param(cfg, launch, id=f"{path.stem}-{launch.processes}gpu")


@pytest.mark.parametrize("cfg,launch", list(paper_runs()))
def test_every_paper_params_file_fits_the_80gb_gpus_it_names(cfg, launch):
    found = estimate(cfg, QWEN, launch, 80.0)
    assert found.fits, found.report()


def doc_commands():
    """Every training command on a params/paper file in the README and docs/gpu.md, with the launch it
    names (`accelerate launch --config_file ... [--num_processes N]`) and its `--set` overrides."""
    pattern = re.compile(r"(accelerate launch --config_file (\S+)(?: --num_processes (\d+))?[^\n`]*?)?"
                         r"(?:rlvr|-m rlvr\.cli) train (params/paper/\S+\.yaml)((?: --set \S+)*)")
    for doc in ("README.md", "docs/gpu.md"):
        text = (ROOT / doc).read_text().replace("\\\n", " ")
        for found in pattern.finditer(text):
            _, config, processes, path, sets = found.groups()
            launch = Launch.from_accelerate_config(ROOT / config) if config else Launch()
            if processes:
                launch = dataclasses.replace(launch, processes=int(processes))
            overrides = _overrides(sets.split(" --set ")[1:])
            yield pytest.param(load_params(ROOT / path, **overrides), launch, id=f"{doc}: {found.group(0)[-70:]}")


@pytest.mark.parametrize("cfg,launch", list(doc_commands()))
def test_every_gpu_command_in_the_docs_fits_the_gpus_it_names(cfg, launch):
    assert estimate(cfg, QWEN, launch, 80.0).fits


def test_the_docs_commands_are_all_found():
    assert len(list(doc_commands())) >= 4  # the one-GPU, resume, 8-GPU and server-mode commands


def test_the_dry_run_prints_each_term_and_the_verdict(capsys):
    params = ["train", str(ROOT / "params" / "paper" / "one_shot_pi1.yaml"), "--dry-run", "--set", f"model={QWEN_DIR}"]
    assert main(params) == 0
    out = capsys.readouterr().out
    for term in ("policy weights", "AdamW state", "reference model", "vLLM", "activations", "logits' gradient",
                 "allowance"):
        assert term in out
    assert "fits a 80 GiB GPU" in out
    assert main([*params, "--set", "micro_batch=16", "--gpu-memory", "80"]) == 1
    assert "does NOT fit a 80 GiB GPU" in capsys.readouterr().out
    assert main([*params, "--set", "micro_batch=16", "--launch", str(ZERO3)]) == 0  # 8 GPUs under ZeRO-3


def test_train_refuses_a_run_that_would_not_fit_before_it_loads_anything(tmp_path, monkeypatch):
    from rlvr.train import train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: type("P", (), {"total_memory": 80 * GIB}))
    cfg = preset("paper", model=str(QWEN_DIR), examples=["124"], output_dir=str(tmp_path / "run"))
    with pytest.raises(MemoryError, match="settings that fit"):
        train(cfg, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("cuda,driver,available,refused", [
    ("13.0", "535.104.05", False, True),   # CUDA 13 on a 535 driver: cannot start
    ("13.0", "580.95.05", True, False),    # the driver it needs
    ("13.0", None, False, False),          # no NVIDIA driver: a CPU machine with a CUDA build
    (None, "535.104.05", False, False),    # a CPU build of torch
    ("12.8", "535.104.05", False, False),  # CUDA 12 starts on 535: CUDA failed for another reason
    ("13.0", "535.104.05", True, False),   # it started anyway (NVIDIA's forward-compatibility package)
])
def test_a_driver_too_old_for_torchs_cuda_is_named(monkeypatch, cuda, driver, available, refused):
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(memory, "nvidia_driver_version", lambda: driver)
    if refused:
        with pytest.raises(RuntimeError, match=r"driver 580 or newer; this machine's is 535\.104\.05"):
            check_cuda_driver()
    else:
        check_cuda_driver()
