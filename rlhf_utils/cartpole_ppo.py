"""PPO on vectorised CartPole-v1, in one readable training loop (notebook 02, the benchmark).

The loop runs top to bottom in the order the algorithm does, CleanRL style: collect a rollout from
``num_envs`` CartPoles at once, compute GAE advantages, then run ``update_epochs`` passes of
minibatch updates of the clipped PPO loss. The task-independent pieces (GAE, the losses, the
diagnostics) come from :mod:`rlhf_utils.ppo`.

Two gymnasium 1.x details matter and are handled in :func:`collect_rollout`:

- **Auto-reset on the next step.** ``gym.make_vec("CartPole-v1", vectorization_mode=
  "vector_entry_point")`` (a single NumPy-vectorised environment, far faster than N Python ones)
  resets a finished episode on the *following* call to ``step``: the step where the episode ends
  returns its last observation, and the next call ignores the action, returns the first
  observation of a new episode, reward 0 and no flags. That call is not a transition, so it is
  recorded with ``mask=False`` and never learned from.
- **Truncation is not termination.** CartPole-v1 stops an episode at 500 steps. That time limit is
  not part of the state, so the value there is *not* zero: GAE bootstraps from V(final observation),
  which, thanks to the point above, is just the value of the next recorded observation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from .plotting import rolling_mean
from .policy_gradient import single_thread
from .ppo import clipped_surrogate_loss, entropy_bonus, gae, normalize_advantages, ppo_diagnostics, value_loss

__all__ = [
    "Agent",
    "PPOConfig",
    "PPOResult",
    "Rollout",
    "collect_rollout",
    "evaluate",
    "first_step_reaching",
    "make_envs",
    "ppo_update",
    "train_ppo",
]


@dataclass
class PPOConfig:
    """Every knob of the CartPole PPO.

    The defaults start from the RL zoo's tuned CartPole-v1 settings (8 envs x 32 steps, 20 epochs on
    one minibatch, linear decay of the learning rate and of ε) and were tuned on seeds 0-9 only (the
    benchmark uses other seeds): a 5x larger learning rate, γ = 0.99, λ = 0.9, ReLU.
    """

    seed: int = 0
    """Seeds torch's global generator (network init, action sampling) and the environments."""
    total_steps: int = 100_000
    """Environment steps to train for (``num_envs`` per call to ``step``, auto-reset calls included)."""
    num_envs: int = 8
    """CartPoles run side by side in one vectorised environment."""
    num_steps: int = 32
    """Steps per environment in one rollout; a rollout holds ``num_envs * num_steps`` steps."""
    learning_rate: float = 5e-3
    """Adam's step size at the start of training."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over ``total_steps``."""
    gamma: float = 0.99
    """Discount factor γ."""
    gae_lambda: float = 0.9
    """GAE's λ: 0 = one-step TD advantages (low variance, biased), 1 = Monte-Carlo returns (high variance)."""
    update_epochs: int = 20
    """Passes over each rollout."""
    num_minibatches: int = 1
    """Minibatches per pass; each rollout is shuffled and split into this many."""
    norm_adv: bool = True
    """Normalise the rollout's advantages to mean 0, std 1 before the update."""
    clip_coef: float | None = 0.2
    """PPO's ε: the ratio π_θ/π_θ_old is clipped to [1 − ε, 1 + ε]. ``None`` = no clipping."""
    anneal_clip: bool = True
    """Decay ε linearly to 0 with the learning rate (as the RL zoo's CartPole setting does)."""
    vf_clip_coef: float | None = None
    """Clip the value update to ±this around the rollout's values (value clipping). ``None`` = off."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus in the loss."""
    vf_coef: float = 0.5
    """Weight of the value loss in the loss."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this."""
    hidden: int = 64
    """Width of the two hidden layers of both the actor and the critic."""
    activation: str = "relu"
    """Hidden-layer nonlinearity: "relu" (cheaper to compute) or "tanh"."""
    progress: bool = False
    """Show a tqdm progress bar with the recent mean return."""


ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class Agent(nn.Module):
    """Separate actor (policy logits) and critic (state value) MLPs, two hidden layers each, orthogonally initialised."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 64, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
        act = ACTIVATIONS[activation]

        def layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
            linear = nn.Linear(n_in, n_out)
            nn.init.orthogonal_(linear.weight, gain)
            nn.init.zeros_(linear.bias)
            return linear

        root2 = float(np.sqrt(2))
        self.actor = nn.Sequential(
            layer(obs_dim, hidden, root2), act(), layer(hidden, hidden, root2), act(),
            layer(hidden, n_actions, 0.01),  # near-uniform policy at the start
        )
        self.critic = nn.Sequential(
            layer(obs_dim, hidden, root2), act(), layer(hidden, hidden, root2), act(),
            layer(hidden, 1, 1.0),
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, value)`` for a batch of observations."""
        return self.actor(obs), self.critic(obs).squeeze(-1)


