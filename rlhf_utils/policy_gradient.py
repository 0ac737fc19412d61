"""REINFORCE on CartPole: returns, the policy-gradient loss, small networks and a trainer.

Notebook 01 builds these pieces by hand and checks them against this module; notebook 02 calls
:func:`train_reinforce` to put REINFORCE next to PPO on the same axes.

The estimator (Williams, 1992), for a batch of ``N`` episodes with ``T_i`` steps each::

    grad J(theta) ~= (1 / sum_i T_i) * sum_i sum_t grad log pi_theta(a_t | s_t) * Psi_t

with ``Psi_t`` one of three weights (the ``variant`` of :func:`train_reinforce`):

- ``"vanilla"``: the whole episode's return ``R(tau) = sum_k gamma^k r_k`` at every step;
- ``"reward_to_go"``: the return from step ``t`` on, ``G_t = sum_{k>=t} gamma^(k-t) r_k``;
- ``"baseline"``: reward-to-go minus a learned value, ``G_t - V_phi(s_t)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields

import gymnasium as gym
import numpy as np
import torch
from torch import nn

VARIANTS: tuple[str, ...] = ("vanilla", "reward_to_go", "baseline")
"""The REINFORCE variants :func:`train_reinforce` knows."""


# ---------------------------------------------------------------------------------------------
# Returns and weights
# ---------------------------------------------------------------------------------------------
def discounted_returns(rewards: Sequence[float] | torch.Tensor, gamma: float) -> torch.Tensor:
    """The discounted return from every step of one episode (the *reward-to-go*).

    ``G_t = r_t + gamma * r_{t+1} + gamma^2 * r_{t+2} + ... = r_t + gamma * G_{t+1}``, computed
    backwards in one pass; ``G_0`` is the return of the whole episode. Returns a float32 tensor
    with the same length as ``rewards``.
    """
    if isinstance(rewards, torch.Tensor):
        if rewards.ndim != 1:
            raise ValueError(f"rewards must be 1-D (one episode), got shape {tuple(rewards.shape)}")
        rewards = rewards.tolist()
    returns = [0.0] * len(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = float(rewards[t]) + gamma * running
        returns[t] = running
    return torch.tensor(returns, dtype=torch.float32)


def reward_to_go(rewards: Sequence[float] | torch.Tensor, gamma: float, *, causal: bool = True) -> torch.Tensor:
    """The REINFORCE weight ``Psi_t`` of every step of one episode (before any baseline).

    ``causal=True`` (the reward-to-go trick): ``Psi_t = G_t``, only the rewards that come *after*
    the action. ``causal=False`` (vanilla REINFORCE): ``Psi_t = R(tau) = G_0`` at every step, so an
    action is also credited with rewards that came before it.
    """
    returns = discounted_returns(rewards, gamma)
    if causal or len(returns) == 0:
        return returns
    return returns[0].expand(len(returns)).clone()


def scale_by_rms(weights: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``weights / sqrt(mean(weights^2))``: a unit-scale copy that keeps every sign and ratio.

    Unlike standardising (subtracting the mean), this adds no baseline, so the variants stay
    what their names say; unlike dividing by the std, it is safe when all weights are equal.
    """
    return weights / (weights.pow(2).mean().sqrt() + eps)


