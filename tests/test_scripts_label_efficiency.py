"""Which labels teach a learner's reward model most (random vs active order, the 1-5 rating), end to end at a tiny size."""

from __future__ import annotations

import pytest

from .script_runs import load_script, read_results_file


@pytest.mark.slow
def test_label_efficiency_measures_both_orders_and_the_rating_per_criterion(tiny_inputs, tmp_path):
    out = tmp_path / "efficiency.json"
    result = load_script("scripts/learner_label_efficiency.py").main(
        ["--tiny", "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
         "--prompts-dir", str(tiny_inputs["prompts"]), "--out", str(out)])
    saved = read_results_file(out, "scripts/learner_label_efficiency.py", result)
    args, criteria, orders = saved["args"], ("positive", "negative"), ("random", "active")
    counts = [str(n) for n in range(args["step"], args["max_labels"] + 1, args["step"])]
    assert len(saved["runs"]) == len(criteria) * len(orders) * len(args["seeds"])
    for run in saved["runs"]:
        labelled = run["labelled"]
        assert len(labelled) == len(set(labelled)) == args["max_labels"]          # no pair is labelled twice
        assert list(run["heldout_gold_accuracy"]) == counts
        assert all(0.0 <= a <= 1.0 for a in run["heldout_gold_accuracy"].values())
        reached = run["labels_to_target"]
        assert reached is None or run["heldout_gold_accuracy"][str(reached)] >= args["target"]
    for criterion in criteria:
        for seed in args["seeds"]:
            random, active = (next(r for r in saved["runs"] if (r["criterion"], r["seed"], r["order"]) == (criterion,
                              seed, how)) for how in orders)
            # both start from the same random labels, so they agree until active choice takes over
            assert active["labelled"][: args["initial"]] == random["labelled"][: args["initial"]]
            first = str(args["initial"])
            assert active["heldout_gold_accuracy"][first] == random["heldout_gold_accuracy"][first]
    summary = {(s["criterion"], s["order"]): s for s in saved["order_summary"]}
    assert set(summary) == {(c, o) for c in criteria for o in orders}
    for s in summary.values():
        lt = s["labels_to_target"]
        assert lt["seeds"] == len(args["seeds"]) and 0 <= lt["reached"] <= lt["seeds"]
        at = s[f"accuracy_at_{args['at']}"]
        assert 0.0 <= at["min"] <= at["median"] <= at["max"] <= 1.0
    assert all("minus_random_at_4" in summary[(c, "active")] for c in criteria)
    assert len(saved["curve_summary"]) == len(criteria) * len(orders) * len(counts)
    for s in saved["rating_summary"]:                                             # a scale chosen on development pairs
        assert s["chosen_on_development"] == {"margin": max(("margin 0.5", "margin 1"),
                                                            key=lambda v: s["development_median"][v]), "soft": "soft 1"}
        assert set(s["heldout_chosen"]) == {"plain", "margin", "soft"}
    assert {r["criterion"] for r in saved["rating_runs"]} == set(criteria)
