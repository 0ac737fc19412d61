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
# # 02 · PPO from scratch on CartPole
#
# Proximal Policy Optimization (PPO) is the algorithm this course leads to: in notebook 05 the same pieces fine-tune a
# GPT-2 on human preferences. Here we build it on CartPole, where a run takes seconds, so every piece can be seen
# working, and switched off.
#
# **Objectives**
# - Say why a large policy-gradient step is dangerous, and how the probability ratio $r_t(\theta)$ and the clipped
#   objective $L^{CLIP}$ keep each update small.
# - Derive generalised advantage estimation (GAE) from TD errors and say what $\lambda$ trades off.
# - Write a complete PPO for vectorised CartPole-v1: rollouts, GAE, epochs of minibatch updates, learning-rate
#   annealing, gradient clipping, with gymnasium 1.x's auto-reset and time-limit truncation handled correctly.
# - Read PPO's diagnostics: approx-KL, clip fraction, explained variance.
# - Run ablations over several seeds and judge honestly which details matter on CartPole.
#
# **Prerequisites**: notebook 01 (the policy gradient, REINFORCE, a value baseline); PyTorch basics.
#
# **Run time**: about 2 to 3 minutes in the quick profile on a 2-core CPU (2.3 to 2.6 minutes measured on a busy one).

# %% [markdown]
# ## Setup
#
# Imports, then `rlhf_utils.setup`, which seeds everything and prints the profile. The networks are tiny, so torch runs
# on one thread (a second thread costs more than it saves). The reusable pieces live in two modules:
# `rlhf_utils.ppo` (GAE, the losses, the diagnostics: task-independent, notebook 05 reuses them) and
# `rlhf_utils.cartpole_ppo` (the CartPole agent and training loop, the same code we write below).

# %% tags=["exercise-setup"]
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

import rlhf_utils
from rlhf_utils import cartpole_ppo as cp
from rlhf_utils import ppo
from rlhf_utils.plotting import plot_learning_curves, rolling_mean
from rlhf_utils.policy_gradient import train_reinforce

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(1)

STEPS = course.profile.pick(quick=100_000, full=100_000)  # environment steps of the main run
ABLATION_STEPS = course.profile.pick(quick=40_000, full=100_000)  # per ablation run
SEEDS = course.profile.pick(quick=[0, 1, 2], full=[0, 1, 2, 3, 4, 5, 6, 7])  # seeds averaged in the ablations
print(f"main run: {STEPS:,} steps; ablations: {ABLATION_STEPS:,} steps x seeds {SEEDS}")


# %% [markdown]
# ## 1. Theory
#
# ### 1.1 From REINFORCE to actor–critic
#
# REINFORCE with a baseline (notebook 01) climbs the gradient
#
# $$\nabla_\theta J(\theta) \approx \frac{1}{N}\sum_t \nabla_\theta \log\pi_\theta(a_t\mid s_t)\,\big(G_t - V_\phi(s_t)\big).$$
#
# $G_t - V_\phi(s_t)$ estimates the **advantage** $A^\pi(s_t,a_t) = Q^\pi(s_t,a_t) - V^\pi(s_t)$: how much better $a_t$
# was than what the policy does on average in $s_t$. It is unbiased but noisy, because $G_t$ adds up every random
# reward until the episode ends, and we must wait for the end before we can learn.
#
# An **actor–critic** trusts the critic after one step instead: $Q(s_t,a_t) \approx r_t + \gamma V_\phi(s_{t+1})$, so
#
# $$\hat A_t = \delta_t = r_t + \gamma V_\phi(s_{t+1}) - V_\phi(s_t),$$
#
# the **temporal-difference (TD) error**. The *actor* $\pi_\theta$ picks actions, the *critic* $V_\phi$ judges them.
# We can now learn from fixed-length pieces of experience (rollouts) rather than whole episodes, at the price of a
# bias wherever the critic is wrong. GAE (section 1.5) picks any point between these two estimators.
#
# ### 1.2 Why large policy steps are dangerous
#
# A gradient is a local statement: it says how to change $\theta$ *near* the policy that collected the data. Three things
# make a big step risky in reinforcement learning:
#
# - **The policy makes its own data.** In supervised learning a bad step costs one bad minibatch. Here a step that makes the
#   policy worse also makes the *next batch* worse (the pole falls after 10 steps, so the agent never sees what to do later),
#   and training can collapse without recovering.
# - **Parameter distance is not behaviour distance.** A small change of $\theta$ can turn a 50/50 choice into 99/1.
# - **Data is expensive.** We would like several gradient steps on each batch of experience, but after the first step
#   the batch no longer comes from the current policy.
#
# TRPO (Schulman et al., 2015) fixes this with a hard constraint on the KL divergence between old and new policy.
# PPO (Schulman et al., 2017) gets most of the benefit with a first-order trick: clip the objective.
#
# ### 1.3 The probability ratio
#
# Collect a batch with the old policy $\pi_{\theta_\text{old}}$, then score a new $\theta$ with **importance sampling**:
# an average over samples drawn from one distribution estimates an average under another if each sample is weighted by
# how much more (or less) likely the other distribution makes it, here the ratio of the two policies' probabilities:
#
# $$r_t(\theta) = \frac{\pi_\theta(a_t\mid s_t)}{\pi_{\theta_\text{old}}(a_t\mid s_t)}, \qquad
# L^{CPI}(\theta) = \mathbb{E}_t\big[r_t(\theta)\,\hat A_t\big].$$
#
# At $\theta = \theta_\text{old}$ every ratio is 1 and $\nabla_\theta r_t = r_t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)
# = \nabla_\theta\log\pi_\theta(a_t\mid s_t)$, so the first gradient step on $L^{CPI}$ is exactly the policy gradient. But
# nothing in $L^{CPI}$ stops the optimiser: for an action with $\hat A_t > 0$ it pays to push $r_t \to \infty$, which is
# the "large step" of 1.2. In code we compute $r_t = \exp(\log\pi_\theta - \log\pi_{\theta_\text{old}})$ from log-probabilities.
#
# ### 1.4 The clipped objective
#
# $$L^{CLIP}(\theta) = \mathbb{E}_t\Big[\min\big(r_t(\theta)\,\hat A_t,\;\operatorname{clip}(r_t(\theta), 1-\epsilon, 1+\epsilon)\,\hat A_t\big)\Big]$$
#
# - $\hat A_t > 0$ (a good action): the objective grows with $r_t$ up to $1+\epsilon$, then it is flat: there is nothing
#   to gain by making the action even more likely, so the gradient of that sample is zero.
# - $\hat A_t < 0$ (a bad action): the objective grows as $r_t$ falls, down to $1-\epsilon$, then it is flat.
# - The $\min$ makes it pessimistic: clipping only removes the incentive to move *further in the improving direction*.
#   If an update went the wrong way ($r_t < 1-\epsilon$ although $\hat A_t > 0$), the unclipped term is the smaller
#   one and its gradient pulls the ratio back.
#
# Here is the objective of one sample as a function of $r$, and its slope, from our own two-line version; it must agree
# with `ppo.clipped_surrogate_loss` (which returns $-L^{CLIP}$, a loss to minimise, averaged over the samples).

# %%
def clip_objective(ratio: torch.Tensor, advantage: torch.Tensor, eps: float) -> torch.Tensor:
    # min(r A, clip(r, 1 - eps, 1 + eps) A), one value per sample
    return torch.min(ratio * advantage, torch.clamp(ratio, 1 - eps, 1 + eps) * advantage)