@dataclass
class Rollout:
    """One rollout, every tensor ``(num_envs, num_steps)`` (observations add a last axis)."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    dones: torch.Tensor
    mask: torch.Tensor
    """False on auto-reset calls, which are not transitions."""
    next_values: torch.Tensor
    """V of the observation after each step (the final observation when an episode ended there)."""


@dataclass
class EnvState:
    """What carries over from one rollout to the next."""

    obs: np.ndarray
    prev_done: np.ndarray
    """True where the last step ended an episode, so this env's next ``step`` is an auto-reset."""
    episode_return: np.ndarray
    global_step: int = 0
    episode_returns: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    episode_end_seconds: list[float] = field(default_factory=list)
    start_time: float = field(default_factory=time.perf_counter)


def make_envs(num_envs: int, seed: int, max_episode_steps: int = 500) -> tuple[gym.vector.VectorEnv, EnvState]:
    """``num_envs`` CartPole-v1 in one NumPy-vectorised environment, reset with ``seed``.

    ``max_episode_steps`` is the time limit (500 for CartPole-v1; tests shorten it).
    """
    envs = gym.make_vec(
        "CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point", max_episode_steps=max_episode_steps
    )
    obs, _ = envs.reset(seed=seed)
    state = EnvState(obs=obs, prev_done=np.zeros(num_envs, dtype=bool), episode_return=np.zeros(num_envs))
    return envs, state


def collect_rollout(envs: gym.vector.VectorEnv, agent: Agent, state: EnvState, num_steps: int) -> Rollout:
    """Run the policy for ``num_steps`` steps in every environment; record episodes in ``state``."""
    n = state.obs.shape[0]
    obs_buf = torch.zeros((num_steps + 1, n, state.obs.shape[1]))
    actions = torch.zeros((num_steps, n), dtype=torch.long)
    logprobs = torch.zeros((num_steps, n))
    rewards = np.zeros((num_steps, n), dtype=np.float32)
    terminated = np.zeros((num_steps, n), dtype=bool)
    truncated = np.zeros((num_steps, n), dtype=bool)
    mask = np.zeros((num_steps, n), dtype=bool)
    obs = state.obs
    with torch.inference_mode():
        for t in range(num_steps):
            obs_buf[t] = torch.from_numpy(obs)
            logits = agent.actor(obs_buf[t])
            logp_all = torch.log_softmax(logits, dim=-1)
            action = torch.multinomial(logp_all.exp(), 1)
            actions[t] = action.squeeze(1)
            logprobs[t] = logp_all.gather(1, action).squeeze(1)
            mask[t] = ~state.prev_done  # an auto-reset call is not a transition
            obs, rewards[t], terminated[t], truncated[t], _ = envs.step(actions[t].numpy())
            done = terminated[t] | truncated[t]
            state.global_step += n
            state.episode_return += rewards[t]
            for i in np.flatnonzero(done):
                state.episode_returns.append(float(state.episode_return[i]))
                state.episode_end_steps.append(state.global_step)
                state.episode_end_seconds.append(time.perf_counter() - state.start_time)
            state.episode_return[done] = 0.0
            state.prev_done = done
        obs_buf[num_steps] = torch.from_numpy(obs)
        # one critic call for all observations: V(s_t) and, shifted by one, V(s_{t+1})
        all_values = agent.critic(obs_buf).squeeze(-1)
    state.obs = obs

    def bt(x: np.ndarray | torch.Tensor) -> torch.Tensor:  # (time, batch) -> (batch, time)
        return torch.as_tensor(x).T.contiguous()

    return Rollout(
        obs=obs_buf[:num_steps].transpose(0, 1).contiguous(),
        actions=bt(actions), logprobs=bt(logprobs),
        values=bt(all_values[:num_steps]), next_values=bt(all_values[1:]),
        rewards=bt(rewards), terminated=bt(terminated), dones=bt(terminated | truncated), mask=bt(mask),
    )


def ppo_update(
    agent: Agent, optimizer: torch.optim.Optimizer, rollout: Rollout, advantages: torch.Tensor,
    returns: torch.Tensor, config: PPOConfig, clip_coef: float | None,
) -> dict[str, float]:
    """``update_epochs`` passes of minibatch gradient steps on the PPO loss; returns diagnostics.

    Only the real transitions (``rollout.mask``) are learned from. Advantages are normalised once
    over the whole rollout (with one minibatch this is the same as per-minibatch normalisation).
    """
    valid = rollout.mask
    b_obs, b_actions = rollout.obs[valid], rollout.actions[valid]
    b_logprobs, b_values, b_returns = rollout.logprobs[valid], rollout.values[valid], returns[valid]
    b_advantages = normalize_advantages(advantages[valid]) if config.norm_adv else advantages[valid]
    batch_size = b_obs.shape[0]
    for _ in range(config.update_epochs):
        if config.num_minibatches == 1:
            minibatches = [slice(None)]  # the whole rollout: no need to shuffle
        else:
            minibatches = torch.randperm(batch_size).chunk(config.num_minibatches)
        for idx in minibatches:
            logits, new_values = agent(b_obs[idx])
            new_logprobs = torch.log_softmax(logits, dim=-1).gather(1, b_actions[idx, None]).squeeze(1)
            pg_loss = clipped_surrogate_loss(new_logprobs, b_logprobs[idx], b_advantages[idx], clip_eps=clip_coef)
            v_loss = value_loss(new_values, b_values[idx], b_returns[idx], clip_eps=config.vf_clip_coef)
            loss = pg_loss + config.vf_coef * v_loss
            if config.ent_coef:
                loss = loss - config.ent_coef * entropy_bonus(logits)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
    with torch.no_grad():
        stats = ppo_diagnostics(
            new_logprobs, b_logprobs[idx], b_values, b_returns,
            clip_eps=clip_coef if clip_coef is not None else 0.2,
        )
        stats.update(policy_loss=pg_loss.item(), value_loss=v_loss.item(), entropy=entropy_bonus(logits).item())
    return stats


