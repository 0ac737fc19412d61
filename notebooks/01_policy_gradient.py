# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Policy gradients and REINFORCE
#
# We teach a small neural network to balance a pole on a cart using nothing but a reward signal, with the oldest
# policy-gradient algorithm there is. Everything later in the course, PPO on CartPole and then RLHF on GPT-2,
# is built on the one gradient we derive here.
#
# **Objectives**
# - Name the parts of a reinforcement-learning problem (agent, environment, state, action, reward, return, policy) and see them in CartPole-v1.
# - Derive the policy-gradient theorem, $\nabla_\theta J(\theta) = \mathbb{E}\big[\nabla_\theta \log \pi_\theta(a\mid s)\, Q^{\pi_\theta}(s,a)\big]$, step by step.
# - Write REINFORCE from scratch in PyTorch and train it until CartPole is balanced for 500 steps.
# - Measure what the two classic variance reductions (reward-to-go and a learned baseline) do: learning curves on the same seeds and the variance of the gradient estimate.
#
# **Prerequisites:** Python, NumPy, basic PyTorch (tensors, `nn.Module`, autograd, an optimiser step); expectations and the chain rule. No prior RL.
#
# **Run time:** about 1–2 minutes in the quick profile on a 2-core CPU.

# %% [markdown]
# ## Setup
#
# Imports, then `rlhf_utils.setup`, which seeds Python, NumPy and torch, picks the device and prints the profile.
# The networks here are tiny (a forward pass takes microseconds), so we run torch on one thread: splitting such
# small sums over two threads costs more than it saves. `STEPS` and `SEEDS` are the sizes the profile picks.

# %% tags=["exercise-setup"]
import time

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

import rlhf_utils
from rlhf_utils import policy_gradient as pg
from rlhf_utils.plotting import plot_learning_curves, rolling_mean

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(1)

STEPS = course.profile.pick(quick=60_000, full=200_000)  # environment steps per training run
SEEDS = course.profile.pick(quick=[0, 1, 2], full=[0, 1, 2, 3, 4])  # seeds for the comparison of variants
print(f"{STEPS:,} environment steps per run, seeds {SEEDS}")

