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
# # 07 · When RLHF goes wrong, and how it iterates
#
# The reward model is a *learned proxy* for what people want, trained on what the base model writes. Optimise it hard
# enough and the policy finds where the proxy is wrong. This notebook makes you **see** that on the course model,
# then shows how RLHF fights back — the KL leash, and another round of feedback on the policy's own samples — and
# closes the course.
#
# **Objectives**
# - watch reward over-optimisation: the proxy reward keeps rising while the gold score peaks and falls;
# - measure distribution shift: how well the reward model judges the policy's own samples as the policy drifts;
# - run a second round of RLHF: label the policy's samples, update the reward model, continue PPO;
# - evaluate beyond one number: win-rate, diversity, length, spread;
# - connect all this to the open problems of RLHF.
#
# **Prerequisites**: notebooks 04–06. Each loads what it needs.
#
# **Run time**: about 3 minutes on a 2-core CPU (quick profile), plus any labelling you do.

# %% [markdown]
# ## Setup
# As in notebook 05, plus the committed long runs of sections 2–4 and a switch for who labels in section 4
# (`SIMULATE = None`: you, except under CI or with `RLHF_SIMULATED_FEEDBACK=1`).

# %% tags=["exercise-setup"]
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import rlhf_utils
from rlhf_utils import evaluation, feedback, feedback_store, generation, gold, lm_ppo, lm_task, models, results
from rlhf_utils.labelling import LabellingWidget
from rlhf_utils.overoptimization import labels_by_model, pair_accuracy, peak_then_drop, updated_reward_model
from rlhf_utils.reward_model import RewardTrainingConfig, load_reward_model

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(2)
SIMULATE = None
simulated = feedback.use_simulated_feedback(SIMULATE)
base_model, tokenizer = models.load_base_model(course.profile, device=course.device)
rm = load_reward_model(tokenizer=tokenizer, profile=course.profile, device=course.device)
reference = generation.frozen_copy(base_model)
train_prompts = lm_task.load_prompts("train", profile=course.profile)
heldout_prompts = lm_task.load_prompts("heldout", profile=course.profile)
RUN = results.read_results("overoptimization")
ARGS = RUN["args"]                      # the committed run's settings; the live runs reuse them
# Judged by the reward model's criterion: its gold score (the shipped model's is "positive"; yours, from notebook 04,
# may be "negative"). "own" has no gold score, so the positive one is shown, not your criterion.
criterion = rm.criterion
score_by = gold.gold_function(criterion if criterion in gold.NAMED_CRITERIA else "positive")
EVAL = dict(gold_fn=score_by, samples_per_prompt=ARGS["samples_per_prompt"], seed=1234)
print(f"labels in section 4 come from: {'the simulated human' if simulated else 'you'}")

# %% [markdown]
# ## 1. Theory: Goodhart's law, measured
# *"When a measure becomes a target, it ceases to be a good measure."* The reward model $\hat r$ agrees with the gold
# preference $r^*$ on the kind of text it was trained on. PPO moves the policy away from that text, and the further it
# goes (the larger $\mathrm{KL}(\pi\|\pi_\text{ref})$), the more it relies on $\hat r$ where $\hat r$ was never checked.
# Gao, Schulman & Hilton (2023) measured this with a "gold" reward model standing in for people, as our gold score
# does, and found that the gold gain first rises then falls with $d = \sqrt{\mathrm{KL}}$:
#
# $$r^*_\text{RL}(d) \approx d\,(\alpha - \beta_\text{RL} \log d), \qquad r^*_\text{best-of-}N(d) \approx d\,(\alpha - \beta_\text{bon}\, d),$$
#
# while the proxy $\hat r$ keeps rising. (Their $\beta_\text{RL}$ is a fitted constant, not the KL coefficient.) Our
# gold score penalises degenerate text, so if the policy learns to repeat what the reward model likes, gold sees it.
#
# ## 2. Reward over-optimisation
# `scripts/overoptimization_run.py` trains PPO with a weak leash (a small fixed $\beta$) for much longer than
# notebook 05, evaluating on the held-out prompts every few iterations. Its results are committed in
# `data/results/overoptimization.json` (re-run with `python scripts/overoptimization_run.py`, about 40 minutes on 2
# cores). Here is round 1 against KL:

