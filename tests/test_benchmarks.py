"""The benchmarks in ``benchmarks/`` at a tiny size: our side of each (Stable-Baselines3 is not installed for the
tests, so the CartPole comparison runs ours alone), and their own statistics on known inputs."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from rlhf_utils.results import write_results

from .script_runs import load_script, read_results_file


@pytest.fixture(scope="module")
def cartpole_benchmark():
    return load_script("benchmarks/cartpole_ppo_vs_sb3.py")


def test_cartpole_benchmark_statistics_on_known_runs(cartpole_benchmark):
    rng = np.random.default_rng(0)
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    point, low, high = cartpole_benchmark.bootstrap_median(x, rng, 200)
    assert point == 3.0 and low <= point <= high and high <= 100.0
    assert cartpole_benchmark.bootstrap_ratio(2 * x, x, rng, 200) == (2.0, 2.0, 2.0)  # paired: every resample is 2
    never = cartpole_benchmark.bootstrap_median(np.array([np.inf] * 3), rng, 10)
    assert cartpole_benchmark.fmt(never) == "never [never, never]"
    assert cartpole_benchmark.parse_seeds("1000-1003") == [1000, 1001, 1002, 1003]
    assert cartpole_benchmark.parse_seeds("5,7") == [5, 7]


@pytest.mark.slow
def test_cartpole_benchmark_runs_our_side_alone(cartpole_benchmark, tmp_path):
    out = tmp_path / "cartpole.json"
    result = cartpole_benchmark.main(["--algos", "ours", "--seeds", "1000,1001", "--total-steps", "2048",
                                      "--bootstrap", "50", "--out", str(out)])
    saved = read_results_file(out, "benchmarks/cartpole_ppo_vs_sb3.py", result)
    assert [(r["algo"], r["seed"]) for r in saved["runs"]] == [("ours", 1000), ("ours", 1001)]
    assert saved["seeds"] == [1000, 1001] and saved["total_steps"] == 2048
    assert all(0 < r["final_eval_mean"] <= 500 and r["episodes"] > 0 for r in saved["runs"])
    walls = sorted(r["wall_seconds_total"] for r in saved["runs"])
    assert set(result["summary"]["wall_seconds_total"]) == {"ours"}  # no ratio without SB3
    assert result["summary"]["wall_seconds_total"]["ours"][0] == pytest.approx(np.median(walls))
    with pytest.raises(SystemExit):
        cartpole_benchmark.main(["--algos", "ours,dqn"])


@pytest.mark.slow
def test_reinforce_seeds_reports_the_numbers_of_each_run():
    from rlhf_utils.policy_gradient import train_reinforce

    rows = load_script("benchmarks/reinforce_seeds.py").main(
        ["--seeds", "3", "--steps", "1500", "--variants", "baseline"])
    assert [(r["variant"], r["seed"]) for r in rows] == [("baseline", 3)]
    row = rows[0]
    again = train_reinforce(seed=3, max_env_steps=1500, variant="baseline")  # the same run, repeated
    assert row["last_20_mean"] == pytest.approx(np.mean(again.episode_returns[-20:]))
    assert row["best_rolling_mean"] >= row["last_20_mean"] and row["first_step_475"] is None  # 1,500 steps: too few
    assert 0 < row["greedy_min"] <= row["greedy_mean"] <= 500


@pytest.mark.slow
def test_lm_ppo_step_time_splits_the_phases_and_reads_them_against_the_roofline(tiny_inputs, tmp_path):
    script = load_script("benchmarks/lm_ppo_step_time.py")
    result = script.main(
        ["--model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--batch", "8", "--iterations", "2", "--threads", "1",
         "--out", str(tmp_path / "split.json"), "--compare-lean", "--update", "2,4,1e-4"])
    assert (result["ppo_epochs"], result["minibatch_size"], result["learning_rate"]) == (2, 4, 1e-4)
    phases = result["phases"]
    assert set(phases) == {"generation", "scoring", "update", "iteration"}
    for t in phases.values():
        assert 0 < t["min_s"] <= t["median_s"] <= t["max_s"] and t["gflop"] > 0
        assert t["roofline_share"] == pytest.approx(t["gflop"] / t["median_s"] / result["roofline_gflops"])
    assert phases["iteration"]["gflop"] == pytest.approx(sum(phases[p]["gflop"] for p in script.PHASES))
    assert json.loads((tmp_path / "split.json").read_text())["phases"].keys() == phases.keys()
    lean = result["lean"]   # the candidate speed-up computes the same log-probs and values
    assert max(lean["max_abs_gap"].values()) < 1e-4 and lean["speedup"] > 0, lean


def test_lm_ppo_step_time_times_one_update_setting_at_a_time():
    script = load_script("benchmarks/lm_ppo_step_time.py")
    with pytest.raises(SystemExit, match="one setting, not 2"):
        script.main(["--update", "2,16,1e-4;1,32,1e-4"])
    with pytest.raises(SystemExit, match="is not 'epochs,minibatch,lr'"):
        script.main(["--update", "2,16"])


def test_phase_flops_count_the_passes_each_phase_makes():
    """An update epoch is a forward and a backward (3 forwards) over the batch; scoring is two LM forwards plus
    the reward model's (no LM head); generation's positions are the prompt once plus one per new token."""
    from types import SimpleNamespace

    script = load_script("benchmarks/lm_ppo_step_time.py")
    config = SimpleNamespace(n_embd=8, n_layer=2, vocab_size=100)
    flops = script.phase_flops(config, batch=4, query=6, response=3, reward_tokens=None, epochs=2)
    forward = script.forward_flops(config, 4, 9, 4.5, lm_head=True)
    assert flops["update"] == pytest.approx(2 * 3 * forward) and flops["scoring"] == pytest.approx(2 * forward)
    with_rm = script.phase_flops(config, batch=4, query=6, response=3, reward_tokens=10, epochs=2)
    assert with_rm["scoring"] - flops["scoring"] == pytest.approx(script.forward_flops(config, 4, 10, 5, lm_head=False))
    assert script.forward_flops(config, 1, 1, 0, lm_head=True) == 2 * 12 * 2 * 64 + 2 * 8 * 100
    f = script.forward_flops   # generation: the 6 prompt positions once, then 3 LM heads for 3 new tokens
    assert flops["generation"] == pytest.approx(
        f(config, 4, 6, 3, lm_head=False) + f(config, 4, 1, 6, True) + f(config, 4, 1, 7, True) + f(config, 4, 1, 8, True))


def test_rlhf_benchmark_reads_other_settings_of_ours():
    parse = load_script("benchmarks/rlhf_ppo_vs_trl.py").parse_ours_configs
    assert parse("2,16,1e-4; 1,32,3e-4") == {
        "ours e2 mb16 lr0.0001": {"ppo_epochs": 2, "minibatch_size": 16, "learning_rate": 1e-4},
        "ours e1 mb32 lr0.0003": {"ppo_epochs": 1, "minibatch_size": 32, "learning_rate": 3e-4}}
    assert parse("") == {}
    with pytest.raises(SystemExit, match="'2,16' is not 'epochs,minibatch,lr'"):
        parse("2,16")


@pytest.mark.slow
def test_rlhf_benchmark_runs_ours_and_rloo_within_the_budget(tiny_inputs, tmp_path):
    out = tmp_path / "rlhf.json"
    budget_s = 1.2
    result = load_script("benchmarks/rlhf_ppo_vs_trl.py").main(
        ["--budget-minutes", str(budget_s / 60), "--eval-every", "0.5", "--batch", "8", "--num-generations", "2",
         "--methods", "ours,rloo", "--trl-lrs", "1e-4", "--eval-prompts", "2", "--samples-per-prompt", "1",
         "--threads", "1", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--out", str(out), "--seeds", "0,1"])
    saved = read_results_file(out, "benchmarks/rlhf_ppo_vs_trl.py", result)
    assert set(saved["runs"]) == {"0", "1"} and all(set(r) == {"ours", "rloo lr=0.0001"} for r in saved["runs"].values())
    for seed, runs in saved["runs"].items():
        for name, curve in runs.items():
            seconds, samples = [p["seconds"] for p in curve], [p["samples"] for p in curve]
            assert seconds[0] == 0 and samples[0] == 0 and len(curve) >= 2, name  # evaluated before training
            assert seconds == sorted(seconds) and samples == sorted(samples) and samples[-1] > 0, name
            assert len(set(samples)) == len(samples), f"{name}: a point evaluated twice: {samples}"
            assert seconds[-1] >= budget_s, f"{name} (seed {seed}) stopped before its budget: {seconds}"
    summary = saved["summary"]
    finals = [runs["rloo lr=0.0001"][-1]["gold"] for runs in saved["runs"].values()]
    assert summary["best_rloo"] == "rloo lr=0.0001" and summary["seeds"] == 2
    assert summary["target_gold"] == pytest.approx(float(np.median(finals)))
    assert summary["final"]["ours"]["gold"]["min"] <= summary["final"]["ours"]["gold"]["median"]
    assert set(summary["curves"]) == {"ours", "rloo lr=0.0001"} and all(len(c) >= 2 for c in summary["curves"].values())
    ours = summary["ours"]["ours"]
    assert len(ours["reached"]) == 2 and (ours["ratio"] is None) == (None in ours["reached"])


@pytest.mark.slow
def test_update_settings_benchmark_runs_notebook_05s_training_per_setting_and_seed(tiny_inputs, tmp_path):
    out = tmp_path / "settings.json"
    result = load_script("benchmarks/lm_ppo_update_settings.py").main(
        ["--settings", "4,8,5e-5;1,8,1e-4", "--seeds", "0,1", "--iterations", "1", "--samples-per-prompt", "1",
         "--threads", "1", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--out", str(out)])
    saved = read_results_file(out, "benchmarks/lm_ppo_update_settings.py", result)
    assert list(saved["runs"]) == ["e4 mb8 lr5e-05", "e1 mb8 lr0.0001"]
    for rows in saved["runs"].values():
        assert [r["seed"] for r in rows] == [0, 1]
        assert all(r["samples_per_second"] == pytest.approx(r["samples"] / r["train_seconds"], rel=1e-2) for r in rows)
    fast = saved["summary"]["settings"]["e1 mb8 lr0.0001"]
    course, other = saved["runs"]["e4 mb8 lr5e-05"], saved["runs"]["e1 mb8 lr0.0001"]
    assert fast["gold_difference"]["median"] == pytest.approx(np.median([o["gold"] - c["gold"] for c, o in zip(course, other)]))
    assert saved["summary"]["settings"]["e4 mb8 lr5e-05"]["speed_ratio"]["median"] == 1.0


def test_update_settings_benchmark_runs_notebook_05s_own_kl_settings():
    """The benchmark's copy of notebook 05's controller settings (section 3.2's ``config`` line) stays the same."""
    import ast
    from pathlib import Path

    source = (Path(__file__).parents[1] / "notebooks" / "05_rlhf_ppo_gpt2.py").read_text()
    line = next(x for x in source.splitlines() if x.startswith("config = lm_ppo.course_config(") and "section 3.2" in x)
    call = ast.parse(line).body[0].value
    notebook = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg != "seed"}
    assert load_script("benchmarks/lm_ppo_update_settings.py").NOTEBOOK_05 == notebook


