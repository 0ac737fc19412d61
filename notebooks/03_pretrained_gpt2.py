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
# # 03 · Step 1 of RLHF: a pretrained GPT-2
#
# RLHF does not teach a language model to write; it *reshapes* what an already fluent model prefers to write.
# This notebook is step 1 of the pipeline: the pretrained model that everything after it starts from.
#
# **Objectives**
# - say what a causal language model computes and how GPT-2 was pretrained (next-token prediction);
# - see how byte-level BPE turns text into tokens, by training one;
# - watch a small GPT-2 learn from scratch for half a minute, then load the course's fully trained one;
# - sample from it greedily, with temperature, top-k and top-p, and measure perplexity;
# - measure what RLHF will move: the sentiment of the base model's continuations.
#
# **Prerequisites**: PyTorch basics (tensors, `backward`, an optimiser). Notebooks 01–02 are not needed here.
#
# **Run time**: about 1 minute on a 2-core CPU (quick profile).

# %% [markdown]
# ## Setup
#
# Imports, then `rlhf_utils.setup`: seeds, device, profile banner. In the `quick` profile the base model is the
# course's own small GPT-2 shipped under `data/models/`; in `full` it is the real `gpt2` from the Hugging Face hub.

# %% tags=["exercise-setup"]
import json
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import GPT2Config, GPT2LMHeadModel

import rlhf_utils
from rlhf_utils import generation, gold, lm_task, models, pretraining

NOTEBOOK_START = time.perf_counter()
course = rlhf_utils.setup(seed=0)
torch.set_num_threads(2)  # small models: more threads than cores only adds overhead

# %% [markdown]
# ## 1. Theory
#
# ### 1.1 A causal language model
# A language model assigns a probability to a text $x = (x_1, \dots, x_T)$ of tokens. A **causal** (autoregressive)
# model factorises it left to right,
#
# $$p_\theta(x) = \prod_{t=1}^{T} p_\theta(x_t \mid x_{<t}),$$
#
# so one network call gives the distribution of the next token given everything before it. **Pretraining** fits
# $\theta$ by maximum likelihood on a large corpus, i.e. it minimises the next-token cross-entropy
#
# $$\mathcal{L}(\theta) = -\frac{1}{N}\sum_{t} \log p_\theta(x_t \mid x_{<t}), \qquad \text{perplexity} = e^{\mathcal{L}}.$$
#
# Perplexity reads as "the model is as unsure as a uniform choice among this many tokens".
#
# **GPT-2** (Radford et al., 2019) is a decoder-only transformer trained exactly this way on *WebText*, about 40 GB of
# text from some 8 million web pages. The smallest GPT-2, `gpt2`, has 124M parameters: 12 layers, width 768, 12
# attention heads, a 1,024-token context and a 50,257-token byte-level BPE vocabulary.
#
# ### 1.2 Why RLHF starts from a pretrained model
# Reinforcement learning improves a policy by sampling from it and making rewarded samples more likely. A randomly
# initialised model samples noise; a reward for "a positive, fluent review" would essentially never be seen, so
# there would be nothing to reinforce. A pretrained model already puts almost all its probability on fluent text,
# so RL only has to shift probability *among fluent continuations*. That is also why RLHF keeps the pretrained model
# around as a **reference** $\pi_{\text{ref}}$ and penalises drifting from it (the KL term of notebook 05).
#
# ### 1.3 The course's own GPT-2
# The hub is not reachable offline, and the real GPT-2 is slow on a laptop CPU. The quick profile therefore uses a
# GPT-2 the course built itself, the way TinyStories (Eldan and Li, 2023: a corpus of simple stories in the words a
# small child knows, on which models of a few million parameters learn to write fluent, coherent English) showed small
# models can be fluent on a narrow corpus:
#
# 1. **corpus**: short movie reviews of mixed sentiment, written offline by SmolLM2-135M-Instruct, then cleaned,
#    deduplicated and balanced between positive and negative (`scripts/generate_corpus.py`, `scripts/build_corpus.py`);
# 2. **tokenizer**: byte-level BPE trained on that corpus, with a small vocabulary;
# 3. **model**: `GPT2LMHeadModel` with a small config, pretrained on the corpus (`scripts/train_course_gpt2.py`).
#
# Same architecture, same code path (`from_pretrained`), different size.