eps = 0.2
ratio = torch.linspace(0.3, 1.7, 281, requires_grad=True)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, adv in zip(axes, [1.0, -1.0]):
    advantage = torch.full_like(ratio, adv)
    objective = clip_objective(ratio, advantage, eps)
    (slope,) = torch.autograd.grad(objective.sum(), ratio)  # d objective_i / d r_i
    library = -ppo.clipped_surrogate_loss(torch.log(ratio), torch.zeros_like(ratio), advantage, clip_eps=eps)
    assert torch.allclose(library, objective.mean()), "our clip_objective disagrees with the library"
    r, obj, flat = ratio.detach(), objective.detach(), slope == 0
    ax.plot(r, r * adv, color="grey", ls="--", lw=1, label=r"unclipped $r\,A$")
    ax.plot(r, obj, lw=2.5, label=r"$L^{CLIP}$")
    ax.fill_between(r, obj.min() - 0.1, obj.max() + 0.1, where=flat.numpy(), color="tab:red", alpha=0.12,
                    label="gradient = 0")
    ax.axvline(1, color="black", lw=0.6)
    ax.axvline(1 - eps, color="tab:red", ls=":", lw=1)
    ax.axvline(1 + eps, color="tab:red", ls=":", lw=1)
    ax.set(xlabel=r"probability ratio $r = \pi_\theta / \pi_{\theta_{old}}$", ylabel="objective of one sample",
           title=f"A = {adv:+.0f}: flat (no gradient) for r {'> 1 + ε' if adv > 0 else '< 1 - ε'}")
    ax.legend(loc="upper left" if adv > 0 else "upper right", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the red regions: the gradient vanishes only on the side the update was already heading to. $\epsilon$ (0.2 is
# the usual value) is therefore a trust region in *probability space*: each sampled action's probability may move by
# about ±20% relative to the old policy before that sample stops pushing.
#
# ### 1.5 Generalised advantage estimation (GAE)
#
# Build the $k$-step advantage estimators from TD errors $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$; the sum telescopes:
#
# $$\hat A_t^{(k)} = \sum_{l=0}^{k-1} \gamma^l \delta_{t+l} = -V(s_t) + r_t + \gamma r_{t+1} + \dots + \gamma^{k-1} r_{t+k-1} + \gamma^k V(s_{t+k}).$$
#
# $k = 1$ leans entirely on the critic (low variance, biased where $V$ is wrong); $k \to \infty$ is the Monte-Carlo
# $G_t - V(s_t)$ (no bias from $V$, high variance). GAE (Schulman et al., 2016) averages all of them with weights
# $(1-\lambda)\lambda^{k-1}$:
#
# $$\hat A_t^{GAE(\gamma,\lambda)} = (1-\lambda)\sum_{k\ge 1}\lambda^{k-1}\hat A_t^{(k)} = \sum_{l\ge 0}(\gamma\lambda)^l\,\delta_{t+l}
# \quad\Longleftrightarrow\quad \hat A_t = \delta_t + \gamma\lambda\,\hat A_{t+1}.$$
#
# - $\lambda = 0$: $\hat A_t = \delta_t$, the one-step actor–critic. $\lambda = 1$: $\hat A_t = G_t - V(s_t)$, REINFORCE with a baseline.
#   In between, $\lambda$ is a **bias/variance dial**; $\gamma$ sets the horizon ($1/(1-\gamma)$ = 100 steps for $\gamma = 0.99$).
# - The critic's target is the **λ-return** $R_t = \hat A_t + V(s_t)$.
# - **Episode ends.** If the episode *terminated* at $t$ (the pole fell), there is no future: $\delta_t = r_t - V(s_t)$.
#   If it was *truncated* by the 500-step time limit, the pole was still up and the return would have gone on, so we keep
#   $\gamma V(s_{t+1})$, the value of the final observation (**bootstrapping**). In both cases the recursion stops there: the
#   next step belongs to another episode.
#
# ### 1.6 The whole loss, and what to watch
#
# $$\mathcal{L}(\theta, \phi) = -L^{CLIP}(\theta) + c_V\,L^V(\phi) - c_H\,H[\pi_\theta]$$
#
# - $L^V$ trains the critic towards the λ-returns $R_t$ of 1.5, with weight $c_V$ (`vf_coef`). We use the plain squared
#   error, $L^V = \tfrac12\,\mathbb{E}_t\big[(V_\phi(s_t) - R_t)^2\big]$.
# - PPO's original code also offers a *clipped* value loss, built like $L^{CLIP}$ (`vf_clip_coef`; off by default here).
#   $V_\text{old}(s_t)$ is the critic's prediction when the rollout was collected (`rollout.values`), and $\epsilon_V$
#   says how far one update may move a prediction away from it (in units of the return, not a ratio):
#
#   $$L^V_\text{clip} = \tfrac12\,\mathbb{E}_t\Big[\max\big((V_\phi - R_t)^2,\ (V_\text{old} + \operatorname{clip}(V_\phi - V_\text{old}, -\epsilon_V, \epsilon_V) - R_t)^2\big)\Big].$$
#
#   Once $V_\phi$ has moved more than $\epsilon_V$ from $V_\text{old}$ *towards* $R_t$, the clipped error is the larger
#   of the two and no longer depends on $\phi$, so that sample stops pulling; a move *away* from $R_t$ is never clipped.
#   It is the same pessimistic "no gain beyond the trust region" as in 1.4.
# - The entropy $H[\pi_\theta]$ (weight $c_H$, `ent_coef`) rewards uncertain policies, which keeps them exploring;
#   $c_H = 0$ is enough on CartPole (this notebook's runs use it).
#
# Three numbers tell whether an update was healthy. Section 3.1 plots them for the main run and prints their typical
# values and their extremes:
#
# | diagnostic | formula | what it tells | what to look for |
# |---|---|---|---|
# | approx-KL | $\mathbb{E}[(r-1) - \log r]$, an estimate of $KL(\pi_\text{old}\Vert\pi_\theta)$, in nats | how far one update moved the policy | small, and shrinking as the step size anneals; an isolated spike far above the median is one update that moved the policy a long way |
# | clip fraction | share of samples with $\lvert r - 1\rvert > \epsilon$ | how often the clip was active | neither 0 (the clip never acts) nor close to 1 (nearly every sample has moved past it) |
# | explained variance | $1 - \operatorname{Var}[R - V] / \operatorname{Var}[R]$ | how well the critic predicts the returns (1 = perfectly, 0 = no better than their mean) | high while the returns vary; noisy, even negative, once nearly every episode lasts the full 500 steps and the returns hardly vary |

# %% [markdown]
# ## 2. Build it
#
# ### 2.1 Vectorised CartPole in gymnasium 1.x
#
# `gym.make_vec("CartPole-v1", num_envs=8, vectorization_mode="vector_entry_point")` gives one environment object that
# simulates 8 carts in NumPy arrays: one `step(actions)` moves all eight. Two details decide whether PPO learns the right
# thing. Watch an episode end: we always push left, so the pole falls within about ten steps.

# %%
envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="vector_entry_point")
print(type(envs).__name__, "| autoreset mode:", envs.metadata["autoreset_mode"])
obs, _ = envs.reset(seed=0)
print(f"{'call':>4}  {'cart x (env 0)':>14}  {'angle':>7}  reward  terminated  truncated")
for call in range(12):
    obs, reward, terminated, truncated, info = envs.step(np.array([0, 0]))  # push left in both
    print(f"{call:>4}  {obs[0, 0]:>14.3f}  {obs[0, 2]:>7.3f}  {reward[0]:>6.1f}  {terminated[0]!s:>10}  {truncated[0]!s:>9}")
    if call > 0 and not (terminated[0] or truncated[0]) and reward[0] == 0:
        print("      ^ the auto-reset call: the action was ignored, the observation is a fresh episode's first")
envs.close()

# %% [markdown]
# **Auto-reset happens on the *next* step.** In gymnasium 1.x, vector environments reset a finished episode
# automatically, by default on the call *after* the one that returned `terminated` or `truncated`
# (`AutoresetMode.NEXT_STEP`). That call ignores the action and returns the first observation of a new episode with
# reward 0 and both flags false. It is **not a transition**: the pair (final observation, action) → (first observation)
# never happened. If we recorded it like any other step, the critic would learn that a fallen pole is followed by an
# upright one, and the actor would be credited for an action that did nothing. So we keep it in the buffer (it keeps every array rectangular, `(num_envs, num_steps)`) with `mask = False`,
# and every loss and GAE ignore masked steps.
#
# The upside of this mode: the step that ends an episode returns that episode's **final observation** as its ordinary
# `obs`, so the value we need to bootstrap a truncation, $V(s_{T})$, is simply the value of the next recorded
# observation. (The alternative, `AutoresetMode.SAME_STEP`, resets inside the same call and hides the final observation
# in `info["final_obs"]`; gymnasium's NumPy-vectorised CartPole only implements `NEXT_STEP`, and the general
# `SyncVectorEnv` that offers both runs one Python environment per cart: about twice as slow per step for 8 carts here.)
#
# **Truncation is not termination.** CartPole-v1 cuts every episode at 500 steps: `truncated=True`, `terminated=False`.
# The time limit is not part of the state the agent sees, so treating it as a crash would teach the critic that upright,
# centred poles near step 500 are worth nothing. We bootstrap instead (1.5). Shorten the limit to 5 steps to see it:

# %%
envs = gym.make_vec("CartPole-v1", num_envs=1, vectorization_mode="vector_entry_point", max_episode_steps=5)
obs, _ = envs.reset(seed=0)
for call in range(7):
    obs, reward, terminated, truncated, _ = envs.step(np.array([call % 2]))  # alternate: the pole stays up
    note = "<- final observation of a truncated episode: bootstrap from V(this)" if truncated[0] else ""
    note = note or ("<- auto-reset call: masked" if reward[0] == 0 else "")
    print(f"call {call}: reward {reward[0]:.0f}, terminated {terminated[0]!s:5}, truncated {truncated[0]!s:5} {note}")
envs.close()

# %% [markdown]
# ### 2.2 The actor and the critic
#
# Two small MLPs (`cp.Agent`): the actor maps the 4 observation numbers to 2 action logits, the critic to one value.
# They are separate networks, so the value loss cannot disturb the policy's features. Weights start orthogonal; the
# actor's last layer is scaled by 0.01 so the initial policy is almost exactly 50/50: no accidental preference that
# training would first have to unlearn.

# %%
config = cp.PPOConfig(seed=course.seed, total_steps=STEPS, progress=True)
print(config)
agent = cp.Agent(hidden=config.hidden, activation=config.activation)
print(agent)
print(f"{sum(p.numel() for p in agent.parameters()):,} parameters")
with torch.no_grad():
    logits, value = agent(torch.zeros(1, 4))
print("initial policy at the origin:", torch.softmax(logits, -1).numpy().round(3), " value:", value.numpy().round(3))


# %% [markdown]
# `PPOConfig` is a dataclass in the style of CleanRL (a collection of single-file, readable implementations of RL
# algorithms): every hyperparameter in one place, each field with a one-line docstring (`help(cp.PPOConfig)` shows
# them). The defaults start from the settings that the RL zoo (rl-baselines3-zoo, the collection of tuned
# hyperparameters and training scripts for Stable-Baselines3, a widely used PyTorch library of RL algorithms) gives
# PPO on CartPole-v1: 8 environments × 32 steps per rollout, 20 epochs on one minibatch, learning rate and $\epsilon$
# decaying linearly to 0. They were then tuned on seeds 0–9: a 5× larger learning rate (5e-3), $\gamma = 0.99$,
# $\lambda = 0.9$, and ReLU instead of tanh (as good here, and cheaper to compute).
#
# ### 2.3 GAE by hand
#
# The recursion $\hat A_t = \delta_t + \gamma\lambda(1 - \text{done}_t)\hat A_{t+1}$ for one stream of steps, in plain
# Python. Test it on five steps where we know the answer: an episode that terminates at $t = 2$, then one truncated by
# the time limit at $t = 4$ (bootstrapped from $V = 6$), with $\gamma = 0.9$, $\lambda = 0.5$:
#
# | $t$ | $r_t$ | $V(s_t)$ | $V(s_{t+1})$ | end | $\delta_t$ | $\hat A_t$ |
# |---|---|---|---|---|---|---|
# | 0 | 1 | 1 | 2 |  | $1 + 0.9\cdot 2 - 1 = 1.8$ | $1.8 + 0.45\cdot 0.8 = 2.16$ |
# | 1 | 1 | 2 | 3 |  | $1 + 0.9\cdot 3 - 2 = 1.7$ | $1.7 + 0.45\cdot(-2) = 0.8$ |
# | 2 | 1 | 3 | (7) | terminated | $1 - 3 = -2$ | $-2$ |
# | 3 | 1 | 4 | 5 |  | $1 + 0.9\cdot 5 - 4 = 1.5$ | $1.5 + 0.45\cdot 1.4 = 2.13$ |
# | 4 | 1 | 5 | 6 | truncated | $1 + 0.9\cdot 6 - 5 = 1.4$ | $1.4$ |

# %%
def gae_by_hand(rewards, values, next_values, terminated, dones, gamma, lam):
    advantages = [0.0] * len(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * (1 - terminated[t]) * next_values[t] - values[t]  # TD error
        running = delta + gamma * lam * (1 - dones[t]) * running  # stop at the end of an episode
        advantages[t] = running
    return advantages


rewards, values, next_values = [1, 1, 1, 1, 1], [1, 2, 3, 4, 5], [2, 3, 7, 5, 6]
terminated, dones = [0, 0, 1, 0, 0], [0, 0, 1, 0, 1]
mine = gae_by_hand(rewards, values, next_values, terminated, dones, gamma=0.9, lam=0.5)
print("by hand:", np.round(mine, 4))
as_bt = lambda x, dtype=torch.float32: torch.tensor([x], dtype=dtype)  # (batch=1, time=5)
library, returns = ppo.gae(as_bt(rewards), as_bt(values), as_bt(next_values), as_bt(terminated, torch.bool),
                           as_bt(dones, torch.bool), gamma=0.9, lam=0.5)
print("library:", library.numpy().round(4), " returns R = A + V:", returns.numpy().round(4))
assert np.allclose(mine, [2.16, 0.8, -2.0, 2.13, 1.4]) and np.allclose(mine, library[0].numpy())


# %% [markdown]
# `ppo.gae` is the same recursion, vectorised over a batch of rows and with a `mask` for steps that are not transitions.
# It takes `(batch, time)` tensors, which is why notebook 05 can use it unchanged on `(sequences, tokens)`.
# (Exercise 1 asks you to write that version.)
#
# ### 2.4 Collecting a rollout
#
# One rollout = `num_steps` calls to `envs.step` with the current policy, stored as `(num_envs, num_steps)` tensors.
# Things to notice:
# - `torch.inference_mode()`: no autograd bookkeeping while acting; we recompute log-probabilities with gradients in the update.
# - `mask[t] = not prev_done`: the call after an episode end is the auto-reset call (2.1).
# - `next_values` is `values` shifted by one, plus the value of the observation after the last step. When step $t$ ended
#   an episode, the next recorded observation is its final one: exactly what a truncation bootstraps from.
# - The environments keep running between rollouts (`state`): a rollout may stop mid-episode, and GAE bootstraps from
#   $V$ of the last observation.

# %%
def collect_rollout(envs, agent, state, num_steps):
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
            logp_all = torch.log_softmax(agent.actor(obs_buf[t]), dim=-1)
            action = torch.multinomial(logp_all.exp(), 1)  # a_t ~ pi(.|s_t)
            actions[t] = action.squeeze(1)
            logprobs[t] = logp_all.gather(1, action).squeeze(1)  # log pi_old(a_t|s_t), kept for the ratio
            mask[t] = ~state.prev_done  # an auto-reset call is not a transition
            obs, rewards[t], terminated[t], truncated[t], _ = envs.step(actions[t].numpy())
            done = terminated[t] | truncated[t]
            state.global_step += n
            state.episode_return += rewards[t]
            for i in np.flatnonzero(done):  # bookkeeping for the learning curve
                state.episode_returns.append(float(state.episode_return[i]))
                state.episode_end_steps.append(state.global_step)
                state.episode_end_seconds.append(time.perf_counter() - state.start_time)
            state.episode_return[done] = 0.0
            state.prev_done = done
        obs_buf[num_steps] = torch.from_numpy(obs)
        all_values = agent.critic(obs_buf).squeeze(-1)  # V(s_0) ... V(s_num_steps) in one call
    state.obs = obs
    bt = lambda x: torch.as_tensor(x).T.contiguous()  # (time, batch) -> (batch, time)
    return cp.Rollout(
        obs=obs_buf[:num_steps].transpose(0, 1).contiguous(), actions=bt(actions), logprobs=bt(logprobs),
        values=bt(all_values[:num_steps]), next_values=bt(all_values[1:]), rewards=bt(rewards),
        terminated=bt(terminated), dones=bt(terminated | truncated), mask=bt(mask),
    )


# %% [markdown]
# Try it with the untrained agent: 8 CartPoles for 64 steps. A random policy drops the pole after about 20 steps, so
# several episodes end, and each end is followed by exactly one masked call.

# %%
torch.manual_seed(0)
envs, state = cp.make_envs(num_envs=8, seed=0)  # the vector env plus the bookkeeping `state`
rollout = collect_rollout(envs, cp.Agent(), state, num_steps=64)
envs.close()
print({name: tuple(getattr(rollout, name).shape) for name in ["obs", "actions", "logprobs", "values", "mask"]})
print(f"episodes ended: {int(rollout.dones.sum())}, masked auto-reset calls: {int((~rollout.mask).sum())}, "
      f"mean return of the finished episodes: {np.mean(state.episode_returns):.1f}")
assert torch.equal(rollout.next_values[:, :-1], rollout.values[:, 1:])
assert torch.equal(~rollout.mask[:, 1:], rollout.dones[:, :-1]), "every episode end is followed by one masked call"

# %% [markdown]
# How λ shapes the advantages of this rollout: with $\lambda = 0$ every step only sees its own TD error; with
# $\lambda = 1$ the (untrained) critic is ignored and each step sees the whole rest of its episode. Masked steps are 0.

# %%
fig, ax = plt.subplots(figsize=(10, 3))
for lam in [0.0, 0.9, 1.0]:
    adv, _ = ppo.gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.dones,
                     gamma=0.99, lam=lam, mask=rollout.mask)
    ax.plot(adv[0], marker=".", label=f"λ = {lam}")
for t in np.flatnonzero(rollout.dones[0]):
    ax.axvline(t, color="grey", ls=":", lw=1)
ax.set(xlabel="time step t of the rollout (env 0; dotted lines: episode ends)",
       ylabel=r"advantage $\hat A_t$ (return units)",
       title="GAE of one rollout, untrained critic: λ = 0 flat, λ = 1 counting down each episode")
ax.legend()
plt.show()
print(f"the untrained critic's largest |V(s)| on this rollout: {rollout.values.abs().max():.2f} (the reward per step is 1)")


# %% [markdown]
# Read it: the untrained critic predicts values near 0 (printed), so with $\lambda = 0$ every step's advantage is its TD
# error $\delta_t \approx r_t = 1$: a flat line. With $\lambda = 1$ each step sees the discounted sum of the rewards left
# in its episode, so the line counts down from the start of each episode to about 1 at its last step; the episode
# still running when the rollout stops is cut there and bootstraps from $V$. $\lambda = 0.9$ lies in between, and every
# masked auto-reset call sits at 0.
#
# ### 2.5 The PPO update
#
# `update_epochs` passes over the rollout; each pass is split into `num_minibatches` shuffled minibatches, and each
# minibatch is one gradient step on the loss of 1.6. Only real transitions (`mask`) are learned from. The pieces are
# the library's: `ppo.normalize_advantages`, `ppo.clipped_surrogate_loss`, `ppo.value_loss`, `ppo.entropy_bonus`,
# `ppo.ppo_diagnostics`. `clip_grad_norm_` rescales the gradient when its global norm exceeds `max_grad_norm`, a
# safety net against the occasional huge value-loss gradient.

# %%
def ppo_update(agent, optimizer, rollout, advantages, returns, config, clip_coef):
    valid = rollout.mask
    b_obs, b_actions = rollout.obs[valid], rollout.actions[valid]
    b_logprobs, b_values, b_returns = rollout.logprobs[valid], rollout.values[valid], returns[valid]
    b_advantages = ppo.normalize_advantages(advantages[valid]) if config.norm_adv else advantages[valid]
    batch_size = b_obs.shape[0]
    for _ in range(config.update_epochs):
        if config.num_minibatches == 1:
            minibatches = [slice(None)]  # the whole rollout: no need to shuffle
        else:
            minibatches = torch.randperm(batch_size).chunk(config.num_minibatches)
        for idx in minibatches:
            logits, new_values = agent(b_obs[idx])
            new_logprobs = torch.log_softmax(logits, dim=-1).gather(1, b_actions[idx, None]).squeeze(1)
            pg_loss = ppo.clipped_surrogate_loss(new_logprobs, b_logprobs[idx], b_advantages[idx], clip_eps=clip_coef)
            v_loss = ppo.value_loss(new_values, b_values[idx], b_returns[idx], clip_eps=config.vf_clip_coef)
            loss = pg_loss + config.vf_coef * v_loss
            if config.ent_coef:
                loss = loss - config.ent_coef * ppo.entropy_bonus(logits)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
    with torch.no_grad():  # diagnostics of the last minibatch (approx-KL, clip fraction) and of the rollout
        stats = ppo.ppo_diagnostics(new_logprobs, b_logprobs[idx], b_values, b_returns,
                                    clip_eps=clip_coef if clip_coef is not None else 0.2)
        stats.update(policy_loss=pg_loss.item(), value_loss=v_loss.item(), entropy=ppo.entropy_bonus(logits).item())
    return stats


# %% [markdown]
# ### 2.6 The training loop
#
# Rollout → GAE → update, repeated. Before each update the learning rate (and, as in the RL zoo's CartPole setting,
# $\epsilon$) decays linearly towards 0, so late updates only fine-tune. The bar shows the mean return of the last 20
# finished episodes.

# %%
def train(config):
    torch.manual_seed(config.seed)
    envs, state = cp.make_envs(config.num_envs, config.seed)
    agent = cp.Agent(hidden=config.hidden, activation=config.activation)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
    steps_per_rollout = config.num_envs * config.num_steps
    num_updates = max(1, config.total_steps // steps_per_rollout)
    history = []
    bar = tqdm(total=num_updates * steps_per_rollout, unit="step", desc=f"PPO seed {config.seed}",
               disable=not config.progress)
    for update in range(num_updates):
        frac = 1.0 - update / num_updates  # linear annealing: 1 -> 1/num_updates
        lr = config.learning_rate * frac if config.anneal_lr else config.learning_rate
        optimizer.param_groups[0]["lr"] = lr
        clip_coef = config.clip_coef
        if clip_coef is not None and config.anneal_clip:
            clip_coef *= frac
        rollout = collect_rollout(envs, agent, state, config.num_steps)
        advantages, returns = ppo.gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated,
                                      rollout.dones, gamma=config.gamma, lam=config.gae_lambda, mask=rollout.mask)
        stats = ppo_update(agent, optimizer, rollout, advantages, returns, config, clip_coef)
        history.append({"global_step": state.global_step, "learning_rate": lr, "clip_coef": clip_coef or 0.0, **stats})
        bar.update(steps_per_rollout)
        if state.episode_returns:
            bar.set_postfix(mean_return_20=f"{np.mean(state.episode_returns[-20:]):.0f}")
    bar.close()
    envs.close()
    return cp.PPOResult(state.episode_returns, state.episode_end_steps, state.episode_end_seconds, agent,
                        time.perf_counter() - state.start_time, history, config)


# %% [markdown]
# ## 3. Run it
#
# ### 3.1 Train
#
# `STEPS` environment steps on seed 0 (8 CartPoles side by side, so 1/8 of that per cart). On a laptop CPU this takes
# seconds. Watch the mean return climb from about 20 (random) to 500 (the time limit).

# %%
result = train(config)
reached = cp.first_step_reaching(result.episode_returns, result.episode_end_steps, threshold=475, window=20)
print(f"{len(result.episode_returns)} episodes in {result.wall_seconds:.1f} s; "
      f"20-episode mean first >= 475 at step {reached}; last 20 episodes: {np.mean(result.episode_returns[-20:]):.1f}")

# %% [markdown]
# The diagnostics of 1.6, one value per update: their median over the first and the last quarter of the updates, and
# their extremes.

# %%
steps = np.array([h["global_step"] for h in result.history])
diag = {key: np.array([h[key] for h in result.history]) for key in ["approx_kl", "clip_fraction", "explained_variance"]}
quarter = len(steps) // 4
for key, values in diag.items():
    print(f"{key:18}  median: first quarter {np.median(values[:quarter]):7.4f}, last quarter {np.median(values[-quarter:]):7.4f}"
          f";  smallest {values.min():7.3f}, largest {values.max():.3f} (step {steps[values.argmax()]:,})")

# %% [markdown]
# And the run after it first reached 475: the deepest dip of the 20-episode mean (when it fell below 475, how low it
# went, when it came back), and the update with the largest approx-KL from that point on, with when it came, the
# number of episodes that ended in its rollout, and its learning rate. Last, the updates whose rollout saw no episode
# end at all.

# %%
assert reached is not None, "PPO never reached a 20-episode mean of 475 (see the result check): nothing to analyse here"
steps_per_rollout = config.num_envs * config.num_steps
ends, smooth = np.array(result.episode_end_steps), rolling_mean(result.episode_returns, 20)
after = np.flatnonzero(ends > reached)  # episodes that finished after the 20-episode mean first reached 475
low = after[np.argmin(smooth[after])]
late = steps > reached  # the updates after that point
spike = np.flatnonzero(late)[np.argmax(diag["approx_kl"][late])]
spike_step, spike_kl, kl_median_late = steps[spike], diag["approx_kl"][spike], np.median(diag["approx_kl"][late])
ends_in_rollout = lambda step: int(((ends > step - steps_per_rollout) & (ends <= step)).sum())
quiet = late & np.array([ends_in_rollout(step) == 0 for step in steps])  # rollouts in which no episode ended
print(f"largest approx-KL after step {reached:,}: {spike_kl:.3f} at step {spike_step:,}, {spike_kl / kl_median_late:.0f} x "
      f"the median of those updates ({kl_median_late:.4f}); episodes that ended in its rollout: "
      f"{ends_in_rollout(spike_step)}; learning rate {result.history[spike]['learning_rate']:.2g} (start {config.learning_rate:g})")
if smooth[low] >= 475:
    print("the 20-episode mean never fell below 475 again")
else:
    above = after[(after < low) & (smooth[after] >= 475)]
    dip_start = ends[above[-1] + 1] if above.size else ends[after[0]]  # from here it stays below 475 until the low
    back = after[(after > low) & (smooth[after] >= 475)]
    gap = dip_start - spike_step
    print(f"the 20-episode mean fell below 475 at step {dip_start:,} ({abs(gap):,} steps {'after' if gap >= 0 else 'before'} "
          f"that update), down to {smooth[low]:.0f} at step {ends[low]:,}, "
          + (f"and was back to >= 475 at step {ends[back[0]]:,}" if back.size else "and never came back to 475"))
print(f"{quiet.sum()} of the {late.sum()} updates after step {reached:,} had no episode end in their rollout; "
      f"their median approx-KL: {np.median(diag['approx_kl'][quiet]):.4f}")

# %% [markdown]
# Now the learning curve and the three diagnostics. The dotted line in every panel marks that largest approx-KL
# update after the run first reached 475 (printed above).

# %%
fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
plot_learning_curves({"PPO (by hand)": [result]}, target=500, ax=axes[0], ylabel="return (steps balanced)",
                     title=f"PPO, seed {config.seed}: solved, and does it stay solved?")
panels = {"approx_kl": ("approx-KL (nats)", "approx-KL per update: look for spikes"),
          "clip_fraction": ("share of samples clipped", "clip fraction per update"),
          "explained_variance": ("explained variance (1 = perfect)", "explained variance (axis cut at -0.5)")}
for ax, (key, (ylabel, title)) in zip(axes[1:], panels.items()):
    ax.plot(steps, diag[key], lw=0.8)
    ax.set(xlabel="environment steps", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
for ax in axes:
    ax.axvline(spike_step, color="tab:red", ls=":", lw=1.2)
axes[3].set_ylim(-0.5, 1.05)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the panels with the numbers printed above:
#
# - **Approx-KL** shrinks as the learning rate and $\epsilon$ anneal towards 0 (its median over the last quarter of the
#   updates is below the first quarter's: the result check asserts it), and look for isolated spikes: single updates
#   that moved the policy much further than the others (the largest is printed with its step).
# - **The clip fraction** changes much less (compare its two medians): it is measured against $\epsilon$, which shrinks
#   along with the steps.
# - **Explained variance** is honest but noisy here. While the returns vary, the critic learns to predict them; once
#   most episodes run to 500 steps, the returns inside one rollout barely vary, and a ratio of two small variances
#   jumps around and can drop below 0 (compare its two medians). Read it over many updates, not one.
#
# **Why a solved run can crash, and when.** If the learning curve falls after reaching 500, look at the dotted line:
# the printed lines say when the 20-episode mean fell below 475, how low it went and when it came back, and how many
# steps after the largest approx-KL update the fall began. When that update comes just before the fall, here is the
# mechanism. Once every cart balances for a whole rollout, no episode ends inside it (the printed count for that
# update's rollout), every reward is 1, and the advantages carry almost no signal: only the critic's small errors.
# Advantage normalisation rescales them to unit size anyway, so the update follows noise. Most such updates do little
# (the median approx-KL of those "quiet" rollouts is printed last), but with 20 epochs on one minibatch and a learning
# rate still well above 0 (printed, with its start value), one of them can move the policy far enough that it starts
# dropping the pole. From then on its own data is short
# episodes with large, informative advantages, and it learns its way back; the 20-episode mean needs 20 full episodes,
# 10,000 environment steps, before it shows the recovery. A smaller learning rate, fewer epochs, or stopping the epochs
# early once approx-KL passes a target (question 2) trade speed for a steadier curve.

# %% [markdown]
# ### 3.2 The same code as the library
#
# `cp.train_ppo` is the loop above, in `rlhf_utils/cartpole_ppo.py` (the benchmark and the ablations call it). Same
# seed, same random numbers, so a short run of each must give *identical* episodes.

# %%
short = cp.PPOConfig(seed=7, total_steps=8_192)
ours, library = train(short), cp.train_ppo(short)
assert ours.episode_returns == library.episode_returns and ours.episode_end_steps == library.episode_end_steps
print(f"identical: {len(ours.episode_returns)} episodes, same returns at the same steps")

# %% [markdown]
# ### 3.3 Watch it balance
#
# The greedy policy (most likely action) over 10 fresh episodes, and where the pole and cart go in one of them.

# %%
eval_returns = cp.evaluate(result.agent, n_episodes=10, seed=10_000)
print("greedy evaluation, 10 episodes:", eval_returns)

env = gym.make("CartPole-v1")
obs, _ = env.reset(seed=12_345)
states, done = [obs], False
while not done:
    with torch.no_grad():
        action = int(result.agent.actor(torch.as_tensor(obs)).argmax())
    obs, _, terminated, truncated, _ = env.step(action)
    states.append(obs)
    done = terminated or truncated
env.close()
states = np.array(states)
print(f"one greedy episode: {len(states) - 1} steps, terminated={terminated}, truncated={truncated}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3))
ax1.plot(np.degrees(states[:, 2]))
ax1.set(xlabel="time step", ylabel="pole angle (degrees)", title="Pole angle: inside the ±12° limits (red)?")
ax2.plot(states[:, 0], color="tab:orange")
ax2.set(xlabel="time step", ylabel="cart position (m)", title="Cart position: inside the ±2.4 m track (red)?")
for ax, limit in [(ax1, 12), (ax2, 2.4)]:
    ax.axhline(limit, color="red", ls="--", lw=1)
    ax.axhline(-limit, color="red", ls="--", lw=1)
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read it as in notebook 01: an episode that runs to the 500-step limit (printed: `truncated=True`) keeps both traces
# between the red lines; a fall would show as a trace leaving them at its last step. The result check below asserts
# the greedy policy's mean over the 10 evaluation episodes, not this one episode.

# %% [markdown]
# ### Result check
#
# PPO must reach a mean return of 475 over 20 consecutive training episodes within 100,000 environment steps, the
# final greedy policy must score at least 475 on average over 10 evaluation episodes, and approx-KL must shrink as the
# learning rate and $\epsilon$ anneal (median over the last quarter of the updates below the first quarter's).

# %%
last20 = float(np.mean(result.episode_returns[-20:]))
assert reached is not None and reached <= 100_000, (
    f"PPO did not reach a 20-episode mean of 475 within 100k steps (first reached: {reached}; last 20: {last20:.1f})")
assert np.mean(eval_returns) >= 475, f"greedy evaluation mean {np.mean(eval_returns):.1f} < 475: {eval_returns}"
kl_early, kl_late = np.median(diag["approx_kl"][:quarter]), np.median(diag["approx_kl"][-quarter:])
assert kl_late < kl_early, f"approx-KL should shrink as the step size anneals: median {kl_early:.4f} -> {kl_late:.4f}"
print(f"OK: 475 first reached at step {reached:,}; greedy evaluation mean {np.mean(eval_returns):.1f}; "
      f"last 20 training episodes {last20:.1f}; median approx-KL {kl_early:.4f} in the first quarter of the updates, "
      f"{kl_late:.4f} in the last")

# %% [markdown]
# ### 3.4 Ablations: which details matter here?
#
# Each run switches off one detail and keeps everything else, on the same seeds:
#
# - **no clipping**: $\epsilon = $ `None`, the plain importance-sampled surrogate $L^{CPI}$, still with 20 epochs per rollout;
# - **no advantage normalisation**: raw GAE advantages;
# - **λ = 0, 0.95, 1**: one-step TD advantages, the common default, Monte-Carlo advantages up to the end of the rollout (our default is λ = 0.9);
# - **REINFORCE** (notebook 01's `train_reinforce`, with its value baseline) on the same axis of environment steps.
#
# One seed tells little on CartPole: runs of the same configuration can differ by thousands of steps (the table below
# prints every seed, so you can see by how much on yours). So every curve is the mean over `SEEDS`, with a band from the
# lowest to the highest seed. The runs are independent, so they go to two worker processes (one per core).

# %%
VARIANTS = {
    "PPO (default)": {},
    "no clipping": {"clip_coef": None},
    "no advantage normalisation": {"norm_adv": False},
    "λ = 0": {"gae_lambda": 0.0},
    "λ = 0.95": {"gae_lambda": 0.95},
    "λ = 1": {"gae_lambda": 1.0},
}
jobs = [(name, seed) for name in [*VARIANTS, "REINFORCE"] for seed in SEEDS]
runs = {name: [] for name, _ in jobs}
with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
    futures = [
        pool.submit(train_reinforce, seed=seed, max_env_steps=ABLATION_STEPS, variant="baseline")
        if name == "REINFORCE"
        else pool.submit(cp.train_ppo, seed=seed, total_steps=ABLATION_STEPS, **VARIANTS[name])
        for name, seed in jobs
    ]
    for (name, seed), future in zip(jobs, tqdm(futures, desc="ablation runs")):
        runs[name].append(future.result())

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 4.5), sharey=True)
plot_learning_curves({k: runs[k] for k in ["PPO (default)", "no clipping", "no advantage normalisation", "REINFORCE"]},
                     target=500, band="minmax", ax=axes[0], ylabel="return (steps balanced)",
                     title="One detail off: which curves fall behind? (band: min-max over seeds)")
plot_learning_curves({k: runs[k] for k in ["PPO (default)", "λ = 0", "λ = 0.95", "λ = 1"]},
                     target=500, band="minmax", ax=axes[1], ylabel="return (steps balanced)",
                     title="GAE λ: which values separate? (band: min-max over seeds)")
plt.tight_layout()
plt.show()

print(f"{'variant':27} {'first step with 20-ep. mean >= 475':36} {'last-20 mean':16} {'largest approx-KL':20} final entropy")
summary = {}
for name, rs in runs.items():
    firsts = [cp.first_step_reaching(r.episode_returns, r.episode_end_steps) for r in rs]
    finals = [float(np.mean(r.episode_returns[-20:])) for r in rs]
    summary[name] = (firsts, finals)
    shown = ", ".join("never" if f is None else f"{f:,}" for f in firsts)
    line = f"{name:27} {shown:36} {', '.join(f'{f:.0f}' for f in finals):16}"
    if name != "REINFORCE":  # PPO runs log their diagnostics; entropy of ln 2 = 0.69 is a 50/50 policy
        max_kl = [max(h["approx_kl"] for h in r.history) for r in rs]
        entropy = [r.history[-1]["entropy"] for r in rs]
        line += f" {', '.join(f'{k:.2f}' for k in max_kl):20} {', '.join(f'{e:.2f}' for e in entropy)}"
    print(line)

# %% [markdown]
# The same table boiled down to the numbers the notes below read, for each variant: on how many seeds it reached a
# 20-episode mean of 475, its median first step (a seed that never reached it counts as later than any), how many
# times the default's steps each seed needed ("-" where the variant never got there), the median over seeds of the
# largest approx-KL of a run, and how many seeds ended with a deterministic policy (final entropy below 0.05 nats,
# against $\ln 2 = 0.69$ for 50/50).

# %%
never = float("inf")
first = {name: [never if f is None else f for f in firsts] for name, (firsts, _) in summary.items()}
largest_kl = {name: float(np.median([max(h["approx_kl"] for h in r.history) for r in rs]))
              for name, rs in runs.items() if name != "REINFORCE"}
deterministic = {name: sum(r.history[-1]["entropy"] < 0.05 for r in rs) for name, rs in runs.items() if name != "REINFORCE"}
print(f"{'variant':27} {'reached':9} {'median first step':18} {'x the default, per seed':24} {'largest approx-KL':18} deterministic")
for name in runs:
    times = ", ".join("-" if f == never else f"{f / d:.2f}" for f, d in zip(first[name], first["PPO (default)"]))
    median = np.median(first[name])
    print(f"{name:27} {sum(f < never for f in first[name])} of {len(SEEDS):<4} {'never' if median == never else f'{median:,.0f}':18} "
          f"{times:24} {f'{largest_kl[name]:.2f}' if name in largest_kl else '-':18} {deterministic.get(name, '-')}")
default_spread = max(first["PPO (default)"]) - min(first["PPO (default)"])
print(f"\nthe default's seeds differ by {default_spread:,.0f} steps; medians of λ = 0.9 (default), 0.95, 1: "
      + ", ".join(f"{np.median(first[k]):,.0f}" for k in ["PPO (default)", "λ = 0.95", "λ = 1"]))
print(f"PPO's median first step is {np.median(first['PPO (default)']) / np.median(first['REINFORCE']):.2f} x REINFORCE's"
      if np.median(first["REINFORCE"]) < never else "REINFORCE's median seed never reached 475 within the budget")

# %% [markdown]
# What the seeds say (the printed numbers are those of your run; a different CPU can change individual runs):
#
# - **Clipping matters with these settings.** Without it, nothing stops 20 epochs at learning rate 5e-3 from pushing
#   the policy far from the one that collected the data: compare the largest approx-KL of "no clipping" with the
#   default's (the result check asserts it is at least twice as large, in median over the seeds). The clip is not a
#   hard bound (section 3.1 showed the default's spikes too), but it removes the incentive to go further. One such step
#   can make the policy deterministic: it always pushes the same way and the pole falls after about 9 steps, as in the
#   push-left demo of 2.1, so such a seed shows a final entropy near 0 and a last-20 mean near 9. A deterministic
#   policy explores nothing, so its own data can never show it a better action, and it does not recover: count the
#   deterministic seeds above. This is the "one bad step" of section 1.2, live. (To see the trade-off, try
#   `cp.train_ppo(seed=0, total_steps=ABLATION_STEPS, clip_coef=None, learning_rate=1e-3)`: without the clip, a 5×
#   smaller learning rate.)
# - **Advantage normalisation** makes the size of each step independent of the scale of the advantages, which changes
#   as the critic learns. Compare its row with the default's: the seeds that reached 475, and how many times the
#   default's steps each one needed.
# - **λ = 0 leans entirely on the critic.** One-step TD errors rely on a critic that knows nothing yet, so early
#   advantages carry little information about which action was good; amplified by normalisation and 20 epochs per
#   rollout, the updates mostly follow noise. That is the *bias* end of the bias/variance dial, and its row shows the
#   price (the result check asserts that it reaches 475 on fewer seeds than the default, or later in median). A seed
#   that ends deterministic, as above, cannot explore its way out.
# - **λ = 0.9 (default), 0.95 and 1**: compare their medians with how far apart the default's own seeds are (both
#   printed): a gap between medians smaller than the spread of one configuration's seeds is noise. Why little
#   difference is to be expected: GAE stops at the end of each 32-step rollout and bootstraps from $V$ there, so
#   even λ = 1 adds up at most 32 rewards, not a whole 500-step episode; most of the variance that slows REINFORCE is
#   cut off anyway. On tasks with sparse or delayed rewards and longer rollouts, λ matters far more.
# - **REINFORCE** reaches 475 later than PPO on the same axis, or not within the budget (the printed ratio of the
#   medians; the result check asserts PPO's is at most 0.7 times REINFORCE's): it takes one gradient step per batch of
#   whole episodes, PPO takes 20 per rollout, kept safe by the ratio and the clip.
# - **PPO can wobble after it has solved the task**: section 3.1 printed whether the main run did, when, and the
#   update that preceded it.
#
# The check below asserts what these notes claim and must hold on any machine: PPO solves CartPole on every seed within
# the budget and far sooner than REINFORCE, removing the clip at least doubles the largest approx-KL, and λ = 0 falls
# behind the default.

# %%
assert max(first["PPO (default)"]) < never, (
    f"PPO (default) did not reach 475 on every seed within {ABLATION_STEPS:,} steps: {first['PPO (default)']}")
assert np.median(first["PPO (default)"]) <= 0.7 * np.median(first["REINFORCE"]), (
    f"PPO should reach 475 far sooner than REINFORCE: median step {np.median(first['PPO (default)']):,.0f} "
    f"vs {np.median(first['REINFORCE']):,.0f}")
assert largest_kl["no clipping"] >= 2 * largest_kl["PPO (default)"], (
    f"without the clip the largest approx-KL should at least double: {largest_kl}")
lam0_reached, default_reached = sum(f < never for f in first["λ = 0"]), len(SEEDS)
assert lam0_reached < default_reached or np.median(first["λ = 0"]) > np.median(first["PPO (default)"]), (
    f"λ = 0 should fall behind the default: first steps {first['λ = 0']} vs {first['PPO (default)']}")
print(f"OK: PPO reached 475 on all {len(SEEDS)} seeds, median step {np.median(first['PPO (default)']):,.0f}; "
      f"REINFORCE median {np.median(first['REINFORCE']):,.0f}; largest approx-KL without the clip "
      f"{largest_kl['no clipping']:.2f} vs {largest_kl['PPO (default)']:.2f}; λ = 0 reached 475 on {lam0_reached} seeds")


# %% [markdown]
# ## 4. Exercises
#
# ### Exercise 1: GAE for a batch, with a mask
#
# Write `my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask)` for `(batch, time)` tensors, the
# version notebook 05 needs: loop backwards over time, but handle all rows at once. `terminated`, `dones` and `mask` are
# 0/1 float tensors (1 = true), so you can multiply by them. A masked step (`mask = 0`) gets advantage 0 and passes
# nothing back to earlier steps; returns are $\hat A + V$ on unmasked steps and 0 on masked ones. An episode end
# (`dones = 1`) must stop the recursion by itself: some of the checker's rows start a new episode on the very next,
# unmasked, step. Return `(advantages, returns)`.

# %%
def my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    # your code here
    raise NotImplementedError


# %%
def gae_cases(n_cases=6, batch=3, time_steps=7):
    gen = torch.Generator().manual_seed(1)
    cases = []
    for i in range(n_cases):
        dones = (torch.rand(batch, time_steps, generator=gen) < 0.25).float()
        dones[:, 2] = 1.0  # at least one episode end inside every row
        terminated = dones * (torch.rand(batch, time_steps, generator=gen) < 0.6)  # some ends are truncations
        mask = torch.ones(batch, time_steps)
        if i % 2 == 0:
            mask[:, 1:] = 1 - dones[:, :-1]  # NEXT_STEP auto-reset: the step after an episode end is not a transition
        # odd cases: the next episode starts on the very next step (no auto-reset call in between, as with
        # SAME_STEP auto-reset, or episodes laid end to end), so only (1 - done) stops the recursion there
        cases.append(dict(rewards=torch.rand(batch, time_steps, generator=gen), values=torch.randn(batch, time_steps, generator=gen),
                          next_values=torch.randn(batch, time_steps, generator=gen), terminated=terminated, dones=dones,
                          gamma=0.9, lam=0.8, mask=mask))
    return cases


def reference_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    return ppo.gae(rewards, values, next_values, terminated, dones, gamma=gamma, lam=lam, mask=mask)


rlhf_utils.check(my_gae, reference_gae, gae_cases(), name="my_gae",
                 hint="delta = r + gamma * (1 - terminated) * V_next - V; A_t = (delta_t + gamma * lam * (1 - done_t) * A_{t+1}) * mask_t")


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
#     deltas = (rewards + gamma * (1 - terminated) * next_values - values) * mask
#     advantages = torch.zeros_like(rewards)
#     running = torch.zeros(rewards.shape[0])
#     for t in reversed(range(rewards.shape[1])):
#         running = (deltas[:, t] + gamma * lam * (1 - dones[:, t]) * running) * mask[:, t]
#         advantages[:, t] = running
#     returns = (advantages + values) * mask
#     return advantages, returns
# ```
# (Multiplying by `mask` is fine here; the library uses `torch.where` instead, so that a NaN in a padded position
# cannot leak into the result: `NaN * 0` is still NaN.)
# </details>
#
# ### Exercise 2: the clipped surrogate loss, with a mask
#
# Write `my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask)`: it returns $-L^{CLIP}$ averaged over the
# unmasked positions (`mask` is a 0/1 float tensor, as in exercise 1). The checker also compares the **gradient** with respect to `logprobs`: it must be zero in the two
# clipped corners, and zero at masked positions. (Hint: compute the ratio from the difference of log-probabilities, and
# detach what must not receive a gradient.)

# %%
def my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask):
    # your code here
    raise NotImplementedError