# %% [markdown]
# ## 1. Theory
#
# ### 1.1 Reinforcement learning in one page
#
# An **agent** interacts with an **environment** in discrete time steps $t = 0, 1, 2, \dots$
#
# 1. it observes the **state** $s_t$,
# 2. it picks an **action** $a_t$ by sampling from its **policy** $\pi_\theta(a \mid s_t)$, a probability distribution over actions given by a neural network with weights $\theta$,
# 3. the environment moves to a new state $s_{t+1} \sim P(\cdot \mid s_t, a_t)$ and pays a **reward** $r_t$.
#
# An **episode** $\tau = (s_0, a_0, r_0, s_1, a_1, r_1, \dots, s_{T-1}, a_{T-1}, r_{T-1})$ runs until a terminal state (or a time limit).
# Its **return** adds up the rewards, discounted by $\gamma \in [0, 1]$ so that near rewards count more than far ones:
#
# $$R(\tau) = \sum_{t=0}^{T-1} \gamma^{t} r_t, \qquad G_t = \sum_{k=t}^{T-1} \gamma^{k-t} r_k = r_t + \gamma\, G_{t+1}.$$
#
# $G_t$, the return *from step $t$ on*, is also called the **reward-to-go**; $G_0 = R(\tau)$.
# The goal is a policy with a high expected return,
#
# $$J(\theta) = \mathbb{E}_{\tau \sim \pi_\theta}\big[R(\tau)\big].$$
#
# Two functions measure how good things are under a policy: the **action value** $Q^{\pi}(s,a) = \mathbb{E}[G_t \mid s_t = s, a_t = a]$
# (the expected return after taking $a$ in $s$) and the **state value** $V^{\pi}(s) = \mathbb{E}_{a \sim \pi}[Q^{\pi}(s,a)]$.
# Their difference $A^\pi(s,a) = Q^\pi(s,a) - V^\pi(s)$, the **advantage**, says how much better $a$ is than the policy's average.
#
# In **CartPole-v1** the state is four numbers (cart position and velocity, pole angle and angular velocity),
# there are two actions (push the cart left or right), the reward is $+1$ for every step the pole stays up,
# and an episode ends when the pole tilts past 12° or the cart leaves the track (*terminated*), or after 500 steps
# (*truncated*, a time limit). The best possible return is therefore 500.
#
# ### 1.2 The policy-gradient theorem, step by step
#
# We want $\nabla_\theta J(\theta)$ so we can climb it. Write the expectation as a sum over trajectories:
#
# $$J(\theta) = \sum_\tau P(\tau \mid \theta)\, R(\tau), \qquad
# P(\tau \mid \theta) = \rho_0(s_0) \prod_{t=0}^{T-1} \pi_\theta(a_t \mid s_t)\, P(s_{t+1} \mid s_t, a_t).$$
#
# **Step 1: differentiate.** Only $P(\tau\mid\theta)$ depends on $\theta$:
# $\nabla_\theta J = \sum_\tau \nabla_\theta P(\tau \mid \theta)\, R(\tau)$.
# This is a sum over all trajectories: we cannot compute it, and it is not an expectation we could sample.
#
# **Step 2: the log-derivative trick.** Since $\nabla_\theta \log x = \nabla_\theta x / x$, we have $\nabla_\theta P = P\, \nabla_\theta \log P$, so
#
# $$\nabla_\theta J = \sum_\tau P(\tau \mid \theta)\, \nabla_\theta \log P(\tau \mid \theta)\, R(\tau) = \mathbb{E}_{\tau \sim \pi_\theta}\big[\nabla_\theta \log P(\tau \mid \theta)\, R(\tau)\big].$$
#
# An expectation again: we can estimate it by playing episodes.
#
# **Step 3: the environment drops out.** The log turns the product into a sum,
# $\log P(\tau\mid\theta) = \log \rho_0(s_0) + \sum_t \big[\log \pi_\theta(a_t \mid s_t) + \log P(s_{t+1} \mid s_t, a_t)\big]$,
# and the start distribution and the dynamics do not depend on $\theta$, so their gradient is zero:
#
# $$\nabla_\theta J = \mathbb{E}_{\tau \sim \pi_\theta}\Big[\sum_{t=0}^{T-1} \nabla_\theta \log \pi_\theta(a_t \mid s_t)\; R(\tau)\Big]. \tag{vanilla REINFORCE}$$
#
# We never need a model of the physics: only the log-probabilities of our own actions. This is what makes policy gradients *model-free*.
#
# **Step 4: causality (reward-to-go).** An action cannot change rewards that came before it. For $k < t$,
# $\mathbb{E}\big[\nabla_\theta \log \pi_\theta(a_t\mid s_t)\, r_k\big] = 0$, because $r_k$ is fixed once we condition on the history up to $s_t$, and
# $\mathbb{E}_{a \sim \pi_\theta}[\nabla_\theta \log \pi_\theta(a \mid s)] = \sum_a \nabla_\theta \pi_\theta(a\mid s) = \nabla_\theta \sum_a \pi_\theta(a\mid s) = \nabla_\theta 1 = 0$.
# Dropping those zero-mean terms replaces $R(\tau)$ by the rewards from step $t$ on. With $\gamma = 1$ that is exactly the
# reward-to-go $G_t$. With $\gamma < 1$ it is $\sum_{k \ge t} \gamma^{k} r_k = \gamma^{t} G_t$: a reward at step $k$ is
# discounted from the *start* of the episode, so the exact gradient of the discounted $J$ also shrinks the weight of late
# steps by $\gamma^t$. Practically every implementation, ours included, drops that $\gamma^t$ and weights every step by
# $G_t$, as if each step were the start of an episode. That is no longer the exact gradient of the discounted $J$; it is
# the usual approximation, which treats $\gamma$ as a knob that lowers the variance (far-away rewards count less) while the
# quantity we really care about is the undiscounted return. Below we write $G_t$ and ignore the difference:
#
# $$\nabla_\theta J = \mathbb{E}\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, G_t\Big] = \mathbb{E}\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, Q^{\pi_\theta}(s_t, a_t)\Big],$$
#
# where the last step uses $\mathbb{E}[G_t \mid s_t, a_t] = Q^{\pi_\theta}(s_t,a_t)$. This is the **policy-gradient theorem**:
# $\nabla_\theta J(\theta) = \mathbb{E}\big[\nabla_\theta \log \pi_\theta(a\mid s)\, Q^{\pi_\theta}(s,a)\big]$.
#
# **Step 5: a baseline.** The same zero-mean fact lets us subtract any function of the state, $b(s_t)$, without changing the expectation:
# $\mathbb{E}_{a\sim\pi}[\nabla_\theta \log \pi_\theta(a\mid s)\, b(s)] = b(s) \cdot 0 = 0$. The best simple choice is a learned $V_\phi(s) \approx V^{\pi}(s)$,
# which turns the weight into an estimate of the advantage: $G_t - V_\phi(s_t) \approx A^\pi(s_t,a_t)$.
#
# **What each term means.** $\nabla_\theta \log \pi_\theta(a_t\mid s_t)$ is the direction in weight space that makes the action we took more likely.
# The weight ($R(\tau)$, $G_t$ or $G_t - V(s_t)$) says how far to go in that direction: good actions are made more likely,
# bad ones (negative advantage) less likely. All three weights give the *same* expected gradient; they differ in how *noisy* a
# finite-sample estimate is. Less noise means bigger safe steps and faster learning; that is what section 3 measures.
#
# ### 1.3 From the theorem to code
#
# With $N$ sampled episodes, the estimate is an average over all $M = \sum_i T_i$ steps of the batch,
# $\hat g = \frac{1}{M} \sum_{i,t} \nabla_\theta \log \pi_\theta(a_t^i \mid s_t^i)\, \Psi_t^i$ (a constant factor only rescales the step).
# Autograd computes it for us if we hand it the **surrogate loss**
#
# $$L(\theta) = -\frac{1}{M}\sum_{i,t} \log \pi_\theta(a^i_t \mid s^i_t)\; \Psi^i_t, \qquad -\nabla_\theta L = \hat g,$$
#
# with the weights $\Psi$ held constant. Minimising $L$ with gradient descent is gradient *ascent* on $J$.
# The value of $L$ itself means little (it is not the return); only its gradient matters.

# %% [markdown]
# ## 2. Build it
#
# ### 2.1 The environment: CartPole-v1 with the gymnasium 1.x API
#
# `reset(seed=...)` returns `(observation, info)`; `step(action)` returns `(observation, reward, terminated, truncated, info)`.
# *terminated* means the episode reached a terminal state (the pole fell); *truncated* means a time limit cut it (500 steps).
# Let us look at the spaces and play one episode with a random policy.

# %%
env = gym.make("CartPole-v1")
print("observation space:", env.observation_space)  # x, x_dot, theta, theta_dot
print("action space:     ", env.action_space)  # 0 = push left, 1 = push right
print("time limit:       ", env.spec.max_episode_steps, "steps")

