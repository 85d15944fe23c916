"""What a training run records as it goes, as transformers callbacks: one row of the step table a
optimizer step (``StepTable``), and older checkpoints pruned to what evaluation reads
(``LatestKeepsTrainingState``). ``rlvr.trainer.RLVRTrainer`` fills the rollouts they read."""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from .rundir import STEPS_LOG, RunLog, drop_training_state


class StepTable(TrainerCallback):
    """One row per optimizer step: TRL's metrics plus accuracy, format and speed."""

    def __init__(self, log: RunLog, by_step: dict):
        self.log = log
        self.by_step = by_step  # rollouts of the current step, filled by the trainer as it scores them
        self.last: tuple[list[dict], int | None] = ([], None)  # the latest rollout batch and its step
        self.row: dict | None = None  # the latest row written
        self.t0 = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs and "reward" not in logs or not state.is_world_process_zero:
            return
        step = state.global_step
        rollouts = self.by_step.pop(step, None)
        if rollouts is None:
            # With several optimizer steps per rollout batch, the later steps train on the
            # batch generated at the first: report that batch (rollout_step says which).
            rollouts, rollout_step = self.last
        else:
            self.last, rollout_step = (rollouts, step), step
        seconds = time.perf_counter() - self.t0
        tokens = sum(r["n_tokens"] or 0 for r in rollouts)
        row = {
            "step": step,
            "rollout_step": rollout_step,
            "train_accuracy": _mean(r["correct"] for r in rollouts),
            "boxed_rate": _mean(r["boxed"] for r in rollouts),
            "truncation_rate": _mean(r["truncated"] for r in rollouts),
            "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
            **{k.replace("/", "_"): v for k, v in logs.items()},
        }
        self.log.append(STEPS_LOG, [row])
        self.row = row


class LatestKeepsTrainingState(TrainerCallback):
    """After each checkpoint is written, earlier checkpoints lose what only a resume reads: the
    optimizer state, and under FSDP or DeepSpeed the model's float32 copy (``rundir.drop_training_state``):
    100 checkpoints of the paper's run would otherwise hold 100 copies of them."""

    def __init__(self, out: Path):
        self.out = out

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            drop_training_state(self.out, keep=state.global_step)


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None
