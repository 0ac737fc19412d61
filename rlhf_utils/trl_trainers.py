"""TRL's trainers on the course's task: the one place where the course hands work to TRL.

Notebooks 04 and 06 and the scripts train the same things two ways, from scratch and with TRL. For
the two to be comparable, every TRL run here follows three rules, each written once:

- **CPU arguments** (:func:`cpu_arguments`): TRL's defaults suit a GPU cluster - bf16, gradient
  checkpointing (transformers 5 calls it ``activation_checkpointing``), checkpoints, experiment
  trackers. A small model on a CPU wants none of them, and a course must not write or send anything.
- **The prompt rule** (:func:`with_prompt_rule`): every rollout of the course is ``<|endoftext|> prompt``
  followed by the response. TRL tokenises the text it is given, so the prompt it sees starts with
  the end-of-text string (a single special token).
- **Dataset conversion**: preference pairs to TRL's ``prompt/chosen/rejected`` format
  (:func:`preference_dataset`, ties left out: TRL has no tie target), best-of-N samples to
  ``prompt/completion`` (:func:`prompt_completion_dataset`), prompts to a ``prompt`` column
  (:func:`prompt_dataset`).

The trainers: ``RewardTrainer`` (notebook 04, :func:`train_reward_model_with_trl`), ``DPOTrainer``
and ``SFTTrainer`` (notebook 06, :func:`train_dpo_with_trl`, :func:`rejection_sampling_finetune`),
and the online ``RLOOTrainer``/``GRPOTrainer`` (notebook 06 and the benchmark, :func:`rl_config`,
:func:`rl_trainer`). RLOO (Ahmadian et al. 2024) and GRPO (Shao et al. 2024) both replace PPO's
value head by a *group baseline*: ``num_generations`` responses per prompt, each judged against the
others'. RLOO puts β·KL into the reward; GRPO adds β·KL (the k3 estimator) to the loss. For them the
task's other rules are set too: fixed-length responses (end-of-text and pad suppressed,
``min_new_tokens`` = the response length), the course temperature without top-k/top-p, dropout off,
β > 0, and the reward model's score of the decoded text as the reward.

**Position ids (a TRL 1.16 bug the course works around).** RLOO and GRPO score their samples without
``position_ids``. GPT-2's position embeddings are absolute, so on a left-padded prompt every token is
then scored one pad count further along than ``generate`` sampled it (``generate`` takes positions
from the attention mask). The log-probs of the ratio and the KL would belong to another distribution
than the one sampled from. :func:`rl_trainer` builds trainers whose scoring passes the mask-based
positions of :func:`rlhf_utils.generation.position_ids`, for the policy and the reference alike.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .dpo import DPOTrainingConfig
from .feedback import PreferencePair
from .generation import position_ids as mask_positions
from .lm_task import END_OF_TEXT, RESPONSE_LENGTH, TEMPERATURE
from .reward_model import RewardModel, RewardTrainingConfig, only_top_layers_trainable

Kind = Literal["rloo", "grpo"]


# ============================================================================ the three rules
def cpu_arguments(*, use_cpu: bool = True, progress: bool = False) -> dict[str, Any]:
    """The arguments every TRL config of the course sets, whatever the trainer (see the module docstring)."""
    return dict(use_cpu=use_cpu, bf16=False, fp16=False, activation_checkpointing=False, save_strategy="no",
                report_to=[], disable_tqdm=not progress, dataloader_num_workers=0)


def with_prompt_rule(prompt: str, eos_token: str = END_OF_TEXT) -> str:
    """``<|endoftext|> prompt``: the context every response of the course is sampled and scored in."""
    return prompt if prompt.startswith(eos_token) else eos_token + prompt


def preference_dataset(pairs: Sequence[PreferencePair], eos_token: str = END_OF_TEXT):
    """TRL's ``prompt/chosen/rejected`` dataset from preference pairs, prompts under the prompt rule.

    Pairs with a tie target (0.5) are left out. ``RewardTrainer`` then appends an end-of-text token to
    each response and tokenises prompt + response in one piece, which gives exactly
    :func:`rlhf_utils.reward_model.encode_for_reward`.
    """
    from datasets import Dataset

    kept = [p for p in pairs if p.target == 1.0]
    return Dataset.from_dict({"prompt": [with_prompt_rule(p.prompt, eos_token) for p in kept],
                              "chosen": [p.chosen for p in kept], "rejected": [p.rejected for p in kept]})


def prompt_completion_dataset(prompts: Sequence[str], completions: Sequence[str]):
    """TRL's ``prompt/completion`` format (supervised fine-tuning), prompts under the prompt rule."""
    from datasets import Dataset

    if len(prompts) != len(completions) or not prompts:
        raise ValueError("supervised fine-tuning needs one completion per prompt, and at least one prompt")
    return Dataset.from_dict({"prompt": [with_prompt_rule(p) for p in prompts], "completion": list(completions)})


