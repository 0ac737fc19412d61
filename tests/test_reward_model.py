"""The reward model on tiny random GPT-2s: scoring rule, Bradley-Terry, TRL, normalisation, files, build script."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from rlhf_utils import generation, lm_ppo, trl_trainers
from rlhf_utils import reward_model as rmod
from rlhf_utils.feedback import PreferencePair
from rlhf_utils.lm_task import encode_prompts
from rlhf_utils.models import ModelTokenizerMismatchError
from rlhf_utils.paths import REPO_ROOT
from rlhf_utils.pretraining import train_byte_level_bpe

from .tiny import TEXTS, tiny_lm, tiny_tokenizer

PROMPTS = ["This movie", "The story is", "I hated every minute", "A wonderful cast in a"]
RESPONSES = [" great fun", " boring film", " hated cast", " the music is lovely"]


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture()
def rm(tokenizer):
    return rmod.init_reward_model(tiny_lm(tokenizer), tokenizer, seed=0)


def samples_of(tokenizer, prompts, responses) -> generation.Samples:
    """PPO samples whose responses are the given texts (all of the same token length)."""
    rows = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    assert len({len(r) for r in rows}) == 1, f"responses must have equal token lengths, got {[len(r) for r in rows]}"
    query_ids, query_mask = encode_prompts(tokenizer, prompts)
    return generation.Samples(list(prompts), list(responses), query_ids, query_mask, torch.tensor(rows))


# ------------------------------------------------------------------ Bradley-Terry
def test_bradley_terry_loss_matches_hand_computed_values():
    r_chosen, r_rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    # -log σ(1) = log(1 + e^-1) = 0.313262, -log σ(-1) = log(1 + e) = 1.313262
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    assert rmod.bradley_terry_loss(r_chosen, r_rejected).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.813262, abs=1e-6)
    # a tie (target 0.5) costs log 2 at equal rewards and has no gradient there
    r = torch.tensor([0.3], requires_grad=True)
    tie = rmod.bradley_terry_loss(r, torch.tensor([0.3]), target=0.5)
    tie.backward()
    assert tie.item() == pytest.approx(math.log(2), abs=1e-6) and abs(r.grad.item()) < 1e-7
    # it is the binary cross-entropy of the reward difference
    delta, target = torch.randn(7), torch.rand(7)
    torch.testing.assert_close(rmod.bradley_terry_loss(delta, torch.zeros(7), target),
                               F.binary_cross_entropy_with_logits(delta, target))


def test_accuracies_count_what_they_say():
    assert rmod.pairwise_accuracy(torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])) == pytest.approx(1 / 3)
    # pair 3 is a gold tie (|Δgold| < 0.02) and is left out; pairs 1 and 2 are ordered right and wrong
    accuracy, n = rmod.gold_pairwise_accuracy([1.0, 0.0, 5.0], [0.0, 1.0, 0.0], [0.5, 0.9, 0.3], [0.1, 0.2, 0.29])
    assert (accuracy, n) == (0.5, 2)


# ------------------------------------------------------------------ one scoring rule
@pytest.mark.slow
def test_scratch_trl_and_ppo_paths_give_the_same_reward(rm, tokenizer, tmp_path):
    from trl import RewardTrainer

    eos = tokenizer.eos_token_id
    text_ids = rmod.encode_for_reward(tokenizer, PROMPTS, RESPONSES)
    # 1. the from-scratch scorer (text path)
    scratch = rm.score_texts(PROMPTS, RESPONSES, raw=True)
    # 2. TRL's own tokenisation and collation, scored by its own compute_loss
    pairs = [PreferencePair(p, r, RESPONSES[(i + 1) % 4]) for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES))]
    args = trl_trainers.reward_config(rmod.RewardTrainingConfig(batch_size=4), tmp_path, max_length=64, progress=False)
    trainer = RewardTrainer(model=rm.model, args=args, train_dataset=trl_trainers.preference_dataset(pairs),
                            processing_class=tokenizer)
    trl_ids = [trainer.train_dataset[i]["chosen_ids"] for i in range(4)]
    assert trl_ids == text_ids, "TRL must tokenise '<eos> prompt response <eos>' exactly as encode_for_reward"
    assert all(ids[0] == eos and ids[-1] == eos and eos not in ids[1:-1] for ids in trl_ids)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert (batch["input_ids"] == tokenizer.pad_token_id).any(), "the TRL batch should be right-padded"
    rm.model.eval()
    with torch.no_grad():
        _, outputs = trainer.compute_loss(rm.model, dict(batch), return_outputs=True)
    trl_chosen = outputs.logits.squeeze(-1)[:4]
    # 3. the PPO token path: left-padded <eos> prompt ids + response ids + <eos>, no re-tokenisation
    responses = [" great fun", " boring film", " hated cast"]  # three responses of 6 tokens each
    ppo = rm.score_samples(samples_of(tokenizer, PROMPTS[:3], responses), raw=True)
    ids, mask = rmod.samples_for_reward(samples_of(tokenizer, PROMPTS[:3], responses), eos)
    assert [row[m.bool()].tolist() for row, m in zip(ids, mask)] == text_ids[:3]

    torch.testing.assert_close(trl_chosen, scratch, atol=1e-5, rtol=0)
    torch.testing.assert_close(ppo, scratch[:3], atol=1e-5, rtol=0)
    via_text = rm.score_samples(samples_of(tokenizer, PROMPTS[:3], responses), raw=True, via="text")
    torch.testing.assert_close(via_text, ppo, atol=1e-5, rtol=0)


def test_a_reward_model_is_a_reward_function_for_lm_ppo(rm, tokenizer):
    lm = tiny_lm(tokenizer, seed=1)
    config = lm_ppo.LMPPOConfig(response_length=6, batch_size=8, minibatch_size=4, ppo_epochs=1)
    trainer = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead(lm), generation.frozen_copy(lm), tokenizer, rm.score_samples,
                                  config)
    metrics = trainer.step(PROMPTS * 2)
    samples = trainer.last_rollout.samples
    assert samples.query_mask.eq(0).any(), "prompts of different lengths: left padding is exercised"
    torch.testing.assert_close(trainer.last_rollout.scores, rm.score_samples(samples))
    assert math.isfinite(metrics["score_mean"])


def test_reward_is_read_at_the_last_non_pad_token_whatever_the_padding(rm, tokenizer):
    rows = rmod.encode_for_reward(tokenizer, PROMPTS, RESPONSES)
    alone = torch.cat([rm.score_ids(torch.tensor([r]), torch.ones(1, len(r), dtype=torch.long), raw=True)
                       for r in rows])
    right = rm.score_ids(*rmod.pad_right(rows, tokenizer.pad_token_id), raw=True)
    width = max(map(len, rows)) + 3  # left padding, with extra pad columns
    left_ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    left_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        left_ids[i, width - len(r):], left_mask[i, width - len(r):] = torch.tensor(r), 1
    left = rm.score_ids(left_ids, left_mask, raw=True)
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=0)
    # the score is the head applied to the hidden state of the final <|endoftext|>
    with torch.no_grad():
        hidden = rm.model.transformer(torch.tensor([rows[0]])).last_hidden_state[0, -1]
    assert rows[0][-1] == tokenizer.eos_token_id
    assert (rm.model.score(hidden).item()) == pytest.approx(alone[0].item(), abs=1e-5)


def test_inputs_that_do_not_end_with_end_of_text_are_refused(rm, tokenizer):
    ids = torch.tensor([rmod.encode_for_reward(tokenizer, PROMPTS[:1], RESPONSES[:1])[0][:-1]])
    with pytest.raises(ValueError, match="end-of-text"):
        rm.score_ids(ids, torch.ones_like(ids))


def test_pad_token_equal_to_end_of_text_is_refused(tokenizer):
    same = tiny_tokenizer()
    same.pad_token = same.eos_token
    with pytest.raises(ValueError, match="separate pad token"):
        rmod.check_reward_tokenizer(same)


def test_scoring_turns_dropout_off_and_restores_the_mode(tokenizer):
    rm = rmod.init_reward_model(tiny_lm(tokenizer, dropout=0.5), tokenizer)
    rm.model.train()
    first, second = rm.score_texts(PROMPTS, RESPONSES), rm.score_texts(PROMPTS, RESPONSES)
    torch.testing.assert_close(first, second)
    assert rm.model.training


def test_init_leaves_the_base_model_untouched(tokenizer):
    lm = tiny_lm(tokenizer)
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    rm = rmod.init_reward_model(lm, tokenizer)
    for p in rm.model.parameters():
        p.data.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())
    assert rm.model.config.num_labels == 1 and rm.model.score.bias is None


# ------------------------------------------------------------------ normalisation and files
def test_calibration_gives_mean_zero_std_one_on_its_samples(rm, tokenizer):
    lm = tiny_lm(tokenizer, seed=1)
    torch.manual_seed(0)
    batches = [generation.sample(lm, tokenizer, PROMPTS * 4, response_length=8) for _ in range(2)]
    stats = rm.calibrate(batches)
    scores = torch.cat([rm.score_samples(b) for b in batches])
    assert stats["n"] == 32
    assert abs(scores.mean().item()) < 1e-4 and scores.std().item() == pytest.approx(1.0, abs=1e-4)
    raw = torch.cat([rm.score_samples(b, raw=True) for b in batches])
    torch.testing.assert_close(scores, rm.gain * raw + rm.bias)


def test_save_and_load_give_the_same_scores(rm, tokenizer, tmp_path):
    rm.gain, rm.bias = 2.5, -0.75
    rm.info["note"] = "round trip"
    folder = rm.save(tmp_path / "rm")
    assert (folder / "model.safetensors").exists() and not list(folder.glob("*.bin"))
    assert (folder / "tokenizer.json").exists() and json.loads((folder / rmod.INFO_FILE).read_text())["gain"] == 2.5
    loaded = rmod.RewardModel.load(folder)
    assert (loaded.gain, loaded.bias, loaded.info["note"]) == (2.5, -0.75, "round trip")
    assert rmod.same_vocabulary(loaded.tokenizer, tokenizer)
    torch.testing.assert_close(loaded.score_texts(PROMPTS, RESPONSES), rm.score_texts(PROMPTS, RESPONSES),
                               atol=1e-6, rtol=0)
    samples = samples_of(tokenizer, PROMPTS[:3], RESPONSES[:3])
    torch.testing.assert_close(loaded.score_samples(samples), rm.score_samples(samples), atol=1e-6, rtol=0)


def test_loading_a_folder_without_a_reward_model_says_how_to_build_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/train_reward_model.py"):
        rmod.RewardModel.load(tmp_path)


# ------------------------------------------------------------------ bad input
def test_samples_from_a_model_with_another_tokenizer_are_refused(rm, tokenizer):
    other = train_byte_level_bpe([t.upper() for t in TEXTS], vocab_size=300)
    policy = tiny_lm(other)
    samples = generation.sample(policy, other, PROMPTS, response_length=6)
    with pytest.raises(rmod.RewardModelTokenizerError, match="another tokenizer") as err:
        rm.score_samples(samples)
    assert isinstance(err.value, ModelTokenizerMismatchError)
    assert "score_texts" in str(err.value) and "notebook 04" in str(err.value)
    with pytest.raises(rmod.RewardModelTokenizerError, match="Train a reward model"):
        rm.check_tokenizer(other)
    rm.check_tokenizer(tiny_tokenizer())  # the same vocabulary passes
    assert rm.score_texts(samples.prompts, samples.responses).shape == (4,)  # its text can still be scored


def test_load_reward_model_prefers_the_learners_and_skips_an_incompatible_one(rm, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(rmod, "SHIPPED_REWARD_MODEL_DIR", tmp_path / "shipped")
    with pytest.raises(FileNotFoundError, match="train_reward_model.py"):
        rmod.load_reward_model(verbose=False)
    rm.save(tmp_path / "shipped")
    assert rmod.load_reward_model(verbose=False).folder == tmp_path / "shipped"
    learner = rmod.init_reward_model(tiny_lm(tokenizer, seed=3), tokenizer)
    learner.info.update(criterion="negative", evaluation={"gold_accuracy": 0.8, "gold_pairs": 100})  # usable
    learner.save(rmod.learner_reward_model_dir("quick"))
    assert rmod.learner_reward_model_dir("quick").is_relative_to(tmp_path / "cache")
    assert rmod.load_reward_model(verbose=False).folder == rmod.learner_reward_model_dir("quick")
    assert rmod.load_reward_model(prefer_learner=False, verbose=False).folder == tmp_path / "shipped"
    # a learner's model with another vocabulary is passed over (with a warning), nothing is deleted
    other = train_byte_level_bpe([t.upper() for t in TEXTS], vocab_size=300)
    rmod.init_reward_model(tiny_lm(other), other).save(rmod.learner_reward_model_dir("quick"))
    with pytest.warns(UserWarning, match="Not using the reward model"):
        assert rmod.load_reward_model(tokenizer=tokenizer, verbose=False).folder == tmp_path / "shipped"
    assert (rmod.learner_reward_model_dir("quick") / "model.safetensors").exists()
    with pytest.raises(rmod.RewardModelTokenizerError):
        rmod.load_reward_model(tokenizer=other, prefer_learner=False, verbose=False)


# ------------------------------------------------------------------ training
def toy_pairs(n: int, seed: int) -> list[PreferencePair]:
    """Responses containing ' great' are preferred to responses without it."""
    rng = random.Random(seed)
    words = ["the", "movie", "was", "slow", "film", "story", "music", "cast", "plot", "and"]
    pairs = []
    for _ in range(n):
        base = [rng.choice(words) for _ in range(5)]
        good, bad = list(base), [rng.choice(words) for _ in range(5)]
        good.insert(rng.randrange(6), "great")
        pairs.append(PreferencePair(rng.choice(PROMPTS), " " + " ".join(good), " " + " ".join(bad)))
    return pairs


@pytest.mark.parametrize("method", ["scratch", pytest.param("trl", marks=pytest.mark.slow)])
def test_training_learns_a_separable_preference(tokenizer, method):
    train, held_out = toy_pairs(160, seed=0), toy_pairs(64, seed=1)
    rm = rmod.init_reward_model(tiny_lm(tokenizer), tokenizer)
    before = rmod.evaluate_pairs(rm, held_out)["accuracy"]
    config = rmod.RewardTrainingConfig(epochs=3, batch_size=16, learning_rate=3e-3)
    if method == "scratch":
        history = rmod.train_reward_model(rm, train, valid_pairs=held_out, config=config, progress=False)
        assert len(history) == 30 and "valid_accuracy" in history[-1]
    else:
        history = trl_trainers.train_reward_model_with_trl(rm, train, config=config, progress=False)
        assert history[-1]["step"] == 30
    after = rmod.evaluate_pairs(rm, held_out)
    losses = [h["loss"] for h in history if "loss" in h]
    assert after["accuracy"] >= 0.9, f"{method}: held-out accuracy {before:.2f} -> {after['accuracy']:.2f}"
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0], f"{method}: loss {losses[0]:.3f} -> {losses[-5:]}"
    assert not rm.model.training


@pytest.mark.parametrize("method", ["scratch", pytest.param("trl", marks=pytest.mark.slow)])
def test_trainable_layers_freezes_the_lower_layers_during_training_only(tokenizer, method):
    rm = rmod.init_reward_model(tiny_lm(tokenizer), tokenizer)
    before = {k: v.clone() for k, v in rm.model.state_dict().items()}
    config = rmod.RewardTrainingConfig(epochs=1, batch_size=8, learning_rate=1e-2, trainable_layers=1)
    train = {"scratch": rmod.train_reward_model, "trl": trl_trainers.train_reward_model_with_trl}[method]
    train(rm, toy_pairs(16, seed=2), config=config, progress=False)
    after = rm.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith(("transformer.wte", "transformer.wpe", "transformer.h.0.")) for k in moved), moved
    assert "score.weight" in moved and any(k.startswith("transformer.h.1.") for k in moved)
    assert all(p.requires_grad for p in rm.model.parameters())


def test_ties_train_with_a_half_target(tokenizer):
    rm = rmod.init_reward_model(tiny_lm(tokenizer), tokenizer)
    tie = PreferencePair(PROMPTS[0], " great fun", " boring film", target=0.5)
    history = rmod.train_reward_model(rm, [tie] * 8, config=rmod.RewardTrainingConfig(epochs=20, batch_size=8,
                                                                                    learning_rate=1e-2), progress=False)
    gap = rm.score_texts([PROMPTS[0]] * 2, [" great fun", " boring film"], raw=True)
    assert abs((gap[0] - gap[1]).item()) < 0.05 and history[-1]["loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert math.isnan(history[-1]["accuracy"])  # no clear preference in the batch to be right or wrong about


def test_a_single_learner_pair_is_enough_to_train(tokenizer):
    rm = rmod.init_reward_model(tiny_lm(tokenizer), tokenizer)
    pair = PreferencePair(PROMPTS[0], " great fun", " boring film")
    rmod.train_reward_model(rm, [pair], config=rmod.RewardTrainingConfig(epochs=10, learning_rate=1e-2), progress=False)
    assert rmod.evaluate_pairs(rm, [pair])["accuracy"] == 1.0
    with pytest.raises(ValueError, match="No training pairs"):
        rmod.train_reward_model(rm, [], progress=False)


def test_build_script_runs_end_to_end_on_a_tiny_stand_in(tokenizer, tmp_path):
    base = tmp_path / "base"
    # a random model samples stray bytes, whose decoded text re-tokenises longer: room for that
    GPT2LMHeadModel(GPT2Config(**{**tiny_lm(tokenizer).config.to_dict(), "n_positions": 128})).save_pretrained(base)
    tokenizer.save_pretrained(base)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "train.json").write_text(json.dumps(PROMPTS))
    (prompts / "heldout.json").write_text(json.dumps(["The music is", "A forgettable"]))
    out = tmp_path / "rm"
    env = {**os.environ, "RLHF_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "train_reward_model.py"), "--base-model", str(base),
         "--prompts-dir", str(prompts), "--out", str(out), "--train-pairs", "48", "--heldout-pairs", "24",
         "--calibration-samples", "24", "--batch-size", "8", "--feedback-dir", str(tmp_path / "labels"),
         "--threads", "1", "--quiet"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"scratch", "trl"} and metrics["chosen_method"] in ("scratch", "trl")
    assert metrics["train_labels"] == 48 and metrics["heldout_pairs"] == 24
    labels = (tmp_path / "labels" / "train.jsonl").read_text().splitlines()
    assert len(labels) == 48 and json.loads(labels[0])["labeller"] == "simulated"
    rm = rmod.RewardModel.load(out)
    assert rm.info["method"] == metrics["chosen_method"] and rm.info["calibration"]["n"] == 24
    assert rm.info["base_model"] == "base" and rmod.same_vocabulary(rm.tokenizer, tokenizer)
