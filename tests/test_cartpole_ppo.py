"""The CartPole PPO: auto-reset masking, truncation bootstrapping, determinism, a short training run."""

import numpy as np
import pytest
import torch

from rlhf_utils import cartpole_ppo as cp
from rlhf_utils import ppo


def _rollout(max_episode_steps=500, num_envs=3, num_steps=40, seed=0):
    torch.manual_seed(seed)
    envs, state = cp.make_envs(num_envs, seed, max_episode_steps=max_episode_steps)
    agent = cp.Agent()
    return cp.collect_rollout(envs, agent, state, num_steps), state, agent


def test_rollout_masks_the_auto_reset_step_and_counts_episodes():
    rollout, state, _ = _rollout()
    dones, mask = rollout.dones, rollout.mask
    assert rollout.obs.shape == (3, 40, 4) and dones.shape == mask.shape == (3, 40)
    assert dones.sum() >= 3, "a random policy drops the pole within 40 steps"
    # the step right after an episode end is the auto-reset call: masked, reward 0
    after_done = torch.zeros_like(mask)
    after_done[:, 1:] = dones[:, :-1]
    assert torch.equal(~mask, after_done)
    assert torch.all(rollout.rewards[~mask] == 0)
    assert len(state.episode_returns) == int(dones.sum())
    assert state.global_step == 3 * 40
    # episode returns count real steps only: their sum is the number of rewarded (unmasked) steps
    completed = float(sum(state.episode_returns)) + float(state.episode_return.sum())
    assert completed == float(rollout.rewards.sum())


def test_next_values_are_the_values_of_the_next_recorded_observation():
    rollout, _, agent = _rollout()
    torch.testing.assert_close(rollout.next_values[:, :-1], rollout.values[:, 1:])
    with torch.no_grad():
        torch.testing.assert_close(rollout.values, agent.critic(rollout.obs).squeeze(-1))


def test_time_limit_truncation_is_bootstrapped_from_the_final_observation():
    rollout, _, _ = _rollout(max_episode_steps=5, num_envs=2, num_steps=12)
    # every episode is cut at 5 steps (a pole cannot fall that fast): steps 0-4, reset call 5, steps 6-10, reset 11
    expected_dones = torch.tensor([False] * 4 + [True] + [False] * 5 + [True, False])
    assert torch.equal(rollout.dones[0], expected_dones)
    assert not rollout.terminated.any()
    assert torch.equal(rollout.mask[0], ~torch.roll(expected_dones, 1))
    # the observation recorded at the reset call is the final observation of the truncated episode
    adv, ret = ppo.gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.dones,
                       gamma=0.9, lam=1.0, mask=rollout.mask)
    v = rollout.values[0]
    assert adv[0, 4].item() == pytest.approx(1.0 + 0.9 * v[5].item() - v[4].item(), abs=1e-5)
    assert adv[0, 5].item() == 0.0


def test_training_is_deterministic_and_logs_diagnostics():
    a = cp.train_ppo(seed=3, total_steps=2048)
    b = cp.train_ppo(cp.PPOConfig(seed=3, total_steps=2048))
    assert a.episode_returns == b.episode_returns and a.episode_end_steps == b.episode_end_steps
    assert len(a.history) == 2048 // (8 * 32)
    assert {"approx_kl", "clip_fraction", "explained_variance", "learning_rate"} <= set(a.history[0])
    assert a.history[-1]["learning_rate"] < a.history[0]["learning_rate"]
    assert len(a.episode_end_seconds) == len(a.episode_returns)


def test_short_training_run_learns():
    """12k steps is about a third of what CartPole needs; the policy must already be far from random (~22)."""
    result = cp.train_ppo(seed=1, total_steps=12_000)
    early, late = np.mean(result.episode_returns[:20]), np.mean(result.episode_returns[-20:])
    assert late > 3 * early and late > 80, f"mean return went from {early:.0f} to {late:.0f} only"


def test_first_step_reaching():
    returns = [10.0] * 5 + [500.0] * 25
    steps = list(range(100, 3100, 100))
    assert cp.first_step_reaching(returns, steps, threshold=475, window=20) == steps[5 + 18]
    assert cp.first_step_reaching(returns[:10], steps[:10]) is None


def test_evaluate_and_bad_activation():
    assert len(cp.evaluate(cp.Agent(), n_episodes=3)) == 3
    with pytest.raises(ValueError, match="activation must be one of"):
        cp.Agent(activation="sigmoid")
