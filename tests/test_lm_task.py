"""The frozen interface of notebooks 03-07: prompt sets and how prompts are drawn."""

from __future__ import annotations

import json

import pytest

from rlhf_utils.lm_task import draw_prompts, load_prompts


def test_draw_prompts_uses_every_prompt_once_before_repeating():
    pool = [f"p{i}" for i in range(7)]
    drawn = draw_prompts(pool, 17, seed=3)
    assert len(drawn) == 17
    assert sorted(drawn[:7]) == sorted(pool) and sorted(drawn[7:14]) == sorted(pool)
    assert drawn == draw_prompts(pool, 17, seed=3) and drawn != draw_prompts(pool, 17, seed=4)


def test_draw_prompts_from_an_empty_pool_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        draw_prompts([], 3)


def test_prompt_sets_missing_empty_or_unknown_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown prompt split"):
        load_prompts("test")
    with pytest.raises(FileNotFoundError, match="build_corpus.py"):
        load_prompts("train", tmp_path)
    (tmp_path / "train.json").write_text(json.dumps([]))
    with pytest.raises(ValueError, match="empty"):
        load_prompts("train", tmp_path)
