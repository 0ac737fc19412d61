"""Notebook 00's value-based code: DQN's handling of gymnasium's two episode-end flags, its targets, the exercise
checkers against the common wrong answers, and the DQN-vs-PPO seed benchmark at a tiny size.

The DQN lives in the notebook (its cells tagged ``dqn``); ``benchmarks/dqn_vs_ppo_seeds.load_dqn`` runs those cells,
so these tests check the code learners read.
"""

from __future__ import annotations

import contextlib
import io

import gymnasium as gym
import nbformat
import numpy as np
import pytest
import torch

from rlhf_utils.exercises import FAIL, PASS

from .script_runs import load_script, read_results_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/dqn_vs_ppo_seeds.py")


@pytest.fixture(scope="module")
def dqn(bench):
    threads = torch.get_num_threads()
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell prints the profile banner
        namespace = bench.load_dqn()
    torch.set_num_threads(threads)
    return namespace


def alternate_until(env: gym.Env, buffer, dqn: dict, steps: int, seed: int) -> list[np.ndarray]:
    """Play `steps` steps pushing left, right, left... (the pole stays up); return every observation step() gave."""
    obs, _ = env.reset(seed=seed)
    seen = []
    for t in range(steps):
        obs, _, _ = dqn["env_step"](env, buffer, obs, t % 2)
        seen.append(obs)
    return seen


def test_a_time_limit_truncation_is_stored_as_a_bootstrapped_transition(dqn):
    env = gym.make("CartPole-v1", max_episode_steps=5)
    buffer = dqn["ReplayBuffer"](capacity=8, obs_dim=4, seed=0)
    alternate_until(env, buffer, dqn, steps=6, seed=3)
    replay = gym.make("CartPole-v1", max_episode_steps=5)  # the same episode again, to know its final observation
    replay.reset(seed=3)
    for t in range(5):
        final_obs, _, terminated, truncated, _ = replay.step(t % 2)
    assert truncated and not terminated, "the test episode should end by the time limit"
    assert buffer.size == 6 and buffer.terminated[4] == 0, "a truncated step must not be stored as terminated"
    np.testing.assert_allclose(buffer.next_obs[4], final_obs, err_msg="s' of a truncated step must be its final observation")
    assert not np.allclose(buffer.obs[5], final_obs), "after the time limit the next stored s is a fresh episode's"

    q_next = torch.tensor([[3.0, 7.0]])  # the target network's values of s'
    target = dqn["dqn_targets"](torch.tensor([buffer.rewards[4]]), q_next, torch.tensor([buffer.terminated[4]]), 0.9)
    assert target.item() == pytest.approx(1.0 + 0.9 * 7.0), "a truncated transition must bootstrap from s'"


def test_a_termination_stops_the_bootstrap(dqn):
    env = gym.make("CartPole-v1")
    buffer = dqn["ReplayBuffer"](capacity=64, obs_dim=4, seed=0)
    obs, _ = env.reset(seed=0)
    for _ in range(60):  # always push left: the pole falls within a few tens of steps
        obs, _, ended = dqn["env_step"](env, buffer, obs, 0)
        if ended:
            break
    assert ended, "the pole should have fallen"
    last = buffer.size - 1
    assert buffer.terminated[last] == 1 and buffer.terminated[:last].sum() == 0
    target = dqn["dqn_targets"](torch.tensor([1.0]), torch.tensor([[3.0, 7.0]]), torch.tensor([buffer.terminated[last]]), 0.9)
    assert target.item() == 1.0, "a terminal transition's target is its reward alone"


def test_double_dqn_target_lets_the_online_network_choose(dqn):
    rewards, terminated = torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])
    target_q = torch.tensor([[1.0, 4.0], [2.0, 6.0]])
    online_q = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    plain = dqn["dqn_targets"](rewards, target_q, terminated, 1.0)
    double = dqn["dqn_targets"](rewards, target_q, terminated, 1.0, online_q)
    assert plain.tolist() == [4.0, 6.0] and double.tolist() == [1.0, 6.0]


def test_epsilon_decays_linearly_then_stays(dqn):
    config = dqn["DQNConfig"](eps_start=1.0, eps_end=0.1, eps_decay_steps=100)
    assert [round(dqn["epsilon_at"](s, config), 6) for s in (0, 50, 100, 1_000)] == [1.0, 0.55, 0.1, 0.1]


# ---------------------------------------------------------------- the exercise checkers reject common wrong answers
NOTEBOOK = "notebooks/00_value_based_rl.ipynb"


@pytest.fixture(scope="module")
def exercise_namespace(bench):
    """The notebook's cells tagged exercise-setup, run once, and the checker cells by the name they check."""
    cells = nbformat.read(bench.REPO_ROOT / NOTEBOOK, as_version=4).cells
    namespace: dict = {"__name__": "__main__"}
    threads = torch.get_num_threads()
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells:
            if cell.cell_type == "code" and "exercise-setup" in cell.metadata.get("tags", []):
                exec(compile(cell.source, "exercise-setup", "exec", dont_inherit=True), namespace)  # noqa: S102
    torch.set_num_threads(threads)
    checkers = {name: c.source for c in cells if c.cell_type == "code"
                for name in ("sarsa_targets", "bootstrapped_targets") if f'name="{name}"' in c.source}
    assert set(checkers) == {"sarsa_targets", "bootstrapped_targets"}, f"checker cells not found: {sorted(checkers)}"
    return namespace, checkers


