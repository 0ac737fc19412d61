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
# (`SIMULATE = None`: you, except under CI or with `RLHF_SIMULATED_FEEDBACK=1`). The reward model is yours from
# notebook 04 if it measured as usable there, else the shipped one (criterion `positive`); the cell prints which.
# The live runs are judged by its criterion's gold score; the committed runs were made with the shipped model, so
# their figures are the same for everyone, whatever you label.

# %% tags=["exercise-setup"]
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import rlhf_utils
from rlhf_utils import evaluation, feedback, feedback_store, generation, gold, labelling, lm_ppo, lm_task, models, results
from rlhf_utils.labelling import LabellingWidget
from rlhf_utils.overoptimization import labels_by_model, pair_accuracy, peak_then_drop, round_labels, updated_reward_model
from rlhf_utils.reward_model import RewardTrainingConfig, load_reward_model

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(2)

# %% tags=["parameters", "exercise-setup"]
SIMULATE = None     # who labels in section 4: None = you, except under CI or with RLHF_SIMULATED_FEEDBACK=1
YOUR_NAME = "me"    # the name you labelled under in notebook 04

# %% tags=["exercise-setup"]
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
named = criterion in gold.NAMED_CRITERIA     # "own" has no gold score and no simulated person: only your labels
score_by = gold.gold_function(criterion if named else "positive")
score_name = f"gold ({criterion})" if named else "gold (positive; not your criterion)"
EVAL = dict(gold_fn=score_by, samples_per_prompt=ARGS["samples_per_prompt"], seed=1234)
print(f"reward model criterion: {criterion!r}; the live runs are judged by {score_name}")
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
# `data/results/overoptimization.json` (re-run with `python scripts/overoptimization_run.py`, about 36 minutes on 2
# cores), with the shipped reward model and the `positive` gold score: this figure and the other two of sections
# 3–4 plot that file, so they are the same for everyone and do not change with your labels. Here is round 1
# against KL:

# %% tags=["exercise-setup"]
points = RUN["points"]
kl = np.array([p["kl_mean"] for p in points])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
ax1.errorbar(kl, [p["reward_mean"] for p in points], yerr=[p["reward_se"] for p in points], color="tab:orange",
             marker="o", ms=4)
ax1.set(xlabel="sequence KL to the reference (nats)", ylabel="reward-model score (std of base samples = 1)",
        title="the proxy PPO optimises keeps rising")
ax2.errorbar(kl, [p["gold_mean"] for p in points], yerr=[p["gold_se"] for p in points], color="tab:blue",
             marker="s", ms=4)
ax2.set(xlabel="sequence KL to the reference (nats)", ylabel="gold score (positive criterion, −1 to 1)",
        title="the gold score we wanted peaks, then falls")
fig.suptitle(f"Committed run (data/results/overoptimization.json, not your labels): PPO with β = {ARGS['beta']} "
             f"for {ARGS['iterations']} iterations, ± 1 s.e.")
fig.tight_layout()
plt.show()
verdict = peak_then_drop([p["gold_mean"] for p in points], [p["gold_se"] for p in points])
peak = points[verdict.peak_index]
print(f"gold: {verdict}; the drop is {verdict.drop / verdict.drop_se:.0f} times its standard error")
print(f"peak at iteration {peak['iteration']} (KL {peak['kl_mean']:.1f}); end at iteration {points[-1]['iteration']} "
      f"(KL {points[-1]['kl_mean']:.1f}); proxy {points[0]['reward_mean']:+.2f} -> {peak['reward_mean']:+.2f} "
      f"-> {points[-1]['reward_mean']:+.2f}")
widest = int(kl.argmax())
last = points[widest:]   # from the largest KL to the end
print(f"largest KL {kl[widest]:.1f} at iteration {points[widest]['iteration']}; from there to the end gold "
      f"{min(p['gold_mean'] for p in last):+.2f} to {max(p['gold_mean'] for p in last):+.2f}, proxy "
      f"{min(p['reward_mean'] for p in last):+.2f} to {max(p['reward_mean'] for p in last):+.2f}")

