"""Unit tests of the PPO pieces in `rlhf_utils.ppo`, against values computed by hand."""

import math

import pytest
import torch

from rlhf_utils import ppo

# ----------------------------------------------------------------------------- GAE
GAMMA, LAM = 0.9, 0.5


def _hand_trajectory():
    """Five steps: an episode that terminates at t=2, then one truncated by a time limit at t=4.

    With γ = 0.9, λ = 0.5 (γλ = 0.45), by hand:
        δ0 = 1 + 0.9·2 − 1 = 1.8      δ1 = 1 + 0.9·3 − 2 = 1.7      δ2 = 1 + 0 − 3 = −2.0 (terminal)
        δ3 = 1 + 0.9·5 − 4 = 1.5      δ4 = 1 + 0.9·6 − 5 = 1.4 (truncated: bootstrap from V = 6)
        Â4 = 1.4     Â3 = 1.5 + 0.45·1.4 = 2.13     Â2 = −2.0 (episode ended: nothing flows back)
        Â1 = 1.7 + 0.45·(−2.0) = 0.8                Â0 = 1.8 + 0.45·0.8 = 2.16
    """
    rewards = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0]])
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    next_values = torch.tensor([[2.0, 3.0, 7.0, 5.0, 6.0]])  # 7.0 follows a terminal step: must be ignored
    terminated = torch.tensor([[False, False, True, False, False]])
    dones = torch.tensor([[False, False, True, False, True]])
    advantages = torch.tensor([[2.16, 0.8, -2.0, 2.13, 1.4]])
    return rewards, values, next_values, terminated, dones, advantages


def test_gae_matches_hand_computation_with_terminal_and_truncation():
    rewards, values, next_values, terminated, dones, expected = _hand_trajectory()
    adv, ret = ppo.gae(rewards, values, next_values, terminated, dones, gamma=GAMMA, lam=LAM)
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)


def test_gae_truncation_bootstraps_but_termination_does_not():
    rewards, values, next_values, terminated, dones, _ = _hand_trajectory()
    # treating the time limit as a terminal state loses the γ·V(final) = 0.9·6 term at t=4
    wrong, _ = ppo.gae(rewards, values, next_values, dones, dones, gamma=GAMMA, lam=LAM)
    right, _ = ppo.gae(rewards, values, next_values, terminated, dones, gamma=GAMMA, lam=LAM)
    assert right[0, 4] - wrong[0, 4] == pytest.approx(0.9 * 6.0)
    # the value after the terminal step (7.0) never matters
    other = next_values.clone()
    other[0, 2] = 1e6
    again, _ = ppo.gae(rewards, values, other, terminated, dones, gamma=GAMMA, lam=LAM)
    torch.testing.assert_close(again, right)


def test_gae_masked_step_is_ignored_and_gets_zero_advantage():
    """A vector env's auto-reset step (masked) between the two episodes changes nothing else."""
    rewards, values, next_values, terminated, dones, expected = _hand_trajectory()
    nan = float("nan")
    insert = lambda x, v: torch.cat([x[:, :3], torch.tensor([[v]], dtype=x.dtype), x[:, 3:]], dim=1)  # noqa: E731
    mask = insert(torch.ones_like(dones), False)
    adv, ret = ppo.gae(
        insert(rewards, nan), insert(values, nan), insert(next_values, nan),
        insert(terminated, True), insert(dones, True), gamma=GAMMA, lam=LAM, mask=mask,
    )
    torch.testing.assert_close(adv[:, mask[0]], expected)
    assert adv[0, 3] == 0 and ret[0, 3] == 0


def test_gae_lambda_extremes():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    values = torch.tensor([[0.5, 0.25, 1.0]])
    next_values = torch.tensor([[0.25, 1.0, 0.0]])
    term = torch.tensor([[False, False, True]])
    one_step, _ = ppo.gae(rewards, values, next_values, term, term, gamma=0.5, lam=0.0)
    torch.testing.assert_close(one_step, rewards + 0.5 * next_values * (~term) - values)  # λ=0: the TD error
    monte_carlo, ret = ppo.gae(rewards, values, next_values, term, term, gamma=0.5, lam=1.0)
    discounted = torch.tensor([[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]])
    torch.testing.assert_close(ret, discounted)  # λ=1: Monte-Carlo returns
    torch.testing.assert_close(monte_carlo, discounted - values)