obs, info = env.reset(seed=0)
env.action_space.seed(0)
print(f"\n{'t':>3} {'cart x':>8} {'cart v':>8} {'angle':>8} {'ang. v':>8} {'action':>6} {'reward':>6}")
t, done, total = 0, False, 0.0
while not done:
    action = env.action_space.sample()  # a random policy
    next_obs, reward, terminated, truncated, info = env.step(action)
    if t < 5:
        print(f"{t:>3} " + " ".join(f"{v:8.3f}" for v in obs) + f" {action:>6} {reward:>6.1f}")
    obs, t, total = next_obs, t + 1, total + reward
    done = terminated or truncated
print(f"... the random policy kept the pole up for {t} steps (return {total:.0f}); terminated={terminated}, truncated={truncated}")


# %% [markdown]
# How good is random? Over 100 episodes it balances the pole for about 20 steps. That is what REINFORCE starts from.

# %%
def random_return(env: gym.Env) -> float:
    env.reset()
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total, done = total + reward, terminated or truncated
    return total


random_scores = [random_return(env) for _ in range(100)]
print(f"random policy: mean return {np.mean(random_scores):.1f} (min {min(random_scores):.0f}, max {max(random_scores):.0f})")

# %% [markdown]
# ### 2.2 The policy network
#
# $\pi_\theta(a\mid s)$ is a small MLP that maps the 4 observation numbers to one **logit** per action;
# a softmax turns the logits into probabilities. `pg.PolicyNet` is exactly that: one hidden layer of 64 tanh units.

# %%
policy = pg.PolicyNet(obs_dim=4, n_actions=2, hidden=64)
print(policy)
obs, _ = env.reset(seed=1)
logits = policy(torch.as_tensor(obs))
print("logits:", logits.detach().numpy().round(3), " probabilities:", torch.softmax(logits, -1).detach().numpy().round(3))


# %% [markdown]
# ### 2.3 Playing an episode
#
# To act, we sample from the categorical distribution the logits define. We record each state $s_t$ in which we acted,
# the action $a_t$ and the reward $r_t$. No gradients are needed while playing (`torch.no_grad`); we recompute
# $\log\pi_\theta(a_t\mid s_t)$ for the whole batch at update time, in one forward pass.
#
# **A simplification.** We end the episode on `terminated` *or* `truncated`. At the 500-step limit the pole is still up, so
# treating that moment like a crash under-values the last states (their reward-to-go is small only because the clock ran out).
# REINFORCE lives with this; notebook 02 fixes it by *bootstrapping*: adding $\gamma V(s_T)$ when an episode is truncated.

# %%
@torch.no_grad()
def play_episode(env: gym.Env, policy: torch.nn.Module) -> tuple[list, list[int], list[float]]:
    obs, _ = env.reset()
    observations, actions, rewards = [], [], []
    done = False
    while not done:
        logits = policy(torch.as_tensor(obs, dtype=torch.float32))
        action = torch.distributions.Categorical(logits=logits).sample().item()  # a_t ~ pi(.|s_t)
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        done = terminated or truncated  # REINFORCE: a truncation also ends the episode
    return observations, actions, rewards


env.reset(seed=2)  # seed once; later resets continue the environment's own random stream
observations, actions, rewards = play_episode(env, policy)
print(f"untrained policy: {len(rewards)} steps, actions {actions[:12]}...")

# %% [markdown]
# One episode at a time is slow: the network runs once per step on a single observation, and Python overhead dominates.
# `pg.collect_episodes(envs, policy)` does the same thing for a list of environments **side by side**: one forward pass per step
# on all the observations that are still running. It returns `pg.Episode` objects with the same three lists, as tensors.

# %%
envs = [gym.make("CartPole-v1") for _ in range(8)]
for i, e in enumerate(envs):
    e.reset(seed=100 + i)

start = time.perf_counter()
episodes = pg.collect_episodes(envs, policy)
batched = time.perf_counter() - start
n_steps = sum(len(ep.rewards) for ep in episodes)

start = time.perf_counter()
one_by_one = sum(len(play_episode(env, policy)[2]) for _ in range(8))
single = time.perf_counter() - start
print(f"side by side: {n_steps} steps in {batched * 1e3:.0f} ms ({batched / n_steps * 1e6:.0f} us/step)")
print(f"one by one:   {one_by_one} steps in {single * 1e3:.0f} ms ({single / one_by_one * 1e6:.0f} us/step)")
print(episodes[0].observations.shape, episodes[0].actions.shape, len(episodes[0].rewards))


# %% [markdown]
# ### 2.4 Returns and reward-to-go
#
# $G_t = r_t + \gamma G_{t+1}$ computed backwards from the end of the episode gives every step's reward-to-go in one pass.
# We check our version against the library's on a hand-computed case and on a real episode.