# %% [markdown]
# In the committed run the shape is Gao et al.'s: a rise, a peak, a fall, while the proxy climbs on (the result
# check below asserts both). The fall is steeper than their
# $d(\alpha - \beta_\text{RL}\log d)$, which was fitted to large models judged by a learned gold reward model: our
# gold score gives degenerate, repetitive text its lowest score, so once the policy starts repeating itself gold
# collapses within a few nats. By the last evaluations gold lies on that floor, near −1, and the KL has stopped
# growing: it ends below its largest value as the learning rate anneals to zero, while the proxy stays at its highest
# (both printed above). There is no gold left to lose, and nothing more the proxy can be given.
#
# How sure is "peaks, then falls"? `overoptimization.peak_then_drop` divides the drop by
# $\sqrt{\mathrm{se}_\text{peak}^2 + \mathrm{se}_\text{end}^2}$, the drop's standard error *if* the two points were
# independent. They are not quite: both are measured on the same held-out prompts with the same evaluation seed, and
# the peak is the highest of all the points, picked for being high, so it tends to sit a little above the curve's
# true peak. So its verdict is a rough screen for drops of a few standard errors; the committed drop, about 70 of
# them (printed above), is far beyond either effect.
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
# The same configuration and seed as the committed run, up to iteration 30 — where round 2 of section 4 starts,
# with your reward model if you have one. Its random draws are the committed run's: the trainer seeds each
# iteration's sampling itself (`LMPPOConfig.seed`), and the committed run's evaluations drew from a forked random
# stream (`torch.random.fork_rng`), so they did not change its training draws. (On the machine the committed run was
# made on, the live and the committed lines printed below agree to the last digit.) The arithmetic may differ: on
# another CPU or thread count the floating-point sums run in another order, and thirty PPO iterations amplify such
# differences. So the live point is treated as *one more draw* of the same configuration, and the result check
# compares it with all the committed draws at this iteration (section 5), allowing for their spread — when it runs
# on the committed run's models (the quick profile and the shipped reward model).

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
# reward model orders them as gold does (gold ties left out), by the reward model's criterion.

# %%
def with_se(accuracy_and_pairs):
    acc, n = accuracy_and_pairs
    return f"{acc:.3f} ± {np.sqrt(acc * (1 - acc) / n):.3f}"

shift = {"base samples": pair_accuracy(base_model, tokenizer, rm, heldout_prompts, gold_fn=score_by),
         "policy samples": pair_accuracy(policy.lm, tokenizer, rm, heldout_prompts, gold_fn=score_by)}
for name, (acc, n) in shift.items():
    print(f"reward model accuracy by {score_name} on {name:15s}: {with_se((acc, n))} ({n} pairs)")

# %% [markdown]
# The committed run measured the same thing at every evaluation (shipped reward model, `positive` gold): the reward
# model's accuracy on the text the policy wrote at that point, against KL.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
acc = np.array([p["rm_accuracy"] for p in points])
ax.errorbar(kl, acc, yerr=np.sqrt(acc * (1 - acc) / np.array([p["rm_accuracy_pairs"] for p in points])), marker="o",
            ms=4, color="tab:purple", label="on the policy's own samples")
ax.axhline(points[0]["rm_accuracy"], color="grey", ls=":", label="on base-model samples")
ax.axhline(0.5, color="black", lw=0.8, label="chance (a coin flip)")
ax.axvline(peak["kl_mean"], color="tab:blue", ls="--", lw=1, label="gold's peak")
ax.set(xlabel="sequence KL to the reference (nats)", ylabel="share of pairs ordered as gold orders them",
       title="Committed run (not your labels): the reward model's accuracy on the policy's text\n"
             "falls as the policy drifts, below chance past gold's peak")
ax.legend(fontsize=8)
plt.show()
past_peak = [p["rm_accuracy"] for p in points if p["iteration"] > peak["iteration"]]
print(f"committed: accuracy {points[0]['rm_accuracy']:.2f} on base samples; after gold's peak between "
      f"{min(past_peak):.2f} and {max(past_peak):.2f}")

# %% [markdown]
# In the committed run (`data/results/overoptimization.json`; the numbers printed above): early on, while the
# policy still writes text like the base model's, the reward model orders its pairs about as
# well as it orders base-model pairs (sometimes better: the policy's two samples can differ more in sentiment). As the
# policy drifts, the accuracy falls, and past gold's peak it drops **below one half**: the reward model now prefers
# the *worse* of two responses more often than not. That is over-optimisation seen from the reward model's side —
# the policy has moved exactly to where the proxy is wrong. Two effects mix in it: the policy's samples are *off the
# distribution* the reward model was trained on, and they are *more alike* (harder pairs). Both are why RLHF collects
# new comparisons as the policy changes.
#
# ## 4. Iterated RLHF: a second round of feedback
# InstructGPT and Llama 2 collected comparisons in rounds, each on the current policy's samples. Here: sample pairs
# from the live policy, label them (you, in the widget, or the simulated human) **by your reward model's criterion**,
# **append them to the same store as your notebook-04 labels** — each record names the model that wrote it — and
# update the reward model. (Continuing PPO on it takes longer than a live run: that part comes from the committed run.)

