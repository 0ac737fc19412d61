"""One evaluator for every policy in the course (PPO, best-of-N, DPO, GRPO, RLOO ...).

Every policy is measured the same way: fresh samples on the fixed held-out prompts with a fixed seed
(on a forked generator, so the caller's random stream is left untouched: :func:`seeded_rng`), at the
course's sampling temperature, and

- **gold**: the hidden gold score (``rlhf_utils.gold``), mean ± standard error;
- **KL**: sequence-level KL(π ‖ π_ref), the sum over response tokens of log π − log π_ref on the
  policy's own samples (the k1 estimator; its mean is the KL, single samples can be negative), mean ± s.e.;
- **reward**: the reward model's score, mean ± s.e. (when a reward function is given);
- **distinct-n**: distinct word n-grams / all word n-grams over all responses (diversity);
- **length**: mean words per response;
- **win-rate**: how often the policy's response has a higher gold score than the base model's response
  to the same prompt (ties count ½), ± s.e.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .gold import gold_scores
from .generation import RewardFn, Samples, forbidden_token_ids, response_logprobs, sample
from .lm_task import RESPONSE_LENGTH, TEMPERATURE
from .models import check_model_tokenizer


@dataclass
class EvalResult:
    """The numbers of one policy on the held-out prompts (``responses`` kept for win-rates and tables)."""

    name: str
    n: int
    gold_mean: float
    gold_se: float
    kl_mean: float
    kl_se: float
    reward_mean: float = float("nan")
    reward_se: float = float("nan")
    distinct_1: float = float("nan")
    distinct_2: float = float("nan")
    length_words: float = float("nan")
    win_rate: float = float("nan")
    win_rate_se: float = float("nan")
    prompts: list[str] = field(default_factory=list, repr=False)
    responses: list[str] = field(default_factory=list, repr=False)
    gold: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, float | str]:
        """The scalar fields, for a table row or a JSON results file."""
        return {k: v for k, v in asdict(self).items() if not isinstance(v, list)}

    def __str__(self) -> str:
        return (f"{self.name}: gold {self.gold_mean:+.3f} ± {self.gold_se:.3f} | KL {self.kl_mean:.2f} ± {self.kl_se:.2f} nats"
                f" | reward {self.reward_mean:+.2f} | distinct-2 {self.distinct_2:.2f} | win-rate {self.win_rate:.2f}")


def standard_error(values: Sequence[float] | np.ndarray) -> float:
    """Standard error of the mean: sample std / sqrt(n)."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct word n-grams divided by all word n-grams, over all ``texts`` (1 = no repetition)."""
    grams = [tuple(words[i : i + n]) for words in (t.lower().split() for t in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def win_rate(gold: Sequence[float], base_gold: Sequence[float]) -> tuple[float, float]:
    """Share of prompts where the policy beats the base model on gold (ties ½), with its standard error."""
    gold, base_gold = np.asarray(gold), np.asarray(base_gold)
    if gold.shape != base_gold.shape:
        raise ValueError(f"win_rate needs one base response per policy response: got {gold.shape} and {base_gold.shape}.")
    wins = (gold > base_gold) + 0.5 * (gold == base_gold)
    return float(wins.mean()), standard_error(wins)


@contextmanager
def seeded_rng(seed: int, model: torch.nn.Module | None = None) -> Iterator[None]:
    """Run the block on torch's generator seeded with ``seed``, then restore the caller's generator state.

    ``torch.random.fork_rng`` saves the CPU generator (and the model's CUDA device's, if it is on one) and
    puts it back on exit, so what the block draws is fixed by ``seed`` alone and what the caller draws
    next does not depend on the block. (Only torch's generator: the evaluators draw nothing from
    ``random`` or ``numpy``.)
    """
    device = next(model.parameters()).device if model is not None else torch.device("cpu")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def evaluate_policy(
    lm: PreTrainedModel,
    ref_lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    name: str = "policy",
    reward_fn: RewardFn | None = None,
    gold_fn: Callable[[Sequence[str], Sequence[str]], np.ndarray] = gold_scores,
    base: EvalResult | None = None,
    samples_per_prompt: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    response_length: int = RESPONSE_LENGTH,
    temperature: float = TEMPERATURE,
    sampler: Callable[[Sequence[str]], Samples] | None = None,
) -> EvalResult:
    """Evaluate a policy on ``prompts`` (use ``lm_task.load_prompts("heldout")``).

    ``base`` is the base model's own result on the same prompts, for the win-rate. ``sampler``
    replaces plain sampling from ``lm`` (best-of-N, for instance, samples N and keeps the best); its
    samples' log-probs are still scored under ``lm`` and ``ref_lm`` for the KL.

    The samples are drawn from torch's generator seeded with ``seed`` inside ``torch.random.fork_rng``:
    the same policy gives the same numbers every time, and the caller's random stream is left as it
    was, so evaluating in the middle of a training run does not change what the run draws next.
    """
    if len(prompts) == 0:
        raise ValueError("evaluate_policy got an empty prompt set: pass lm_task.load_prompts('heldout').")
    check_model_tokenizer(lm, tokenizer, "policy")
    check_model_tokenizer(ref_lm, tokenizer, "reference model")
    lm.eval()
    forbidden = forbidden_token_ids(tokenizer)
    all_prompts = [p for p in prompts for _ in range(samples_per_prompt)]
    responses, kls, rewards = [], [], []
    with seeded_rng(seed, lm):
        for start in range(0, len(all_prompts), batch_size):
            chunk = all_prompts[start : start + batch_size]
            samples = sampler(chunk) if sampler else sample(lm, tokenizer, chunk, response_length, temperature)
            logprobs = response_logprobs(lm, samples, temperature, forbidden)
            ref_logprobs = response_logprobs(ref_lm, samples, temperature, forbidden)
            kls.extend((logprobs - ref_logprobs).sum(-1).tolist())
            responses.extend(samples.responses)
            if reward_fn is not None:
                rewards.extend(torch.as_tensor(reward_fn(samples)).float().reshape(-1).tolist())
    gold = np.asarray(gold_fn(responses, all_prompts), dtype=float)
    if not np.all(np.isfinite(gold)) or (rewards and not np.all(np.isfinite(rewards))):
        raise ValueError(f"{name}: non-finite gold or reward scores; check the reward model and the policy.")
    result = EvalResult(
        name=name, n=len(responses), gold_mean=float(gold.mean()), gold_se=standard_error(gold),
        kl_mean=float(np.mean(kls)), kl_se=standard_error(kls),
        distinct_1=distinct_n(responses, 1), distinct_2=distinct_n(responses, 2),
        length_words=float(np.mean([len(r.split()) for r in responses])),
        prompts=all_prompts, responses=responses, gold=gold.tolist(),
    )
    if rewards:
        result.reward_mean, result.reward_se = float(np.mean(rewards)), standard_error(rewards)
    if base is not None:
        if base.prompts != all_prompts:
            raise ValueError("The base result was computed on other prompts: evaluate both on the same prompt set.")
        result.win_rate, result.win_rate_se = win_rate(gold, base.gold)
    return result
