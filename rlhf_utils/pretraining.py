"""Next-token pretraining of a small GPT-2 on the review corpus (notebook 03 and its build script).

The loss is the usual causal-LM cross-entropy  L = -1/N sum_t log p(x_t | x_<t)  over real tokens;
perplexity is exp(L). Each review is one training sequence ``<|endoftext|> review <|endoftext|>``
starting at position 0, exactly as prompts are fed to the model later in the course.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from .lm_task import END_OF_TEXT, PAD
from .paths import DATA_DIR

CORPUS_PATH = DATA_DIR / "corpus" / "reviews.jsonl.gz"


def load_reviews(split: str | None = None, path: Path = CORPUS_PATH) -> list[dict]:
    """The review corpus (``id``, ``split``, ``text``, ``vader``, ``request``), optionally one split
    (``"train"`` or ``"validation"``)."""
    if not path.exists():
        raise FileNotFoundError(f"The review corpus {path} is missing; rebuild it with `python scripts/build_corpus.py`.")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        reviews = [json.loads(line) for line in fh]
    return [r for r in reviews if split is None or r["split"] == split]


def train_byte_level_bpe(texts: Sequence[str], vocab_size: int, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train GPT-2's tokenizer algorithm (byte-level BPE) on ``texts``.

    The result has a separate pad token besides the end-of-text token, so a model can learn to end a text
    and rewards are never read at padding.
    """
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency,
                            special_tokens=[END_OF_TEXT, PAD], show_progress=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, unk_token=END_OF_TEXT, pad_token=PAD
    )


def encode_documents(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """``<|endoftext|> text <|endoftext|>`` token ids per text, cut to ``max_length``."""
    eos = tokenizer.eos_token_id
    return [([eos] + ids + [eos])[:max_length] for ids in tokenizer(list(texts))["input_ids"]]


def length_bucketed_batches(
    documents: Sequence[Sequence[int]], tokens_per_batch: int, pad_id: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(input_ids, attention_mask)`` batches of similar-length documents (little padding).

    Documents are sorted by length and cut into batches of about ``tokens_per_batch`` tokens; with
    ``rng`` the batch order (and the order within equal lengths) is shuffled.
    """
    order = np.argsort([len(d) for d in documents], kind="stable")
    if rng is not None:
        order = np.array(sorted(order, key=lambda i: (len(documents[i]), rng.random())))
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * len(documents[i]) > tokens_per_batch:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    for batch in batches:
        width = max(len(documents[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, : len(documents[i])] = torch.tensor(documents[i])
            mask[row, : len(documents[i])] = 1
        yield ids, mask


def lm_loss(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over real (non-pad) tokens."""
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss


@torch.no_grad()
def evaluate_loss(model: PreTrainedModel, documents: Sequence[Sequence[int]], pad_id: int,
                  tokens_per_batch: int = 8192) -> float:
    """Token-weighted mean cross-entropy (nats/token) of ``model`` on ``documents``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for ids, mask in length_bucketed_batches(documents, tokens_per_batch, pad_id):
        n = int(mask[:, 1:].sum())
        total += lm_loss(model, ids.to(device), mask.to(device)).item() * n
        count += n
    model.train(was_training)
    return total / count


def unigram_entropy(documents: Sequence[Sequence[int]]) -> float:
    """Entropy (nats/token) of the corpus's token frequencies: the loss of the best context-free model.

    Counts the predicted tokens (all but each document's first), matching what :func:`lm_loss` scores.
    """
    counts = Counter(t for d in documents for t in d[1:])
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())
