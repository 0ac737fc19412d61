"""The script behind notebook 06's frontier runs end to end at a tiny size (every method, one small point each)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from rlhf_utils.paths import REPO_ROOT

from .tiny import tiny_script_inputs


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_script():
    spec = importlib.util.spec_from_file_location("alternatives_frontier", REPO_ROOT / "scripts" / "alternatives_frontier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frontier_script_runs_every_method_at_a_tiny_size(tmp_path, monkeypatch):
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    made = tiny_script_inputs(tmp_path)
    base, rm_dir, prompts = made["base"], made["rm"], made["prompts"]
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps({"results": [{"beta": 0.1, "gold_mean": 0.2, "kl_mean": 1.0, "history": []}]}))
    out = tmp_path / "frontier.json"
    result = load_script().main(["--tiny", "--base-model", str(base), "--reward-model", str(rm_dir), "--prompts-dir",
                                 str(prompts), "--ppo-sweep", str(sweep), "--out", str(out)])
    methods = [p["method"] for p in result["points"]]
    assert methods == ["base", "best_of_n", "rejection_sampling", "dpo", "rloo", "grpo", "ppo"]
    saved = json.loads(out.read_text())
    assert saved["points"] == json.loads(json.dumps(result["points"]))
    bon = saved["points"][1]
    assert bon["N"] == 2 and bon["n"] == 2  # best-of-N's N beside the evaluator's sample count (2 held-out prompts)
    assert bon["kl_mean"] <= bon["kl_bound"] + 3 * bon["kl_se"] and "history" not in saved["points"][-1]
