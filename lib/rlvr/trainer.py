"""The lab's GRPO trainer: TRL's ``GRPOTrainer`` with what the paper's experiments need and TRL lacks.

TRL does the RL (generation, group advantages, the clipped policy loss, k3 KL,
the entropy bonus), configured to the paper's recipe by ``rlvr.trl_args``; this
module adds ``pg_loss_coef`` (0 trains on the entropy and KL terms alone, Tab. 5),
checkpoints in the base model's dtype (not float32: Tab. 7), a seed for each vLLM
rollout request from the run's (``rollout_seeds``), and the run's tables
(every rollout's reward with its step, epoch and example; one row per step through
``rlvr.callbacks``), cut
back to the checkpoint on resume so a killed run continues without lost or
doubled rows (``rlvr.rundir``).

The loss trained, as TRL 1.14 computes it with ``rlvr.trl_args``' settings. For a rollout
batch of G rollouts o_1..o_G of each prompt q, with rewards r_i::

    A_i    = (r_i - mean_j r_j) / (std_j r_j + 1e-4)          per group (scale_rewards="group")
    rho_it = pi_theta(o_it | q, o_i<t) / pi_old(o_it | ...)    = 1 in value, on-policy (num_iterations=1)
    kl_it  = exp(ref_it - logp_it) - (ref_it - logp_it) - 1    k3 ("low_var_kl"), no importance weight, unclamped
    L_pg   = sum_it [ -min(rho_it A_i c, clip(rho_it, 1-eps, 1+eps) A_i c) + beta kl_it ] / T
    L      = L_pg - entropy_coef * H

with c = ``pg_loss_coef``, and A_i as ``advantage`` says (``shaped_advantages``),
eps = ``clip_epsilon``, T the number of completion
tokens in the whole rollout batch (token-level aggregation, loss_type "dapo"),
and H the mean per-token entropy over the completion tokens of a micro-batch
(divided by the gradient-accumulation steps, so averaged over micro-batches).

Departures from the reference code (its verl ``dp_actor``): verl's "token-mean"
averages the policy and KL terms over the tokens of each micro-batch, then over
micro-batches; TRL divides them by the token count of the whole batch, so every
token weighs the same whichever micro-batch it falls in. The two agree when
micro-batches hold equally many tokens; the entropy term is a per-micro-batch
mean in both. verl clamps kl_it to [-10, 10] (``core_algos.kl_penalty``); TRL does
not, a departure recorded in the run's ``run_config.json`` (``trl_args.deviations``;
the Unsloth path's own loss clamps as verl does). ``trl:`` settings can change any of
this; what they change is recorded there as a deviation too. On GPUs a rollout batch's
micro-batches hold rollouts of similar length, each cut at its own longest (TRL shuffles
them and pads all to the longest: ``length_grouped_micro_batches``); the policy and KL
terms are unchanged by it, the entropy term's per-micro-batch means are taken over other
groups of rollouts (verl does not shuffle either).

The follow-up literature's modes, and how they depart from their papers:

- PSR / NSR / W-REINFORCE as Zhu et al. 2025 define them (arXiv 2506.01347, their verl fork
  ``TianHongZXY/RLVR-Decomposed``; ``advantage: psr | nsr | w-reinforce``): A_i = +1 / 0,
  0 / -1, lambda / -1 for a right / wrong rollout, no group normalisation, in place of GRPO's
  A_i. Their code averages the clipped term over each micro-batch's tokens (verl's token-mean);
  here T counts the whole batch's tokens, as for every run. Their recipe's other settings
  (no KL, four optimizer steps per rollout batch) are the params file's, not implied here.
- ``advantage: algorithm-positive | algorithm-negative``: GRPO's own advantages where their
  sign is the one named, 0 elsewhere (the lab's earlier stand-in for PSR / NSR): an all-wrong
  group gets no signal, and T still counts every rollout's tokens, so the term is scaled by
  the share of tokens it trains on. KL and entropy terms act on all rollouts.
- Entropy minimisation without reward (``pg_loss_coef: 0``, ``entropy_coef < 0``;
  one-shot EM, arXiv 2505.20282): L = |entropy_coef| * H, the mean token entropy of
  the policy's own samples over the full vocabulary at the rollout temperature,
  averaged per micro-batch as TRL does; the reward is computed and logged but trains
  nothing. Sampling temperature, batch and steps are the config's, not that paper's.
"""

from __future__ import annotations

import inspect
import math
import os

import torch
from transformers import PrinterCallback
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.trainer.utils import pad, split_tensor_dict

