"""How robust is notebook 00's DQN? DQN and notebook 02's PPO on CartPole-v1, side by side over many seeds.

For every seed this trains notebook 00's DQN (its code is read from the notebook's cells tagged ``dqn``, so there
is one copy of it) with the notebook's settings, and :func:`rlhf_utils.cartpole_ppo.train_ppo` with notebook 02's
defaults, one after the other in the same process (the order alternates by seed, so a change in machine load hits
both alike). Both are judged by the same rule, :func:`rlhf_utils.cartpole_ppo.first_step_reaching`: the first
environment step at which the mean return of the last 20 training episodes is at least 475. Run by hand:

    python benchmarks/dqn_vs_ppo_seeds.py                       # seeds 1000-1009
    python benchmarks/dqn_vs_ppo_seeds.py --seeds 1000-1019 --out data/results/dqn_vs_ppo_seeds.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

from rlhf_utils.cartpole_ppo import PPOConfig, first_step_reaching, train_ppo
from rlhf_utils.paths import REPO_ROOT, RESULTS_DIR
from rlhf_utils.results import results_file, write_results

NOTEBOOK = REPO_ROOT / "notebooks" / "00_value_based_rl.ipynb"
DQN_TAG = "dqn"
ALGOS = ("dqn", "ppo")


def load_dqn(notebook: Path = NOTEBOOK) -> dict:
    """The namespace after running the notebook's cells tagged ``dqn`` (its imports and DQN code; nothing trains)."""
    cells = [c.source for c in nbformat.read(notebook, as_version=4).cells
             if c.cell_type == "code" and DQN_TAG in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{notebook.name} has no code cell tagged {DQN_TAG!r}: tag the cells that define its DQN")
    namespace: dict = {"__name__": "dqn_from_notebook"}
    for number, source in enumerate(cells, start=1):
        code = compile(source, f"{notebook.name} dqn cell {number}", "exec", dont_inherit=True)  # as in the notebook
        exec(code, namespace)  # noqa: S102 - the course's own cells
    return namespace


def parse_seeds(text: str) -> list[int]:
    """``"1000-1009"`` or ``"3,5,7"`` -> a list of seeds."""
    if "-" in text:
        low, high = (int(x) for x in text.split("-"))
        return list(range(low, high + 1))
    return [int(x) for x in text.split(",")]


def time_to_reach(returns: list[float], end_steps: list[int], end_seconds: list[float]) -> tuple[int | None, float | None]:
    """(environment step, wall seconds) at which the 20-episode mean first reached 475; ``(None, None)`` if never."""
    step = first_step_reaching(returns, end_steps)
    if step is None:
        return None, None
    return step, float(end_seconds[end_steps.index(step)])


def summarise(runs: list[dict], algo: str) -> dict:
    """Fraction of seeds that reached 475; medians over those seeds of the steps and seconds it took."""
    mine = [r for r in runs if r["algo"] == algo]
    reached = [r for r in mine if r["steps_to_475"] is not None]
    median = lambda key: float(np.median([r[key] for r in reached])) if reached else None  # noqa: E731
    return {"seeds": len(mine), "reached": len(reached), "fraction_reached": len(reached) / len(mine) if mine else 0.0,
            "median_steps_to_475": median("steps_to_475"), "median_seconds_to_475": median("seconds_to_475"),
            "median_wall_seconds": float(np.median([r["wall_seconds"] for r in mine])) if mine else None}


def main(argv: list[str] | None = None) -> dict:
    """Train DQN and PPO on every seed; returns the runs and the summary that it prints (and writes to --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("1000-1009"), help="'1000-1009' or '3,5'")
    parser.add_argument("--dqn-steps", type=int, default=100_000, help="most DQN environment steps (notebook: 100000)")
    parser.add_argument("--ppo-steps", type=int, default=100_000, help="PPO environment steps (notebook 02: 100000)")
    parser.add_argument("--algos", default="dqn,ppo", help="comma-separated subset of: " + ",".join(ALGOS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "dqn_vs_ppo_seeds.json")
    args = parser.parse_args(argv)
    algos = args.algos.split(",")
    if not set(algos) <= set(ALGOS):
        parser.error(f"--algos must be a subset of {ALGOS}, got {args.algos!r}")
    torch.set_num_threads(1)  # as the notebooks: a second thread only adds overhead for these tiny networks
    dqn = load_dqn()

    def run_dqn(seed: int) -> dict:
        result = dqn["train_dqn"](dqn["DQNConfig"](seed=seed, total_steps=args.dqn_steps))
        greedy = dqn["greedy_returns"](result.q_net, n_episodes=10)
        return {"returns": result.episode_returns, "ends": result.episode_end_steps,
                "seconds": result.episode_end_seconds, "wall": result.wall_seconds, "greedy": greedy}

    def run_ppo(seed: int) -> dict:
        from rlhf_utils.cartpole_ppo import evaluate

        result = train_ppo(PPOConfig(seed=seed, total_steps=args.ppo_steps))
        return {"returns": result.episode_returns, "ends": result.episode_end_steps,
                "seconds": result.episode_end_seconds, "wall": result.wall_seconds, "greedy": evaluate(result.agent)}

    trainers = {"dqn": run_dqn, "ppo": run_ppo}
    runs = []
    print("| algo | seed | steps to 475 | seconds to 475 | steps run | wall seconds | greedy eval (10 ep) |")
    print("|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for i, seed in enumerate(args.seeds):
        for algo in (algos if i % 2 == 0 else algos[::-1]):
            out = trainers[algo](seed)
            steps, seconds = time_to_reach(out["returns"], out["ends"], out["seconds"])
            row = {"algo": algo, "seed": seed, "steps_to_475": steps, "seconds_to_475": seconds,
                   "steps_run": int(out["ends"][-1]) if out["ends"] else 0, "episodes": len(out["returns"]),
                   "wall_seconds": float(out["wall"]), "greedy_eval_mean": float(np.mean(out["greedy"]))}
            runs.append(row)
            print(f"| {algo} | {seed} | {steps if steps is not None else 'never'} | "
                  f"{f'{seconds:.1f}' if seconds is not None else '-'} | {row['steps_run']:,} | "
                  f"{row['wall_seconds']:.1f} | {row['greedy_eval_mean']:.1f} |", flush=True)
    summary = {algo: summarise(runs, algo) for algo in algos}
    print("\n| algo | seeds reaching 475 | median env steps to 475 | median seconds to 475 | median wall seconds per run |")
    print("|---|---|---|---|---|")
    for algo, s in summary.items():
        steps = f"{s['median_steps_to_475']:,.0f}" if s["median_steps_to_475"] is not None else "never"
        seconds = f"{s['median_seconds_to_475']:.1f}" if s["median_seconds_to_475"] is not None else "-"
        print(f"| {algo} | {s['reached']}/{s['seeds']} | {steps} | {seconds} | {s['median_wall_seconds']:.1f} |")
    print(f"total {time.perf_counter() - start:.0f} s")
    output = results_file("benchmarks/dqn_vs_ppo_seeds.py", args, seeds=args.seeds, runs=runs, summary=summary)
    write_results(args.out, output)
    return output


if __name__ == "__main__":
    main()