@dataclass
class PPOResult:
    """What :func:`train_ppo` returns (same first fields as REINFORCE's result, for shared plots)."""

    episode_returns: list[float]
    """Return of every finished training episode, in the order they finished."""
    episode_end_steps: list[int]
    """Global environment step at which each of those episodes finished."""
    episode_end_seconds: list[float]
    """Wall seconds since the start of training at which each of those episodes finished."""
    agent: Agent
    wall_seconds: float
    """Training time (environment creation included, evaluation excluded)."""
    history: list[dict[str, float]]
    """Per update: global_step, learning_rate, clip_coef and the diagnostics of :func:`ppo_update`."""
    config: PPOConfig


def train_ppo(config: PPOConfig | None = None, **overrides: object) -> PPOResult:
    """Train PPO on CartPole-v1 with ``config`` (fields can also be overridden by keyword).

    Runs torch on one thread (the networks are tiny; threads only add overhead). Same seed, same result.
    """
    config = PPOConfig(**{**(config.__dict__ if config else {}), **overrides})
    with single_thread():
        return _train(config)


def _train(config: PPOConfig) -> PPOResult:
    torch.manual_seed(config.seed)
    envs, state = make_envs(config.num_envs, config.seed)
    start = state.start_time
    agent = Agent(hidden=config.hidden, activation=config.activation)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
    steps_per_rollout = config.num_envs * config.num_steps
    num_updates = max(1, config.total_steps // steps_per_rollout)
    history: list[dict[str, float]] = []
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_updates * steps_per_rollout, unit="step", desc=f"PPO seed {config.seed}")
    for update in range(num_updates):
        frac = 1.0 - update / num_updates  # linear annealing: 1 -> 1/num_updates
        lr = config.learning_rate * frac if config.anneal_lr else config.learning_rate
        optimizer.param_groups[0]["lr"] = lr
        clip_coef = config.clip_coef
        if clip_coef is not None and config.anneal_clip:
            clip_coef *= frac
        rollout = collect_rollout(envs, agent, state, config.num_steps)
        advantages, returns = gae(
            rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.dones,
            gamma=config.gamma, lam=config.gae_lambda, mask=rollout.mask,
        )
        stats = ppo_update(agent, optimizer, rollout, advantages, returns, config, clip_coef)
        history.append({"global_step": state.global_step, "learning_rate": lr, "clip_coef": clip_coef or 0.0, **stats})
        if bar is not None:
            bar.update(steps_per_rollout)
            if state.episode_returns:
                bar.set_postfix(mean_return_20=f"{np.mean(state.episode_returns[-20:]):.0f}")
    if bar is not None:
        bar.close()
    envs.close()
    return PPOResult(
        episode_returns=state.episode_returns, episode_end_steps=state.episode_end_steps,
        episode_end_seconds=state.episode_end_seconds, agent=agent,
        wall_seconds=time.perf_counter() - start, history=history, config=config,
    )


def evaluate(agent: Agent, n_episodes: int = 10, seed: int = 10_000, greedy: bool = True) -> list[float]:
    """Returns of ``n_episodes`` fresh episodes (run side by side, one per environment)."""
    envs, state = make_envs(n_episodes, seed)
    finished = np.zeros(n_episodes, dtype=bool)
    returns = np.zeros(n_episodes)
    obs = state.obs
    with torch.inference_mode():
        while not finished.all():
            logits = agent.actor(torch.from_numpy(obs))
            if greedy:
                action = logits.argmax(-1)
            else:
                action = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
            obs, reward, terminated, truncated, _ = envs.step(action.numpy())
            returns += reward * ~finished
            finished |= terminated | truncated
    envs.close()
    return returns.tolist()


def first_step_reaching(
    episode_returns: list[float], episode_end_steps: list[int], threshold: float = 475.0, window: int = 20
) -> int | None:
    """First environment step at which the mean of the last ``window`` finished episodes ≥ ``threshold``.

    Only full windows count (the first ``window - 1`` episodes cannot trigger it); ``None`` if never.
    """
    means = rolling_mean(episode_returns, window)[window - 1 :]
    hits = np.flatnonzero(means >= threshold)
    return None if len(hits) == 0 else int(episode_end_steps[hits[0] + window - 1])
