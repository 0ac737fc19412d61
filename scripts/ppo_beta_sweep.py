"""The reward-KL trade-off of PPO across fixed β: ``data/results/ppo_beta_sweep.json`` (notebook 05).

For each β the same PPO run as notebook 05 (``lm_ppo.course_config``, adaptive KL off) is trained from the
base model against the reward model, then measured by ``rlhf_utils.evaluation`` on the held-out prompts
(gold ± s.e., sequence KL ± s.e., reward, distinct-n, win-rate against the base model).

The file is rewritten after every β, so a long sweep keeps what it finished.

Run: ``python scripts/ppo_beta_sweep.py`` (about 4 minutes per β on 2 CPU cores in the quick profile).
A tiny end-to-end run (the test does this): ``--base-model DIR --reward-model DIR --prompts-dir DIR
--betas 0.1 --iterations 1``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rlhf_utils import evaluation, generation, gold, lm_ppo, lm_task, models
from rlhf_utils.paths import RESULTS_DIR
from rlhf_utils.profiles import get_profile
from rlhf_utils.results import results_file, write_results
from rlhf_utils.reward_model import load_reward_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2, 0.5])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--samples-per-prompt", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--base-model", type=Path, default=None, help="default: the profile's base model")
    parser.add_argument("--reward-model", type=Path, default=None, help="default: the shipped reward model")
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the profile's prompts")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "ppo_beta_sweep.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    profile = get_profile(args.profile)
    base_model, tokenizer = models.load_base_model(profile, source=args.base_model)
    reward_model = load_reward_model(prefer_learner=False, tokenizer=tokenizer, profile=profile,
                                     folder=args.reward_model)
    train_prompts = lm_task.load_prompts("train", args.prompts_dir, profile=profile)
    heldout = lm_task.load_prompts("heldout", args.prompts_dir, profile=profile)
    reference = generation.frozen_copy(base_model)
    eval_kwargs = dict(reward_fn=reward_model.score_samples, samples_per_prompt=args.samples_per_prompt, seed=1234)
    base = evaluation.evaluate_policy(base_model, reference, tokenizer, heldout, name="base", **eval_kwargs)
    print(base)
    results: list[dict] = []
    output = results_file(__file__, args, base=base.summary(), results=results)
    for beta in args.betas:
        started = time.time()
        torch.manual_seed(args.seed)
        config = lm_ppo.course_config(profile, adaptive_kl=False, kl_coef=beta, seed=args.seed)
        trainer = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead.from_base(base_model), reference, tokenizer,
                                      reward_model.score_samples, config, total_iterations=args.iterations,
                                      gold_fn=gold.gold_scores)
        history = lm_ppo.train(trainer, train_prompts, args.iterations)
        result = evaluation.evaluate_policy(trainer.policy.lm, reference, tokenizer, heldout, name=f"PPO β={beta}",
                                            base=base, **eval_kwargs)
        print(result)
        results.append({"beta": beta, **result.summary(), "train_seconds": time.time() - started,
                        "history": [{k: h[k] for k in ("score_mean", "gold_mean", "kl")} for h in history]})
        write_results(args.out, output)
    print(f"wrote {args.out}")
    return output


if __name__ == "__main__":
    main()