# %%
def loss_and_grad(loss_fn):
    def run(logprobs, old_logprobs, advantages, clip_eps, mask):
        logprobs = logprobs.clone().requires_grad_(True)
        loss = loss_fn(logprobs, old_logprobs, advantages, clip_eps, mask)
        (grad,) = torch.autograd.grad(loss, logprobs)
        return loss.detach(), grad
    return run


def clip_cases():
    log = lambda r: torch.log(torch.tensor(r))
    corners = dict(logprobs=log([[1.5, 0.5, 0.5, 1.5, 1.1, 1.3]]), old_logprobs=torch.zeros(1, 6),
                   advantages=torch.tensor([[1.0, -1.0, 1.0, -1.0, 2.0, 5.0]]), clip_eps=0.2,
                   mask=torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]]))
    gen = torch.Generator().manual_seed(2)
    random = [dict(logprobs=0.3 * torch.randn(4, 5, generator=gen), old_logprobs=0.3 * torch.randn(4, 5, generator=gen),
                   advantages=torch.randn(4, 5, generator=gen), clip_eps=eps, mask=(torch.rand(4, 5, generator=gen) < 0.7).float())
              for eps in (0.1, 0.2, 0.3)]
    return [corners, *random]


reference_clipped = lambda lp, old, adv, eps, mask: ppo.clipped_surrogate_loss(lp, old, adv, clip_eps=eps, mask=mask)
rlhf_utils.check(loss_and_grad(my_clipped_loss), loss_and_grad(reference_clipped), clip_cases(), name="my_clipped_loss",
                 hint="ratio = exp(logprobs - old_logprobs); loss = -mean over the mask of min(ratio * A, clamp(ratio, 1-eps, 1+eps) * A)")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask):
