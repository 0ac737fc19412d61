"""Reward over-optimisation, distribution shift and iterated RLHF (notebook 07).

Optimising a learned (proxy) reward model harder eventually stops helping the true (gold) objective
and then hurts it: the proxy keeps rising while gold peaks and falls (Gao, Schulman & Hilton 2023,
"Scaling laws for reward model overoptimization", who plot both against the KL to the reference).
:func:`peak_then_drop` screens a measured gold curve for that, in standard errors (a rough screen: see
:class:`PeakThenDrop`). :func:`pair_accuracy` measures the reward model on a policy's own samples
(distribution shift), :func:`round_labels` gathers one round of feedback (the learner's labels and a
simulated person's for the rest), and :func:`updated_reward_model` makes the second round's reward model
from new comparisons.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .evaluation import seeded_rng
from .feedback import PreferencePair, SimulatedLabeller
from .feedback_store import FeedbackStore, LabelRecord, pair_id
from .gold import check_criterion, gold_scores
from .generation import Samples, sample_pairs
from .reward_model import RewardModel, RewardTrainingConfig, gold_pairwise_accuracy, train_reward_model


@dataclass(frozen=True)
class PeakThenDrop:
    """Where a curve peaked and whether its last point is more than ``k`` standard errors below the peak.

    A rough screen, not an exact test. ``drop_se`` is what the drop's standard error would be if the peak
    and the end were independent measurements; they are not quite: both are evaluated on the same held-out
    prompts with the same evaluation seed (shared prompts correlate them, which usually makes ``drop_se`` too
    large), and the peak is the *highest* of all the curve's means, picked for being high, so it tends to sit
    above the curve's true peak (by about one standard error when three or four points are within noise of
    the top), which makes the drop look larger. Treat a drop of a few ``drop_se`` as a hint to look closer; a drop of
    tens of ``drop_se`` (notebook 07's committed run: about 70) is beyond both effects.
    """

    peak_index: int
    peak: float
    end: float
    drop: float
    """``peak - end``."""
    drop_se: float
    """``sqrt(se_peak² + se_end²)``: the drop's standard error *if* the two points were independent (see above)."""
    significant: bool
    """``drop > k · drop_se``: the end is more than ``k`` such standard errors below the peak."""

    def __str__(self) -> str:
        verdict = "a significant drop" if self.significant else "no significant drop"
        return (f"peak {self.peak:+.3f} at point {self.peak_index}, end {self.end:+.3f}: drop {self.drop:.3f} "
                f"± {self.drop_se:.3f} ({verdict})")


def peak_then_drop(means: Sequence[float], ses: Sequence[float], k: float = 2.0) -> PeakThenDrop:
    """Did the curve ``means`` (with standard errors ``ses``) peak and then fall by more than ``k`` s.e.?

    The peak is the highest mean; a peak at the last point is no drop. The s.e. of the drop combines the
    two points' standard errors in quadrature, ``hypot(se_peak, se_end)`` (variances add, not standard
    errors); :class:`PeakThenDrop` says why this is a screen rather than an exact test.
    """
    if len(means) != len(ses) or len(means) == 0:
        raise ValueError("means and ses must be non-empty and of the same length")
    if any(not math.isfinite(x) for x in [*means, *ses]):
        raise ValueError("means and standard errors must be finite")
    i = max(range(len(means)), key=lambda j: means[j])
    drop = means[i] - means[-1]
    drop_se = math.hypot(ses[i], ses[-1])
    return PeakThenDrop(i, means[i], means[-1], drop, drop_se, i < len(means) - 1 and drop > k * drop_se)


def labels_by_model(labels: Iterable[LabelRecord]) -> dict[str, list[LabelRecord]]:
    """Group labels by the model that wrote the responses: one store holds every round of feedback,
    and each round is told apart by its ``model`` field (e.g. the base model, then the PPO policy)."""
    groups: dict[str, list[LabelRecord]] = defaultdict(list)
    for r in labels:
        groups[r.model].append(r)
    return dict(groups)


def pair_accuracy(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rm: RewardModel, prompts: Sequence[str],
                  seed: int = 1234,
                  gold_fn: Callable[[Sequence[str], Sequence[str]], np.ndarray] = gold_scores) -> tuple[float, int]:
    """How well ``rm`` orders the text ``lm`` writes: two fresh samples per prompt, scored by the reward
    model and by ``gold_fn(responses, prompts)`` (default: the ``positive`` gold score; pass
    ``gold.gold_function(rm.criterion)`` for a reward model of another criterion); returns the share of
    pairs ordered as gold orders them, and the number of pairs (gold ties left out). On the base model's
    samples this is the reward model's test accuracy; on a policy's samples it shows the distribution shift.

    The samples are drawn with ``seed`` on a forked generator (:func:`rlhf_utils.evaluation.seeded_rng`): the
    same model gives the same pairs every time, and the caller's random stream is left as it was."""
    with seeded_rng(seed, lm):
        a, b, _ = sample_pairs(lm, tokenizer, prompts, progress=False)
    return gold_pairwise_accuracy(rm.score_texts(prompts, a).numpy(), rm.score_texts(prompts, b).numpy(),
                                  gold_fn(a, prompts), gold_fn(b, prompts))


@dataclass(frozen=True)
class RoundLabels:
    """One round of feedback on one set of pairs: the learner's own labels and a simulated person's."""

    yours: list[LabelRecord]
    """The learner's labels of the round's pairs, by the round's criterion."""
    simulated: list[LabelRecord]
    """The simulated person's labels of every other pair of the round (none when no simulated person was given)."""

    @property
    def all(self) -> list[LabelRecord]:
        return self.yours + self.simulated


def round_labels(store: FeedbackStore, pairs: Iterable[Sequence[str]], *, model: str, labeller: str, criterion: str,
                 simulated: SimulatedLabeller | None) -> RoundLabels:
    """The labels of one round of ``(prompt, response_a, response_b)`` pairs written by ``model``.

    ``labeller``'s own labels of these pairs by ``criterion`` (first showings only), then ``simulated`` labels
    every pair the learner did not (through a session, into the same store), so each pair has one label.
    Labels by another criterion (an earlier run with another setting) are left out. ``simulated=None``
    (e.g. for ``own``, which no simulated person can follow) leaves the rest unlabelled.
    """
    criterion = check_criterion(criterion)
    by_id = {pair_id(*p, model): tuple(p) for p in pairs}
    yours = [r for r in store.labels(labeller)
             if r.model == model and r.pair_id in by_id and r.criterion == criterion and not r.is_repeat]
    mine = {r.pair_id for r in yours}
    rest = [p for i, p in by_id.items() if i not in mine]
    others: list[LabelRecord] = []
    if simulated is not None and rest:
        if simulated.criterion != criterion:
            raise ValueError(f"the simulated person follows {simulated.criterion!r}, the round is labelled by "
                             f"{criterion!r}: one round, one criterion")
        if simulated.name == labeller:
            raise ValueError(f"the simulated person and the learner are both called {labeller!r}: give them other names")
        others = [r for r in simulated.label_pairs(store, rest, model=model) if not r.is_repeat]   # its own criterion only
    return RoundLabels(yours, others)


def updated_reward_model(rm: RewardModel, pairs: Sequence[PreferencePair], calibration: Samples | Sequence[Samples],
                         config: RewardTrainingConfig | None = None, progress: bool = True) -> RewardModel:
    """The next round's reward model: a copy of ``rm`` trained further on ``pairs`` with the
    Bradley-Terry loss (notebook 04), then renormalised on ``calibration`` (base-model samples) so its
    scores keep the scale PPO's β was chosen for. ``rm`` itself is left as it was.

    Pass the new round's comparisons together with comparisons like the old ones (replay), so the
    model learns where it was wrong without forgetting where it was right.
    """
    if not pairs:
        raise ValueError("updated_reward_model needs comparisons: label some pairs of the new round first")
    new = RewardModel(copy.deepcopy(rm.model), rm.tokenizer, rm.gain, rm.bias, copy.deepcopy(rm.info))
    config = config or RewardTrainingConfig(epochs=1, learning_rate=1e-4)
    train_reward_model(new, pairs, config=config, progress=progress)
    new.calibrate(calibration)
    new.info["updated_on_pairs"] = len(pairs)
    return new


__all__ = ["PeakThenDrop", "RoundLabels", "labels_by_model", "pair_accuracy", "peak_then_drop", "round_labels",
           "updated_reward_model"]
