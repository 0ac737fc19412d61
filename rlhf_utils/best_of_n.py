"""Best-of-N sampling against a reward model, and how far it moves from the base policy (notebook 06).

Best-of-N draws N responses from the base policy π and keeps the one the reward model scores highest.
It needs no training, and its distribution π_N is known in closed form from π and the reward's CDF
under π, ``F(r) = P_π(R ≤ r)`` and ``F₋(r) = P_π(R < r)`` (ties broken uniformly at random):

    π_N(y) = π(y) · (F(r)^N − F₋(r)^N) / (F(r) − F₋(r)),         r = reward(y).

Hence ``KL(π_N ‖ π) = E_{y~π_N}[log((F^N − F₋^N) / (F − F₋))] ≤ log N − (N − 1)/N``, with equality
when rewards never tie, i.e. the N samples never repeat (Beirami et al. 2024, "Theoretical
guarantees on the best-of-n alignment policy"; the bound is the formula often quoted as exact).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .evaluation import standard_error
from .generation import RewardFn, Samples, sample
from .lm_task import RESPONSE_LENGTH, TEMPERATURE


def kl_bound(n: int) -> float:
    """``log N − (N − 1)/N``: the KL of best-of-N to the base policy when samples never repeat (an upper bound)."""
    if n < 1:
        raise ValueError(f"N must be at least 1, got {n}")
    return math.log(n) - (n - 1) / n


def exact_kl(probs: Sequence[float], rewards: Sequence[float], n: int) -> float:
    """Exact ``KL(π_N ‖ π)`` for a discrete policy with outcome probabilities ``probs`` and ``rewards``.

    Outcomes with equal rewards are tied (best-of-N picks among them uniformly). Used to check the
    bound: equal to :func:`kl_bound` only in the limit of outcomes that never repeat.
    """
    p = np.asarray(probs, dtype=float)
    r = np.asarray(rewards, dtype=float)
    if p.shape != r.shape or p.ndim != 1 or not np.isclose(p.sum(), 1.0) or (p < 0).any():
        raise ValueError("probs must be a probability vector with one reward per outcome")
    kl = 0.0
    for value in np.unique(r):
        tied = r == value
        f, f_below = p[r <= value].sum(), p[r < value].sum()
        mass = p[tied].sum()
        if mass == 0:
            continue
        ratio = (f**n - f_below**n) / mass  # π_N(y) / π(y), the same for every tied outcome
        kl += mass * ratio * math.log(ratio)
    return float(kl)


def log_ratio_estimate(best_reward: float, reference_rewards: Sequence[float], n: int) -> float:
    """Estimate of ``log π_N(y)/π(y)`` for a best-of-N response ``y`` from fresh base rewards of its prompt.

    ``F`` is estimated by the rank of ``best_reward`` among ``M`` fresh base-policy rewards for the same
    prompt, counting ``y`` itself: ``F̂ = (#{R_j ≤ r} + 1)/(M + 1)``; with continuous rewards
    ``log π_N/π = log N + (N − 1) log F``. Averaged over best-of-N responses it estimates the KL.
    """
    ref = np.asarray(reference_rewards, dtype=float)
    f_hat = (np.sum(ref <= best_reward) + 1) / (len(ref) + 1)
    return math.log(n) + (n - 1) * math.log(f_hat)


def best_of_n(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    reward_fn: RewardFn,
    n: int,
    response_length: int = RESPONSE_LENGTH,
    temperature: float = TEMPERATURE,
) -> tuple[Samples, torch.Tensor]:
    """For each prompt, sample ``n`` responses from ``lm`` and keep the one ``reward_fn`` scores highest.

    Returns the kept samples (one per prompt, in order) and their rewards ``(B,)``.
    """
    repeated = [p for p in prompts for _ in range(n)]
    drawn = sample(lm, tokenizer, repeated, response_length, temperature)
    rewards = torch.as_tensor(reward_fn(drawn), dtype=torch.float32).reshape(len(prompts), n)
    best = rewards.argmax(dim=1)
    rows = torch.arange(len(prompts)) * n + best
    kept = Samples(
        prompts=list(prompts),
        responses=[drawn.responses[i] for i in rows.tolist()],
        query_ids=drawn.query_ids[rows],
        query_mask=drawn.query_mask[rows],
        response_ids=drawn.response_ids[rows],
    )
    return kept, rewards.gather(1, best[:, None]).squeeze(1)


def best_of_n_sampler(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, reward_fn: RewardFn,
                      n: int) -> Callable[[Sequence[str]], Samples]:
    """A ``sampler`` for :func:`rlhf_utils.evaluation.evaluate_policy` that evaluates best-of-N."""
    return lambda prompts: best_of_n(lm, tokenizer, prompts, reward_fn, n)[0]


def estimate_kl(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], reward_fn: RewardFn,
                n: int, reference_samples: int = 32, batch_size: int = 16) -> tuple[float, float]:
    """Measured ``KL(π_N ‖ π)`` on ``prompts``: mean and standard error of :func:`log_ratio_estimate`.

    For each prompt, one best-of-N response and ``reference_samples`` fresh base responses (whose
    rewards estimate the prompt's reward CDF). The estimate is slightly biased by the finite reference
    set (a response above all of them gets ``F̂ = 1``), and equals the bound only if rewards never tie.
    """
    estimates: list[float] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        _, best = best_of_n(lm, tokenizer, chunk, reward_fn, n)
        reference = sample(lm, tokenizer, [p for p in chunk for _ in range(reference_samples)])
        ref_rewards = torch.as_tensor(reward_fn(reference), dtype=torch.float32).reshape(len(chunk), reference_samples)
        estimates += [log_ratio_estimate(b, r.tolist(), n) for b, r in zip(best.tolist(), ref_rewards, strict=True)]
    return float(np.mean(estimates)), standard_error(estimates)


__all__ = ["best_of_n", "best_of_n_sampler", "estimate_kl", "exact_kl", "kl_bound", "log_ratio_estimate"]
