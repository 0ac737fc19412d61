"""A long, weakly-leashed PPO run against the proxy reward model: ``data/results/overoptimization.json`` (notebook 07).

PPO with a small fixed β trains far longer than notebook 05. Every ``--eval-every`` iterations the
policy is measured by ``rlhf_utils.evaluation`` on the held-out prompts: the proxy (reward-model)
score, the gold score and the sequence KL to the reference, each with its standard error, plus a few
samples. Plotted against KL, the proxy keeps rising while gold peaks and falls (Gao et al. 2023).
The file is rewritten after every evaluation, so a long run keeps what it finished.

Run: ``python scripts/overoptimization_run.py`` (about 25 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rlhf_utils import evaluation, lm_ppo, lm_task, models
from rlhf_utils.overoptimization import peak_then_drop
from rlhf_utils.paths import RESULTS_DIR, logged_args
from rlhf_utils.profiles import get_profile
from rlhf_utils.reward_model import load_reward_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beta", type=float, default=0.002, help="fixed KL coefficient (small: a weak leash)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the course's PPO learning rate")
    parser.add_argument("--samples-per-prompt", type=int, default=1)
    parser.add_argument("--shown-prompts", type=int, default=4, help="held-out prompts whose samples are saved")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--reward-model", type=Path, default=None)
    parser.add_argument("--prompts-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "overoptimization.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    profile = get_profile("quick")
    base, tokenizer = models.load_base_model(profile, source=args.base_model)
    rm = load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
    ref = lm_ppo.frozen_copy(base)
    train_prompts = lm_task.load_prompts("train", args.prompts_dir)
    heldout = lm_task.load_prompts("heldout", args.prompts_dir)
    overrides = {"adaptive_kl": False, "kl_coef": args.beta, "seed": args.seed}
    if args.learning_rate is not None:
        overrides["learning_rate"] = args.learning_rate
    config = lm_ppo.course_config(profile, **overrides)
    torch.manual_seed(args.seed)
    trainer = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead.from_base(base), ref, tokenizer, rm.score_samples, config,
                                  total_iterations=args.iterations)
    output = {"script": "scripts/overoptimization_run.py",
              "args": logged_args(args), "points": []}

    def evaluate(iteration: int, seconds: float) -> None:
        r = evaluation.evaluate_policy(trainer.policy.lm, ref, tokenizer, heldout, name=f"iteration {iteration}",
                                       reward_fn=rm.score_samples, samples_per_prompt=args.samples_per_prompt, seed=1234)
        shown = [{"prompt": p, "response": t, "gold": g}
                 for p, t, g in list(zip(r.prompts, r.responses, r.gold))[: args.shown_prompts]]
        output["points"].append({"iteration": iteration, "train_seconds": round(seconds, 1), **r.summary(),
                                 "samples": shown})
        print(f"{r}  ({seconds:.0f} s)")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(output, indent=1) + "\n")

    trained = 0.0
    evaluate(0, trained)
    for i in range(1, args.iterations + 1):
        t = time.perf_counter()
        trainer.step(trainer.sample_prompts(train_prompts))
        trained += time.perf_counter() - t
        if i % args.eval_every == 0 or i == args.iterations:
            evaluate(i, trained)
    points = output["points"]
    verdict = peak_then_drop([p["gold_mean"] for p in points], [p["gold_se"] for p in points])
    output["gold_peak_then_drop"] = {**verdict.__dict__}
    args.out.write_text(json.dumps(output, indent=1) + "\n")
    print(f"gold: {verdict}")
    return output


if __name__ == "__main__":
    main()
