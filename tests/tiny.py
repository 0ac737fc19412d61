"""Tiny stand-ins for the course's language models: a 300-token byte-level BPE and a 2-layer GPT-2."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from rlhf_utils.pretraining import train_byte_level_bpe

TEXTS = ["This movie was great fun and the acting was superb.", "I hated every minute of this boring film.",
         "The story is slow but the music is lovely.", "A wonderful cast in a forgettable plot."] * 20
PROMPTS = ["This movie", "The story", "I hated", "A wonderful cast", "The music is"]


def tiny_tokenizer():
    return train_byte_level_bpe(TEXTS, vocab_size=300)


def tiny_lm(tokenizer, dropout: float = 0.0, seed: int = 0) -> GPT2LMHeadModel:
    """A random 2-layer GPT-2 for ``tokenizer`` (the same ``seed`` gives the same weights)."""
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config).eval()
