"""Our LM-PPO against TRL's RLOOTrainer and GRPOTrainer, side by side on the same task.

The same base model (the course GPT-2), reward model (the shipped one), training prompts, response
length (fixed: end-of-text and pad suppressed for every method), sampling temperature, samples per
step (``--batch``), β, dropout off, and one evaluator: every ``--eval-every`` seconds of *training*
time, each policy is evaluated by ``rlhf_utils.evaluation.evaluate_policy`` on the held-out prompts
with fixed seeds (gold score ± s.e., sequence KL to the reference). Evaluation time is not counted.

TRL's learning rate is tuned over ``--trl-lrs`` (its 1e-6 default would not move a small model; GRPO's
may differ, ``--grpo-lrs``);
each TRL run uses ``num_generations`` completions per prompt (the group baseline) and ``beta > 0``.
How the KL enters differs by design: ours and RLOO put β·KL in the reward, GRPO adds β·KL (the k3
estimator) to the loss; all are measured the same way here.

The result: gold score and KL against wall time for every run and seed (``--seeds 0,1,2``); over the seeds,
the median and spread of each run's gold and KL at every evaluation and at the end, and the ratio of the median wall time our PPO needs to
reach the best RLOO configuration's median final gold score to the median wall time RLOO took (with our KL there).

Run (about ``budget × (1 + 2 × len(trl_lrs))`` minutes):
``python benchmarks/rlhf_ppo_vs_trl.py --budget-minutes 6``; ``--smoke`` runs a tiny version.
``--ours-configs "2,16,1e-4;1,32,1e-4"`` also times other settings of ours (PPO epochs, minibatch, lr).
``--summarise-only`` trains nothing: it rewrites the summary of the ``--out`` file from its runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import transformers

from rlhf_utils import generation, lm_ppo, trl_trainers
from rlhf_utils.evaluation import evaluate_policy
from rlhf_utils.lm_task import load_prompts
from rlhf_utils.models import load_base_model
from rlhf_utils.paths import REPO_ROOT
from rlhf_utils.profiles import get_profile
from rlhf_utils.results import over_seeds, read_results, results_file, write_results
from rlhf_utils.reward_model import load_reward_model

RESULTS = REPO_ROOT / "benchmarks" / "results" / "rlhf_ppo_vs_trl.json"


class TrainingClock:
    """Wall time spent training: paused while evaluating."""

    def __init__(self) -> None:
        self.spent, self._since = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.spent += time.perf_counter() - self._since
        return self.spent

    def resume(self) -> None:
        self._since = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return self.spent + time.perf_counter() - self._since


class Evaluator:
    """Evaluates a policy at fixed training-time intervals on the held-out prompts (fixed seed)."""

    def __init__(self, ref, tokenizer, prompts, reward_fn, every_s: float, samples_per_prompt: int):
        self.ref, self.tokenizer, self.prompts, self.reward_fn = ref, tokenizer, prompts, reward_fn
        self.every_s, self.samples_per_prompt = every_s, samples_per_prompt

    def point(self, lm, seconds: float, samples_seen: int) -> dict:
        was_training = lm.training
        r = evaluate_policy(lm, self.ref, self.tokenizer, self.prompts, reward_fn=self.reward_fn,
                            samples_per_prompt=self.samples_per_prompt, seed=1234)
        lm.train(was_training)
        return {"seconds": round(seconds, 2), "samples": samples_seen, "gold": r.gold_mean, "gold_se": r.gold_se,
                "kl": r.kl_mean, "kl_se": r.kl_se, "reward": r.reward_mean}


def parse_ours_configs(text: str) -> dict[str, dict]:
    """``"4,8,5e-5;2,16,1e-4"`` -> PPO epochs, minibatch size and learning rate per run of ours, by run name."""
    try:
        return {f"ours {name}": overrides for name, overrides in lm_ppo.parse_update_settings(text).items()}
    except ValueError as error:
        raise SystemExit(f"--ours-configs: {error}") from None


def run_ours(base, tokenizer, rm, prompts, evaluator, args, overrides: dict | None = None) -> list[dict]:
    policy = lm_ppo.PolicyWithValueHead.from_base(base)  # a copy: base stays untouched
    config = lm_ppo.course_config(get_profile("quick"), batch_size=args.batch, adaptive_kl=False, kl_coef=args.beta,
                                  anneal_lr=False, seed=args.seed, **(overrides or {}))
    trainer = lm_ppo.LMPPOTrainer(policy, evaluator.ref, tokenizer, rm.score_samples, config)
    clock, curve = TrainingClock(), []
    curve.append(evaluator.point(policy.lm, 0.0, 0))
    clock.resume()
    next_eval = evaluator.every_s
    while clock.elapsed < args.budget_minutes * 60:
        trainer.step(trainer.sample_prompts(prompts))
        if clock.elapsed >= next_eval:
            seconds = clock.pause()
            curve.append(evaluator.point(policy.lm, seconds, trainer.iteration * args.batch))
            print(f"  ours  {seconds:6.0f} s  gold {curve[-1]['gold']:+.3f}  KL {curve[-1]['kl']:.2f}")
            next_eval += evaluator.every_s
            clock.resume()
    seconds = clock.pause()
    if curve[-1]["samples"] != trainer.iteration * args.batch:  # not evaluated at the very end already
        curve.append(evaluator.point(policy.lm, seconds, trainer.iteration * args.batch))
    return curve


def run_trl(kind: str, lr: float, base_folder: Path, tokenizer, rm, prompts, evaluator, args) -> list[dict]:
    from transformers import AutoModelForCausalLM, TrainerCallback

    clock, curve = TrainingClock(), []
    budget = args.budget_minutes * 60

    class EvalAndStop(TrainerCallback):
        next_eval = evaluator.every_s

        def on_step_end(self, _args, state, control, model=None, **kwargs):
            if clock.elapsed >= self.next_eval or clock.elapsed >= budget:
                seconds = clock.pause()
                curve.append(evaluator.point(model, seconds, state.global_step * args.batch))
                print(f"  {kind} lr={lr:g} {seconds:6.0f} s  gold {curve[-1]['gold']:+.3f}  KL {curve[-1]['kl']:.2f}")
                self.next_eval += evaluator.every_s
                clock.resume()
            if clock.elapsed >= budget:
                control.should_training_stop = True

    model = AutoModelForCausalLM.from_pretrained(base_folder, local_files_only=True, use_safetensors=True)
    with tempfile.TemporaryDirectory(prefix=f"{kind}_") as tmp:
        config = trl_trainers.rl_config(kind, tmp, tokenizer, learning_rate=lr, beta=args.beta, batch_size=args.batch,
                               num_generations=args.num_generations, max_steps=1_000_000, seed=args.seed)
        trainer = trl_trainers.rl_trainer(kind, model, tokenizer, rm, prompts, config, callbacks=[EvalAndStop()])
        curve.append(evaluator.point(model, 0.0, 0))
        print(f"{kind} lr={lr:g}: {args.batch // args.num_generations} prompts x {args.num_generations} "
              "completions per step")
        clock.resume()
        trainer.train()
    if curve[-1]["samples"] != trainer.state.global_step * args.batch:  # not evaluated at the very end already
        curve.append(evaluator.point(model, clock.spent, trainer.state.global_step * args.batch))
    return curve


def time_to_reach(curve: list[dict], gold: float) -> dict | None:
    """The first evaluation point of ``curve`` at or above ``gold`` (None: never)."""
    return next((p for p in curve if p["gold"] >= gold), None)


def trl_learning_rates(kind: str, args) -> list[float]:
    """The learning rates to run TRL's ``kind`` at: ``--grpo-lrs`` for GRPO when given, else ``--trl-lrs``."""
    rates = args.grpo_lrs if kind == "grpo" and args.grpo_lrs else args.trl_lrs
    return [float(x) for x in rates.split(",")]


