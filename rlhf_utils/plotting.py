"""Learning curves: episode returns against environment steps, averaged over seeds.

Notebooks 01 (REINFORCE variants) and 02 (PPO vs REINFORCE) draw their curves with
:func:`plot_learning_curves`, so runs of different algorithms share one x-axis: environment steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def rolling_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean of the last ``window`` values at every index (fewer at the start).

    ``out[i] = mean(values[max(0, i - window + 1) : i + 1])``, same length as ``values``.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return x
    csum = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, x.size + 1)
    lo = np.maximum(0, idx - window)
    return (csum[idx] - csum[lo]) / (idx - lo)


def _steps_and_returns(run: Any) -> tuple[np.ndarray, np.ndarray]:
    """Accept a result object (``episode_end_steps``, ``episode_returns``) or a ``(steps, returns)`` pair."""
    if hasattr(run, "episode_end_steps") and hasattr(run, "episode_returns"):
        steps, returns = run.episode_end_steps, run.episode_returns
    else:
        try:
            steps, returns = run
        except (TypeError, ValueError):
            raise TypeError(
                "each run must have .episode_end_steps and .episode_returns, or be a (steps, returns) pair; "
                f"got {type(run).__name__}"
            ) from None
    steps, returns = np.asarray(steps, dtype=float), np.asarray(returns, dtype=float)
    if steps.shape != returns.shape or steps.ndim != 1:
        raise ValueError(f"steps and returns must be 1-D and of equal length, got {steps.shape} and {returns.shape}")
    return steps, returns


def curve_on_grid(steps: Sequence[float], returns: Sequence[float], grid: Sequence[float], window: int = 20) -> np.ndarray:
    """The rolling-mean return as known at each environment step of ``grid``.

    At step ``x`` the value is the rolling mean (over ``window`` episodes) of the last episode
    that had finished by ``x``; ``nan`` before the first episode ends. Putting every seed on the
    same grid lets us average runs whose episodes end at different steps.
    """
    steps = np.asarray(steps, dtype=float)
    smooth = rolling_mean(returns, window)
    idx = np.searchsorted(steps, np.asarray(grid, dtype=float), side="right") - 1
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = smooth[idx[ok]]
    return out


def plot_learning_curves(
    runs: Mapping[str, Sequence[Any]],
    *,
    window: int = 20,
    n_points: int = 200,
    band: str = "std",
    ax: Any = None,
    title: str | None = None,
    ylabel: str = "episode return",
    target: float | None = None,
) -> Any:
    """Plot one curve per label: the mean over seeds of the rolling-mean return, with a band.

    ``runs`` maps a label (``"REINFORCE"``, ``"PPO"``...) to its runs, one per seed; each run is an
    object with ``episode_end_steps`` and ``episode_returns`` (like ``ReinforceResult``) or a
    ``(steps, returns)`` pair. The x-axis is environment steps, up to the shortest run of the
    label. ``band``: ``"std"`` (mean +/- one standard deviation over seeds), ``"minmax"``
    (range over seeds) or ``"none"``. ``target`` draws a dashed horizontal line (e.g. 500).
    Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if band not in ("std", "minmax", "none"):
        raise ValueError(f"band must be 'std', 'minmax' or 'none', got {band!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, label_runs in runs.items():
        pairs = [_steps_and_returns(r) for r in label_runs]
        pairs = [(s, r) for s, r in pairs if s.size]
        if not pairs:
            raise ValueError(f"no finished episodes in the runs of {label!r}")
        x_max = min(s[-1] for s, _ in pairs)
        grid = np.linspace(0.0, x_max, n_points)
        curves = np.stack([curve_on_grid(s, r, grid, window) for s, r in pairs])
        with warnings.catch_warnings():  # grid points before any episode ended are all-nan
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves, axis=0)
        seeds = f"{len(pairs)} seed{'s' if len(pairs) > 1 else ''}"
        (line,) = ax.plot(grid, mean, label=f"{label} ({seeds})")
        if band != "none" and len(pairs) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if band == "std":
                    spread = np.nanstd(curves, axis=0)
                    low, high = mean - spread, mean + spread
                else:
                    low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    band_text = {"std": ", band: mean \u00b1 std over seeds", "minmax": ", band: min-max over seeds", "none": ""}[band]
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"{ylabel} (rolling mean of {window} episodes)")
    ax.set_title(title or f"Learning curves{band_text}")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