# %% [markdown]
# ## 2. Build it
#
# ### 2.1 The corpus
# Each review is one training document: `<|endoftext|> review <|endoftext|>`. The request that produced it is kept
# beside it, and so is its VADER score, measured on the text. VADER (Hutto and Gilbert, 2014) is a rule-based sentiment
# scorer: a dictionary of words rated from negative to positive, plus rules for negation ("not good"), intensifiers
# ("very") and punctuation; its *compound* score runs from $-1$ (very negative) to $+1$ (very positive).

# %% tags=["exercise-setup"]
train_reviews = pretraining.load_reviews("train")
valid_reviews = pretraining.load_reviews("validation")
print(f"{len(train_reviews)} training and {len(valid_reviews)} validation reviews")
rng = np.random.default_rng(course.seed)
for r in rng.choice(train_reviews, size=3, replace=False):
    print(f"\n[asked for {r['request']['sentiment']} review of a {r['request']['genre']}; VADER {r['vader']:+.2f}]\n{r['text']}")

# %% [markdown]
# ### 2.2 Tokenisation: byte-level BPE
# A model needs a finite vocabulary. GPT-2's answer is **byte-level byte-pair encoding**:
#
# 1. start from the 256 possible bytes, so *any* text can be encoded (no "unknown" token ever);
# 2. split text into words (a space stays attached to the word after it; GPT-2 shows that space as `Ġ`);
# 3. repeatedly **merge the most frequent adjacent pair** of symbols into a new symbol, until the vocabulary has
#    the size you asked for. The list of merges, in order, *is* the tokenizer.
#
# Let's train a tiny one (300 symbols: the 256 bytes, 2 special tokens and ~40 merges) on a few hundred reviews and
# look at its first merges.

# %% tags=["exercise-setup"]
texts = [r["text"] for r in train_reviews[:500]]
tiny_tokenizer = pretraining.train_byte_level_bpe(texts, vocab_size=300)
merges = json.loads(tiny_tokenizer.backend_tokenizer.to_str())["model"]["merges"]
print(f"{len(merges)} merges; the first 15:")
for merge in merges[:15]:
    print("  ", " + ".join(merge) if isinstance(merge, list) else merge)

# %% [markdown]
# The first merges are the most frequent pairs in English: `Ġ` + `t` (a space then *t*), `h` + `e`, ... Longer
# words are built from earlier merges. Now compare it with the course tokenizer (a few thousand merges) and count
# tokens per word: the fewer, the more text fits in a fixed number of tokens.

# %% tags=["exercise-setup"]
base_model, tokenizer = models.load_base_model(course.profile, device=course.device)
sentence = "The acting was surprisingly good, but the story dragged."
for name, tok in [("tiny BPE (300)", tiny_tokenizer), (f"course tokenizer ({len(tokenizer)})", tokenizer)]:
    pieces = tok.convert_ids_to_tokens(tok(sentence, add_special_tokens=False)["input_ids"])
    n_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts[:200])
    n_words = sum(len(t.split()) for t in texts[:200])
    print(f"{name:26s} {len(pieces):3d} tokens: {pieces}")
    print(f"{'':26s} {n_tokens / n_words:.2f} tokens per word on 200 reviews\n")

# %% [markdown]
# ### 2.3 Next-token prediction, by hand
# Shift by one: the logits at position $t$ predict token $t+1$. The loss is the cross-entropy over real tokens only
# (padding is masked out). `transformers` computes the same thing when you pass `labels`; let's check.