def reinforce_loss(logprobs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The REINFORCE surrogate loss, whose gradient is minus the policy-gradient estimate.

    ``loss = -mean_t log pi_theta(a_t|s_t) * Psi_t``, so that
    ``-grad loss = mean_t grad log pi_theta(a_t|s_t) * Psi_t ~= grad J(theta)``.
    ``weights`` (``Psi_t``: returns, reward-to-go or advantages) are treated as constants: no gradient
    flows into them (a learned baseline is trained by its own loss).
    """
    if logprobs.shape != weights.shape:
        raise ValueError(
            f"logprobs and weights must have the same shape, got {tuple(logprobs.shape)} and {tuple(weights.shape)}"
        )
    return -(logprobs * weights.detach()).mean()


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def mlp(in_dim: int, out_dim: int, hidden: int = 64, n_hidden_layers: int = 1) -> nn.Sequential:
    """A small tanh MLP: ``in_dim -> hidden (x n_hidden_layers) -> out_dim``."""
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(n_hidden_layers):
        layers += [nn.Linear(size, hidden), nn.Tanh()]
        size = hidden
    layers.append(nn.Linear(size, out_dim))
    return nn.Sequential(*layers)


class PolicyNet(nn.Module):
    """A categorical policy ``pi_theta(a|s)``: an MLP from the observation to one logit per action."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64, n_hidden_layers: int = 1):
        super().__init__()
        self.net = mlp(obs_dim, n_actions, hidden, n_hidden_layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(..., n_actions)``."""
        return self.net(obs)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Categorical:
        """``pi_theta(. | obs)`` as a torch distribution (``.sample()``, ``.log_prob(a)``)."""
        return torch.distributions.Categorical(logits=self(obs))

    @torch.no_grad()
    def act(self, obs: np.ndarray, greedy: bool = False) -> int:
        """One action for one observation: sampled, or the most likely one when ``greedy``."""
        logits = self(torch.as_tensor(obs, dtype=torch.float32))
        if greedy:
            return int(logits.argmax())
        return int(torch.distributions.Categorical(logits=logits).sample())


class ValueNet(nn.Module):
    """A state-value estimate ``V_phi(s)``, the learned baseline."""

    def __init__(self, obs_dim: int, hidden: int = 64, n_hidden_layers: int = 1):
        super().__init__()
        self.net = mlp(obs_dim, 1, hidden, n_hidden_layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Values, shape ``obs.shape[:-1]``."""
        return self.net(obs).squeeze(-1)


# ---------------------------------------------------------------------------------------------
# Collecting episodes
# ---------------------------------------------------------------------------------------------
@dataclass
class Episode:
    """One finished episode: what the agent saw, did and got."""

    observations: torch.Tensor
    """``(T, obs_dim)`` float32, the states ``s_0 .. s_{T-1}`` in which actions were taken."""
    actions: torch.Tensor
    """``(T,)`` int64, the actions ``a_0 .. a_{T-1}``."""
    rewards: list[float]
    """``r_0 .. r_{T-1}``."""
    truncated: bool
    """True when the time limit (not a terminal state) ended it."""

    @property
    def total_reward(self) -> float:
        """The undiscounted return, CartPole's score (the number of steps balanced)."""
        return float(sum(self.rewards))


@torch.no_grad()
def collect_episodes(envs: Sequence[gym.Env], policy: nn.Module) -> list[Episode]:
    """Play one episode in each of ``envs``, side by side, sampling actions from ``policy``.

    ``policy`` maps a batch of observations to action logits (a :class:`PolicyNet`). The envs step
    in lockstep so the policy runs once per step on a batch of observations (much faster than one
    env at a time). An episode ends at ``terminated`` *or* ``truncated`` (the 500-step limit of
    CartPole-v1): REINFORCE treats both as the end of the episode. Seed the envs once with
    ``env.reset(seed=...)`` beforehand; here each reset continues the env's own random stream.
    """
    current = [env.reset()[0] for env in envs]
    obs_buf: list[list[np.ndarray]] = [[] for _ in envs]
    act_buf: list[list[int]] = [[] for _ in envs]
    rew_buf: list[list[float]] = [[] for _ in envs]
    truncated = [False] * len(envs)
    active = list(range(len(envs)))
    while active:
        obs = torch.as_tensor(np.stack([current[i] for i in active]), dtype=torch.float32)
        probs = torch.softmax(policy(obs), dim=-1)
        actions = torch.multinomial(probs, 1).squeeze(1).tolist()  # a_t ~ pi(.|s_t), one per env
        still_active = []
        for i, action in zip(active, actions, strict=True):
            obs_buf[i].append(current[i])
            act_buf[i].append(action)
            current[i], reward, terminated, trunc, _ = envs[i].step(action)
            rew_buf[i].append(float(reward))
            if terminated or trunc:
                truncated[i] = bool(trunc and not terminated)
            else:
                still_active.append(i)
        active = still_active
    return [
        Episode(
            observations=torch.as_tensor(np.stack(obs_buf[i]), dtype=torch.float32),
            actions=torch.as_tensor(act_buf[i], dtype=torch.int64),
            rewards=rew_buf[i],
            truncated=truncated[i],
        )
        for i in range(len(envs))
    ]


@torch.no_grad()
def evaluation_returns(
    policy: PolicyNet, n_episodes: int = 10, seed: int = 10_000, greedy: bool = True, env_id: str = "CartPole-v1"
) -> list[float]:
    """Undiscounted return of ``n_episodes`` episodes (seeds ``seed, seed+1, ...``).

    ``greedy=True`` takes the most likely action at every step (the deterministic policy a
    deployed agent would use); ``False`` samples from the policy as in training.
    """
    env = gym.make(env_id)
    scores = []
    with single_thread():
        for k in range(n_episodes):
            obs, _ = env.reset(seed=seed + k)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.act(obs, greedy=greedy))
                total += float(reward)
                done = terminated or truncated
            scores.append(total)
    env.close()
    return scores


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
@dataclass
class ReinforceConfig:
    """Hyperparameters of :func:`train_reinforce` (pass any of them as keyword arguments)."""

    env_id: str = "CartPole-v1"
    """Gymnasium environment id (discrete actions)."""
    gamma: float = 0.99
    """Discount factor of the returns."""
    episodes_per_update: int = 8
    """Episodes collected (side by side) per gradient step; more = less noisy, fewer updates."""
    policy_lr: float = 2e-2
    """Adam learning rate of the policy."""
    value_lr: float = 1e-2
    """Adam learning rate of the value baseline (variant ``"baseline"`` only)."""
    value_epochs: int = 5
    """Regression steps of the value net on each batch's returns."""
    hidden: int = 64
    """Width of the policy's (and value net's) hidden layer."""
    scale_weights: bool = True
    """Divide each batch's weights Psi_t by their root mean square, so the step size does not depend
    on the reward scale (signs and ratios are kept: this adds no baseline)."""


@dataclass
class ReinforceResult:
    """What :func:`train_reinforce` returns."""

    episode_returns: list[float]
    """Undiscounted return of every training episode, in the order they finished."""
    episode_end_steps: list[int]
    """Cumulative environment steps when each episode finished (the x-axis of learning curves)."""
    policy: PolicyNet
    """The trained policy."""
    wall_seconds: float
    """Wall-clock time of the training run."""
    variant: str = "baseline"
    seed: int = 0
    config: dict = field(default_factory=dict)
    """The hyperparameters used (:class:`ReinforceConfig` as a dict)."""
    value_net: ValueNet | None = None
    """The learned baseline (variant ``"baseline"``), else ``None``."""


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (then restore the setting).

    These networks are tiny: a forward pass takes microseconds, and splitting it over threads
    costs more than it saves - on a busy 2-core machine a training run was 10x slower with 2 threads.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _make_config(hyperparameters: dict) -> ReinforceConfig:
    known = {f.name for f in fields(ReinforceConfig)}
    unknown = sorted(set(hyperparameters) - known)
    if unknown:
        raise TypeError(f"Unknown hyperparameter(s) {unknown}. Valid ones: {sorted(known)}.")
    return ReinforceConfig(**hyperparameters)


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"Unknown REINFORCE variant {variant!r}. Valid variants: {', '.join(map(repr, VARIANTS))}.")


