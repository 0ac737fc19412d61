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
# # 05 · Step 4 of RLHF: PPO fine-tuning of GPT-2 against a reward model
#
# The heart of RLHF. We take the pretrained GPT-2 of notebook 03 and the reward model of notebook 04, and fine-tune
# the language model with PPO so that its reviews score higher, while a KL penalty keeps it close to the
# original model. Everything is built from the PPO pieces of notebook 02, token by token.
#
# **Objectives**
# - derive the RLHF objective $\mathbb{E}[r(x,y)] - \beta\,\mathrm{KL}(\pi_\theta\,\|\,\pi_{\text{ref}})$ and see why the KL term is there;
# - cast text generation as an RL problem: each token an action, each response an episode;
# - build PPO for language models step by step: value head, per-token KL penalty, GAE, whitening, the clipped update;
# - know the implementation details that matter (temperature, dropout, padding, position ids) and the sanity checks that catch them;
# - run it, and measure the result with the course's one evaluator: gold score, KL, diversity, win-rate.
#
# **Prerequisites**: notebook 02 (PPO), notebook 03 (the course GPT-2), notebook 04 (the reward model). Each loads
# what it needs, so this notebook runs on its own.
#
# **Run time**: about 3 minutes on a 2-core CPU (quick profile).

# %% [markdown]
# ## Setup
# The base model, its tokenizer, the reward model and the prompts. The reward model is yours (notebook 04) if you
# trained one and it measured as usable there; otherwise the one the course ships, trained on simulated labels by
# the `positive` criterion. The cell prints which, and why; `USE_MY_REWARD_MODEL_ANYWAY = True` uses yours even
# below the bar. Everything after is judged by the reward model's criterion: its gold score for `positive` or
# `negative`, and for `own` (a criterion only your labels define) the reward model itself and your held-back labels.

# %% tags=["exercise-setup"]
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import rlhf_utils
from rlhf_utils import evaluation, generation, gold, lm_ppo, lm_task, models, ppo, results
from rlhf_utils.reward_model import load_reward_model

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(2)
base_model, tokenizer = models.load_base_model(course.profile, device=course.device)

# %% tags=["parameters", "exercise-setup"]
USE_MY_REWARD_MODEL_ANYWAY = False   # True: your notebook-04 reward model even if it measured below the bar

# %% tags=["exercise-setup"]
reward_model = load_reward_model(tokenizer=tokenizer, profile=course.profile, device=course.device,
                                 require_usable=not USE_MY_REWARD_MODEL_ANYWAY)
criterion = reward_model.criterion
named = criterion in gold.NAMED_CRITERIA     # "own" has no gold score: your labels are its only judge
score_by = gold.gold_function(criterion if named else "positive")
score_name = f"gold ({criterion})" if named else "gold (positive; not your criterion)"
train_prompts = lm_task.load_prompts("train", profile=course.profile)
heldout_prompts = lm_task.load_prompts("heldout", profile=course.profile)
print(f"{len(train_prompts)} training prompts, {len(heldout_prompts)} held-out prompts")

