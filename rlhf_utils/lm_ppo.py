"""PPO for language models - step 4 of RLHF (notebook 05).

Each generated token is an action, the prompt plus the tokens so far is the state, and one response
is an episode. The reward of a response is the reward model's score at its last token, minus a
per-token KL penalty that keeps the policy near the reference (pretrained) model:

    r_t = -β · (log π_θ(a_t|s_t) - log π_ref(a_t|s_t))  +  [t = T] · RM(x, y)          (Ziegler et al. 2019)

which makes the expected return E[RM(x, y)] - β · KL(π_θ(·|x) ‖ π_ref(·|x)), the RLHF objective.
Advantages come from GAE (γ = 1, λ = 0.95) and the update is PPO's clipped surrogate plus a clipped
value loss, reusing :mod:`rlhf_utils.ppo` unchanged on ``(batch, response_tokens)`` tensors.

Every implementation detail that matters is a field of :class:`LMPPOConfig` with a docstring saying
what it does, why, and where the default comes from - so notebook 05 can switch each one off.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from . import ppo
from .generation import (
    RewardFn, Samples, forbidden_token_ids, position_ids, response_logits, response_logprobs, sample, token_logprobs,
)
from .lm_task import RESPONSE_LENGTH, TEMPERATURE
from .models import check_model_tokenizer


GENERATION_SEED_STRIDE = 1_000_003
"""Iteration i of a trainer generates with seed ``LMPPOConfig.seed + GENERATION_SEED_STRIDE * i``: two runs
whose seeds differ (and are below the stride) never share an iteration's seed."""


