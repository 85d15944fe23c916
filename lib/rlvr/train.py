"""One ``TrainConfig`` becomes one run: its folder, tables and checkpoints, trained by the config's algorithm.

``train`` prepares a run (TRL's arguments from ``rlvr.trl_args``, the data, the run
folder, held against a second run writing into it), resumes it from its last
checkpoint with the run's tables cut back to that checkpoint (``rlvr.rundir``), and
trains it with the algorithm's trainer from ``TRAINERS``. The trainers, with the
loss they train and how it departs from the reference code, are in
``rlvr.trainer`` (GRPO) and ``rlvr.ppo`` (PPO).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from trl import GRPOConfig

from .callbacks import LatestKeepsTrainingState, StepTable
from .config import TrainConfig
from .data import training_dataset
from .env import process_rank, world_size
from .generation import cpu_threads
from .memory import GIB, Launch, check_cuda_driver, preflight
from .models import load_model, load_tokenizer, no_transformers_bars, resolve
from .ppo import PPOTrainer
from .progress import Bars, ShowProgress
from .provenance import environment
from .registry import ALGORITHMS, implementations
from .rewards import RewardFunc, get_reward_funcs
from .rundir import RunLog, checkpoint_dir, exclusive, last_step, read_run_config, write_run_config, write_tables
from .toyworld.worlds import recorded_world
from .trainer import RLVRTrainer
from .trl_args import deviations, grpo_arguments, grpo_config
from .twins import copy_twin, find_twin
from .unsloth_path import PROMPT_TOKENS, load_unsloth_model, prepare

# The trainer of each algorithm (rlvr.registry.ALGORITHMS).
TRAINERS: dict[str, type[RLVRTrainer]] = implementations(ALGORITHMS, {"grpo": RLVRTrainer, "ppo": PPOTrainer},
                                                         "trainers")


def run_rewards(cfg: TrainConfig) -> list[RewardFunc]:
    """The run's reward functions (TRL's ``reward_funcs``): the configured reward with the
    config's parameters bound."""
    return get_reward_funcs(cfg.reward, reward_p=cfg.reward_p, seed=cfg.seed, group_size=cfg.rollouts_per_prompt)


def train(cfg: TrainConfig, *, resume: bool = True, callbacks: Sequence = (),
          progress: bool | str = True) -> Path:
    """Run (or resume) one training run; returns its output folder.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (a notebook's
    live plot, for one); they see each step after its row is in the step log.
    ``progress``: a bar for the run (``rlvr.progress``) labelled with the run folder's
    name, or with this text; False for none (a run whose caller shows its progress).
    """
    check_cuda_driver()  # a driver too old for torch's CUDA: said so, not a silent fall back to the CPU
    if cfg.backend == "unsloth":  # fails where Unsloth cannot run, before anything is written
        prepare()
    on_gpu = torch.cuda.is_available()
    if on_gpu and cfg.backend != "unsloth":  # a run that would not fit is refused before anything loads
        preflight(cfg, Launch.from_environment(), torch.cuda.get_device_properties(0).total_memory / GIB)
    args = grpo_config(cfg, on_gpu)  # TRL's own checks, before anything is written
    dataset = training_dataset(cfg)  # and the data's (a missing history file, an unknown example)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Under a multi-process launch (torchrun, accelerate) only the main process writes files,
    # and it holds the folder against a second run resuming into it at the same time.
    main_process = process_rank() == 0
    with exclusive(out) if main_process else contextlib.nullcontext():
        if resume and world_size() == 1 and last_step(out) is None and (twin := _twin(cfg)) is not None:
            copy_twin(twin, out)
            print(f"{out}: the same run as {twin} (every setting but its folder): copied, not trained", flush=True)
            return out
        _train(cfg, args, dataset, out, main_process, on_gpu, resume, callbacks, progress)
    return out


def _twin(cfg: TrainConfig) -> Path | None:
    """A finished run with ``cfg``'s settings from the same base model, where reuse is on (``rlvr.twins``)."""
    model_path = resolve(cfg.model)
    return find_twin(cfg.to_dict(), model_path, recorded_world(Path(model_path)), cfg.optimizer_steps)


# TRL says model_init_kwargs are ignored when it is given a loaded policy, but it builds the reference
# model with them (which is why they are set: its dtype): the warning would mislead.
_IGNORED_INIT_KWARGS = "`model_init_kwargs` will be ignored"


@contextlib.contextmanager
def _without_trl_warning(text: str):
    """TRL's GRPO trainer's log records containing ``text`` dropped inside."""

    def keep(record: logging.LogRecord) -> bool:
        return text not in record.getMessage()

    logger = logging.getLogger("trl.trainer.grpo_trainer")
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _train(cfg: TrainConfig, args: GRPOConfig, dataset, out: Path, main_process: bool, on_gpu: bool,
           resume: bool, callbacks: Sequence, progress: bool | str) -> None:
    if not on_gpu:
        torch.set_num_threads(cpu_threads(cfg.threads))
    log = RunLog(out)
    previous = last_step(out) if resume else None
    if main_process and previous is None:
        log.clear()
    elif main_process:
        log.truncate_after(previous)

    departures = deviations(cfg)
    for text in departures:
        warnings.warn(f"deviation from the paper: {text}", stacklevel=2)
    if main_process:
        write_run_config(
            out,
            {
                "config": cfg.to_dict(),
                "model_path": resolve(cfg.model),
                "world": recorded_world(Path(resolve(cfg.model))),  # the embedded world's switches; None: a real model
                "dataset_rows": len(dataset),
                "examples": sorted(set(dataset["example_id"]))[:50],
                "deviations": departures,
                "grpo_config": grpo_arguments(cfg, on_gpu, world_size()),
                "environment": environment(),
            },
        )

    if cfg.backend == "unsloth":
        model, tokenizer = load_unsloth_model(resolve(cfg.model), lora_rank=cfg.lora_rank, seed=cfg.seed,
                                              max_seq_length=PROMPT_TOKENS + cfg.max_completion_length)
    else:
        model = load_model(cfg.model, dtype="float32")  # float32 master weights; bf16 compute on GPU
        tokenizer = load_tokenizer(cfg.model)
    by_step: dict[int, list[dict]] = {}
    table = StepTable(log, by_step)
    if progress and main_process:
        label = progress if isinstance(progress, str) else out.name
        bars = Bars({label: (out, cfg.optimizer_steps)})
        callbacks = [*callbacks, ShowProgress(bars, label, lambda: table.row)]
    with no_transformers_bars(), _without_trl_warning(_IGNORED_INIT_KWARGS):  # loads the reference model, a critic
        trainer = TRAINERS[cfg.algorithm](
            model=model,
            reward_funcs=run_rewards(cfg),
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[table, LatestKeepsTrainingState(out), *callbacks],
            config=cfg,
            run_log=log,
            by_step=by_step,
        )
    with no_transformers_bars():
        trainer.train(resume_from_checkpoint=str(checkpoint_dir(out, previous)) if previous else None)
    if main_process:
        write_tables(out)
        # What generated the rollouts of this process's training (a resumed run: since the resume).
        write_run_config(out, {**(read_run_config(out) or {}), "samplers": sorted(trainer.samplers)})