def test_update_settings_summary_pairs_each_seed_with_the_course_run():
    script = load_script("benchmarks/lm_ppo_update_settings.py")
    row = lambda seed, speed, gold: {"seed": seed, "samples_per_second": speed, "gold": gold, "kl": 5.0,  # noqa: E731
                                     "final_beta": 0.1}
    runs = {"course": [row(0, 10, 0.5), row(1, 20, 0.6), row(2, 10, 0.4)],
            "fast": [row(0, 20, 0.4), row(1, 30, 0.7), row(2, 40, 0.4)]}
    fast = script.summarise(runs)["settings"]["fast"]
    assert fast["speed_ratio"]["median"] == 2.0 and fast["speed_ratio"]["min"] == 1.5 and fast["speed_ratio"]["max"] == 4.0
    assert fast["gold_difference"]["median"] == pytest.approx(0.0) and fast["gold_difference"]["min"] == pytest.approx(-0.1)
    with pytest.raises(SystemExit, match="at least two"):
        script.main(["--settings", "4,8,5e-5"])


def test_rlhf_benchmark_grpo_takes_its_own_learning_rates_when_given():
    rates = load_script("benchmarks/rlhf_ppo_vs_trl.py").trl_learning_rates
    both = argparse.Namespace(trl_lrs="1e-4", grpo_lrs="")
    own = argparse.Namespace(trl_lrs="1e-4", grpo_lrs="3e-5,1e-4")
    assert rates("rloo", both) == rates("grpo", both) == [1e-4]
    assert rates("rloo", own) == [1e-4] and rates("grpo", own) == [3e-5, 1e-4]


