"""Sampling from small Qwen2-architecture models without transformers' per-token overhead.

transformers' ``generate`` spends about 5 ms a token on ``toy-base`` whatever the
batch (a general model's masks, cache objects and logits processors, op by op),
while the arithmetic of a 0.9M-parameter model is a fraction of that. This
decoder runs the model's own parameters (shared, not copied: a training step's
update is seen at once) through the same operations, with a preallocated KV
cache and the rows that have ended dropped from the batch, and samples the way
``generate`` does: the last
position's logits in float32, divided by the temperature, top-k then top-p
filtering, a softmax and one ``torch.multinomial`` draw per step from the global
torch generator; the argmax at temperature 0. Rows that have emitted an end
token are fed padding until every row has ended or the budget is spent.

Its logits match ``generate``'s to float rounding and, where the batch has no
left padding, bit for bit, so a seeded draw is the same draw; tests hold it to
``generate`` on sampled and greedy output. Models it does not cover (other
architectures, sliding windows, scaled RoPE, PEFT wrappers, accelerators) go
to ``generate`` as before: ``supports(model)`` decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def supports(model) -> bool:
    """Whether ``model`` is a plain Qwen2 causal LM on the CPU that this decoder covers."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "qwen2" or not hasattr(model, "model"):
        return False
    rope = getattr(config, "rope_parameters", None) or {}
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    return (
        type(model).__name__ == "Qwen2ForCausalLM"
        and rope.get("rope_type", "default") == "default"
        and all(t == "full_attention" for t in layer_types)
        and next(model.parameters()).device.type == "cpu"
    )


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # As Qwen2RMSNorm: in float32, then the weight in the input's dtype. In float32 that is
    # torch's fused kernel (the same arithmetic, one op instead of six).
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, weight.shape, weight, eps)
    dtype = x.dtype
    x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Decoder:
    """One batch's decoding state: the KV cache and the rotary tables."""

    def __init__(self, model, batch: int, length: int):
        config = model.config
        self.model, self.inner = model, model.model
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        dtype = next(model.parameters()).dtype
        # Each layer's q/k/v and gate/up projections as one matrix: fewer, larger matmuls.
        projections = [(lay.self_attn.q_proj, lay.self_attn.k_proj, lay.self_attn.v_proj) for lay in self.inner.layers]
        self.qkv = [(torch.cat([p.weight for p in qkv]), torch.cat([p.bias for p in qkv])) for qkv in projections]
        self.gate_up = [torch.cat([lay.mlp.gate_proj.weight, lay.mlp.up_proj.weight]) for lay in self.inner.layers]
        self.rotated = ((self.heads + self.kv_heads) * self.head_dim, self.kv_heads * self.head_dim)
        shape = (batch, self.kv_heads, length, self.head_dim)
        self.keys = [torch.empty(shape, dtype=dtype) for _ in self.inner.layers]
        self.values = [torch.empty(shape, dtype=dtype) for _ in self.inner.layers]
        # The rotary angles as Qwen2RotaryEmbedding computes them (float32 products, then cos/sin).
        inv_freq = self.inner.rotary_emb.inv_freq.float()
        freqs = torch.arange(length, dtype=torch.float32)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        scale = getattr(self.inner.rotary_emb, "attention_scaling", 1.0)
        self.cos, self.sin = (emb.cos() * scale).to(dtype), (emb.sin() * scale).to(dtype)

    def select(self, rows: torch.Tensor) -> None:
        """Keep only these rows of the batch (the others have ended)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]

    def forward(self, ids: torch.Tensor, positions: torch.Tensor, start: int, mask: torch.Tensor | None):
        """Logits of the last position, for ``ids`` placed in cache slots ``start...``.

        ``mask`` is a boolean ``[batch, 1, queries, keys]`` attention mask over the slots
        so far, or None where no row is padded (causal within a prefill)."""
        batch, length = ids.shape
        end = start + length
        hidden = self.inner.embed_tokens(ids)
        cos, sin = self.cos[positions][:, None], self.sin[positions][:, None]
        for index, layer in enumerate(self.inner.layers):
            attn, mlp = layer.self_attn, layer.mlp
            residual = hidden
            x = _rms_norm(hidden, layer.input_layernorm.weight, self.eps)
            shape = (batch, length, -1, self.head_dim)
            qk, v = (t.view(shape).transpose(1, 2) for t in F.linear(x, *self.qkv[index]).split(self.rotated, -1))
            qk = qk * cos + _rotate_half(qk) * sin  # queries and keys rotated together: half the ops
            q, k = qk.split((self.heads, self.kv_heads), dim=1)
            self.keys[index][:, :, start:end] = k
            self.values[index][:, :, start:end] = v
            keys, values = self.keys[index][:, :, :end], self.values[index][:, :, :end]
            if self.kv_heads != self.heads:
                repeat = self.heads // self.kv_heads
                keys = keys.repeat_interleave(repeat, dim=1)
                values = values.repeat_interleave(repeat, dim=1)
            if length > 1:
                out = F.scaled_dot_product_attention(
                    q, keys, values, attn_mask=mask, scale=attn.scaling, is_causal=mask is None)
            else:
                # One query a row: two small matmuls beat the CPU flash kernel by ~30x here.
                scores = torch.matmul(q, keys.transpose(2, 3)) * attn.scaling
                if mask is not None:
                    scores = scores.masked_fill(~mask, -float("inf"))
                out = torch.matmul(scores.softmax(dim=-1, dtype=torch.float32).to(q.dtype), values)
            out = out.transpose(1, 2).reshape(batch, length, -1)
            hidden = residual + F.linear(out, attn.o_proj.weight)
            residual = hidden
            x = _rms_norm(hidden, layer.post_attention_layernorm.weight, self.eps)
            gate, up = F.linear(x, self.gate_up[index]).chunk(2, dim=-1)
            x = F.linear(F.silu(gate) * up, mlp.down_proj.weight)
            hidden = residual + x
        hidden = _rms_norm(hidden[:, -1:], self.inner.norm.weight, self.eps)
        return F.linear(hidden, self.model.lm_head.weight)[:, -1].to(torch.float32)


def _filter(scores: torch.Tensor, top_k: int | None, top_p: float) -> torch.Tensor:
    """transformers' TopKLogitsWarper then TopPLogitsWarper (one token always kept)."""
    if top_k:
        kth = torch.topk(scores, min(top_k, scores.size(-1)))[0][..., -1, None]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(scores, descending=False)
        remove = ordered.softmax(dim=-1).cumsum(dim=-1) <= (1 - top_p)
        remove[..., -1:] = False
        scores = scores.masked_fill(remove.scatter(1, order, remove), -float("inf"))
    return scores