def run_seed(seed: int, base, base_folder: Path, tokenizer, rm, prompts, evaluator, args) -> dict[str, list[dict]]:
    """Every method and setting once, with this seed (ours: the trainer's seed; TRL: its config's)."""
    args.seed = seed
    torch.manual_seed(seed)
    runs: dict[str, list[dict]] = {}
    methods = args.methods.split(",")
    if "ours" in methods:
        print("ours (LM-PPO)")
        runs["ours"] = run_ours(base, tokenizer, rm, prompts, evaluator, args)
        for name, overrides in parse_ours_configs(args.ours_configs).items():
            print(name)
            runs[name] = run_ours(base, tokenizer, rm, prompts, evaluator, args, overrides)
    for kind in ("rloo", "grpo"):
        if kind in methods:
            for lr in trl_learning_rates(kind, args):
                runs[f"{kind} lr={lr:g}"] = run_trl(kind, lr, base_folder, tokenizer, rm, prompts, evaluator, args)
    print(f"\n{'run':>24} {'final gold':>14} {'KL':>7} {'train s':>8}")
    for name, curve in runs.items():
        p = curve[-1]
        print(f"{name:>24} {p['gold']:+.3f} ± {p['gold_se']:.3f} {p['kl']:7.2f} {p['seconds']:8.0f}")
    return runs