# %% [markdown]
# ## 1. Theory
#
# ### 1.1 The RLHF objective
# Let $x$ be a prompt, $y \sim \pi_\theta(\cdot \mid x)$ a response and $r(x, y)$ the reward model's score. RLHF
# maximises
#
# $$J(\theta) = \mathbb{E}_{x,\,y \sim \pi_\theta}\big[r(x,y)\big] \;-\; \beta\, \mathbb{E}_x\Big[\mathrm{KL}\big(\pi_\theta(\cdot\mid x)\,\|\,\pi_{\text{ref}}(\cdot\mid x)\big)\Big],$$
#
# where $\pi_{\text{ref}}$ is the pretrained model, frozen. **Why the KL term?** The reward model is a learned,
# imperfect copy of human preferences, trained only on texts the base model writes. Without a leash the policy
# drifts to texts where the reward model is wrong (repetition, odd phrases it happens to love): *reward hacking*,
# the subject of notebook 07. The KL term makes every nat of drift cost $\beta$ units of reward; it also keeps the
# text fluent, since $\pi_{\text{ref}}$ is.
#
# ### 1.2 Text generation as reinforcement learning
# - **state** $s_t$: the prompt and the response tokens so far; **action** $a_t$: the next token; the policy is the LM;
# - **episode**: one response of $T$ = `RESPONSE_LENGTH` tokens; the transition is deterministic (append the token);
# - **reward**: the sequence KL splits into a sum over tokens, so the penalty is paid token by token and the reward
#   model's score arrives at the end:
#
# $$r_t = -\beta\,\big(\log \pi_\theta(a_t\mid s_t) - \log \pi_{\text{ref}}(a_t\mid s_t)\big) + \mathbb{1}[t = T]\; r(x, y).$$
#
# The return $\sum_t r_t$ is then exactly a sample of the objective above. With $\gamma = 1$ and GAE ($\lambda = 0.95$)
# a **value head** on the same transformer estimates $V(s_t)$, and PPO's clipped update of notebook 02 applies
# unchanged to $(\text{batch}, T)$ tensors.
#
# ### 1.3 KL estimators
# We only ever see samples $a \sim \pi_\theta$. With $\log\rho = \log\pi_{\text{ref}}(a) - \log\pi_\theta(a)$ three estimators of
# $\mathrm{KL}(\pi_\theta\|\pi_{\text{ref}})$ are common (Schulman, 2020):
#
# | | formula | unbiased | always ≥ 0 |
# |---|---|---|---|
# | k1 | $-\log\rho$ | yes | **no**: a token the reference likes more than the policy gives a negative sample |
# | k2 | $\tfrac12(\log\rho)^2$ | no (low variance) | yes |
# | k3 | $(\rho - 1) - \log\rho$ | yes | yes |
#
# The per-token penalty uses k1 (its expectation is the KL in the objective); we log all three. A KL *penalty in the
# reward* (as here, and in the original work) differs from a KL *term in the loss* (as in GRPO, notebook 06): the
# first is optimised through the advantages, like any reward; the second adds its own gradient directly.
#
# ### 1.4 Adaptive KL
# Choosing $\beta$ is hard. Ziegler et al. (2019) adapt it to hit a target KL:
# $\beta \leftarrow \beta\,\big(1 + \mathrm{clip}(\mathrm{KL}/\mathrm{KL}_{\text{target}} - 1, -0.2, 0.2)\cdot n/H\big)$ after each batch of $n$ samples.

# %% [markdown]
# ### 1.5 The implementation details, as switches
# Every detail of our PPO is a field of `lm_ppo.LMPPOConfig`, with its reason and source in a docstring. Defaults
# follow OpenAI's *lm-human-preferences* and the reproduction study *The N Implementation Details of RLHF with PPO*.

# %%
import dataclasses

for f in dataclasses.fields(lm_ppo.LMPPOConfig):
    print(f"{f.name:26s} = {f.default!r}")

# %% [markdown]
# `help(lm_ppo.LMPPOConfig)` or reading `rlhf_utils/lm_ppo.py` shows each field's docstring.
#
# ## 2. Build it
#
# ### 2.1 Policy, value head, reference
# The policy is the base model with a scalar **value head** on its last hidden state, zero-initialised so the first
# value estimates are 0 and cannot disturb anything. The reference is a frozen copy taken *before* training.

# %%
torch.manual_seed(course.seed)
policy = lm_ppo.PolicyWithValueHead.from_base(base_model)
reference = generation.frozen_copy(base_model)
print(f"policy: {sum(p.numel() for p in policy.parameters()) / 1e6:.2f}M trainable parameters; "
      f"value head {policy.value_head}")

# %% [markdown]
# ### 2.2 A rollout
# One PPO iteration, built by hand on a small batch, with every setting read from an `LMPPOConfig` so that section 2.6
# can run the library's iteration from the same state and compare. Prompts are left-padded, so every response starts
# in the same column; position ids are then counted from each row's first real token. Responses have a fixed length,
# pure temperature sampling, and never contain end-of-text or pad.

# %%
cfg = lm_ppo.LMPPOConfig(batch_size=8, minibatch_size=4, ppo_epochs=2, kl_coef=0.1, seed=course.seed)  # one small iteration
prompts = train_prompts[: cfg.batch_size]
torch.manual_seed(course.seed)
samples = generation.sample(policy.lm, tokenizer, prompts, cfg.response_length, cfg.temperature, keep_sampled_logprobs=True)
print("query ids (left-padded):\n", samples.query_ids[:3])
for p, r in zip(samples.prompts[:4], samples.responses[:4]):
    print(f"  {p}|{r}")

