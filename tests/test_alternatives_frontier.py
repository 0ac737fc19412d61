"""The script behind notebook 06's frontier runs end to end at a tiny size (every method, one small point each)."""

from __future__ import annotations

import json

import pytest

from .script_runs import load_script, read_results_file


@pytest.mark.slow
def test_frontier_script_runs_every_method_at_a_tiny_size(tiny_inputs, tmp_path):
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps({"results": [{"beta": 0.1, "gold_mean": 0.2, "kl_mean": 1.0, "history": []}]}))
    out = tmp_path / "frontier.json"
    result = load_script("scripts/alternatives_frontier.py").main(
        ["--tiny", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--ppo-sweep", str(sweep), "--out", str(out)])
    methods = [p["method"] for p in result["points"]]
    assert methods == ["base", "best_of_n", "rejection_sampling", "dpo", "rloo", "grpo", "ppo"]
    saved = read_results_file(out, "scripts/alternatives_frontier.py", result)
    bon = saved["points"][1]
    assert bon["N"] == 2 and bon["n"] == 2  # best-of-N's N beside the evaluator's sample count (2 held-out prompts)
    assert bon["kl_mean"] <= bon["kl_bound"] + 3 * bon["kl_se"] and "history" not in saved["points"][-1]

    # --update re-runs only the methods named and keeps every other point as it was
    again = load_script("scripts/alternatives_frontier.py").main(
        ["--tiny", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--ppo-sweep", str(sweep), "--out", str(out),
         "--methods", "rloo", "--update"])
    assert [p["method"] for p in again["points"]] == ["base", "best_of_n", "rejection_sampling", "dpo", "grpo", "ppo", "rloo"]
    assert [p for p in again["points"] if p["method"] != "rloo"] == [p for p in saved["points"] if p["method"] != "rloo"]
    assert again["reruns"][0]["methods"] == ["rloo"] and again["args"] == saved["args"]
