"""REINFORCE pieces: returns on hand-computed cases, the loss's gradient on a bandit, the trainer."""

import matplotlib
import numpy as np
import pytest
import torch

from rlhf_utils.plotting import curve_on_grid, plot_learning_curves, rolling_mean
from rlhf_utils.policy_gradient import (
    VARIANTS,
    PolicyNet,
    ReinforceResult,
    discounted_returns,
    episode_weights,
    evaluation_returns,
    reinforce_loss,
    reward_to_go,
    scale_by_rms,
    train_reinforce,
)

matplotlib.use("Agg")


# --- returns -------------------------------------------------------------------------------
def test_discounted_returns_hand_computed():
    # G_2 = 1, G_1 = 1 + 0.5 * 1 = 1.5, G_0 = 1 + 0.5 * 1.5 = 1.75
    assert torch.allclose(discounted_returns([1.0, 1.0, 1.0], 0.5), torch.tensor([1.75, 1.5, 1.0]))
    # a single reward at the end, discounted back: 0.9^2, 0.9, 1
    assert torch.allclose(discounted_returns([0.0, 0.0, 1.0], 0.9), torch.tensor([0.81, 0.9, 1.0]))
    # gamma = 1: plain sums of the rewards still to come
    assert torch.allclose(discounted_returns(torch.tensor([2.0, -1.0, 3.0]), 1.0), torch.tensor([4.0, 2.0, 3.0]))
    # gamma = 0: only the immediate reward
    assert torch.allclose(discounted_returns([2.0, -1.0, 3.0], 0.0), torch.tensor([2.0, -1.0, 3.0]))


def test_discounted_returns_edge_cases():
    assert discounted_returns([], 0.99).shape == (0,)
    assert discounted_returns([5.0], 0.99).tolist() == [5.0]
    assert discounted_returns([1, 2], 0.5).dtype == torch.float32
    with pytest.raises(ValueError, match="1-D"):
        discounted_returns(torch.ones(2, 3), 0.9)


def test_reward_to_go_causal_and_vanilla():
    rewards = [1.0, 2.0, 3.0]
    # reward-to-go: what is still to come from each step
    assert reward_to_go(rewards, 1.0).tolist() == [6.0, 5.0, 3.0]
    # vanilla REINFORCE: the whole episode's return at every step
    assert reward_to_go(rewards, 1.0, causal=False).tolist() == [6.0, 6.0, 6.0]
    assert torch.allclose(reward_to_go(rewards, 0.5, causal=False), torch.full((3,), 1 + 1.0 + 0.75))
    assert reward_to_go([], 0.9, causal=False).shape == (0,)


def test_episode_weights_per_variant():
    from rlhf_utils.policy_gradient import Episode, ValueNet

    episodes = [
        Episode(torch.zeros(2, 4), torch.zeros(2, dtype=torch.int64), [1.0, 1.0], truncated=False),
        Episode(torch.ones(1, 4), torch.zeros(1, dtype=torch.int64), [1.0], truncated=True),
    ]
    w, g = episode_weights(episodes, "vanilla", 1.0)
    assert w.tolist() == [2.0, 2.0, 1.0] and g.tolist() == [2.0, 1.0, 1.0]
    w, _ = episode_weights(episodes, "reward_to_go", 1.0)
    assert w.tolist() == [2.0, 1.0, 1.0]
    value = ValueNet(4)
    w, g = episode_weights(episodes, "baseline", 1.0, value)
    expected = g - value(torch.cat([e.observations for e in episodes])).detach()
    assert torch.allclose(w, expected)
    with pytest.raises(ValueError, match="value_net"):
        episode_weights(episodes, "baseline", 1.0)


def test_scale_by_rms_keeps_signs_and_ratios():
    # rms of (3, -4) is sqrt((9 + 16) / 2) = sqrt(12.5)
    out = scale_by_rms(torch.tensor([3.0, -4.0]))
    assert torch.allclose(out, torch.tensor([3.0, -4.0]) / 12.5**0.5)
    assert torch.allclose(scale_by_rms(torch.full((4,), 7.0)), torch.ones(4))  # all equal: no blow-up
    assert torch.allclose(out.pow(2).mean(), torch.tensor(1.0))


# --- the REINFORCE loss on a two-armed bandit -------------------------------------------------
REWARDS = torch.tensor([1.0, 3.0])  # r(arm 0), r(arm 1)


def analytic_policy_gradient(theta: torch.Tensor) -> torch.Tensor:
    """grad J = sum_a pi(a) grad log pi(a) r(a); for a softmax, grad_theta log pi(a) = onehot(a) - pi."""
    pi = torch.softmax(theta, 0)
    return sum(pi[a] * (torch.eye(2)[a] - pi) * REWARDS[a] for a in range(2))