# %% tags=["exercise-setup"]
points = RUN["points"]
kl = np.array([p["kl_mean"] for p in points])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
ax1.errorbar(kl, [p["reward_mean"] for p in points], yerr=[p["reward_se"] for p in points], color="tab:orange",
             marker="o", ms=4)
ax1.set(xlabel="sequence KL to the reference (nats)", ylabel="proxy: reward-model score", title="what PPO optimises")
ax2.errorbar(kl, [p["gold_mean"] for p in points], yerr=[p["gold_se"] for p in points], color="tab:blue",
             marker="s", ms=4)
ax2.set(xlabel="sequence KL to the reference (nats)", ylabel="gold score", title="what we wanted")
fig.suptitle(f"PPO with β = {ARGS['beta']} for {ARGS['iterations']} iterations ({RUN['script']})")
plt.show()
verdict = peak_then_drop([p["gold_mean"] for p in points], [p["gold_se"] for p in points])
peak = points[verdict.peak_index]
print(f"gold: {verdict}")
print(f"peak at iteration {peak['iteration']} (KL {peak['kl_mean']:.1f}); end at iteration {points[-1]['iteration']} "
      f"(KL {points[-1]['kl_mean']:.1f}); proxy {points[0]['reward_mean']:+.2f} -> {peak['reward_mean']:+.2f} "
      f"-> {points[-1]['reward_mean']:+.2f}")

# %% [markdown]
# The shape is Gao et al.'s: a rise, a peak, a fall, while the proxy climbs on. The fall is steeper than their
# $d(\alpha - \beta_\text{RL}\log d)$, which was fitted to large models judged by a learned gold reward model: our
# gold score gives degenerate, repetitive text its lowest score, so once the policy starts repeating itself gold
# collapses within a few nats. Near the end the KL hardly grows (the learning rate is annealed to zero) while gold
# still falls: the policy spends the same KL budget ever more on what the proxy likes.
#
# What do the samples look like at the start, at gold's peak, and at the end? (The same four held-out prompts each
# time; the number is each sample's gold score.)

# %%
for label, p in [("base", points[0]), ("gold's peak", peak), ("end", points[-1])]:
    print(f"--- {label}: iteration {p['iteration']}, KL {p['kl_mean']:.1f}, proxy {p['reward_mean']:+.2f}, "
          f"gold {p['gold_mean']:+.2f}, distinct-2 {p['distinct_2']:.2f}")
    for s in p["samples"]:
        print(f"    {s['gold']:+.2f}  {s['prompt']}|{s['response']}")

# %% [markdown]
# **The first defence is the KL penalty**: with notebook 05's β the policy stays near the text the reward model
# knows; here, with a weak leash, nothing stops it. Other defences: early stopping on a held-out signal (real life
# has no gold score — hence human evaluation), ensembles of reward models, and **new feedback on the policy's own
# samples** (section 4).
#
# ### Re-run the start live
# The same configuration and seed as the committed run, up to iteration 30 — where round 2 of section 4 starts. It
# is not a bit-for-bit replay: the committed run stopped to evaluate every few iterations, and evaluation draws
# random numbers, so from the first evaluation on the two runs sample differently (and on another machine the
# floating-point path differs anyway). So the live point is *one more draw* of the same configuration, and the result
# check compares it with all the committed draws at this iteration (section 5), allowing for their spread.

# %%
LIVE_ITERATIONS = RUN["round2"]["from_iteration"]
config = lm_ppo.course_config(course.profile, adaptive_kl=False, kl_coef=ARGS["beta"], seed=ARGS["seed"])
torch.manual_seed(ARGS["seed"])
policy = lm_ppo.PolicyWithValueHead.from_base(base_model)
trainer = lm_ppo.LMPPOTrainer(policy, reference, tokenizer, rm.score_samples, config,
                              total_iterations=ARGS["iterations"], gold_fn=score_by)