# %% [markdown]
# One forward pass of the policy gives both what PPO needs per response token: the log-probability of the sampled
# token, *from the logits divided by the same temperature* used for sampling, and the value $V(s_t)$ of the state in
# which that token was chosen. The logits and values at position $i$ look at the tokens up to $i$, so the ones for
# response token $t$ sit one column to the left of it (`q - 1 + t`, with `q` the padded prompt length). The reference
# only needs its log-probs. At step 0 the policy is the reference, so the per-token KL is exactly zero, and the
# log-probs equal those of the distribution `generate` actually sampled from.

# %%
forbidden = generation.forbidden_token_ids(tokenizer)
q = samples.query_ids.shape[1]


def logprobs_and_values(policy, rows=slice(None)):
    """log π(a_t|s_t) of the sampled response tokens and V(s_t), for some rows of `samples`."""
    logits, all_values = policy(samples.input_ids[rows], samples.attention_mask[rows])
    cut = generation.response_logits(logits, q, cfg.response_length, cfg.temperature, forbidden)
    return generation.token_logprobs(cut, samples.response_ids[rows]), all_values[:, q - 1 : q - 1 + cfg.response_length]


with torch.no_grad():
    logprobs, values = logprobs_and_values(policy)
    ref_logprobs = generation.response_logprobs(reference, samples, cfg.temperature, forbidden)
print("log-probs, first response:", logprobs[0, :6].numpy().round(3))
print("max |policy - reference|:", (logprobs - ref_logprobs).abs().max().item())
print("max |scored - sampled|:  ", (logprobs - samples.sampled_logprobs).abs().max().item())
print("values at step 0 (zero-initialised head):", values.abs().max().item())

# %% [markdown]
# ### 2.3 Rewards
# The reward model reads `<|endoftext|> prompt response <|endoftext|>` and its score is normalised (mean 0, std 1 on
# base-model samples). It lands on the last token; the KL penalty on every token (section 1.2).

# %%
scores = reward_model.score_samples(samples)
rewards = lm_ppo.per_token_rewards(scores, logprobs, ref_logprobs, cfg.kl_coef)
print("scores:", scores.numpy().round(2))
print("per-token rewards of response 0:", rewards[0].numpy().round(3))

# %% [markdown]
# ### 2.4 Advantages
# GAE over the response with $\gamma = 1$, $\lambda = 0.95$, the episode ending at the last token (nothing to bootstrap
# from after it), then whitening over the batch. These are `rlhf_utils.ppo.gae` and `normalize_advantages` from
# notebook 02, unchanged.

# %%
next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
terminated, dones = lm_ppo.episode_flags(rewards)
advantages, returns = ppo.gae(rewards, values, next_values, terminated, dones, gamma=cfg.gamma, lam=cfg.lam)
advantages = ppo.normalize_advantages(advantages)
print("advantages of response 0:", advantages[0, :6].numpy().round(3), "...")

# %% [markdown]
# ### 2.5 One PPO update
# Several epochs of shuffled minibatches; on each, the clipped surrogate, the clipped value loss, gradient clipping
# (the entropy bonus is off: `entropy_coef` is 0, section 1.5). The first minibatch is a free **sanity check**:
# nothing has changed yet, so the ratio $\pi_\theta/\pi_{\text{old}}$ must be exactly 1 and approx-KL 0. If not, the
# rollout and training log-probs disagree (dropout on, temperature missing, padding or position ids) and every later
# number is wrong.

# %%
optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
shuffle = np.random.default_rng(cfg.seed)  # the minibatch order
policy.eval()  # dropout off while training, too
losses = []
for epoch in range(cfg.ppo_epochs):
    order = torch.as_tensor(shuffle.permutation(len(prompts)))
    for i, rows in enumerate(order.split(cfg.minibatch_size)):
        new_logprobs, new_values = logprobs_and_values(policy, rows)
        if epoch == 0 and i == 0:
            print(f"epoch {epoch}: max |log ratio| {(new_logprobs - logprobs[rows]).abs().max():.2e}, "
                  f"approx-KL {ppo.approx_kl(new_logprobs, logprobs[rows]):.2e}")
        pg_loss = ppo.clipped_surrogate_loss(new_logprobs, logprobs[rows], advantages[rows], clip_eps=cfg.clip_eps)
        v_loss = ppo.value_loss(new_values, values[rows], returns[rows], clip_eps=cfg.value_clip_eps)
        loss = pg_loss + cfg.vf_coef * v_loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
        optimizer.step()
        losses.append((pg_loss.item(), v_loss.item()))