def test_reinforce_loss_gradient_matches_policy_gradient_exactly():
    theta = torch.tensor([0.3, -0.2], requires_grad=True)
    logp = torch.log_softmax(theta, 0)
    pi = logp.exp().detach()
    # Expectation over actions, computed exactly: each action's one-sample loss weighted by pi(a).
    expected_loss = sum(pi[a] * reinforce_loss(logp[a : a + 1], REWARDS[a : a + 1]) for a in range(2))
    expected_loss.backward()
    assert torch.allclose(-theta.grad, analytic_policy_gradient(theta.detach()), atol=1e-6)
    # And the gradient of J itself: J = sum_a pi(a) r(a).
    theta2 = theta.detach().clone().requires_grad_(True)
    (torch.softmax(theta2, 0) * REWARDS).sum().backward()
    assert torch.allclose(-theta.grad, theta2.grad, atol=1e-6)


def test_reinforce_loss_gradient_monte_carlo():
    torch.manual_seed(0)
    theta = torch.tensor([0.5, -0.5], requires_grad=True)
    dist = torch.distributions.Categorical(logits=theta)
    actions = dist.sample((200_000,))
    loss = reinforce_loss(dist.log_prob(actions), REWARDS[actions])
    loss.backward()
    assert torch.allclose(-theta.grad, analytic_policy_gradient(theta.detach()), atol=5e-3)


def test_baseline_leaves_expected_gradient_unchanged():
    theta = torch.tensor([0.3, -0.2], requires_grad=True)
    logp = torch.log_softmax(theta, 0)
    pi = logp.exp().detach()
    baseline = 2.5
    loss = sum(pi[a] * reinforce_loss(logp[a : a + 1], REWARDS[a : a + 1] - baseline) for a in range(2))
    loss.backward()
    assert torch.allclose(-theta.grad, analytic_policy_gradient(theta.detach()), atol=1e-6)


def test_reinforce_loss_treats_weights_as_constants():
    logp = torch.log_softmax(torch.randn(5, 2, requires_grad=True), -1)[:, 0]
    weights = torch.randn(5, requires_grad=True)
    reinforce_loss(logp, weights).backward()
    assert weights.grad is None


def test_reinforce_loss_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        reinforce_loss(torch.zeros(3), torch.zeros(4))


# --- the trainer --------------------------------------------------------------------------------
def test_unknown_variant_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        train_reinforce(variant="actor_critic", max_env_steps=10)
    for v in VARIANTS:
        assert repr(v) in str(info.value)


def test_unknown_hyperparameter():
    with pytest.raises(TypeError, match="policy_lr"):
        train_reinforce(max_env_steps=10, learning_rate=0.1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_train_reinforce_short_run(variant):
    result = train_reinforce(seed=3, max_env_steps=1_500, variant=variant, episodes_per_update=4)
    assert isinstance(result, ReinforceResult)
    assert isinstance(result.policy, PolicyNet)
    assert result.episode_end_steps[-1] >= 1_500
    # CartPole pays 1 per step, so each episode's return is the steps between episode ends.
    steps = np.diff([0, *result.episode_end_steps])
    assert steps.tolist() == result.episode_returns
    assert (result.value_net is not None) == (variant == "baseline")
    assert result.wall_seconds > 0


def test_train_reinforce_same_seed_same_result():
    a = train_reinforce(seed=5, max_env_steps=2_000, episodes_per_update=4)
    b = train_reinforce(seed=5, max_env_steps=2_000, episodes_per_update=4)
    c = train_reinforce(seed=6, max_env_steps=2_000, episodes_per_update=4)
    assert a.episode_returns == b.episode_returns
    assert a.episode_returns != c.episode_returns
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.equal(p, q)


def test_evaluate_policy_is_repeatable():
    torch.manual_seed(0)
    policy = PolicyNet(4, 2)
    scores = evaluation_returns(policy, n_episodes=3, seed=7)
    assert len(scores) == 3 and all(1 <= s <= 500 for s in scores)
    assert evaluation_returns(policy, n_episodes=3, seed=7) == scores  # greedy + fixed seeds: deterministic


# --- plotting -------------------------------------------------------------------------------------
def test_rolling_mean_hand_computed():
    assert rolling_mean([1, 2, 3, 4], 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    assert rolling_mean([4, 2], 10).tolist() == [4.0, 3.0]
    with pytest.raises(ValueError):
        rolling_mean([1.0], 0)


def test_curve_on_grid_uses_the_last_finished_episode():
    out = curve_on_grid([10, 20, 30], [1, 2, 3], [0, 10, 15, 30, 40], window=2)
    assert np.isnan(out[0])
    assert out[1:].tolist() == [1.0, 1.0, 2.5, 2.5]


def test_plot_learning_curves_accepts_results_and_pairs():
    fake = ReinforceResult(episode_returns=[1.0, 2.0], episode_end_steps=[1, 3], policy=PolicyNet(4, 2), wall_seconds=0.0)
    ax = plot_learning_curves({"a": [fake, ([2, 4], [2.0, 2.0])], "b": [([1, 5], [1.0, 4.0])]}, target=2, band="minmax")
    assert len(ax.get_lines()) == 3  # two curves and the target line
    assert ax.get_xlabel() == "environment steps"
    with pytest.raises(ValueError, match="band"):
        plot_learning_curves({"a": [fake]}, band="wide")