from . import fastgen
from .backends import SeededRequests, rollout_seeds
from .config import TrainConfig
from .env import process_rank, world_size
from .grading import extract_answer, grade_many
from .models import BASE_DTYPE_KEY, EVAL_TEMPLATE_KEY, eval_dtype_for, eval_template_for
from .registry import ADVANTAGES, REWARD_ADVANTAGES, implementations
from .rewards import completion_text
from .rundir import ADAPTER_DIR, ROLLOUTS_LOG, SAMPLES_LOG, RunLog

SAMPLES_PER_STEP = 8


def _gather(rows: list[dict]) -> list[dict]:
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


def shaped_advantages(advantages: torch.Tensor, rewards: torch.Tensor, kind: str, pg_loss_coef: float,
                      positive_weight: float = 0.1) -> torch.Tensor:
    """The advantages the policy term trains on (``registry.ADVANTAGES``), one per rollout (or per token).

    ``advantages`` are the algorithm's own, ``rewards`` each rollout's reward (1 right, 0 wrong). The
    ``algorithm-*`` kinds keep one sign of the algorithm's own (a zero advantage gives its rollout no
    policy gradient). Zhu et al.'s objectives (``psr``, ``nsr``, ``w-reinforce``) replace them with
    ``w_right * r + w_wrong * (r - 1)``: +1 / 0 (PSR), 0 / -1 (NSR), ``positive_weight`` / -1
    (W-REINFORCE) for a right / wrong rollout, with no group normalisation, so a group where every
    rollout is wrong still pushes each of them down. The clipped policy term is linear in the
    advantages, so scaling by ``pg_loss_coef`` scales that term alone (0 leaves KL and entropy:
    Tab. 5 row 10)."""
    if kind in REWARD_WEIGHTS:
        right, wrong = REWARD_WEIGHTS[kind](positive_weight)
        r = rewards.to(advantages.dtype).reshape(-1, *([1] * (advantages.dim() - 1)))
        advantages = (right * r + wrong * (r - 1)).expand_as(advantages).clone()
    elif kind == "algorithm-positive":
        advantages = advantages.clamp(min=0)
    elif kind == "algorithm-negative":
        advantages = advantages.clamp(max=0)
    return advantages * pg_loss_coef


# Zhu et al.'s objectives: (weight of a right rollout, weight of a wrong one) given W-REINFORCE's lambda.
REWARD_WEIGHTS = implementations({name: ADVANTAGES[name] for name in REWARD_ADVANTAGES}, {
    "psr": lambda positive_weight: (1.0, 0.0),
    "nsr": lambda positive_weight: (0.0, 1.0),
    "w-reinforce": lambda positive_weight: (positive_weight, 1.0),
}, "objectives on the rewards alone")


def all_wrong_groups(rewards: torch.Tensor, advantages: torch.Tensor, group_size: int) -> dict[str, float]:
    """How much of the policy term comes from groups where every rollout is wrong: their share of the
    groups, and their share of the advantages' total weight (0 under GRPO, which gives such a group no
    signal; most of it under NSR on a set the model mostly fails)."""
    wrong = (rewards.reshape(-1, group_size) <= 0).all(dim=1)
    weight = advantages.detach().abs().reshape(rewards.numel(), -1).sum(dim=1).reshape(-1, group_size).sum(dim=1)
    total = float(weight.sum())
    return {"all_wrong_groups": float(wrong.float().mean()),
            "all_wrong_weight": float(weight[wrong].sum()) / total if total > 0 else 0.0}


# ----------------------------------------------------------------------------- trainer

# Rows scored together on the CPU: small enough that a group's rows have similar lengths,
# large enough that per-op overhead stays small (the cpu preset's 16 rollouts: 4 groups).
LENGTH_GROUP_ROWS = 4
# A scored batch's tensors with a column a completion token: cut to a micro-batch's longest completion.
PER_TOKEN = ("completion_ids", "completion_mask", "old_per_token_logps", "ref_per_token_logps",
             "sampling_per_token_logps", "importance_sampling_ratio", "tool_mask")