def curves_over_seeds(runs: dict[str, dict[str, list[dict]]]) -> dict[str, list[dict]]:
    """Gold and KL against training time over the seeds: for each run, its k-th evaluation's seconds, gold and KL
    (median and range over the seeds), for every k that all seeds reached. Evaluations fall every ``--eval-every``
    seconds of training, so the k-th ones of different seeds are at nearly the same time (their seconds' range
    says how nearly). A point repeated at the end (files written before that was fixed) is read once."""
    def distinct(curve: list[dict]) -> list[dict]:
        return [p for i, p in enumerate(curve) if i == 0 or p["samples"] != curve[i - 1]["samples"]]

    curves = {}
    for name in next(iter(runs.values())):
        per_seed = [distinct(seed_runs[name]) for seed_runs in runs.values()]
        curves[name] = [{key: over_seeds([c[k][key] for c in per_seed]) for key in ("seconds", "gold", "kl")}
                        for k in range(min(len(c) for c in per_seed))]
    return curves


def summarise(runs: dict[str, dict[str, list[dict]]]) -> dict:
    """Medians and spread over seeds of each run's final gold, KL and samples, and of its gold and KL against
    training time (:func:`curves_over_seeds`); the best RLOO learning rate (by median final gold); and for each run
    of ours, per seed, when it first reached RLOO's *median* final gold, with the KL there, and its median over
    seeds against RLOO's median time (the ratio; None if any seed never did)."""
    names = list(next(iter(runs.values())))
    finals = {name: {key: over_seeds([seed_runs[name][-1][key] for seed_runs in runs.values()])
                     for key in ("gold", "kl", "samples", "seconds")} for name in names}
    curves = curves_over_seeds(runs)
    summary: dict = {"seeds": len(runs), "final": finals, "curves": curves}
    print(f"\nover {len(runs)} seeds: median gold (KL) at each evaluation, by median training seconds")
    for name, curve in curves.items():
        print(f"{name:>24} " + "  ".join(f"{p['seconds']['median']:.0f} s {p['gold']['median']:+.3f} "
                                         f"({p['kl']['median']:.1f})" for p in curve))
    print(f"\nover {len(runs)} seeds: median (min to max) of the final point")
    for name, f in finals.items():
        print(f"{name:>24} gold {f['gold']['median']:+.3f} ({f['gold']['min']:+.3f} to {f['gold']['max']:+.3f})  "
              f"KL {f['kl']['median']:.1f} ({f['kl']['min']:.1f} to {f['kl']['max']:.1f})  "
              f"{f['samples']['median']:.0f} samples")
    rloo = [n for n in names if n.startswith("rloo")]
    if "ours" not in names or not rloo:
        return summary
    best = max(rloo, key=lambda n: finals[n]["gold"]["median"])
    target, their_time = finals[best]["gold"]["median"], finals[best]["seconds"]["median"]
    summary.update(best_rloo=best, target_gold=target, rloo_seconds=their_time, rloo_kl=finals[best]["kl"]["median"])
    print(f"best RLOO: {best}, median final gold {target:+.3f} after {their_time:.0f} s, KL {finals[best]['kl']['median']:.1f}")
    for name in (n for n in names if n.startswith("ours")):
        reached = [time_to_reach(seed_runs[name], target) for seed_runs in runs.values()]
        per_seed = [None if p is None else {"seconds": p["seconds"], "kl": p["kl"]} for p in reached]
        ok = [p for p in per_seed if p is not None]
        ratio = statistics.median(p["seconds"] for p in ok) / their_time if len(ok) == len(per_seed) else None
        summary.setdefault("ours", {})[name] = {
            "reached": per_seed, "ratio": ratio,
            "kl_when_reached": over_seeds([p["kl"] for p in ok]) if ok else None}
        print(f"  {name}: reached it in {len(ok)} of {len(per_seed)} seeds "
              + ("" if not ok else f"(median {statistics.median(p['seconds'] for p in ok):.0f} s, KL there "
                 f"{statistics.median(p['kl'] for p in ok):.1f})") + ("" if ratio is None else f": ratio {ratio:.2f}"))
    return summary


