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
# # 06 · Alternatives to PPO: best-of-N, rejection sampling, DPO, GRPO and RLOO
#
# PPO (notebook 05) is the classic RL step of RLHF, but not the only one. This notebook puts the methods that came
# after it on **one footing** — the same course GPT-2, the same preference data, the same reward model and the same
# evaluator — and draws them all on one picture: gold score against KL to the reference.
#
# **Objectives**
# - place each method in the InstructGPT recipe and say which step it replaces;
# - best-of-N: sample N, keep the best; its KL to the base model and the bound $\log N - \frac{N-1}{N}$;
# - rejection-sampling fine-tuning: distil best-of-N into the weights (TRL `SFTTrainer`);
# - DPO: derive its loss from the RLHF objective, write it from scratch, and compare with TRL's `DPOTrainer`;
# - GRPO and RLOO: group baselines instead of a value head (TRL's trainers);
# - read the reward–KL frontier of every method, and check a live subset against the committed results.
#
# **Prerequisites**: notebooks 04 (reward model, comparisons) and 05 (PPO, the evaluator). Each loads what it needs.
#
# **Run time**: about 7 minutes on a 2-core CPU (quick profile).

# %% [markdown]
# ## Setup
# The base model, the reward model (yours from notebook 04 if you trained one, else the shipped one), the frozen
# reference, and the evaluator's held-out prompts. The base model is evaluated once, for the win-rates.

# %% tags=["exercise-setup"]
import copy
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import rlhf_utils
from rlhf_utils import best_of_n, dpo, evaluation, generation, gold, lm_task, models, results, trl_trainers
from rlhf_utils.reward_model import load_reward_model

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(2)
base_model, tokenizer = models.load_base_model(course.profile, device=course.device)
reward_model = load_reward_model(tokenizer=tokenizer, profile=course.profile, device=course.device)
reference = generation.frozen_copy(base_model)
heldout_prompts = lm_task.load_prompts("heldout", profile=course.profile)
FRONTIER = results.read_results("alternatives_frontier")
settings = FRONTIER["args"]                      # the committed run's settings; the live runs reuse them
# Every policy is judged by the reward model's criterion: its gold score (the shipped model's is "positive"; yours,
# from notebook 04, may be "negative"). "own" has no gold score, so the positive one is shown, not your criterion.
criterion = reward_model.criterion
score_by = gold.gold_function(criterion if criterion in gold.NAMED_CRITERIA else "positive")
print(f"judged by the gold score of {criterion if criterion in gold.NAMED_CRITERIA else 'positive (not your own criterion)'!r}")
EVAL = dict(reward_fn=reward_model.score_samples, gold_fn=score_by, samples_per_prompt=settings["samples_per_prompt"],
            seed=1234)

# %%
base_result = evaluation.evaluate_policy(base_model, reference, tokenizer, heldout_prompts, name="base", **EVAL)
print(base_result)

# %% [markdown]
# ## 1. Theory: where each method sits
#
# InstructGPT (Ouyang et al., 2022) has three steps: **(1) supervised fine-tuning** on demonstrations, **(2) a reward
# model** from comparisons, **(3) RL (PPO)** against the reward model with a KL penalty. Our course model skips (1):
# its pretraining corpus already is the task's domain. The alternatives replace step 3, or steps 2 and 3:
#
# | method | needs a reward model? | samples during training? | what replaces PPO |
# |---|---|---|---|
# | **best-of-N** | yes | no training at all | sample N at inference, keep the highest reward |
# | **rejection sampling** | yes | once, up front | fine-tune on best-of-N samples (supervised) |
# | **DPO** | **no** | no | a classification loss on the comparisons themselves |
# | **GRPO / RLOO** | yes | yes (online) | policy gradient with a *group* baseline instead of a value head |
#
# All of them aim at the same target: the RLHF objective $\max_\pi \mathbb{E}[r] - \beta\,\mathrm{KL}(\pi\|\pi_\text{ref})$,
# or at least a policy with a higher reward and a bounded KL. So we compare them on that plane: **gold score** (the
# hidden preference the reward model approximates) against **sequence KL to the reference**, measured for every
# method by the one evaluator, `rlhf_utils.evaluation.evaluate_policy`.