# %% tags=["exercise-setup"]
docs = pretraining.encode_documents(tokenizer, texts[:4], max_length=64)
ids, mask = next(pretraining.length_bucketed_batches(docs, tokens_per_batch=10_000, pad_id=tokenizer.pad_token_id))
with torch.no_grad():
    logits = base_model(input_ids=ids, attention_mask=mask).logits      # (batch, time, vocab)
    predicted, targets = logits[:, :-1], ids[:, 1:]                      # position t predicts token t+1
    token_losses = F.cross_entropy(predicted.transpose(1, 2), targets, reduction="none")
    real = mask[:, 1:].float()
    by_hand = (token_losses * real).sum() / real.sum()
    library = pretraining.lm_loss(base_model, ids, mask)
print(f"cross-entropy by hand {by_hand:.4f} nats/token, transformers {library:.4f}")
assert torch.allclose(by_hand, library, atol=1e-4)

# %% [markdown]
# ### 2.4 A short pretraining run from scratch
# `LIVE_STEPS` steps (about half a minute on an otherwise idle 2-core CPU; yours is printed) of training a 2-layer
# GPT-2 (width 128) with the course tokenizer. Two reference points for its validation loss:
#
# - the **unigram entropy** $H = -\sum_w f_w \log f_w$ of the corpus's token frequencies $f_w$: the best loss of a
#   model that ignores context entirely. Going below it proves the model uses the preceding tokens;
# - the shipped course model, trained for much longer (section 2.5).

# %%
train_docs = pretraining.encode_documents(tokenizer, [r["text"] for r in train_reviews], max_length=128)
valid_docs = pretraining.encode_documents(tokenizer, [r["text"] for r in valid_reviews[:300]], max_length=128)
unigram_entropy = pretraining.unigram_entropy(train_docs)
print(f"unigram entropy: {unigram_entropy:.2f} nats/token (perplexity {math.exp(unigram_entropy):.0f})")

LIVE_STEPS = course.profile.pick(quick=150, full=1500)
torch.manual_seed(course.seed)
small = GPT2LMHeadModel(GPT2Config(
    vocab_size=len(tokenizer), n_positions=128, n_embd=128, n_layer=2, n_head=4,
    bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
))
print(f"{sum(p.numel() for p in small.parameters()) / 1e6:.2f}M parameters")


# %% [markdown]
# Before training the model samples uniformly random tokens. Here is what it writes after "The movie":

# %%
def continue_text(model, prompt: str, n_tokens: int = 20, **generate_kwargs) -> str:
    ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_tokens,
                         pad_token_id=tokenizer.pad_token_id, **{"do_sample": True, **generate_kwargs})
    return prompt + tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


print(continue_text(small.eval(), "The movie"))

# %% [markdown]
# The training loop is the one every language model uses: batches of documents, the loss above, AdamW, a clipped
# gradient. We evaluate on held-out reviews every few steps.

# %%
optimizer = torch.optim.AdamW(small.parameters(), lr=3e-3, weight_decay=0.01)
batches = iter(())
live_log = []
live_start = time.perf_counter()
small.train()
for step in tqdm(range(1, LIVE_STEPS + 1), desc="pretraining from scratch"):
    try:
        ids, mask = next(batches)
    except StopIteration:  # a new epoch: reshuffle the length-bucketed batches
        batches = pretraining.length_bucketed_batches(train_docs, 2048, tokenizer.pad_token_id, rng)
        ids, mask = next(batches)
    loss = pretraining.lm_loss(small, ids, mask)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(small.parameters(), 1.0)
    optimizer.step()
    if step % 25 == 0 or step == 1:
        live_log.append((step, loss.item(), pretraining.evaluate_loss(small, valid_docs, tokenizer.pad_token_id)))
        small.train()
small.eval()
live_valid_loss = live_log[-1][2]
print(f"{LIVE_STEPS} steps in {time.perf_counter() - live_start:.0f} s; "
      f"validation loss {live_log[0][2]:.2f} after step 1, {live_valid_loss:.2f} nats/token after step {LIVE_STEPS}")
print(continue_text(small, "The movie"))