# %% tags=["labelling-widget"]
BASE_MODEL_NAME = Path(models.base_model_source(course.profile)).name
ROUND2_MODEL = RUN["round2"]["policy_model"]          # every record names the model that wrote its responses
N_ROUND2 = course.profile.pick(quick=300, full=2000)
round2_prompts = lm_task.draw_prompts(train_prompts, N_ROUND2, seed=course.seed + 2)
torch.manual_seed(course.seed + 2)
r2_a, r2_b, _ = generation.sample_pairs(policy.lm, tokenizer, round2_prompts, desc="policy pairs")
round2_pairs = list(zip(round2_prompts, r2_a, r2_b))
store = feedback_store.FeedbackStore(feedback_store.default_store_path("labels"))
my_session = feedback.LabellingSession(store, round2_pairs[:40], model=ROUND2_MODEL, labeller=YOUR_NAME,
                                       criterion=criterion)
in_words = rm.info.get("criterion_in_words") or "the criterion you wrote down in notebook 04"
print(f"round 2: {len(round2_pairs)} pairs from the iteration-{LIVE_ITERATIONS} policy; the first {my_session.total} "
      f"are yours to label by {criterion!r} ({my_session.done} done)")
if simulated:
    widget = None
    print("the simulated human labels this round")
else:
    widget = LabellingWidget(my_session, instructions=labelling.instructions_for(criterion, in_words))
    display(widget)

# %% [markdown]
# If you are labelling, label some of the 40 pairs above (every click is saved at once), then run on. **Run All**
# does not wait at the widget: it runs past it with none of your labels (unless you labelled before), and the
# simulated person labels the whole round — as under CI.
#
# The simulated person labels every pair you did not, **by your reward model's criterion**
# (`SimulatedLabeller(criterion=...)`), so the round has enough data. For `own` no simulated person exists, so the
# rest stays unlabelled and the update below learns from your round-2 labels alone, with your notebook-04 labels as
# its replay: filling the round in by the `positive` gold score would teach your model a criterion that is not yours.
# The cell prints how many of the round's labels are yours; with 0 (Run All, CI) the round is all the simulated
# person's (with `own`: there is no round, and the reward model stays as it was).

# %%
stand_in = feedback.SimulatedLabeller(seed=course.seed, criterion=criterion) if named else None
this_round = round_labels(store, round2_pairs, model=ROUND2_MODEL, labeller=YOUR_NAME, criterion=criterion,
                          simulated=stand_in)
yours = feedback.preference_pairs(this_round.yours)      # your A/B choices (ties and skips do not train)
print(f"round 2: {len(this_round.all)} labels, {len(this_round.yours)} of them yours ({len(yours)} A/B choices), "
      f"{len(this_round.simulated)} by the simulated person")

# %% [markdown]
# Update the reward model (`overoptimization.updated_reward_model`): continue training a copy of it on the new
# comparisons mixed with as many fresh comparisons of base-model samples, labelled by the same simulated person
# (replay, so it keeps what it knew; for `own`, your notebook-04 labels), and renormalise it on base-model samples so
# β keeps its meaning. When some of the round's A/B choices are yours, the same update runs a second time without
# them, to show what your labels changed. Then every reward model is measured on **both** sample sets.

# %%
if named:   # replay: fresh base-model pairs, labelled by the same simulated person
    replay_prompts = lm_task.draw_prompts(train_prompts, N_ROUND2, seed=course.seed + 3)
    b_a, b_b, _ = generation.sample_pairs(base_model, tokenizer, replay_prompts, desc="base pairs")
    replay_labels = stand_in.label_pairs(store, zip(replay_prompts, b_a, b_b), model=BASE_MODEL_NAME)
else:       # "own": your notebook-04 labels of base-model pairs, by the same criterion
    replay_labels = [r for r in store.labels(YOUR_NAME) if r.model == BASE_MODEL_NAME and r.criterion == criterion]
torch.manual_seed(course.seed + 4)
calibration = generation.sample(base_model, tokenizer, lm_task.draw_prompts(train_prompts, 512, seed=course.seed + 4))
round2_config = RewardTrainingConfig(epochs=ARGS["round2_epochs"], learning_rate=ARGS["round2_lr"], seed=course.seed)