# %%
def returns_to_go(rewards: list[float], gamma: float) -> torch.Tensor:
    returns = [0.0] * len(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running  # G_t = r_t + gamma * G_{t+1}
        returns[t] = running
    return torch.tensor(returns, dtype=torch.float32)


print(returns_to_go([1.0, 1.0, 1.0], gamma=0.5))  # by hand: [1 + 0.5 * 1.5, 1 + 0.5 * 1, 1] = [1.75, 1.5, 1.0]
assert torch.allclose(returns_to_go([1.0, 1.0, 1.0], 0.5), torch.tensor([1.75, 1.5, 1.0]))
for ep in episodes:
    assert torch.equal(returns_to_go(ep.rewards, 0.99), pg.discounted_returns(ep.rewards, 0.99))
print("returns_to_go matches pg.discounted_returns")

# %% [markdown]
# The three variants differ only in the weight $\Psi_t$ each step gets. For one CartPole episode: vanilla REINFORCE gives every step the
# same $R(\tau)$; reward-to-go gives early steps more credit than late ones (a late step only "caused" the few rewards after it);
# the baseline (not drawn: it needs a trained value net) subtracts what the value net expected, centring the weights around zero.
# (`pg.reward_to_go(rewards, gamma, causal=False)` is the vanilla weight; `pg.episode_weights` builds all three for a batch.)

# %%
ep = max(episodes, key=lambda e: len(e.rewards))
vanilla_weights = pg.reward_to_go(ep.rewards, 0.99, causal=False)
rtg_weights = returns_to_go(ep.rewards, 0.99)
assert torch.isclose(vanilla_weights[-1], rtg_weights[0]) and rtg_weights[-1] == 1.0  # G_0 = R(tau); G_{T-1} = r_{T-1}
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(vanilla_weights, label=r"vanilla: $R(\tau)$ at every step")
ax.plot(rtg_weights, label=r"reward-to-go: $G_t$")
ax.set_xlabel("step t of the episode (time steps)")
ax.set_ylabel(r"weight $\Psi_t$ (discounted reward)")
ax.set_title(f"Weights along one {len(ep.rewards)}-step episode (γ = 0.99): flat, or falling to the last reward")
ax.legend()
plt.show()

# %% [markdown]
# Read it: the vanilla line is flat at $R(\tau)$, the discounted return of the whole episode. The reward-to-go line
# starts at the same value ($G_0 = R(\tau)$) and falls to 1, the last step's own reward (both checked by the `assert`
# in the cell): an action near the end is only credited with the few rewards that came after it.


# %% [markdown]
# ### 2.5 The REINFORCE loss
#
# $L = -\operatorname{mean}_t \log\pi_\theta(a_t\mid s_t)\,\Psi_t$. `Categorical.log_prob` gives $\log\pi_\theta(a_t\mid s_t)$ for a batch;
# `weights.detach()` makes sure no gradient flows into the weights. We check it against `pg.reinforce_loss`, then against
# the theorem itself on a two-armed bandit (one state, rewards $r = (1, 3)$), where we can compute the exact gradient
# $\nabla_\theta J = \sum_a \pi_\theta(a)\,\nabla_\theta\log\pi_\theta(a)\, r(a)$ by enumerating the two actions: the average of the loss's
# gradient over many sampled actions should match it.

# %%
def reinforce_loss(logprobs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return -(logprobs * weights.detach()).mean()


obs = torch.cat([ep.observations for ep in episodes])
acts = torch.cat([ep.actions for ep in episodes])
logprobs = policy.distribution(obs).log_prob(acts)
weights = torch.cat([returns_to_go(ep.rewards, 0.99) for ep in episodes])
assert torch.equal(reinforce_loss(logprobs, weights), pg.reinforce_loss(logprobs, weights))

# The two-armed bandit: pi = softmax(theta), J(theta) = sum_a pi(a) r(a).
bandit_rewards = torch.tensor([1.0, 3.0])
theta = torch.tensor([0.5, -0.5], requires_grad=True)
exact = torch.autograd.grad((torch.softmax(theta, 0) * bandit_rewards).sum(), theta)[0]
dist = torch.distributions.Categorical(logits=theta)
sampled = dist.sample((100_000,))
estimate = -torch.autograd.grad(reinforce_loss(dist.log_prob(sampled), bandit_rewards[sampled]), theta)[0]
print(f"exact gradient {exact.numpy().round(4)}, REINFORCE estimate from 100k samples {estimate.numpy().round(4)}")
assert torch.allclose(estimate, exact, atol=0.01)


# %% [markdown]
# ### 2.6 The training loop
#
# Each update:
# 1. plays a batch of 8 episodes side by side with the current policy;
# 2. computes the weights $\Psi_t$. Here the full variant, **reward-to-go minus a learned baseline**: $G_t - V_\phi(s_t)$.
#    (For the other two, replace this line by $G_t$ or by $R(\tau)$; `pg.episode_weights` has all three.)
#    We divide the weights by their root mean square, so the step size does not depend on the scale of the rewards; signs and ratios are kept;
# 3. takes one Adam step on the REINFORCE loss;
# 4. fits the value network $V_\phi$ to the returns $G_t$ with a few steps of mean-squared error, ready for the next batch.
#
# The loop below is exactly what `pg.train_reinforce(variant="baseline")` does, line for line; we check that below.

# %%
def train_baseline_reinforce(
    seed: int, max_env_steps: int, gamma: float = 0.99, n_envs: int = 8,
    policy_lr: float = 2e-2, value_lr: float = 1e-2, value_epochs: int = 5, hidden: int = 64,
) -> tuple[pg.PolicyNet, list[float], list[int]]:
    torch.manual_seed(seed)
    envs = [gym.make("CartPole-v1") for _ in range(n_envs)]
    for i, env in enumerate(envs):
        env.reset(seed=seed * 1000 + i)
    policy = pg.PolicyNet(4, 2, hidden)
    policy_opt = torch.optim.Adam(policy.parameters(), lr=policy_lr)
    value_net = pg.ValueNet(4, hidden)
    value_opt = torch.optim.Adam(value_net.parameters(), lr=value_lr)

    episode_returns, episode_end_steps, steps = [], [], 0
    bar = tqdm(total=max_env_steps, desc="REINFORCE (by hand)", unit="step")
    while steps < max_env_steps:
        # 1. play a batch of episodes
        episodes = pg.collect_episodes(envs, policy)
        for ep in episodes:
            steps += len(ep.rewards)
            episode_returns.append(ep.total_reward)
            episode_end_steps.append(steps)
        obs = torch.cat([ep.observations for ep in episodes])
        actions = torch.cat([ep.actions for ep in episodes])

        # 2. weights: reward-to-go minus the baseline, scaled to unit root mean square
        returns = torch.cat([returns_to_go(ep.rewards, gamma) for ep in episodes])
        with torch.no_grad():
            advantages = returns - value_net(obs)
        weights = advantages / (advantages.pow(2).mean().sqrt() + 1e-8)

        # 3. one policy-gradient step
        logprobs = policy.distribution(obs).log_prob(actions)
        loss = reinforce_loss(logprobs, weights)
        policy_opt.zero_grad()
        loss.backward()
        policy_opt.step()

        # 4. fit the baseline V(s) to the returns
        for _ in range(value_epochs):
            value_loss = ((value_net(obs) - returns) ** 2).mean()
            value_opt.zero_grad()
            value_loss.backward()
            value_opt.step()

        bar.update(min(steps, max_env_steps) - bar.n)
        bar.set_postfix(mean_return=f"{np.mean([ep.total_reward for ep in episodes]):.0f}")
    bar.close()
    return policy, episode_returns, episode_end_steps


# %% [markdown]
# ## 3. Run it
#
# ### 3.1 Train REINFORCE with a baseline
#
# A few seconds on a laptop CPU. Watch the mean return of each batch climb from about 20 towards 500.

# %%
start = time.perf_counter()
trained_policy, train_returns, train_end_steps = train_baseline_reinforce(seed=course.seed, max_env_steps=STEPS)
print(f"{len(train_returns)} episodes in {time.perf_counter() - start:.1f} s; last 20 episodes: mean return {np.mean(train_returns[-20:]):.1f}")

# %% [markdown]
# Our loop and the library's `train_reinforce` are the same algorithm with the same random numbers, so the same seed must give
# *identical* episodes. The library run is also the seed-0 "baseline" run of the comparison below.

# %%
library_run = pg.train_reinforce(seed=course.seed, max_env_steps=STEPS, variant="baseline")
assert library_run.episode_returns == train_returns, "the hand-written loop and pg.train_reinforce diverged"
print(f"identical: {len(train_returns)} episodes, same returns, same end steps; library run took {library_run.wall_seconds:.1f} s")

plot_learning_curves({"REINFORCE + baseline (by hand)": [(train_end_steps, train_returns)]}, target=500,
                     ylabel="return (steps balanced)",
                     title=f"REINFORCE with a value baseline, seed {course.seed}: does it climb to the 500 limit?")
plt.show()

# %% [markdown]
# Read the curve: it starts near the random policy's return (printed in 2.1) and climbs towards the dashed line at
# 500, the time limit; the result check at the end of section 3 asserts that its 20-episode mean reaches at least
# 450. If it dips after getting close to 500, that is an update that went too far: REINFORCE has nothing that limits
# the size of a step, and notebook 02's PPO is built to prevent exactly that.
#
# ### 3.2 Watch it balance
#
# Sampling is how the policy explores during training; to *use* it we take the most likely action (greedy).
# We play one greedy episode and plot the pole angle and the cart position: the episode fails if the angle leaves ±12°
# or the cart leaves ±2.4 m.

# %%
eval_env = gym.make("CartPole-v1")
obs, _ = eval_env.reset(seed=12_345)
states, done = [obs], False
while not done:
    obs, reward, terminated, truncated, _ = eval_env.step(trained_policy.act(obs, greedy=True))
    states.append(obs)
    done = terminated or truncated
states = np.array(states)
print(f"greedy episode: {len(states) - 1} steps, terminated={terminated}, truncated={truncated}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3))
ax1.plot(np.degrees(states[:, 2]))
ax1.axhline(12, color="red", ls="--", lw=1); ax1.axhline(-12, color="red", ls="--", lw=1)
ax1.set(xlabel="time step", ylabel="pole angle (degrees)", title="Pole angle: inside the ±12° limits (red)?")
ax2.plot(states[:, 0], color="tab:orange")
ax2.axhline(2.4, color="red", ls="--", lw=1); ax2.axhline(-2.4, color="red", ls="--", lw=1)
ax2.set(xlabel="time step", ylabel="cart position (m)", title="Cart position: inside the ±2.4 m track (red)?")
plt.tight_layout()
plt.show()

# %% [markdown]
# Read it: an episode that runs to the 500-step limit (printed above: `truncated=True`) keeps both traces between the
# red lines throughout; a fall shows as a trace leaving them at the last step. If the cart drifts slowly to one side,
# that is allowed: the policy was never rewarded for staying central, only for not failing. Then five frames of the
# same episode, drawn from the state with matplotlib (the pole to scale):


# %%
def draw_cartpole(ax: plt.Axes, state: np.ndarray, step: int) -> None:
    x, theta = state[0], state[2]
    pole_len = 1.0  # drawn length (the physics uses a half-length of 0.5)
    ax.plot([-2.4, 2.4], [0, 0], color="black", lw=1)
    ax.add_patch(plt.Rectangle((x - 0.25, -0.075), 0.5, 0.15, color="tab:blue"))
    ax.plot([x, x + pole_len * np.sin(theta)], [0.075, 0.075 + pole_len * np.cos(theta)], color="tab:brown", lw=4)
    ax.set(xlim=(-2.6, 2.6), ylim=(-0.3, 1.2), aspect="equal", title=f"step {step}")
    ax.axis("off")


frames = np.linspace(0, len(states) - 1, 5).astype(int)
fig, axes = plt.subplots(1, len(frames), figsize=(14, 2.4))
for ax, t in zip(axes, frames):
    draw_cartpole(ax, states[t], t)
fig.suptitle("The greedy episode at five evenly spaced steps (track ±2.4 m, pole 1 m): is the pole still up?")
plt.show()

# %% [markdown]
# Each frame is the state at that step: the cart's place on the track and the pole's tilt, the two traces plotted above.
#
# ### 3.3 The three variants on the same seeds
#
# Now the library's `train_reinforce` trains each variant on the same seeds, with the same hyperparameters: only the weight $\Psi_t$ differs.
# The curves are the rolling mean of 20 episodes, averaged over seeds, with a band of ± one standard deviation.

# %%
runs = {variant: [] for variant in pg.VARIANTS}
jobs = [(variant, seed) for variant in pg.VARIANTS for seed in SEEDS]
for variant, seed in tqdm(jobs, desc="variants x seeds"):
    if variant == "baseline" and seed == course.seed:
        runs[variant].append(library_run)  # already trained above
    else:
        runs[variant].append(pg.train_reinforce(seed=seed, max_env_steps=STEPS, variant=variant))

labels = {"vanilla": r"vanilla: $R(\tau)$", "reward_to_go": r"reward-to-go: $G_t$", "baseline": r"baseline: $G_t - V(s_t)$"}
plot_learning_curves({labels[v]: runs[v] for v in pg.VARIANTS}, target=500, ylabel="return (steps balanced)",
                     title="REINFORCE variants on CartPole-v1: which weight climbs fastest?")
plt.show()

print(f"{'variant':>13} | best 20-episode rolling mean per seed | greedy return (10 episodes) per seed")
summary = {}
for variant in pg.VARIANTS:
    best = [rolling_mean(r.episode_returns, 20)[19:].max() for r in runs[variant]]
    greedy = [np.mean(pg.evaluation_returns(r.policy, n_episodes=10)) for r in runs[variant]]
    summary[variant] = {"best": best, "greedy": greedy}
    print(f"{variant:>13} | {', '.join(f'{b:5.0f}' for b in best):>37} | {', '.join(f'{g:5.0f}' for g in greedy)}")


# %% [markdown]
# Read the curves with the table: the higher and earlier a curve climbs, the better its weight; the band shows how much
# the seeds disagree. The result check below asserts that the baseline's best rolling mean beats vanilla's by more than
# 50 on average over the seeds; compare reward-to-go's row with the other two to see where it lands on yours.
#
# ### 3.4 How noisy is each gradient estimate?
#
# All three weights estimate the same gradient, so the difference must be in the noise. We freeze a policy part-way through training
# (and its value net), then play many batches of 8 episodes. On each batch we compute the gradient estimate three times, once per
# variant, from the *same* episodes, without any scaling. The variance across batches (summed over all the policy's parameters)
# is the noise of each estimator; the squared length of the average gradient is the signal.

# %%
def gradient_estimate(policy: pg.PolicyNet, episodes: list[pg.Episode], weights: torch.Tensor) -> torch.Tensor:
    obs = torch.cat([ep.observations for ep in episodes])
    actions = torch.cat([ep.actions for ep in episodes])
    loss = pg.reinforce_loss(policy.distribution(obs).log_prob(actions), weights)
    return -torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(policy.parameters()))])