def prompt_dataset(prompts: Sequence[str]):
    """A ``datasets.Dataset`` with one ``prompt`` column, under the prompt rule (online RL trainers)."""
    from datasets import Dataset

    if not prompts:
        raise ValueError("The prompt list is empty: pass lm_task.load_prompts('train').")
    return Dataset.from_dict({"prompt": [with_prompt_rule(p) for p in prompts]})


@contextlib.contextmanager
def _datasets_progress_bars_off() -> Iterator[None]:
    import datasets

    was_enabled = datasets.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _quiet(trainer, progress: bool) -> None:
    """A progress bar with the latest loss, instead of a printed dict per logging step (the log history keeps them)."""
    from transformers import PrinterCallback, ProgressCallback

    class BarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.training_bar is not None and logs and "loss" in logs:
                self.training_bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)

    if progress:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(BarOnly())
    else:
        trainer.remove_callback(PrinterCallback)  # without a progress bar, Trainer prints every log line


_NOT_A_PREFIX = "The tokenized prompt is not a prefix"


@contextlib.contextmanager
def _boundary_merges_reported(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                              completions: Sequence[str]) -> Iterator[None]:
    """Replace TRL's per-token "not a prefix" warnings by one line that counts the examples they concern.

    Why they appear: TRL tokenises ``prompt + completion`` as one text. With byte-level BPE the prompt's
    last token can merge with the completion's first (``" fil" + "m"`` -> ``" film"``), and TRL then
    starts the completion one token early. The course samples responses as tokens after the prompt's
    tokens, so this changes the first response token of those examples only. TRL warns once per
    distinct merged token, a dozen identical-looking lines in notebook 06; the count says the same once.
    """
    import logging

    merged = sum(
        tokenizer(p + c)["input_ids"][: len(ids)] != ids
        for p, c in zip(prompts, completions)
        for ids in [tokenizer(p)["input_ids"]]
    )

    class DropNotAPrefix(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return _NOT_A_PREFIX not in str(record.getMessage())

    loggers = [logging.getLogger(name) for name in ("trl.trainer.dpo_trainer", "trl.trainer.sft_trainer")]
    drop = DropNotAPrefix()
    for logger in loggers:
        logger.addFilter(drop)
    try:
        if merged:
            print(f"TRL re-tokenises prompt + response as one text: in {merged} of {len(prompts)} examples the "
                  "response's first token merges with the prompt's last, so TRL's response starts one token earlier.")
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


# ============================================================================ reward model (notebook 04)
def reward_config(config: RewardTrainingConfig, output_dir: str, max_length: int | None, use_cpu: bool = True,
                  progress: bool = True):
    """TRL ``RewardConfig`` with the from-scratch loop's hyperparameters (``reward_model.train_reward_model``)."""
    from trl import RewardConfig

    return RewardConfig(
        output_dir=str(output_dir), num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, lr_scheduler_type="linear", warmup_steps=0,
        weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm or 0.0, seed=config.seed,
        disable_dropout=config.dropout_off, max_length=max_length, logging_steps=1,
        **cpu_arguments(use_cpu=use_cpu, progress=progress),
    )


def train_reward_model_with_trl(rm: RewardModel, train_pairs: Sequence[PreferencePair],
                                config: RewardTrainingConfig | None = None, progress: bool = True) -> list[dict[str, float]]:
    """Train ``rm`` in place with TRL's ``RewardTrainer`` (same data, same rule, same hyperparameters).

    Returns TRL's log history (one entry per step with ``loss``, ``accuracy``, ``margin`` ..., and a
    final summary with ``train_runtime``).
    """
    from trl import RewardTrainer

    cfg = config or RewardTrainingConfig()
    dataset = preference_dataset(train_pairs, rm.tokenizer.eos_token)
    if len(dataset) == 0:
        raise ValueError("No training pairs with a clear preference: TRL's RewardTrainer cannot learn from ties.")
    max_length = getattr(rm.model.config, "n_positions", None)
    quiet = contextlib.nullcontext() if progress else _datasets_progress_bars_off()
    with tempfile.TemporaryDirectory(prefix="reward_trainer_") as tmp, quiet:
        args = reward_config(cfg, tmp, max_length, use_cpu=rm.device.type == "cpu", progress=progress)
        with only_top_layers_trainable(rm.model, cfg.trainable_layers):
            trainer = RewardTrainer(model=rm.model, args=args, train_dataset=dataset, processing_class=rm.tokenizer)
            _quiet(trainer, progress)
            if len(trainer.train_dataset) < len(dataset):
                warnings.warn(f"TRL dropped {len(dataset) - len(trainer.train_dataset)} pairs longer than "
                              f"{max_length} tokens", stacklevel=2)
            trainer.train()
    rm.model.eval()
    return list(trainer.state.log_history)


# ============================================================================ DPO and rejection sampling (notebook 06)
def train_dpo_with_trl(policy: PreTrainedModel, ref: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                       pairs: Sequence[PreferencePair], config: DPOTrainingConfig | None = None,
                       progress: bool = True) -> list[dict]:
    """Train ``policy`` in place with TRL's ``DPOTrainer`` on the same pairs and hyperparameters as
    :func:`rlhf_utils.dpo.train_dpo`.

    Differences that remain by TRL's design: it appends an end-of-text token to each response (so
    its sequence log-probs have one more term, a token the course's sampling never emits), scores
    at temperature 1 without the forbidden-token mask, and re-tokenises prompt + response as one text
    (:func:`_boundary_merges_reported`). Returns TRL's log history.
    """
    from trl import DPOConfig, DPOTrainer

    cfg = config or DPOTrainingConfig()
    dataset = preference_dataset(pairs)
    if len(dataset) == 0:
        raise ValueError("No preference pairs with a clear choice: DPO cannot learn from ties.")
    with tempfile.TemporaryDirectory(prefix="dpo_trainer_") as tmp:
        args = DPOConfig(
            output_dir=tmp, beta=cfg.beta, learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size, lr_scheduler_type="constant_with_warmup",
            warmup_steps=cfg.warmup_steps, max_grad_norm=cfg.max_grad_norm or 0.0, weight_decay=0.0, seed=cfg.seed,
            disable_dropout=True, max_length=getattr(policy.config, "n_positions", None), logging_steps=10,
            **cpu_arguments(use_cpu=next(policy.parameters()).device.type == "cpu", progress=progress),
        )
        texts = [(prompt, response) for prompt, c, r in zip(dataset["prompt"], dataset["chosen"], dataset["rejected"])
                 for response in (c, r)]
        with _boundary_merges_reported(tokenizer, *zip(*texts)):
            trainer = DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=dataset,
                                 processing_class=tokenizer)
        _quiet(trainer, progress)
        trainer.train()
    policy.eval()
    return list(trainer.state.log_history)