# %% [markdown]
# ## 2. Best-of-N
#
# Draw $N$ responses from the base policy $\pi$, keep the one with the highest reward. No training, and a clean
# theory. If $F(r) = P_\pi(R \le r)$ is the reward's distribution function under $\pi$ for this prompt and rewards never
# tie, the best of $N$ has reward CDF $F^N$, so
#
# $$\pi_N(y) = \pi(y)\, N\, F(r(y))^{N-1}, \qquad
# \mathrm{KL}(\pi_N\,\|\,\pi) = \mathbb{E}_{\pi_N}\big[\log N + (N-1)\log F\big] = \log N - \frac{N-1}{N}.$$
#
# When samples *can* repeat (ties in reward), the KL is smaller: $\log N - \frac{N-1}{N}$ is an **upper bound**
# (Beirami et al., 2024), reached only when the $N$ samples never repeat. We measure the KL with the estimator of
# `best_of_n.estimate_kl`: for each prompt, the rank of the kept response's reward among fresh base samples
# estimates $F$, and we average $\log N + (N-1)\log \hat F$. Two things to know about it:
# - our rewards almost never tie (two samples of 24 tokens are rarely identical), so the true KL sits *at* the bound
#   and the estimates scatter around it, above as often as below;
# - it is noisy (one prompt's term can be $-40$ when the kept response ranks low) and slightly biased upwards by
#   the finite reference set: with 32 reference samples a simulation gives $+0.015$ nats.
#
# So "within the bound" is checked with room for the noise: three standard errors.
#
# `evaluate_policy` takes a `sampler`; best-of-N is just another way to sample.

# %%
N_LIVE = [n for n in (4, 16) if n in settings["ns"]]   # a live subset of the committed N...
# ...on a random subset of the held-out prompts: best-of-16 with its KL estimate costs ~80 generations per prompt
live_prompts = lm_task.draw_prompts(heldout_prompts, course.profile.pick(quick=64, full=len(heldout_prompts)),
                                    seed=course.seed)
best_of = {1: evaluation.evaluate_policy(base_model, reference, tokenizer, live_prompts, name="base", **EVAL)}
measured_kl = {1: (0.0, 0.0)}
for n in N_LIVE:
    torch.manual_seed(course.seed)
    sampler = best_of_n.best_of_n_sampler(base_model, tokenizer, reward_model.score_samples, n)
    best_of[n] = evaluation.evaluate_policy(base_model, reference, tokenizer, live_prompts, name=f"best-of-{n}",
                                            base=best_of[1], sampler=sampler, **EVAL)
    measured_kl[n] = best_of_n.estimate_kl(base_model, tokenizer, live_prompts, reward_model.score_samples, n,
                                           reference_samples=settings["kl_reference_samples"])
    print(best_of[n])

print(f"\n{'N':>4} {'gold':>15} {'KL measured':>15} {'bound':>7}")
for n, r in best_of.items():
    kl, se = measured_kl[n]
    print(f"{n:>4} {r.gold_mean:+.3f} ± {r.gold_se:.3f} {kl:8.2f} ± {se:.2f} {best_of_n.kl_bound(n):7.2f}")

