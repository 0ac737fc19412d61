"""The language-model task every RLHF notebook (03-07) shares, frozen in one place.

A *prompt* is the opening words of a movie review; the policy writes a continuation of exactly
``RESPONSE_LENGTH`` tokens, sampled at ``TEMPERATURE``. The model sees ``<|endoftext|> prompt``,
starting at position 0, as in pretraining. Rewards are read at the last response token.
"""

from __future__ import annotations

import json
from pathlib import Path

from .paths import DATA_DIR
from .profiles import Profile, get_profile

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


FULL_PROMPTS_SOURCE = "stanfordnlp/imdb"
"""The full profile's prompts: openings of IMDB reviews (``datasets`` id, or a local folder of data files)."""
FULL_PROMPTS_ENV_VAR = "RLHF_FULL_PROMPTS"
"""Overrides :data:`FULL_PROMPTS_SOURCE`, e.g. a local copy of IMDB (a folder with train/test files)."""
FULL_PROMPT_COUNTS = {"train": 5000, "heldout": 500}
"""Openings taken from IMDB's ``train`` (training) and ``test`` (held-out) splits."""
PROMPT_WORDS = (2, 8)
"""An IMDB opening is its first 2-8 words (drawn per review, seeded), as in the original sentiment task."""


def load_prompts(split: str = "train", folder: Path | None = None, profile=None) -> list[str]:
    """The prompts of ``split``: ``train`` for training, ``heldout`` for every evaluation.

    The quick profile (default) reads the shipped review openings from ``data/prompts`` (or ``folder``);
    the full profile (``profile="full"`` or ``RLHF_PROFILE=full``) takes openings of IMDB reviews
    (:func:`imdb_prompts`).
    """
    if split not in PROMPT_SPLITS:
        raise ValueError(f"Unknown prompt split {split!r}; valid: {', '.join(PROMPT_SPLITS)}.")
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    if folder is None and not profile.offline:
        return imdb_prompts(split)
    path = (folder or PROMPTS_DIR) / f"{split}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"Prompt set {path} is missing. It ships with the course; rebuild it with "
            "`python scripts/build_corpus.py`."
        )
    try:
        prompts = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"Prompt set {path} is not valid JSON ({err}); restore it with `git checkout -- "
                         "data/prompts` or rebuild it with `python scripts/build_corpus.py`.") from None
    if not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
        found = type(prompts).__name__ if not isinstance(prompts, list) else "a list with an item that is not a non-empty string"
        raise ValueError(f"Prompt set {path} must be a JSON list of non-empty strings, got {found}; restore it with "
                         "`git checkout -- data/prompts` or rebuild it with `python scripts/build_corpus.py`.")
    if not prompts:
        raise ValueError(f"Prompt set {path} is empty; rebuild it with `python scripts/build_corpus.py`.")
    return prompts


def imdb_prompts(split: str = "train", source: str | None = None, seed: int = 0) -> list[str]:
    """Openings of IMDB reviews (full profile): the first 2-8 words of each (``PROMPT_WORDS``).

    ``train`` uses IMDB's train split and ``heldout`` its test split (``FULL_PROMPT_COUNTS`` reviews
    each, shuffled with ``seed``). ``source`` (default ``$RLHF_FULL_PROMPTS``, else ``stanfordnlp/imdb``)
    is a ``datasets`` hub id or a local folder holding ``train``/``test`` data files with a ``text`` column.
    """
    import os
    import random
    import re

    import datasets

    source = source or os.environ.get(FULL_PROMPTS_ENV_VAR) or FULL_PROMPTS_SOURCE
    hub_split = {"train": "train", "heldout": "test"}[split]
    try:
        reviews = datasets.load_dataset(source, split=hub_split)
    except Exception as exc:  # the hub unreachable, or a local folder without that split
        raise OSError(
            f"Could not load the IMDB prompts from {source!r} (split {hub_split!r}): {exc}. The full profile needs "
            f"the Hugging Face hub or a local copy (set {FULL_PROMPTS_ENV_VAR} to a folder with train and test "
            "files that have a `text` column); the quick profile works offline: set RLHF_PROFILE=quick."
        ) from exc
    if "text" not in reviews.column_names:
        raise ValueError(f"The IMDB source {source!r} has no `text` column (columns: {reviews.column_names}).")
    rng = random.Random(seed)
    order = rng.sample(range(len(reviews)), min(len(reviews), FULL_PROMPT_COUNTS[split]))
    prompts = []
    for i in order:
        words = re.sub(r"<br\s*/?>", " ", reviews[i]["text"]).split()
        if words:
            prompts.append(" ".join(words[: rng.randint(*PROMPT_WORDS)]))
    if not prompts:
        raise ValueError(f"The IMDB source {source!r} gave no prompts for split {hub_split!r}: it has no text.")
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
    the model must then get position ids from the attention mask (see ``generation.position_ids``).
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