def rejection_sampling_finetune(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                                responses: Sequence[str], *,
                                learning_rate: float = 5e-5, epochs: int = 2, batch_size: int = 16, seed: int = 0,
                                progress: bool = True) -> list[dict]:
    """Supervised fine-tuning of ``lm`` (in place) on best-of-N responses with TRL's ``SFTTrainer``.

    The loss covers the completion only. TRL appends an end-of-text token to each completion; the
    course's sampling never emits one (it is suppressed), so that token only moves probability mass
    sampling ignores. Returns TRL's log history.
    """
    from trl import SFTConfig, SFTTrainer

    with tempfile.TemporaryDirectory(prefix="rejection_sft_") as tmp:
        args = SFTConfig(
            output_dir=tmp, learning_rate=learning_rate, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            lr_scheduler_type="linear", warmup_steps=0, completion_only_loss=True,
            max_length=getattr(lm.config, "n_positions", None), seed=seed, logging_steps=10,
            **cpu_arguments(use_cpu=next(lm.parameters()).device.type == "cpu", progress=progress),
        )
        dataset = prompt_completion_dataset(prompts, responses)
        with _boundary_merges_reported(tokenizer, dataset["prompt"], dataset["completion"]):
            trainer = SFTTrainer(model=lm, args=args, train_dataset=dataset, processing_class=tokenizer)
        _quiet(trainer, progress)
        trainer.train()
    lm.eval()
    return list(trainer.state.log_history)


