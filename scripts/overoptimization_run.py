"""Over-optimisation, seed spread and a second round of feedback: ``data/results/overoptimization.json`` (notebook 07).

1. **Round 1, a weak leash.** PPO with a small fixed β against the shipped (proxy) reward model, far
   longer than notebook 05. Every ``--eval-every`` iterations the policy is measured by
   ``rlhf_utils.evaluation`` on the held-out prompts: proxy score, gold score and sequence KL to the
   reference, each with its standard error, the reward model's pairwise accuracy on the policy's own
   samples, and a few samples. Against KL, the proxy keeps rising while gold peaks and falls (Gao et al. 2023).
2. **Seed spread.** The first ``--round2-from`` iterations again with other seeds, evaluated at the end.
3. **Round 2.** At iteration ``--round2-from`` (before gold's peak) the policy writes pairs for the
   training prompts; the simulated labeller labels them into a store (each record names the model that
   wrote it), together with as many fresh base-model pairs. The reward model is updated on both
   (``overoptimization.updated_reward_model``), both reward models are measured on base and policy
   samples (distribution shift), and PPO continues from that policy twice - with the old reward model
   and with the new one, fresh optimiser each - once per ``--branch-seeds`` trainer seed, so the two
   branches' gold curves can be compared over seeds, not on one run each.

The file is rewritten after every evaluation, so a long run keeps what it finished.
Run: ``python scripts/overoptimization_run.py`` (about 36 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch

from rlhf_utils import evaluation, generation, lm_ppo, lm_task, models
from rlhf_utils.feedback import SimulatedLabeller, preference_pairs
from rlhf_utils.feedback_store import FeedbackStore
from rlhf_utils.overoptimization import pair_accuracy, peak_then_drop, updated_reward_model
from rlhf_utils.paths import RESULTS_DIR
from rlhf_utils.profiles import get_profile
from rlhf_utils.results import results_file, write_results
from rlhf_utils.reward_model import RewardTrainingConfig, load_reward_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beta", type=float, default=0.002, help="fixed KL coefficient (small: a weak leash)")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the course's PPO learning rate")
    parser.add_argument("--samples-per-prompt", type=int, default=1)
    parser.add_argument("--shown-prompts", type=int, default=4, help="held-out prompts whose samples are saved")
    parser.add_argument("--spread-seeds", default="1,2,3,4,5", help="other seeds for the seed spread ('' for none)")
    parser.add_argument("--round2-from", type=int, default=30, help="iteration whose policy writes round 2's pairs")
    parser.add_argument("--round2-pairs", type=int, default=2000, help="policy pairs (and as many base pairs) labelled")
    parser.add_argument("--round2-epochs", type=int, default=1)
    parser.add_argument("--round2-lr", type=float, default=1e-4)
    parser.add_argument("--round2-eval-every", type=int, default=10)
    parser.add_argument("--branch-seeds", default="5,6,7", help="trainer seeds of each round-2 branch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--reward-model", type=Path, default=None)
    parser.add_argument("--prompts-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "overoptimization.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not parse_seeds(args.branch_seeds):
        parser.error("--branch-seeds needs at least one seed")
    if not 0 < args.round2_from < args.iterations or args.round2_from % args.eval_every:
        parser.error("--round2-from must be a multiple of --eval-every, after 0 and before --iterations")
    return args


def parse_seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    profile = get_profile("quick")
    source = args.base_model or Path(models.base_model_source(profile))
    base, tokenizer = models.load_base_model(profile, source=source)
    rm = load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
    ref = generation.frozen_copy(base)
    train_prompts = lm_task.load_prompts("train", args.prompts_dir)
    heldout = lm_task.load_prompts("heldout", args.prompts_dir)
    overrides = {"adaptive_kl": False, "kl_coef": args.beta}
    if args.learning_rate is not None:
        overrides["learning_rate"] = args.learning_rate
    output = results_file(__file__, args, points=[])

    def save() -> None:
        write_results(args.out, output)

    def evaluate(lm, reward, iteration: int, seconds: float, name: str) -> dict:
        r = evaluation.evaluate_policy(lm, ref, tokenizer, heldout, name=f"{name}, iteration {iteration}",
                                       reward_fn=reward.score_samples, samples_per_prompt=args.samples_per_prompt,
                                       seed=1234)
        shown = [{"prompt": p, "response": t, "gold": g}
                 for p, t, g in list(zip(r.prompts, r.responses, r.gold))[: args.shown_prompts]]
        accuracy, pairs = pair_accuracy(lm, tokenizer, reward, heldout)  # the proxy's accuracy on this policy's text
        print(f"{r} | reward-model accuracy {accuracy:.3f}  ({seconds:.0f} s)", flush=True)
        return {"iteration": iteration, "train_seconds": round(seconds, 1), **r.summary(),
                "rm_accuracy": accuracy, "rm_accuracy_pairs": pairs, "samples": shown}

    def ppo_trainer(policy, reward, seed: int, total: int) -> lm_ppo.LMPPOTrainer:
        torch.manual_seed(seed)
        config = lm_ppo.course_config(profile, **overrides, seed=seed)
        return lm_ppo.LMPPOTrainer(policy, ref, tokenizer, reward.score_samples, config, total_iterations=total)

    def run(trainer, reward, iterations: int, first: int, every: int, name: str, points: list, snapshot_at=None):
        """PPO iterations first+1 .. first+iterations, evaluated every ``every``; optionally a copy of the policy."""
        trained, snapshot = 0.0, None
        for i in range(first + 1, first + iterations + 1):
            t = time.perf_counter()
            trainer.step(trainer.sample_prompts(train_prompts))
            trained += time.perf_counter() - t
            if i == snapshot_at:
                snapshot = copy.deepcopy(trainer.policy)
            if i % every == 0 or i == first + iterations:
                points.append(evaluate(trainer.policy.lm, reward, i, trained, name))
                save()
        return snapshot

    # 1. round 1: a long, weakly leashed run against the proxy
    points = output["points"]
    points.append(evaluate(base, rm, 0, 0.0, "round 1"))
    trainer = ppo_trainer(lm_ppo.PolicyWithValueHead.from_base(base), rm, args.seed, args.iterations)
    round2_start = run(trainer, rm, args.iterations, 0, args.eval_every, "round 1", points, snapshot_at=args.round2_from)
    verdict = peak_then_drop([p["gold_mean"] for p in points], [p["gold_se"] for p in points])
    output["gold_peak_then_drop"] = {**verdict.__dict__}
    print(f"round 1 gold: {verdict}")
    del trainer

    # 2. seed spread over the first round2_from iterations (same learning-rate schedule as round 1)
    spread = output["seed_spread"] = {"iteration": args.round2_from,
                                      "points": [{"seed": args.seed, **next(p for p in points if p["iteration"] == args.round2_from)}]}
    for seed in parse_seeds(args.spread_seeds):
        seed_trainer = ppo_trainer(lm_ppo.PolicyWithValueHead.from_base(base), rm, seed, args.iterations)
        seed_points: list = []
        run(seed_trainer, rm, args.round2_from, 0, args.round2_from, f"seed {seed}", seed_points)
        spread["points"].append({"seed": seed, **seed_points[-1]})
        del seed_trainer

    # 3. round 2: the policy's own samples, labelled, update the reward model; PPO continues both ways
    base_name = Path(source).name
    policy_name = f"{base_name}-ppo-round1-iteration{args.round2_from}"
    pair_prompts = lm_task.draw_prompts(train_prompts, args.round2_pairs, seed=args.seed + 2)
    replay_prompts = lm_task.draw_prompts(train_prompts, args.round2_pairs, seed=args.seed + 3)
    progress = not args.quiet
    torch.manual_seed(args.seed + 2)
    policy_a, policy_b, _ = generation.sample_pairs(round2_start.lm, tokenizer, pair_prompts, progress=progress,
                                                desc="policy pairs")
    base_a, base_b, _ = generation.sample_pairs(base, tokenizer, replay_prompts, progress=progress, desc="base pairs")
    labeller = SimulatedLabeller(seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="round2_labels_") as tmp:
        store = FeedbackStore(Path(tmp) / "labels.jsonl")  # one store, both rounds, told apart by model
        new_labels = labeller.label_pairs(store, zip(pair_prompts, policy_a, policy_b), model=policy_name)
        replay_labels = labeller.label_pairs(store, zip(replay_prompts, base_a, base_b), model=base_name)
    pairs = preference_pairs(new_labels + replay_labels)
    torch.manual_seed(args.seed + 4)
    calibration = generation.sample(base, tokenizer, lm_task.draw_prompts(train_prompts, 512, seed=args.seed + 4))
    rm_started = time.perf_counter()
    rm2 = updated_reward_model(rm, pairs, calibration, RewardTrainingConfig(
        epochs=args.round2_epochs, learning_rate=args.round2_lr, seed=args.seed), progress=progress)
    round2 = output["round2"] = {"from_iteration": args.round2_from, "policy_model": policy_name,
                                 "policy_pairs": len(new_labels), "base_pairs": len(replay_labels),
                                 "comparisons": len(pairs), "reward_model_seconds": round(time.perf_counter() - rm_started, 1)}
    reward_models = {"round-1 reward model": rm, "round-2 reward model": rm2}
    round2["accuracy"] = {
        name: {"base samples": dict(zip(("accuracy", "pairs"), pair_accuracy(base, tokenizer, r, heldout))),
               "policy samples": dict(zip(("accuracy", "pairs"), pair_accuracy(round2_start.lm, tokenizer, r, heldout)))}
        for name, r in reward_models.items()}
    print(json.dumps(round2["accuracy"]))
    save()
    continued = args.iterations - args.round2_from
    start_point = next(p for p in points if p["iteration"] == args.round2_from)
    # every branch starts from the same policy; only a new reward model scores it differently there
    starts = {name: start_point if reward is rm else
              evaluate(round2_start.lm, reward, args.round2_from, start_point["train_seconds"], name)
              for name, reward in reward_models.items()}
    round2["branches"] = {name: [] for name in reward_models}
    for seed in parse_seeds(args.branch_seeds):   # one seed of both branches at a time, so a cut-short run stays paired
        for name, reward in reward_models.items():
            branch_trainer = ppo_trainer(copy.deepcopy(round2_start), reward, seed, continued)
            branch = {"seed": seed, "points": [starts[name]]}
            round2["branches"][name].append(branch)
            run(branch_trainer, reward, continued, args.round2_from, args.round2_eval_every, f"{name}, seed {seed}",
                branch["points"])
            branch["gold"] = {**peak_then_drop([p["gold_mean"] for p in branch["points"]],
                                               [p["gold_se"] for p in branch["points"]]).__dict__}
            save()
            del branch_trainer
    output["seconds"] = round(time.perf_counter() - started, 1)
    save()
    print(f"done in {output['seconds']:.0f} s")
    return output


if __name__ == "__main__":
    main()
