"""Which labels teach a learner's reward model most: ``data/results/learner_label_efficiency.json`` (notebook 04).

A learner labels tens of pairs in notebook 04 and gets a reward model whose trunk is the shipped reward model's,
frozen, under a refitted linear Bradley-Terry head (:func:`reward_model.fit_head`, with the prior and L2 weight
of :func:`reward_model.learner_reward_model`). This script asks two questions of that setup, with a simulated
person (:class:`feedback.SimulatedLabeller`, Bradley-Terry noise τ = 0.2, and a 1-5 rating from the gold gap)
standing in for the learner, and scores every head on held-out pairs against the criterion's gold ordering
(gold ties left out):

1. **Order.** ``random``: the person labels pool pairs in a random order. ``active`` (uncertainty sampling):
   the same first ``--initial`` random labels, then, every ``--step`` labels, the head is refitted and the
   ``--step`` pool pairs it is least sure about (smallest ``|w · (h_a - h_b)|``,
   :func:`reward_model.most_uncertain`) are labelled next. Held-out gold accuracy is recorded at
   n = step, 2·step, ... ``--max-labels``; the summary gives, per criterion and order, the number of labels
   first reaching ``--target`` accuracy (median and range over seeds) and the accuracy at ``--at`` labels.
2. **The rating.** At ``--at`` labels in random order: the plain Bradley-Terry loss against the margin loss
   of Llama 2, ``-log σ(Δ - m(rating))`` with ``m = scale · (rating - 1) / 4``
   (:func:`reward_model.rating_margins`), and against soft targets ``t = σ(scale · (rating - 1/2))``. Each
   variant's scale is chosen on development pairs (disjoint from the pool and the held-out pairs); the
   held-out accuracy of the chosen scale is reported beside the plain loss's.

The development and held-out pairs, and the first 200 pool pairs, are those of
``scripts/learner_reward_model_curve.py`` (sampled in the same order from the same seed), so its accuracies and
these are on the same held-out pairs; 400 more pool pairs follow. Each seed is one simulated person (its noise)
and one random order; the person answers every pool pair once, in pool order, before any order is run, so both
orders ask the same person and differ only in which pairs they ask about. Ties (gold gap under the labeller's tie margin) are kept with target 0.5. Each head is fitted
on all n labels (notebook 04 holds a quarter back to measure it; here the held-out pairs measure it).

Run: ``python scripts/learner_label_efficiency.py`` (19 minutes on 2 CPU cores shared with other jobs, 7.5 minutes
of CPU time; sampling the 1,200 pairs takes three quarters of it, the 960 fits of a head the rest).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch

from rlhf_utils import generation, gold, lm_task, models
from rlhf_utils import reward_model as rmod
from rlhf_utils.feedback import ComparisonPair, PreferencePair, SimulatedLabeller
from rlhf_utils.paths import RESULTS_DIR
from rlhf_utils.results import over_seeds, results_file, write_results

ORDERS = ("random", "active")
CURVE_POOL_PAIRS = 200
"""Pool pairs of ``scripts/learner_reward_model_curve.py`` (its largest label count), sampled first here too."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--criteria", nargs="+", default=["positive", "negative"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--pool-pairs", type=int, default=600, help="pairs the labels are drawn from")
    parser.add_argument("--dev-pairs", type=int, default=200, help="pairs that choose the rating's scale")
    parser.add_argument("--heldout-pairs", type=int, default=400, help="pairs every head is scored on")
    parser.add_argument("--initial", type=int, default=5, help="random labels before active choice starts")
    parser.add_argument("--step", type=int, default=5, help="labels between refits (and between measurements)")
    parser.add_argument("--max-labels", type=int, default=100)
    parser.add_argument("--target", type=float, default=0.70, help="accuracy whose label count is reported")
    parser.add_argument("--at", type=int, default=40, help="label count of the accuracy table and the rating test")
    parser.add_argument("--margin-scales", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0])
    parser.add_argument("--soft-scales", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--labeller-temperature", type=float, default=0.2)
    parser.add_argument("--base-model", type=Path, default=None, help="folder of the base LM (default: course GPT-2)")
    parser.add_argument("--reward-model", type=Path, default=None, help="the shipped reward model's folder")
    parser.add_argument("--prompts-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "learner_label_efficiency.json")
    parser.add_argument("--tiny", action="store_true", help="minimal sizes, to check the script end to end")
    args = parser.parse_args(argv)
    if args.tiny:
        args.seeds, args.pool_pairs, args.dev_pairs, args.heldout_pairs = [0, 1], 24, 8, 8
        args.initial, args.step, args.max_labels, args.at = 2, 2, 8, 4
        args.margin_scales, args.soft_scales = [0.5, 1.0], [1.0]
    if args.max_labels > args.pool_pairs or args.at > args.max_labels or args.at % args.step or args.initial > args.at:
        parser.error("need initial <= at <= max-labels <= pool-pairs, and at a multiple of step")
    return args


def first_reaching(curve: dict[int, float], target: float) -> int | None:
    """The smallest label count whose accuracy is at least ``target`` (``None``: never, within the curve)."""
    return next((n for n in sorted(curve) if curve[n] >= target), None)


def count_spread(counts: list[int | None]) -> dict:
    """Median and range of label counts over seeds; a seed that never reached the target counts as infinite."""
    as_float = [math.inf if c is None else float(c) for c in counts]
    median = statistics.median(as_float)
    finite = lambda x: None if math.isinf(x) else x  # JSON has no infinity: None means "not reached"
    return {"median": finite(median), "min": finite(min(as_float)), "max": finite(max(as_float)),
            "reached": sum(c is not None for c in counts), "seeds": len(counts)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    base, tokenizer = models.load_base_model("quick", source=args.base_model)
    shipped = rmod.load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
    model_name = Path(base.name_or_path).name

    # ------------------------------------------------------------------ the pairs, their features and gold scores
    # The curve script's own pairs first, drawn the same way (its 200 pool pairs, its development pairs, its
    # held-out pairs), so the accuracies here are on the pairs of learner_reward_model_curve.json; then more pool.
    torch.manual_seed(0)
    train_prompts = lm_task.draw_prompts(lm_task.load_prompts("train", args.prompts_dir),
                                         args.pool_pairs + args.dev_pairs, seed=1)
    heldout_prompts = lm_task.draw_prompts(lm_task.load_prompts("heldout", args.prompts_dir), args.heldout_pairs, seed=1)
    shared = min(CURVE_POOL_PAIRS, args.pool_pairs)
    first = train_prompts[: shared + args.dev_pairs]
    a, b, _ = generation.sample_pairs(base, tokenizer, first, progress=False)
    held_a, held_b, _ = generation.sample_pairs(base, tokenizer, heldout_prompts, progress=False)
    rest = train_prompts[shared + args.dev_pairs:]
    more_a, more_b, _ = generation.sample_pairs(base, tokenizer, rest, progress=False) if rest else ([], [], [])
    splits = {"pool": (first[:shared] + rest, a[:shared] + more_a, b[:shared] + more_b),
              "dev": (first[shared:], a[shared:], b[shared:]),
              "heldout": (heldout_prompts, held_a, held_b)}
    feats = {name: rmod.pair_features(shipped, *pairs) for name, pairs in splits.items()}
    golds = {(name, c): (gold.gold_scores(r_a, prompts, c), gold.gold_scores(r_b, prompts, c))
             for name, (prompts, r_a, r_b) in splits.items() for c in args.criteria}
    prepared_s = time.perf_counter() - started
    print(f"{args.pool_pairs} pool, {args.dev_pairs} development and {args.heldout_pairs} held-out pairs with "
          f"features and gold scores ({prepared_s:.0f} s)", flush=True)

    def accuracy(w: torch.Tensor, split: str, criterion: str) -> float:
        return rmod.head_gold_accuracy(w, *feats[split], *golds[(split, criterion)])[0]

    # ------------------------------------------------------------------ one simulated person per seed
    pool_prompts, pool_a, pool_b = splits["pool"]

    def person_answers(criterion: str, seed: int) -> list[tuple[str, int | None]]:
        """The person's (choice, rating) for every pool pair, asked once each, in pool order."""
        person = SimulatedLabeller(temperature=args.labeller_temperature, seed=seed, criterion=criterion)
        return [person.judge(ComparisonPair(p, x, y, model_name)) for p, x, y in zip(pool_prompts, pool_a, pool_b,
                                                                                     strict=True)]

    def training_data(indices: list[int], answers, targets=None):
        """Preference pairs, their features (chosen, rejected) and ratings, for the labelled pool indices.

        A choice gives target 1 (chosen first), a tie target 0.5 (no rating); skips do not occur.
        ``targets(rating)`` replaces the target of a choice (soft targets).
        """
        fa, fb = feats["pool"]
        pairs, chosen, rejected, ratings = [], [], [], []
        for i in indices:
            choice, rating = answers[i]
            first_a = choice != "B"
            target = 0.5 if choice == "tie" else (1.0 if targets is None else targets(rating))
            pairs.append(PreferencePair(pool_prompts[i], *((pool_a[i], pool_b[i]) if first_a else (pool_b[i], pool_a[i])),
                                        target))
            chosen.append(fa[i] if first_a else fb[i]), rejected.append(fb[i] if first_a else fa[i])
            ratings.append(None if choice == "tie" else rating)
        return pairs, (torch.stack(chosen), torch.stack(rejected)), ratings

    heads = {c: rmod.warm_start(shipped, c) for c in args.criteria}
    priors = {c: heads[c].model.score.weight.detach().clone() for c in args.criteria}

    def fit(criterion: str, indices: list[int], answers, *, margin_scale: float | None = None, targets=None):
        """The head fitted on the labelled pool indices, as notebook 04 fits it (prior and L2 of the criterion)."""
        pairs, features, ratings = training_data(indices, answers, targets)
        margins = None if margin_scale is None else rmod.rating_margins(ratings, margin_scale)
        rm = heads[criterion]
        rmod.fit_head(rm, pairs, prior=priors[criterion], l2=rmod.head_l2(criterion), features=features, margins=margins)
        return rm.model.score.weight.detach().reshape(-1).clone()

    # ------------------------------------------------------------------ 1. random vs active order
    counts = list(range(args.step, args.max_labels + 1, args.step))
    runs, rating_runs, answer_stats = [], [], {}
    for criterion in args.criteria:
        for seed in args.seeds:
            answers = person_answers(criterion, seed)
            answer_stats[f"{criterion}/{seed}"] = {k: sum(ans[0] == k for ans in answers) for k in ("A", "B", "tie")}
            order = torch.randperm(args.pool_pairs, generator=torch.Generator().manual_seed(seed)).tolist()
            for how in ORDERS:
                t = time.perf_counter()
                labelled = order[: args.initial]
                curve, ties = {}, {}
                while True:
                    w = fit(criterion, labelled, answers)
                    if len(labelled) % args.step == 0:
                        curve[len(labelled)] = accuracy(w, "heldout", criterion)
                        ties[len(labelled)] = sum(answers[i][0] == "tie" for i in labelled)
                    if len(labelled) >= args.max_labels:
                        break
                    more = args.step - len(labelled) % args.step  # up to the next multiple of step
                    if how == "random":
                        labelled = order[: len(labelled) + more]
                    else:
                        labelled = labelled + rmod.most_uncertain(w, *feats["pool"], k=more, exclude=labelled).tolist()
                runs.append({"criterion": criterion, "seed": seed, "order": how, "labelled": labelled,
                             "heldout_gold_accuracy": {str(n): curve[n] for n in counts},
                             "ties_labelled": {str(n): ties[n] for n in counts},
                             "labels_to_target": first_reaching(curve, args.target),
                             "seconds": time.perf_counter() - t})
            print(f"{criterion:9s} seed {seed}: " + "; ".join(
                f"{r['order']} acc@{args.at} {r['heldout_gold_accuracy'][str(args.at)]:.3f}, "
                f"to {args.target:.2f}: {r['labels_to_target']}" for r in runs[-len(ORDERS):]), flush=True)

            # -------------------------------------------------------------- 2. the rating, at `at` random labels
            first = order[: args.at]
            row = {"criterion": criterion, "seed": seed, "labels": args.at}
            w = fit(criterion, first, answers)
            row["plain"] = {split: accuracy(w, split, criterion) for split in ("dev", "heldout")}
            held_fa, held_fb = feats["heldout"]  # the scale a margin is measured against: the head's typical |Δ|
            row["plain_median_abs_delta"] = float(((held_fa - held_fb) @ w).abs().median())
            for scale in args.margin_scales:
                w = fit(criterion, first, answers, margin_scale=scale)
                row[f"margin {scale:g}"] = {split: accuracy(w, split, criterion) for split in ("dev", "heldout")}
            for scale in args.soft_scales:
                w = fit(criterion, first, answers, targets=lambda r, s=scale: 1.0 / (1.0 + math.exp(-s * (r - 0.5))))
                row[f"soft {scale:g}"] = {split: accuracy(w, split, criterion) for split in ("dev", "heldout")}
            row["ratings"] = {str(k): sum(answers[i][1] == k and answers[i][0] != "tie" for i in first) for k in range(1, 6)}
            rating_runs.append(row)

    # ------------------------------------------------------------------ summaries
    order_summary, curve_summary = [], []
    for criterion in args.criteria:
        for how in ORDERS:
            rows = [r for r in runs if (r["criterion"], r["order"]) == (criterion, how)]
            order_summary.append({"criterion": criterion, "order": how, "target": args.target,
                                  "labels_to_target": count_spread([r["labels_to_target"] for r in rows]),
                                  f"accuracy_at_{args.at}": over_seeds([r["heldout_gold_accuracy"][str(args.at)] for r in rows])})
            if how != "random":  # seed by seed against random order: the same person, the same first labels
                paired = [r["heldout_gold_accuracy"][str(args.at)] - q["heldout_gold_accuracy"][str(args.at)]
                          for r in rows for q in runs if (q["criterion"], q["order"], q["seed"]) ==
                          (criterion, "random", r["seed"])]
                order_summary[-1][f"minus_random_at_{args.at}"] = {
                    **over_seeds(paired), "better": sum(d > 0 for d in paired), "worse": sum(d < 0 for d in paired)}
            for n in counts:
                curve_summary.append({"criterion": criterion, "order": how, "labels": n,
                                      **over_seeds([r["heldout_gold_accuracy"][str(n)] for r in rows])})
    rating_summary = []
    for criterion in args.criteria:
        rows = [r for r in rating_runs if r["criterion"] == criterion]
        variants = [k for k in rows[0] if k == "plain" or k.startswith(("margin ", "soft "))]
        dev = {v: statistics.median(r[v]["dev"] for r in rows) for v in variants}
        chosen = {kind: max((v for v in variants if v.startswith(kind + " ")), key=lambda v: dev[v], default=None)
                  for kind in ("margin", "soft")}
        rating_summary.append({
            "criterion": criterion, "labels": args.at, "development_median": dev,
            "chosen_on_development": chosen,
            "heldout": {v: over_seeds([r[v]["heldout"] for r in rows]) for v in variants},
            "heldout_chosen": {kind: over_seeds([r[v]["heldout"] for r in rows]) for kind, v in
                               {"plain": "plain", **chosen}.items() if v is not None},
        })
    shipped_accuracy = {c: accuracy(shipped.model.score.weight, "heldout", c) for c in args.criteria}

    shown = lambda n: f">{args.max_labels}" if n is None else f"{n:g}"
    for s in order_summary:
        lt, at = s["labels_to_target"], s[f"accuracy_at_{args.at}"]
        print(f"{s['criterion']:9s} {s['order']:6s}: labels to {args.target:.2f} median {shown(lt['median'])} "
              f"(range {shown(lt['min'])}-{shown(lt['max'])}, {lt['reached']}/{lt['seeds']} seeds reached it); accuracy at "
              f"{args.at}: median {at['median']:.3f} (range {at['min']:.3f}-{at['max']:.3f})")
    for s in rating_summary:
        print(f"{s['criterion']:9s} rating at {args.at} labels, chosen on development {s['chosen_on_development']}: "
              + ", ".join(f"{k} {v['median']:.3f} ({v['min']:.3f}-{v['max']:.3f})" for k, v in s["heldout_chosen"].items()))
    print("shipped reward model, no labels:", {c: round(x, 3) for c, x in shipped_accuracy.items()})
    output = results_file(__file__, args, l2={c: rmod.head_l2(c) for c in args.criteria},
                          heldout_pairs_compared={c: rmod.head_gold_accuracy(shipped.model.score.weight, *feats["heldout"],
                                                                             *golds[("heldout", c)])[1] for c in args.criteria},
                          shipped_heldout_gold_accuracy=shipped_accuracy, order_summary=order_summary,
                          curve_summary=curve_summary, rating_summary=rating_summary, runs=runs,
                          rating_runs=rating_runs, answers=answer_stats, prepare_seconds=prepared_s,
                          seconds=time.perf_counter() - started)
    write_results(args.out, output)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return output


if __name__ == "__main__":
    main()
