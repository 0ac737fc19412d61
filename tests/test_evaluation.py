"""The one evaluator: known values for its statistics, and a tiny model evaluated against itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhf_utils import evaluation, results
from rlhf_utils.models import ModelTokenizerMismatchError
from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_distinct_n_and_win_rate_and_standard_error():
    assert evaluation.distinct_n(["a b a b"], 1) == pytest.approx(2 / 4)
    assert evaluation.distinct_n(["a b a b", "c d"], 2) == pytest.approx(3 / 4)  # ab, ba, ab, cd
    rate, se = evaluation.win_rate([1.0, 0.0, 0.5, 0.2], [0.0, 1.0, 0.5, 0.1])
    assert rate == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert se == pytest.approx(np.std([1, 0, 0.5, 1], ddof=1) / 2)
    assert evaluation.standard_error([1.0, 3.0]) == pytest.approx(1.0)


def test_base_model_against_itself(tokenizer):
    lm = tiny_lm(tokenizer)
    ref = tiny_lm(tokenizer)  # same seed: identical weights
    reward = lambda s: s.response_ids.float().mean(-1)  # noqa: E731
    base = evaluation.evaluate_policy(ref, ref, tokenizer, PROMPTS, name="base", reward_fn=reward, seed=3,
                                      response_length=6, samples_per_prompt=2)
    again = evaluation.evaluate_policy(lm, ref, tokenizer, PROMPTS, name="same", reward_fn=reward, seed=3,
                                       response_length=6, samples_per_prompt=2, base=base)
    assert base.n == again.n == 2 * len(PROMPTS)
    assert abs(again.kl_mean) < 1e-5  # KL of a policy to itself is zero
    assert again.responses == base.responses  # fixed seed: the same samples
    assert again.win_rate == pytest.approx(0.5)  # all ties
    assert np.isfinite([again.gold_mean, again.gold_se, again.reward_mean, again.distinct_2]).all()


def test_evaluating_leaves_the_callers_random_stream_alone_and_gives_the_same_numbers_twice(tokenizer):
    lm, ref = tiny_lm(tokenizer), tiny_lm(tokenizer, seed=1)
    kwargs = dict(response_length=6, samples_per_prompt=2, seed=3)
    torch.manual_seed(7)
    expected_next = torch.rand(4)                   # what the caller would draw next without an evaluation
    torch.manual_seed(7)
    before = torch.get_rng_state()
    first = evaluation.evaluate_policy(lm, ref, tokenizer, PROMPTS, **kwargs)
    assert torch.equal(torch.get_rng_state(), before)  # the global torch RNG is as it was
    assert torch.equal(torch.rand(4), expected_next)   # e.g. a training run evaluated midway draws on undisturbed
    torch.rand(10)                                  # the caller's stream moves on; the evaluation does not care
    second = evaluation.evaluate_policy(lm, ref, tokenizer, PROMPTS, **kwargs)
    assert second.responses == first.responses and second.gold == first.gold
    assert (second.gold_mean, second.kl_mean, second.kl_se) == (first.gold_mean, first.kl_mean, first.kl_se)


def test_a_changed_policy_has_positive_kl(tokenizer):
    ref = tiny_lm(tokenizer)
    lm = tiny_lm(tokenizer)
    with torch.no_grad():
        lm.lm_head.weight.add_(0.5 * torch.randn_like(lm.lm_head.weight))
    result = evaluation.evaluate_policy(lm, ref, tokenizer, PROMPTS * 4, response_length=6)
    assert result.kl_mean > 0.1


def test_evaluator_errors(tokenizer):
    lm = tiny_lm(tokenizer)
    with pytest.raises(ValueError, match="empty prompt set"):
        evaluation.evaluate_policy(lm, lm, tokenizer, [])
    from transformers import GPT2Config, GPT2LMHeadModel

    other = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer) + 400, n_embd=16, n_layer=1, n_head=1))
    with pytest.raises(ModelTokenizerMismatchError):
        evaluation.evaluate_policy(other, lm, tokenizer, PROMPTS)
    nan_reward = lambda s: torch.full((len(s.prompts),), float("nan"))  # noqa: E731
    with pytest.raises(ValueError, match="non-finite"):
        evaluation.evaluate_policy(lm, lm, tokenizer, PROMPTS, reward_fn=nan_reward, response_length=4)


def test_agrees_within_combined_standard_errors():
    assert results.agrees(0.30, 0.04, 0.20, 0.03)          # 0.10 <= 3 * 0.05
    assert not results.agrees(0.40, 0.04, 0.20, 0.03)      # 0.20 > 3 * 0.05
    assert results.agrees(0.40, 0.04, 0.20, 0.03, k=4.0)   # 0.20 <= 4 * 0.05
    assert results.agrees(0.40, 0.0, 0.20, 0.0, spread=0.07)   # 0.20 <= 3 * 0.07: another draw of a training run
    assert not results.agrees(0.40, 0.0, 0.20, 0.0, spread=0.06)


def test_live_runs_are_compared_with_committed_results_only_on_the_same_models(tmp_path):
    from types import SimpleNamespace

    from rlhf_utils.profiles import get_profile
    from rlhf_utils.reward_model import SHIPPED_REWARD_MODEL_DIR

    shipped, own = SimpleNamespace(folder=SHIPPED_REWARD_MODEL_DIR), SimpleNamespace(folder=tmp_path / "mine")
    assert results.comparable_with_committed(get_profile("quick"), shipped)
    assert not results.comparable_with_committed(get_profile("quick"), own)          # the learner's reward model
    assert not results.comparable_with_committed(get_profile("full"), shipped)       # another base model
    assert not results.comparable_with_committed("quick", SimpleNamespace(folder=None))  # built in this session


def test_a_new_run_is_judged_against_the_spread_of_committed_runs():
    runs = [0.60, 0.65, 0.70]  # mean 0.65, spread 0.05
    assert results.agrees_with_runs(0.78, 0.01, runs)       # 0.13 <= 3 * sqrt(0.01² + 0.05²/3 + 0.05²)
    assert not results.agrees_with_runs(0.85, 0.01, runs)   # 0.20 > 0.176
    with pytest.raises(ValueError, match="two committed runs"):
        results.agrees_with_runs(0.5, 0.01, [0.5])


def test_over_seeds_is_the_median_and_range_scripts_report():
    assert results.over_seeds([0.75, 0.5, 1.0, 0.25]) == {"median": 0.625, "min": 0.25, "max": 1.0, "seeds": 4}
    assert results.over_seeds(iter([3.0])) == {"median": 3.0, "min": 3.0, "max": 3.0, "seeds": 1}
    with pytest.raises(ValueError, match="at least one value"):
        results.over_seeds([])