print(f"last minibatch: policy loss {pg_loss.item():+.4f}, value loss {v_loss.item():.4f}")

# %% [markdown]
# Only the first minibatch of the first epoch must show a ratio of exactly 1; later ones have moved. That is the whole
# algorithm.
#
# ### 2.6 The same iteration as the library
# `lm_ppo.LMPPOTrainer.step` is this iteration, in `rlhf_utils/lm_ppo.py` (plus an adaptive $\beta$ and a
# learning-rate schedule, which act only from the next iteration on, and metrics). From the same weights, the same
# prompts, the same settings and the same random numbers, one `step` must sample the same responses and leave the
# same weights as the cells above.

# %%
library_policy = lm_ppo.PolicyWithValueHead.from_base(base_model)
trainer = lm_ppo.LMPPOTrainer(library_policy, reference, tokenizer, reward_model.score_samples, cfg)
torch.manual_seed(course.seed)  # the seed the hand-built rollout sampled with
metrics = trainer.step(prompts)
assert torch.equal(trainer.last_rollout.samples.response_ids, samples.response_ids), "the two rollouts sampled differently"
weight_gap = max((a - b).abs().max().item() for a, b in zip(policy.parameters(), library_policy.parameters(), strict=True))
hand_policy_loss, hand_value_loss = np.mean(losses, axis=0)
print(f"largest weight difference after one iteration: {weight_gap:.1e}")
print(f"policy loss: by hand {hand_policy_loss:+.6f}, library {metrics['policy_loss']:+.6f}; "
      f"value loss: by hand {hand_value_loss:.6f}, library {metrics['value_loss']:.6f}")
assert weight_gap < 1e-6, f"the hand-built iteration and LMPPOTrainer.step leave weights {weight_gap:.2e} apart"
assert np.allclose([hand_policy_loss, hand_value_loss], [metrics["policy_loss"], metrics["value_loss"]], atol=1e-6)
assert np.isclose(scores.mean().item(), metrics["score_mean"], atol=1e-6)
print("identical: the hand-built iteration is LMPPOTrainer.step; from here on we use the trainer")

# %% [markdown]
# ## 3. Run it
#
# ### 3.1 The base model, measured
# `rlhf_utils.evaluation.evaluate_policy` measures any policy the same way: fresh samples on the held-out prompts
# with a fixed seed, gold score ± standard error, sequence KL to the reference, reward-model score, diversity,
# length, and win-rate against the base model.

# %%
EVAL_SAMPLES = course.profile.pick(quick=2, full=4)  # samples per held-out prompt
eval_kwargs = dict(reward_fn=reward_model.score_samples, gold_fn=score_by, samples_per_prompt=EVAL_SAMPLES, seed=1234)
base_result = evaluation.evaluate_policy(base_model, reference, tokenizer, heldout_prompts, name="base", **eval_kwargs)
print(base_result)

# %% [markdown]
# ### 3.2 Training
# One live run with the adaptive KL controller (target KL below). The progress bar shows the reward-model score,
# the KL and $\beta$; the gold score is logged but never used for training.

# %%
ITERATIONS = course.profile.pick(quick=60, full=300)
config = lm_ppo.course_config(course.profile, adaptive_kl=True, kl_coef=0.1, kl_target=5.0, seed=course.seed)
print(config)
torch.manual_seed(course.seed)
policy = lm_ppo.PolicyWithValueHead.from_base(base_model)
trainer = lm_ppo.LMPPOTrainer(policy, reference, tokenizer, reward_model.score_samples, config,
                              total_iterations=ITERATIONS, gold_fn=score_by)
history = lm_ppo.train(trainer, train_prompts, ITERATIONS)
print(f"{ITERATIONS} iterations, {np.mean([h['seconds'] for h in history]):.1f} s each")


# %%
def curve(key):
    return [h[key] for h in history]