# %%
steps_logged, train_losses, valid_losses = zip(*live_log)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(steps_logged, train_losses, label="training batch")
ax.plot(steps_logged, valid_losses, marker="o", label="validation")
ax.axhline(unigram_entropy, color="gray", ls="--", label="unigram entropy (no context)")
ax.set(xlabel="training step (one batch of about 2,048 tokens)", ylabel="cross-entropy (nats/token)",
       title=f"{LIVE_STEPS} steps from scratch: does validation go below the unigram line?")
ax.legend();

# %% [markdown]
# Read it: both losses fall from their start (a random model's loss is near $\log$ of the vocabulary size), and the
# validation loss ends below the dashed unigram line, so the model has started to use the preceding tokens; the
# result check asserts both (printed above: the validation loss after the first step and after the last). The
# sample above shows how far from fluent it still is.

# %% [markdown]
# ### 2.5 The shipped course model
# The course model (6 layers, width 256) was trained the same way, for much longer and with dropout and weight decay,
# by `scripts/train_course_gpt2.py`. It evaluated on the validation split at regular intervals, kept the checkpoint
# with the lowest validation loss, and would stop once that loss stopped improving or a time budget ran out. Its
# training log, `data/models/course-gpt2/training_log.json`, is shipped beside its weights: every evaluation with its
# step, its epoch and the minutes since the start.

# %%
print(base_model.config.__class__.__name__, {k: getattr(base_model.config, k) for k in ("n_layer", "n_embd", "n_head", "n_positions", "vocab_size")})
print(f"{sum(p.numel() for p in base_model.parameters()) / 1e6:.2f}M parameters")
log_path = models.base_model_source(course.profile) + "/training_log.json"
if course.profile.offline:
    log = json.loads(open(log_path).read())
    evals, args = log["evals"], log["args"]
    last, best = evals[-1], min(evals, key=lambda e: e["validation_loss"])
    stopped_by = "the time budget" if last["minutes"] >= float(args["max_minutes"]) else "the step budget or the patience"
    print(f"{len(evals)} evaluations, every {args['eval_every']} steps of {args['tokens_per_batch']} tokens; "
          f"stopped after step {last['step']:,} (epoch {last['epoch']}, {last['minutes']:.0f} min) by {stopped_by} "
          f"({args['max_minutes']} min, patience {args['patience']} evaluations); "
          f"lowest validation loss {best['validation_loss']:.3f} at step {best['step']:,}")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([e["step"] for e in evals], [e["train_loss"] for e in evals], marker=".", label="training (smoothed)")
    ax.plot([e["step"] for e in evals], [e["validation_loss"] for e in evals], marker="o", label="validation")
    ax.axhline(log["unigram_entropy"], color="gray", ls="--", label="unigram entropy")
    ax.set(xlabel=f"training step (one batch of about {args['tokens_per_batch']} tokens)", ylabel="cross-entropy (nats/token)",
           title="How the course model was trained: still falling when it stopped?")
    ax.legend();

# %% [markdown]
# Read it with the printed line (quick profile only; the full profile's `gpt2` comes with no such log). In the
# committed log the lowest validation loss is the last one: the loss was still falling when the time budget stopped
# the run, so this model is limited by its training time, not by overfitting, and the two curves end close together.
# (The training curve is a moving average of the batch losses, measured with dropout on, and it lags behind while the
# loss falls fast: that is why it starts above the validation curve.)

# %%
shipped_valid_loss = pretraining.evaluate_loss(base_model, valid_docs, tokenizer.pad_token_id)
print(f"held-out cross-entropy {shipped_valid_loss:.2f} nats/token = perplexity {math.exp(shipped_valid_loss):.1f}")
print(f"(the short run: {live_valid_loss:.2f}; no context at all: {unigram_entropy:.2f})")

# %% [markdown]
# ### 2.6 Sampling: greedy, temperature, top-k, top-p
# Generation repeats one step: compute the next-token logits $z$, turn them into a distribution, pick a token.
# How we pick matters as much as the model:
#
# - **greedy**: $\arg\max_i z_i$, deterministic, and prone to loops;
# - **temperature** $T$: $p_i = \mathrm{softmax}(z/T)_i$; $T<1$ sharpens, $T>1$ flattens;
# - **top-k**: keep the $k$ most likely tokens, renormalise;
# - **top-p (nucleus)**: keep the smallest set of most likely tokens whose probability reaches $p$, renormalise.
#
# Here is the next-token distribution after "The acting was" at three temperatures:

