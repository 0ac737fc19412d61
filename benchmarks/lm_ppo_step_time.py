"""Time one PPO iteration on the course GPT-2, phase by phase, against what this CPU's matmuls can do.

One iteration = sample ``--batch`` continuations of ``RESPONSE_LENGTH`` tokens (generation), score them
(the policy with its value head, the reference, the reward model: the scoring forwards), then the PPO
update (``ppo_epochs`` passes over minibatches, forward and backward). The reward is the shipped reward
model's score, as in notebook 05 (``--reward gold`` uses the gold score instead and skips that forward).

Beside the wall time of each phase it counts the phase's matrix-multiply FLOPs (the weights, attention and
the LM head, on every position actually computed, pad columns included) and measures this CPU's sustained
matmul throughput at the model's own shapes, on the same threads: the roofline. Each phase's share of it
says how far the phase is from what the hardware allows, and so where speed-ups can come from.

Run: ``python benchmarks/lm_ppo_step_time.py`` (``--model DIR`` for another base model, ``--out FILE`` for JSON,
``--update 2,16,1e-4`` for another update than the course's: PPO epochs, minibatch size, learning rate).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from rlhf_utils import generation, lm_ppo
from rlhf_utils.generation import position_ids, response_logits, token_logprobs
from rlhf_utils import reward_model as rmod
from rlhf_utils.gold import gold_scores
from rlhf_utils.lm_task import RESPONSE_LENGTH, load_prompts
from rlhf_utils.models import base_model_source, load_base_model
from rlhf_utils.profiles import get_profile

PHASES = ("generation", "scoring", "update")


def forward_flops(config, rows: int, tokens: int, context: float, lm_head: bool) -> float:
    """Matmul FLOPs of a GPT-2 forward over ``rows`` x ``tokens`` positions, each attending to ``context`` keys.

    Per position: ``2 · 12 · L · d²`` for the weights (q, k, v and output projections, 4d² in all, and the
    MLP's 8d²), ``2 · 2 · L · context · d`` for attention (scores and the weighted sum), and ``2 · d · V``
    for the LM head when logits are computed. A backward pass costs twice a forward.
    """
    d, layers, vocab = config.n_embd, config.n_layer, config.vocab_size
    per_position = 2 * 12 * layers * d * d + 4 * layers * context * d + (2 * d * vocab if lm_head else 0)
    return rows * tokens * per_position


def phase_flops(config, batch: int, query: int, response: int, reward_tokens: int | None, epochs: int) -> dict[str, float]:
    """FLOPs of each phase of one iteration (see :func:`forward_flops`)."""
    full = query + response
    # generation: the prompt once (prefill), then one position per new token over a growing cache;
    # the LM head runs on the last position of the prefill and on every new one
    prefill = forward_flops(config, batch, query, query / 2, lm_head=False) + forward_flops(config, batch, 1, query, True)
    decode = sum(forward_flops(config, batch, 1, query + t, lm_head=True) for t in range(1, response))
    scoring = 2 * forward_flops(config, batch, full, full / 2, lm_head=True)   # policy (+ value head) and reference
    if reward_tokens is not None:
        scoring += forward_flops(config, batch, reward_tokens, reward_tokens / 2, lm_head=False)
    update = epochs * 3 * forward_flops(config, batch, full, full / 2, lm_head=True)
    return {"generation": prefill + decode, "scoring": scoring, "update": update}


def matmul_roofline(config, rows: int, threads: int, seconds: float = 0.5) -> dict[str, float]:
    """Sustained GFLOP/s of float32 matmuls at the model's shapes (``rows`` x d times d x k), best of repeats."""
    torch.set_num_threads(threads)
    out = {}
    for name, (inner, width) in {"d x 3d (qkv)": (config.n_embd, 3 * config.n_embd),
                                 "d x 4d (mlp up)": (config.n_embd, 4 * config.n_embd),
                                 "4d x d (mlp down)": (4 * config.n_embd, config.n_embd),
                                 "d x V (lm head)": (config.n_embd, config.vocab_size)}.items():
        a, b = torch.randn(rows, inner), torch.randn(inner, width)
        a @ b  # warm-up
        best, start = 0.0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            for _ in range(5):
                a @ b
            best = max(best, 5 * 2 * rows * inner * width / (time.perf_counter() - t0) / 1e9)
        out[name] = best
    return out


def lean_response_logprobs(lm, samples, temperature, forbidden):
    """:func:`rlhf_utils.generation.response_logprobs` with the LM head only where it predicts a response token."""
    n = samples.response_ids.shape[1]
    logits = lm(input_ids=samples.input_ids, attention_mask=samples.attention_mask,
                position_ids=position_ids(samples.attention_mask), logits_to_keep=n + 1).logits
    return token_logprobs(response_logits(logits, 1, n, temperature, forbidden), samples.response_ids)


class LeanTrainer(lm_ppo.LMPPOTrainer):
    """A candidate speed-up, the same maths: the policy's LM head runs only on the ``n`` positions that predict
    response tokens (``logits_to_keep``), not on the prompt's, in the rollout and in every update minibatch."""

    def _evaluate(self, samples, rows=slice(None)):
        q, n = samples.query_ids.shape[1], samples.response_ids.shape[1]
        ids, mask = samples.input_ids[rows], samples.attention_mask[rows]
        out = self.policy.lm(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask),
                             output_hidden_states=True, logits_to_keep=n + 1)
        values = self.policy.value_head(out.hidden_states[-1][:, q - 1 : q - 1 + n]).squeeze(-1)
        resp_logits = response_logits(out.logits, 1, n, self.config.temperature, self.forbidden)
        return token_logprobs(resp_logits, samples.response_ids[rows]), values, resp_logits


