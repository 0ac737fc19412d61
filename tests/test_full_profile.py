"""The full profile end to end on local stand-ins: the code path of real gpt2 + IMDB, only the source differs.

``RLHF_FULL_MODEL`` points at a local GPT-2-architecture folder (without a pad token, like ``gpt2``) and
``RLHF_FULL_PROMPTS`` at a local folder of IMDB-like data files; everything else is what the full profile
runs: the base model and prompts by profile, a reward model trained on the model's own samples and saved
where notebook 04 saves the learner's, loaded back by profile, a few PPO iterations and the evaluator.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlhf_utils import evaluation, generation, lm_ppo, lm_task, models
from rlhf_utils.feedback import PreferencePair
from rlhf_utils.profiles import get_profile
from rlhf_utils.reward_model import (
    RewardModelTokenizerError,
    RewardTrainingConfig,
    init_reward_model,
    learner_reward_model_dir,
    load_reward_model,
    train_reward_model,
)

from .test_models import save_tiny_gpt2

REVIEWS = ["This movie was great fun and the acting was superb.<br /><br />Go and see it.",
           "I hated every minute of this boring film, and the ending was worse.",
           "The story is slow but the music is lovely throughout.",
           "A wonderful cast in a forgettable plot about nothing at all."]


@pytest.fixture
def full_sources(tmp_path, monkeypatch):
    model_dir, imdb_dir = tmp_path / "gpt2", tmp_path / "imdb"
    save_tiny_gpt2(model_dir)
    imdb_dir.mkdir()
    for split, n in (("train", 12), ("test", 6)):
        rows = [{"text": REVIEWS[i % len(REVIEWS)], "label": i % 2} for i in range(n)]
        (imdb_dir / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv(models.FULL_MODEL_ENV_VAR, str(model_dir))
    monkeypatch.setenv(lm_task.FULL_PROMPTS_ENV_VAR, str(imdb_dir))
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RLHF_PROFILE", "full")
    return model_dir, imdb_dir


def test_imdb_prompts_are_short_openings_of_reviews(full_sources):
    train, heldout = lm_task.load_prompts("train"), lm_task.load_prompts("heldout")
    assert len(train) == 12 and len(heldout) == 6
    for prompt in train + heldout:
        n_words = len(prompt.split())
        assert lm_task.PROMPT_WORDS[0] <= n_words <= lm_task.PROMPT_WORDS[1]
        assert "<br" not in prompt
        assert any(review.replace("<br /><br />", " ").startswith(prompt) for review in REVIEWS), prompt
    assert lm_task.load_prompts("train") == train  # seeded: the same prompts every time


def test_imdb_source_without_the_split_says_what_to_do(full_sources, tmp_path):
    (full_sources[1] / "test.jsonl").unlink()
    with pytest.raises(OSError, match="RLHF_FULL_PROMPTS"):
        lm_task.load_prompts("heldout")


def test_full_profile_end_to_end_on_local_sources(full_sources):
    profile = get_profile()
    assert profile.name == "full"
    base_model, tokenizer = models.load_base_model(profile)
    assert models.base_model_source(profile) == str(full_sources[0])
    train_prompts, heldout = lm_task.load_prompts("train", profile=profile), lm_task.load_prompts("heldout")

    # The shipped reward model speaks the course vocabulary, not this one: a clear error, not a silent mismatch.
    with pytest.raises(RewardModelTokenizerError):
        load_reward_model(prefer_learner=False, tokenizer=tokenizer, profile=profile, verbose=False)

    # A reward model trained on the model's own samples (notebook 04 in the full profile), saved for notebook 05.
    torch.manual_seed(0)
    a, b, _ = generation.sample_pairs(base_model, tokenizer, train_prompts, progress=False)
    pairs = [PreferencePair(p, x, y) if len(x) >= len(y) else PreferencePair(p, y, x)
             for p, x, y in zip(train_prompts, a, b)]
    rm = init_reward_model(base_model, tokenizer)
    train_reward_model(rm, pairs, config=RewardTrainingConfig(epochs=1, batch_size=4), progress=False)
    rm.save(learner_reward_model_dir(profile))
    # unmeasured, so not used by default (the shipped model then speaks the wrong vocabulary); forced, it is
    with pytest.raises(RewardModelTokenizerError):
        load_reward_model(tokenizer=tokenizer, profile=profile, verbose=False)
    reward_model = load_reward_model(tokenizer=tokenizer, profile=profile, verbose=False, require_usable=False)
    assert reward_model.folder == learner_reward_model_dir(profile)

    config = lm_ppo.course_config(profile, batch_size=8, minibatch_size=4, seed=0)
    trainer = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead.from_base(base_model), generation.frozen_copy(base_model),
                                  tokenizer, reward_model.score_samples, config, total_iterations=2)
    history = lm_ppo.train(trainer, train_prompts, 2, progress=False)
    assert len(history) == 2 and all(np.isfinite(h["score_mean"]) for h in history)
    result = evaluation.evaluate_policy(trainer.policy.lm, trainer.ref_model, tokenizer, heldout,
                                        reward_fn=reward_model.score_samples, samples_per_prompt=1, seed=0)
    # KL >= 0, and k1 is unbiased: its mean over a few samples may dip below 0, by sampling noise only
    assert np.isfinite(result.gold_mean) and result.kl_mean >= -3 * result.kl_se, result