# %%
prompt_ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer("The acting was", add_special_tokens=False)["input_ids"]])
with torch.no_grad():
    next_logits = base_model(prompt_ids).logits[0, -1]
top = torch.topk(next_logits, 10).indices
top10_mass = {}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
for ax, T in zip(axes, (0.5, 1.0, 1.5)):
    probs = generation.temperature_probs(next_logits, T)[top]
    top10_mass[T] = float(probs.sum())
    ax.bar([tokenizer.decode([int(i)]) for i in top], probs.numpy())
    ax.set(title=f"T = {T}  (top-10 mass {probs.sum():.2f})", xlabel="next token (the 10 most likely)")
    ax.tick_params(axis="x", rotation=70)
axes[0].set_ylabel("probability")
fig.suptitle('Next token after "The acting was": how temperature moves probability between the same 10 tokens', y=1.02)
assert top10_mass[0.5] >= top10_mass[1.0] >= top10_mass[1.5], top10_mass  # always so: a higher T flattens the softmax

# %% [markdown]
# Read it: the same ten tokens, in the same order, in every panel (dividing the logits by $T$ never reorders them).
# At $T = 0.5$ the most likely tokens take most of the probability, at $T = 1.5$ it is spread far beyond these ten; the
# top-10 mass in each title can only fall as $T$ rises (the cell asserts it). Now whole continuations, one per rule:

# %%
rules = {
    "greedy": dict(do_sample=False),
    "T = 0.7": dict(temperature=0.7, top_k=0),
    "top-k = 20": dict(top_k=20),
    "top-p = 0.9": dict(top_p=0.9, top_k=0),
    f"pure sampling (T = {lm_task.TEMPERATURE})": dict(temperature=lm_task.TEMPERATURE, top_k=0),
}
torch.manual_seed(course.seed)
for prompt in ["This movie", "I went in expecting", "The story"]:
    print(f"--- {prompt}")
    for name, kwargs in rules.items():
        print(f"{name:24s} {continue_text(base_model, prompt, 24, **kwargs)}")

# %% [markdown]
# Greedy decoding tends to repeat itself; pure sampling is the most varied and sometimes wanders. RLHF samples with
# one fixed rule for every rollout and every evaluation, frozen in `rlhf_utils.lm_task`: pure sampling at
# `TEMPERATURE`, fixed-length responses of `RESPONSE_LENGTH` tokens. Sampling without top-k/top-p keeps the
# probabilities of the policy exact, which PPO's ratios and the KL penalty need.

# %%
print(f"RLHF responses: {lm_task.RESPONSE_LENGTH} tokens, temperature {lm_task.TEMPERATURE}, no top-k/top-p")
print("special tokens:", lm_task.END_OF_TEXT, "(begins and ends a review),", lm_task.PAD, "(padding only)")

# %% [markdown]
# ## 3. Run it: what RLHF will move
#
# The prompts of notebooks 04–07 are the opening words of reviews (`data/prompts/`); the held-out set is used for
# every evaluation. We sample one continuation per held-out prompt exactly as RLHF will, score each with VADER
# sentiment and with the course's **gold score**, and look at the spread. The gold score is the course's stand-in for
# what a human really prefers: VADER sentiment with a penalty for degenerate text (repetitive, nearly empty, or mostly
# symbols), so that repeating "great" cannot game it. From notebook 04 on, a simulated human labeller makes its choices
# from it and it judges every trained model, but it stays *hidden*: the models being trained never see it, only
# labels made from it or a reward model learned from those.