def compare_lean(make_trainer, prompts, iterations: int) -> dict:
    """Baseline and :class:`LeanTrainer` side by side: alternating iterations on the same prompts, each with
    its own policy; their log-probs and values on the same first rollout must agree."""
    base, lean = make_trainer(lm_ppo.LMPPOTrainer), make_trainer(LeanTrainer)
    first = base.rollout(base.sample_prompts(prompts))
    gaps = {}
    with torch.no_grad():
        (lp_b, v_b, _), (lp_l, v_l, _) = base._evaluate(first.samples), lean._evaluate(first.samples)
        gaps["logprob"] = (lp_b - lp_l).abs().max().item()
        gaps["value"] = (v_b - v_l).abs().max().item()
        real = lm_ppo.response_logprobs
        gaps["reference_logprob"] = (real(base.ref_model, first.samples, base.config.temperature, base.forbidden)
                                     - lean_response_logprobs(base.ref_model, first.samples, base.config.temperature,
                                                              base.forbidden)).abs().max().item()
    seconds = {"baseline": [], "lean": []}
    for i in range(iterations + 1):
        batch = base.sample_prompts(prompts)
        for name, trainer in (("baseline", base), ("lean", lean)):
            if name == "lean":
                lm_ppo.response_logprobs = lean_response_logprobs
            try:
                t0 = time.perf_counter()
                trainer.update(trainer.rollout(batch))
                if i:
                    seconds[name].append(time.perf_counter() - t0)
            finally:
                lm_ppo.response_logprobs = real
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"side by side, {iterations} iterations each: baseline {medians['baseline']:.2f} s, lean "
          f"{medians['lean']:.2f} s per iteration ({medians['baseline'] / medians['lean']:.2f}x); largest gaps on one "
          f"rollout: log-prob {gaps['logprob']:.1e}, value {gaps['value']:.1e}, reference log-prob {gaps['reference_logprob']:.1e}")
    return {"median_s": medians, "speedup": medians["baseline"] / medians["lean"], "max_abs_gap": gaps}