# %% [markdown]
# Note what the evaluator's own KL column says for best-of-N: 0. It scores the kept samples under the *base* model
# against the reference, which is the same model — the KL of a *selection* is invisible to a per-token log-ratio.
# That is why best-of-N needs its own estimator.
#
# ## 3. Rejection-sampling fine-tuning
# Best-of-N pays $N$ samples at inference. **Rejection sampling** (used in Llama 2's RLHF, and the "expert
# iteration" family) pays once: generate best-of-N responses for many training prompts and fine-tune the model on
# them with the plain language-model loss, here with TRL's `SFTTrainer` (`trl_trainers.rejection_sampling_finetune`).
# It is cheap and stable, and a useful baseline for anything fancier. Its run is part of the committed results
# (section 6); the call is:
#
# ```python
# policy = copy.deepcopy(base_model)
# kept, _ = best_of_n.best_of_n(base_model, tokenizer, prompts, reward_model.score_samples, n=8)
# trl_trainers.rejection_sampling_finetune(policy, tokenizer, kept.prompts, kept.responses)
# ```
#
# ## 4. DPO: RLHF without a reward model
#
# ### 4.1 The derivation
# The KL-regularised objective $\max_\pi \mathbb{E}_{y\sim\pi}[r(x,y)] - \beta\,\mathrm{KL}(\pi\|\pi_\text{ref})$ has a
# closed-form optimum (complete the KL):
#
# $$\pi^*(y\mid x) = \frac{1}{Z(x)}\,\pi_\text{ref}(y\mid x)\,\exp\!\big(r(x,y)/\beta\big).$$
#
# Solve for the reward: $r(x,y) = \beta \log\frac{\pi^*(y\mid x)}{\pi_\text{ref}(y\mid x)} + \beta\log Z(x)$. Any policy
# defines such an **implicit reward**. Put it into the Bradley–Terry likelihood of notebook 04: the intractable
# $\log Z(x)$ is the same for both responses and cancels, leaving a loss on the policy itself (Rafailov et al., 2023):
#
# $$\mathcal{L}_\text{DPO}(\theta) = -\,\mathbb{E}\Big[\log\sigma\Big(\beta\log\frac{\pi_\theta(y_w\mid x)}{\pi_\text{ref}(y_w\mid x)}
# - \beta\log\frac{\pi_\theta(y_l\mid x)}{\pi_\text{ref}(y_l\mid x)}\Big)\Big].$$
#
# No reward model, no sampling, no value head: a classification loss on the comparisons. $\beta$ plays the role of
# the KL coefficient — but DPO never measures a KL, so we must (section 4.4).
#
# ### 4.2 The comparisons
# DPO trains on comparisons directly. We use the same kind notebook 04 made: pairs of base-model continuations of
# training prompts, judged by the simulated human through a labelling session, ties left out, as many as the committed
# run used. `dpo.simulated_comparisons` makes them, the same way (and with the same seed) as the scripts behind the
# committed results. To train on your own labels from notebook 04 instead (its `YOUR_NAME` is `"me"`):
#
# ```python
# from rlhf_utils import feedback, feedback_store
# store = feedback_store.FeedbackStore(feedback_store.default_store_path("labels"))
# pairs = feedback.preference_pairs(store.labels("me"))
# ```

# %% tags=["exercise-setup"]
N_PAIRS = settings["dpo_pairs"]
pairs = dpo.simulated_comparisons(base_model, tokenizer, lm_task.load_prompts("train", profile=course.profile), N_PAIRS,
                                  seed=course.seed)
print(f"{len(pairs)} comparisons with a clear preference (ties left out)")

# %% [markdown]
# ### 4.3 The loss, from scratch
# Sequence log-probabilities are sums over response tokens, computed as the policy samples them
# (`dpo.sequence_logprobs`: same temperature, same forbidden tokens). Here is the loss on one batch, written out;
# `dpo.train_dpo` repeats this step over shuffled batches.

# %% tags=["exercise-setup"]
BETA = 0.1   # one of the committed run's betas, so the live point can be checked against it
assert BETA in settings["dpo_betas"], settings["dpo_betas"]
policy = copy.deepcopy(base_model)
batch = pairs[:16]
prompts2 = [p.prompt for p in batch] * 2
logp = dpo.sequence_logprobs(policy, tokenizer, prompts2, [p.chosen for p in batch] + [p.rejected for p in batch])
with torch.no_grad():
    ref_logp = dpo.sequence_logprobs(reference, tokenizer, prompts2, [p.chosen for p in batch] + [p.rejected for p in batch])