lm_ppo.train(trainer, train_prompts, LIVE_ITERATIONS)
base_result = evaluation.evaluate_policy(base_model, reference, tokenizer, heldout_prompts, name="base",
                                         reward_fn=rm.score_samples, **EVAL)
live = evaluation.evaluate_policy(policy.lm, reference, tokenizer, heldout_prompts, name=f"live, iteration {LIVE_ITERATIONS}",
                                  reward_fn=rm.score_samples, base=base_result, **EVAL)
committed = next(p for p in points if p["iteration"] == LIVE_ITERATIONS)
print(live)
print(f"committed, iteration {LIVE_ITERATIONS}: gold {committed['gold_mean']:+.3f} ± {committed['gold_se']:.3f} | "
      f"KL {committed['kl_mean']:.2f} ± {committed['kl_se']:.2f} nats")

# %% [markdown]
# ## 3. Distribution shift
# The reward model learned from pairs of *base-model* samples. How well does it order pairs of the *policy's*
# samples? `overoptimization.pair_accuracy` draws two samples per held-out prompt from a model and counts how often the
# reward model orders them as gold does (gold ties left out).

# %%
shift = {"base samples": pair_accuracy(base_model, tokenizer, rm, heldout_prompts),
         "policy samples": pair_accuracy(policy.lm, tokenizer, rm, heldout_prompts)}
for name, (acc, n) in shift.items():
    print(f"reward model accuracy on {name:15s}: {acc:.3f} ± {np.sqrt(acc * (1 - acc) / n):.3f} ({n} pairs)")

# %% [markdown]
# The committed run measured the same thing at every evaluation: the reward model's accuracy on the text the policy
# wrote at that point, against KL.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
acc = np.array([p["rm_accuracy"] for p in points])
ax.errorbar(kl, acc, yerr=np.sqrt(acc * (1 - acc) / np.array([p["rm_accuracy_pairs"] for p in points])), marker="o",
            ms=4, color="tab:purple", label="on the policy's own samples")
ax.axhline(points[0]["rm_accuracy"], color="grey", ls=":", label="on base-model samples")
ax.axvline(peak["kl_mean"], color="tab:blue", ls="--", lw=1, label="gold's peak")
ax.set(xlabel="sequence KL to the reference (nats)", ylabel="reward-model accuracy (vs gold)",
       title="The proxy is judged on text it was never trained on")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Early on, while the policy still writes text like the base model's, the reward model orders its pairs about as
# well as it orders base-model pairs (sometimes better: the policy's two samples can differ more in sentiment). As the
# policy drifts, the accuracy falls, and past gold's peak it drops **below one half**: the reward model now prefers
# the *worse* of two responses more often than not. That is over-optimisation seen from the reward model's side —
# the policy has moved exactly to where the proxy is wrong. Two effects mix in it: the policy's samples are *off the
# distribution* the reward model was trained on, and they are *more alike* (harder pairs). Both are why RLHF collects
# new comparisons as the policy changes.
#
# ## 4. Iterated RLHF: a second round of feedback
# InstructGPT and Llama 2 collected comparisons in rounds, each on the current policy's samples. Here: sample pairs
# from the policy, label them (you, in the widget, or the simulated human), **append them to the same store as your
# notebook-04 labels** — each record names the model that wrote it — update the reward model, and continue PPO.

# %%
BASE_MODEL_NAME = Path(models.base_model_source(course.profile)).name
ROUND2_MODEL = RUN["round2"]["policy_model"]          # every record names the model that wrote its responses
N_ROUND2 = course.profile.pick(quick=300, full=2000)
round2_prompts = lm_task.draw_prompts(train_prompts, N_ROUND2, seed=course.seed + 2)
torch.manual_seed(course.seed + 2)
r2_a, r2_b, _ = generation.sample_pairs(policy.lm, tokenizer, round2_prompts, desc="policy pairs")
round2_pairs = list(zip(round2_prompts, r2_a, r2_b))
store = feedback_store.FeedbackStore(feedback_store.default_store_path("labels"))
YOUR_NAME = "me"
my_session = feedback.LabellingSession(store, round2_pairs[:40], model=ROUND2_MODEL, labeller=YOUR_NAME)
LabellingWidget(my_session) if not simulated else print("the simulated human labels this round")

