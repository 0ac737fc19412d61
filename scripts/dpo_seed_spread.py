"""How much one DPO run varies from seed to seed: ``data/results/dpo_seed_spread.json`` (notebook 06).

Notebook 06 re-runs one DPO point of the frontier live and checks that it agrees with the committed
one. On another machine the same seed samples other preference pairs (floating-point paths differ),
so the live run is another draw of the whole procedure: sample pairs from the base model, label them
with the simulated labeller, train DPO, evaluate. This script repeats that procedure with other seeds
at the frontier's settings (β = 0.1) and records each run's gold score and KL, whose spread the
notebook allows for.

Run: ``python scripts/dpo_seed_spread.py`` (about 2 minutes per seed on 2 CPU cores).
A tiny end-to-end run (the test does this): ``--base-model DIR --reward-model DIR --prompts-dir DIR
--frontier FILE`` with a frontier file whose ``args`` ask for a few pairs.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from rlhf_utils import dpo, evaluation, generation, lm_task, models
from rlhf_utils.paths import RESULTS_DIR
from rlhf_utils.profiles import get_profile
from rlhf_utils.results import results_file, write_results
from rlhf_utils.reward_model import load_reward_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--frontier", type=Path, default=RESULTS_DIR / "alternatives_frontier.json",
                        help="the committed frontier whose DPO settings are reused")
    parser.add_argument("--base-model", type=Path, default=None, help="default: the course GPT-2")
    parser.add_argument("--reward-model", type=Path, default=None, help="default: the shipped reward model")
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the shipped prompts")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "dpo_seed_spread.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    settings = json.loads(args.frontier.read_text())["args"]
    profile = get_profile("quick")
    base, tokenizer = models.load_base_model(profile, source=args.base_model)
    rm = load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
    reference = generation.frozen_copy(base)
    train_prompts = lm_task.load_prompts("train", args.prompts_dir)
    heldout = lm_task.load_prompts("heldout", args.prompts_dir)
    points = []
    for seed in (int(s) for s in args.seeds.split(",")):
        pairs = dpo.simulated_comparisons(base, tokenizer, train_prompts, settings["dpo_pairs"], seed=seed)
        policy = copy.deepcopy(base)
        dpo.train_dpo(policy, reference, tokenizer, pairs, dpo.DPOTrainingConfig(
            beta=args.beta, epochs=settings["dpo_epochs"], learning_rate=settings["dpo_lr"], seed=seed))
        r = evaluation.evaluate_policy(policy, reference, tokenizer, heldout, name=f"DPO β={args.beta}, seed {seed}",
                                       reward_fn=rm.score_samples, samples_per_prompt=settings["samples_per_prompt"],
                                       seed=1234)
        print(r, flush=True)
        points.append({"seed": seed, "comparisons": len(pairs), **r.summary()})
    output = results_file(__file__, args, points=points)
    write_results(args.out, output)
    print(f"wrote {args.out}")
    return output


if __name__ == "__main__":
    main()
