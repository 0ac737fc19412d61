"""Notebook 05's PPO run at the course's update settings against cheaper updates, over seeds, side by side.

The update is three quarters of an iteration's time (``lm_ppo_step_time.py``): 4 epochs × 4 minibatches of 8,
16 optimizer steps for every batch of 32 samples. Fewer, larger steps make an iteration cheaper, and may teach
less per sample. This script answers both halves at once. For each seed it runs notebook 05's own training run
(``lm_ppo.course_config`` with the notebook's adaptive KL controller: β starts at 0.1, target 5 nats, the same
number of iterations) once per setting, the settings in an order that alternates with the seed, and measures:

- the training wall time, so samples per second (evaluation not counted);
- after the same number of samples, the held-out gold score ± s.e. and KL, evaluated as notebook 05 does.

Over the seeds it reports, for each setting against the first (the course's), the median ratio of samples per
second and the median difference of held-out gold (paired by seed), with their ranges.

Run: ``python benchmarks/lm_ppo_update_settings.py`` (about 15 minutes on 2 cores: 3 seeds × 2 settings);
``--settings "4,8,5e-5;2,16,1e-4;1,32,1e-4"`` for others (PPO epochs, minibatch size, learning rate).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import transformers

from rlhf_utils import evaluation, generation, gold, lm_ppo
from rlhf_utils.lm_task import load_prompts
from rlhf_utils.models import load_base_model
from rlhf_utils.profiles import get_profile
from rlhf_utils.results import over_seeds, results_file, write_results
from rlhf_utils.reward_model import load_reward_model

RESULTS = Path(__file__).parent / "results" / "lm_ppo_update_settings.json"
NOTEBOOK_05 = dict(adaptive_kl=True, kl_coef=0.1, kl_target=5.0)  # section 1.5's choices, on top of course_config


def run_setting(overrides: dict, seed: int, base, reference, tokenizer, rm, prompts, heldout, args) -> dict:
    """Notebook 05's training run with these update settings; its speed and its held-out result."""
    torch.manual_seed(seed)
    config = lm_ppo.course_config(get_profile("quick"), **NOTEBOOK_05, seed=seed, **overrides)
    trainer = lm_ppo.LMPPOTrainer(lm_ppo.PolicyWithValueHead.from_base(base), reference, tokenizer,
                                  rm.score_samples, config, total_iterations=args.iterations)
    history = lm_ppo.train(trainer, prompts, args.iterations, progress=False)
    seconds = sum(h["seconds"] for h in history)
    result = evaluation.evaluate_policy(trainer.policy.lm, reference, tokenizer, heldout, reward_fn=rm.score_samples,
                                        gold_fn=gold.gold_scores, samples_per_prompt=args.samples_per_prompt, seed=1234)
    return {"seed": seed, "train_seconds": seconds, "samples": args.iterations * config.batch_size,
            "samples_per_second": args.iterations * config.batch_size / seconds, "gold": result.gold_mean,
            "gold_se": result.gold_se, "kl": result.kl_mean, "kl_se": result.kl_se, "reward": result.reward_mean,
            "final_beta": history[-1]["kl_coef"]}


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Per setting: medians and ranges over seeds; against the first setting, the per-seed speed ratio and gold
    difference (paired by seed), and their medians and ranges."""
    names = list(runs)
    baseline = {r["seed"]: r for r in runs[names[0]]}
    summary: dict = {"baseline": names[0], "settings": {}}
    for name in names:
        rows = runs[name]
        entry = {key: over_seeds([r[key] for r in rows]) for key in ("samples_per_second", "gold", "kl", "final_beta")}
        entry["speed_ratio"] = over_seeds([r["samples_per_second"] / baseline[r["seed"]]["samples_per_second"] for r in rows])
        entry["gold_difference"] = over_seeds([r["gold"] - baseline[r["seed"]]["gold"] for r in rows])
        summary["settings"][name] = entry
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="4,8,5e-5;2,16,1e-4",
                        help="'epochs,minibatch,lr' separated by ';', the course's first")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iterations", type=int, default=60, help="notebook 05's, in the quick profile")
    parser.add_argument("--samples-per-prompt", type=int, default=2, help="held-out evaluation, as notebook 05")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--reward-model", type=Path, default=None)
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the shipped prompts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        settings = lm_ppo.parse_update_settings(args.settings)
    except ValueError as error:
        raise SystemExit(f"--settings: {error}") from None
    if len(settings) < 2:
        raise SystemExit("--settings: give at least two, the course's first, to compare against it")

    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    base, tokenizer = load_base_model(get_profile("quick"), source=args.base_model)
    reference = generation.frozen_copy(base)
    rm = load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model)
    prompts, heldout = load_prompts("train", args.prompts_dir), load_prompts("heldout", args.prompts_dir)
    seeds = [int(x) for x in args.seeds.split(",")]
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for i, seed in enumerate(seeds):
        order = list(settings) if i % 2 == 0 else list(reversed(settings))  # neither always runs first
        for name in order:
            row = run_setting(settings[name], seed, base, reference, tokenizer, rm, prompts, heldout, args)
            runs[name].append(row)
            print(f"seed {seed} {name:>16}: {row['samples_per_second']:5.1f} samples/s, held-out gold "
                  f"{row['gold']:+.3f} ± {row['gold_se']:.3f}, KL {row['kl']:.2f}, final β {row['final_beta']:.3f}",
                  flush=True)
    for rows in runs.values():
        rows.sort(key=lambda r: r["seed"])
    summary = summarise(runs)
    print(f"\nover {len(seeds)} seeds, median (min to max); ratio and difference against {summary['baseline']}")
    for name, s in summary["settings"].items():
        print(f"{name:>16}: {s['samples_per_second']['median']:5.1f} samples/s "
              f"(x{s['speed_ratio']['median']:.2f}, {s['speed_ratio']['min']:.2f} to {s['speed_ratio']['max']:.2f}), "
              f"gold {s['gold']['median']:+.3f} (difference {s['gold_difference']['median']:+.3f}, "
              f"{s['gold_difference']['min']:+.3f} to {s['gold_difference']['max']:+.3f}), KL {s['kl']['median']:.2f}")
    output = results_file(__file__, args, summary=summary, runs=runs)
    write_results(args.out, output)
    print(f"wrote {args.out}")
    return output


if __name__ == "__main__":
    main()
