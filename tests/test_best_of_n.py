"""Best-of-N: the KL bound, its exact value for discrete policies, the estimator, and the sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlhf_utils import best_of_n as bon
from rlhf_utils import lm_task

from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


def test_bound_values():
    assert bon.kl_bound(1) == 0.0
    assert bon.kl_bound(4) == pytest.approx(math.log(4) - 0.75)
    with pytest.raises(ValueError):
        bon.kl_bound(0)


@pytest.mark.parametrize("n", [2, 4, 16])
def test_exact_kl_is_below_the_bound_and_reaches_it_only_without_repeats(n):
    rng = np.random.default_rng(0)
    few = rng.dirichlet(np.ones(3))
    assert bon.exact_kl(few, [0.0, 1.0, 2.0], n) < bon.kl_bound(n) - 1e-3  # samples often repeat
    tied = bon.exact_kl(few, [0.0, 1.0, 1.0], n)  # ties: even further below
    assert tied < bon.exact_kl(few, [0.0, 1.0, 2.0], n)
    many = np.full(20_000, 1 / 20_000)  # repeats all but impossible: the bound is reached
    assert bon.exact_kl(many, np.arange(20_000), n) == pytest.approx(bon.kl_bound(n), abs=2e-3)
    assert bon.exact_kl(many, np.arange(20_000), n) <= bon.kl_bound(n)


def test_exact_kl_of_two_equally_likely_responses():
    # N = 2, π = (½, ½), distinct rewards: π_2 = F^2 − F⁻^2 = (¼, ¾), the KL 0.131 nats, the bound 0.193
    assert bon.exact_distribution([0.5, 0.5], [0.0, 1.0], 2) == pytest.approx([0.25, 0.75])
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert bon.exact_kl([0.5, 0.5], [0.0, 1.0], 2) == pytest.approx(expected)
    assert round(expected, 3) == 0.131 and round(bon.kl_bound(2), 3) == 0.193


def test_exact_distribution_is_a_distribution_and_shares_ties_in_proportion():
    rng = np.random.default_rng(3)
    probs, rewards = rng.dirichlet(np.ones(6)), rng.integers(0, 3, 6).astype(float)
    for n in (1, 2, 5):
        best = bon.exact_distribution(probs, rewards, n)
        assert best.sum() == pytest.approx(1.0) and (best >= 0).all()
    assert bon.exact_distribution(probs, rewards, 1) == pytest.approx(probs)  # best-of-1 is the policy itself
    best = bon.exact_distribution([0.2, 0.3, 0.5], [0.0, 1.0, 1.0], 3)
    assert best == pytest.approx([0.2**3, 0.3 / 0.8 * (1 - 0.2**3), 0.5 / 0.8 * (1 - 0.2**3)])


def test_exact_distribution_matches_sampling():
    rng = np.random.default_rng(4)
    probs, rewards, n = np.array([0.1, 0.4, 0.2, 0.3]), np.array([3.0, 0.0, 1.0, 2.0]), 3
    draws = rng.choice(4, size=(200_000, n), p=probs)
    kept = draws[np.arange(len(draws)), rewards[draws].argmax(1)]
    assert np.bincount(kept, minlength=4) / len(kept) == pytest.approx(bon.exact_distribution(probs, rewards, n), abs=5e-3)


def test_exact_kl_of_a_constant_reward_is_zero():
    assert bon.exact_kl([0.2, 0.3, 0.5], [1.0, 1.0, 1.0], 8) == pytest.approx(0.0)


def test_estimator_recovers_the_bound_for_continuous_rewards():
    rng = np.random.default_rng(1)
    n, m = 4, 400
    estimates = [bon.log_ratio_estimate(rng.random(n).max(), rng.random(m), n) for _ in range(3000)]
    assert np.mean(estimates) == pytest.approx(bon.kl_bound(n), abs=0.05)


def test_estimator_bias_with_the_courses_32_reference_samples_is_small_and_upwards():
    # notebook 06 quotes this bias (+0.015 nats at N = 4) when it checks measured KL against the bound
    rng = np.random.default_rng(2)
    n, m = 4, 32
    estimates = [bon.log_ratio_estimate(rng.random(n).max(), rng.random(m), n) for _ in range(40_000)]
    bias = np.mean(estimates) - bon.kl_bound(n)
    assert 0.0 < bias < 0.03


def test_best_of_n_keeps_the_highest_reward_per_prompt():
    tokenizer = tiny_tokenizer()
    lm = tiny_lm(tokenizer)
    target = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" good"))[0]

    def reward(samples):
        return (samples.response_ids == target).float().sum(-1)

    torch.manual_seed(0)
    kept, rewards = bon.best_of_n(lm, tokenizer, PROMPTS[:3], reward, n=8)
    assert kept.prompts == PROMPTS[:3] and kept.response_ids.shape == (3, lm_task.RESPONSE_LENGTH)
    assert torch.equal(reward(kept), rewards)
    torch.manual_seed(0)
    single, single_rewards = bon.best_of_n(lm, tokenizer, PROMPTS[:3] * 8, reward, n=1)
    assert rewards.mean() >= single_rewards.mean()
