"""The learner reward-model curve behind notebook 04's transfer figure, end to end at a tiny size."""

from __future__ import annotations

import pytest

from .script_runs import load_script, read_results_file


@pytest.mark.slow
def test_learner_curve_has_one_row_per_criterion_start_and_label_count(tiny_inputs, tmp_path):
    out = tmp_path / "curve.json"
    result = load_script("scripts/learner_reward_model_curve.py").main(
        ["--tiny", "--select-l2", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--out", str(out)])
    saved = read_results_file(out, "scripts/learner_reward_model_curve.py", result)
    keys = {(r["criterion"], r["start"], r["labels"]) for r in saved["summary"]}
    assert keys == {(c, s, n) for c in ("positive", "negative") for s in ("base", "head", "full") for n in (4, 8)}
    assert all(0.0 <= r["min"] <= r["median"] <= r["max"] <= 1.0 and r["seeds"] == 1 for r in saved["summary"])
    assert len(saved["runs"]) == 2 * 3 * 2 and all(r["pairs"] <= r["labels"] for r in saved["runs"])
    for criterion in ("positive", "negative"):  # the L2 weight is chosen per criterion, from the grid it was given
        assert saved["l2"][criterion] in (0.01, 0.1)
        assert set(saved["l2_selection"][criterion]) == {"0.01", "0.1"}
        assert 0.0 <= saved["shipped_heldout_gold_accuracy"][criterion] <= 1.0
