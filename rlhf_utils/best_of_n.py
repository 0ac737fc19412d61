"""Best-of-N sampling against a reward model, and how far it moves from the base policy (notebook 06).

Best-of-N draws N responses from the base policy π and keeps the one the reward model scores highest.
It needs no training, and its distribution π_N is known in closed form from π and the reward's CDF
under π. For a discrete policy (a language model is one) write ``F(y) = P_π(R ≤ r(y))`` and
``F⁻(y) = P_π(R < r(y))``, the CDF just below y. The best of N has reward at most r(y) with
probability F(y)^N, so with rewards that differ between responses

    π_N(y) = F(y)^N − F⁻(y)^N,                                  F(y) − F⁻(y) = π(y),

and with ties (broken uniformly at random among the tied responses) the tied mass shares it:
``π_N(y) = π(y) · (F^N − F⁻^N) / (F − F⁻)``. :func:`exact_kl` computes ``KL(π_N ‖ π)`` from these.

The formula usually quoted, ``KL(π_N ‖ π) = log N − (N − 1)/N``, is an upper bound (Beirami et al.
2024, "Theoretical guarantees on the best-of-n alignment policy"), reached only in the limit where
every response's probability goes to 0, so that the N samples never repeat: there
``(F^N − F⁻^N)/π(y) → N · F^(N−1)``, the continuous density ratio, and ``E_{π_N}[log N + (N − 1) log F]
= log N − (N − 1)/N``. For N = 2 and two equally likely responses, π_2 = (¼, ¾) and the KL is 0.131
nats, against a bound of 0.193 (:func:`kl_bound`). A 24-token response of the course model is one of
astronomically many and two samples of a prompt almost never coincide, so there the KL sits just
below the bound.
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
    """``log N − (N − 1)/N``: an upper bound on ``KL(π_N ‖ π)``, not the KL itself.

    It is the KL in the limit where every response's probability goes to 0 (a continuous reward
    distribution); for a discrete policy the KL is smaller (:func:`exact_kl`).
    """
    if n < 1:
        raise ValueError(f"N must be at least 1, got {n}")
    return math.log(n) - (n - 1) / n


def exact_distribution(probs: Sequence[float], rewards: Sequence[float], n: int) -> np.ndarray:
    """``π_N``, the exact best-of-``n`` distribution of a discrete policy with outcome ``probs`` and ``rewards``.

    ``π_N(y) = F(y)^N − F⁻(y)^N`` for an outcome whose reward no other outcome shares, with
    ``F(y) = P(R ≤ r(y))`` and ``F⁻(y) = P(R < r(y))``; outcomes with equal rewards are tied (best-of-N
    picks among them uniformly) and share their group's ``F^N − F⁻^N`` in proportion to ``π``.
    ``exact_distribution([0.5, 0.5], [0, 1], 2)`` is ``[0.25, 0.75]``.
    """
    if n < 1:
        raise ValueError(f"N must be at least 1, got {n}")
    p = np.asarray(probs, dtype=float)
    r = np.asarray(rewards, dtype=float)
    if p.shape != r.shape or p.ndim != 1 or not np.isclose(p.sum(), 1.0) or (p < 0).any():
        raise ValueError("probs must be a probability vector with one reward per outcome")
    values, group = np.unique(r, return_inverse=True)           # distinct rewards, ascending
    mass = np.bincount(group, weights=p, minlength=len(values))  # π of each reward value
    f = np.minimum(np.cumsum(mass), 1.0)                         # F at each value
    f_below = f - mass                                           # F⁻ at each value
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(mass > 0, (f**n - np.clip(f_below, 0.0, 1.0) ** n) / mass, 0.0)
    return p * share[group]


def exact_kl(probs: Sequence[float], rewards: Sequence[float], n: int) -> float:
    """Exact ``KL(π_N ‖ π)`` for a discrete policy, with ``π_N`` from :func:`exact_distribution`.

    Below :func:`kl_bound` for ``N ≥ 2``, and close to it only when every outcome is unlikely:
    ``exact_kl([0.5, 0.5], [0, 1], 2)`` = ¼ log ½ + ¾ log (3/2) = 0.131 nats, against the bound's 0.193.
    """
    p = np.asarray(probs, dtype=float)
    best = exact_distribution(p, rewards, n)
    keep = best > 0
    return float(np.sum(best[keep] * np.log(best[keep] / p[keep])))


def log_ratio_estimate(best_reward: float, reference_rewards: Sequence[float], n: int) -> float:
    """Estimate of ``log π_N(y)/π(y)`` for a best-of-N response ``y`` from fresh base rewards of its prompt.

    ``F`` is estimated by the rank of ``best_reward`` among ``M`` fresh base-policy rewards for the same
    prompt, counting ``y`` itself: ``F̂ = (#{R_j ≤ r} + 1)/(M + 1)``, put into the continuous-limit ratio
    ``log π_N/π = log N + (N − 1) log F``. Averaged over best-of-N responses it estimates the KL where
    responses almost never repeat (as the course model's do); for a policy whose responses often
    repeat, that ratio is not the exact one and the estimate is biased.
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
    set (a response above all of them gets ``F̂ = 1``), and, using the continuous-limit ratio, it cannot
    see how far below the bound a policy with repeated responses sits (see the module docstring).
    """
    estimates: list[float] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        _, best = best_of_n(lm, tokenizer, chunk, reward_fn, n)
        reference = sample(lm, tokenizer, [p for p in chunk for _ in range(reference_samples)])
        ref_rewards = torch.as_tensor(reward_fn(reference), dtype=torch.float32).reshape(len(chunk), reference_samples)
        estimates += [log_ratio_estimate(b, r.tolist(), n) for b, r in zip(best.tolist(), ref_rewards, strict=True)]
    return float(np.mean(estimates)), standard_error(estimates)


__all__ = ["best_of_n", "best_of_n_sampler", "estimate_kl", "exact_distribution", "exact_kl", "kl_bound", "log_ratio_estimate"]