(pi_w, pi_l), (ref_w, ref_l) = logp.chunk(2), ref_logp.chunk(2)
implicit_w, implicit_l = BETA * (pi_w - ref_w), BETA * (pi_l - ref_l)
loss = -F.logsigmoid(implicit_w - implicit_l).mean()
print(f"β = {BETA}: loss {loss.item():.4f} (log 2 = {np.log(2):.4f}: the policy starts equal to the reference)")
assert torch.allclose(loss, dpo.dpo_loss(pi_w, pi_l, ref_w, ref_l, BETA)[0])

# %% [markdown]
# ### 4.4 Train it, and measure what it did
# Train from scratch, then the same with TRL's `DPOTrainer` (same pairs, β, learning rate, batch size; TRL appends an
# end-of-text token to each response, one more term the course's sampling never produces). **Implicit-reward accuracy
# alone proves little**: it says the policy separates the training pairs, not that it writes better text. So both are
# measured like every other method: gold score and KL on the held-out prompts.

# %%
dpo_config = dpo.DPOTrainingConfig(beta=BETA, epochs=settings["dpo_epochs"], learning_rate=settings["dpo_lr"],
                                   seed=course.seed)
t0 = time.perf_counter()
history = dpo.train_dpo(policy, reference, tokenizer, pairs, dpo_config)
dpo_seconds = time.perf_counter() - t0
dpo_result = evaluation.evaluate_policy(policy, reference, tokenizer, heldout_prompts, name=f"DPO β={BETA} (scratch)",
                                        base=base_result, **EVAL)
print(dpo_result, f"\ntrained in {dpo_seconds:.0f} s; last-10-step implicit-reward accuracy "
      f"{np.mean([h['accuracy'] for h in history[-10:]]):.2f}")

# %%
policy_trl = copy.deepcopy(base_model)
t0 = time.perf_counter()
trl_log = trl_trainers.train_dpo_with_trl(policy_trl, reference, tokenizer, pairs, dpo_config, progress=False)
dpo_trl_result = evaluation.evaluate_policy(policy_trl, reference, tokenizer, heldout_prompts, name=f"DPO β={BETA} (TRL)",
                                            base=base_result, **EVAL)
print(dpo_trl_result, f"\ntrained in {time.perf_counter() - t0:.0f} s")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot([h["loss"] for h in history], label="from scratch")
trl_steps = [h for h in trl_log if "loss" in h]
ax.plot([h["step"] for h in trl_steps], [h["loss"] for h in trl_steps], "o-", label="TRL DPOTrainer (every 10 steps)")
ax.axhline(np.log(2), color="grey", ls=":", label="log 2")
ax.set(xlabel="step", ylabel="DPO loss", title=f"DPO, β = {BETA}")
ax.legend()
plt.show()


# %% [markdown]
# ## 5. GRPO and RLOO: group baselines
# PPO learns a value function to tell good tokens from lucky ones. **RLOO** (REINFORCE leave-one-out; Ahmadian et
# al., 2024) and **GRPO** (Shao et al., 2024) drop it: sample $K$ responses per prompt and judge each against the others,
#
# $$A_i^{\text{RLOO}} = r_i - \frac{1}{K-1}\sum_{j\ne i} r_j, \qquad A_i^{\text{GRPO}} = \frac{r_i - \operatorname{mean}_j r_j}{\operatorname{std}_j r_j}.$$
#
# One advantage per response (every token shares it), no critic to train, but $K$ samples per prompt. RLOO puts
# $\beta\cdot$KL into the reward, as PPO does; GRPO adds it to the loss (the $k_3$ estimator of notebook 05).
# `rlhf_utils.trl_trainers` sets TRL's trainers up on our task — fixed-length responses, our temperature, dropout off,
# $\beta > 0$, a tuned learning rate (TRL's default is for billion-parameter models). A run takes several minutes
# on a CPU, so its points come from the committed results; the setup is:
#
# ```python
# args = trl_trainers.rl_config("grpo", output_dir, tokenizer, learning_rate=1e-4, beta=0.05, max_steps=120)
# trl_trainers.rl_trainer("grpo", copy.deepcopy(base_model), tokenizer, reward_model, train_prompts, args).train()
# ```