snapshot = pg.train_reinforce(seed=course.seed, max_env_steps=10_000, variant="baseline")
print(f"snapshot policy: mean return of its last 20 training episodes {np.mean(snapshot.episode_returns[-20:]):.0f}")
N_BATCHES = course.profile.pick(quick=30, full=100)
grad_envs = [gym.make("CartPole-v1") for _ in range(8)]
for i, e in enumerate(grad_envs):
    e.reset(seed=5_000 + i)
grads = {variant: [] for variant in pg.VARIANTS}
for _ in tqdm(range(N_BATCHES), desc="gradient batches"):
    batch = pg.collect_episodes(grad_envs, snapshot.policy)
    for variant in pg.VARIANTS:
        weights, _ = pg.episode_weights(batch, variant, gamma=0.99, value_net=snapshot.value_net)
        grads[variant].append(gradient_estimate(snapshot.policy, batch, weights))

noise = {v: torch.stack(g).var(dim=0).sum().item() for v, g in grads.items()}
fig, ax = plt.subplots(figsize=(6, 3.5))
bars = ax.bar([labels[v] for v in pg.VARIANTS], [noise[v] for v in pg.VARIANTS], color=["tab:blue", "tab:orange", "tab:green"])
ax.bar_label(bars, labels=[f"{noise[v]:.3g} ({noise[v] / noise['baseline']:.1f}x)" for v in pg.VARIANTS])
ax.set_ylim(0, 1.15 * max(noise.values()))  # a linear axis from 0: bar heights compare as the numbers do
ax.set_ylabel("variance of the gradient estimate\n(reward², summed over parameters)")
ax.set_title(f"Gradient noise per variant ({N_BATCHES} batches of 8 episodes): lower is better")
plt.show()
for v in pg.VARIANTS:
    print(f"{v:>13}: variance {noise[v]:7.3g}  ({noise[v] / noise['baseline']:4.1f} x the baseline's)")