def episode_weights(
    episodes: Sequence[Episode], variant: str, gamma: float, value_net: ValueNet | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights ``Psi_t`` of every step of a batch (flattened) and the reward-to-go targets.

    Returns ``(weights, returns)``: ``returns`` are ``G_t`` (the value net's regression targets),
    ``weights`` are ``R(tau)``, ``G_t`` or ``G_t - V(s_t)`` for the variants ``"vanilla"``,
    ``"reward_to_go"``, ``"baseline"``.
    """
    _check_variant(variant)
    returns = torch.cat([discounted_returns(ep.rewards, gamma) for ep in episodes])
    if variant == "vanilla":
        weights = torch.cat([reward_to_go(ep.rewards, gamma, causal=False) for ep in episodes])
    elif variant == "reward_to_go":
        weights = returns
    else:
        if value_net is None:
            raise ValueError('variant "baseline" needs a value_net')
        with torch.no_grad():
            values = value_net(torch.cat([ep.observations for ep in episodes]))
        weights = returns - values
    return weights, returns


def train_reinforce(
    seed: int = 0, max_env_steps: int = 100_000, variant: str = "baseline", progress: bool = False, **hyperparameters
) -> ReinforceResult:
    """Train a REINFORCE agent (default on CartPole-v1) for about ``max_env_steps`` environment steps.

    ``variant``: ``"vanilla"`` (weights ``R(tau)``), ``"reward_to_go"`` (``G_t``) or ``"baseline"``
    (``G_t - V_phi(s_t)``, reward-to-go with a learned value baseline). Every update collects
    ``episodes_per_update`` whole episodes and takes one Adam step on
    :func:`reinforce_loss`; training stops after the update that crosses ``max_env_steps``.
    ``hyperparameters`` are fields of :class:`ReinforceConfig`. Same seed, same result.
    ``progress=True`` shows a tqdm bar over environment steps.
    """
    _check_variant(variant)
    cfg = _make_config(hyperparameters)
    with single_thread():
        return _train(seed, max_env_steps, variant, progress, cfg)


def _train(seed: int, max_env_steps: int, variant: str, progress: bool, cfg: ReinforceConfig) -> ReinforceResult:
    start = time.perf_counter()
    torch.manual_seed(seed)
    envs = [gym.make(cfg.env_id) for _ in range(cfg.episodes_per_update)]
    for i, env in enumerate(envs):
        env.reset(seed=seed * 1000 + i)  # seed each env once; later resets continue its stream
    obs_dim = envs[0].observation_space.shape[0]
    n_actions = envs[0].action_space.n
    policy = PolicyNet(obs_dim, n_actions, cfg.hidden)
    policy_opt = torch.optim.Adam(policy.parameters(), lr=cfg.policy_lr)
    value_net = ValueNet(obs_dim, cfg.hidden) if variant == "baseline" else None
    value_opt = torch.optim.Adam(value_net.parameters(), lr=cfg.value_lr) if value_net is not None else None

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_env_steps, desc=f"REINFORCE ({variant}, seed {seed})", unit="step")
    episode_returns: list[float] = []
    episode_end_steps: list[int] = []
    steps = 0
    while steps < max_env_steps:
        episodes = collect_episodes(envs, policy)
        for ep in episodes:
            steps += len(ep.rewards)
            episode_returns.append(ep.total_reward)
            episode_end_steps.append(steps)
        weights, returns = episode_weights(episodes, variant, cfg.gamma, value_net)
        if cfg.scale_weights:
            weights = scale_by_rms(weights)

        obs = torch.cat([ep.observations for ep in episodes])
        actions = torch.cat([ep.actions for ep in episodes])
        logprobs = policy.distribution(obs).log_prob(actions)
        loss = reinforce_loss(logprobs, weights)
        policy_opt.zero_grad()
        loss.backward()
        policy_opt.step()

        if value_net is not None:
            for _ in range(cfg.value_epochs):
                value_loss = ((value_net(obs) - returns) ** 2).mean()
                value_opt.zero_grad()
                value_loss.backward()
                value_opt.step()
        if bar is not None:
            bar.update(min(steps, max_env_steps) - bar.n)
            bar.set_postfix(last_return=f"{np.mean([ep.total_reward for ep in episodes]):.0f}")
    if bar is not None:
        bar.close()
    for env in envs:
        env.close()
    return ReinforceResult(
        episode_returns=episode_returns,
        episode_end_steps=episode_end_steps,
        policy=policy,
        wall_seconds=time.perf_counter() - start,
        variant=variant,
        seed=seed,
        config=asdict(cfg),
        value_net=value_net,
    )
