"""How robust is notebook 01's result check? REINFORCE on CartPole-v1 over many seeds.

For every variant and seed this trains :func:`rlhf_utils.policy_gradient.train_reinforce` with the
notebook's settings and prints the numbers the notebook's result check looks at: the best rolling
mean of 20 training episodes, the mean of the last 20, the first step at which the rolling mean
reached 475, and the greedy evaluation over 10 episodes. Run by hand:

    python benchmarks/reinforce_seeds.py --seeds 0 1 2 3 4 5 6 7 8 9 --steps 60000
"""

from __future__ import annotations

import argparse

import numpy as np

from rlhf_utils.plotting import rolling_mean
from rlhf_utils.policy_gradient import VARIANTS, evaluation_returns, train_reinforce


def main(argv: list[str] | None = None) -> list[dict]:
    """Train every variant on every seed; returns one row per run (the numbers printed in the table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(5)))
    parser.add_argument("--steps", type=int, default=60_000, help="environment steps per run (notebook: 60000)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--window", type=int, default=20, help="rolling-mean window (episodes)")
    args = parser.parse_args(argv)

    rows = []
    print("| variant | seed | best rolling mean | last 20 mean | first step >= 475 | greedy eval (10 ep) | min | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for variant in args.variants:
        greedy_means = []
        for seed in args.seeds:
            result = train_reinforce(seed=seed, max_env_steps=args.steps, variant=variant)
            smooth = rolling_mean(result.episode_returns, args.window)[args.window - 1 :]
            reached = np.flatnonzero(smooth >= 475)
            first = int(result.episode_end_steps[reached[0] + args.window - 1]) if reached.size else None
            greedy = evaluation_returns(result.policy, n_episodes=10)
            greedy_means.append(np.mean(greedy))
            rows.append({"variant": variant, "seed": seed, "best_rolling_mean": float(smooth.max()),
                         "last_20_mean": float(np.mean(result.episode_returns[-20:])), "first_step_475": first,
                         "greedy_mean": float(np.mean(greedy)), "greedy_min": float(min(greedy)),
                         "seconds": result.wall_seconds})
            print(
                f"| {variant} | {seed} | {smooth.max():.1f} | {np.mean(result.episode_returns[-20:]):.1f} | "
                f"{first if first is not None else '-'} | {np.mean(greedy):.1f} | {min(greedy):.0f} | "
                f"{result.wall_seconds:.1f} |",
                flush=True,
            )
        print(f"| {variant} | all | | | | {np.mean(greedy_means):.1f} (min {min(greedy_means):.1f}) | | |", flush=True)
    return rows


if __name__ == "__main__":
    main()