# %% [markdown]
# If you are labelling, label some of the 40 pairs above (every click is saved at once), then run on: the simulated
# human labels the rest of the round so there is enough data. The store now holds every round, told apart by model:

# %%
yours = {r.pair_id for r in store.labels(YOUR_NAME) if r.model == ROUND2_MODEL}
rest = [pair for pair in round2_pairs if feedback_store.pair_id(*pair, ROUND2_MODEL) not in yours]
simulated_labels = feedback.SimulatedLabeller(seed=course.seed).label_pairs(store, rest, model=ROUND2_MODEL)
ids = {feedback_store.pair_id(*pair, ROUND2_MODEL) for pair in round2_pairs}
round2_labels = [r for r in store.labels() if r.model == ROUND2_MODEL and r.pair_id in ids]
print(f"round 2: {len(round2_labels)} labels ({len(yours)} yours)")
for model_name, labels in labels_by_model(store.labels()).items():
    print(f"  store: {model_name:40s} {len(labels):5d} labels")

# %% [markdown]
# Update the reward model (`overoptimization.updated_reward_model`): continue training a copy of it on the new
# comparisons mixed with as many fresh comparisons of base-model samples (replay, so it keeps what it knew), and
# renormalise it on base-model samples so β keeps its meaning. Then measure the old and the new reward model on
# **both** sample sets.

# %%
replay_prompts = lm_task.draw_prompts(train_prompts, N_ROUND2, seed=course.seed + 3)
b_a, b_b, _ = generation.sample_pairs(base_model, tokenizer, replay_prompts, desc="base pairs")
replay_labels = feedback.SimulatedLabeller(seed=course.seed).label_pairs(
    store, zip(replay_prompts, b_a, b_b), model=BASE_MODEL_NAME)
torch.manual_seed(course.seed + 4)
calibration = generation.sample(base_model, tokenizer, lm_task.draw_prompts(train_prompts, 512, seed=course.seed + 4))
rm2 = updated_reward_model(rm, feedback.preference_pairs(round2_labels + replay_labels), calibration,
                           RewardTrainingConfig(epochs=ARGS["round2_epochs"], learning_rate=ARGS["round2_lr"],
                                                seed=course.seed))
live_accuracy = {"round-1 reward model": shift,
                 "round-2 reward model": {"base samples": pair_accuracy(base_model, tokenizer, rm2, heldout_prompts),
                                          "policy samples": pair_accuracy(policy.lm, tokenizer, rm2, heldout_prompts)}}
committed_accuracy = RUN["round2"]["accuracy"]
print(f"{'':22s}{'base samples':>14s}{'policy samples':>16s}   committed ({RUN['round2']['comparisons']} comparisons)")
for name, row in live_accuracy.items():
    c = committed_accuracy[name]
    print(f"{name:22s}{row['base samples'][0]:14.3f}{row['policy samples'][0]:16.3f}   "
          f"{c['base samples']['accuracy']:.3f} / {c['policy samples']['accuracy']:.3f}")

# %% [markdown]
# What does the new reward model change for PPO? The committed run continued PPO from iteration 30 twice — with the
# old reward model and with the round-2 one (trained on 2,000 policy comparisons plus 2,000 replayed), same seed,
# same β. Gold against KL:

# %%
branches = RUN["round2"]["branches"]
fig, ax = plt.subplots(figsize=(7.5, 4))
ax.errorbar(kl, [p["gold_mean"] for p in points], yerr=[p["gold_se"] for p in points], color="lightgrey",
            marker=".", label="round 1 (section 2)")
