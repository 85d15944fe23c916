"""The toy base model: a ~1M-parameter Qwen2 pretrained from scratch on the corpus.

The same architecture class as Qwen2.5-Math (``Qwen2ForCausalLM``), so every
code path (generation, TRL, checkpoints, evaluation) is the one real models
take. Pretraining is a plain next-token loop over packed documents, fixed in
steps rather than seconds so that a seed always gives the same weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from ..registry import WORLD_SIZES, implementations

# A world's base model sizes (rlvr.registry.WORLD_SIZES): width and depth, 32 dimensions a head.
SIZES = implementations(WORLD_SIZES, {
    "0.9M": {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 384},
    "3M": {"hidden_size": 192, "num_layers": 6, "num_heads": 6, "intermediate_size": 576},
}, "world sizes")


@dataclass(frozen=True)
class PretrainConfig:
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    seq_len: int = 256
    batch_size: int = 16
    steps: int = 1300
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def for_size(cls, size: str, **overrides) -> PretrainConfig:
        """The config of a world's model size (``SIZES``), everything else as given or toy-base's."""
        return cls(**{**SIZES[size], **overrides})


def qwen2_config(tokenizer: PreTrainedTokenizerFast, cfg: PretrainConfig) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,  # the tokenizer has no BOS; a different one here makes TRL re-align and warn
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        rope_theta=10000.0,
        torch_dtype="float32",
    )


def pack(documents: list[str], tokenizer: PreTrainedTokenizerFast, seq_len: int) -> torch.Tensor:
    """All documents, each ended by EOS, cut into rows of ``seq_len`` tokens."""
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for encoded in tokenizer(documents, add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        ids.append(eos)
    n_rows = len(ids) // seq_len
    return torch.tensor(ids[: n_rows * seq_len], dtype=torch.long).view(n_rows, seq_len)


def _lr(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def pretrain(
    documents: list[str],
    tokenizer: PreTrainedTokenizerFast,
    cfg: PretrainConfig = PretrainConfig(),
    log_every: int = 50,
    progress: bool = True,
    state: Path | None = None,
    save_every: int = 100,
    until: int | None = None,
) -> tuple[Qwen2ForCausalLM, list[dict]]:
    """Train a fresh model on ``documents``; returns it and a per-step log.

    With ``state`` (a file), the run saves everything it needs every ``save_every`` steps and picks up
    from there when started again, to the same weights as a run never stopped; ``until`` stops it after
    that many steps with the state saved (a build spread over several sittings). The caller removes
    the state when it no longer wants it.
    """
    torch.manual_seed(cfg.seed)
    model = Qwen2ForCausalLM(qwen2_config(tokenizer, cfg))
    data = pack(documents, tokenizer, cfg.seq_len)
    generator = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(data), generator=generator)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    log, cursor, start, before = [], 0, 0, 0.0
    if state is not None and state.is_file():
        saved = torch.load(state, weights_only=False)
        if saved["config"] != cfg.to_dict() or saved["rows"] != len(data):
            raise ValueError(f"{state} holds a pretraining of another config or corpus ({saved['config']}); "
                             "remove it to start afresh (`rlvr world build NAME --fresh`)")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        order, cursor, start = saved["order"], saved["cursor"], saved["step"]
        log, before = saved["log"], saved["seconds"]
        if progress:
            print(f"resuming at step {start} from {state}", flush=True)

    def save(step: int) -> None:
        tmp = state.with_suffix(".tmp")
        torch.save({"config": cfg.to_dict(), "rows": len(data), "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "order": order,
                    "cursor": cursor, "step": step, "log": log, "seconds": before + time.perf_counter() - t0}, tmp)
        tmp.replace(state)  # whole or not at all: an interruption mid-save keeps the previous state

    model.train()
    t0 = time.perf_counter()
    for step in range(start, cfg.steps):
        if cursor + cfg.batch_size > len(order):  # next epoch, reshuffled
            order, cursor = torch.randperm(len(data), generator=generator), 0
        batch = data[order[cursor : cursor + cfg.batch_size]]
        cursor += cfg.batch_size
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = model(input_ids=batch, labels=batch).loss  # transformers shifts the labels
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % log_every == 0 or step == cfg.steps - 1:
            elapsed = before + time.perf_counter() - t0
            tokens = (step + 1) * cfg.batch_size * cfg.seq_len
            log.append({"step": step, "loss": loss.item(), "lr": _lr(step, cfg), "seconds": elapsed, "tokens": tokens})
            if progress:
                print(
                    f"step {step:5d}  loss {loss.item():.3f}  {tokens / elapsed:7.0f} tok/s  {elapsed:6.0f}s",
                    flush=True,
                )
        done = step + 1
        if state is not None and (done % save_every == 0 or done == until or done == cfg.steps):
            save(done)
        if done == until:
            break
    model.eval()
    return model, log