def test_rlhf_benchmark_summary_reads_time_to_reach_over_seeds():
    script = load_script("benchmarks/rlhf_ppo_vs_trl.py")
    curve = lambda *golds: [{"seconds": 30.0 * i, "gold": g, "kl": 2.0 * i, "samples": 100 * i}  # noqa: E731
                            for i, g in enumerate(golds)]
    runs = {"0": {"ours": curve(0, 0.5, 0.9), "rloo lr=0.0001": curve(0, 0.4, 0.8), "rloo lr=3e-05": curve(0, 0.1, 0.2)},
            "1": {"ours": curve(0, 0.7, 0.7), "rloo lr=0.0001": curve(0, 0.5, 0.6), "rloo lr=3e-05": curve(0, 0.3, 0.4)},
            "2": {"ours": curve(0, 0.8, 0.9), "rloo lr=0.0001": curve(0, 0.6, 0.7), "rloo lr=3e-05": curve(0, 0.2, 0.3)}}
    summary = script.summarise(runs)
    assert summary["best_rloo"] == "rloo lr=0.0001" and summary["target_gold"] == pytest.approx(0.7)
    ours = summary["ours"]["ours"]
    assert [p["seconds"] for p in ours["reached"]] == [60.0, 30.0, 30.0]   # first point at or above 0.7
    assert ours["ratio"] == pytest.approx(30.0 / 60.0) and ours["kl_when_reached"]["median"] == 2.0
    runs["1"]["ours"] = curve(0, 0.1, 0.2)                                   # one seed never gets there: no ratio
    assert script.summarise(runs)["ours"]["ours"]["ratio"] is None