#     ratio = torch.exp(logprobs - old_logprobs.detach())
#     surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages)
#     surrogate = torch.where(mask.bool(), surrogate, torch.zeros_like(surrogate))  # masked: no value, no gradient
#     return -surrogate.sum() / mask.sum()
# ```
# In the corner case the first two samples are clipped (gradient 0), the next two are not (the `min` picks the
# unclipped term, gradient $-rA/n$), and the masked last one has gradient 0 even though its ratio is outside the clip.
# </details>
#
# ## Check your understanding
#
# 1. What does $\epsilon$ control?
# <details><summary>Answer</summary>
#
# How far each sampled action's probability may move, *relative to the old policy*, before that sample stops pushing:
# the ratio $r_t$ is only rewarded inside $[1-\epsilon, 1+\epsilon]$. It is a trust-region size in probability space.
# Larger $\epsilon$ allows bigger (faster, riskier) updates; smaller is safer and slower. It does not bound the KL
# strictly: other samples, the many epochs and the shared network can still move a clipped action.
# </details>
#
# 2. Why can approx-KL blow up?
# <details><summary>Answer</summary>
#
# It is a mean of $(r - 1) - \log r$ with $r = \exp(\log\pi_\theta - \log\pi_\text{old})$: exponential in the change of
# log-probability. An action the old policy rarely took (tiny $\pi_\text{old}$) can see its probability multiplied many
# times by one update, and a few such samples dominate the mean. It happens when updates are too big: a high learning
# rate, many epochs on the same data, no clipping (our "no clipping" ablation), or a stale rollout. That is why it is
# watched, and why some implementations stop the epochs early once it passes a `target_kl`.
# </details>
#
# 3. Why is the step after an episode end masked, and why does a truncated step still use $V(s_{t+1})$?
# <details><summary>Answer</summary>
#
# With `NEXT_STEP` auto-reset, the call after the end only resets: the action is ignored and no transition happens,
# so learning from it would teach the agent a teleport that does not exist. A truncation is the clock running out,
# not a failure; the state (pole upright) would have kept paying rewards, so the value of the final observation is the
# right estimate of what was cut off. Setting it to 0 would make the critic believe that states near step 500 are bad.
# </details>
#
# 4. With $\lambda = 1$, what is $\hat A_t$, and why should it hardly differ from $\lambda = 0.9$ on CartPole (3.4)?
# <details><summary>Answer</summary>
#
# The discounted sum of the rewards up to the end of the episode *or of the rollout*, whichever comes first, plus
# $\gamma^k V$ of the state where the rollout stopped, minus $V(s_t)$. With 32-step rollouts that is at most 32 rewards,
# so most of the variance of a full Monte-Carlo return (what makes REINFORCE slow) is cut off by the bootstrap anyway.
# With long rollouts, sparse or delayed rewards, $\lambda$ matters much more; $\lambda = 0$ (all bias, little
# variance) fell behind even here (asserted in 3.4).
# </details>
#
# 5. PPO takes 20 gradient steps on each rollout. Why does REINFORCE not do the same?
# <details><summary>Answer</summary>
#
# Its loss $-\log\pi_\theta(a_t|s_t)\,\Psi_t$ is only a valid policy-gradient estimate at the policy that collected the
# data. After one step the data is off-policy and nothing limits how far repeated steps go. The ratio corrects for the
# change of policy, and the clip stops the optimiser from exploiting that correction too far.
# </details>
#
# ## Summary and what comes next
#
# - An actor–critic replaces Monte-Carlo returns by the critic's predictions; **GAE** interpolates between the two
#   with $\lambda$ (bias vs variance), and handles episode ends: no bootstrap after a terminal state, bootstrap after a
#   time-limit truncation.
# - **PPO** reuses each rollout for several epochs of minibatch updates, with the probability ratio $r_t(\theta)$ and the
#   **clipped objective**, which removes the gradient once a sample's probability has moved by $\epsilon$ in the
#   improving direction.
# - With gymnasium 1.x vector environments, the call after an episode end is an **auto-reset** to mask, and the final
#   observation of a truncated episode comes for free.
# - Watch **approx-KL**, the **clip fraction** and **explained variance**.
# - On CartPole (3.4): without clipping, our fast settings move the policy much further per update and can collapse it
#   for good; λ = 0 falls behind; for advantage normalisation and λ between 0.9 and 1, compare the medians with the
#   spread of the seeds. Judge such details over several seeds, never one.
#
# Next: notebook 03 loads the course's GPT-2, the policy that PPO will fine-tune. In notebook 05 the same `rlhf_utils.ppo`
# functions run on `(sequences, tokens)` tensors, with a mask over padding and one episode per generated response.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