for (name, branch), colour in zip(branches.items(), ["tab:blue", "tab:green"]):
    ax.errorbar([p["kl_mean"] for p in branch], [p["gold_mean"] for p in branch], yerr=[p["gold_se"] for p in branch],
                color=colour, marker="o", ms=4, label=f"from iteration {LIVE_ITERATIONS}, {name}")
    v = peak_then_drop([p["gold_mean"] for p in branch], [p["gold_se"] for p in branch])
    best = branch[v.peak_index]
    print(f"{name}: gold peak {v.peak:+.3f} at KL {best['kl_mean']:.1f} (iteration {best['iteration']}), "
          f"end {v.end:+.3f} at KL {branch[-1]['kl_mean']:.1f}: {'a significant drop' if v.significant else 'no significant drop'}")
ax.set(xlabel="sequence KL to the reference (nats)", ylabel="gold score", title="Continuing PPO after a second round of feedback")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read it honestly. The second round made a *better* reward model — more accurate on base samples and on the
# iteration-30 policy's samples (the table above). Yet at equal KL the two branches are close (the new one a little
# higher near 30 nats, a little lower near 43): the better reward model did not push the turn to a larger KL. And with
# the same weak leash PPO then pushed the new reward model further and faster, and found its blind spot too: the same
# repetition, all the way to the lowest gold score. The new
# comparisons came from a policy that had *not yet* started repeating itself, so they taught the reward model
# nothing about that failure. Iterated RLHF works when each round labels what the *current* policy does wrong, and
# when β keeps each round near the data its reward model has seen — it is a loop, not a single fix. (And this is one
# run per branch: section 5 shows how much single runs vary.)

# %% [markdown]
# ## 5. Evaluation beyond one number
# A single mean hides a lot. `evaluate_policy` also reports the **win-rate** against the base model (the share of
# prompts where the policy's response has the higher gold score, ties counting ½), **diversity** (distinct-1/2: the
# share of unique word n-grams; over-optimised policies repeat themselves), and **length**. And one run is one draw:
# the committed run repeated its first 30 iterations with other seeds, which gives the **seed-to-seed spread**.

# %%
print(f"{'':26s}{'gold':>16s}{'KL':>7s}{'win-rate':>10s}{'distinct-2':>12s}{'words':>7s}")
for r in [base_result, live]:
    print(f"{r.name:26s}{r.gold_mean:+9.3f} ± {r.gold_se:.3f}{r.kl_mean:7.2f}{r.win_rate:10.2f}{r.distinct_2:12.2f}"
          f"{r.length_words:7.1f}")
for label, p in [("committed, gold's peak", peak), ("committed, end", points[-1])]:
    print(f"{label:26s}{p['gold_mean']:+9.3f} ± {p['gold_se']:.3f}{p['kl_mean']:7.2f}{'':>10s}{p['distinct_2']:12.2f}"
          f"{p['length_words']:7.1f}")

seeds = RUN["seed_spread"]["points"]
golds, seed_kls = np.array([p["gold_mean"] for p in seeds]), np.array([p["kl_mean"] for p in seeds])
print(f"\nseed spread at iteration {RUN['seed_spread']['iteration']}:")
for p in seeds:
    print(f"  seed {p['seed']}: gold {p['gold_mean']:+.3f} ± {p['gold_se']:.3f}, KL {p['kl_mean']:.1f}")
print(f"  std of gold across seeds {golds.std(ddof=1):.3f}, against a within-run standard error of "
      f"{np.mean([p['gold_se'] for p in seeds]):.3f}")

# %% [markdown]
# A standard error describes one run's *evaluation* (which held-out samples it happened to draw); the spread across
# seeds describes the *training run* itself. When the spread is larger, two single runs can differ by more than their
# error bars say: compare methods over several seeds. Look at the KL column too: runs differ partly in *how fast* the
# policy drifted, one more reason to compare methods against KL rather than against training steps, as notebook 06
# does.

