"""The over-optimisation detector on synthetic curves, and the second-round feedback data flow."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_utils.feedback import LabellingSession, SimulatedLabeller, preference_pairs
from rlhf_utils.feedback_store import FeedbackStore, SIMULATED
from rlhf_utils.overoptimization import labels_by_model, peak_then_drop


def test_a_curve_that_peaks_and_falls_is_detected():
    kl = np.linspace(0, 20, 11)
    gold = 0.6 * np.sqrt(kl) - 0.12 * kl  # Gao et al.'s shape: rises, peaks, falls
    result = peak_then_drop(gold.tolist(), [0.03] * len(gold))
    assert result.significant and 0 < result.peak_index < len(gold) - 1
    assert result.drop == pytest.approx(gold.max() - gold[-1])


def test_a_rising_or_flat_curve_is_not_a_drop():
    assert not peak_then_drop([0.0, 0.2, 0.4, 0.5], [0.03] * 4).significant  # still rising: peak at the end
    assert not peak_then_drop([0.0, 0.5, 0.49, 0.48], [0.03] * 4).significant  # a plateau within the noise


def test_a_drop_smaller_than_the_noise_is_not_significant():
    means = [0.0, 0.5, 0.4]
    assert not peak_then_drop(means, [0.05, 0.05, 0.05]).significant  # 0.1 < 2 * 0.071
    assert peak_then_drop(means, [0.02, 0.02, 0.02]).significant      # 0.1 > 2 * 0.028


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        peak_then_drop([], [])
    with pytest.raises(ValueError):
        peak_then_drop([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        peak_then_drop([0.1, float("nan")], [0.1, 0.1])


def test_a_second_round_appends_to_the_same_store_and_is_told_apart_by_model(tmp_path):
    store = FeedbackStore(tmp_path / "labels.jsonl")
    first = [("This movie", " was a delight.", " was dull."), ("The story", " is great fun.", " is boring.")]
    second = [("This movie", " is great great great.", " was a lovely surprise.")]
    SimulatedLabeller().label(LabellingSession(store, first, model="course-gpt2", labeller=SIMULATED))
    SimulatedLabeller().label(LabellingSession(store, second, model="course-gpt2-ppo-round1", labeller=SIMULATED))
    reloaded = FeedbackStore(tmp_path / "labels.jsonl")
    groups = labels_by_model(reloaded.labels())
    assert {m: len(v) for m, v in groups.items()} == {"course-gpt2": 2, "course-gpt2-ppo-round1": 1}
    assert len(reloaded.records) == 3  # appended, nothing rewritten
    with pytest.raises(ValueError, match="course-gpt2-ppo-round1"):
        preference_pairs(reloaded.labels(), model="course-gpt2")  # a round's model must be chosen on purpose
    assert len(preference_pairs(reloaded.labels())) == 3  # both rounds together, when asked for


def test_updated_reward_model_learns_from_new_pairs_and_leaves_the_old_one_alone(tiny_inputs):
    import torch

    from rlhf_utils import generation
    from rlhf_utils.feedback import PreferencePair
    from rlhf_utils.overoptimization import pair_accuracy, updated_reward_model
    from rlhf_utils.reward_model import RewardTrainingConfig, load_reward_model

    from .tiny import PROMPTS, tiny_lm

    rm = load_reward_model(folder=tiny_inputs["rm"], tokenizer=tiny_inputs["tokenizer"], verbose=False)
    before = {k: v.clone() for k, v in rm.model.state_dict().items()}
    pairs = [PreferencePair(p, " good good fun", " bad bad dull", 1.0) for p in PROMPTS] * 4
    lm = tiny_lm(tiny_inputs["tokenizer"])
    torch.manual_seed(0)
    calibration = generation.sample(lm, tiny_inputs["tokenizer"], PROMPTS * 4)
    new = updated_reward_model(rm, pairs, calibration, RewardTrainingConfig(epochs=3, learning_rate=1e-2), progress=False)
    assert all(torch.equal(before[k], v) for k, v in rm.model.state_dict().items())  # the old model is untouched
    gap = new.score_texts(PROMPTS, [" good good fun"] * 5) - new.score_texts(PROMPTS, [" bad bad dull"] * 5)
    assert (gap > 0).all() and new.info["updated_on_pairs"] == len(pairs)
    assert new.score_samples(calibration).mean().item() == pytest.approx(0.0, abs=1e-4)  # renormalised
    with pytest.raises(ValueError, match="label some pairs"):
        updated_reward_model(rm, [], calibration)
    accuracy, n = pair_accuracy(lm, tiny_inputs["tokenizer"], new, PROMPTS * 8)
    assert n <= 40 and (n == 0 or 0.0 <= accuracy <= 1.0)


def test_pair_accuracy_repeats_leaves_the_random_stream_alone_and_judges_by_the_given_gold(tiny_inputs):
    import torch

    from rlhf_utils.gold import gold_scores
    from rlhf_utils.overoptimization import pair_accuracy
    from rlhf_utils.reward_model import load_reward_model

    from .tiny import PROMPTS, tiny_lm

    tokenizer = tiny_inputs["tokenizer"]
    rm = load_reward_model(folder=tiny_inputs["rm"], tokenizer=tokenizer, verbose=False)
    lm = tiny_lm(tokenizer)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    first = pair_accuracy(lm, tokenizer, rm, PROMPTS * 8)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's random stream is untouched
    torch.rand(10)
    assert pair_accuracy(lm, tokenizer, rm, PROMPTS * 8) == first  # the same pairs, the same number
    mirrored = pair_accuracy(lm, tokenizer, rm, PROMPTS * 8, gold_fn=lambda r, p: -gold_scores(r, p))
    assert mirrored[1] == first[1] and (first[1] == 0 or mirrored[0] == pytest.approx(1 - first[0]))


def test_a_round_is_the_learners_labels_plus_the_simulated_persons_for_the_rest(tmp_path):
    from rlhf_utils.overoptimization import round_labels

    store = FeedbackStore(tmp_path / "labels.jsonl")
    pairs = [("This movie", " was a delight.", " was dull."), ("The story", " is great fun.", " is boring."),
             ("I hated", " it, truly awful.", " it at first, then loved it."), ("The music is", " lovely.", " loud.")]
    model = "course-gpt2-ppo-round1"
    mine = LabellingSession(store, pairs[:2], model=model, labeller="me", criterion="negative")
    mine.label("B")
    mine.label("skip")
    old = LabellingSession(store, pairs[2:3], model=model, labeller="me", criterion="positive")  # another criterion
    old.label("A")
    sim = SimulatedLabeller(criterion="negative")
    got = round_labels(store, pairs, model=model, labeller="me", criterion="negative", simulated=sim)
    assert [r.prompt for r in got.yours] == ["This movie", "The story"]
    assert sorted(r.prompt for r in got.simulated) == ["I hated", "The music is"]  # every other pair, once
    assert {r.criterion for r in got.all} == {"negative"} and len({r.pair_id for r in got.all}) == 4
    again = round_labels(store, pairs, model=model, labeller="me", criterion="negative", simulated=sim)
    assert [r.record_id for r in again.all] == [r.record_id for r in got.all]  # nothing labelled twice
    alone = round_labels(store, pairs, model=model, labeller="me", criterion="own", simulated=None)
    assert alone.yours == [] and alone.simulated == []  # "own": no simulated person, and none of mine by "own"
    with pytest.raises(ValueError, match="one round, one criterion"):
        round_labels(store, pairs, model=model, labeller="me", criterion="negative", simulated=SimulatedLabeller())


@pytest.mark.slow
def test_overoptimization_script_runs_end_to_end_at_a_tiny_size(tiny_inputs, tmp_path):
    from .script_runs import load_script, read_results_file

    script = load_script("scripts/overoptimization_run.py")
    out = tmp_path / "overoptimization.json"
    result = script.main(["--iterations", "4", "--eval-every", "2", "--round2-from", "2", "--round2-pairs", "6",
                          "--round2-eval-every", "1", "--spread-seeds", "1", "--branch-seeds", "5,6", "--quiet",
                          "--out", str(out),
                          "--base-model", str(tiny_inputs["base"]), "--reward-model", str(tiny_inputs["rm"]),
                          "--prompts-dir", str(tiny_inputs["prompts"])])
    assert [p["iteration"] for p in result["points"]] == [0, 2, 4]
    assert all("rm_accuracy" in p and p["rm_accuracy_pairs"] <= 5 for p in result["points"])
    assert [(p["seed"], p["iteration"]) for p in result["seed_spread"]["points"]] == [(0, 2), (1, 2)]
    round2 = result["round2"]
    assert round2["policy_pairs"] == 6 and round2["base_pairs"] == 6
    assert set(round2["accuracy"]) == {"round-1 reward model", "round-2 reward model"}
    assert all(set(v) == {"base samples", "policy samples"} for v in round2["accuracy"].values())
    for name, runs in round2["branches"].items():
        assert [r["seed"] for r in runs] == [5, 6], name
        for r in runs:
            assert [p["iteration"] for p in r["points"]] == [2, 3, 4], name
            assert r["gold"]["end"] == r["points"][-1]["gold_mean"], name
        assert runs[0]["points"][0] == runs[1]["points"][0], name  # every seed of a branch starts from one policy
        assert runs[0]["points"][1:] != runs[1]["points"][1:], name  # ... and the seeds then differ
    assert round2["branches"]["round-1 reward model"][0]["points"][0] == result["points"][1]  # where round 1 was
    read_results_file(out, "scripts/overoptimization_run.py", result)
    with pytest.raises(SystemExit):
        script.parse_args(["--round2-from", "3", "--eval-every", "2"])
    with pytest.raises(SystemExit):
        script.parse_args(["--branch-seeds", ""])