def updated_on(labels):
    # the round-1 reward model trained further on these round-2 labels and the replay; unchanged without any
    if not feedback.preference_pairs(labels):
        return rm
    return updated_reward_model(rm, feedback.preference_pairs(labels + replay_labels), calibration, round2_config)

reward_models = {"round-1 reward model": rm, "round-2 reward model": updated_on(this_round.all)}
rm2 = reward_models["round-2 reward model"]
if yours:
    reward_models["round 2 without your labels"] = updated_on(this_round.simulated)
else:
    print("none of the round's A/B choices are yours, so the round-2 reward model with and without your labels is "
          "the same model")
live_accuracy = {"round-1 reward model": shift} | {
    name: {"base samples": pair_accuracy(base_model, tokenizer, r, heldout_prompts, gold_fn=score_by),
           "policy samples": pair_accuracy(policy.lm, tokenizer, r, heldout_prompts, gold_fn=score_by)}
    for name, r in reward_models.items() if name != "round-1 reward model"}
committed_accuracy = RUN["round2"]["accuracy"]
print(f"accuracy by {score_name}, on the same held-out pairs for every reward model:")
print(f"{'':30s}{'base samples':>16s}{'policy samples':>17s}   committed run (shipped model, "
      f"{RUN['round2']['comparisons']} comparisons)")
for name, row in live_accuracy.items():
    c = committed_accuracy.get(name)
    shown = f"{c['base samples']['accuracy']:.3f} / {c['policy samples']['accuracy']:.3f}" if c else ""
    print(f"{name:30s}{with_se(row['base samples']):>16s}{with_se(row['policy samples']):>17s}   {shown}")
for model_name, labels in labels_by_model(store.labels()).items():
    print(f"  store: {model_name:40s} {len(labels):5d} labels")

# %% [markdown]
# Read the live table row by row; a difference smaller than the ± beside it is not evidence either way. When the
# last row is there, it is the same update without your labels: the gap between it and the row above is what your
# labels changed. The store (listed last) keeps every label, told apart by the model that wrote the pairs: the
# iteration-30 policy's, and the base model's (the replay, and your notebook-04 labels if you made any in this cache).
#
# What does the new reward model change for PPO? The committed run continued PPO from iteration 30 twice — with the
# old reward model and with its round-2 update (the numbers of comparisons printed below) — with the same settings,
# and each branch with the same three trainer seeds, so the runs pair up by seed. Gold against KL, one line per run:

# %%
branches = RUN["round2"]["branches"]       # per reward model: one continued run per trainer seed
base_gold = points[0]["gold_mean"]


def kl_where_gold_falls_below(run_points, level):
    """The KL of a run's first evaluation whose gold is below ``level`` (None if it never falls that low)."""
    return next((p["kl_mean"] for p in run_points if p["gold_mean"] < level), None)


print(f"committed round 2: {RUN['round2']['policy_pairs']} policy pairs and {RUN['round2']['base_pairs']} replayed "
      f"base pairs, {RUN['round2']['comparisons']} comparisons once ties are left out")
fig, ax = plt.subplots(figsize=(7.5, 4))
ax.errorbar(kl, [p["gold_mean"] for p in points], yerr=[p["gold_se"] for p in points], color="lightgrey",
            marker=".", label="round 1 (section 2)")
ax.axhline(base_gold, color="black", lw=0.8, ls=":", label="the base model")
turn_kl = {}   # per branch: the KL at which each run's gold fell below the base model's
for (name, runs), colour in zip(branches.items(), ["tab:blue", "tab:green"]):
    print(f"{name}, continued from iteration {LIVE_ITERATIONS}:")
    turn_kl[name] = []
    for i, run in enumerate(runs):
        b, v = run["points"], run["gold"]
        turn_kl[name].append(kl_where_gold_falls_below(b, base_gold))
        ax.errorbar([p["kl_mean"] for p in b], [p["gold_mean"] for p in b], yerr=[p["gold_se"] for p in b],
                    color=colour, marker="o", ms=3, lw=1, label=f"{name} ({len(runs)} seeds)" if i == 0 else None)
        best = b[v["peak_index"]]
        print(f"  seed {run['seed']}: peak {v['peak']:+.3f} at KL {best['kl_mean']:.1f}, end {v['end']:+.3f} at KL "
              f"{b[-1]['kl_mean']:.1f} ({'a significant drop' if v['significant'] else 'no significant drop'}); "
              f"gold below the base model's from KL {turn_kl[name][-1] or float('nan'):.1f}")
    print(f"  median: peak {np.median([r['gold']['peak'] for r in runs]):+.3f}, end "
          f"{np.median([r['gold']['end'] for r in runs]):+.3f}, below the base model from KL "
          f"{np.median([k for k in turn_kl[name] if k is not None]):.1f}")
    print(f"  a sample at the end (seed {runs[0]['seed']}): {runs[0]['points'][-1]['samples'][0]['response'][:100]!r}")