# %%
def group_advantages(rewards: torch.Tensor, kind: str) -> torch.Tensor:
    # rewards: (prompts, K) - K responses per prompt
    if kind == "rloo":
        k = rewards.shape[1]
        return rewards - (rewards.sum(1, keepdim=True) - rewards) / (k - 1)
    return (rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)

example = torch.tensor([[1.0, 0.0, 0.5, 2.5]])
print("rewards ", example.numpy(), "\nRLOO    ", group_advantages(example, "rloo").numpy().round(3),
      "\nGRPO    ", group_advantages(example, "grpo").numpy().round(3))

# %% [markdown]
# ## 6. Run it: the frontier
#
# The committed results (`data/results/alternatives_frontier.json`, made by `scripts/alternatives_frontier.py`;
# re-run with `python scripts/alternatives_frontier.py`, 33 minutes on 2 cores) hold every method at the
# settings printed below, with PPO's points from notebook 05's β sweep (`scripts/ppo_beta_sweep.py`). The live
# points of this notebook are drawn on top, hollow.

# %%
points = FRONTIER["points"]
styles = {"base": ("black", "s"), "best_of_n": ("tab:blue", "o"), "rejection_sampling": ("tab:purple", "D"),
          "dpo": ("tab:orange", "^"), "ppo": ("tab:green", "v"), "rloo": ("tab:red", "P"), "grpo": ("tab:brown", "X")}
