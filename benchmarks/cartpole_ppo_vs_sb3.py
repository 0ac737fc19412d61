"""Our CartPole PPO against Stable-Baselines3's PPO with the RL zoo's tuned CartPole-v1 settings.

Both run side by side in one process, seed by seed (which one goes first alternates), on the same
machine and with the same torch settings (one thread: for 64-unit networks a second thread only
adds overhead, for both). For each we record the training episodes as they finish and report, as
the median over seeds with a bootstrap 95% confidence interval:

- the environment steps and wall seconds (from creating the environments, so model set-up counts)
  at which the mean return of the last 20 training episodes first reaches 475;
- the final return: greedy evaluation of the final policy over 10 fresh episodes, and the mean of
  the last 20 training episodes;
- the ratios ours / SB3 of those medians (paired bootstrap over seeds for their intervals).

Seeds default to 1000-1009: the defaults of ``rlhf_utils.cartpole_ppo.PPOConfig`` were tuned on
seeds 0-9 only. Stable-Baselines3 is a benchmark-only dependency: ``pip install -r
requirements-bench.txt``. Run: ``python benchmarks/cartpole_ppo_vs_sb3.py [--seeds 1000-1019]``;
``--algos ours`` runs our side alone (no Stable-Baselines3 needed).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlhf_utils.cartpole_ppo import PPOConfig, first_step_reaching, train_ppo
from rlhf_utils.results import results_file, write_results

THRESHOLD, WINDOW = 475.0, 20
EVAL_EPISODES, EVAL_SEED = 10, 123_456

# RL zoo, hyperparams/ppo.yml, "CartPole-v1" (marked "Tuned"): lin_ = linear decay to 0.
ZOO_CARTPOLE = dict(
    n_envs=8, n_timesteps=100_000, policy="MlpPolicy", n_steps=32, batch_size=256, gae_lambda=0.8,
    gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2",
)


def linear_schedule(start: float) -> Callable[[float], float]:
    """SB3 schedules get the remaining progress (1 -> 0); the zoo's ``lin_x`` is ``progress * x``."""
    return lambda progress_remaining: progress_remaining * start


def greedy_returns(act: Callable[[np.ndarray], np.ndarray], n_episodes: int = EVAL_EPISODES) -> list[float]:
    """Undiscounted returns of ``n_episodes`` fresh CartPole-v1 episodes, one per vectorised env."""
    envs = gym.make_vec("CartPole-v1", num_envs=n_episodes, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=EVAL_SEED)
    finished = np.zeros(n_episodes, dtype=bool)
    total = np.zeros(n_episodes)
    while not finished.all():
        obs, reward, terminated, truncated, _ = envs.step(act(obs))
        total += reward * ~finished
        finished |= terminated | truncated
    envs.close()
    return total.tolist()


def summarise(name: str, returns: list[float], steps: list[int], seconds: list[float], final_eval: list[float],
              wall: float) -> dict:
    hit = first_step_reaching(returns, steps, THRESHOLD, WINDOW)
    return {
        "algo": name,
        "steps_to_475": hit,
        "seconds_to_475": None if hit is None else seconds[steps.index(hit)],
        "final_eval_mean": float(np.mean(final_eval)),
        "final_train_mean_20": float(np.mean(returns[-WINDOW:])),
        "wall_seconds_total": wall,
        "episodes": len(returns),
    }


def run_ours(seed: int, total_steps: int) -> dict:
    result = train_ppo(PPOConfig(seed=seed, total_steps=total_steps))
    agent = result.agent

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return agent.actor(torch.from_numpy(obs)).argmax(-1).numpy()

    return summarise("ours", result.episode_returns, result.episode_end_steps, result.episode_end_seconds,
                     greedy_returns(act), result.wall_seconds)


def run_sb3(seed: int, total_steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class EpisodeLog(BaseCallback):
        """Record every finished training episode (from the Monitor wrapper) with its step and time."""

        def __init__(self, start: float):
            super().__init__()
            self.start = start
            self.returns: list[float] = []
            self.steps: list[int] = []
            self.seconds: list[float] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
                    self.steps.append(int(self.num_timesteps))
                    self.seconds.append(time.perf_counter() - self.start)
            return True

    z = ZOO_CARTPOLE
    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=z["n_envs"], seed=seed)
    model = PPO(
        z["policy"], env, n_steps=z["n_steps"], batch_size=z["batch_size"], gae_lambda=z["gae_lambda"],
        gamma=z["gamma"], n_epochs=z["n_epochs"], ent_coef=z["ent_coef"],
        learning_rate=linear_schedule(0.001), clip_range=linear_schedule(0.2), seed=seed, device="cpu", verbose=0,
    )
    log = EpisodeLog(start)
    model.learn(total_timesteps=total_steps, callback=log)
    wall = time.perf_counter() - start
    env.close()
    return summarise("sb3", log.returns, log.steps, log.seconds,
                     greedy_returns(lambda obs: model.predict(obs, deterministic=True)[0]), wall)


def bootstrap_median(x: np.ndarray, rng: np.random.Generator, n: int) -> tuple[float, float, float]:
    """Median and percentile-bootstrap 95% interval (inf stands for 'never reached')."""
    samples = np.median(x[rng.integers(0, len(x), size=(n, len(x)))], axis=1)
    with np.errstate(invalid="ignore"):  # interpolating between two infs gives nan: the bound is inf, 'never'
        bounds = np.percentile(samples, [2.5, 97.5])
    low, high = np.where(np.isnan(bounds), np.inf, bounds)
    return float(np.median(x)), float(low), float(high)


