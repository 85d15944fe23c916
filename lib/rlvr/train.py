"""The GRPO engine: one ``TrainConfig`` becomes one TRL ``GRPOTrainer`` run.

TRL does the RL (generation, group advantages, clipped policy loss, k3 KL,
entropy bonus); this module configures it to the paper's recipe and adds what
the paper's experiments need and TRL lacks:

* the 1-/few-shot datasets (one example repeated to fill the batch, each copy
  its own GRPO group, as the reference code does), label overrides and noise;
* ``pg_loss_coef`` (0 = entropy-only training), by scaling the advantages;
* checkpoints written in the base model's dtype (not float32: Tab. 7);
* the per-step table, every rollout's reward with (step, epoch, example), and
  sample rollouts, written as the run goes and cut back to the checkpoint on
  resume, so a killed run continues without lost or duplicated rows.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from transformers import TrainerCallback

from .config import TrainConfig
from .data import load_dataset
from .generation import cpu_threads
from .grading import extract_answer, grade_many
from .labels import corrupt_labels, override_label
from .models import BASE_DTYPE_KEY, EVAL_TEMPLATE_KEY, eval_dtype_for, eval_template_for, load_model, load_tokenizer, resolve
from .prompts import training_messages
from .provenance import environment
from .rewards import completion_text, get_reward

RUN_CONFIG = "run_config.json"
STEPS_LOG = "steps.jsonl"
ROLLOUTS_LOG = "rollouts.jsonl"
SAMPLES_LOG = "samples.jsonl"
SAMPLES_PER_STEP = 8
ADAPTER_DIR = "adapter"  # LoRA runs: a checkpoint's adapters, beside the merged model


# ----------------------------------------------------------------------------- data


def choose_examples(cfg: TrainConfig) -> Dataset:
    """The training examples, labels already overridden or corrupted as configured."""
    if cfg.problem is not None:
        data = Dataset.from_list([{"id": "custom", "problem": cfg.problem, "answer": str(cfg.answer)}])
    else:
        data = load_dataset(cfg.dataset, cfg.data_source, limit=cfg.limit)
        ids = cfg.examples
        if cfg.example_rank is not None:
            from .selection import load_history, rank_examples

            ranking = rank_examples(load_history(cfg.history_file))
            ids = [ranking[cfg.example_rank - 1]]
        if ids is not None:
            data = load_dataset(cfg.dataset, cfg.data_source, subset=ids)
    if cfg.label is not None:
        data = override_label(data, cfg.label)
    if cfg.label_noise > 0:
        data = corrupt_labels(data, cfg.label_noise, seed=cfg.seed)
    return data


def training_dataset(cfg: TrainConfig) -> Dataset:
    """Rows with a chat ``prompt``, the gold ``answer`` and ``example_id``.

    A 1-/few-shot set (fewer examples than prompts per step) is repeated to
    fill the batch: k examples get ``prompts_per_step // k`` copies each, as the
    reference code's ``pi1_r128`` (128 copies) and 2-shot (64 + 64) files.
    """
    examples = choose_examples(cfg)
    rows = [
        {"prompt": training_messages(r["problem"]), "answer": r["answer"], "example_id": str(r["id"])}
        for r in examples
    ]
    if len(rows) < cfg.prompts_per_step:
        copies = max(1, cfg.prompts_per_step // len(rows))
        rows = [row for row in rows for _ in range(copies)]
    return Dataset.from_list(rows)


# ----------------------------------------------------------------------------- records


class RunLog:
    """Append-only JSONL tables of a run, cut back to a step on resume."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def append(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        with open(self.out / name, "a") as f:
            for row in rows:
                f.write(json.dumps(row, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self, name: str) -> list[dict]:
        path = self.out / name
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: the step is redone anyway
                break
        return rows

    def truncate_after(self, step: int) -> None:
        """Drop the rows of steps after ``step`` (they are redone after a resume)."""
        for name in (STEPS_LOG, ROLLOUTS_LOG, SAMPLES_LOG):
            kept = [r for r in self.read(name) if r["step"] <= step]
            tmp = self.out / (name + ".tmp")
            tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in kept))
            tmp.replace(self.out / name)


