"""Direct Preference Optimisation (Rafailov et al. 2023): RLHF without a reward model or sampling (notebook 06).

The RLHF objective ``max_π E[r(x, y)] − β · KL(π(·|x) ‖ π_ref(·|x))`` has the closed-form optimum
``π*(y|x) = π_ref(y|x) · exp(r(x, y)/β) / Z(x)``. Solved for the reward,

    r(x, y) = β · log π*(y|x)/π_ref(y|x) + β · log Z(x)          (the *implicit reward*),

and put into the Bradley–Terry likelihood of a comparison, ``Z(x)`` cancels:

    L_DPO = −log σ( β · [log π(y_w|x)/π_ref(y_w|x) − log π(y_l|x)/π_ref(y_l|x)] ).

Sequence log-probs are sums over the response tokens, scored as the policy samples them (temperature
and the forbidden end-of-text/pad tokens of :mod:`rlhf_utils.lm_ppo`), so a DPO policy is evaluated
on the same footing as PPO's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .feedback import PreferencePair
from .generation import forbidden_token_ids, position_ids, response_logits
from .lm_task import TEMPERATURE, encode_prompts
from .reward_model import pad_right


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean DPO loss of a batch of pairs from sequence log-probs ``(B,)``; also the implicit rewards.

    Returns ``(loss, chosen_rewards, rejected_rewards)`` with ``reward = β · (log π − log π_ref)``
    (detached) and ``loss = −mean log σ(chosen_reward − rejected_reward)``.
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return loss, chosen.detach(), rejected.detach()


def implicit_reward_accuracy(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
                             ref_rejected: torch.Tensor) -> float:
    """Share of pairs whose DPO implicit reward ``β · (log π − log π_ref)`` prefers the chosen response.

    From sequence log-probs ``(B,)``. β > 0 does not change which reward is larger, so it is not an
    argument. An equal reward (a policy that still equals the reference) is no preference and counts as
    wrong, as in :func:`rlhf_utils.reward_model.pairwise_accuracy`. The reference of notebook 06's exercise 3.
    """
    preferred = (policy_chosen - ref_chosen) > (policy_rejected - ref_rejected)
    return preferred.float().mean().item()


def sequence_logprobs(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                      responses: Sequence[str], temperature: float = TEMPERATURE) -> torch.Tensor:
    """``log π(response | prompt)`` summed over the response tokens: ``(B,)``, with gradients.

    Prompts are left-padded ``<|endoftext|> prompt`` (as in sampling); responses are re-tokenised
    and right-padded, the padding masked out of the sum (a causal model's earlier tokens never see it).
    """
    device = next(lm.parameters()).device
    query_ids, query_mask = encode_prompts(tokenizer, list(prompts), device)
    rows = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    response_ids, response_mask = (t.to(device) for t in pad_right(rows, tokenizer.pad_token_id))
    width = response_ids.shape[1]
    input_ids = torch.cat([query_ids, response_ids], dim=1)
    attention_mask = torch.cat([query_mask, torch.ones_like(response_mask)], dim=1)
    logits = lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids(attention_mask)).logits
    cut = response_logits(logits, query_ids.shape[1], width, temperature, forbidden_token_ids(tokenizer))
    per_token = torch.log_softmax(cut, dim=-1).gather(-1, response_ids.unsqueeze(-1)).squeeze(-1)
    return (per_token * response_mask).sum(-1)


@dataclass
class DPOTrainingConfig:
    """Hyperparameters shared by the from-scratch DPO loop and the TRL run."""

    beta: float = 0.1
    """Strength of the implicit KL constraint: small β lets the policy move further (TRL's default 0.1)."""
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    """AdamW step size, constant after a short warm-up. TRL's default (1e-6) is tuned for billion-parameter models."""
    warmup_steps: int = 10
    max_grad_norm: float | None = 1.0
    seed: int = 0


def train_dpo(policy: PreTrainedModel, ref: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
              pairs: Sequence[PreferencePair], config: DPOTrainingConfig | None = None,
              progress: bool = True) -> list[dict[str, float]]:
    """Train ``policy`` in place with the DPO loss on preference pairs (ties left out); dropout off.

    Each step computes the four sequence log-probs of a batch (``ref`` without gradients), the loss of
    :func:`dpo_loss`, and one AdamW step. Returns one entry per step: ``loss``, ``accuracy`` (share of
    pairs whose implicit reward prefers the chosen response) and ``margin``.
    """
    from tqdm.auto import tqdm

    cfg = config or DPOTrainingConfig()
    pairs = [p for p in pairs if p.target == 1.0]
    if not pairs:
        raise ValueError("No preference pairs with a clear choice: DPO cannot learn from ties.")
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, cfg.warmup_steps)))
    generator = torch.Generator().manual_seed(cfg.seed)
    total = math.ceil(len(pairs) / cfg.batch_size) * cfg.epochs
    history: list[dict[str, float]] = []
    ref.eval()
    bar = tqdm(total=total, desc="DPO", disable=not progress)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(pairs), generator=generator).tolist()
        for start in range(0, len(order), cfg.batch_size):
            batch = [pairs[i] for i in order[start : start + cfg.batch_size]]
            prompts = [p.prompt for p in batch] * 2
            responses = [p.chosen for p in batch] + [p.rejected for p in batch]
            policy.eval()  # dropout off: the log-probs are the ones the policy samples with
            policy_chosen, policy_rejected = sequence_logprobs(policy, tokenizer, prompts, responses).chunk(2)
            with torch.no_grad():
                ref_chosen, ref_rejected = sequence_logprobs(ref, tokenizer, prompts, responses).chunk(2)
            loss, r_chosen, r_rejected = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            schedule.step()
            history.append({"step": len(history) + 1, "loss": loss.item(),
                            "accuracy": (r_chosen > r_rejected).float().mean().item(),
                            "margin": (r_chosen - r_rejected).mean().item()})
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    policy.eval()
    return history


def simulated_comparisons(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt_pool: Sequence[str], n: int,
                          seed: int = 0) -> list[PreferencePair]:
    """DPO's training data as the course's scripts make it: ``n`` prompts drawn from ``prompt_pool``, two
    samples of ``lm`` each, labelled by the simulated labeller through a (temporary) feedback store, ties
    left out. The same ``seed`` gives the same pairs (the draw uses ``seed + 1``, the labeller ``seed``)."""
    import tempfile
    from pathlib import Path

    from .feedback import SimulatedLabeller, preference_pairs
    from .feedback_store import FeedbackStore
    from .generation import sample_pairs
    from .lm_task import draw_prompts

    torch.manual_seed(seed)
    prompts = draw_prompts(list(prompt_pool), n, seed=seed + 1)
    responses_a, responses_b, _ = sample_pairs(lm, tokenizer, prompts, progress=False)
    model_name = Path(lm.name_or_path).name
    with tempfile.TemporaryDirectory(prefix="dpo_labels_") as tmp:
        labels = SimulatedLabeller(seed=seed).label_pairs(
            FeedbackStore(Path(tmp) / "labels.jsonl"), zip(prompts, responses_a, responses_b, strict=True),
            model=model_name)
    return preference_pairs(labels, model=model_name)


__all__ = ["DPOTrainingConfig", "dpo_loss", "implicit_reward_accuracy", "sequence_logprobs", "simulated_comparisons",
           "train_dpo"]
