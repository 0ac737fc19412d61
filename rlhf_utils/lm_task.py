"""The language-model task every RLHF notebook (03-07) shares, frozen in one place.

A *prompt* is the opening words of a movie review; the policy writes a continuation of exactly
``RESPONSE_LENGTH`` tokens, sampled at ``TEMPERATURE``. The model sees ``<|endoftext|> prompt``,
starting at position 0, as in pretraining. Rewards are read at the last response token.
"""

from __future__ import annotations

import json
from pathlib import Path

from .paths import DATA_DIR

END_OF_TEXT = "<|endoftext|>"
"""Begins and ends every document (GPT-2's own end-of-text token)."""
PAD = "<|pad|>"
"""A separate pad token: with pad = eos a model never learns to end a text."""
COURSE_MODEL_NAME = "course-gpt2"
"""Folder under ``data/models/`` holding the course's own pretrained GPT-2."""
FULL_MODEL_NAME = "gpt2"
"""The real GPT-2 (124M) on the Hugging Face hub, used by the ``full`` profile."""
RESPONSE_LENGTH = 24
"""Tokens per response: long enough for a sentence, short enough for seconds-long PPO steps on a CPU."""
TEMPERATURE = 1.0
"""Sampling temperature for every rollout; training log-probs divide logits by the same value."""
PROMPT_SPLITS = ("train", "heldout")
PROMPTS_DIR = DATA_DIR / "prompts"


def load_prompts(split: str = "train", folder: Path | None = None) -> list[str]:
    """The shipped review openings: ``train`` for training, ``heldout`` for every evaluation."""
    if split not in PROMPT_SPLITS:
        raise ValueError(f"Unknown prompt split {split!r}; valid: {', '.join(PROMPT_SPLITS)}.")
    path = (folder or PROMPTS_DIR) / f"{split}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"Prompt set {path} is missing. It ships with the course; rebuild it with "
            "`python scripts/build_corpus.py`."
        )
    prompts = json.loads(path.read_text())
    if not prompts:
        raise ValueError(f"Prompt set {path} is empty; rebuild it with `python scripts/build_corpus.py`.")
    return prompts


def draw_prompts(pool: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` prompts drawn from ``pool`` without favourites: every prompt once, in a random order
    (seeded), before any prompt is used again."""
    import random

    if not pool:
        raise ValueError("The prompt pool is empty: pass at least one prompt (see load_prompts()).")
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        out += rng.sample(pool, len(pool))
    return out[:n]


def encode_prompts(tokenizer, prompts: list[str], device="cpu"):
    """Token ids of ``<|endoftext|> prompt``, left-padded: ``(input_ids, attention_mask)``, both ``(B, Q)``.

    Left padding puts every prompt's last token in the same column, so all responses start together;
    the model must then get position ids from the attention mask (see ``lm_ppo.position_ids``).
    """
    import torch

    if not prompts:
        raise ValueError("The prompt list is empty: pass at least one prompt (see load_prompts()).")
    rows = [[tokenizer.eos_token_id] + tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        mask[i, width - len(row):] = 1
    return ids.to(device), mask.to(device)