def length_grouped_micro_batches(batch: dict, chunks: int) -> tuple[list[dict], dict[str, float]]:
    """``batch`` (a scored generation batch) cut into ``chunks`` micro-batches of rollouts of similar
    length, shortest first, each cut at its own longest completion; and the padded tokens per real
    completion token, so cut (``padded_per_real``) and as TRL pads (``padded_per_real_uncut``)."""
    mask = batch["completion_mask"]
    order = torch.argsort(mask.sum(1), stable=True)
    rows = mask.size(0)

    def permuted(value):
        if isinstance(value, torch.Tensor):
            return value[order.to(value.device)] if value.ndim >= 1 else value
        return [value[i] for i in order.tolist()] if isinstance(value, list) and len(value) == rows else value

    parts = split_tensor_dict({k: permuted(v) for k, v in batch.items()}, chunks)
    padded = 0
    for part in parts:
        keep = max(int(part["completion_mask"].sum(1).max()), 1)
        for key in PER_TOKEN:
            value = part.get(key)
            if isinstance(value, torch.Tensor) and value.ndim >= 2 and value.size(1) == mask.size(1):
                part[key] = value[:, :keep]
        padded += part["completion_mask"].numel()
    real = max(int(mask.sum()), 1)
    return parts, {"padded_per_real": padded / real, "padded_per_real_uncut": mask.numel() / real}


def signature_text(function, added_varargs: bool = False) -> str:
    """``function``'s parameters as ``inspect`` renders them, without annotations; ``added_varargs``:
    without its ``*args`` and ``**kwargs``."""
    varargs = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) if added_varargs else ()
    parameters = [p.replace(annotation=inspect.Parameter.empty)
                  for p in inspect.signature(function).parameters.values() if p.kind not in varargs]
    return str(inspect.Signature(parameters))


def overrides(signature: str | None = None):
    """Marks a method as an override of TRL's (or transformers') method of the same name, written
    against that method's ``signature`` (``signature_text``); None: the override's own, less the
    ``*args, **kwargs`` it may add. tests/test_extension_points.py checks that the pinned TRL still
    has each so: a TRL upgrade that renames or reshapes one fails there, not in a run."""

    def mark(method):
        method.trl_signature = signature if signature is not None else signature_text(method, added_varargs=True)
        return method

    return mark