# %%
heldout_prompts = lm_task.load_prompts("heldout")
N_SAMPLES = course.profile.pick(quick=64, full=256)
torch.manual_seed(course.seed)
prompts = lm_task.draw_prompts(heldout_prompts, N_SAMPLES, seed=course.seed)
samples = generation.sample(base_model, tokenizer, prompts)
continuations = [p + r for p, r in zip(samples.prompts, samples.responses)]
vader = np.array([gold.sentiment(text) for text in continuations])
gold_scores = gold.gold_scores(samples.responses, samples.prompts)
print(f"{len(prompts)} continuations: VADER mean {vader.mean():+.3f}, std {vader.std():.3f}; "
      f"gold mean {gold_scores.mean():+.3f}")
for text, v in list(zip(continuations, vader))[:8]:
    print(f"  {v:+.2f}  {text}")

# %%
negative_share, positive_share = float((vader < 0).mean()), float((vader > 0).mean())
print(f"{negative_share:.0%} of the continuations score below 0, {positive_share:.0%} above, "
      f"{1 - negative_share - positive_share:.0%} exactly 0")
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.hist(vader, bins=np.linspace(-1, 1, 21), edgecolor="white")
ax.axvline(vader.mean(), color="black", ls="--", label=f"mean {vader.mean():+.2f}")
ax.set(xlabel="VADER compound sentiment of prompt + continuation (-1 to +1)", ylabel="continuations (count)",
       title=f"Sentiment of {len(vader)} base-model continuations: both kinds of review?")
ax.legend();

# %% [markdown]
# Read it: the bars spread over both signs around a mean near 0 (the dashed line). The bar that starts at 0 also
# holds the continuations VADER scores exactly 0, mostly those without a word from its dictionary (their share is
# printed). This is the starting point of RLHF: a model that is roughly neutral on average but writes both kinds of
# review (the printed shares), so there is something to move, in either direction, and a reward model can tell the
# samples apart. The result check asserts the mean, the spread, and that each sign holds at least a fifth of the
# continuations.
#
# ### Result check
# - the short run's validation loss is below the unigram entropy (it learned to use context);
# - the shipped model's held-out cross-entropy is well below it (by at least `SHIPPED_MARGIN` nats);
# - the short run's training and validation losses both fell from their first to their last logged value;
# - the base model's continuations are near neutral (mean VADER within ±0.25), spread out (std ≥ 0.3), and of both
#   signs (at least a fifth of them below 0 and a fifth above).

# %%
SHIPPED_MARGIN = 2.0  # nats/token below the unigram entropy; the shipped model measured 2.69 (3.58 vs 6.27)
assert live_valid_loss < unigram_entropy, (
    f"the live run did not learn to use context: {live_valid_loss:.2f} >= unigram entropy {unigram_entropy:.2f}")
if course.profile.offline:
    assert shipped_valid_loss < unigram_entropy - SHIPPED_MARGIN, (
        f"the shipped model is too weak: {shipped_valid_loss:.2f} vs unigram entropy {unigram_entropy:.2f}")
assert live_log[-1][1] < live_log[0][1] and live_log[-1][2] < live_log[0][2], f"the live run's losses did not fall: {live_log}"
assert -0.25 <= vader.mean() <= 0.25, f"base sentiment not near neutral: mean {vader.mean():+.3f}"
assert vader.std() >= 0.3, f"base sentiment not spread out: std {vader.std():.3f}"
assert min(negative_share, positive_share) >= 0.2, f"base sentiment not of both signs: {negative_share:.0%} < 0, {positive_share:.0%} > 0"
print("result check passed")

# %% [markdown]
# ### Switching to the real GPT-2
# Set the profile before starting Jupyter (`RLHF_PROFILE=full jupyter lab`) or in the setup cell
# (`rlhf_utils.setup(seed=0, profile="full")`). The same `models.load_base_model` call then downloads `gpt2` from the
# Hugging Face hub, adds a pad token (GPT-2 has none) and resizes the embeddings for it. Everything downstream is
# unchanged; it is simply 20–50 times slower on a CPU, so a GPU is expected.

# %%
print("quick profile loads:", models.base_model_source("quick"))
print("full profile loads: ", models.base_model_source("full"))


