"""Sampling from and scoring a causal language model: what every step of RLHF after pretraining uses.

Notebook 03 teaches the decoding rules; from notebook 04 on every response is drawn by :func:`sample`
and scored by :func:`response_logprobs`, the same way everywhere:

- prompts are left-padded ``<|endoftext|> prompt`` rows; position ids count from each row's first
  real token (:func:`position_ids`), so padding does not shift GPT-2's absolute positions;
- responses have a fixed length: end-of-text and pad are forbidden (:func:`forbidden_token_ids`);
- pure temperature sampling, and log-probs scored at the same temperature with the same mask, so the
  scored distribution is exactly the sampled one: log π(a_t|s_t) = log softmax(z_t / T)[a_t].

Decoding rules for a next-token distribution with logits z (notebook 03's exercise references):
temperature p = softmax(z / T); top-k keeps the k largest logits; top-p (nucleus) keeps the smallest
set of tokens whose probability reaches p. ``transformers``' ``generate`` implements all of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .lm_task import RESPONSE_LENGTH, TEMPERATURE, encode_prompts

FORBIDDEN_LOGIT = -1e9
"""Logit given to tokens a response may not contain (end-of-text, pad). Finite, so 0·log 0 stays 0."""


# --------------------------------------------------------------------------- decoding rules (notebook 03)
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


# --------------------------------------------------------------------------- shared pieces
def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted from each row's first real token, so left padding does not shift them."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def frozen_copy(model: nn.Module) -> nn.Module:
    """The reference policy π_ref: a frozen copy of the model before RLHF."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def forbidden_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Tokens a fixed-length response may not contain: end-of-text and pad (the reward model reads
    the last non-pad token, and nothing after an end-of-text would be part of the review)."""
    return sorted({i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None})


def check_fits(lm: PreTrainedModel, query_ids: torch.Tensor, query_mask: torch.Tensor, response_length: int) -> None:
    """Raise ``ValueError`` unless the longest prompt plus the response fits the model's positions.

    GPT-2 has learned position embeddings for ``n_positions`` tokens only; beyond them it fails with a
    bare ``IndexError``. The message names the longest prompt (its index and token count) and the limit.
    """
    limit = getattr(lm.config, "n_positions", None) or getattr(lm.config, "max_position_embeddings", None)
    if limit is None or query_ids.shape[1] + response_length <= limit:
        return
    lengths = query_mask.sum(-1)
    longest = int(lengths.argmax())
    raise ValueError(
        f"Prompt {longest} is {int(lengths[longest])} tokens long (with <|endoftext|>); with a {response_length}-token "
        f"response that is {query_ids.shape[1] + response_length} positions, but the model has {limit}. Shorten "
        f"the prompts to at most {limit - response_length} tokens, or ask for a shorter response."
    )


# --------------------------------------------------------------------------- rollouts
@dataclass
class Samples:
    """Prompts and the responses sampled for them (what a reward function sees)."""

    prompts: list[str]
    responses: list[str]
    query_ids: torch.Tensor
    """``(B, Q)`` left-padded ``<|endoftext|> prompt`` ids."""
    query_mask: torch.Tensor
    response_ids: torch.Tensor
    """``(B, L)`` sampled token ids."""
    sampled_logprobs: torch.Tensor | None = None
    """``(B, L)`` log-probs under the distribution `generate` sampled from (for the sanity check)."""

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.query_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.query_mask, torch.ones_like(self.response_ids)], dim=1)


RewardFn = Callable[[Samples], torch.Tensor]
"""Maps samples to one score per response, shape ``(B,)``."""


@torch.no_grad()
def sample(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    response_length: int = RESPONSE_LENGTH,
    temperature: float = TEMPERATURE,
    keep_sampled_logprobs: bool = False,
) -> Samples:
    """Sample one fixed-length response per prompt with pure temperature sampling (no top-k/top-p),
    end-of-text and pad suppressed, from left-padded prompts (position ids come from the mask)."""
    device = next(lm.parameters()).device
    query_ids, query_mask = encode_prompts(tokenizer, list(prompts), device)
    check_fits(lm, query_ids, query_mask, response_length)
    was_training = lm.training
    lm.eval()
    out = lm.generate(
        input_ids=query_ids, attention_mask=query_mask, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
        max_new_tokens=response_length, min_new_tokens=response_length, suppress_tokens=forbidden_token_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        output_scores=keep_sampled_logprobs, return_dict_in_generate=True,
    )
    lm.train(was_training)
    response_ids = out.sequences[:, query_ids.shape[1]:]
    sampled = None
    if keep_sampled_logprobs:
        scores = torch.stack(out.scores, dim=1).float()  # (B, L, V): logits after temperature and suppression
        sampled = torch.log_softmax(scores, -1).gather(-1, response_ids.unsqueeze(-1)).squeeze(-1)
    responses = tokenizer.batch_decode(response_ids, skip_special_tokens=True)
    return Samples(list(prompts), responses, query_ids, query_mask, response_ids, sampled)


def sample_pairs(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    batch_size: int = 64,
    progress: bool = True,
    desc: str = "sampling pairs",
) -> tuple[list[str], list[str], list[Samples]]:
    """Two independent responses per prompt, for comparison by a labeller (notebook 04).

    Returns ``(responses_a, responses_b, samples)``, where ``samples`` holds every batch sampled
    (the A batches, then the B batches) for anything that needs the token ids.
    """
    from tqdm.auto import tqdm

    first, second = [], []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, disable=not progress):
        chunk = list(prompts[start : start + batch_size])
        first.append(sample(lm, tokenizer, chunk))
        second.append(sample(lm, tokenizer, chunk))
    responses_a = [r for s in first for r in s.responses]
    responses_b = [r for s in second for r in s.responses]
    return responses_a, responses_b, first + second


def response_logits(
    logits: torch.Tensor, query_length: int, response_length: int, temperature: float, forbidden: Sequence[int]
) -> torch.Tensor:
    """The logits that predicted the response tokens, divided by the sampling temperature, with the
    forbidden tokens masked exactly as during sampling: ``(B, L, V)``.

    The logits at position t predict token t+1, so response token i is predicted at Q - 1 + i.
    """
    sliced = logits[:, query_length - 1 : query_length - 1 + response_length].float() / temperature
    if forbidden:
        sliced = sliced.clone()
        sliced[..., list(forbidden)] = FORBIDDEN_LOGIT
    return sliced


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log π(a_t|s_t) of the chosen tokens: ``(B, L, V)`` logits and ``(B, L)`` tokens -> ``(B, L)``."""
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def response_logprobs(
    lm: PreTrainedModel, samples: Samples, temperature: float, forbidden: Sequence[int]
) -> torch.Tensor:
    """log π(a_t|s_t) of each response token under a plain causal LM (the reference model, or any
    policy being evaluated), scored exactly as it was sampled: ``(B, L)``."""
    logits = lm(input_ids=samples.input_ids, attention_mask=samples.attention_mask,
                position_ids=position_ids(samples.attention_mask)).logits
    cut = response_logits(logits, samples.query_ids.shape[1], samples.response_ids.shape[1], temperature, forbidden)
    return token_logprobs(cut, samples.response_ids)


__all__ = [
    "FORBIDDEN_LOGIT", "RewardFn", "Samples", "check_fits", "forbidden_token_ids", "frozen_copy", "perplexity", "position_ids",
    "response_logits", "response_logprobs", "sample", "sample_pairs", "temperature_probs", "token_logprobs", "top_k_probs",
    "top_p_probs",
]