def test_gae_rows_are_independent():
    rewards, values, next_values, terminated, dones, expected = _hand_trajectory()
    stack = lambda x: torch.cat([x, x.flip(1)])  # noqa: E731
    adv, _ = ppo.gae(stack(rewards), stack(values), stack(next_values), stack(terminated), stack(dones),
                     gamma=GAMMA, lam=LAM)
    torch.testing.assert_close(adv[:1], expected)


# ----------------------------------------------------------------------------- normalisation
def test_normalize_advantages_ignores_masked_entries():
    adv = torch.tensor([[1.0, 2.0, 3.0, 1e9]])
    mask = torch.tensor([[True, True, True, False]])
    out = ppo.normalize_advantages(adv, mask)
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)  # sample std = 1


# ----------------------------------------------------------------------------- clipped surrogate
EPS = 0.2


def _ratio_case(ratios, advantages):
    old = torch.log(torch.tensor([0.5] * len(ratios)))
    new = (old + torch.log(torch.tensor(ratios))).requires_grad_(True)
    return new, old, torch.tensor(advantages)


def test_clipped_loss_value_on_known_tensors():
    new, old, adv = _ratio_case([1.5, 0.5, 1.1, 0.9], [1.0, -1.0, 2.0, -2.0])
    loss = ppo.clipped_surrogate_loss(new, old, adv, clip_eps=EPS)
    # min(rA, clip(r)A): min(1.5, 1.2)=1.2; min(-0.5, -0.8)=-0.8; min(2.2, 2.2)=2.2; min(-1.8, -1.8)=-1.8
    assert loss.item() == pytest.approx(-(1.2 - 0.8 + 2.2 - 1.8) / 4)
    unclipped = ppo.clipped_surrogate_loss(new, old, adv, clip_eps=None)
    assert unclipped.item() == pytest.approx(-(1.5 - 0.5 + 2.2 - 1.8) / 4)


@pytest.mark.parametrize(
    ("ratio", "advantage", "gradient_is_zero"),
    [
        (1.5, 1.0, True),  # r > 1+ε, A > 0: already pushed up enough - clipped, no gradient
        (0.5, -1.0, True),  # r < 1−ε, A < 0: already pushed down enough - clipped, no gradient
        (0.5, 1.0, False),  # r < 1−ε, A > 0: the min picks the unclipped term - gradient pulls it back
        (1.5, -1.0, False),  # r > 1+ε, A < 0: likewise
        (1.1, 1.0, False),  # inside the trust region: the ordinary policy gradient
    ],
)
def test_clipped_loss_gradient_corners(ratio, advantage, gradient_is_zero):
    new, old, adv = _ratio_case([ratio], [advantage])
    ppo.clipped_surrogate_loss(new, old, adv, clip_eps=EPS).backward()
    if gradient_is_zero:
        assert new.grad.item() == 0.0
    else:  # d(−r·A)/d log π = −r·A
        assert new.grad.item() == pytest.approx(-ratio * advantage)


def test_clipped_loss_masked_positions_contribute_nothing():
    new, old, adv = _ratio_case([1.1, 0.9, 1.0], [1.0, -2.0, 3.0])
    mask = torch.tensor([True, True, False])
    with torch.no_grad():  # garbage (NaN, huge) at the masked position
        new[2] = float("nan")
    adv[2] = 1e30
    loss = ppo.clipped_surrogate_loss(new, old, adv, clip_eps=EPS, mask=mask)
    loss.backward()
    assert loss.item() == pytest.approx(-(1.1 * 1.0 + 0.9 * -2.0) / 2)
    assert new.grad[2].item() == 0.0 and torch.isfinite(new.grad).all()


def test_clipped_loss_works_on_batch_time_tensors():
    new = torch.zeros(2, 3, requires_grad=True)
    old = torch.zeros(2, 3)
    adv = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    loss = ppo.clipped_surrogate_loss(new, old, adv, clip_eps=EPS, mask=mask)
    assert loss.item() == pytest.approx(-(1 + 2 + 4) / 3)


# ----------------------------------------------------------------------------- value loss, entropy
def test_value_loss_clipped_and_unclipped():
    values = torch.tensor([1.0, 3.0])
    old = torch.tensor([2.0, 2.0])
    returns = torch.tensor([0.0, 4.0])
    # clipped predictions: 2 + clip(−1, ±0.5) = 1.5 and 2 + 0.5 = 2.5 -> squared errors 2.25, 2.25 (> 1, 1)
    assert ppo.value_loss(values, old, returns, clip_eps=0.5).item() == pytest.approx(0.5 * 2.25)
    assert ppo.value_loss(values, old, returns, clip_eps=None).item() == pytest.approx(0.5 * 1.0)
    mask = torch.tensor([True, False])
    assert ppo.value_loss(values, old, returns, clip_eps=None, mask=mask).item() == pytest.approx(0.5)