fig, axes = plt.subplots(2, 3, figsize=(13, 6))
panels = [("score_mean", "reward-model score"), ("gold_mean", f"{score_name} (hidden)"), ("kl", "KL to reference (nats, k1)"),
          ("kl_coef", "β (adaptive)"), ("entropy", "entropy per token"), ("clip_fraction", "clip fraction")]
for ax, (key, title) in zip(axes.flat, panels):
    ax.plot(curve(key))
    ax.set(title=title, xlabel="iteration")
axes[0, 2].plot(curve("kl_k3"), ls="--", label="k3")
axes[0, 2].axhline(config.kl_target, color="gray", ls=":", label="target")
axes[0, 2].legend()
fig.tight_layout()

# %% [markdown]
# The reward-model score climbs; the gold score, which the policy never sees, climbs with it; the KL rises towards
# its target, where the controller holds it by raising $\beta$.
#
# The other diagnostics worth reading every run:

# %%
for key in ("approx_kl", "first_minibatch_max_abs_log_ratio", "sampling_logprob_gap", "explained_variance", "value_loss"):
    values_ = curve(key)
    print(f"{key:36s} first {values_[0]:+.2e}   last {values_[-1]:+.2e}   max {max(values_):+.2e}")

# %% [markdown]
# ### 3.3 After training, measured the same way

# %%
ppo_result = evaluation.evaluate_policy(policy.lm, reference, tokenizer, heldout_prompts, name="PPO",
                                        base=base_result, **eval_kwargs)
print(base_result)
print(ppo_result)

# %%
print(f"The same held-out prompts before and after, each response with its {score_name} score:")
print(f"{'prompt':24s} | {'base model':52s} {'score':>6s} | {'after PPO':52s} {'score':>6s}")
for i in range(0, min(16, len(base_result.prompts)), 2):
    p = base_result.prompts[i]
    print(f"{p[:24]:24s} | {base_result.responses[i][:52]:52s} {base_result.gold[i]:+6.2f} | "
          f"{ppo_result.responses[i][:52]:52s} {ppo_result.gold[i]:+6.2f}")

# %% [markdown]
# ### 3.4 The reward–KL trade-off across β
# A live sweep over $\beta$ does not fit in a few CPU minutes. `scripts/ppo_beta_sweep.py` trains one policy per fixed
# $\beta$ with the same settings and evaluates each with the same evaluator; it wrote `data/results/ppo_beta_sweep.json`.
# Re-run it with `python scripts/ppo_beta_sweep.py` (about 13 minutes on 2 cores).

# %%
sweep = results.read_results("ppo_beta_sweep")
points = sweep["results"]
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.errorbar([p["kl_mean"] for p in points], [p["gold_mean"] for p in points],
            xerr=[p["kl_se"] for p in points], yerr=[p["gold_se"] for p in points], fmt="o-", label="fixed β (script)")
for p in points:
    ax.annotate(f"β={p['beta']}", (p["kl_mean"], p["gold_mean"]), textcoords="offset points", xytext=(5, -10))
ax.errorbar([base_result.kl_mean], [base_result.gold_mean], yerr=[base_result.gold_se], fmt="s", color="gray", label="base")
if results.comparable_with_committed(course.profile, reward_model):  # the sweep used the shipped reward model
    ax.errorbar([ppo_result.kl_mean], [ppo_result.gold_mean], xerr=[ppo_result.kl_se], yerr=[ppo_result.gold_se],
                fmt="*", ms=14, color="C3", label="this notebook (adaptive β)")
else:
    print("This run used another reward model or profile than the committed sweep, so it is not drawn on its curve.")
ax.set(xlabel="KL to reference (nats per response)", ylabel="gold score (positive)", title="Gold score vs KL across β")
ax.legend();

# %% [markdown]
# Small $\beta$ buys more reward at a larger KL; large $\beta$ keeps the policy near the base model. The adaptive
# controller picks its point on this curve by its KL target. Look at the two smallest values of $\beta$: going from
# 13 to 21 nats of KL bought no more gold score. The reward model keeps rewarding the extra drift, the hidden
# preference does not: the first sign of over-optimisation, which notebook 07 pushes to the point where gold falls.
#
# ### Result check
# For a named criterion (`positive`, the shipped model's, or `negative`): that criterion's gold score on held-out
# prompts rises by at least 0.3 over the base model, by more than two standard errors, with a sequence KL to the
# reference of at most 8 nats. For `own` there is no gold to hold the run to: the check is that the reward model's
# own score rose (learning happened), and the cell shows how far your held-back labels trust that reward model.