fig, ax = plt.subplots(figsize=(9, 5.5))
for method, (colour, marker) in styles.items():
    rows = sorted((p for p in points if p["method"] == method), key=lambda p: p["kl_mean"])
    if not rows:
        continue
    ax.errorbar([p["kl_mean"] for p in rows], [p["gold_mean"] for p in rows], xerr=[p["kl_se"] for p in rows],
                yerr=[p["gold_se"] for p in rows], color=colour, marker=marker, ls="-" if len(rows) > 1 else "",
                capsize=2, label=method.replace("_", " "))
    for p in rows:
        tag = f"N={p['N']}" if method == "best_of_n" else f"β={p['beta']}" if "beta" in p else ""
        ax.annotate(tag, (p["kl_mean"], p["gold_mean"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
bon_committed = [p for p in points if p["method"] == "best_of_n"]
ax.plot([p["kl_bound"] for p in bon_committed], [p["gold_mean"] for p in bon_committed], ":", color="tab:blue",
        label="best-of-N at its KL bound")
ax.scatter([measured_kl[n][0] for n in N_LIVE], [best_of[n].gold_mean for n in N_LIVE], facecolors="none",
           edgecolors="tab:blue", s=90, label="live best-of-N")
ax.scatter([dpo_result.kl_mean], [dpo_result.gold_mean], facecolors="none", edgecolors="tab:orange", s=90,
           label="live DPO")
ax.set(xlabel="sequence KL to the reference (nats)", ylabel="gold score (held-out prompts)",
       title="Gold score against KL: every method, one evaluator")
ax.legend(fontsize=8, loc="lower right")
plt.show()
print("committed run settings:", {k: settings[k] for k in ("ns", "dpo_betas", "trl_beta", "rloo_lr", "grpo_lr", "trl_steps")})

# %% [markdown]
# How to read it: **up is better, left is cheaper**. A method's point says how much gold it bought with how much
# drift from the base model. Best-of-N is often hard to beat at small KL, which is why it is the first baseline to
# try; the KL it spends is capped by $\log N$, so going further needs training. Methods that train (PPO, DPO,
# GRPO/RLOO, rejection sampling) can reach larger KL; whether the extra KL buys more *gold* — or only more *reward
# model* score — is notebook 07's question.
#
# ### Result check
# - best-of-N's gold score rises with N, and its measured KL stays within the bound (allowing three standard errors);
# - DPO raises the gold score over the base model by more than two standard errors, at a measured KL;
# - the live runs agree with the committed ones within three standard errors — for DPO, a training run, counting the
#   spread across the committed seeds (`scripts/dpo_seed_spread.py`) — when they use the same models (the quick
#   profile and the shipped reward model; with your own reward model they are not compared).

# %%
golds = [best_of[n].gold_mean for n in sorted(best_of)]
assert all(b > a for a, b in zip(golds, golds[1:])), f"best-of-N gold does not rise with N: {golds}"
for n in N_LIVE:
    kl, se = measured_kl[n]
    assert kl <= best_of_n.kl_bound(n) + 3 * se, f"best-of-{n}: measured KL {kl:.2f} ± {se:.2f} above the bound"
assert dpo_result.gold_mean > base_result.gold_mean + 2 * np.hypot(dpo_result.gold_se, base_result.gold_se), dpo_result
if results.comparable_with_committed(course.profile, reward_model):
    for n in N_LIVE:
        committed, (kl, se) = next(p for p in bon_committed if p["N"] == n), measured_kl[n]
        assert results.agrees(best_of[n].gold_mean, best_of[n].gold_se, committed["gold_mean"], committed["gold_se"]), (n, committed)
        assert results.agrees(kl, se, committed["kl_mean"], committed["kl_se"]), (n, kl, committed)
    # a DPO run is one draw of sampling pairs, labelling and training: on another machine the same seed is another
    # draw, so compare with every committed draw at this β (the frontier's and dpo_seed_spread.json's), allowing their spread
    draws = [next(p for p in points if p["method"] == "dpo" and p["beta"] == BETA)]
    draws += results.read_results("dpo_seed_spread")["points"]
    for key in ("gold", "kl"):
        values = [d[f"{key}_mean"] for d in draws]
        assert results.agrees_with_runs(getattr(dpo_result, f"{key}_mean"), getattr(dpo_result, f"{key}_se"), values), (key, values)
    compared = "the live runs agree with the committed ones"
else:
    compared = "the live runs use other models than the committed ones (your reward model, or the full profile): not compared"
print(f"result check passed: best-of-N gold {[round(g, 3) for g in golds]}, DPO gold {dpo_result.gold_mean:+.3f} "
      f"at KL {dpo_result.kl_mean:.2f} (base {base_result.gold_mean:+.3f}); {compared}")


# %% [markdown]
# ## 7. Exercises
#
# ### Exercise 1: the DPO loss
# Write `my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta)` from sequence log-probs (tensors of shape `(B,)`): the mean of
# $-\log\sigma\big(\beta[(\log\pi_w - \log\pi^\text{ref}_w) - (\log\pi_l - \log\pi^\text{ref}_l)]\big)$.

# %%
def my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta):
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_dpo_loss, lambda *args: dpo.dpo_loss(*args)[0],
    [(torch.tensor([-3.0]), torch.tensor([-5.0]), torch.tensor([-4.0]), torch.tensor([-4.5]), 0.5),
     (torch.randn(8), torch.randn(8), torch.randn(8), torch.randn(8), 0.1)],
    hint="implicit rewards beta * (pi - ref); loss = -F.logsigmoid(chosen - rejected).mean()",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta):
#     return -F.logsigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l))).mean()
# ```
# </details>
#
# ### Exercise 2: the best-of-N KL bound
# Write `my_bon_kl(n)` $= \log N - \frac{N-1}{N}$. Then answer: how many samples does best-of-N need to spend 3 nats of
# KL?

# %%
def my_bon_kl(n: int) -> float:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(my_bon_kl, best_of_n.kl_bound, [1, 2, 16, 1000], hint="math: np.log(n) - (n - 1) / n")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_bon_kl(n):
#     return np.log(n) - (n - 1) / n
# ```
# About $N = 55$: the KL grows only like $\log N$, so best-of-N's reach is small and its inference cost large.
# </details>
#
# ### Exercise 3: implicit-reward accuracy is not enough
# Compute the share of the *training* pairs whose DPO implicit reward prefers the chosen response, for the trained
# policy, as `my_train_accuracy` (a float). Compare it with the held-out gold improvement above: which tells you the
# policy writes better reviews?

# %%
my_train_accuracy = None   # YOUR CODE HERE (use dpo.sequence_logprobs on the first 64 pairs)

# %%
with torch.no_grad():
    sub = pairs[:64]
    both = [p.chosen for p in sub] + [p.rejected for p in sub]
    pw, pl = dpo.sequence_logprobs(policy, tokenizer, [p.prompt for p in sub] * 2, both).chunk(2)
    rw, rl = dpo.sequence_logprobs(reference, tokenizer, [p.prompt for p in sub] * 2, both).chunk(2)
    expected_accuracy = ((pw - rw) > (pl - rl)).float().mean().item()
rlhf_utils.check_value(my_train_accuracy, expected_accuracy, name="implicit-reward accuracy", atol=1e-6,
                       hint="(log π_w - log π_ref_w) > (log π_l - log π_ref_l), averaged over pairs")

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# with torch.no_grad():
#     sub = pairs[:64]
#     both = [p.chosen for p in sub] + [p.rejected for p in sub]
#     pw, pl = dpo.sequence_logprobs(policy, tokenizer, [p.prompt for p in sub] * 2, both).chunk(2)
#     rw, rl = dpo.sequence_logprobs(reference, tokenizer, [p.prompt for p in sub] * 2, both).chunk(2)
#     my_train_accuracy = ((pw - rw) > (pl - rl)).float().mean().item()
# ```
# The accuracy says the policy *separates the pairs it trained on*; it can be high while generations barely change,
# or change for the worse. Only sampling and scoring new text (gold on held-out prompts, with its KL) says whether
# the policy writes better reviews.
# </details>
#
# ## Check your understanding
#
# 1. Why is best-of-N's KL invisible to the evaluator's per-token log-ratio?
# <details><summary>Answer</summary>The kept sample is scored by the base model against the reference — the same
# model — so every log-ratio is 0. Best-of-N changes *which* samples you see, not the model's probabilities; its
# KL lives in the selection, so it needs the rank-based estimator (or the bound).</details>
#
# 2. DPO needs no reward model. What does it lose by that?
# <details><summary>Answer</summary>It can only learn from the comparisons it has, which were made on base-model
# samples; it never sees its own new samples scored (it is offline). Online methods (PPO, GRPO, RLOO) query the
# reward model on what the policy writes now. DPO also has no explicit KL control: β sets it only implicitly.</details>
#
# 3. What do GRPO and RLOO pay for dropping the value head?
# <details><summary>Answer</summary>Several samples per prompt (the group), and one advantage for the whole
# response (no per-token credit). They save a critic's memory and its training — the reason they are popular for
# large models.</details>
#
# 4. Why compare methods at a measured KL rather than at the same β?
# <details><summary>Answer</summary>β means different things in different methods (a reward penalty in PPO and
# RLOO, a loss term in GRPO, an implicit constraint in DPO, nothing at all in best-of-N). The KL actually reached is
# the common currency.</details>
#
# ## Summary and what comes next
# - Best-of-N is training-free and strong at small KL; its KL is at most $\log N - \frac{N-1}{N}$.
# - Rejection sampling distils best-of-N into the weights with plain supervised learning.
# - DPO turns the RLHF objective into a classification loss on comparisons; measure its gold and KL, not only its
#   implicit-reward accuracy.
# - GRPO and RLOO replace PPO's value head by group baselines.
# - One evaluator and one figure make the trade-offs visible.
#
# **Next, notebook 07**: what happens when a policy optimises the reward model too hard, and how RLHF iterates.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
