"""The over-optimisation detector on synthetic curves, and the second-round feedback data flow."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_utils.feedback import SIMULATED, FeedbackStore, LabellingSession, SimulatedLabeller, preference_pairs
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
