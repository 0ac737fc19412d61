"""Reward over-optimisation, distribution shift and iterated RLHF (notebook 07).

Optimising a learned (proxy) reward model harder eventually stops helping the true (gold) objective
and then hurts it: the proxy keeps rising while gold peaks and falls (Gao, Schulman & Hilton 2023,
"Scaling laws for reward model overoptimization", who plot both against the KL to the reference).
:func:`peak_then_drop` decides, with standard errors, whether a measured gold curve did that.
:func:`pair_accuracy` measures the reward model on a policy's own samples (distribution shift), and
:func:`updated_reward_model` makes the second round's reward model from new comparisons.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .feedback import PreferencePair
from .feedback_store import LabelRecord
from .gold import gold_scores
from .generation import Samples, sample_pairs
from .reward_model import RewardModel, RewardTrainingConfig, gold_pairwise_accuracy, train_reward_model


@dataclass(frozen=True)
class PeakThenDrop:
    """Where a curve peaked and whether its last point is significantly below the peak."""

    peak_index: int
    peak: float
    end: float
    drop: float
    """``peak - end``."""
    drop_se: float
    """Standard error of the drop, ``sqrt(se_peak² + se_end²)`` (the two points are independent samples)."""
    significant: bool
    """``drop > k · drop_se``: the end is more than ``k`` standard errors below the peak."""

    def __str__(self) -> str:
        verdict = "a significant drop" if self.significant else "no significant drop"
        return (f"peak {self.peak:+.3f} at point {self.peak_index}, end {self.end:+.3f}: drop {self.drop:.3f} "
                f"± {self.drop_se:.3f} ({verdict})")


def peak_then_drop(means: Sequence[float], ses: Sequence[float], k: float = 2.0) -> PeakThenDrop:
    """Did the curve ``means`` (with standard errors ``ses``) peak and then fall by more than ``k`` s.e.?

    The peak is the highest mean; a peak at the last point is no drop.
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
                  seed: int = 1234) -> tuple[float, int]:
    """How well ``rm`` orders the text ``lm`` writes: two fresh samples per prompt, scored by the reward
    model and by gold; returns the share of pairs ordered as gold orders them, and the number of pairs
    (gold ties left out). On the base model's samples this is the reward model's test accuracy; on a
    policy's samples it shows the distribution shift."""
    torch.manual_seed(seed)
    a, b, _ = sample_pairs(lm, tokenizer, prompts, progress=False)
    return gold_pairwise_accuracy(rm.score_texts(prompts, a).numpy(), rm.score_texts(prompts, b).numpy(),
                                  gold_scores(a, prompts), gold_scores(b, prompts))


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


__all__ = ["PeakThenDrop", "labels_by_model", "pair_accuracy", "peak_then_drop", "updated_reward_model"]
