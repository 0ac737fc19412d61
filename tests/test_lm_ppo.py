"""PPO for language models on a tiny random GPT-2 with a toy reward (count of target tokens)."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from rlhf_utils import generation, lm_ppo, lm_task
from rlhf_utils.models import ModelTokenizerMismatchError

from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def make_trainer(tokenizer, reward_fn, dropout: float = 0.0, **overrides) -> lm_ppo.LMPPOTrainer:
    settings = dict(response_length=8, batch_size=16, minibatch_size=8, ppo_epochs=4, learning_rate=3e-3,
                    kl_coef=0.01, adaptive_kl=False, anneal_lr=False)
    settings.update(overrides)
    lm = tiny_lm(tokenizer, dropout)
    return lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead(lm), generation.frozen_copy(lm), tokenizer, reward_fn,
                               lm_ppo.LMPPOConfig(**settings))


def target_tokens_reward(token_ids: list[int]):
    """A toy reward: how many response tokens belong to a small target set."""
    targets = torch.tensor(token_ids)

    def reward(samples: generation.Samples) -> torch.Tensor:
        return torch.isin(samples.response_ids, targets).float().sum(-1)
    return reward


def test_ppo_increases_a_toy_reward(tokenizer):
    trainer = make_trainer(tokenizer, target_tokens_reward(list(range(100, 120))))
    history = lm_ppo.train(trainer, PROMPTS, iterations=16, progress=False)
    first, last = history[0]["score_mean"], sum(h["score_mean"] for h in history[-3:]) / 3
    assert last > max(2 * first, first + 0.8), f"reward did not rise: first {first:.2f}, last {last:.2f}"
    assert all(abs(h["first_minibatch_max_abs_log_ratio"]) < 1e-3 for h in history)


def test_kl_to_itself_is_zero_at_step_zero(tokenizer):
    trainer = make_trainer(tokenizer, lambda s: torch.zeros(len(s.prompts)))
    metrics = trainer.step(PROMPTS * 4)
    assert abs(metrics["kl"]) < 1e-5 and abs(metrics["kl_k3"]) < 1e-5
    assert metrics["sampling_logprob_gap"] < 1e-3  # rollout log-probs = the distribution sampled from


def test_padding_does_not_change_logprobs(tokenizer):
    lm = tiny_lm(tokenizer)
    torch.manual_seed(1)
    alone = generation.sample(lm, tokenizer, ["This movie"], response_length=6)
    # the same prompt and response, once alone and once left-padded next to a longer prompt
    batch = generation.sample(lm, tokenizer, ["This movie", "A wonderful cast in a forgettable plot"], response_length=6)
    batch.response_ids[0] = alone.response_ids[0]
    assert batch.query_mask[0].eq(0).any(), "the short prompt should be left-padded"
    forbidden = generation.forbidden_token_ids(tokenizer)
    with torch.no_grad():
        torch.testing.assert_close(generation.response_logprobs(lm, alone, 1.0, forbidden)[0],
                                   generation.response_logprobs(lm, batch, 1.0, forbidden)[0], atol=1e-5, rtol=1e-5)


def test_adaptive_kl_controller_moves_beta_the_right_way():
    above = lm_ppo.AdaptiveKLController(0.1, target=4.0, horizon=1000)
    above.update(current_kl=8.0, n_samples=100)
    below = lm_ppo.AdaptiveKLController(0.1, target=4.0, horizon=1000)
    below.update(current_kl=1.0, n_samples=100)
    assert above.value > 0.1 > below.value
    assert above.value == pytest.approx(0.1 * (1 + 0.2 * 0.1))  # the error is clipped at +0.2


def test_dropout_left_on_is_caught_by_the_sanity_check(tokenizer):
    trainer = make_trainer(tokenizer, lambda s: torch.zeros(len(s.prompts)), dropout=0.3, dropout_off=False)
    with pytest.warns(RuntimeWarning, match="ratio"):
        trainer.step(PROMPTS * 4)


def test_non_finite_reward_stops_with_the_iteration(tokenizer):
    trainer = make_trainer(tokenizer, lambda s: torch.full((len(s.prompts),), float("nan")))
    with pytest.raises(lm_ppo.NonFiniteRewardError, match="Iteration 0"):
        trainer.step(PROMPTS * 4)


def test_empty_prompts_and_mismatched_tokenizer_are_clear_errors(tokenizer):
    trainer = make_trainer(tokenizer, lambda s: torch.zeros(len(s.prompts)))
    with pytest.raises(ValueError, match="empty"):
        lm_ppo.train(trainer, [], iterations=1, progress=False)
    big = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer) + 500, n_embd=16, n_layer=1, n_head=1,
                                     pad_token_id=tokenizer.pad_token_id))
    # the message names both sizes and the fix
    with pytest.raises(ModelTokenizerMismatchError,
                       match=rf"{len(tokenizer)} tokens but .* has {len(tokenizer) + 500}: .* same folder"):
        lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead(big), generation.frozen_copy(big), tokenizer,
                            lambda s: torch.zeros(1))


def test_sample_pairs_gives_two_fixed_length_responses_per_prompt(tokenizer):
    torch.manual_seed(0)
    prompts = PROMPTS[:3] * 2
    responses_a, responses_b, samples = generation.sample_pairs(tiny_lm(tokenizer), tokenizer, prompts, batch_size=4,
                                                            progress=False)
    assert len(responses_a) == len(responses_b) == len(prompts)
    assert [s.response_ids.shape[0] for s in samples] == [4, 2, 4, 2]  # the A batches, then the B batches
    assert all(s.response_ids.shape[1] == lm_task.RESPONSE_LENGTH for s in samples)
    assert responses_a != responses_b  # independent draws


def test_the_config_seed_controls_generation_whatever_the_global_rng_did(tokenizer):
    def first_rollouts(seed: int, disturb: int) -> list[torch.Tensor]:
        trainer = make_trainer(tokenizer, lambda s: torch.zeros(len(s.prompts)), seed=seed)
        drawn = []
        for _ in range(2):
            torch.manual_seed(disturb)              # e.g. an evaluation in between, which reseeds the global RNG
            drawn.append(trainer.rollout(PROMPTS).samples.response_ids)
            trainer.iteration += 1
        return drawn

    a, b = first_rollouts(0, disturb=1), first_rollouts(0, disturb=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))             # the global RNG does not change the draw
    assert not torch.equal(a[0], a[1])                                  # each iteration draws afresh
    assert not torch.equal(a[0], first_rollouts(1, disturb=1)[0])       # another seed, another draw
    trainer = make_trainer(tokenizer, lambda s: torch.zeros(len(s.prompts)))  # (building a tiny model seeds it)
    before = torch.random.get_rng_state()
    trainer.rollout(PROMPTS)
    assert torch.equal(before, torch.random.get_rng_state())            # and the global RNG is left as it was