def checker_output(exercise_namespace, name: str, answer) -> str:
    namespace, checkers = exercise_namespace
    namespace = dict(namespace, **{name: answer})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(checkers[name], f"{name} checker", "exec"), namespace)  # noqa: S102
    return out.getvalue()


SARSA_ANSWERS = {
    "right": lambda q, r, s2, a2, term, g: r + g * (1 - term) * q[s2, a2],
    "Q-learning's max": lambda q, r, s2, a2, term, g: r + g * (1 - term) * q[s2].max(axis=1),
    "no terminal mask": lambda q, r, s2, a2, term, g: r + g * q[s2, a2],
    "no discount": lambda q, r, s2, a2, term, g: r + (1 - term) * q[s2, a2],
    "mean over actions": lambda q, r, s2, a2, term, g: r + g * (1 - term) * q[s2].mean(axis=1),
}
DQN_ANSWERS = {
    "right": lambda r, nq, term, trunc, g: r + g * (1 - term) * nq.max(dim=1).values,
    "no terminal mask": lambda r, nq, term, trunc, g: r + g * nq.max(dim=1).values,
    "masks truncation too": lambda r, nq, term, trunc, g: r + g * (1 - torch.clamp(term + trunc, max=1)) * nq.max(dim=1).values,
    "masks truncation only": lambda r, nq, term, trunc, g: r + g * (1 - trunc) * nq.max(dim=1).values,
    "mean instead of max": lambda r, nq, term, trunc, g: r + g * (1 - term) * nq.mean(dim=1),
    "first action's value": lambda r, nq, term, trunc, g: r + g * (1 - term) * nq[:, 0],
}


@pytest.mark.parametrize(("name", "answers"), [("sarsa_targets", SARSA_ANSWERS), ("bootstrapped_targets", DQN_ANSWERS)])
def test_checkers_accept_the_right_answer_and_reject_common_wrong_ones(exercise_namespace, name, answers):
    printed = checker_output(exercise_namespace, name, answers["right"])
    assert PASS in printed and FAIL not in printed, f"{name}'s checker rejects a right answer:\n{printed}"
    for label, wrong in answers.items():
        if label != "right":
            printed = checker_output(exercise_namespace, name, wrong)
            assert FAIL in printed, f"{name}'s checker accepts a wrong answer ({label}):\n{printed}"


# ---------------------------------------------------------------- the benchmark
def test_benchmark_statistics_on_known_runs(bench):
    returns = [10.0] * 19 + [480.0] * 20
    ends = list(range(1, 40))
    seconds = [0.5 * e for e in ends]
    assert bench.time_to_reach(returns, ends, seconds) == (39, 19.5)  # the 20 newest episodes average 475 at #39
    assert bench.time_to_reach([10.0] * 30, list(range(30)), [0.0] * 30) == (None, None)
    runs = [{"algo": "dqn", "steps_to_475": 100, "seconds_to_475": 2.0, "wall_seconds": 3.0},
            {"algo": "dqn", "steps_to_475": 300, "seconds_to_475": 4.0, "wall_seconds": 5.0},
            {"algo": "dqn", "steps_to_475": None, "seconds_to_475": None, "wall_seconds": 9.0},
            {"algo": "ppo", "steps_to_475": 50, "seconds_to_475": 1.0, "wall_seconds": 2.0}]
    dqn = bench.summarise(runs, "dqn")
    assert dqn["reached"] == 2 and dqn["fraction_reached"] == pytest.approx(2 / 3)
    assert (dqn["median_steps_to_475"], dqn["median_seconds_to_475"], dqn["median_wall_seconds"]) == (200.0, 3.0, 5.0)
    assert bench.parse_seeds("1000-1002") == [1000, 1001, 1002] and bench.parse_seeds("4,9") == [4, 9]


@pytest.mark.slow
def test_benchmark_runs_dqn_and_ppo_side_by_side(bench, tmp_path):
    out = tmp_path / "dqn_vs_ppo.json"
    threads = torch.get_num_threads()  # the bench runs on one thread
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = bench.main(["--seeds", "3,4", "--dqn-steps", "1500", "--ppo-steps", "1024", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    saved = read_results_file(out, "benchmarks/dqn_vs_ppo_seeds.py", result)
    assert sorted((r["algo"], r["seed"]) for r in saved["runs"]) == [("dqn", 3), ("dqn", 4), ("ppo", 3), ("ppo", 4)]
    assert [r["algo"] for r in saved["runs"]][:2] == ["dqn", "ppo"] and [r["algo"] for r in saved["runs"]][2:] == ["ppo", "dqn"]
    for run in saved["runs"]:
        assert 0 < run["steps_run"] <= (1500 if run["algo"] == "dqn" else 1024) and run["episodes"] > 0, run
        assert run["steps_to_475"] is None and 0 < run["greedy_eval_mean"] <= 500, run  # far too few steps to solve it
    for algo in ("dqn", "ppo"):
        assert saved["summary"][algo]["seeds"] == 2 and saved["summary"][algo]["fraction_reached"] == 0.0
    with pytest.raises(SystemExit):
        bench.main(["--algos", "dqn,sac"])
