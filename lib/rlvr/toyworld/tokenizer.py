"""The toy model's tokenizer: a small BPE trained offline on the corpus.

Every digit is its own token (a tiny model learns arithmetic digit by digit,
as Qwen's tokenizer also splits digits). Spaces are kept by a Metaspace
pre-tokenizer so decoding gives back the exact text.

Load it with ``load_toy_tokenizer`` (a ``PreTrainedTokenizerFast`` read from its
``tokenizer.json``): ``AutoTokenizer`` was seen to replace the saved
pre-tokenizer of such a tokenizer silently, which ruins the model.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

EOS = "<|endoftext|>"
UNK = "<unk>"
VOCAB_SIZE = 400

# The chat template maps a conversation onto the corpus' own format, so the
# same prompt code (``apply_chat_template``) serves the toy model and real
# ones. A system turn is dropped: the corpus has none.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}Question: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}Answer: {{ message['content'] }}" + EOS + "\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Answer:{% endif %}"
)


def train_tokenizer(texts: list[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def wrap(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS, unk_token=UNK)
    fast.chat_template = CHAT_TEMPLATE
    # Saved into tokenizer_config.json, so a checkpoint of a toy model is
    # recognised and its tokenizer loaded by ``load_toy_tokenizer``, not AutoTokenizer.
    fast.init_kwargs["rlvr_toyworld"] = True
    return fast


def load_toy_tokenizer(folder: str | Path) -> PreTrainedTokenizerFast:
    folder = Path(folder)
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer.json in {folder}")
    return wrap(Tokenizer.from_file(str(path)))