def main(argv: list[str] | None = None) -> dict:
    """Run every method within the budget; returns (and writes to ``--out``) every curve and the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-minutes", type=float, default=6.0, help="training time per run")
    parser.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between evaluations")
    parser.add_argument("--batch", type=int, default=32, help="responses sampled per step, for every method")
    parser.add_argument("--num-generations", type=int, default=4, help="TRL: completions per prompt (the group)")
    parser.add_argument("--beta", type=float, default=0.05)
    parser.add_argument("--trl-lrs", default="1e-5,3e-5,1e-4,3e-4")
    parser.add_argument("--grpo-lrs", default="", help="GRPO's own learning rates (default: --trl-lrs)")
    parser.add_argument("--methods", default="ours,rloo,grpo")
    parser.add_argument("--ours-configs", default="",
                        help="other settings of ours to time, 'epochs,minibatch,lr' separated by ';' "
                             "(default: only the course's, 4 epochs, minibatch 8, lr 5e-5)")
    parser.add_argument("--eval-prompts", type=int, default=64)
    parser.add_argument("--samples-per-prompt", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", default="", help="several seeds, e.g. 0,1,2 (default: --seed alone)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--reward-model", type=Path, default=None)
    parser.add_argument("--prompts-dir", type=Path, default=None, help="default: the shipped prompts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the script works")
    parser.add_argument("--summarise-only", action="store_true",
                        help="train nothing: re-read --out's runs and rewrite its summary (after a summary change)")
    args = parser.parse_args(argv)
    if args.summarise_only:
        if not args.out.is_file():
            parser.error(f"--summarise-only re-reads the runs of {args.out}, which does not exist: pass --out with a "
                         "results file of this script, or run the benchmark first")
        output = read_results(args.out)
        output["summary"] = summarise(output["runs"])
        write_results(args.out, output)
        print(f"rewrote the summary of {args.out}")
        return output
    if args.smoke:
        args.budget_minutes, args.eval_every, args.trl_lrs, args.eval_prompts = 0.2, 5.0, "1e-4", 8
        args.batch, args.samples_per_prompt = 8, 1

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transformers.utils.logging.disable_progress_bar()  # per-load "Loading weights" bars
    profile = get_profile("quick")
    base, tokenizer = load_base_model(profile, source=args.base_model)
    base_folder = Path(args.base_model or base.name_or_path)
    rm = load_reward_model(prefer_learner=False, tokenizer=tokenizer, folder=args.reward_model)
    ref = generation.frozen_copy(base)
    prompts = load_prompts("train", args.prompts_dir)
    heldout = load_prompts("heldout", args.prompts_dir)[: args.eval_prompts]
    evaluator = Evaluator(ref, tokenizer, heldout, rm.score_samples, args.eval_every, args.samples_per_prompt)

    seeds = [int(x) for x in (args.seeds or str(args.seed)).split(",")]
    runs: dict[str, dict[str, list[dict]]] = {}
    for seed in seeds:
        print(f"=== seed {seed}")
        runs[str(seed)] = run_seed(seed, base, base_folder, tokenizer, rm, prompts, evaluator, args)
    summary = summarise(runs)
    output = results_file(__file__, args, summary=summary, runs=runs)
    write_results(args.out, output)
    print(f"wrote {args.out}")
    return output


if __name__ == "__main__":
    main()