def test_entropy_bonus():
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.25, 0.75]]]))
    h2 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert ppo.entropy_bonus(logits).item() == pytest.approx((math.log(2) + h2) / 2)
    mask = torch.tensor([[True, False]])
    assert ppo.entropy_bonus(logits, mask).item() == pytest.approx(math.log(2))


# ----------------------------------------------------------------------------- diagnostics
def test_diagnostics_on_known_inputs():
    new = torch.log(torch.tensor([0.5, 0.25]))
    old = torch.log(torch.tensor([0.25, 0.25]))  # ratios 2 and 1
    assert ppo.approx_kl(new, old).item() == pytest.approx((1 - math.log(2)) / 2)
    assert ppo.clip_fraction(new, old, clip_eps=0.2).item() == pytest.approx(0.5)
    values, returns = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0])
    # Var[R] = 14/9, Var[R − V] = 2/9  ->  1 − 1/7
    assert ppo.explained_variance(values, returns).item() == pytest.approx(6 / 7)
    assert ppo.explained_variance(returns, returns).item() == pytest.approx(1.0)
    assert math.isnan(ppo.explained_variance(values, torch.ones(3)).item())
    d = ppo.ppo_diagnostics(new, old, values[:2], returns[:2], clip_eps=0.2)
    assert set(d) == {"approx_kl", "clip_fraction", "explained_variance"}


def test_approx_kl_is_nonnegative_and_masked():
    torch.manual_seed(0)
    new, old = torch.randn(4, 6), torch.randn(4, 6)
    assert ppo.approx_kl(new, old).item() >= 0
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[0, 0] = True
    r = torch.exp(new[0, 0] - old[0, 0])
    assert ppo.approx_kl(new, old, mask).item() == pytest.approx((r - 1 - torch.log(r)).item(), rel=1e-5)


# ----------------------------------------------------------------------------- errors
def test_gae_shape_mismatch_says_what_was_expected():
    r, v, nv, term, done, _ = _hand_trajectory()
    with pytest.raises(ValueError, match=r"`values` has shape \(1, 4\).*expected every input to have shape \(1, 5\)"):
        ppo.gae(r, v[:, :4], nv, term, done, gamma=GAMMA, lam=LAM)
    with pytest.raises(ValueError, match=r"2-D \(batch, time\)"):
        ppo.gae(r[0], v[0], nv[0], term[0], done[0], gamma=GAMMA, lam=LAM)
    with pytest.raises(ValueError, match=r"`mask` has shape \(1, 3\); expected \(1, 5\)"):
        ppo.gae(r, v, nv, term, done, gamma=GAMMA, lam=LAM, mask=torch.ones(1, 3, dtype=torch.bool))


def test_dtype_errors_say_what_was_expected():
    r, v, nv, term, done, _ = _hand_trajectory()
    with pytest.raises(TypeError, match=r"`rewards` must be a floating-point tensor.*got dtype torch.int64"):
        ppo.gae(r.long(), v, nv, term, done, gamma=GAMMA, lam=LAM)
    with pytest.raises(TypeError, match=r"`advantages` must be a torch.Tensor"):
        ppo.clipped_surrogate_loss(torch.zeros(3), torch.zeros(3), [1.0, 2.0, 3.0], clip_eps=EPS)
    with pytest.raises(ValueError, match=r"`mask` must hold only 0/1"):
        ppo.masked_mean(torch.zeros(3), torch.tensor([0.0, 0.5, 1.0]))


def test_loss_shape_mismatch_says_what_was_expected():
    with pytest.raises(ValueError, match=r"`old_logprobs` has shape \(2, 3\) but `logprobs` has shape \(2, 4\)"):
        ppo.clipped_surrogate_loss(torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(2, 4), clip_eps=EPS)
    with pytest.raises(ValueError, match=r"`returns` has shape"):
        ppo.value_loss(torch.zeros(5), torch.zeros(5), torch.zeros(4), clip_eps=None)
    with pytest.raises(ValueError, match=r"without its last, action, axis"):
        ppo.entropy_bonus(torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))
