"""Every bad input of tests/BAD_INPUTS.md gets a clear error (what is wrong, what is allowed), and loses nothing.

Store crashes and concurrency are in test_store_concurrency.py, the widget's clicks in
test_labelling_browser.py, the network in test_offline.py; this file has the rest.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import numpy as np
import pytest
import torch

from rlhf_utils import exercises, generation, gold, lm_ppo, lm_task, models, paths
from rlhf_utils.feedback import LabellingSession
from rlhf_utils.feedback_store import FeedbackFileError, FeedbackStore, LabelRecord, active_labels, load_records, pair_id
from rlhf_utils.profiles import get_profile

from .test_models import save_tiny_gpt2
from .tiny import PROMPTS, tiny_lm, tiny_tokenizer


def label(**kw) -> LabelRecord:
    return LabelRecord(**({"prompt": "p", "response_a": " a", "response_b": " b", "choice": "A", "labeller": "ann",
                           "model": "m"} | kw))


# ------------------------------------------------------------------ feedback records and the store
def test_the_same_record_appended_twice_is_refused(tmp_path):
    store = FeedbackStore(tmp_path / "l.jsonl")
    record = store.append(label())
    with pytest.raises(ValueError, match="already in .*count it twice"):
        store.append(record)
    assert len(load_records(tmp_path / "l.jsonl")) == 1


def test_a_repeated_line_counts_once(tmp_path):
    path = tmp_path / "l.jsonl"
    line = json.dumps(asdict(label()))
    path.write_text(f"{line}\n{line}\n")  # two copies of one file pasted together
    with pytest.warns(UserWarning, match="line 2 repeats the record on line 1; counting it once"):
        store = FeedbackStore(path)
    assert len(store.labels()) == 1 and len(active_labels([*store.records, *store.records])) == 1


def test_one_record_id_on_two_different_records_names_both_lines(tmp_path):
    path = tmp_path / "l.jsonl"
    first = label()
    path.write_text(json.dumps(asdict(first)) + "\n" + json.dumps(asdict(first) | {"choice": "B"}) + "\n")
    with pytest.raises(FeedbackFileError, match="line 2: record id .* already used by a different record on line 1"):
        load_records(path)


@pytest.mark.parametrize("pair", ["abc", b"abc", ("p", "a"), ("p", "a", 3), 7])
def test_a_pair_that_is_not_three_strings_is_refused(tmp_path, pair):
    with pytest.raises(ValueError, match=r"a pair is \(prompt, response_a, response_b\), three strings"):
        LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), [pair], model="m", labeller="ann")


def test_a_lone_surrogate_is_a_clear_error_not_a_crash(tmp_path):
    with pytest.raises(ValueError, match=r"field 'response_b' holds '\\ud800' at index 3, a lone surrogate"):
        pair_id("p", " a", " b \ud800", "m")
    with pytest.raises(ValueError, match="lone surrogate"):
        label(response_a="\udfff")
    with pytest.raises(ValueError, match="lone surrogate"):
        LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), [("p", "\ud800", " b")], model="m", labeller="ann")
    assert not (tmp_path / "l.jsonl").exists()


# ------------------------------------------------------------------ the cache folder
def test_an_empty_cache_dir_is_unset_and_tilde_is_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for value in ("", "   "):
        monkeypatch.setenv("RLHF_CACHE_DIR", value)
        assert paths.cache_dir() == tmp_path / "home" / ".cache" / "rlhf_course"
    monkeypatch.setenv("RLHF_CACHE_DIR", "~/labels-here")
    assert paths.cache_dir() == tmp_path / "home" / "labels-here"
    assert not (tmp_path / "~").exists() and not (tmp_path / "feedback").exists()


# ------------------------------------------------------------------ profiles and configs
@pytest.mark.parametrize("bad", [3, 1.5, ["quick"]])
def test_a_profile_that_is_not_a_name_lists_the_valid_ones(bad):
    with pytest.raises(TypeError, match=r"one of 'quick', 'full'"):
        get_profile(bad)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("kl_target", 0, "kl_target must be > 0"),
        ("minibatch_size", 0, "minibatch_size must be a whole number >= 1"),
        ("minibatch_size", 5, "must be a multiple of minibatch_size"),
        ("batch_size", 2.5, "batch_size must be a whole number"),
        ("temperature", 0.0, "temperature must be > 0"),
        ("gamma", 1.5, r"gamma must be in \[0, 1\]"),
        ("learning_rate", float("nan"), "learning_rate must be a finite number"),
        ("clip_eps", 0.0, "clip_eps must be > 0, or None"),
        ("ppo_epochs", 0, "ppo_epochs must be a whole number >= 1"),
        ("kl_horizon", 0, "kl_horizon must be a whole number >= 1"),
    ],
)
def test_bad_ppo_settings_are_refused_when_the_config_is_made(field, value, message):
    with pytest.raises(ValueError, match=message):
        lm_ppo.LMPPOConfig(**{field: value})


def test_a_config_changed_after_it_was_made_is_checked_by_the_trainer():
    tok = tiny_tokenizer()
    lm = tiny_lm(tok)
    cfg = lm_ppo.LMPPOConfig(batch_size=4, minibatch_size=2)
    cfg.kl_target = 0
    with pytest.raises(ValueError, match="kl_target must be > 0"):
        lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead(lm), generation.frozen_copy(lm), tok, lambda s: None, cfg)


# ------------------------------------------------------------------ PPO inputs
@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _trainer(tok, reward_fn):
    lm = tiny_lm(tok)
    cfg = lm_ppo.LMPPOConfig(response_length=4, batch_size=4, minibatch_size=2, ppo_epochs=1)
    return lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead(lm), generation.frozen_copy(lm), tok, reward_fn, cfg)


@pytest.mark.parametrize(
    "reward, shape",
    [
        (lambda s: torch.tensor(1.0), r"\(\)"),  # a single number
        (lambda s: torch.ones(len(s.responses), 4), r"\(4, 4\)"),  # one per token
        (lambda s: torch.ones(len(s.responses) - 1), r"\(3,\)"),  # one short
        (lambda s: [[1.0]] * len(s.responses), r"\(4, 1\)"),
    ],
)
def test_a_reward_of_the_wrong_shape_is_refused(tok, reward, shape):
    trainer = _trainer(tok, reward)
    with pytest.raises(ValueError, match=rf"one score per response, shape \(4,\); got shape {shape}"):
        trainer.step(PROMPTS[:4])
    assert trainer.iteration == 0 and trainer.history == []


def test_a_prompt_longer_than_the_model_positions_is_named(tok):
    lm = tiny_lm(tok)  # 64 positions
    long_prompt = "This movie was great fun " * 30
    with pytest.raises(ValueError, match=r"Prompt 1 is \d+ tokens long .* but the model has 64\. Shorten"):
        generation.sample(lm, tok, ["Short.", long_prompt], response_length=8)
    assert not lm.training


# ------------------------------------------------------------------ model folders
def test_an_empty_model_folder_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(models.ModelFolderError, match=rf"{tmp_path}.*config\.json, model\.safetensors, the tokenizer"):
        models.load_base_model("quick", source=tmp_path)


def test_the_course_model_folder_says_how_to_restore_it(tmp_path):
    hint = models._restore_hint(paths.MODELS_DIR / lm_task.COURSE_MODEL_NAME)
    assert "git checkout -- data/models" in hint and "train_course_gpt2.py" in hint


@pytest.mark.parametrize("broken", ["tokenizer", "weights", "config"])
def test_a_broken_model_folder_names_the_folder(tmp_path, broken):
    save_tiny_gpt2(tmp_path, with_pad=True)
    if broken == "tokenizer":
        (tmp_path / "tokenizer.json").unlink()
        match = "incomplete: the tokenizer"
    elif broken == "weights":
        (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
        match = "its files are corrupt"
    else:
        (tmp_path / "config.json").write_text("{ not json")
        match = "its files are corrupt"
    with pytest.raises(models.ModelFolderError, match=match) as info:
        models.load_base_model("quick", source=tmp_path)
    assert str(tmp_path) in str(info.value) and "save_pretrained" in str(info.value)


# ------------------------------------------------------------------ prompt files
@pytest.mark.parametrize(
    "content, message",
    [
        ('{"a": "dict"}', "must be a JSON list of non-empty strings, got dict"),
        ('"one string"', "got str"),
        ('["fine", 3]', "an item that is not a non-empty string"),
        ('["fine", ""]', "an item that is not a non-empty string"),
        ("[not json", "is not valid JSON"),
    ],
)
def test_a_prompt_file_of_the_wrong_type_names_the_file(tmp_path, content, message):
    (tmp_path / "train.json").write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        lm_task.load_prompts("train", folder=tmp_path)
    assert str(tmp_path / "train.json") in str(info.value)


# ------------------------------------------------------------------ gold score and the checker
def test_gold_score_on_a_huge_text_is_quick_and_reads_only_the_cap():
    huge = "What a wonderful, moving film with a superb cast. " * 2000  # 100 KB
    started = time.perf_counter()
    score = gold.gold_score(huge, "This movie")
    assert time.perf_counter() - started < 2.0
    assert score == gold.gold_score(huge[: gold.MAX_CHARS], "This movie")


def test_a_huge_wrong_answer_is_summarised_quickly(capsys):
    wrong = np.ones((3000, 3000))
    started = time.perf_counter()
    shown = exercises._short(wrong)  # the whole array used to become text first: seconds
    assert time.perf_counter() - started < 0.5 and len(shown) <= 200
    assert exercises.check_value(wrong, np.zeros((3000, 3000))) is False
    out = capsys.readouterr().out
    assert "array(shape=(3000, 3000)) first values [1.0, 1.0" in out and "(8999980 more)" in out and len(out) < 800


def test_sys_exit_in_a_learners_function_is_reported(capsys):
    import sys

    def learner(x):
        sys.exit(3)

    assert exercises.check(learner, lambda x: x, [1.0], name="my_fn") is False
    assert "my_fn: case 1 called sys.exit(3); return a value instead of exiting" in capsys.readouterr().out
