"""How many labels a learner's reward model needs: ``data/results/learner_reward_model_curve.json`` (notebook 04).

A learner labels tens of pairs in notebook 04. This script measures what such a reward model is worth:
a simulated person (Bradley-Terry noise, τ = 0.2) labels the first n pairs of a pool of course-GPT-2
samples by a named criterion, a reward model is trained on those labels, and it is scored on held-out
pairs against the criterion's own gold ordering (gold ties left out). For each criterion, number of
labels and seed, three starting points:

- ``base``: the base course GPT-2 under a fresh head, every weight trained (what notebook 04 did before);
- ``head``: the shipped reward model's trunk, frozen, under a refitted head (:func:`reward_model.fit_head`):
  the shipped head as the prior for ``positive``, a fresh head for ``negative``;
- ``full``: the same head fit, then every weight fine-tuned (``train_reward_model``).

With ``--select-l2`` it first picks the head's L2 weight for each criterion on development pairs (disjoint
from both the training pool and the held-out pairs) and reports every candidate.

Run: ``python scripts/learner_reward_model_curve.py`` (about 10 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rlhf_utils import generation, gold, lm_task, models
from rlhf_utils import reward_model as rmod
from rlhf_utils.feedback import SimulatedLabeller, preference_pairs
from rlhf_utils.feedback_store import FeedbackStore
from rlhf_utils.paths import RESULTS_DIR
from rlhf_utils.results import results_file, write_results

STARTS = ("base", "head", "full")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 25, 40, 50, 100, 200])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--criteria", nargs="+", default=["positive", "negative"])
    parser.add_argument("--starts", nargs="+", default=list(STARTS), choices=STARTS)
    parser.add_argument("--heldout-pairs", type=int, default=400)
    parser.add_argument("--dev-pairs", type=int, default=200)
    parser.add_argument("--labeller-temperature", type=float, default=0.2)
    parser.add_argument("--select-l2", action="store_true", help="pick the head's L2 weight on development pairs")
    parser.add_argument("--l2-grid", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    parser.add_argument("--full-epochs", type=int, default=3)
    parser.add_argument("--full-lr", type=float, default=1e-4)
    parser.add_argument("--base-model", type=Path, default=None, help="folder of the base LM (default: course GPT-2)")
    parser.add_argument("--reward-model", type=Path, default=None, help="the shipped reward model's folder")
    parser.add_argument("--prompts-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "learner_reward_model_curve.json")
    parser.add_argument("--tiny", action="store_true", help="minimal sizes, to check the script end to end")
    args = parser.parse_args(argv)
    if args.tiny:
        args.labels, args.seeds, args.heldout_pairs, args.dev_pairs = [4, 8], [0], 8, 8
        args.full_epochs, args.l2_grid = 1, [0.01, 0.1]
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    base, tokenizer = models.load_base_model("quick", source=args.base_model)
    shipped = rmod.load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
    model_name = Path(base.name_or_path).name
    torch.manual_seed(0)
    pool_size = max(args.labels)
    train_prompts = lm_task.draw_prompts(lm_task.load_prompts("train", args.prompts_dir), pool_size + args.dev_pairs, seed=1)
    heldout_prompts = lm_task.draw_prompts(lm_task.load_prompts("heldout", args.prompts_dir), args.heldout_pairs, seed=1)
    a, b, calibration = generation.sample_pairs(base, tokenizer, train_prompts, progress=False)
    held_a, held_b, _ = generation.sample_pairs(base, tokenizer, heldout_prompts, progress=False)
    pool = list(zip(train_prompts, a, b, strict=True))
    pool, dev = pool[:pool_size], pool[pool_size:]
    heldout = list(zip(heldout_prompts, held_a, held_b, strict=True))
    print(f"{len(pool)} pool pairs, {len(dev)} development pairs, {len(heldout)} held-out pairs "
          f"({time.perf_counter() - started:.0f} s)", flush=True)

    # Features of the shipped trunk, once: every head fit and head-only score reuses them.
    def features(pairs):
        return rmod.pair_features(shipped, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs])

    feats = {"pool": features(pool), "dev": features(dev), "heldout": features(heldout)}
    index = {(p[0], p[1], p[2]): i for i, p in enumerate(pool)}

    def pair_features(pairs):
        """Pool features of preference pairs, oriented chosen/rejected."""
        fa, fb = feats["pool"]
        chosen, rejected = [], []
        for p in pairs:
            if (p.prompt, p.chosen, p.rejected) in index:
                i = index[(p.prompt, p.chosen, p.rejected)]
                chosen.append(fa[i]), rejected.append(fb[i])
            else:
                i = index[(p.prompt, p.rejected, p.chosen)]
                chosen.append(fb[i]), rejected.append(fa[i])
        return torch.stack(chosen), torch.stack(rejected)

    def golds(pairs, criterion):
        prompts = [p[0] for p in pairs]
        return (gold.gold_scores([p[1] for p in pairs], prompts, criterion),
                gold.gold_scores([p[2] for p in pairs], prompts, criterion))

    def gold_accuracy(scores_a, scores_b, pairs, criterion):
        return rmod.gold_pairwise_accuracy(scores_a, scores_b, *golds(pairs, criterion))[0]

    def head_accuracy(rm, split, pairs, criterion):
        return rmod.head_gold_accuracy(rm.model.score.weight, *feats[split], *golds(pairs, criterion))[0]

    def model_accuracy(rm, pairs, criterion):
        prompts = [p[0] for p in pairs]
        return gold_accuracy(rm.score_texts(prompts, [p[1] for p in pairs], raw=True).numpy(),
                             rm.score_texts(prompts, [p[2] for p in pairs], raw=True).numpy(), pairs, criterion)

    def labels(criterion, seed, n):
        ordered = [pool[i] for i in torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]]
        with tempfile.TemporaryDirectory(prefix="curve_labels_") as tmp:
            records = SimulatedLabeller(temperature=args.labeller_temperature, seed=seed, criterion=criterion).label_pairs(
                FeedbackStore(Path(tmp) / "labels.jsonl"), ordered, model=model_name)
        return preference_pairs(records)

    def head_fit(criterion, pairs, l2):
        rm = rmod.warm_start(shipped, criterion)
        rmod.fit_head(rm, pairs, prior=rm.model.score.weight, l2=l2, features=pair_features(pairs))
        return rm

    # The head's L2 weight pulls towards its prior: the shipped head for positive, zeros (a fresh head) otherwise,
    # so each criterion gets its own, picked on the development pairs.
    l2 = {c: rmod.head_l2(c) for c in args.criteria}
    l2_report: dict[str, dict[str, float]] = {}
    if args.select_l2:
        n_select = 40 if 40 in args.labels else sorted(args.labels)[len(args.labels) // 2]
        for c in args.criteria:
            l2_report[c] = {str(candidate): statistics.median(
                head_accuracy(head_fit(c, labels(c, seed, n_select), candidate), "dev", dev, c) for seed in args.seeds)
                for candidate in args.l2_grid}
            l2[c] = max(args.l2_grid, key=lambda candidate: l2_report[c][str(candidate)])
            print(f"{c}: median development accuracy at {n_select} labels by L2 weight "
                  f"{ {k: round(v, 3) for k, v in l2_report[c].items()} } -> {l2[c]}", flush=True)

    runs = []
    for criterion in args.criteria:
        for n in args.labels:
            for seed in args.seeds:
                pairs = labels(criterion, seed, n)
                for start in args.starts:
                    t = time.perf_counter()
                    if start == "base":
                        rm = rmod.init_reward_model(base, tokenizer, seed=seed)
                        rmod.train_reward_model(rm, pairs, config=rmod.RewardTrainingConfig(seed=seed), progress=False)
                        acc = model_accuracy(rm, heldout, criterion)
                    elif start == "head":
                        acc = head_accuracy(head_fit(criterion, pairs, l2[criterion]), "heldout", heldout, criterion)
                    else:
                        rm = head_fit(criterion, pairs, l2[criterion])
                        config = rmod.RewardTrainingConfig(epochs=args.full_epochs, learning_rate=args.full_lr, seed=seed)
                        rmod.train_reward_model(rm, pairs, config=config, progress=False)
                        acc = model_accuracy(rm, heldout, criterion)
                    runs.append({"criterion": criterion, "labels": n, "pairs": len(pairs), "seed": seed, "start": start,
                                 "heldout_gold_accuracy": acc, "seconds": time.perf_counter() - t})
                print(f"{criterion:9s} {n:4d} labels seed {seed}: " + ", ".join(
                    f"{r['start']} {r['heldout_gold_accuracy']:.3f}" for r in runs[-len(args.starts):]), flush=True)

    summary = []
    for criterion in args.criteria:
        for start in args.starts:
            for n in args.labels:
                accs = [r["heldout_gold_accuracy"] for r in runs
                        if (r["criterion"], r["start"], r["labels"]) == (criterion, start, n)]
                summary.append({"criterion": criterion, "start": start, "labels": n, "median": statistics.median(accs),
                                "min": min(accs), "max": max(accs), "seeds": len(accs)})
    # Zero labels: the shipped model as it is (it was trained on positive; for negative it orders pairs backwards).
    shipped_accuracy = {c: head_accuracy(shipped, "heldout", heldout, c) for c in args.criteria}
    print("shipped reward model, no labels:", {c: round(a, 3) for c, a in shipped_accuracy.items()})
    output = results_file(__file__, args, l2=l2, shipped_heldout_gold_accuracy=shipped_accuracy, l2_selection=l2_report, heldout_pairs=len(heldout),
                          summary=summary, runs=runs, seconds=time.perf_counter() - started)
    write_results(args.out, output)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return output


if __name__ == "__main__":
    main()