# %% [markdown]
# ## 4. Exercises
#
# ### Exercise 1: temperature
# Write `my_temperature_probs(logits, T)` returning $\mathrm{softmax}(z/T)$ over the last axis.

# %%
def my_temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_temperature_probs, generation.temperature_probs,
    [(torch.tensor([2.0, 1.0, 0.5, -1.0]), 1.0), (torch.tensor([2.0, 1.0, 0.5, -1.0]), 0.5),
     (torch.randn(3, 7), 2.0)],
    hint="divide the logits by T before the softmax; softmax over dim=-1",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
#     return torch.softmax(logits / temperature, dim=-1)
# ```
# </details>
#
# ### Exercise 2: perplexity from per-token losses
# Given per-token cross-entropies $\ell_t$ and a mask $m_t$ (1 = real token, 0 = padding), write
# `my_perplexity(token_losses, mask)` $= \exp\big(\sum_t m_t \ell_t / \sum_t m_t\big)$, returned as a Python float.

# %%
def my_perplexity(token_losses: torch.Tensor, mask: torch.Tensor) -> float:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_perplexity, generation.perplexity,
    [(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 0.0])), (token_losses, real)],
    hint="average over real tokens only (the mask), then exponentiate",
);


# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_perplexity(token_losses: torch.Tensor, mask: torch.Tensor) -> float:
#     return float(torch.exp((token_losses * mask).sum() / mask.sum()))
# ```
# </details>
#
# ### Exercise 3: top-k
# Write `my_top_k_probs(logits, k)`: the probabilities after keeping only the $k$ largest logits.

# %%
def my_top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    # YOUR CODE HERE
    raise NotImplementedError


# %%
rlhf_utils.check(
    my_top_k_probs, generation.top_k_probs,
    [(torch.tensor([2.0, 1.0, 0.5, -1.0]), 2), (torch.randn(4, 10), 3)],
    hint="torch.topk gives the k-th largest logit; set the others to -inf before the softmax",
);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def my_top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
#     kth = torch.topk(logits, k, dim=-1).values[..., -1:]
#     return torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
# ```
# </details>
#
# ## Check your understanding
#
# 1. Why can a byte-level BPE tokenizer encode any string, even emoji or a typo it never saw?
# <details><summary>Answer</summary>Its base vocabulary is the 256 bytes; any text is a byte sequence, and merges only ever combine symbols that exist.</details>
#
# 2. Why does the course tokenizer have a pad token separate from `<|endoftext|>`?
# <details><summary>Answer</summary>If pad = end-of-text, the loss masks out every end-of-text token as "padding", so the model never learns to end a review; and a reward model reading "the last non-pad token" would read at the wrong place.</details>
#
# 3. The short run's loss went below the unigram entropy. What does that prove, and what does it not?
# <details><summary>Answer</summary>It proves the model uses context (no context-free model can beat the unigram entropy). It does not prove fluency: the samples show how far it still is.</details>
#
# 4. Why does RLHF sample with pure temperature sampling rather than top-p?
# <details><summary>Answer</summary>PPO needs the exact probability of each sampled token under the policy (ratios, KL). Truncating the distribution changes those probabilities and makes the policy's log-probs disagree with what was sampled.</details>
#
# 5. Why not start RLHF from a randomly initialised model?
# <details><summary>Answer</summary>Its samples are noise; the reward model would almost never see anything worth rewarding, and there would be no fluent prior to stay close to.</details>
#
# ## Summary and what comes next
# - A causal LM predicts the next token; pretraining minimises the next-token cross-entropy; perplexity is its exponential.
# - Byte-level BPE learns merges from data; the course tokenizer adds a separate pad token.
# - The course GPT-2 writes review-like text whose sentiment is spread around neutral: room for RLHF to move.
#
# **Next, notebook 04**: steps 2–3 of the pipeline. You label pairs of this model's continuations yourself, and
# train a reward model on your preferences.

# %%
print(f"notebook run time: {time.perf_counter() - NOTEBOOK_START:.0f} s")