# %% [markdown]
# ### Result check
# - the committed long run shows over-optimisation: the proxy reward is higher at the end than at gold's peak (and
#   than at the start), while gold ends more than two standard errors below its peak;
# - the live re-run learned (gold above the base model by more than two standard errors) and agrees with the committed
#   runs at iteration 30 (the main run and the other seeds of section 5) — it is one more draw, so their spread
#   counts — in gold and in KL, within three standard errors (when it uses the committed run's models: the quick
#   profile and the shipped reward model);
# - the reward model's accuracy is measured on policy samples beside base samples, and the round-2 reward model on
#   both sample sets.

# %%
assert points[-1]["reward_mean"] > peak["reward_mean"] > points[0]["reward_mean"], "the proxy reward did not keep rising"
assert verdict.significant, f"no significant gold drop in the committed run: {verdict}"
assert live.gold_mean > base_result.gold_mean + 2 * np.hypot(live.gold_se, base_result.gold_se), (live, base_result)
accuracies = [acc for row in live_accuracy.values() for acc, n in row.values()]
assert len(accuracies) == 4 and all(np.isfinite(accuracies)), live_accuracy
if results.comparable_with_committed(course.profile, rm):
    # the live run is one more draw of the committed runs at this iteration: judged against their spread
    for key, values in (("gold", golds), ("kl", seed_kls)):
        assert results.agrees_with_runs(getattr(live, f"{key}_mean"), getattr(live, f"{key}_se"), values), (key, live, values)
    compared = f"the live re-run agrees with the {len(golds)} committed runs at iteration {LIVE_ITERATIONS}"
else:
    compared = "the live re-run uses other models than the committed one (your reward model, or the full profile): not compared"
print(f"result check passed: {verdict}; live gold {live.gold_mean:+.3f} at KL {live.kl_mean:.1f}; {compared}")


# %% [markdown]
# ## 6. Closing: what RLHF is for, and what is still hard
#
# **Applications, and what the reward would be**
# - *dialogue assistants*: human comparisons of helpfulness and harmlessness (InstructGPT, Claude, Llama 2-Chat);
# - *summarisation*: which summary a reader prefers (Stiennon et al., 2020 — the paper that made RLHF work for text);
# - *translation*: preference between translations, or learned quality metrics;
# - *code generation*: tests that pass (a verifiable reward, no reward model needed) and reviewers' preferences.
#
# **Challenges, tied to what you just saw**
# - *cost of human feedback*: you felt it in the widget — a few dozen careful labels take minutes, and a reward model
#   wants thousands; simulated and AI feedback (RLAIF, constitutional AI) are answers with their own biases;
# - *whose preferences*: the reward model learns the labellers' criterion (notebook 04: change the criterion, change
#   the model); bias in who labels becomes bias in the model;
# - *reward hacking*: section 2 — the policy exploits the proxy; safety work studies it at scale;
# - *interpretability*: a reward model is a network; section 3's mistakes were found by looking at examples.
#
# **FAQ**
# - *RLHF vs supervised learning?* Supervised fine-tuning imitates demonstrations; RLHF optimises a judgement of
#   outputs, which is easier to give than a demonstration and can exceed it.
# - *Why PPO?* Stable updates (the clip), a value baseline, sample reuse; notebook 06 showed what else works (DPO,
#   GRPO/RLOO, best-of-N) and at what KL.
# - *What comes next?* Better feedback (fine-grained, AI-assisted, verifiable rewards), stronger and cheaper RL
#   (group baselines, offline methods), and more general models trained this way.
#
# **Where to go next**: Christiano et al. 2017; Ziegler et al. 2019; Stiennon et al. 2020; Ouyang et al. 2022
# (InstructGPT); Rafailov et al. 2023 (DPO); Gao et al. 2023 (over-optimisation); Huang et al. 2024 ("The N
# Implementation Details of RLHF with PPO"); the TRL library for production-scale trainers.

# %% [markdown]
# ## 7. Exercises
#
# ### Exercise 1: a significant drop
# Write `my_drop_is_significant(means, ses, k)`: find the peak of `means`; return `True` when the peak is not the last
# point and `peak - last > k * sqrt(se_peak² + se_last²)`.