def test_rlhf_benchmark_summary_gives_gold_and_kl_against_time_over_seeds(tmp_path):
    script = load_script("benchmarks/rlhf_ppo_vs_trl.py")
    curve = lambda *golds: [{"seconds": 30.0 * i + 1, "gold": g, "kl": 2.0 * i, "samples": 100 * i}  # noqa: E731
                            for i, g in enumerate(golds)]
    repeated = curve(0, 0.2, 0.6)
    runs = {"0": {"ours": curve(0, 0.5, 0.9), "rloo lr=0.0001": repeated + repeated[-1:]},   # its last point twice
            "1": {"ours": curve(0, 0.7), "rloo lr=0.0001": curve(0, 0.4, 0.8)},           # a seed cut short
            "2": {"ours": curve(0, 0.8, 0.1), "rloo lr=0.0001": curve(0, 0.6, 0.7)}}
    curves = script.summarise(runs)["curves"]
    assert len(curves["ours"]) == 2 and len(curves["rloo lr=0.0001"]) == 3   # up to what every seed reached, once each
    second = curves["ours"][1]
    assert second["gold"] == {"median": 0.7, "min": 0.5, "max": 0.8, "seeds": 3} and second["seconds"]["median"] == 31.0
    assert [p["gold"]["median"] for p in curves["rloo lr=0.0001"]] == [0, 0.4, 0.7]
    assert [p["kl"]["max"] for p in curves["rloo lr=0.0001"]] == [0.0, 2.0, 4.0]

    out = tmp_path / "race.json"                 # --summarise-only rewrites the summary of a file's runs, and no more
    write_results(out, {"script": "benchmarks/rlhf_ppo_vs_trl.py", "args": {"seeds": "0,1,2"}, "summary": {},
                        "runs": runs})
    rewritten = script.main(["--summarise-only", "--out", str(out)])
    assert json.loads(out.read_text()) == rewritten and rewritten["args"] == {"seeds": "0,1,2"}
    assert rewritten["summary"]["curves"] == curves and rewritten["runs"] == runs
    with pytest.raises(SystemExit):
        script.main(["--summarise-only", "--out", str(tmp_path / "missing.json")])
