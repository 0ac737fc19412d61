"""TRL's online trainers score the distribution they sample from (the position-ids workaround of ``trl_trainers``)."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2LMHeadModel

from rlhf_utils import generation, lm_task, reward_model, trl_trainers
from tests.tiny import PROMPTS, tiny_lm, tiny_tokenizer

pytestmark = pytest.mark.slow  # builds TRL trainers (a few seconds each)

# Prompts of different token lengths, so that left padding differs from row to row.
LEFT_PADDED = ["This movie", "The story is slow but the music", "I hated", "A wonderful cast in a forgettable plot.",
               "The music is"]


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    lm = tiny_lm(tokenizer, seed=1)
    with torch.no_grad():  # position embeddings as large as a trained model's, so shifted positions matter
        lm.transformer.wpe.weight.normal_(0.0, 0.5)
    rm = reward_model.init_reward_model(tiny_lm(tokenizer, seed=2), tokenizer)
    folder = tmp_path_factory.mktemp("trl")
    lm.save_pretrained(folder / "lm")  # TRL builds the reference model from the policy's path
    return tokenizer, GPT2LMHeadModel.from_pretrained(folder / "lm").eval(), rm, folder


def sampled(lm, tokenizer, prompts=LEFT_PADDED, length: int = 8):
    """Left-padded prompts, sampled responses, and the log-probs of the distribution ``generate`` sampled from."""
    tokenizer.padding_side = "left"
    batch = tokenizer([trl_trainers.with_prompt_rule(p) for p in prompts], return_tensors="pt", padding=True)
    assert (batch["attention_mask"] == 0).any(dim=1).sum() >= 3, "the test needs several padded rows"
    torch.manual_seed(0)
    out = lm.generate(**batch, do_sample=True, temperature=lm_task.TEMPERATURE, top_k=0, top_p=1.0,
                      max_new_tokens=length, min_new_tokens=length, output_logits=True, return_dict_in_generate=True,
                      pad_token_id=tokenizer.pad_token_id)
    completion = out.sequences[:, batch["input_ids"].shape[1]:]
    logits = torch.stack(out.logits, dim=1) / lm_task.TEMPERATURE  # raw logits, before any processor
    sampling_logps = generation.token_logprobs(logits, completion)
    input_ids = out.sequences
    mask = torch.cat([batch["attention_mask"], torch.ones_like(completion)], dim=1)
    return input_ids, mask, completion.shape[1], sampling_logps


@pytest.mark.parametrize("kind", ["rloo", "grpo"])
def test_trl_training_logprobs_equal_the_sampling_distribution_on_left_padded_prompts(kind, setting):
    tokenizer, lm, rm, folder = setting
    args = trl_trainers.rl_config(kind, str(folder / kind), tokenizer, learning_rate=1e-5, beta=0.05, batch_size=4,
                                  num_generations=2, max_steps=1)
    trainer = trl_trainers.rl_trainer(kind, lm, tokenizer, rm, PROMPTS, args)
    input_ids, mask, n, sampling_logps = sampled(lm, tokenizer)
    base = type(trainer).__mro__[1]  # TRL's own class, without the workaround
    with torch.no_grad():
        fixed, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, input_ids, mask, n)
        unfixed, _, _ = base._get_per_token_logps_and_entropies(trainer, trainer.model, input_ids, mask, n)
        reference, _, _ = trainer._get_per_token_logps_and_entropies(trainer.ref_model, input_ids, mask, n)
    gap = (fixed - sampling_logps).abs().max().item()
    assert gap < 1e-4, f"TRL's {kind} log-probs differ from the sampling distribution by up to {gap:.2e}"
    # The reference starts as a copy of the policy: its log-probs, at the same positions, are the same.
    assert (reference - sampling_logps).abs().max().item() < 1e-4
    # The check can fail: TRL's own scoring (no position ids) is off on the padded rows, and only there.
    padded = (mask == 0).any(dim=1)
    unfixed_gap = (unfixed - sampling_logps).abs()
    assert unfixed_gap[padded].max().item() > 1e-2
    assert unfixed_gap[~padded].max().item() < 1e-4
    assert "forward" not in trainer.model.__dict__ or trainer.model.forward.__name__ != "forward_with_positions"


def test_the_workaround_restores_the_models_forward(setting):
    tokenizer, lm, _, _ = setting
    own = lm.__dict__.get("forward")
    with trl_trainers._positions_from_mask(lm):
        assert lm.forward.__name__ == "forward_with_positions"
    assert lm.__dict__.get("forward") is own


def test_dpo_reports_boundary_merges_once_and_shows_a_bar_not_log_dicts(setting, capsys, caplog):
    from rlhf_utils import dpo
    from rlhf_utils.feedback import PreferencePair

    tokenizer, lm, _, _ = setting
    # "The sto" + "ry ..." re-tokenises across the boundary; " good fun" after "This movie" does not.
    pairs = [PreferencePair("The sto", "ry is great fun", "ry is boring")] * 3 + \
        [PreferencePair("This movie", " good fun", " boring film")] * 3
    policy = tiny_lm(tokenizer, seed=3)
    trl_trainers.train_dpo_with_trl(policy, generation.frozen_copy(policy), tokenizer, pairs,
                                    dpo.DPOTrainingConfig(epochs=4, batch_size=1), progress=True)  # 24 steps: 2 logging steps
    printed = capsys.readouterr()
    assert "in 6 of 12 examples" in printed.out  # chosen and rejected of the 3 merging pairs
    assert "not a prefix" not in caplog.text + printed.err
    assert "{'loss'" not in printed.out + printed.err  # the bar shows the loss; no raw log dict is printed