@torch.no_grad()
def sample(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
           eos_token_ids: Sequence[int], pad_token_id: int, temperature: float = 1.0, top_p: float = 1.0,
           top_k: int | None = None) -> torch.Tensor:
    """``[batch, n]`` new tokens for left-padded prompts (``n <= max_new_tokens``), padding
    after each row's end token, as ``model.generate`` returns them; greedy at temperature 0.

    Rows that have ended leave the batch (in a few compactions, not at every end), so
    the work follows the rows still going. The draw is still one ``torch.multinomial``
    over all rows, ended ones given a uniform stand-in, so every row takes the random
    numbers it would take in ``generate``."""
    batch, prompt_length = input_ids.shape
    decoder = Decoder(model, batch, prompt_length + max_new_tokens)
    valid = attention_mask.bool()
    padded = not bool(valid.all())
    # Positions as generate() counts them: from each row's first real token.
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(~valid, 1)
    mask = None
    if padded:
        causal = torch.ones(prompt_length, prompt_length, dtype=torch.bool).tril()
        mask = (causal[None] & valid[:, None, :])[:, None]
    eos = torch.tensor(list(eos_token_ids), dtype=torch.long)
    unfinished = torch.ones(batch, dtype=torch.bool)
    tokens = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long)
    rows = torch.arange(batch)  # the original row of each row in the decoder's batch
    logits = decoder.forward(input_ids, positions, 0, mask)
    next_position = positions[:, -1:] + 1
    for step in range(max_new_tokens):
        if temperature > 0:
            scores = _filter(logits / temperature if temperature != 1.0 else logits, top_k, top_p)
            probs = torch.full((batch, scores.shape[-1]), 1.0 / scores.shape[-1])
            probs[rows] = F.softmax(scores, dim=-1)
            chosen = torch.multinomial(probs, num_samples=1).squeeze(1)[rows]
        else:
            chosen = torch.argmax(logits, dim=-1)
        going = unfinished[rows]
        chosen = torch.where(going, chosen, torch.full_like(chosen, pad_token_id))
        tokens[rows, step] = chosen
        going &= ~torch.isin(chosen, eos)
        unfinished[rows] = going
        if not going.any() or step == max_new_tokens - 1:
            break
        if padded:
            valid = torch.cat([valid, torch.ones(len(rows), 1, dtype=torch.bool)], dim=1)
        if int(going.sum()) <= 0.75 * len(rows):
            keep = going.nonzero().squeeze(1)
            decoder.select(keep)
            rows, chosen, next_position = rows[keep], chosen[keep], next_position[keep]
            valid = valid[keep] if padded else valid
        mask = valid[:, None, None, :] if padded else None
        logits = decoder.forward(chosen[:, None], next_position, prompt_length + step, mask)
        next_position = next_position + 1
    return tokens[:, : step + 1]
