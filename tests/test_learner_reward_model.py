"""A learner's own reward model: criteria, the warm start, the head fit, its measurements, and when 05-07 use it."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rlhf_utils import gold
from rlhf_utils import reward_model as rmod
from rlhf_utils.feedback import PreferencePair, SimulatedLabeller

from .test_reward_model import toy_pairs
from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture()
def shipped(tokenizer):
    """A stand-in for the shipped reward model: a tiny one trained to prefer responses with ' great'."""
    rm = rmod.init_reward_model(tiny_lm(tokenizer), tokenizer, seed=0)
    rmod.fit_head(rm, toy_pairs(80, seed=0), l2=1e-3)
    return rm


# ------------------------------------------------------------------ criteria
def test_negative_is_the_mirror_of_positive_with_the_same_penalty():
    kind, hate = "What a wonderful, moving film with a superb cast.", "The plot was dull and the acting was wooden."
    assert gold.gold_score(kind, criterion="negative") == pytest.approx(-gold.gold_score(kind))
    assert gold.gold_score(hate, criterion="negative") > gold.gold_score(kind, criterion="negative")
    # repetition cannot game either criterion: a run of one word is penalised the same way
    assert gold.gold_score("awful awful awful awful", criterion="negative") < gold.gold_score(hate, criterion="negative")
    assert gold.gold_score("great great great great") < gold.gold_score(kind)
    scores = gold.gold_function("negative")([kind, hate], ["", ""])
    assert scores[1] > scores[0] and gold.gold_function("negative").__name__ == "gold_negative"


def test_criterion_names_are_checked_and_the_notebook_setting_wins(monkeypatch):
    monkeypatch.delenv(gold.CRITERION_ENV_VAR, raising=False)
    assert gold.choose_criterion() == "positive"
    monkeypatch.setenv(gold.CRITERION_ENV_VAR, "negative")
    assert gold.choose_criterion() == "negative"
    assert gold.choose_criterion("own") == "own"                      # the notebook's own variable wins
    with pytest.raises(gold.UnknownCriterionError, match="'positive', 'negative', 'own'"):
        gold.choose_criterion("funnier")
    monkeypatch.setenv(gold.CRITERION_ENV_VAR, "Positive")
    with pytest.raises(gold.UnknownCriterionError, match="RLHF_CRITERION"):
        gold.choose_criterion()
    with pytest.raises(ValueError, match="no gold score"):
        gold.gold_scores(["a review"], criterion="own")


def test_the_simulated_person_follows_its_criterion():
    pairs = [("The film", " was wonderful and moving, a delight", " was dull, wooden and boring")] * 40
    from rlhf_utils.feedback import ComparisonPair

    for criterion, preferred in (("positive", "A"), ("negative", "B")):
        person = SimulatedLabeller(criterion=criterion, seed=1)
        choices = [person.judge(ComparisonPair(*p, model="m"))[0] for p in pairs]
        assert choices.count(preferred) >= 36, (criterion, choices.count(preferred))
    with pytest.raises(ValueError, match="no gold score"):
        SimulatedLabeller(criterion="own")


# ------------------------------------------------------------------ transfer
def test_warm_start_keeps_the_head_for_positive_and_starts_fresh_otherwise(shipped):
    positive, negative = rmod.warm_start(shipped, "positive"), rmod.warm_start(shipped, "negative")
    torch.testing.assert_close(positive.model.score.weight, shipped.model.score.weight)
    assert torch.count_nonzero(negative.model.score.weight) == 0
    negative.model.score.weight.data.fill_(1.0)  # a copy: the shipped model is untouched
    assert not torch.equal(shipped.model.score.weight, negative.model.score.weight)
    with pytest.raises(gold.UnknownCriterionError):
        rmod.warm_start(shipped, "kinder")


def test_final_token_features_give_the_raw_reward(shipped):
    features = rmod.final_token_features(shipped, PROMPTS[:3], [" great fun", " slow", " the music is lovely"])
    torch.testing.assert_close(features @ shipped.model.score.weight.reshape(-1),
                               shipped.score_texts(PROMPTS[:3], [" great fun", " slow", " the music is lovely"], raw=True))


def test_fit_head_learns_a_preference_from_tens_of_pairs_and_l2_pulls_to_the_prior(shipped):
    train, held_out = toy_pairs(30, seed=2), toy_pairs(60, seed=3)
    flipped = [PreferencePair(p.prompt, p.rejected, p.chosen) for p in train]  # the opposite preference
    rm = rmod.warm_start(shipped, "negative")
    assert rmod.evaluate_pairs(rm, held_out)["accuracy"] == 0.0   # a zero head ties every pair
    rmod.fit_head(rm, flipped, l2=1e-3)
    flipped_held = [PreferencePair(p.prompt, p.rejected, p.chosen) for p in held_out]
    assert rmod.evaluate_pairs(rm, flipped_held)["accuracy"] >= 0.65  # chance is 0.5; a random 2-layer trunk
    again = rmod.warm_start(shipped, "negative")
    rmod.fit_head(again, flipped, l2=1e-3)
    torch.testing.assert_close(again.model.score.weight, rm.model.score.weight)  # deterministic
    prior = shipped.model.score.weight.detach().clone()
    stuck = rmod.warm_start(shipped, "positive")
    rmod.fit_head(stuck, flipped, prior=prior, l2=1e6)            # a huge pull keeps the prior
    torch.testing.assert_close(stuck.model.score.weight, prior, atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="label a few pairs"):
        rmod.fit_head(rm, [])


def test_learner_model_is_measured_on_held_back_labels_and_gold(shipped):
    pairs = toy_pairs(40, seed=4)
    held = toy_pairs(20, seed=5)
    heldout = ([p.prompt for p in held], [p.chosen for p in held], [p.rejected for p in held])
    rm = rmod.learner_reward_model(shipped, pairs, "positive", heldout=heldout, seed=0)
    ev = rm.info["evaluation"]
    assert ev["heldback_pairs"] == 10 and ev["train_pairs"] == 30 and rm.info["criterion"] == "positive"
    assert 0.0 <= ev["heldback_accuracy"] <= 1.0 and ev["heldback_accuracy"] >= 0.8
    assert "gold_accuracy" in ev and ev["gold_pairs"] <= 20
    own = rmod.learner_reward_model(shipped, pairs, "own", heldout=heldout)
    assert "gold_accuracy" not in own.info["evaluation"]          # 'own' has no gold to be measured by
    with pytest.raises(ValueError, match="all are ties or skips"):
        rmod.learner_reward_model(shipped, [PreferencePair("p", " a", " b", 0.5)], "positive")


@pytest.mark.parametrize("info, ok, says", [
    ({"criterion": "negative", "evaluation": {"gold_accuracy": 0.72, "gold_pairs": 380}}, True, "72%"),
    ({"criterion": "negative", "evaluation": {"gold_accuracy": 0.52, "gold_pairs": 380}}, False, "below the 65% bar"),
    ({"criterion": "own", "evaluation": {"heldback_accuracy": 0.9, "heldback_pairs": 3}}, False, "only 3"),
    ({"criterion": "own", "evaluation": {"heldback_accuracy": 0.8, "heldback_pairs": 12}}, True, "held-back"),
    ({"criterion": "positive"}, False, "no accuracy measurement"),
    ({"criterion": "positive", "evaluation": {"gold_accuracy": float("nan")}}, False, "no accuracy measurement"),
])
def test_usable_states_its_reason(info, ok, says):
    verdict, reason = rmod.usable(info)
    assert verdict is ok and says in reason


# ------------------------------------------------------------------ which model 05-07 use
@pytest.fixture()
def two_models(shipped, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(rmod, "SHIPPED_REWARD_MODEL_DIR", tmp_path / "shipped")
    shipped.save(tmp_path / "shipped")
    learner = rmod.warm_start(shipped, "negative")
    return learner, rmod.learner_reward_model_dir("quick"), tmp_path / "shipped"


def test_only_a_usable_learner_model_is_used_by_default_and_never_silently(two_models, capsys):
    learner, learner_dir, shipped_dir = two_models
    learner.info.update(criterion="negative", evaluation={"gold_accuracy": 0.55, "gold_pairs": 300})
    learner.save(learner_dir)
    rm = rmod.load_reward_model()
    out = capsys.readouterr().out
    assert rm.folder == shipped_dir and rm.criterion == "positive"
    assert "not yours" in out and "55%" in out and "USE_MY_REWARD_MODEL_ANYWAY" in out
    forced = rmod.load_reward_model(require_usable=False)
    assert forced.folder == learner_dir and forced.criterion == "negative"
    assert "your own reward model" in capsys.readouterr().out
    learner.info["evaluation"]["gold_accuracy"] = 0.75
    learner.save(learner_dir)
    assert rmod.load_reward_model(verbose=False).folder == learner_dir


@pytest.mark.parametrize("damage", ["bad json", "nan gain", "no gain", "no score head", "no weights"])
def test_a_corrupt_learner_model_warns_by_name_and_falls_back(two_models, damage):
    learner, learner_dir, shipped_dir = two_models
    learner.info.update(criterion="negative", evaluation={"gold_accuracy": 0.8, "gold_pairs": 300})
    learner.save(learner_dir)
    info_file = learner_dir / rmod.INFO_FILE
    if damage == "bad json":
        info_file.write_text('{"gain": 1.0, "bias"')
    elif damage in ("nan gain", "no gain"):
        info = json.loads(info_file.read_text())
        info.pop("gain") if damage == "no gain" else info.update(gain=math.nan)
        info_file.write_text(json.dumps(info))
    elif damage == "no score head":
        from safetensors.torch import load_file, save_file

        tensors = load_file(learner_dir / "model.safetensors")
        save_file({k: v for k, v in tensors.items() if not k.startswith("score")}, learner_dir / "model.safetensors",
                  metadata={"format": "pt"})
    else:
        (learner_dir / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match=f"Not using the reward model in {learner_dir}"):
        assert rmod.load_reward_model(verbose=False).folder == shipped_dir
    with pytest.raises(rmod.RewardModelFileError, match=str(learner_dir)):
        rmod.RewardModel.load(learner_dir)


def test_a_corrupt_shipped_model_is_an_error_that_says_how_to_restore_it(two_models):
    _, _, shipped_dir = two_models
    (shipped_dir / rmod.INFO_FILE).write_text("[1, 2]")
    with pytest.raises(rmod.RewardModelFileError, match="git checkout -- data/models"):
        rmod.load_reward_model(prefer_learner=False, verbose=False)


def test_save_is_atomic_a_crash_keeps_the_old_model_whole(shipped, tmp_path, monkeypatch):
    folder = tmp_path / "rm"
    shipped.gain = 2.0
    shipped.save(folder)
    shipped.gain = 5.0

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shipped.tokenizer, "save_pretrained", crash)  # after the weights, before the JSON
    with pytest.raises(OSError, match="disk full"):
        shipped.save(folder)
    assert rmod.RewardModel.load(folder).gain == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rm"]   # no temporary folder left behind