# %%
def my_drop_is_significant(means, ses, k=2.0) -> bool:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_drop_is_significant, lambda m, s, k=2.0: peak_then_drop(m, s, k).significant,
    [([0.0, 0.5, 0.4], [0.02] * 3), ([0.0, 0.5, 0.4], [0.05] * 3), ([0.1, 0.2, 0.3], [0.01] * 3),
     ([0.3, 0.1], [0.05, 0.05], 1.0)],
    hint="i = argmax(means); drop = means[i] - means[-1]; compare with k * hypot(ses[i], ses[-1]); False if i is last",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_drop_is_significant(means, ses, k=2.0):
#     i = int(np.argmax(means))
#     return i < len(means) - 1 and means[i] - means[-1] > k * np.hypot(ses[i], ses[-1])
# ```
# </details>
#
# ### Exercise 2: win-rate
# Write `my_win_rate(gold, base_gold)`: the share of prompts where the policy's gold score beats the base model's,
# counting a tie as ½.

# %%
def my_win_rate(gold_scores, base_gold) -> float:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_win_rate, lambda g, b: evaluation.win_rate(g, b)[0],
    [(np.array([0.5, 0.1, 0.0]), np.array([0.2, 0.3, 0.0])), (np.array([s["gold"] for s in points[-1]["samples"]]), np.array([s["gold"] for s in points[0]["samples"]]))],
    hint="((gold > base) + 0.5 * (gold == base)).mean()",
);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_win_rate(gold_scores, base_gold):
#     return float(((gold_scores > base_gold) + 0.5 * (gold_scores == base_gold)).mean())
# ```
# </details>
#
# ## Check your understanding
#
# 1. Why does the proxy reward keep rising while gold falls?
# <details><summary>Answer</summary>PPO maximises the proxy, so the proxy rises by construction. The proxy was fit on
# base-model text; far from it, its errors are systematic, and the policy moves exactly towards the texts it
# overrates.</details>
#
# 2. Why is the KL penalty called the first defence, and why is it not enough?
# <details><summary>Answer</summary>It keeps the policy near the text the reward model was trained on, where it is
# accurate. But the right β is unknown without a gold signal, and a small drift can still find the proxy's blind
# spots; new feedback on the policy's samples fixes the proxy itself.</details>
#
# 3. Why do later rounds of feedback label the *policy's* samples rather than more base-model samples?
# <details><summary>Answer</summary>Because that is where the reward model is now used and now wrong (section 3):
# comparisons there teach it exactly what it lacks.</details>
#
# 4. In section 4 the round-2 reward model was more accurate, yet PPO against it collapsed further. Why?
# <details><summary>Answer</summary>Its new comparisons came from the iteration-30 policy, before the repetition hack
# appeared, so nothing in them taught it that repetition is bad; a better reward model *where it was trained* is
# still a proxy elsewhere. With a weak leash PPO left that region again. Rounds must follow the policy (label what it
# does now), and β must keep each round near its reward model's data.</details>
#
# ## Summary
# - A learned reward is a proxy. Optimised with a weak leash, its score keeps rising while the gold score peaks and
#   then falls below where it started; the samples show why (repetition of what the reward model likes).
# - Gao et al.'s $d(\alpha - \beta \log d)$ describes the rise and the turn; the KL penalty is the first defence,
#   because it keeps the policy where the reward model was trained.
# - The reward model's accuracy on the policy's own text is what matters, and it changes as the policy drifts.
# - A second round of feedback on the policy's samples is how RLHF iterates: every label records the model that
#   wrote the pair, the reward model is updated, and PPO continues; section 4 shows what it bought here, and that
#   the new reward model can be over-optimised too.
# - One number is not enough: win-rate, diversity, length and the spread across seeds belong beside the mean, and
#   methods are compared at equal KL, not at equal steps.
#
# **What comes next**: nothing in this course — this was its last notebook. Section 6 says what RLHF is used for, what
# is still hard, and where to go from here.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