# %% [markdown]
# Read the bars (each labelled with its variance and its multiple of the baseline's, printed again below the plot): the
# result check asserts the order the theory predicts, vanilla > reward-to-go > baseline. The printed ratios say how much
# each step of section 1.2 removed on your run. The same batch of episodes gives three different gradients, and the
# noisier the estimate, the smaller a step has to be to be safe, which is what the learning curves of section 3.3 show.
#
# ### Result check
#
# The policy trained by our loop must balance the pole: a greedy evaluation over 10 fresh episodes should average at least 450 (the maximum is 500),
# and its training curve must have reached a rolling mean of 20 episodes of at least 450. On 10 seeds with these settings the greedy
# evaluation averaged at least 489 (500 on 9 of them) and the best rolling mean was at least 477, so the thresholds leave a margin
# (`python benchmarks/reinforce_seeds.py --seeds 0 1 2 3 4 5 6 7 8 9 --variants baseline` prints that table). REINFORCE often
# wobbles or collapses for a while after reaching 500, which is why we do not check only the last episodes. The variants must also be ordered as the theory says: noise vanilla > reward-to-go > baseline,
# and the baseline learning clearly better than vanilla on the same seeds.

# %%
greedy_scores = pg.evaluation_returns(trained_policy, n_episodes=10)
best_rolling = rolling_mean(train_returns, 20)[19:].max()
print(f"greedy evaluation of the hand-trained policy: {greedy_scores}")
print(f"best rolling mean (20 episodes) during training: {best_rolling:.1f}")
assert np.mean(greedy_scores) >= 450, f"greedy evaluation {np.mean(greedy_scores):.1f} < 450 over 10 episodes: learning failed"
assert best_rolling >= 450, f"best 20-episode rolling mean {best_rolling:.1f} < 450: learning failed"
assert noise["baseline"] < noise["reward_to_go"] < noise["vanilla"], f"gradient variances not ordered as expected: {noise}"
mean_best = {v: float(np.mean(summary[v]["best"])) for v in pg.VARIANTS}
assert mean_best["baseline"] > mean_best["vanilla"] + 50, f"baseline did not beat vanilla clearly: {mean_best}"
print("result check passed:", {v: round(m, 1) for v, m in mean_best.items()})