# ============================================================================ RLOO and GRPO (notebook 06, benchmark)
def reward_function(rm: RewardModel) -> Callable[..., list[float]]:
    """TRL's reward-function signature ``f(prompts, completions, **kwargs) -> list[float]`` on a reward model."""

    def reward(prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        plain = [p.removeprefix(END_OF_TEXT) for p in prompts]
        return rm.score_texts(plain, list(completions)).tolist()

    reward.__name__ = "reward_model"  # TRL logs each reward function by name
    return reward


def rl_config(kind: Kind, output_dir: str, tokenizer: PreTrainedTokenizerBase, *, learning_rate: float, beta: float,
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
        beta=beta, disable_dropout=True, logging_steps=10, max_steps=max_steps, seed=seed,
        **cpu_arguments(use_cpu=use_cpu),
    )
    settings.update(overrides)
    return Config(**settings)


@contextlib.contextmanager
def _positions_from_mask(model) -> Iterator[None]:
    """While active, a forward call of ``model`` without ``position_ids`` gets them from its attention mask."""
    own = model.__dict__.get("forward")  # TRL patches forward on the instance (its fused log-prob head)
    forward = model.forward

    def forward_with_positions(*args, attention_mask=None, position_ids=None, **kwargs):
        if position_ids is None and attention_mask is not None:
            position_ids = mask_positions(attention_mask)
        return forward(*args, attention_mask=attention_mask, position_ids=position_ids, **kwargs)

    model.forward = forward_with_positions
    try:
        yield
    finally:
        if own is None:
            del model.forward
        else:
            model.forward = own


def with_mask_positions(trainer_class: type) -> type:
    """``trainer_class`` (TRL's ``RLOOTrainer`` or ``GRPOTrainer``) scoring log-probs at mask-based positions.

    TRL 1.16 computes the training, old and reference log-probs in ``_get_per_token_logps_and_entropies``
    without ``position_ids`` (see the module docstring). This subclass wraps that one method; nothing else changes.
    """

    class MaskPositions(trainer_class):
        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, *args, **kwargs):
            with _positions_from_mask(model):
                return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, *args, **kwargs)

    MaskPositions.__name__ = MaskPositions.__qualname__ = f"{trainer_class.__name__}WithMaskPositions"
    return MaskPositions


def rl_trainer(kind: Kind, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rm: RewardModel,
               prompts: Sequence[str], args, callbacks: Sequence[Any] = ()):
    """An ``RLOOTrainer`` or ``GRPOTrainer`` training ``model`` (in place) against ``rm`` on ``prompts``.

    Its log-probs are scored at the positions ``generate`` sampled at (:func:`with_mask_positions`).
    """
    rm.check_tokenizer(tokenizer)
    if kind == "rloo":
        from trl import RLOOTrainer as Trainer
    else:
        from trl import GRPOTrainer as Trainer

    trainer = with_mask_positions(Trainer)(model=model, reward_funcs=reward_function(rm), args=args, train_dataset=prompt_dataset(prompts),
                      processing_class=tokenizer, callbacks=list(callbacks))
    _quiet(trainer, not args.disable_tqdm)
    return trainer


__all__ = [
    "cpu_arguments", "preference_dataset", "prompt_completion_dataset", "prompt_dataset", "rejection_sampling_finetune",
    "reward_config", "reward_function", "rl_config", "rl_trainer", "train_dpo_with_trl", "train_reward_model_with_trl",
    "with_mask_positions", "with_prompt_rule",
]
