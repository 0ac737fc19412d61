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


# ------------------------------------------------------------------ the rating's margin, and choosing pairs actively
def test_fit_head_margins_give_the_llama2_loss_and_none_is_the_plain_loss(shipped):
    pairs = toy_pairs(30, seed=6)
    prompts = [p.prompt for p in pairs]
    features = rmod.pair_features(shipped, prompts, [p.chosen for p in pairs], [p.rejected for p in pairs])
    plain, zeros = rmod.warm_start(shipped, "negative"), rmod.warm_start(shipped, "negative")
    rmod.fit_head(plain, pairs, l2=0.1, features=features)
    rmod.fit_head(zeros, pairs, l2=0.1, features=features, margins=[0.0] * len(pairs))
    torch.testing.assert_close(zeros.model.score.weight, plain.model.score.weight)   # m = 0 is the plain loss
    margins = rmod.rating_margins([1 + i % 5 for i in range(len(pairs))], scale=2.0)
    wide = rmod.warm_start(shipped, "negative")
    rmod.fit_head(wide, pairs, l2=0.1, features=features, margins=margins)
    diff = (features[0] - features[1]).double()

    def margin_loss_gradient(head: torch.Tensor) -> float:
        w = head.detach().reshape(-1).double().requires_grad_(True)
        loss = -torch.nn.functional.logsigmoid(diff @ w - margins).mean() + 0.1 * w.pow(2).sum()
        loss.backward()
        return float(w.grad.norm())

    # the fit is the minimum of -mean log σ(Δ - m) + l2 ||w||² (zero gradient there), and the plain fit is not
    assert margin_loss_gradient(wide.model.score.weight) < 1e-3 * margin_loss_gradient(torch.zeros(diff.shape[1]))
    assert margin_loss_gradient(plain.model.score.weight) > 100 * margin_loss_gradient(wide.model.score.weight)
    delta, plain_delta = (diff @ rm.model.score.weight.detach().reshape(-1).double() for rm in (wide, plain))
    assert delta.mean() > plain_delta.mean()                                    # pairs must be won by a margin
    for bad in ([1.0] * (len(pairs) - 1), [-1.0] + [0.0] * (len(pairs) - 1), [math.nan] * len(pairs)):
        with pytest.raises(ValueError, match="one per pair"):
            rmod.fit_head(wide, pairs, features=features, margins=bad)


def test_rating_margins_grow_with_the_rating_from_zero():
    torch.testing.assert_close(rmod.rating_margins([None, 1, 2, 3, 5], scale=2.0),
                               torch.tensor([0.0, 0.0, 0.5, 1.0, 2.0], dtype=torch.float64))
    for bad in ([0], [6], [2.5]):
        with pytest.raises(ValueError, match="1 to 5"):
            rmod.rating_margins(bad, scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        rmod.rating_margins([3], scale=-1.0)


def test_most_uncertain_picks_the_smallest_reward_gaps_and_skips_labelled_and_identical_pairs():
    w = torch.tensor([1.0, 0.0])
    fa = torch.tensor([[3.0, 0.0], [0.2, 1.0], [-0.1, 0.0], [5.0, 5.0], [1.0, 2.0], [-2.0, 0.0]])
    fb = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [0.0, 0.0], [0.0, 0.0]])
    # |Δ| = 3, 0.2, 0.1, 0 (but identical features: never chosen), 1, 2
    assert rmod.most_uncertain(w, fa, fb).tolist() == [2]
    assert rmod.most_uncertain(w, fa, fb, k=3).tolist() == [2, 1, 4]
    assert rmod.most_uncertain(w, fa, fb, k=2, exclude=[2, 4]).tolist() == [1, 5]
    assert rmod.most_uncertain(w, fa, fb, k=10, exclude=torch.tensor([0, 1])).tolist() == [2, 4, 5]  # fewer remain
    assert rmod.most_uncertain(torch.zeros(2), fa, fb, k=2).tolist() == [0, 1]   # a zero head: every pair a tie
    with pytest.raises(ValueError, match="at least 1"):
        rmod.most_uncertain(w, fa, fb, k=0)
    with pytest.raises(ValueError, match="pairs, hidden"):
        rmod.most_uncertain(w, fa, fb[:3])