# %% [markdown]
# ## 4. Exercises
#
# ### Exercise 1: reward-to-go without a loop
#
# The backward loop is clear but slow in Python for long episodes. Write `discounted_returns_matrix(rewards, gamma)` that computes every $G_t$
# with one matrix-vector product: $G = \Gamma\, r$ with $\Gamma_{tk} = \gamma^{k-t}$ for $k \ge t$ and $0$ otherwise.
# `rewards` is a 1-D float tensor; return a float tensor of the same shape.

# %%
def discounted_returns_matrix(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
passed = rlhf_utils.check(
    discounted_returns_matrix,
    pg.discounted_returns,
    [(torch.tensor([1.0, 1.0, 1.0]), 0.5), (torch.tensor([0.0, 0.0, 1.0]), 0.9),
     (torch.tensor([2.0, -1.0, 3.0, 0.5]), 1.0), (torch.tensor([4.0]), 0.99), (torch.rand(50), 0.97)],
    name="discounted_returns_matrix",
    hint="torch.arange gives exponents k - t; torch.triu keeps k >= t.",
)


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def discounted_returns_matrix(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
#     t = torch.arange(len(rewards))
#     exponents = (t[None, :] - t[:, None]).clamp(min=0)  # k - t, row t, column k
#     gammas = torch.triu(gamma ** exponents.to(torch.float32))  # zero where k < t
#     return gammas @ rewards
# ```
# The matrix has $T^2$ entries, so for very long episodes the backward loop (or a reversed cumulative sum) uses less memory.
# </details>

# %% [markdown]
# ### Exercise 2: the REINFORCE loss from logits
#
# Policies often hand you raw logits rather than a distribution object. Write `reinforce_loss_from_logits(logits, actions, weights)`:
# `logits` has shape `(T, n_actions)`, `actions` `(T,)` (int64), `weights` `(T,)`. Compute $\log \pi(a_t\mid s_t)$ with
# `torch.log_softmax` and pick each step's action with `gather`, then return the REINFORCE loss (weights treated as constants).
# The loss is only useful through its gradient, so the checker compares the value **and** the gradient with respect to the
# logits and to the weights (which must get none): return a tensor that autograd can differentiate.

# %%
def reinforce_loss_from_logits(logits: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
def loss_reference(logits, actions, weights):
    return pg.reinforce_loss(torch.distributions.Categorical(logits=logits).log_prob(actions), weights)


def loss_and_grads(loss_fn):
    """Call loss_fn on copies of the inputs that track gradients; return its value and its gradients."""
    def run(logits, actions, weights):
        logits, weights = logits.clone().requires_grad_(True), weights.clone().requires_grad_(True)
        loss = loss_fn(logits, actions, weights)
        if not isinstance(loss, torch.Tensor):
            raise TypeError(f"the loss is a {type(loss).__name__}, not a tensor: .item() or float() cut it off from "
                            "the graph, so autograd cannot compute the policy gradient from it")
        if not loss.requires_grad:
            raise ValueError("the loss tensor carries no gradient (was it computed under torch.no_grad(), or "
                             "detached?): autograd cannot compute the policy gradient from it")
        grad_logits, grad_weights = torch.autograd.grad(loss, [logits, weights], allow_unused=True)
        zero_if_none = lambda g, x: torch.zeros_like(x) if g is None else g
        return {"loss": loss.detach(), "gradient w.r.t. logits": zero_if_none(grad_logits, logits),
                "gradient w.r.t. weights": zero_if_none(grad_weights, weights)}
    return run


gen = torch.Generator().manual_seed(0)
passed = rlhf_utils.check(
    loss_and_grads(reinforce_loss_from_logits),
    loss_and_grads(loss_reference),
    [(torch.randn(6, 2, generator=gen), torch.randint(0, 2, (6,), generator=gen), torch.randn(6, generator=gen))
     for _ in range(3)] + [(torch.randn(4, 5, generator=gen), torch.tensor([0, 4, 2, 2]), torch.ones(4))],
    name="reinforce_loss_from_logits",
    hint="logp = torch.log_softmax(logits, -1).gather(1, actions[:, None]).squeeze(1); return -(logp * weights.detach()).mean() "
         "as a tensor (no .item(), no torch.no_grad()): its gradient is the point; mind the minus sign.",
)


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def reinforce_loss_from_logits(logits: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
#     logprobs = torch.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
#     return -(logprobs * weights.detach()).mean()
# ```
# </details>

# %% [markdown]
# ### Exercise 3: the policy gradient of a bandit, by hand
#
# For a softmax policy $\pi = \operatorname{softmax}(\theta)$ over $K$ arms with rewards $r$, $J(\theta) = \sum_a \pi(a) r(a)$ and
# $\nabla_\theta \log \pi(a) = e_a - \pi$ (the one-hot vector of $a$ minus the probabilities). Write `bandit_policy_gradient(theta, rewards)`
# returning $\sum_a \pi(a)\,(e_a - \pi)\, r(a)$ without autograd. The check compares it with autograd's gradient of $J$.

# %%
def bandit_policy_gradient(theta: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
def autograd_bandit_gradient(theta, rewards):
    theta = theta.detach().requires_grad_(True)
    return torch.autograd.grad((torch.softmax(theta, 0) * rewards).sum(), theta)[0]


passed = rlhf_utils.check(
    bandit_policy_gradient,
    autograd_bandit_gradient,
    [(torch.tensor([0.5, -0.5]), torch.tensor([1.0, 3.0])), (torch.zeros(3), torch.tensor([0.0, 1.0, 2.0])),
     (torch.tensor([2.0, 0.0, -1.0, 0.5]), torch.tensor([-1.0, 1.0, 0.0, 5.0]))],
    name="bandit_policy_gradient",
    hint="pi = softmax(theta); sum over a of pi[a] * (onehot(a) - pi) * r[a]. It simplifies to pi * (r - pi @ r).",
)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def bandit_policy_gradient(theta: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
#     pi = torch.softmax(theta, dim=0)
#     eye = torch.eye(len(theta))
#     return sum(pi[a] * (eye[a] - pi) * rewards[a] for a in range(len(theta)))
#     # the same, simplified: pi * (rewards - pi @ rewards): each arm is pushed by how much better than average it is
# ```
# The simplified form is the baseline at work: subtracting the average reward $\pi \cdot r$ changes nothing in expectation.
# </details>

# %% [markdown]
# ## Check your understanding
#
# 1. Why does the environment's transition probability $P(s_{t+1}\mid s_t,a_t)$ not appear in the policy gradient?
# <details><summary>Answer</summary>
#
# In $\log P(\tau\mid\theta)$ the dynamics are a separate additive term that does not depend on $\theta$, so its gradient is zero.
# We only need $\nabla_\theta \log \pi_\theta$ of the actions we took, which is why REINFORCE is model-free.
# </details>
#
# 2. Subtracting a baseline $b(s_t)$ does not bias the gradient. Would a baseline $b(s_t, a_t)$ that depends on the action also be safe?
# <details><summary>Answer</summary>
#
# No. The argument was $\mathbb{E}_{a\sim\pi}[\nabla_\theta \log\pi_\theta(a\mid s)]\, b(s) = 0$; it needs $b$ to come out of the expectation over $a$.
# With $b(s,a)$ the term $\sum_a \nabla_\theta\pi_\theta(a\mid s)\, b(s,a)$ is in general not zero, so the estimate would be biased.
# </details>
#
# 3. Vanilla REINFORCE is unbiased. Why does it learn so much more slowly than the baseline variant in section 3.3?
# <details><summary>Answer</summary>
#
# Its weights contain rewards the action could not have caused (those before it) and a large common offset ($R(\tau)$ is always positive in
# CartPole, so every action is pushed up, good or bad). Those terms average to zero but add a lot of variance (section 3.4), so each
# batch's gradient points in a noisier direction and progress per step is smaller.
# </details>
#
# 4. The progress bar during training shows the mean return of each batch, not the loss $L$ that the optimiser minimises.
#    Why not the loss: is a lower REINFORCE loss a better policy?
# <details><summary>Answer</summary>
#
# No. It is a surrogate built so that its *gradient* is the policy-gradient estimate; its value depends on the batch, the weights
# and their scaling, and is not the return. That is why the bar shows the episode returns; judge a policy by those, or by a greedy
# evaluation.
# </details>
#
# 5. Why does the greedy evaluation often score higher than the training episodes?
# <details><summary>Answer</summary>
#
# During training actions are sampled, so the policy sometimes takes a poor action on purpose (exploration); those mistakes
# can end an episode. The greedy policy always takes the most likely action.
# </details>
#
# 6. What goes wrong at the 500-step time limit, and how would you fix it?
# <details><summary>Answer</summary>
#
# We treat the truncated episode as if it ended in failure: the last steps get a reward-to-go near zero although the pole was fine,
# and the value net, which cannot see the clock, is taught that good states are worth little. The fix (notebook 02) is to bootstrap:
# when an episode is truncated, add $\gamma^{k} V(s_T)$ to the returns, as if the episode continued.
# </details>
#
# ## Summary and what comes next
#
# - The policy-gradient theorem turns "maximise the expected return" into an expectation we can sample:
#   $\nabla_\theta J = \mathbb{E}[\nabla_\theta\log\pi_\theta(a\mid s)\,Q^{\pi_\theta}(s,a)]$, and the environment's dynamics drop out.
# - REINFORCE estimates it from whole episodes with the surrogate loss $-\operatorname{mean}\,\log\pi\cdot\Psi$.
# - Reward-to-go and a learned value baseline leave the gradient unbiased and cut its variance (by the factors printed in 3.4), which is
#   what lets REINFORCE solve CartPole in a few tens of thousands of steps, where vanilla REINFORCE is still far from it (3.3).
# - What is still missing: every batch is used for a single gradient step and then thrown away, and a too-large step can destroy a good policy
#   (the collapses after reaching 500). **Notebook 02** adds an actor-critic with generalised advantage estimation and PPO's clipped surrogate,
#   which reuses each batch safely for several steps, and puts it on the same axes as the REINFORCE you trained here
#   (`pg.train_reinforce` and `plot_learning_curves`). The same gradient, with a language model as the policy, is the engine of RLHF in notebook 05.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
