"""The GPU check: a few steps of the lab's own GRPO trainer, `paper` preset, on a randomly
initialised model of Qwen2.5-Math-1.5B's architecture (built from its config: nothing downloaded).

One command for a machine with a CUDA GPU. Two settings (``--settings``):

``reduced`` (the default): for each generation path (``transformers``, then ``vllm`` and
``unsloth`` where those are installed), and then PPO on the transformers path (its critic a float32
copy of the model: the memory a PPO run adds), it trains ``--steps`` steps of the paper preset at a
reduced batch and response length (``--prompts`` x 8 rollouts, ``--tokens`` new tokens, so a path
takes minutes).

``80gb``: the transformers path (the one a GPU machine with only torch, transformers and TRL has) at
``params/paper/one_shot_pi1_80gb.yaml``'s settings: its micro-batch of 2, gradient checkpointing,
the reference model, and the preset's 3,072-token response budget, for 2 steps of 16 prompts x 8
rollouts, not the paper's 128. A micro-batch's memory does not depend on how many micro-batches a
step has, but transformers' generate() holds the KV cache of every rollout of the step at once:
at 128 prompts that alone is 133-168 GiB by ``rlvr.memory`` (prompt as run or at its 1,024-token
cap; the preflight refuses the run on an 80 or a 141 GB GPU), at 16 prompts 17-21 GiB, which makes
generation the step's peak phase (about 40-44 GiB against the update's 37), so both phases'
terms are measured. A random model never ends a completion, so every rollout runs the full 3,072
tokens and the step's time is mostly 3,072 sequential decoding steps (24 ms each for 64 rollouts on
the H200 in docs/benchmarks.md): 16 prompts, 2 steps keep the run near 6-7 minutes by that
arithmetic (model built on the CPU, the first step with its warm-up, one timed step).

Each run goes through ``rlvr.train.train`` in a fresh process and prints seconds a step, generated
tokens a second, model FLOPs utilisation (2 x parameters a generated token + 6 x parameters a
trained token, plus 2 x for the reference model's forward when beta > 0, and 8 x parameters a
token for PPO's critic, over the GPU's dense bf16 peak; the first step, with CUDA's and vLLM's
warm-up, is left out), padded tokens per real completion token from the run's step table, peak GPU
memory (``torch.cuda.max_memory_allocated`` and ``max_memory_reserved``, over the run and in each
phase of the last step: generation, then scoring, update and optimizer step), and beside it
``rlvr.memory.estimate`` for the exact config and shape it ran, on this device's memory: once with
the prompt counted at the 1,024-token cap (what the preflight refuses on) and once at the prompt's
own length (what the run held), with the differences. Without CUDA (``--tiny``) the estimate is
printed for an 80 GiB GPU and the measured peak is reported as not measured. A path that is not
installed is reported as never run; a run that fails or passes ``--timeout`` makes the check exit
non-zero with its error (and the steps it finished). The last lines are a Markdown table.

    python bench/gpu_check.py                       # on the GPU machine: the reduced runs
    python bench/gpu_check.py --settings 80gb --json gpu-check-80gb.json   # the 80 GB settings, ~7 min
    python bench/gpu_check.py --tiny                # anywhere: a tiny shape on the CPU (a test runs this)
    python bench/gpu_check.py --paths transformers --json gpu-check.json
    python bench/gpu_check.py --algorithms grpo        # no PPO run

The random model's tokenizer is the embedded toy-base's, padded with filler tokens to the
architecture's 151,936 ids, so whatever the model samples decodes; its completions are noise,
every reward is 0, and the time is the recipe's, not a learning run's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "lib")]

PATHS = ("transformers", "vllm", "unsloth")
ALGORITHMS = ("grpo", "ppo")  # PPO runs on the transformers path: one more path adds no PPO code
SETTINGS = ("reduced", "80gb")
PARAMS_80GB = HERE.parent / "params" / "paper" / "one_shot_pi1_80gb.yaml"
# Steps, prompts a step and new tokens of each setting (None: the params file's); --tiny: 2, 2, 16.
DEFAULTS = {"reduced": (3, 8, 512), "80gb": (2, 16, None)}
TINY_DEFAULTS = (2, 2, 16)
PROBLEM = ("The pressure P exerted by wind on a sail varies jointly as the area A of the sail and the cube of the "
           "wind's velocity V. When the velocity is 8 miles per hour, the pressure on a sail of 2 square feet is "
           "4 pounds. Find the wind velocity when the pressure on 4 square feet of sail is 32 pounds.")
NO_CUDA_GIB = 80.0  # without CUDA the estimate is for the 80 GB GPU the settings are written for
PROGRESS = "progress "  # a child's line after each step: what a run stopped by --timeout still reports


def build_model(folder: Path, tiny: bool) -> int:
    """A randomly initialised Qwen2.5-Math-1.5B-shaped model (or a tiny one) and a tokenizer that
    covers its ids, saved in ``folder``; returns the parameter count."""
    import torch
    from gpu_step import QWEN25_MATH_15B, TINY
    from rlvr.models import load_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    shape = TINY if tiny else QWEN25_MATH_15B
    tokenizer = load_tokenizer("toy-base")
    tokenizer.add_tokens([f"<r{i}>" for i in range(shape["vocab_size"] - len(tokenizer))])
    config = Qwen2Config(**shape, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def run_config(setting: str, path: str, algorithm: str, args, work: Path):
    """The TrainConfig a run trains: the paper preset at the reduced size, or the 80 GB params file."""
    from rlvr.config import load_params, preset

    overrides = dict(
        model=str(work / "model"), problem=PROBLEM, answer="12.8", examples=None, prompts_per_step=args.prompts,
        steps=args.steps, save_every=10**6, output_dir=str(work / "run"), backend=path, algorithm=algorithm,
    )
    if args.tokens is not None:
        overrides["max_completion_length"] = args.tokens
    if path == "unsloth":
        overrides["lora_rank"] = 64  # the Unsloth path trains LoRA adapters (docs/gpu.md)
    if args.tiny:
        overrides.update(gradient_checkpointing=False, fast_generation=False)
    if setting == "80gb":
        return load_params(PARAMS_80GB, **overrides)
    return preset("paper", **overrides)


class PhasePeaks:
    """Peak GPU memory in each phase of each step: ``generation`` (the rollouts) and ``update``
    (scoring, the micro-batches' forward and backward, the optimizer step), the phases of
    ``rlvr.memory.estimate``; the peak statistics are reset at each phase's start, so the run's peak is
    kept here as the largest reading. Also the longest prompt generated from, in tokens."""

    def __init__(self):
        import torch

        self.cuda = torch.cuda.is_available()
        self.steps: dict[int, dict[str, float]] = {}
        self.allocated = self.reserved = 0.0
        self.prompt_tokens = 0
        self.t0 = time.perf_counter()

    def read(self) -> tuple[float | None, float | None]:
        """The peaks since the last reset, in GiB, folded into the run's; then a reset (None, None
        without CUDA)."""
        import torch

        if not self.cuda:
            return None, None
        torch.cuda.synchronize()
        allocated, reserved = torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30
        self.allocated, self.reserved = max(self.allocated, allocated), max(self.reserved, reserved)
        torch.cuda.reset_peak_memory_stats()
        return round(allocated, 2), round(reserved, 2)

    def watch(self, trainer_class) -> None:
        """Measure the rollouts of ``trainer_class`` (and its subclasses) as a phase of their own."""
        original, peaks = trainer_class._generate_single_turn, self

        def generate(trainer, prompt_ids, *args, **kwargs):
            peaks.prompt_tokens = max(peaks.prompt_tokens, max(len(p) for p in prompt_ids))
            peaks.read()  # what came before (loading, the previous step's logging) is no phase of this step
            out = original(trainer, prompt_ids, *args, **kwargs)
            allocated, reserved = peaks.read()
            peaks.steps[trainer.state.global_step + 1] = {"generation_allocated_gib": allocated,
                                                          "generation_reserved_gib": reserved}
            return out

        trainer_class._generate_single_turn = generate

    def callback(self):
        """A TrainerCallback closing each step's update phase and printing a progress line."""
        from transformers import TrainerCallback

        peaks = self

        class StepEnd(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                allocated, reserved = peaks.read()
                row = peaks.steps.setdefault(state.global_step, {})
                row.update(update_allocated_gib=allocated, update_reserved_gib=reserved)
                line = {"step": state.global_step, "elapsed_s": round(time.perf_counter() - peaks.t0, 1), **row,
                        "peak_allocated_gib": round(peaks.allocated, 2) if peaks.cuda else None,
                        "peak_reserved_gib": round(peaks.reserved, 2) if peaks.cuda else None}
                print(PROGRESS + json.dumps(line), flush=True)

        return StepEnd()


def estimate_figures(cfg, shape, gpu_gib: float, prompt_tokens: int) -> dict:
    """``rlvr.memory.estimate`` of ``cfg`` on one GPU of ``gpu_gib``, its peak and each phase, in GiB."""
    from rlvr.memory import GIB, estimate

    try:
        found = estimate(cfg, shape, gpu_gib=gpu_gib, prompt_tokens=prompt_tokens)
    except ValueError as exc:  # the Unsloth path is not estimated
        return {"prompt_tokens": prompt_tokens, "not_estimated": str(exc)}
    return {"prompt_tokens": prompt_tokens, "gpu_gib": round(gpu_gib, 2), "peak_phase": found.peak_phase,
            "peak_gib": round(found.peak_gib, 3), "peak_tensors_gib": round(found.tensors(found.peak_phase) / GIB, 3),
            "fits": found.fits,
            "phases": {phase: {"tensors_gib": round(found.tensors(phase) / GIB, 3),
                               "total_gib": round(found.total(phase) / GIB, 3)} for phase in found.phases}}


def train_path(path: str, args, algorithm: str = "grpo", setting: str = "reduced") -> dict:
    """Train ``args.steps`` steps of ``algorithm`` through ``path`` in this process; the figures."""
    import torch
    from gpu_step import peak_tflops
    from rlvr.memory import GIB, PROMPT_TOKENS, ModelShape
    from rlvr.rundir import load_run
    from rlvr.train import train
    from rlvr.trainer import RLVRTrainer

    work = Path(tempfile.mkdtemp(prefix=f"gpu-check-{setting}-{path}-{algorithm}-"))
    parameters = build_model(work / "model", args.tiny)
    cfg = run_config(setting, path, algorithm, args, work)
    shape = ModelShape.of(str(work / "model"))
    on_gpu = torch.cuda.is_available()
    gpu_gib = torch.cuda.get_device_properties(0).total_memory / GIB if on_gpu else NO_CUDA_GIB
    peaks = PhasePeaks()
    peaks.watch(RLVRTrainer)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    train(cfg, progress=False, callbacks=[peaks.callback()])
    total = time.perf_counter() - t0
    peaks.read()
    steps = load_run(work / "run")["steps"]  # the step table (steps.parquet)
    timed = steps.iloc[1:] if len(steps) > 1 else steps  # the first step carries the warm-up
    rollouts = cfg.prompts_per_step * cfg.rollouts_per_prompt
    generated = float(timed["completions_mean_length"].mean()) * rollouts
    seconds = float(timed["seconds"].mean())
    per_token = 6 + 2 * (cfg.beta > 0) + 8 * (algorithm == "ppo")
    flops = 2 * parameters * generated + per_token * parameters * (generated + peaks.prompt_tokens * rollouts)
    peak = peak_tflops(torch.device("cuda")) if on_gpu else None
    # Recorded where the trainer groups micro-batches by length (on GPUs); absent on the CPU.
    padding = {name: round(float(timed[name].mean()), 3) if name in timed else None
               for name in ("padded_per_real", "padded_per_real_uncut")}
    last = max(peaks.steps) if peaks.steps else None
    return {
        "setting": setting, "path": path, "algorithm": algorithm,
        "device": torch.cuda.get_device_name() if on_gpu else "cpu", "gpu_gib": round(gpu_gib, 2) if on_gpu else None,
        "parameters": parameters, "steps": len(steps), "prompts_per_step": cfg.prompts_per_step,
        "rollouts_per_step": rollouts, "max_new_tokens": cfg.max_completion_length, "micro_batch": cfg.micro_batch,
        "gradient_checkpointing": cfg.gradient_checkpointing, "prompt_tokens": peaks.prompt_tokens,
        "seconds_per_step": round(seconds, 3), "first_step_seconds": round(float(steps["seconds"].iloc[0]), 3),
        "generated_tokens_per_s": round(generated / seconds, 1), **padding,
        "peak_memory_gib": round(peaks.allocated, 2) if on_gpu else None,
        "peak_reserved_gib": round(peaks.reserved, 2) if on_gpu else None,
        "phase_peaks": {"step": last, **peaks.steps[last]} if on_gpu and last is not None else None,
        "estimate": estimate_figures(cfg, shape, gpu_gib, PROMPT_TOKENS),
        "estimate_as_run": estimate_figures(cfg, shape, gpu_gib, peaks.prompt_tokens),
        "mfu": round(flops / seconds / (peak * 1e12), 4) if peak else None, "wall_seconds": round(total, 1),
        "config": cfg.to_dict(), "shape": asdict(shape),
    }


def _gib(value) -> str:
    return "not measured" if value is None else f"{value:.2f} GiB"


def _difference(measured: float | None, estimated: float | None) -> str:
    if measured is None or estimated is None:
        return "n/a"
    return f"{measured - estimated:+.2f} GiB ({(measured - estimated) / estimated:+.1%})"


def memory_lines(f: dict) -> list[str]:
    """The measured peaks beside the estimate of the same config, with the differences."""
    pre, run = f["estimate"], f["estimate_as_run"]
    if "not_estimated" in pre:
        return [f"  estimate: not estimated ({pre['not_estimated']})",
                f"  measured peak: {_gib(f['peak_memory_gib'])} allocated, {_gib(f['peak_reserved_gib'])} reserved"]
    where = f"on {f['gpu_gib']:g} GiB" if f["gpu_gib"] else f"for an {NO_CUDA_GIB:g} GiB GPU (no CUDA here)"
    lines = [
        f"  estimate, the preflight's (prompt at {pre['prompt_tokens']:,} tokens) {where}: {pre['peak_gib']:.2f} GiB "
        f"({pre['peak_phase']}; {pre['peak_tensors_gib']:.2f} of tensors + allowance)",
        f"  estimate at the prompt as run ({run['prompt_tokens']} tokens): {run['peak_gib']:.2f} GiB "
        f"({run['peak_phase']}; {run['peak_tensors_gib']:.2f} of tensors)",
    ]
    if f["peak_memory_gib"] is None:
        return [*lines, "  measured peak: not measured (no CUDA)"]
    lines += [
        f"  measured peak: {f['peak_memory_gib']:.2f} GiB allocated, {f['peak_reserved_gib']:.2f} GiB reserved",
        "  allocated - estimated tensors (prompt as run): "
        f"{_difference(f['peak_memory_gib'], run['peak_tensors_gib'])}; reserved - preflight estimate: "
        f"{_difference(f['peak_reserved_gib'], pre['peak_gib'])}",
    ]
    if phases := f.get("phase_peaks"):
        est = run["phases"]
        generation = est["generation"]["tensors_gib"]
        update = max(est["update"]["tensors_gib"], est["optimizer step"]["tensors_gib"])
        lines.append(
            f"  step {phases['step']} by phase, allocated (reserved) vs estimated tensors: generation "
            f"{phases.get('generation_allocated_gib')} ({phases.get('generation_reserved_gib')}) vs "
            f"{generation:.2f}: {_difference(phases.get('generation_allocated_gib'), generation)}; "
            f"update + optimizer step {phases.get('update_allocated_gib')} ({phases.get('update_reserved_gib')}) vs "
            f"{update:.2f}: {_difference(phases.get('update_allocated_gib'), update)}")
    return lines


def markdown(results: list[dict]) -> list[str]:
    """The runs as a table to paste into docs (GiB; estimates at the prompt as run, then the preflight's)."""
    head = ("| run | device | prompts x rollouts, new tokens | micro-batch | s a step | padded/real (cut / uncut) "
            "| peak allocated / reserved | estimate: tensors as run / preflight | allocated - estimate as run |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for f in results:
        if not f.get("ran"):
            why = f["why"] if f["why"].startswith("failed") else f"never ran: {f['why']}"
            lines.append(f"| {f['setting']}, {f['path']}, {f['algorithm']} | {why} | | | | | | | |")
            continue
        pre, run = f["estimate"], f["estimate_as_run"]
        estimate = "not estimated" if "not_estimated" in pre else \
            f"{run['peak_tensors_gib']:.1f} ({run['peak_phase']}) / {pre['peak_gib']:.1f} ({pre['peak_phase']})"
        measured = "not measured" if f["peak_memory_gib"] is None else \
            f"{f['peak_memory_gib']:.1f} / {f['peak_reserved_gib']:.1f}"
        padding = "not recorded (CPU)" if f["padded_per_real"] is None else \
            f"{f['padded_per_real']:.2f} / {f['padded_per_real_uncut']:.2f}"
        difference = "n/a" if "not_estimated" in pre else _difference(f["peak_memory_gib"], run["peak_tensors_gib"])
        lines.append(f"| {f['setting']}, {f['path']}, {f['algorithm']} | {f['device']} | {f['prompts_per_step']} x 8, "
                     f"{f['max_new_tokens']:,} | {f['micro_batch']} | {f['seconds_per_step']:.1f} "
                     f"(first {f['first_step_seconds']:.1f}) | {padding} | {measured} | {estimate} | {difference} |")
    return lines


def run_child(command: list[str], timeout: float) -> tuple[int, dict | None, list[dict], str, bool]:
    """Run one child, echoing its progress lines; (exit code, figures, progress, stderr, timed out)."""
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        stopped = threading.Event()

        def stop():
            stopped.set()
            child.kill()

        timer = threading.Timer(timeout, stop)
        timer.start()
        figures, progress = None, []
        try:
            for line in child.stdout:
                if line.startswith(PROGRESS):
                    progress.append(json.loads(line[len(PROGRESS):]))
                    print(f"  {line[len(PROGRESS):].strip()}", flush=True)
                elif line.startswith('{"setting"'):
                    figures = json.loads(line)
            code = child.wait()
        finally:
            timer.cancel()
        err.seek(0)
        return code, figures, progress, err.read(), stopped.is_set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny shape on the CPU: checks the script anywhere")
    parser.add_argument("--settings", default="reduced",
                        help="comma-separated, of reduced (every path at a reduced size; the default) and 80gb "
                             "(the transformers path at params/paper/one_shot_pi1_80gb.yaml's settings)")
    parser.add_argument("--paths", default=",".join(PATHS),
                        help=f"reduced runs: comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS),
                        help="reduced runs: grpo: every path; ppo: the transformers path too (default both)")
    parser.add_argument("--steps", type=int, help="training steps a run (default 3, 80gb 2; 2 with --tiny)")
    parser.add_argument("--prompts", type=int,
                        help="prompts a step, 8 rollouts each (default 8, 80gb 16; 2 with --tiny)")
    parser.add_argument("--tokens", type=int,
                        help="new tokens a rollout (default 512, 80gb the params file's 3072; 16 with --tiny)")
    parser.add_argument("--timeout", type=float, default=570.0,
                        help="seconds a run may take before it is stopped and reported as failed (default 570)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one setting:path:algorithm, in this process
    args = parser.parse_args()
    if args.child:
        setting, path, algorithm = args.child.split(":")
        print(json.dumps(train_path(path, args, algorithm, setting)), flush=True)
        return 0

    import torch

    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    if unknown := sorted(set(settings) - set(SETTINGS)):
        parser.error(f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if unknown := sorted(set(paths) - set(PATHS)):
        parser.error(f"unknown path(s) {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    if unknown := sorted(set(algorithms) - set(ALGORITHMS)):
        parser.error(f"unknown algorithm(s) {', '.join(unknown)}; choose from {', '.join(ALGORITHMS)}")
    runs = []
    if "reduced" in settings:
        runs += [("reduced", path, "grpo") for path in paths if "grpo" in algorithms]
        runs += [("reduced", "transformers", "ppo")] if "ppo" in algorithms and "transformers" in paths else []
    if "80gb" in settings:
        runs.append(("80gb", "transformers", "grpo"))
    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA GPU here; run with --tiny to check the script on the CPU", file=sys.stderr)
        return 2
    results, failed = [], []
    for setting, path, algorithm in runs:
        name = path + ("" if algorithm == "grpo" else f", {algorithm}") + ("" if setting == "reduced" else " at 80 GB")
        skip = {"setting": setting, "path": path, "algorithm": algorithm, "ran": False}
        if path != "transformers" and importlib.util.find_spec(path) is None:
            print(f"{path}: not installed here, never ran (pip install -e '.[gpu]')", flush=True)
            results.append({**skip, "why": "not installed"})
            continue
        if args.tiny and path != "transformers":
            print(f"{path}: needs a GPU, not run with --tiny", flush=True)
            results.append({**skip, "why": "--tiny runs on the CPU"})
            continue
        steps, prompts, tokens = TINY_DEFAULTS if args.tiny else DEFAULTS[setting]
        steps, prompts = args.steps or steps, args.prompts or prompts
        tokens = args.tokens if args.tokens is not None else tokens
        command = [sys.executable, __file__, "--child", f"{setting}:{path}:{algorithm}", "--steps", str(steps),
                   "--prompts", str(prompts), *(["--tokens", str(tokens)] if tokens is not None else []),
                   *(["--tiny"] if args.tiny else [])]
        budget = "the params file's" if tokens is None else str(tokens)
        print(f"{name}: {steps} steps of {prompts} x 8 rollouts, {budget} new tokens ...", flush=True)
        code, figures, progress, stderr, timed_out = run_child(command, args.timeout)
        if code != 0 or figures is None:
            error = f"stopped after {args.timeout:g} s (--timeout)" if timed_out else \
                (stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"{name}: FAILED (exit {code}): {error}", flush=True)
            if progress:
                print(f"{name}: {len(progress)} step(s) finished before it ended: {json.dumps(progress[-1])}",
                      flush=True)
            print("\n".join(stderr.splitlines()[-20:]), file=sys.stderr)
            failed.append(name)
            results.append({**skip, "why": f"failed: {error}", "progress": progress})
            continue
        results.append({**figures, "ran": True})
        print(f"{name}: {figures['seconds_per_step']} s a step, {figures['generated_tokens_per_s']} generated "
              f"tokens/s, peak {figures['peak_memory_gib']} GiB, MFU {figures['mfu']} ({figures['device']})",
              flush=True)
        print(f"  padded/real completion tokens: {figures['padded_per_real']} cut, {figures['padded_per_real_uncut']} "
              "uncut (None: not recorded, the CPU keeps TRL's batching)", flush=True)
        print("\n".join(memory_lines(figures)), flush=True)
    print("\n".join(markdown(results)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"error: the GPU check failed on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