# %%
kl = ppo_result.kl_mean
assert kl <= 8.0, f"KL to the reference is {kl:.2f} nats (needs <= 8)"
if named:
    gain = ppo_result.gold_mean - base_result.gold_mean
    se = float(np.hypot(ppo_result.gold_se, base_result.gold_se))
    print(f"{score_name} {base_result.gold_mean:+.3f} -> {ppo_result.gold_mean:+.3f} (gain {gain:+.3f} ± {se:.3f}), KL {kl:.2f} nats")
    assert gain >= 0.3, f"the {criterion!r} gold score rose by only {gain:+.3f} (needs >= 0.3)"
    assert gain > 2 * se, f"gold gain {gain:+.3f} is within 2 standard errors ({2 * se:.3f})"
else:
    gain = ppo_result.reward_mean - base_result.reward_mean
    se = float(np.hypot(ppo_result.reward_se, base_result.reward_se))
    trust = reward_model.info.get("evaluation", {})
    print(f"your reward model's score {base_result.reward_mean:+.3f} -> {ppo_result.reward_mean:+.3f} "
          f"(gain {gain:+.3f} ± {se:.3f}) at KL {kl:.2f} nats. It agreed with {trust.get('heldback_accuracy', float('nan')):.0%} "
          f"of your {trust.get('heldback_pairs', 0)} held-back labels: that is how far this gain is a gain by your criterion.")
    assert gain > 2 * se, f"the reward model's score rose by only {gain:+.3f} (± {se:.3f}): PPO did not learn"
print("result check passed")

# %% [markdown]
# ### 3.5 A deliberately broken run: dropout left on
# GPT-2 configs default to dropout 0.1. Sampling runs in eval mode (no dropout); if the update then runs in train
# mode, the log-probs used for the ratio come from a *different* random network each time, the ratio is not 1 on the
# very first minibatch, and PPO's clipping fights noise instead of limiting the step. The trainer's sanity check says
# so at once:

# %%
import warnings

broken_lm = generation.frozen_copy(base_model)
broken_lm.config.resid_pdrop = broken_lm.config.embd_pdrop = broken_lm.config.attn_pdrop = 0.1
for module in broken_lm.modules():
    if isinstance(module, torch.nn.Dropout):
        module.p = 0.1
broken = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead.from_base(broken_lm), reference, tokenizer,
                             reward_model.score_samples, lm_ppo.LMPPOConfig(dropout_off=False, seed=course.seed))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    metrics = broken.step(train_prompts[:32])
print(f"first-minibatch max |log ratio| = {metrics['first_minibatch_max_abs_log_ratio']:.3f} (should be 0)")
assert any("SANITY CHECK FAILED" in str(w.message) for w in caught), "the sanity check should have fired"


# %% [markdown]
# ### The full profile
# With `RLHF_PROFILE=full` the same cells run on the real `gpt2` (124M parameters) with IMDB review openings as
# prompts, a reward model trained on its own samples, a smaller learning rate (the lm-human-preferences value,
# 1.41e-5), larger batches and more iterations. A GPU is expected.
#
# ## 4. Exercises
#
# ### Exercise 1: per-token rewards
# Write `my_per_token_rewards(scores, logprobs, ref_logprobs, beta)`: $-\beta(\log\pi - \log\pi_{\text{ref}})$ at every
# token, plus the score at the last token.

# %%
def my_per_token_rewards(scores, logprobs, ref_logprobs, beta):
    # YOUR CODE HERE
    raise NotImplementedError