@dataclass
class LMPPOConfig:
    """Hyperparameters and implementation details of PPO for language models.

    Sources: Ziegler et al. 2019 / OpenAI's lm-human-preferences (LHP) and its reproduction,
    Huang et al. 2024, "The N implementation details of RLHF with PPO" (N-details).
    """

    response_length: int = RESPONSE_LENGTH
    """Tokens per response. Fixed length (no stopping at end-of-text), as in LHP: every episode has
    the same horizon and the reward is always read at the same place."""
    temperature: float = TEMPERATURE
    """Sampling temperature. Training log-probs divide the logits by the same value (N-details:
    otherwise the ratio is not 1 at the start of an update and the KL is wrong)."""
    batch_size: int = 32
    """Prompts (and responses) per iteration (rollout size)."""
    minibatch_size: int = 8
    """Responses per gradient step."""
    ppo_epochs: int = 4
    """Passes over each rollout (LHP: 4)."""
    learning_rate: float = 5e-5
    """Adam step size. LHP used 1.41e-5 for the 124M GPT-2; a 6M model takes a larger one."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the planned iterations (LHP)."""
    adam_eps: float = 1e-5
    """Adam's epsilon (LHP and N-details use 1e-5 rather than PyTorch's 1e-8)."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm (None: no clipping)."""
    clip_eps: float | None = 0.2
    """PPO ratio clip ε (None: the unclipped surrogate)."""
    value_clip_eps: float | None = 0.2
    """Value clipping range, in reward units (LHP: 0.2; None: plain squared error)."""
    vf_coef: float = 0.1
    """Weight of the value loss in the shared-trunk loss (LHP: 0.1, so the value head does not
    pull the language model's features around)."""
    entropy_coef: float = 0.0
    """Entropy bonus weight. LHP uses none: the KL penalty already keeps the policy from collapsing."""
    gamma: float = 1.0
    """Discount. 1 (LHP): the undiscounted return Σ_t r_t is exactly RM(x, y) - β·KL, the RLHF
    objective; γ < 1 would optimise another one. A response is a short fixed-length episode, so
    nothing needs discounting to stay bounded."""
    lam: float = 0.95
    """GAE λ (LHP: 0.95): A_t = Σ_l (γλ)^l δ_{t+l} trades bias for variance in the advantage estimate
    (with an exact V every λ has the same expectation). While V ≈ 0 it shrinks the score reaching
    token t by λ^(T-t): 0.95²³ ≈ 0.31 for the first of 24 tokens."""
    kl_coef: float = 0.1
    """β, the KL penalty coefficient (the starting value when ``adaptive_kl``)."""
    adaptive_kl: bool = True
    """Adapt β to keep the KL near ``kl_target`` (Ziegler et al. 2019, LHP)."""
    kl_target: float = 4.0
    """Target sequence KL (nats) for the adaptive controller (LHP used 6 for sentiment; notebook 05's run
    passes 5 to :func:`course_config`)."""
    kl_horizon: int = 10_000
    """Controller horizon in samples: how fast β moves (LHP: 10,000)."""
    whiten_advantages: bool = True
    """Normalise advantages to mean 0 / std 1 over the rollout (N-details)."""
    whiten_scores: bool = False
    """Normalise reward-model scores over each rollout. Off: the shipped reward model is already
    normalised (mean 0, std 1 on base-model samples, as in LHP), so scores keep their meaning."""
    dropout_off: bool = True
    """Keep dropout off in the policy during updates (GPT-2 configs default to 0.1). On, the
    ratio is not 1 at the start of an update - the sanity check below warns."""
    check_sampling_logprobs: bool = True
    """Compare the rollout log-probs with the distribution `generate` actually sampled from; a gap
    means temperature, padding or position ids disagree between sampling and training."""
    sanity_tolerance: float = 1e-3
    """Largest |log ratio| tolerated on the first minibatch of an iteration before warning."""
    seed: int = 0
    """Seeds prompt sampling, the minibatch order and generation: iteration i samples its responses from
    torch's generator seeded with ``seed + GENERATION_SEED_STRIDE * i``, forked from the global one, so what
    else runs in between (an evaluation, another model's sampling) does not change the training draw."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting that is out of range and what it may be.

        Called when a config is made and again when a trainer starts (a field may have been changed).
        """
        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise ValueError(f"LMPPOConfig.{name} must be a finite number, got {value!r}")
            return value

        def count(name: str) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LMPPOConfig.{name} must be a whole number >= 1, got {value!r}")
            return value

        for name in ("response_length", "batch_size", "minibatch_size", "ppo_epochs", "kl_horizon"):
            count(name)
        if self.batch_size % self.minibatch_size:
            raise ValueError(f"LMPPOConfig.batch_size ({self.batch_size}) must be a multiple of minibatch_size "
                             f"({self.minibatch_size}), so every minibatch has the same size.")
        rules = {  # name: (test, what is allowed)
            "temperature": (lambda v: v > 0, "> 0"), "learning_rate": (lambda v: v > 0, "> 0"),
            "adam_eps": (lambda v: v > 0, "> 0"), "kl_target": (lambda v: v > 0, "> 0 (the controller divides by it)"),
            "kl_coef": (lambda v: v >= 0, ">= 0"), "vf_coef": (lambda v: v >= 0, ">= 0"),
            "entropy_coef": (lambda v: v >= 0, ">= 0"), "gamma": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "lam": (lambda v: 0 <= v <= 1, "in [0, 1]"), "sanity_tolerance": (lambda v: v > 0, "> 0"),
        }
        for name, (ok, allowed) in rules.items():
            if not ok(number(name)):
                raise ValueError(f"LMPPOConfig.{name} must be {allowed}, got {getattr(self, name)!r}")
        for name in ("max_grad_norm", "clip_eps", "value_clip_eps"):
            if getattr(self, name) is not None and not number(name) > 0:
                raise ValueError(f"LMPPOConfig.{name} must be > 0, or None to switch it off; got {getattr(self, name)!r}")


def course_config(profile, **overrides) -> LMPPOConfig:
    """The course's PPO settings for a profile (notebook 05 and the scripts that reproduce its runs).

    ``quick``: the 6M-parameter course GPT-2 on a CPU; ``full``: the 124M ``gpt2`` with the
    lm-human-preferences learning rate and a larger batch.
    """
    # The KL controller's horizon scales with the run: LHP's 10,000 samples were ~1% of a million-sample run,
    # a quick run sees ~2,000, so 10,000 would leave β where it started (it moves by at most 20%·n/horizon per step).
    settings = dict(batch_size=profile.pick(quick=32, full=64), minibatch_size=8,
                    learning_rate=profile.pick(quick=5e-5, full=1.41e-5), kl_horizon=profile.pick(quick=200, full=10_000))
    settings.update(overrides)
    return LMPPOConfig(**settings)


