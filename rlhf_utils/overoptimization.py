"""Reward over-optimisation and iterated RLHF (notebook 07).

Optimising a learned (proxy) reward model harder eventually stops helping the true (gold) objective
and then hurts it: the proxy keeps rising while gold peaks and falls (Gao, Schulman & Hilton 2023,
"Scaling laws for reward model overoptimization", who plot both against the KL to the reference).
:func:`peak_then_drop` decides, with standard errors, whether a measured gold curve did that.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .feedback import LabelRecord


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


__all__ = ["PeakThenDrop", "labels_by_model", "peak_then_drop"]
