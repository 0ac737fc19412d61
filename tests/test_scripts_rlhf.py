"""The scripts behind notebook 05's β sweep and notebook 06's DPO seed spread, end to end at a tiny size."""

from __future__ import annotations

import json

import pytest

from .script_runs import as_json, load_script, read_results_file


def tiny_args(inputs: dict) -> list[str]:
    return ["--base-model", str(inputs["base"]), "--reward-model", str(inputs["rm"]),
            "--prompts-dir", str(inputs["prompts"])]


@pytest.mark.slow
def test_ppo_beta_sweep_writes_one_point_per_beta_into_a_new_folder(tiny_inputs, tmp_path):
    out = tmp_path / "not" / "yet" / "there" / "ppo_beta_sweep.json"  # the script creates --out's folder
    result = load_script("scripts/ppo_beta_sweep.py").main(
        ["--betas", "0.05", "0.5", "--iterations", "2", "--samples-per-prompt", "1", "--out", str(out),
         *tiny_args(tiny_inputs)])
    saved = read_results_file(out, "scripts/ppo_beta_sweep.py", result)
    assert [r["beta"] for r in saved["results"]] == [0.05, 0.5]
    assert saved["base"]["n"] == 2 and saved["base"]["kl_mean"] == 0.0  # 2 held-out prompts; base vs itself
    for r in saved["results"]:
        assert r["n"] == 2 and len(r["history"]) == 2, r
        assert set(r["history"][0]) == {"score_mean", "gold_mean", "kl"}
    assert saved["args"]["iterations"] == 2 and saved["args"]["out"] == str(out)


@pytest.mark.slow
def test_dpo_seed_spread_is_one_reproducible_draw_per_seed(tiny_inputs, tmp_path):
    frontier = tmp_path / "frontier.json"  # the frontier's DPO settings, at a tiny size
    settings = {"dpo_pairs": 8, "dpo_epochs": 1, "dpo_lr": 1e-3, "samples_per_prompt": 1}
    frontier.write_text(json.dumps({"args": settings}))
    script = load_script("scripts/dpo_seed_spread.py")
    out = tmp_path / "spread.json"
    result = script.main(["--seeds", "1,2", "--frontier", str(frontier), "--out", str(out), *tiny_args(tiny_inputs)])
    saved = read_results_file(out, "scripts/dpo_seed_spread.py", result)
    one, two = saved["points"]
    assert (one["seed"], two["seed"]) == (1, 2) and one["n"] == two["n"] == 2
    assert 0 < one["comparisons"] <= 8 and 0 < two["comparisons"] <= 8  # ties are left out of the pairs
    assert as_json(one) != as_json(two), "other seeds should be other draws"
    again = script.main(["--seeds", "1", "--frontier", str(frontier), "--out", str(tmp_path / "again.json"),
                         *tiny_args(tiny_inputs)])
    assert as_json(again["points"][0]) == as_json(one), "the same seed should give the same run"