# %%
torch.manual_seed(0)
rlhf_utils.check(
    my_per_token_rewards, lm_ppo.per_token_rewards,
    [(torch.tensor([1.0, -0.5]), torch.randn(2, 4), torch.randn(2, 4), 0.1),
     (torch.tensor([2.0]), torch.zeros(1, 3), torch.zeros(1, 3), 0.5)],
    hint="start from -beta * (logprobs - ref_logprobs); add the score to the last column only",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_per_token_rewards(scores, logprobs, ref_logprobs, beta):
#     rewards = -beta * (logprobs - ref_logprobs)
#     rewards[:, -1] += scores
#     return rewards
# ```
# </details>
#
# ### Exercise 2: the k3 estimator
# Write `my_k3(logprobs, ref_logprobs)`: per sequence, $\sum_t (\rho_t - 1) - \log\rho_t$ with $\log\rho_t = \log\pi_{\text{ref}} - \log\pi$.
# Why is it never negative, while k1 can be?

# %%
def my_k3(logprobs, ref_logprobs):
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_k3, lambda lp, ref: lm_ppo.kl_estimators(lp, ref)["k3"],
    [(torch.randn(3, 5), torch.randn(3, 5)), (torch.zeros(2, 4), torch.zeros(2, 4))],
    hint="log_rho = ref_logprobs - logprobs; torch.expm1(log_rho) - log_rho, summed over the last axis",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_k3(logprobs, ref_logprobs):
#     log_rho = ref_logprobs - logprobs
#     return (torch.expm1(log_rho) - log_rho).sum(-1)
# ```
# $e^u - 1 - u \ge 0$ for every $u$ (the exponential lies above its tangent at 0), so each term is non-negative. k1 is
# $-\log\rho$, negative whenever the reference gives the sampled token more probability than the policy does.
# </details>
#
# ### Exercise 3: the adaptive controller
# Write `my_adaptive_beta(beta, kl, target, n, horizon)` returning the new $\beta$ of section 1.4.

# %%
def my_adaptive_beta(beta, kl, target, n, horizon):
    # YOUR CODE HERE
    raise NotImplementedError


# %%
def reference_adaptive_beta(beta, kl, target, n, horizon):
    controller = lm_ppo.AdaptiveKLController(beta, target, horizon)
    controller.update(kl, n)
    return controller.value


rlhf_utils.check(my_adaptive_beta, reference_adaptive_beta,
                 [(0.1, 8.0, 4.0, 32, 10_000), (0.1, 1.0, 4.0, 32, 10_000), (0.2, 4.4, 4.0, 64, 1_000)],
                 hint="error = clip(kl / target - 1, -0.2, 0.2); beta * (1 + error * n / horizon)");

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_adaptive_beta(beta, kl, target, n, horizon):
#     error = float(np.clip(kl / target - 1, -0.2, 0.2))
#     return beta * (1 + error * n / horizon)
# ```
# </details>
#
# ## Check your understanding
#
# 1. What would happen with $\beta = 0$?
# <details><summary>Answer</summary>Nothing keeps the policy near fluent text: it drifts to whatever the reward model over-rates (often repetitive or odd text), the reward keeps rising while the gold score falls. Notebook 07 shows it.</details>
#
# 2. Why is the value head zero-initialised?
# <details><summary>Answer</summary>So the first value estimates are 0: the first advantages are then the (whitened) rewards themselves, rather than rewards minus the noise of a random head, and the value loss starts small so it does not disturb the shared trunk.</details>
#
# 3. The first minibatch shows |log ratio| = 0.3. Name three possible causes.
# <details><summary>Answer</summary>Dropout on during the update; logits not divided by the sampling temperature in training (or top-k/top-p at sampling); wrong position ids or attention mask with left padding; a different set of forbidden tokens at sampling and scoring.</details>
#
# 4. Why γ = 1 here when CartPole used 0.99?
# <details><summary>Answer</summary>A response is a short, fixed-length episode whose reward comes at the end; discounting would only shrink the signal reaching early tokens for no benefit. CartPole's episodes are long, and γ < 1 reduces variance there.</details>
#
# 5. Why is the gold score logged but never trained on?
# <details><summary>Answer</summary>It stands for the human's true preference, which in real RLHF is not available at training time: only the reward model is. Watching gold lets us see whether optimising the proxy helps the real goal.</details>
#
# ## Summary and what comes next
# - RLHF maximises reward minus β·KL to the reference; the KL is paid per token, the reward at the end.
# - PPO for language models is notebook 02's PPO on (batch, tokens) tensors, with a value head on the LM, GAE with γ = 1 and an adaptive β.
# - The details (temperature, dropout, padding, position ids) decide whether it works; the ratio-equals-one check catches them.
#
# **Next, notebook 06**: the alternatives that came after PPO — best-of-N, rejection sampling, DPO, GRPO and RLOO — on
# the same model, data, reward model and evaluator.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