class RLVRTrainer(GRPOTrainer):
    """TRL's GRPO with what the paper needs that TRL lacks, read from ``config``:
    the policy-gradient loss's scale, checkpoints in the base model's dtype
    that record the base model's evaluation template, and the run's record of
    every rollout (to ``run_log``, and into ``by_step`` for the step table; none
    without a ``run_log``)."""

    def __init__(self, *args, config: TrainConfig, run_log: RunLog | None = None, by_step: dict | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.remove_callback(PrinterCallback)  # it prints every step's log dict; the step table has them
        self.rlvr_config = config
        self.run_log, self.rollouts_by_step = run_log, by_step
        self.pg_loss_coef = config.pg_loss_coef
        self.base_dtype = eval_dtype_for(config.model)
        self.eval_template = eval_template_for(config.model)
        self.lora = config.lora_rank > 0  # the Unsloth path: a PEFT model with LoRA adapters
        self.samplers: set[str] = set()  # what generated the rollouts (recorded in run_config.json)
        self._rollout_calls = (-1, 0)  # (step, vLLM generations at it), for rollout_seeds
        if self.use_vllm and self.vllm_mode == "colocate":  # TRL's engine (Unsloth's, on its path)
            self.vllm_generation.llm = SeededRequests(self.vllm_generation.llm, self.rollout_seeds)

    def rollout_seeds(self, n: int) -> list[int]:
        """Seeds of the ``n`` vLLM requests this process is about to send (``backends.rollout_seeds``): from
        the run's seed, its engine (the processes of a tensor-parallel group share one, and its requests)
        and the step, so that a run seed reproduces its rollouts and another seed draws others."""
        step, calls = self._rollout_calls
        calls = calls + 1 if step == self.state.global_step else 0
        self._rollout_calls = (self.state.global_step, calls)
        engine = self.accelerator.process_index // self.args.vllm_tensor_parallel_size
        return rollout_seeds(self.rlvr_config.seed, engine, self.state.global_step, n, calls)

    def uses_fast_sampler(self) -> bool:
        """Whether text rollouts come from rlvr.fastgen, which samples as transformers' generate()
        does without its per-token overhead: where it covers the model and the sampling settings."""
        return (self.rlvr_config.fast_generation and not self.use_vllm
                and not self.use_transformers_continuous_batching and self.min_p is None
                and self.repetition_penalty == 1.0 and not self.args.generation_kwargs
                and fastgen.supports(self.accelerator.unwrap_model(self.model)))

    @overrides()
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if images or multimodal_fields or not self.uses_fast_sampler():
            self.samplers.add("trl")
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        self.samplers.add("rlvr.fastgen")
        model = self.accelerator.unwrap_model(self.model)
        pad_id = self._tokenizer.pad_token_id
        rows = [torch.tensor(ids) for ids in prompt_ids]
        ids = pad(rows, padding_value=pad_id, padding_side="left")
        mask = pad([torch.ones_like(r) for r in rows], padding_value=0, padding_side="left")
        with profiling_context(self, "rlvr.fastgen.sample"):
            tokens = fastgen.sample(model, ids, mask, max_new_tokens=self.max_completion_length,
                                    eos_token_ids=self.eos_token_ids, pad_token_id=pad_id,
                                    temperature=self.temperature, top_p=self.top_p, top_k=self.top_k or None)
        ends = set(self.eos_token_ids)
        completions = []
        for row in tokens.tolist():  # up to and including the first end token, as TRL keeps it
            stop = next((i for i, t in enumerate(row) if t in ends), len(row) - 1)
            completions.append(row[: stop + 1])
        return completions, None

    @overrides("(self, model, *args, batch_size=None, compute_aux_loss=False, **kwargs)")
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args,
                                           **kwargs):
        # On the CPU, score text rollouts in groups of similar length, each cut at its longest
        # completion: TRL pads every row to the batch's longest, and at this size the work
        # follows the tokens (about a third fewer at the cpu preset). A causal model's outputs
        # for a row's tokens do not depend on padding after them, so the values are TRL's.
        # Anywhere else the call goes through exactly as it came: Unsloth's trainer passes
        # batch_size and its own flags by position.
        batch_size = kwargs.pop("batch_size", None)
        plain_text = not args and all(v is None for v in kwargs.values() if not isinstance(v, bool))
        if (input_ids.device.type != "cpu" or self.use_liger_kernel or kwargs.get("compute_aux_loss")
                or not plain_text or input_ids.size(0) < 2 * LENGTH_GROUP_ROWS):
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              *args, **kwargs)
        completion_lengths = attention_mask[:, -logits_to_keep:].sum(1)
        order = torch.argsort(completion_lengths, stable=True)
        prompt_columns = input_ids.size(1) - logits_to_keep
        logps, entropies = [], []
        for rows in order.split(LENGTH_GROUP_ROWS):
            keep = max(int(completion_lengths[rows].max()), 1)
            part_logps, part_entropies, _ = super()._get_per_token_logps_and_entropies(
                model, input_ids[rows, : prompt_columns + keep], attention_mask[rows, : prompt_columns + keep],
                keep, batch_size=batch_size, **kwargs)
            logps.append(torch.nn.functional.pad(part_logps, (0, logits_to_keep - keep)))
            if part_entropies is not None:
                entropies.append(torch.nn.functional.pad(part_entropies, (0, logits_to_keep - keep)))
        inverse = torch.argsort(order)
        return torch.cat(logps)[inverse], (torch.cat(entropies)[inverse] if entropies else None), None

    def groups_by_length(self) -> bool:
        """Whether micro-batches hold rollouts of similar length, cut at their longest (on GPUs, for
        text): TRL shuffles the rollouts and pads every one to the batch's longest, which at the
        paper's 3,072-token budget is about 2.8 tokens for each real one. On the CPU the scoring
        groups rows by length itself and TRL's shuffle keeps the random stream the runs were made with."""
        return self.accelerator.device.type != "cpu" and not self.lora

    @overrides()
    def _prepare_inputs(self, generation_batch):
        # TRL's training branch with its shuffle replaced by length grouping: the loss sums every token
        # over the whole batch's count (loss_type "dapo"), so which micro-batch a rollout falls in
        # changes only the entropy term's per-micro-batch means (verl, which does not shuffle either,
        # has the same).
        if not (self.model.training and self.groups_by_length()):
            return super()._prepare_inputs(generation_batch)
        if self._step % (self.args.steps_per_generation * self.num_iterations) == 0 or self._buffered_inputs is None:
            batch = self._generate_and_score_completions(generation_batch)
            if "pixel_values" in batch:
                raise ValueError("length grouping covers text rollouts; images take TRL's own batching")
            self._buffered_inputs, padding = length_grouped_micro_batches(batch, self.args.steps_per_generation)
            for name, value in padding.items():
                self._metrics["train"][name].append(value)
        return self._buffered_inputs[self._step % self.args.steps_per_generation]

    @overrides()
    def _generate_and_score_completions(self, inputs):
        # pg_loss_coef and the kind of advantage shape the advantages as they are made, before any
        # loss reads them: TRL's loss and the Unsloth path's own loss function (which never calls
        # _compute_loss) then train the same thing.
        batch = super()._generate_and_score_completions(inputs)
        batch["advantages"] = self.policy_advantages(self.algorithm_advantages(batch))
        return batch

    def algorithm_advantages(self, batch: dict) -> torch.Tensor:
        """The algorithm's own advantages of a scored batch: GRPO's, as TRL made them (``PPOTrainer``:
        GAE over its critic's values)."""
        return batch["advantages"]

    def own_rewards(self, n: int) -> torch.Tensor:
        """This process's rollouts' rewards (TRL scores every process's and gathers them; a process
        holds the ``n`` rollouts at its index), weighted and summed over the reward functions."""
        first = self.accelerator.process_index * n
        return self._rewards[first:first + n]

    def policy_advantages(self, advantages: torch.Tensor) -> torch.Tensor:
        """``shaped_advantages`` for this run's settings, with the all-wrong groups' share logged."""
        cfg = self.rlvr_config
        rewards = self.own_rewards(advantages.size(0)).to(advantages.device)
        shaped = shaped_advantages(advantages, rewards, cfg.advantage, self.pg_loss_coef, cfg.positive_weight)
        if rewards.numel() % cfg.rollouts_per_prompt == 0:
            for name, value in all_wrong_groups(rewards, shaped, cfg.rollouts_per_prompt).items():
                self._metrics["train"][f"advantage/{name}"].append(value)
        return shaped

    @overrides()
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # TRL scores the rollouts with the reward functions and gathers every process's scores;
        # this process's share is recorded, as the first reward function (a run's one) scored it.
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._rewards = (rewards * self.reward_weights.to(rewards.device)).nansum(dim=1)  # every process's
        if self.run_log is not None:
            first = self.accelerator.process_index * len(prompts)
            scores = [None if math.isnan(r) else r for r in rewards[first:first + len(prompts), 0].tolist()]
            self._record_rollouts(inputs, completions, completion_ids_list, scores)
        return rewards

    def _record_rollouts(self, inputs, completions, completion_ids, rewards) -> None:
        """This step's rollouts to the run's tables: each one's reward, grading and length, and a
        few samples; under several processes the main process writes every process's."""
        cfg = self.rlvr_config
        texts = [completion_text(c) for c in completions]
        example_ids = [row["example_id"] for row in inputs]
        answers = [row["answer"] for row in inputs]
        correct = grade_many(texts, answers, "train")  # training accuracy, whatever the reward
        step = self.state.global_step + 1
        epoch = (step - 1) // max(1, len(self.train_dataset) // cfg.prompts_per_step)
        ids = completion_ids or [None] * len(texts)
        rank, world = process_rank(), world_size()
        per_process = len(texts) // cfg.rollouts_per_prompt  # groups this process holds
        rows = [
            {
                "step": step,
                "epoch": epoch,
                "example_id": eid,
                "row": rank * per_process + i // cfg.rollouts_per_prompt,
                "rollout": i % cfg.rollouts_per_prompt,
                "reward": r,
                "correct": bool(c),
                "boxed": extract_answer(t, "train") is not None,
                "n_tokens": len(tok) if tok is not None else None,
                "truncated": tok is not None and len(tok) >= cfg.max_completion_length,
            }
            for i, (eid, r, c, t, tok) in enumerate(zip(example_ids, rewards, correct, texts, ids))
        ]
        samples = [
            {"step": step, "example_id": eid, "completion": t, "correct": bool(c)}
            for eid, t, c in list(zip(example_ids, texts, correct))[:SAMPLES_PER_STEP]
        ]
        if world > 1:
            # Each process scores its own share of the batch: the main process writes them all.
            rows, samples = _gather(rows), _gather(samples)[:SAMPLES_PER_STEP]
            if rank != 0:
                return
        self.run_log.append(ROLLOUTS_LOG, rows)
        if self.rollouts_by_step is not None:
            self.rollouts_by_step.setdefault(step, []).extend(rows)
        self.run_log.append(SAMPLES_LOG, samples)

    @overrides()
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

    @overrides()
    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        # A LoRA checkpoint's root holds merged weights, which must not be loaded into
        # the PEFT model; its adapters resume it (as transformers resumes PEFT models).
        adapter = os.path.join(resume_from_checkpoint, ADAPTER_DIR)
        if self.lora and os.path.isdir(adapter):
            model = model if model is not None else self.model
            model.load_adapter(adapter, model.active_adapters[0], is_trainable=True)
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)