def parse_update_settings(text: str) -> dict[str, dict]:
    """``"4,8,5e-5;2,16,1e-4"`` -> ``LMPPOConfig`` overrides of the update (PPO epochs, minibatch size, learning
    rate), one per item, by a name such as ``e2 mb16 lr0.0001``: for the benchmarks that compare update settings.
    The update is most of an iteration's time, and its number of optimizer steps sets how much each sample teaches."""
    settings = {}
    for item in filter(None, (x.strip() for x in text.split(";"))):
        try:
            epochs, minibatch, lr = item.split(",")
            overrides = {"ppo_epochs": int(epochs), "minibatch_size": int(minibatch), "learning_rate": float(lr)}
        except ValueError:
            raise ValueError(f"'{item}' is not 'epochs,minibatch,lr' (e.g. 2,16,1e-4)") from None
        settings[f"e{epochs} mb{minibatch} lr{float(lr):g}"] = overrides
    return settings


# --------------------------------------------------------------------------- model
class PolicyWithValueHead(nn.Module):
    """A causal LM with a scalar value head on its last hidden state (a shared trunk).

    Sharing the trunk halves the compute and memory of a separate value model; the price is that
    value-loss gradients also move the language model, which is why ``vf_coef`` is small. The head
    is zero-initialised, so the first value estimates are exactly 0 rather than noise from a random
    head. The first advantages are then not the rewards themselves: with V = 0, δ_t = r_t and GAE
    gives A_t = Σ_l (γλ)^l r_{t+l}, the λ-discounted reward-to-go (whitened afterwards). With γ = 1,
    λ = 0.95 and the score on the last of 24 tokens, the first token gets 0.95²³ ≈ 0.31 of it.
    """

    def __init__(self, lm: PreTrainedModel):
        super().__init__()
        self.lm = lm
        self.value_head = nn.Linear(lm.config.hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    @classmethod
    def from_base(cls, lm: PreTrainedModel) -> PolicyWithValueHead:
        """A trainable policy from a *copy* of ``lm`` (the base model itself stays untouched as π_ref)."""
        copied = copy.deepcopy(lm).eval()
        copied.requires_grad_(True)
        return cls(copied).to(next(lm.parameters()).device)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` for left-padded ``input_ids``."""
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids(attention_mask),
                      output_hidden_states=True)
        return out.logits, self.value_head(out.hidden_states[-1]).squeeze(-1)



def kl_estimators(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sequence estimates of KL(π ‖ π_ref) from tokens sampled from π (sum over the response).

    With log r = log π_ref(a|s) - log π(a|s) (Schulman, "Approximating KL divergence", 2020):
    - k1 = -log r: unbiased, but a single sample can be negative (π_ref may like the sampled token more);
    - k2 = ½ (log r)²: always ≥ 0, biased, low variance;
    - k3 = (r - 1) - log r: always ≥ 0 and unbiased, low variance.
    k1 is what the per-token penalty uses (its expectation is the KL in the RLHF objective).
    Used as a loss term on fixed samples (GRPO), k3's gradient (1 - r)·∇log π has expectation
    ∇ KL(π_ref ‖ π), the forward KL, not the gradient of the KL(π ‖ π_ref) its value estimates.
    """
    log_r = ref_logprobs - logprobs
    return {"k1": (-log_r).sum(-1), "k2": (0.5 * log_r**2).sum(-1), "k3": (torch.expm1(log_r) - log_r).sum(-1)}


# --------------------------------------------------------------------------- KL control
class FixedKLController:
    """A constant β."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current_kl: float, n_samples: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """β ← β · (1 + clip(KL / target - 1, -0.2, 0.2) · n / horizon)   (Ziegler et al. 2019, eq. 2).

    β grows when the measured KL is above target and shrinks below it, proportionally and slowly:
    at most by 0.2·n/horizon per update, whatever the error, and only in response to the KL already
    measured. A run starts at KL 0, so β first falls; the KL can overshoot the target before β has
    climbed back (notebook 05, section 3.2).
    """

    def __init__(self, kl_coef: float, target: float, horizon: int):
        self.value, self.target, self.horizon = kl_coef, target, horizon

    def update(self, current_kl: float, n_samples: int) -> None:
        error = float(np.clip(current_kl / self.target - 1.0, -0.2, 0.2))
        self.value *= 1.0 + error * n_samples / self.horizon


# --------------------------------------------------------------------------- the algorithm
class NonFiniteRewardError(RuntimeError):
    """A reward, log-prob or loss became NaN or infinite: training stops instead of learning from it."""


@dataclass
class LMRollout:
    """One iteration's data: samples plus everything PPO needs about them, all ``(B, L)`` or ``(B,)``."""

    samples: Samples
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    scores: torch.Tensor
    rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def per_token_rewards(scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """r_t = -β (log π - log π_ref) at every token, plus the score at the last token."""
    rewards = -kl_coef * (logprobs - ref_logprobs)
    rewards[:, -1] += scores
    return rewards


def episode_flags(rewards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``terminated`` and ``dones`` for fixed-length responses: the episode ends at the last token."""
    flags = torch.zeros_like(rewards, dtype=torch.bool)
    flags[:, -1] = True
    return flags, flags


class LMPPOTrainer:
    """Runs PPO iterations on a policy with a value head against a reward function.

    ``policy`` is trained; ``ref_model`` is the frozen π_ref (a copy of the policy's LM before
    training); ``reward_fn`` scores samples; ``gold_fn`` (optional) is only logged, never trained on.
    """

    def __init__(
        self,
        policy: PolicyWithValueHead,
        ref_model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        reward_fn: RewardFn,
        config: LMPPOConfig | None = None,
        total_iterations: int | None = None,
        gold_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
    ):
        self.config = cfg = config or LMPPOConfig()
        cfg.validate()
        check_model_tokenizer(policy.lm, tokenizer, "policy")
        check_model_tokenizer(ref_model, tokenizer, "reference model")
        self.policy, self.ref_model, self.tokenizer = policy, ref_model, tokenizer
        self.reward_fn, self.gold_fn = reward_fn, gold_fn
        self.forbidden = forbidden_token_ids(tokenizer)
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps)
        self.kl_controller = (
            AdaptiveKLController(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon) if cfg.adaptive_kl
            else FixedKLController(cfg.kl_coef)
        )
        self.total_iterations = total_iterations
        self.iteration = 0
        self.rng = np.random.default_rng(cfg.seed)
        self.history: list[dict[str, float]] = []

    # -- rollout ----------------------------------------------------------------------------
    @torch.no_grad()
    def rollout(self, prompts: Sequence[str]) -> LMRollout:
        """Sample responses, score them, and compute per-token rewards, advantages and returns."""
        cfg = self.config
        device = next(self.policy.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(cfg.seed + GENERATION_SEED_STRIDE * self.iteration)  # see LMPPOConfig.seed
            samples = sample(self.policy.lm, self.tokenizer, prompts, cfg.response_length, cfg.temperature,
                             keep_sampled_logprobs=cfg.check_sampling_logprobs)
        self.policy.eval()
        logprobs, values, _ = self._evaluate(samples)
        ref_logprobs = response_logprobs(self.ref_model, samples, cfg.temperature, self.forbidden)
        scores = torch.as_tensor(self.reward_fn(samples), dtype=torch.float32, device=logprobs.device)
        if scores.shape != (len(samples.responses),):
            raise ValueError(
                f"reward_fn must return one score per response, shape ({len(samples.responses)},); got shape "
                f"{tuple(scores.shape)}. A single number or a (batch, tokens) tensor would be broadcast over "
                "the batch and train on the wrong rewards."
            )
        self._require_finite(scores=scores, logprobs=logprobs, ref_logprobs=ref_logprobs, values=values)
        if cfg.whiten_scores:
            scores = (scores - scores.mean()) / (scores.std() + 1e-8)
        rewards = per_token_rewards(scores, logprobs, ref_logprobs, self.kl_controller.value)
        next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
        terminated, dones = episode_flags(rewards)
        advantages, returns = ppo.gae(rewards, values, next_values, terminated, dones, gamma=cfg.gamma, lam=cfg.lam)
        if cfg.whiten_advantages:
            advantages = ppo.normalize_advantages(advantages)
        return LMRollout(samples, logprobs, ref_logprobs, values, scores, rewards, advantages, returns)

    def _response_logits(self, logits: torch.Tensor, samples: Samples) -> torch.Tensor:
        return response_logits(logits, samples.query_ids.shape[1], samples.response_ids.shape[1],
                               self.config.temperature, self.forbidden)

    def _evaluate(self, samples: Samples, rows=slice(None)):
        """Log-probs, values and response logits of the current policy on (a minibatch of) samples."""
        logits, values = self.policy(samples.input_ids[rows], samples.attention_mask[rows])
        resp_logits = self._response_logits(logits, samples)
        q, n = samples.query_ids.shape[1], samples.response_ids.shape[1]
        return token_logprobs(resp_logits, samples.response_ids[rows]), values[:, q - 1 : q - 1 + n], resp_logits

    def _require_finite(self, **tensors: torch.Tensor) -> None:
        for name, x in tensors.items():
            if not torch.isfinite(x).all():
                raise NonFiniteRewardError(
                    f"Iteration {self.iteration}: {name} contains NaN or infinite values; training stopped "
                    "before learning from them. Check the reward function and lower the learning rate."
                )

    # -- update -----------------------------------------------------------------------------
    def update(self, rollout: LMRollout) -> dict[str, float]:
        """Several epochs of clipped-surrogate minibatch updates on one rollout."""
        cfg = self.config
        samples = rollout.samples
        self._set_learning_rate()
        self.policy.train(not cfg.dropout_off)
        stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")}
        first_log_ratio = None
        n = samples.response_ids.shape[0]
        for epoch in range(cfg.ppo_epochs):
            order = torch.as_tensor(self.rng.permutation(n))
            for start in range(0, n, cfg.minibatch_size):
                rows = order[start : start + cfg.minibatch_size]
                logprobs, values, resp_logits = self._evaluate(samples, rows)
                old_logprobs = rollout.logprobs[rows]
                if first_log_ratio is None:
                    first_log_ratio = (logprobs - old_logprobs).detach()
                pg_loss = ppo.clipped_surrogate_loss(logprobs, old_logprobs, rollout.advantages[rows], clip_eps=cfg.clip_eps)
                v_loss = ppo.value_loss(values, rollout.values[rows], rollout.returns[rows], clip_eps=cfg.value_clip_eps)
                entropy = ppo.entropy_bonus(resp_logits)
                loss = pg_loss + cfg.vf_coef * v_loss - cfg.entropy_coef * entropy
                self._require_finite(loss=loss)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                stats["policy_loss"].append(pg_loss.item())
                stats["value_loss"].append(v_loss.item())
                stats["entropy"].append(entropy.item())
                stats["approx_kl"].append(ppo.approx_kl(logprobs, old_logprobs).item())
                if cfg.clip_eps is not None:
                    stats["clip_fraction"].append(ppo.clip_fraction(logprobs, old_logprobs, clip_eps=cfg.clip_eps).item())
        self.policy.eval()
        metrics = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
        metrics["first_minibatch_max_abs_log_ratio"] = float(first_log_ratio.abs().max())
        metrics["first_minibatch_approx_kl"] = float((torch.expm1(first_log_ratio) - first_log_ratio).mean())
        return metrics

    def _set_learning_rate(self) -> None:
        cfg = self.config
        frac = 1.0
        if cfg.anneal_lr and self.total_iterations:
            frac = max(0.0, 1.0 - self.iteration / self.total_iterations)
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate * frac

    # -- one iteration ------------------------------------------------------------------------
    def step(self, prompts: Sequence[str]) -> dict[str, float]:
        """Rollout, update, sanity checks, KL control; returns this iteration's metrics."""
        cfg = self.config
        started = time.perf_counter()
        rollout = self.rollout(prompts)
        metrics = self.update(rollout)
        kls = {k: v.mean().item() for k, v in kl_estimators(rollout.logprobs, rollout.ref_logprobs).items()}
        metrics.update(
            iteration=self.iteration,
            score_mean=rollout.scores.mean().item(),
            score_std=rollout.scores.std().item(),
            kl=kls["k1"], kl_k2=kls["k2"], kl_k3=kls["k3"],
            kl_coef=self.kl_controller.value,
            explained_variance=float(ppo.explained_variance(rollout.values, rollout.returns)),
        )
        if rollout.samples.sampled_logprobs is not None:
            gap = (rollout.samples.sampled_logprobs - rollout.logprobs).abs().max().item()
            metrics["sampling_logprob_gap"] = gap
            if gap > cfg.sanity_tolerance:
                self._warn(f"the rollout log-probs differ from the sampling distribution by up to {gap:.3g} nats "
                           "(temperature, forbidden tokens, padding or position ids disagree between sampling and scoring)")
        if metrics["first_minibatch_max_abs_log_ratio"] > cfg.sanity_tolerance:
            self._warn(f"on the first minibatch the ratio π_θ/π_old is not 1 (max |log ratio| = "
                       f"{metrics['first_minibatch_max_abs_log_ratio']:.3g}, approx-KL {metrics['first_minibatch_approx_kl']:.3g}): "
                       "the rollout and training log-probs disagree - dropout on, temperature, padding or position ids")
        if self.gold_fn is not None:
            metrics["gold_mean"] = float(np.mean(self.gold_fn(rollout.samples.responses)))
        self.kl_controller.update(kls["k1"], len(prompts))
        metrics["seconds"] = time.perf_counter() - started
        self.history.append(metrics)
        self.iteration += 1
        self.last_rollout = rollout
        return metrics

    def sample_prompts(self, prompt_pool: Sequence[str]) -> list[str]:
        """A batch of training prompts drawn (without replacement within a batch) from the pool."""
        idx = self.rng.choice(len(prompt_pool), size=self.config.batch_size, replace=len(prompt_pool) < self.config.batch_size)
        return [prompt_pool[i] for i in idx]

    def _warn(self, message: str) -> None:
        text = f"SANITY CHECK FAILED at iteration {self.iteration}: {message}."
        print("\u26a0\ufe0f " * 3 + text)
        warnings.warn(text, RuntimeWarning, stacklevel=3)


def train(
    trainer: LMPPOTrainer,
    prompt_pool: Sequence[str],
    iterations: int,
    progress: bool = True,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Run ``iterations`` PPO iterations with a progress bar showing score, KL and gold."""
    from tqdm.auto import tqdm

    if not prompt_pool:
        raise ValueError("The prompt pool is empty: pass the training prompts (see lm_task.load_prompts()).")
    trainer.total_iterations = trainer.total_iterations or iterations
    bar = tqdm(range(iterations), desc="PPO", disable=not progress)
    for _ in bar:
        metrics = trainer.step(trainer.sample_prompts(prompt_pool))
        shown = {"score": metrics["score_mean"], "kl": metrics["kl"], "beta": metrics["kl_coef"]}
        if "gold_mean" in metrics:
            shown["gold"] = metrics["gold_mean"]
        bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()})
        if callback is not None:
            callback(metrics)
    return trainer.history


__all__ = [
    "GENERATION_SEED_STRIDE", "AdaptiveKLController", "FixedKLController", "LMPPOConfig", "LMPPOTrainer", "LMRollout", "NonFiniteRewardError",
    "PolicyWithValueHead", "course_config", "parse_update_settings", "episode_flags", "kl_estimators", "per_token_rewards", "train",
]
