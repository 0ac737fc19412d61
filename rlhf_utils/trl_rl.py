"""TRL's online RL trainers (RLOO, GRPO) set up on the course's task, on the same footing as our PPO.

Notebook 06 and ``benchmarks/rlhf_ppo_vs_trl.py`` use these. What "the same footing" takes:

- prompts are ``<|endoftext|> prompt`` like every rollout of the course (TRL tokenises the text; the
  end-of-text string is the special token);
- fixed-length responses: end-of-text and pad are suppressed and ``min_new_tokens`` is the response
  length, so no method can shorten its way to a better score;
- sampling at the course temperature, no top-k/top-p; dropout off; β > 0;
- the reward is the reward model's score of the text (TRL hands the reward function decoded text);
- CPU-friendly settings: no bf16, no gradient checkpointing, no checkpoints, no trackers.

RLOO (Ahmadian et al. 2024) and GRPO (Shao et al. 2024) both replace PPO's value head by a *group
baseline*: ``num_generations`` responses per prompt, each judged against the others'. RLOO puts β·KL
into the reward; GRPO adds β·KL (the k3 estimator) to the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .lm_task import END_OF_TEXT, RESPONSE_LENGTH, TEMPERATURE
from .reward_model import RewardModel

Kind = Literal["rloo", "grpo"]


def reward_function(rm: RewardModel) -> Callable[..., list[float]]:
    """TRL's reward-function signature ``f(prompts, completions, **kwargs) -> list[float]`` on a reward model."""

    def reward(prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        plain = [p.removeprefix(END_OF_TEXT) for p in prompts]
        return rm.score_texts(plain, list(completions)).tolist()

    reward.__name__ = "reward_model"  # TRL logs each reward function by name
    return reward


def prompt_dataset(prompts: Sequence[str]):
    """A ``datasets.Dataset`` with one ``prompt`` column: ``<|endoftext|> prompt`` strings."""
    from datasets import Dataset

    if not prompts:
        raise ValueError("The prompt list is empty: pass lm_task.load_prompts('train').")
    return Dataset.from_dict({"prompt": [END_OF_TEXT + p for p in prompts]})


def config(kind: Kind, output_dir: str, tokenizer: PreTrainedTokenizerBase, *, learning_rate: float, beta: float,
           batch_size: int = 32, num_generations: int = 4, max_steps: int = 100, seed: int = 0,
           use_cpu: bool = True, **overrides: Any):
    """An ``RLOOConfig`` or ``GRPOConfig`` for the course task (see the module docstring for why each setting).

    ``batch_size`` responses per step = ``batch_size / num_generations`` prompts × ``num_generations``.
    """
    if beta <= 0:
        raise ValueError("beta must be > 0: without the KL term the comparison with PPO is not on the same objective")
    if batch_size % num_generations:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of num_generations ({num_generations})")
    if kind == "rloo":
        from trl import RLOOConfig as Config
    elif kind == "grpo":
        from trl import GRPOConfig as Config
    else:
        raise ValueError(f"kind must be 'rloo' or 'grpo', got {kind!r}")
    settings = dict(
        output_dir=output_dir, learning_rate=learning_rate, lr_scheduler_type="constant", warmup_steps=0,
        per_device_train_batch_size=batch_size, num_generations=num_generations,
        max_completion_length=RESPONSE_LENGTH, temperature=TEMPERATURE, top_p=1.0, top_k=0,
        generation_kwargs={"suppress_tokens": [tokenizer.eos_token_id, tokenizer.pad_token_id],
                           "min_new_tokens": RESPONSE_LENGTH},
        beta=beta, disable_dropout=True, use_cpu=use_cpu, bf16=False, fp16=False, activation_checkpointing=False,
        save_strategy="no", report_to=[], logging_steps=10, max_steps=max_steps, seed=seed, disable_tqdm=True,
        dataloader_num_workers=0,
    )
    settings.update(overrides)
    return Config(**settings)


def trainer(kind: Kind, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rm: RewardModel,
            prompts: Sequence[str], args, callbacks: Sequence[Any] = ()):
    """An ``RLOOTrainer`` or ``GRPOTrainer`` training ``model`` (in place) against ``rm`` on ``prompts``."""
    rm.check_tokenizer(tokenizer)
    if kind == "rloo":
        from trl import RLOOTrainer as Trainer
    else:
        from trl import GRPOTrainer as Trainer
    from transformers import PrinterCallback

    trainer = Trainer(model=model, reward_funcs=reward_function(rm), args=args, train_dataset=prompt_dataset(prompts),
                      processing_class=tokenizer, callbacks=list(callbacks))
    if args.disable_tqdm:
        trainer.remove_callback(PrinterCallback)  # without a progress bar, Trainer prints every log line
    return trainer


__all__ = ["config", "prompt_dataset", "reward_function", "trainer"]