ax.set(xlabel="sequence KL to the reference (nats)", ylabel="gold score (positive criterion, −1 to 1)",
       title=f"Committed run (not your labels): PPO continued from iteration {LIVE_ITERATIONS},\n"
             "on the round-1 and on the round-2 reward model, ± 1 s.e.")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read it honestly (the committed run: the right-hand column of the table above and the lines printed above the
# figure). The second round made a *better* reward model — more accurate on base samples and on the iteration-30
# policy's samples — and PPO against it did better: in every seed the green run's gold fell below the base model's
# only at a larger KL than the blue run of the same seed, and its median peak is higher (the result check asserts
# both). The better reward model moved the turn to a larger KL. It did not remove it: with the same weak leash
# PPO pushed the new reward model on and found its blind spots too, and every run of both branches ends with a
# significant drop (a sample of each branch's end is printed above). The new comparisons came from a policy that had
# *not yet* started repeating itself, so they taught the reward model little about that failure: they bought KL,
# not safety. Iterated RLHF works when each round labels what the *current* policy does wrong, and when β keeps
# each round near the data its reward model has seen — it is a loop, not a single fix.
#
# Three seeds per branch is few, and section 5 shows how much single runs vary: an earlier version of this committed
# run, with one run per branch, had the green branch collapse *further* than the blue. Compare methods over seeds.


# %% [markdown]
# **Why do the blue runs not retrace the grey curve?** They continue from section 2's run with the same reward model,
# so one might expect them to follow it. Compare where each falls below the base model:

# %%
lr = config.learning_rate
print(f"learning rate at iteration {LIVE_ITERATIONS}: section 2's run {lr * (1 - LIVE_ITERATIONS / ARGS['iterations']):.2g}"
      f" ({1 - LIVE_ITERATIONS / ARGS['iterations']:.0%} of the full rate, annealed to 0 at iteration {ARGS['iterations']});"
      f" each branch {lr:.2g} (the full rate again, annealed to 0 over the remaining {ARGS['iterations'] - LIVE_ITERATIONS})")
section2_turn = kl_where_gold_falls_below(points, base_gold)
blue_turns = turn_kl["round-1 reward model"]
print(f"gold below the base model's from KL {section2_turn:.1f} in section 2's run; in the blue runs (seeds "
      f"{', '.join(str(r['seed']) for r in branches['round-1 reward model'])}) from KL "
      f"{', '.join(f'{k:.1f}' for k in blue_turns)}")

# %% [markdown]
# Section 2's turn lies among the blue runs' turns (printed above): the blue runs scatter around the grey curve rather
# than retrace it. The script starts PPO at iteration 30 afresh — a new optimiser (Adam's running averages reset),
# the learning rate back at its full value (printed above) and another trainer seed (other prompt batches and
# minibatch orders). Only the policy and its value head carry over. So each blue run is another draw of a similar
# process, and gold's turn is sharp — the grey curve goes from near its peak to below zero within a few evaluations —
# so runs that spend their KL a little differently sit far apart at the same KL. The comparison the experiment makes
# is between the two branches, seed by seed, which share all of this.

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
# - the live re-run learned: its criterion's gold score is above the base model's by more than two standard errors
#   (for `own`, which has no gold score, the reward model's own score is);
# - it agrees with the committed runs at iteration 30 (the main run and the other seeds of section 5) — it is one
#   more draw, so their spread counts — in gold and in KL, within three standard errors (when it uses the committed
#   run's models: the quick profile and the shipped reward model). The spread is estimated from only six runs, so
#   a correct re-run fails this about 3% of the time (a $t$ distribution with 5 degrees of freedom), not the 0.3%
#   three standard errors would give with a known spread;
# - every pair of round 2 has one label (yours or the simulated person's; for `own`, only yours), and every reward
#   model of section 4 is measured on policy samples beside base samples;
# - the committed round 2 reads as section 4 says: seed by seed, the run on the round-2 reward model fell below the
#   base model's gold at a larger KL than the run on the round-1 model, its median peak is higher, every run of both
#   branches ends in a significant drop, and section 2's turn lies among the round-1 runs' turns.

# %%
assert points[-1]["reward_mean"] > peak["reward_mean"] > points[0]["reward_mean"], "the proxy reward did not keep rising"
assert verdict.significant, f"no significant gold drop in the committed run: {verdict}"
if named:
    assert live.gold_mean > base_result.gold_mean + 2 * np.hypot(live.gold_se, base_result.gold_se), (live, base_result)
else:
    assert live.reward_mean > base_result.reward_mean + 2 * np.hypot(live.reward_se, base_result.reward_se), (live, base_result)
labelled = [r.pair_id for r in this_round.all]
assert len(set(labelled)) == len(labelled), "a pair of round 2 was labelled twice"
if named:
    assert set(labelled) == {feedback_store.pair_id(*pair, ROUND2_MODEL) for pair in round2_pairs}, len(labelled)
accuracies = [acc for row in live_accuracy.values() for acc, n in row.values()]
assert len(accuracies) == 2 * len(reward_models) and all(np.isfinite(accuracies)), live_accuracy
old_runs, new_runs = branches["round-1 reward model"], branches["round-2 reward model"]
assert [r["seed"] for r in old_runs] == [r["seed"] for r in new_runs], "the branches' runs do not pair up by seed"
assert None not in turn_kl["round-1 reward model"] + turn_kl["round-2 reward model"], turn_kl
assert all(new > old for old, new in zip(turn_kl["round-1 reward model"], turn_kl["round-2 reward model"])), turn_kl
assert np.median([r["gold"]["peak"] for r in new_runs]) > np.median([r["gold"]["peak"] for r in old_runs])
assert all(r["gold"]["significant"] for r in old_runs + new_runs), "a committed round-2 run did not drop significantly"
assert min(blue_turns) <= section2_turn <= max(blue_turns), (section2_turn, blue_turns)
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
     ([0.3, 0.1], [0.05, 0.05], 1.0),
     ([0.0, 0.5, 0.33], [0.05] * 3),             # significant with hypot, not with se_peak + se_last
     ([0.0, 0.5, 0.45], [0.01, 0.01, 0.05]),     # not significant, though it is with se_peak alone
     ([0.0, 0.5, 0.45], [0.01, 0.05, 0.01])],    # not significant, though it is with se_last alone
    hint="i = argmax(means); drop = means[i] - means[-1]; its standard error is hypot(ses[i], ses[-1]) = "
         "sqrt(se_peak² + se_last²): variances add, so not ses[i] or ses[-1] alone (both points are noisy) and not "
         "ses[i] + ses[-1]; False if i is the last point",
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
# 4. In section 4's committed run the round-2 reward model was more accurate, and PPO against it turned at a larger
#    KL, yet it still collapsed in every seed. Why?
# <details><summary>Answer</summary>Its new comparisons came from the iteration-30 policy, before the repetition hack
# appeared. They made it better near that policy's text, which bought some KL, but nothing in them taught it that
# repetition is bad: a better reward model *where it was trained* is still a proxy elsewhere. With a weak leash PPO
# left that region again. Rounds must follow the policy (label what it does now), and β must keep each round near
# its reward model's data.</details>
#
# ## Summary
# - A learned reward is a proxy. Optimised with a weak leash, its score keeps rising while the gold score peaks and
#   then falls below where it started; the samples show why (repetition of what the reward model likes).
# - Gao et al.'s $d(\alpha - \beta \log d)$ describes the rise and the turn; the KL penalty is the first defence,
#   because it keeps the policy where the reward model was trained.
# - The reward model's accuracy on the policy's own text is what matters, and it changes as the policy drifts.
# - A second round of feedback on the policy's samples is how RLHF iterates: every label records the model that
#   wrote the pair, the reward model is updated, and PPO continues; section 4 shows what it bought here (gold's
#   turn at a larger KL, in every seed), and that the new reward model is over-optimised too.
# - One number is not enough: win-rate, diversity, length and the spread across seeds belong beside the mean, and
#   methods are compared at equal KL, not at equal steps.
#
# **What comes next**: nothing in this course — this was its last notebook. Section 6 says what RLHF is used for, what
# is still hard, and where to go from here.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
