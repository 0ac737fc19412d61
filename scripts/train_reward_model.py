"""Build the shipped reward model, ``data/models/course-reward-model/``, from simulated labels.

1. Sample two continuations of ``RESPONSE_LENGTH`` tokens for each training prompt from the base model.
2. Label every pair with the simulated labeller, through a ``FeedbackStore`` and a ``LabellingSession``
   exactly as a person labels in notebook 04 (the store is a temporary file unless ``--feedback-dir``).
3. Train a reward model two ways on the same pairs, from the same initial weights: the from-scratch
   Bradley-Terry loop (``train_reward_model``) and TRL's ``RewardTrainer`` (``train_reward_model_with_trl``).
4. Evaluate both on pairs sampled for the held-out prompts: accuracy against the simulated labels and
   against the gold ordering (gold ties left out).
5. Keep the one with the higher held-out gold accuracy, normalise it on fresh base-model samples
   (mean 0, std 1), and save it (safetensors + tokenizer + ``reward_model.json``) with ``metrics.json``.

Run (after ``scripts/train_course_gpt2.py``): ``python scripts/train_reward_model.py``.
On another base model or prompt set (e.g. a tiny stand-in for a test):
``python scripts/train_reward_model.py --base-model DIR --prompts-dir DIR --train-pairs 64 --out DIR``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from rlhf_utils import generation
from rlhf_utils.feedback import SimulatedLabeller, agreement_with_gold, preference_pairs
from rlhf_utils.feedback_store import SIMULATED, FeedbackStore
from rlhf_utils.gold import gold_scores
from rlhf_utils.lm_task import RESPONSE_LENGTH, draw_prompts, load_prompts
from rlhf_utils.models import base_model_source, load_base_model
from rlhf_utils.results import results_file, write_results
from rlhf_utils.reward_model import (
    SHIPPED_REWARD_MODEL_DIR,
    RewardModel,
    RewardTrainingConfig,
    encode_for_reward,
    evaluate_pairs,
    gold_pairwise_accuracy,
    init_reward_model,
    samples_for_reward,
    train_reward_model,
)
from rlhf_utils.trl_trainers import train_reward_model_with_trl


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", type=Path, default=None,
                        help="folder of the base causal LM (default: the profile's, data/models/course-gpt2)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--prompts-dir", type=Path, default=None,
                        help="folder with train.json and heldout.json (default: the shipped data/prompts)")
    parser.add_argument("--out", type=Path, default=SHIPPED_REWARD_MODEL_DIR)
    parser.add_argument("--train-pairs", type=int, default=8000, help="pairs sampled (and labelled) for training")
    parser.add_argument("--heldout-pairs", type=int, default=500, help="pairs sampled for the held-out prompts")
    parser.add_argument("--calibration-samples", type=int, default=512,
                        help="base-model samples the reward is normalised on (mean 0, std 1)")
    parser.add_argument("--method", choices=("both", "scratch", "trl"), default="both",
                        help="train both and keep the better on held-out gold accuracy, or only one")
    # More pairs than notebook 04 can afford, in larger batches (faster per pair on a CPU, as accurate).
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument("--trainable-layers", type=int, default=None,
                        help="train only the top N transformer blocks (default: all weights)")
    parser.add_argument("--labeller-temperature", type=float, default=SimulatedLabeller.temperature,
                        help="noise of the simulated labeller (Bradley-Terry temperature on the gold score)")
    parser.add_argument("--sample-batch", type=int, default=64, help="prompts per generation batch")
    parser.add_argument("--feedback-dir", type=Path, default=None,
                        help="keep the label stores (train.jsonl, heldout.jsonl) here instead of a temporary folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def retokenisation_mismatch(tokenizer, samples: list[generation.Samples]) -> float:
    """Share of sampled responses whose decoded text re-tokenises to other ids than the sampled ones.

    Training and TRL read the text; PPO scores the sampled ids. Where they differ (a response that
    starts mid-word, an unusual token split) the reward model sees slightly different inputs.
    """
    differ = total = 0
    for s in samples:
        ids, mask = samples_for_reward(s, tokenizer.eos_token_id)
        texts = encode_for_reward(tokenizer, s.prompts, s.responses)
        for row, text_ids in zip(range(len(texts)), texts, strict=True):
            differ += ids[row][mask[row].bool()].tolist() != text_ids
            total += 1
    return differ / max(total, 1)


def heldout_metrics(rm: RewardModel, prompts, responses_a, responses_b, heldout_labels, gold_a, gold_b) -> dict:
    scores_a = rm.score_texts(prompts, responses_a, raw=True).numpy()
    scores_b = rm.score_texts(prompts, responses_b, raw=True).numpy()
    gold_acc, n_gold = gold_pairwise_accuracy(scores_a, scores_b, gold_a, gold_b)
    on_labels = evaluate_pairs(rm, preference_pairs(heldout_labels))
    return {"gold_accuracy": gold_acc, "gold_pairs": n_gold, "label_accuracy": on_labels["accuracy"],
            "label_pairs": on_labels["pairs"], "bt_loss": on_labels["loss"]}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    progress = not args.quiet
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quiet:
        import datasets
        import transformers

        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    torch.manual_seed(args.seed)

    source = args.base_model or Path(base_model_source(args.profile))
    lm, tokenizer = load_base_model(args.profile, source=source)
    model_name = Path(source).name
    train_pool = load_prompts("train", args.prompts_dir)
    heldout_pool = load_prompts("heldout", args.prompts_dir)
    print(f"base model {source} ({sum(p.numel() for p in lm.parameters()) / 1e6:.1f}M parameters), "
          f"{len(train_pool)} train / {len(heldout_pool)} held-out prompts")

    # 1. samples
    t = time.perf_counter()
    train_prompts = draw_prompts(train_pool, args.train_pairs, seed=args.seed)
    heldout_prompts = draw_prompts(heldout_pool, args.heldout_pairs, seed=args.seed)
    train_a, train_b, train_samples = generation.sample_pairs(lm, tokenizer, train_prompts, args.sample_batch, progress,
                                                          "train pairs")
    held_a, held_b, _ = generation.sample_pairs(lm, tokenizer, heldout_prompts, args.sample_batch, progress,
                                            "held-out pairs")
    timings["sampling_s"] = time.perf_counter() - t

    # 2. simulated labels, through the same store and session a person uses
    t = time.perf_counter()
    labeller = SimulatedLabeller(temperature=args.labeller_temperature, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="reward_labels_") as tmp:
        folder = args.feedback_dir or Path(tmp)
        train_labels = labeller.label_pairs(FeedbackStore(folder / "train.jsonl"),
                                            zip(train_prompts, train_a, train_b, strict=True), model=model_name)
        heldout_labels = labeller.label_pairs(FeedbackStore(folder / "heldout.jsonl"),
                                              zip(heldout_prompts, held_a, held_b, strict=True), model=model_name)
    train_pairs = preference_pairs(train_labels, model=model_name)
    gold_a, gold_b = gold_scores(held_a, heldout_prompts), gold_scores(held_b, heldout_prompts)
    labeller_gold = agreement_with_gold(heldout_labels)
    timings["labelling_s"] = time.perf_counter() - t
    print(f"{len(train_labels)} train labels -> {len(train_pairs)} preference pairs (ties left out); "
          f"held-out labels: {labeller_gold}")

    # 3-4. train both ways from the same initial weights, evaluate on the held-out pairs
    config = RewardTrainingConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                                  trainable_layers=args.trainable_layers, seed=args.seed)
    trainers = {"scratch": train_reward_model, "trl": train_reward_model_with_trl}
    methods = ["scratch", "trl"] if args.method == "both" else [args.method]
    results, models = {}, {}
    before = heldout_metrics(init_reward_model(lm, tokenizer, seed=args.seed), heldout_prompts, held_a, held_b,
                             heldout_labels, gold_a, gold_b)
    for method in methods:
        rm = init_reward_model(lm, tokenizer, seed=args.seed)  # the same initial weights for both
        t = time.perf_counter()
        history = trainers[method](rm, train_pairs, config=config, progress=progress)
        seconds = time.perf_counter() - t
        after = heldout_metrics(rm, heldout_prompts, held_a, held_b, heldout_labels, gold_a, gold_b)
        losses = [h["loss"] for h in history if "loss" in h]
        results[method] = {"train_seconds": seconds, "steps": len(losses), "first_loss": losses[0],
                           "last_loss": float(np.mean(losses[-10:])), "heldout_before": before, "heldout": after}
        models[method] = rm
        print(f"{method:>7}: {seconds:.0f} s, loss {losses[0]:.3f} -> {results[method]['last_loss']:.3f}, held-out "
              f"gold accuracy {before['gold_accuracy']:.3f} -> {after['gold_accuracy']:.3f} "
              f"({after['gold_pairs']} pairs), label accuracy {after['label_accuracy']:.3f}")
    best = max(methods, key=lambda m: results[m]["heldout"]["gold_accuracy"])
    rm = models[best]

    # 5. normalise on fresh base-model samples, save, and check the saved copy scores the same
    t = time.perf_counter()
    calibration_prompts = draw_prompts(train_pool, args.calibration_samples, seed=args.seed + 1)
    calibration = [generation.sample(lm, tokenizer, calibration_prompts[i : i + args.sample_batch])
                   for i in range(0, len(calibration_prompts), args.sample_batch)]
    stats = rm.calibrate(calibration)
    timings["calibration_s"] = time.perf_counter() - t
    summary = {
        "chosen_method": best,
        "base_model": model_name,
        "train_pairs": len(train_pairs),
        "train_labels": len(train_labels),
        "heldout_pairs": len(heldout_labels),
        "labeller": {"temperature": labeller.temperature, "tie_margin": labeller.tie_margin,
                     "heldout_agreement_with_gold": labeller_gold.rate},
        "config": asdict(config),
        "methods": results,
        "calibration": stats,
        "retokenisation_mismatch": retokenisation_mismatch(tokenizer, train_samples),
        "response_length": RESPONSE_LENGTH,
        "seed": args.seed,
    }
    rm.info.update(base_model=model_name, method=best, train_pairs=len(train_pairs), labeller=SIMULATED,
                   heldout_gold_accuracy=results[best]["heldout"]["gold_accuracy"])
    rm.save(args.out)
    reloaded = RewardModel.load(args.out)
    check = (heldout_prompts[:8], held_a[:8])
    if not torch.allclose(rm.score_texts(*check), reloaded.score_texts(*check), atol=1e-5):
        raise SystemExit(f"the saved reward model in {args.out} does not reproduce the scores")
    timings["total_s"] = time.perf_counter() - started
    summary["timings"] = timings
    output = results_file(__file__, args, **summary)
    write_results(args.out / "metrics.json", output)
    print(f"kept {best} (held-out gold accuracy {results[best]['heldout']['gold_accuracy']:.3f}); saved to "
          f"{args.out} in {timings['total_s']:.0f} s")
    return output


if __name__ == "__main__":
    main()