def main(argv: list[str] | None = None) -> dict:
    """Time the iterations; returns the median, min and max seconds of each phase and of the iteration, with
    the FLOPs, the roofline and the percentages (also written to ``--out`` as JSON when given)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="base model folder (default: the course GPT-2)")
    parser.add_argument("--reward-model", type=Path, default=None, help="default: the shipped reward model")
    parser.add_argument("--reward", choices=("model", "gold"), default="model")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the shipped prompts")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--update", default="", help="another update than the course's: 'epochs,minibatch,lr'")
    parser.add_argument("--compare-lean", action="store_true", help="also time LeanTrainer against the baseline")
    args = parser.parse_args(argv)
    try:
        settings = lm_ppo.parse_update_settings(args.update)
    except ValueError as error:
        raise SystemExit(f"--update: {error}") from None
    if len(settings) > 1:
        raise SystemExit(f"--update: one setting, not {len(settings)} (e.g. 2,16,1e-4)")
    update = next(iter(settings.values()), {})

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    profile = get_profile("quick")
    source = args.model or Path(base_model_source(profile))
    lm, tokenizer = load_base_model(profile, source=source)
    policy = lm_ppo.PolicyWithValueHead.from_base(lm)
    ref = generation.frozen_copy(lm)
    config = lm_ppo.course_config(profile, batch_size=args.batch, **update)
    if args.reward == "model":
        rm = rmod.load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model, verbose=False)
        reward_fn = rm.score_samples
    else:
        rm, reward_fn = None, lambda s: torch.as_tensor(gold_scores(s.responses, s.prompts))
    trainer = lm_ppo.LMPPOTrainer(policy, ref, tokenizer, reward_fn, config, total_iterations=args.iterations + 1)
    make_trainer = lambda cls: cls(lm_ppo.PolicyWithValueHead.from_base(lm), ref, tokenizer, reward_fn, config,  # noqa: E731
                                   total_iterations=2 * args.iterations + 2)
    prompts = load_prompts("train", args.prompts_dir)
    n_params = sum(p.numel() for p in lm.parameters())
    print(f"{source.name}: {n_params / 1e6:.2f}M parameters; batch {args.batch} x {RESPONSE_LENGTH} tokens, "
          f"{config.ppo_epochs} epochs of minibatch {config.minibatch_size}, {args.threads} threads, reward: {args.reward}")

    # time generation inside the rollout by wrapping the trainer's sampling function for this run only
    generation_s: list[float] = []
    real_sample = lm_ppo.sample

    def timed_sample(*a, **k):
        t0 = time.perf_counter()
        out = real_sample(*a, **k)
        generation_s.append(time.perf_counter() - t0)
        return out

    lm_ppo.sample = timed_sample
    times: dict[str, list[float]] = {name: [] for name in PHASES}
    shapes = []
    try:
        for i in range(args.iterations + 1):
            batch = trainer.sample_prompts(prompts)
            t0 = time.perf_counter()
            rollout = trainer.rollout(batch)
            t1 = time.perf_counter()
            trainer.update(rollout)
            t2 = time.perf_counter()
            if i:  # the first iteration warms up allocators and kernels
                times["generation"].append(generation_s[-1])
                times["scoring"].append(t1 - t0 - generation_s[-1])
                times["update"].append(t2 - t1)
                reward_tokens = None if rm is None else rmod.samples_for_reward(rollout.samples, tokenizer.eos_token_id)[0].shape[1]
                shapes.append((rollout.samples.query_ids.shape[1], reward_tokens))
    finally:
        lm_ppo.sample = real_sample
    times["iteration"] = [sum(parts) for parts in zip(*(times[p] for p in PHASES), strict=True)]

    query = statistics.median(q for q, _ in shapes)
    reward_tokens = None if rm is None else statistics.median(r for _, r in shapes)
    flops = phase_flops(lm.config, args.batch, query, RESPONSE_LENGTH, reward_tokens, config.ppo_epochs)
    flops["iteration"] = sum(flops.values())
    big = matmul_roofline(lm.config, args.batch * (int(query) + RESPONSE_LENGTH), args.threads)
    small = matmul_roofline(lm.config, args.batch, args.threads)   # one new token per row, as in generation
    roofline = max(big.values())
    result = {"model": source.name, "parameters": n_params, "batch": args.batch, "threads": args.threads,
              "reward": args.reward, "query_tokens": query, "ppo_epochs": config.ppo_epochs,
              "minibatch_size": config.minibatch_size, "learning_rate": config.learning_rate, "roofline_gflops": roofline,
              "matmul_gflops_scoring_shapes": big, "matmul_gflops_generation_shapes": small, "phases": {}}
    print(f"roofline: {roofline:.1f} GFLOP/s (best float32 matmul at the scoring shapes, {args.threads} threads); "
          f"at generation's shapes ({args.batch} rows) {max(small.values()):.1f}")
    for name, values in times.items():
        median = statistics.median(values)
        achieved = flops[name] / median / 1e9
        result["phases"][name] = {"median_s": median, "min_s": min(values), "max_s": max(values),
                                  "gflop": flops[name] / 1e9, "gflops": achieved, "roofline_share": achieved / roofline}
        print(f"{name:>10}: median {median:.2f} s (min {min(values):.2f}, max {max(values):.2f}); "
              f"{flops[name] / 1e9:.1f} GFLOP, {achieved:.1f} GFLOP/s = {achieved / roofline:.0%} of the roofline")
    result["samples_per_second"] = args.batch / result["phases"]["iteration"]["median_s"]
    print(f"{result['samples_per_second']:.1f} samples per second")
    if args.compare_lean:
        result["lean"] = compare_lean(make_trainer, prompts, args.iterations)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
