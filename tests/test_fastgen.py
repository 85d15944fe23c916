"""rlvr.fastgen samples what transformers' generate() samples, from the same weights."""

import pytest
import torch
from rlvr import fastgen
from rlvr.data import load_dataset
from rlvr.models import load_model_and_tokenizer
from rlvr.prompts import training_prompt
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    return load_model_and_tokenizer("toy-base")


def encode(tokenizer, problems):
    prompts = [training_prompt(p, tokenizer) for p in problems]
    return tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)


def both(model, enc, temperature, n=200, eos=0, pad=0):
    """generate()'s new tokens and fastgen's, each after seeding the global generator alike."""
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0} if temperature else {"do_sample": False}
    torch.manual_seed(0)
    with torch.no_grad():
        reference = model.generate(**enc, max_new_tokens=n, eos_token_id=[eos], pad_token_id=pad, **sampling)
    torch.manual_seed(0)
    fast = fastgen.sample(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=n, eos_token_ids=[eos],
                          pad_token_id=pad, temperature=temperature)
    return reference[:, enc["input_ids"].shape[1]:], fast


def test_greedy_answers_are_generates_on_a_padded_batch(toy):
    model, tokenizer = toy
    enc = encode(tokenizer, [r["problem"] for r in load_dataset("toy-test", limit=48)])
    assert not enc["attention_mask"].all()  # prompts of several lengths: left padding
    reference, fast = both(model, enc, temperature=0.0)
    assert torch.equal(reference, fast)


@pytest.mark.parametrize("temperature, problems", [(1.0, 1), (0.6, 16)])
def test_a_seeded_draw_is_generates_draw(toy, temperature, problems):
    # 16 copies of one problem (a 1-shot batch, no padding), or 16 problems (padded).
    model, tokenizer = toy
    rows = [r["problem"] for r in load_dataset("toy-test", limit=problems)]
    enc = encode(tokenizer, (rows * 16)[:16])
    reference, fast = both(model, enc, temperature=temperature)
    assert torch.equal(reference, fast)


def test_logits_match_generates_model_step_by_step_with_grouped_heads():
    # A random Qwen2 with 2 key/value heads for 4 query heads, on a padded batch.
    torch.manual_seed(1)
    config = Qwen2Config(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = Qwen2ForCausalLM(config).eval()
    ids = torch.randint(1, 50, (3, 7))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    mask[1, :1] = 0
    decoder = fastgen.Decoder(model, 3, 7 + 5)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    valid = mask.bool()
    prefill = (torch.ones(7, 7, dtype=torch.bool).tril()[None] & valid[:, None, :])[:, None]
    with torch.no_grad():
        logits = decoder.forward(ids, positions, 0, prefill)
        for step in range(5):
            reference = model(input_ids=ids, attention_mask=mask).logits[:, -1]
            torch.testing.assert_close(logits, reference, rtol=1e-5, atol=1e-5)
            chosen = reference.argmax(-1, keepdim=True)
            ids, mask = torch.cat([ids, chosen], 1), torch.cat([mask, torch.ones_like(chosen)], 1)
            valid = mask.bool()
            logits = decoder.forward(chosen, positions[:, -1:] + 1 + step, 7 + step, valid[:, None, None, :])


def test_top_k_and_top_p_filter_as_transformers_does():
    scores = torch.randn(4, 30)
    for top_k, top_p in ((5, 1.0), (0, 0.7), (8, 0.5)):
        want = scores
        if top_k:
            want = TopKLogitsWarper(top_k)(None, want)
        if top_p < 1:
            want = TopPLogitsWarper(top_p)(None, want)
        assert torch.equal(fastgen._filter(scores, top_k, top_p), want)


def test_other_models_go_to_generate(toy):
    model, _ = toy
    assert fastgen.supports(model)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2))
    assert not fastgen.supports(llama)