def make_reward(cfg: TrainConfig, log: RunLog, steps_per_epoch: int, by_step: dict | None = None) -> Callable:
    """The configured reward as a TRL reward function that also records every rollout
    (to the log, and into ``by_step`` for the step table)."""
    reward_fn = get_reward(cfg.reward)

    def reward(prompts, completions, answer, example_id, trainer_state=None, **kwargs):
        texts = [completion_text(c) for c in completions]
        rewards = reward_fn(prompts=prompts, completions=completions, answer=answer, **kwargs)
        correct = grade_many(texts, answer, "train")  # training accuracy, whatever the reward
        step = (trainer_state.global_step if trainer_state is not None else 0) + 1
        epoch = (step - 1) // steps_per_epoch
        ids = kwargs.get("completion_ids") or [None] * len(texts)
        rank, world = process_rank(), world_size()
        per_process = len(texts) // cfg.rollouts_per_prompt  # groups this process holds
        rows = [
            {
                "step": step, "epoch": epoch, "example_id": eid, "row": rank * per_process + i // cfg.rollouts_per_prompt,
                "rollout": i % cfg.rollouts_per_prompt, "reward": r, "correct": bool(c),
                "boxed": extract_answer(t, "train") is not None,
                "n_tokens": len(tok) if tok is not None else None,
                "truncated": tok is not None and len(tok) >= cfg.max_completion_length,
            }
            for i, (eid, r, c, t, tok) in enumerate(zip(example_id, rewards, correct, texts, ids))
        ]
        samples = [
            {"step": step, "example_id": eid, "completion": t, "correct": bool(c)}
            for eid, t, c in list(zip(example_id, texts, correct))[:SAMPLES_PER_STEP]
        ]
        if world > 1:
            # Each process scores its own share of the batch: the main process writes them all.
            rows, samples = _gather(rows), _gather(samples)[:SAMPLES_PER_STEP]
            if rank != 0:
                return rewards
        log.append(ROLLOUTS_LOG, rows)
        if by_step is not None:
            by_step.setdefault(step, []).extend(rows)
        log.append(SAMPLES_LOG, samples)
        return rewards

    reward.__name__ = f"{cfg.reward}_reward"
    return reward


def _gather(rows: list[dict]) -> list[dict]:
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


class StepTable(TrainerCallback):
    """One row per optimizer step: TRL's metrics plus accuracy, format and speed."""

    def __init__(self, log: RunLog, by_step: dict):
        self.log = log
        self.by_step = by_step  # rollouts of the current step, filled by the reward function
        self.last: tuple[list[dict], int | None] = ([], None)  # the latest rollout batch and its step
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


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


# ----------------------------------------------------------------------------- trainer


def _trainer_class():
    from trl import GRPOTrainer

    class RLVRTrainer(GRPOTrainer):
        """TRL's GRPO with the two things the paper needs that TRL lacks."""

        pg_loss_coef: float = 1.0
        base_dtype: str = "float32"
        eval_template: str = "qwen25-math-cot"
        lora: bool = False  # the Unsloth path: the model is a PEFT model with LoRA adapters

        def _compute_loss(self, model, inputs):
            # The clipped policy term is linear in the advantages, so scaling them by
            # pg_loss_coef scales that term alone; 0 leaves KL and entropy (Tab. 5 row 10).
            if self.pg_loss_coef != 1.0:
                inputs = {**inputs, "advantages": inputs["advantages"] * self.pg_loss_coef}
            return super()._compute_loss(model, inputs)

        def _save(self, output_dir=None, state_dict=None):
            # Checkpoints in the base model's dtype, with it and the base model's
            # prompt template recorded for evaluation.
            output_dir = output_dir or self.args.output_dir
            setattr(self.model.config, BASE_DTYPE_KEY, self.base_dtype)
            setattr(self.model.config, EVAL_TEMPLATE_KEY, self.eval_template)
            self.model.config.dtype = self.base_dtype
            if self.lora:
                # Evaluation loads a checkpoint folder as a full model, so the merged 16-bit
                # weights go there (Unsloth merges into a copy; training goes on unmerged); the
                # adapters, which a resume needs, go to a subfolder that model loaders ignore.
                super()._save(os.path.join(output_dir, ADAPTER_DIR), state_dict=state_dict)
                self.model.save_pretrained_merged(output_dir, self.processing_class, save_method="merged_16bit")
                return
            dtype = getattr(torch, self.base_dtype)
            state_dict = state_dict if state_dict is not None else self.model.state_dict()
            state_dict = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
            super()._save(output_dir, state_dict=state_dict)

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            # A LoRA checkpoint's root holds merged weights, which must not be loaded into
            # the PEFT model; its adapters resume it (as transformers resumes PEFT models).
            adapter = os.path.join(resume_from_checkpoint, ADAPTER_DIR)
            if self.lora and os.path.isdir(adapter):
                model = model if model is not None else self.model
                model.load_adapter(adapter, model.active_adapters[0], is_trainable=True)
                return
            super()._load_from_checkpoint(resume_from_checkpoint, model)

    return RLVRTrainer


