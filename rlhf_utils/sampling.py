"""Decoding rules for a language model's next-token distribution (notebook 03).

Given logits z over the vocabulary:
- temperature T:  p_i = softmax(z / T)_i   (T → 0: greedy; T = 1: the model's own distribution);
- top-k:          keep the k largest logits, renormalise;
- top-p (nucleus): keep the smallest set of tokens whose probability reaches p, renormalise.

``transformers``' ``generate`` implements all of these; these small versions are the reference the
notebook's exercises are checked against.
"""

from __future__ import annotations

import torch


def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(z / T) over the last axis."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy decoding, argmax, for T → 0); got {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Probabilities with all but the ``k`` largest logits set to zero, renormalised."""
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)


def top_p_probs(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus sampling: keep the most likely tokens until their total probability reaches ``p``."""
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    # a token is kept if the probability of the tokens ranked above it is still below p
    keep_sorted = (sorted_probs.cumsum(-1) - sorted_probs) < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def perplexity(token_losses: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """exp of the mean next-token cross-entropy over real tokens: exp(Σ mask·ℓ / Σ mask)."""
    if mask is None:
        mask = torch.ones_like(token_losses)
    mean = (token_losses * mask).sum() / mask.sum()
    return float(torch.exp(mean))
