"""DPO: the loss against a hand-computed case, sequence log-probs against the sampling path, and learning."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf_utils import dpo, generation, lm_task, trl_trainers
from rlhf_utils.feedback import PreferencePair

from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_dpo_loss_matches_a_hand_computed_case():
    # implicit rewards: chosen 0.5 * (-3 - -4) = 0.5, rejected 0.5 * (-5 - -4.5) = -0.25; margin 0.75
    loss, chosen, rejected = dpo.dpo_loss(torch.tensor([-3.0]), torch.tensor([-5.0]), torch.tensor([-4.0]),
                                          torch.tensor([-4.5]), beta=0.5)
    assert chosen.item() == pytest.approx(0.5) and rejected.item() == pytest.approx(-0.25)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.75)))


def test_dpo_loss_at_the_reference_is_log_2():
    logps = torch.randn(6)
    loss, _, _ = dpo.dpo_loss(logps[:3], logps[3:], logps[:3], logps[3:], beta=0.1)
    assert loss.item() == pytest.approx(math.log(2))


def test_sequence_logprobs_agree_with_the_sampling_path(tokenizer):
    torch.manual_seed(0)
    lm = tiny_lm(tokenizer)
    prompts, responses = PROMPTS[:4], [" good fun", " boring film", " good film", " fun fun"]
    rows = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    width = max(len(r) for r in rows)
    keep = [i for i, r in enumerate(rows) if len(r) == width]  # the sampling path scores equal-length responses
    query_ids, query_mask = lm_task.encode_prompts(tokenizer, [prompts[i] for i in keep])
    samples = generation.Samples([prompts[i] for i in keep], [responses[i] for i in keep], query_ids, query_mask,
                             torch.tensor([rows[i] for i in keep]))
    with torch.no_grad():
        by_ids = generation.response_logprobs(lm, samples, 1.0, generation.forbidden_token_ids(tokenizer)).sum(-1)
        by_text = dpo.sequence_logprobs(lm, tokenizer, prompts, responses)  # mixed lengths: right padding
    assert torch.allclose(by_text[keep], by_ids, atol=1e-4)


def test_training_raises_the_chosen_over_the_rejected(tokenizer):
    torch.manual_seed(0)
    policy = tiny_lm(tokenizer)
    ref = generation.frozen_copy(policy)
    pairs = [PreferencePair(p, " good fun", " boring film") for p in PROMPTS] * 4
    history = dpo.train_dpo(policy, ref, tokenizer, pairs,
                            dpo.DPOTrainingConfig(beta=0.5, epochs=3, batch_size=5, learning_rate=3e-3), progress=False)
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert history[-1]["loss"] < 0.3 and history[-1]["accuracy"] == 1.0


def test_ties_only_is_a_clear_error(tokenizer):
    lm = tiny_lm(tokenizer)
    with pytest.raises(ValueError, match="ties"):
        dpo.train_dpo(lm, generation.frozen_copy(lm), tokenizer, [PreferencePair("a", "b", "c", 0.5)])


@pytest.mark.slow
def test_trl_dpo_on_the_same_pairs_also_learns_the_preference(tokenizer):
    torch.manual_seed(0)
    policy = tiny_lm(tokenizer)
    ref = generation.frozen_copy(policy)
    pairs = [PreferencePair(p, " good fun", " boring film") for p in PROMPTS] * 4
    before = dpo.sequence_logprobs(policy, tokenizer, PROMPTS, [" good fun"] * 5).detach()
    history = trl_trainers.train_dpo_with_trl(policy, ref, tokenizer, pairs,
                                     dpo.DPOTrainingConfig(beta=0.5, epochs=3, batch_size=5, learning_rate=3e-3),
                                     progress=False)
    after = dpo.sequence_logprobs(policy, tokenizer, PROMPTS, [" good fun"] * 5).detach()
    assert history[-1]["train_loss"] < math.log(2)
    assert (after - before).mean() > 0  # the chosen response became more likely


def test_implicit_reward_accuracy_compares_log_ratios_not_log_probs():
    """Notebook 06's exercise 3 reference: the chosen response wins when its log-ratio to the reference is
    larger; a policy equal to the reference prefers nothing (counts as wrong), and raw log-probs alone mislead."""
    ref_chosen = torch.tensor([-10.0, -10.0, -30.0, -5.0, -40.0])
    ref_rejected = torch.tensor([-10.0, -10.0, -5.0, -30.0, -3.0])
    policy_chosen = ref_chosen + torch.tensor([1.0, -1.0, 0.5, 0.0, 2.0])
    policy_rejected = ref_rejected.clone()
    # chosen's log-ratio vs rejected's: +1 > 0 right, -1 < 0 wrong, +0.5 > 0 right (though log π(chosen) is far
    # lower), 0 = 0 no preference (wrong), +2 > 0 right
    assert dpo.implicit_reward_accuracy(policy_chosen, policy_rejected, ref_chosen, ref_rejected) == pytest.approx(0.6)
    assert dpo.implicit_reward_accuracy(ref_chosen, ref_rejected, ref_chosen, ref_rejected) == 0.0
    raw = (policy_chosen > policy_rejected).float().mean().item()     # the common wrong answer
    assert raw == pytest.approx(0.4)