def world_size() -> int:
    """Training processes: ``accelerate launch`` (torchrun) sets WORLD_SIZE in each. Read from
    the environment so that nothing initialises torch.distributed before TRL does."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """This process's index among them (0 in a single process), read from the environment
    like ``world_size`` (which grpo_config checks against accelerate's process count)."""
    return int(os.environ.get("RANK", "0"))


def batch_split(cfg: TrainConfig, micro_batch: int, processes: int) -> tuple[int, int]:
    """``(per-device micro-batch, gradient-accumulation steps)`` that keep an optimizer
    step at the configured global batch (128 x 8 = 1024 completions in the paper) for any
    number of processes: each process takes an equal share, in equal micro-batches of at
    most ``micro_batch`` completions."""
    per_optimizer_step = cfg.prompts_per_step * cfg.rollouts_per_prompt // cfg.optimizer_steps_per_rollout
    if per_optimizer_step % processes:
        fits = [n for n in range(1, 17) if per_optimizer_step % n == 0]
        raise ValueError(
            f"{per_optimizer_step} completions per optimizer step do not split evenly over {processes} "
            f"training processes; TRL gives every process the same batch. Train on {fits} processes "
            "(or change prompts_per_step, which departs from the paper's batch)."
        )
    share = per_optimizer_step // processes
    # The largest micro-batch that divides the share: a remainder would silently shrink the batch.
    micro = max(d for d in range(1, min(micro_batch, share) + 1) if share % d == 0)
    return micro, share // micro


def grpo_config(cfg: TrainConfig, micro_batch: int, on_gpu: bool):
    """TRL's GRPOConfig with every field whose default differs from the paper set."""
    from trl import GRPOConfig

    processes = world_size()
    micro, accumulation = batch_split(cfg, micro_batch, processes)
    # Unsloth generates with its own in-process vLLM engine, which TRL's colocate mode hands over to.
    use_vllm = cfg.backend in ("vllm", "unsloth") or (
        cfg.backend == "auto" and on_gpu and (cfg.vllm_mode == "server" or _has_vllm()))
    args = GRPOConfig(
        output_dir=cfg.output_dir,
        seed=cfg.seed,
        max_steps=cfg.steps * cfg.optimizer_steps_per_rollout,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation * cfg.optimizer_steps_per_rollout,
        num_generations=cfg.rollouts_per_prompt,
        num_iterations=1,  # on-policy: one pass over each rollout batch
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=0,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=cfg.weight_decay,
        adam_beta1=0.9,
        adam_beta2=0.999,
        max_grad_norm=cfg.max_grad_norm,
        beta=cfg.beta,
        use_bias_correction_kl=False,  # verl's low_var_kl has no importance weight
        epsilon=cfg.clip_epsilon,
        loss_type="dapo",  # token mean over the whole rollout batch, as verl's token-mean
        scale_rewards="group",
        mask_truncated_completions=False,
        entropy_coef=cfg.entropy_coef,
        vllm_importance_sampling_correction=False,  # verl 0.2 had none
        shuffle_dataset=True,
        save_strategy="steps",
        save_steps=cfg.save_every * cfg.optimizer_steps_per_rollout,
        logging_steps=1,
        report_to=cfg.report_to or "none",
        use_cpu=not on_gpu,
        bf16=on_gpu,
        use_vllm=use_vllm,
        vllm_mode=cfg.vllm_mode,
        vllm_server_host=cfg.vllm_server_host,
        vllm_server_port=cfg.vllm_server_port,
        disable_tqdm=False,
    )
    if args.world_size != processes:  # a launcher that does not set WORLD_SIZE: the batch would be off
        raise RuntimeError(f"WORLD_SIZE says {processes} processes, accelerate runs {args.world_size}; "
                           "launch with `accelerate launch` (docs/gpu.md)")
    return args


def _has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def deviations(cfg: TrainConfig) -> list[str]:
    """How a run's setup departs from the paper's method (recorded in run_config.json)."""
    if cfg.lora_rank > 0:
        return [f"LoRA (rank {cfg.lora_rank}, alpha {cfg.lora_rank}, attention and MLP projections) on the "
                "Unsloth path instead of full fine-tuning; base weights frozen in 16 bit; the learning rate "
                f"{cfg.learning_rate:g} was set for full fine-tuning"]
    return []


def last_checkpoint(out: Path) -> int | None:
    steps = [int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    return max(steps) if steps else None


def train(cfg: TrainConfig, *, resume: bool = True, micro_batch: int = 16, callbacks: Sequence = ()) -> Path:
    """Run (or resume) one training run; returns its output folder.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (a notebook's
    live plot, for one); they see each step after its row is in the step log.
    """
    cfg.validate()
    if cfg.backend == "unsloth":  # fails where Unsloth cannot run, before anything is written
        from .unsloth_path import prepare

        prepare()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        torch.set_num_threads(cpu_threads(cfg.threads))
    log = RunLog(out)
    # Under a multi-process launch (torchrun, accelerate) only the main process writes files.
    main_process = process_rank() == 0
    previous = last_checkpoint(out) if resume else None
    if main_process and previous is None:
        for name in (STEPS_LOG, ROLLOUTS_LOG, SAMPLES_LOG):
            (out / name).unlink(missing_ok=True)
    elif main_process:
        log.truncate_after(previous)

    dataset = training_dataset(cfg)
    steps_per_epoch = max(1, len(dataset) // cfg.prompts_per_step)
    departures = deviations(cfg)
    for text in departures:
        warnings.warn(f"deviation from the paper: {text}", stacklevel=2)
    if main_process:
        (out / RUN_CONFIG).write_text(json.dumps(
            {"config": cfg.to_dict(), "model_path": resolve(cfg.model), "dataset_rows": len(dataset),
             "examples": sorted(set(dataset["example_id"]))[:50], "deviations": departures,
             "environment": environment()}, indent=2))

    base_dtype = eval_dtype_for(cfg.model)
    if cfg.backend == "unsloth":
        from .unsloth_path import load as load_unsloth

        model, tokenizer = load_unsloth(cfg)
    else:
        model = load_model(cfg.model, dtype="float32")  # float32 master weights; bf16 compute on GPU
        tokenizer = load_tokenizer(cfg.model)
    trainer_cls = _trainer_class()
    by_step: dict[int, list[dict]] = {}
    trainer = trainer_cls(
        model=model,
        reward_funcs=[make_reward(cfg, log, steps_per_epoch, by_step)],
        args=grpo_config(cfg, micro_batch, on_gpu),
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[StepTable(log, by_step), *callbacks],
    )
    trainer.pg_loss_coef = cfg.pg_loss_coef
    trainer.base_dtype = base_dtype
    trainer.eval_template = eval_template_for(cfg.model)
    trainer.lora = cfg.lora_rank > 0
    trainer.train(resume_from_checkpoint=str(out / f"checkpoint-{previous}") if previous else None)
    if main_process:
        write_tables(out)
    return out


def write_tables(out: Path) -> dict[str, Path]:
    """The run's logs as tidy Parquet tables, plus the per-epoch history JSON."""
    log = RunLog(out)
    paths = {}
    for name in (STEPS_LOG, ROLLOUTS_LOG, SAMPLES_LOG):
        rows = log.read(name)
        if rows:
            path = out / name.replace(".jsonl", ".parquet")
            pd.DataFrame(rows).to_parquet(path, index=False)
            paths[name] = path
    rollouts = log.read(ROLLOUTS_LOG)
    if rollouts:
        from .selection import history_from_rollouts

        path = out / "history_accuracy.json"
        path.write_text(json.dumps(history_from_rollouts(pd.DataFrame(rollouts))))
        paths["history"] = path
    return paths