def test_head_gold_accuracy_scores_pairs_as_the_model_does(shipped):
    pairs = toy_pairs(20, seed=7)
    prompts, a, b = [p.prompt for p in pairs], [p.chosen for p in pairs], [p.rejected for p in pairs]
    gold_a, gold_b = gold.gold_scores(a, prompts), gold.gold_scores(b, prompts)
    expected = rmod.gold_pairwise_accuracy(shipped.score_texts(prompts, a, raw=True).numpy(),
                                           shipped.score_texts(prompts, b, raw=True).numpy(), gold_a, gold_b)
    got = rmod.head_gold_accuracy(shipped.model.score.weight, *rmod.pair_features(shipped, prompts, a, b), gold_a, gold_b)
    assert got[1] == expected[1] and got[0] == pytest.approx(expected[0])


def test_fit_head_reports_the_loss_at_the_minimum_not_at_the_start(shipped):
    train = toy_pairs(30, seed=2)
    rm = rmod.warm_start(shipped, "negative")  # a zero head: the loss starts at log 2
    result = rmod.fit_head(rm, train, l2=1e-3)
    assert result["loss"] < math.log(2) - 1e-3
    prompts = [p.prompt for p in train]
    delta = (rm.score_texts(prompts, [p.chosen for p in train], raw=True)
             - rm.score_texts(prompts, [p.rejected for p in train], raw=True)).double()
    bt = -torch.nn.functional.logsigmoid(delta).mean().item()
    penalty = 1e-3 * rm.model.score.weight.double().pow(2).sum().item()
    assert result["loss"] == pytest.approx(bt + penalty, rel=1e-4)


def test_the_widget_shows_the_held_back_accuracy_of_the_labels_so_far(shipped, tmp_path, monkeypatch):
    """Issue: the learner sees their model's accuracy on their own held-back pairs, updated as they label
    (through the widget's keys), refitted every ``every`` labels with section 4.3's split."""
    from rlhf_utils.feedback import LabellingSession
    from rlhf_utils.feedback_store import FeedbackStore
    from rlhf_utils.labelling import LabellingWidget

    pairs = toy_pairs(20, seed=6)                    # A (chosen) has ' great': pressing "a" is right
    session = LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), [(p.prompt, p.chosen, p.rejected) for p in pairs],
                               model="m", labeller="ann", criterion="negative")
    fits = []
    real = rmod.learner_reward_model
    monkeypatch.setattr(rmod, "learner_reward_model", lambda *a, **k: fits.append(len(a[1])) or real(*a, **k))
    live = rmod.LiveHeldbackAccuracy(shipped, model="m", seed=3, every=5)
    widget = LabellingWidget(session, after_label=live)
    assert "from 8 A-or-B labels (0 so far)" in widget.note.value
    for _ in range(7):
        widget.press_key("a", widget.keyboard.pair_token)
    widget.press_key("s", widget.keyboard.pair_token)   # a skip is no A-or-B label
    assert "(7 so far)" in widget.note.value and fits == []
    widget.press_key("a", widget.keyboard.pair_token)
    expected = real(shipped, rmod.preference_pairs(session.store.labels("ann")), "negative", seed=3).info["evaluation"]
    assert fits == [8] and f"gets {round(expected['heldback_accuracy'] * 2)} of 2 held-back pairs" in widget.note.value
    for _ in range(4):
        widget.press_key("a", widget.keyboard.pair_token)
    assert fits == [8], "between refits the last report stays"
    widget.press_key("a", widget.keyboard.pair_token)
    assert fits == [8, 13] and "trained on 10 of your 13" in widget.note.value
    widget.press_key("u")                               # fewer labels than at the last fit: refit at once
    assert fits == [8, 13, 12] and "of your 12" in widget.note.value
    other = LabellingSession(session.store, [], model="m", labeller="bob", criterion="negative")
    assert "(0 so far)" in live(other), "only the session labeller's labels count"

    def broken(_session):
        raise RuntimeError("model gone")
    widget.after_label = broken
    widget.press_key("a", widget.keyboard.pair_token)
    assert "model gone" in widget.note.value and len(session.store.labels("ann")) == 14  # the label is saved
    with pytest.raises(ValueError, match="min_pairs"):
        rmod.LiveHeldbackAccuracy(shipped, model="m", min_pairs=2)
