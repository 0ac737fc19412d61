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


def tiny_script_inputs(folder) -> dict:
    """Files a course script reads, at a tiny size, under ``folder``: a base model, a reward model and
    prompt sets (``train.json`` and ``heldout.json`` in ``prompts/``). Returns their paths and the tokenizer."""
    import json

    from rlhf_utils import reward_model

    tokenizer = tiny_tokenizer()
    base = folder / "base"
    lm = GPT2LMHeadModel(GPT2Config(**{**tiny_lm(tokenizer).config.to_dict(), "n_positions": 128}))
    lm.save_pretrained(base)
    tokenizer.save_pretrained(base)
    rm = folder / "rm"  # as many positions as the base model (its samples, re-tokenised, must fit), the
    small = tiny_lm(tokenizer)  # weights of tiny_lm for the first 64 (what the tests were written against)
    longer = GPT2LMHeadModel(GPT2Config(**{**small.config.to_dict(), "n_positions": 128}))
    state = small.state_dict()
    positions = longer.transformer.wpe.weight.detach().clone()
    positions[: small.config.n_positions] = state["transformer.wpe.weight"]
    longer.load_state_dict({**state, "transformer.wpe.weight": positions})
    reward_model.init_reward_model(longer, tokenizer).save(rm)
    prompts = folder / "prompts"
    prompts.mkdir()
    (prompts / "train.json").write_text(json.dumps(PROMPTS))
    (prompts / "heldout.json").write_text(json.dumps(PROMPTS[:2]))
    return {"base": base, "rm": rm, "prompts": prompts, "tokenizer": tokenizer}