def bootstrap_ratio(ours: np.ndarray, sb3: np.ndarray, rng: np.random.Generator, n: int) -> tuple[float, float, float]:
    """median(ours) / median(sb3), with a paired bootstrap (the same seeds resampled for both)."""
    idx = rng.integers(0, len(ours), size=(n, len(ours)))
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = np.median(ours[idx], axis=1) / np.median(sb3[idx], axis=1)
        point = float(np.median(ours) / np.median(sb3))
    return point, float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))


def fmt(triple: tuple[float, float, float], digits: int = 0) -> str:
    def one(v: float) -> str:
        return "never" if np.isinf(v) else f"{v:,.{digits}f}"

    point, low, high = triple
    return f"{one(point)} [{one(low)}, {one(high)}]"


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


RUNNERS = {"ours": run_ours, "sb3": run_sb3}


def main(argv: list[str] | None = None) -> dict:
    """Train every algorithm on every seed; returns every run and, per metric, the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1000-1009", help="e.g. 1000-1019 or 1000,1001,1002 (not 0-9: used for tuning)")
    parser.add_argument("--total-steps", type=int, default=ZOO_CARTPOLE["n_timesteps"])
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--algos", default="ours,sb3",
                        help="'ours' alone runs without Stable-Baselines3 installed (no comparison then)")
    parser.add_argument("--out", type=Path, default=None, help="also write every run as JSON here")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    algos = args.algos.split(",")
    if unknown := set(algos) - set(RUNNERS):
        parser.error(f"--algos: unknown {sorted(unknown)}; choose from {sorted(RUNNERS)}")
    if set(seeds) & set(range(10)):
        print("note: seeds 0-9 were used to tune our PPO; a fair comparison uses others.")

    torch.set_num_threads(1)
    # one-time costs neither algorithm should pay inside its timing: the first torch optimizer
    # imports torch's compiler stack (seconds), and importing SB3
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], fused=True)
    sb3_version = ""
    if "sb3" in algos:
        import stable_baselines3

        sb3_version = f", stable-baselines3 {stable_baselines3.__version__}"

    print(f"torch {torch.__version__} (1 thread), gymnasium {gym.__version__}{sb3_version}, "
          f"python {platform.python_version()}, {platform.machine()}")
    print(f"seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), {args.total_steps:,} env steps each; target: mean of the "
          f"last {WINDOW} training episodes >= {THRESHOLD:.0f}\n")
    runs: list[dict] = []
    print("| seed | algo | steps to 475 | seconds to 475 | final eval (10 ep) | last-20 mean | total s |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for i, seed in enumerate(seeds):
        for algo in algos if i % 2 == 0 else algos[::-1]:  # alternate who goes first
            r = RUNNERS[algo](seed, args.total_steps)
            r["seed"] = seed
            runs.append(r)
            steps = "never" if r["steps_to_475"] is None else f"{r['steps_to_475']:,}"
            secs = "-" if r["seconds_to_475"] is None else f"{r['seconds_to_475']:.1f}"
            print(f"| {seed} | {r['algo']} | {steps} | {secs} | {r['final_eval_mean']:.1f} | "
                  f"{r['final_train_mean_20']:.1f} | {r['wall_seconds_total']:.1f} |", flush=True)

    rng = np.random.default_rng(0)

    def column(algo: str, key: str) -> np.ndarray:
        values = [r[key] for r in sorted(runs, key=lambda r: r["seed"]) if r["algo"] == algo]
        return np.array([np.inf if v is None else v for v in values], dtype=float)

    print(f"\nMedian over {len(seeds)} seeds [bootstrap 95% CI]; 'never' = did not reach 475 within the budget.\n")
    compare = set(algos) == {"ours", "sb3"}
    print("| metric | " + " | ".join({"ours": "ours", "sb3": "SB3 (RL zoo)"}[a] for a in algos)
          + (" | ours / SB3 |" if compare else " |"))
    print("|---|" + "---:|" * (len(algos) + compare))
    summary: dict[str, dict] = {}
    for key, label, digits in [
        ("steps_to_475", "env steps to first reach 475", 0),
        ("seconds_to_475", "wall seconds to first reach 475", 1),
        ("final_eval_mean", "final return (greedy, 10 episodes)", 1),
        ("final_train_mean_20", "final return (last 20 training episodes)", 1),
        ("wall_seconds_total", f"wall seconds for {args.total_steps:,} steps", 1),
    ]:
        # the ratio draws from the shared generator first, then the medians: the order the published intervals used
        ratio = bootstrap_ratio(column("ours", key), column("sb3", key), rng, args.bootstrap) if compare else None
        summary[key] = {a: bootstrap_median(column(a, key), rng, args.bootstrap) for a in algos}
        cells = [fmt(summary[key][a], digits) for a in algos]
        if ratio is not None:
            summary[key]["ours / sb3"] = ratio
            cells.append(fmt(ratio, 2))
        print(f"| {label} | " + " | ".join(cells) + " |")
    for algo in algos:
        reached = int(np.isfinite(column(algo, "steps_to_475")).sum())
        print(f"\n{algo}: reached 475 on {reached}/{len(seeds)} seeds", end="")
    print()
    output = results_file(__file__, args, seeds=seeds, total_steps=args.total_steps, runs=runs)
    if args.out:
        write_results(args.out, output)
        print(f"runs written to {args.out}")
    return {**output, "summary": summary}


if __name__ == "__main__":
    main()
