"""Time one PPO iteration on the course GPT-2: is the base model small enough for notebook 05 on 2 CPU cores?

One iteration = sample ``--batch`` continuations of ``RESPONSE_LENGTH`` tokens, score them, then the
PPO update (``ppo_epochs`` passes over minibatches, forward and backward). The reward here is the gold
score itself, so no reward model is needed; a reward model adds one forward pass over the batch.
Prints the median (and range) of several iterations after one warm-up, split into rollout and update.

Run: ``python benchmarks/lm_ppo_step_time.py`` (``--model DIR`` for another base model).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from rlhf_utils import generation, lm_ppo
from rlhf_utils.gold import gold_scores
from rlhf_utils.lm_task import RESPONSE_LENGTH, load_prompts
from rlhf_utils.models import base_model_source, load_base_model
from rlhf_utils.profiles import get_profile


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Time the iterations; returns the median, min and max seconds of rollout, update and the whole iteration."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="base model folder (default: the course GPT-2)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the shipped prompts")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    profile = get_profile("quick")
    source = args.model or Path(base_model_source(profile))
    lm, tokenizer = load_base_model(profile, source=source)
    policy = lm_ppo.PolicyWithValueHead.from_base(lm)
    ref = generation.frozen_copy(lm)
    config = lm_ppo.course_config(profile, batch_size=args.batch)
    trainer = lm_ppo.LMPPOTrainer(policy, ref, tokenizer, lambda s: torch.as_tensor(gold_scores(s.responses, s.prompts)),
                                  config, total_iterations=args.iterations + 1)
    prompts = load_prompts("train", args.prompts_dir)
    n_params = sum(p.numel() for p in lm.parameters())
    print(f"{source.name}: {n_params / 1e6:.2f}M parameters; batch {args.batch} x {RESPONSE_LENGTH} tokens, "
          f"{config.ppo_epochs} epochs of minibatch {config.minibatch_size}, {args.threads} threads")

    rollout_s, update_s = [], []
    for i in range(args.iterations + 1):
        batch = trainer.sample_prompts(prompts)
        t0 = time.perf_counter()
        rollout = trainer.rollout(batch)
        t1 = time.perf_counter()
        trainer.update(rollout)
        t2 = time.perf_counter()
        if i:  # the first iteration warms up allocators and kernels
            rollout_s.append(t1 - t0)
            update_s.append(t2 - t1)
    total = [a + b for a, b in zip(rollout_s, update_s, strict=True)]
    timings = {}
    for name, values in [("rollout", rollout_s), ("update", update_s), ("iteration", total)]:
        timings[name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        print(f"{name:>9}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")
    return timings


if __name__ == "__main__":
    main()
