"""The reward model - step 3 of RLHF (notebook 04), and the reward function of notebooks 05-07.

A reward model is the base GPT-2 with its language-model head replaced by a scalar head
(``AutoModelForSequenceClassification`` with one label): it reads a prompt and a response and returns
one number, ``r(x, y)``. It is trained on pairwise judgements with the Bradley-Terry model

    P(y_w ≻ y_l | x) = σ(r(x, y_w) - r(x, y_l)),     loss = -log σ(r(x, y_w) - r(x, y_l)),

either by the from-scratch loop :func:`train_reward_model` or by TRL's ``RewardTrainer``
(:func:`rlhf_utils.trl_trainers.train_reward_model_with_trl`), on exactly the same inputs.

**The scoring rule** (one rule everywhere): the model sees

    <|endoftext|> prompt response <|endoftext|>

and the reward is read at that final end-of-text token, the last non-pad token.
``GPT2ForSequenceClassification`` reads its score at the rightmost token that is not
``config.pad_token_id`` (for left and right padding alike), so the pad token must differ from the
end-of-text token. The rule has two paths, which give the same ids whenever the decoded response
re-tokenises to the ids that were sampled (a sampled split of a word that the tokenizer would not
make, or a character cut in two, breaks that; ``RewardModel.score_samples(via="text")`` scores the
text instead):

* **text** (:func:`encode_for_reward`): the string above, tokenised in one piece. TRL's
  ``RewardTrainer`` does the same with a dataset whose prompt starts with ``<|endoftext|>``
  (:func:`rlhf_utils.trl_trainers.preference_dataset`): it appends the end-of-text token to each response, joins
  prompt + response as strings and tokenises them together, adding no other special token;
* **tokens** (:func:`samples_for_reward`), for PPO: the policy's left-padded ``<|endoftext|> prompt``
  ids, its fixed-length response ids, and one end-of-text id appended - no re-tokenisation, so the
  reward model scores exactly the tokens the policy sampled.

Scores are **normalised** as in Ziegler et al. (2019): ``score = gain · r + bias`` with gain and bias
chosen so that scores have mean 0 and standard deviation 1 on samples of the base model
(:meth:`RewardModel.calibrate`). A saved reward model is a folder with ``model.safetensors``, its
tokenizer and ``reward_model.json`` (gain, bias, provenance).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .feedback import LabellingSession, PreferencePair, SimulatedLabeller, preference_pairs
from .gold import NAMED_CRITERIA, check_criterion, gold_scores
from .generation import Samples, position_ids
from .lm_task import COURSE_MODEL_NAME, END_OF_TEXT, FULL_MODEL_NAME, encode_prompts
from .models import ModelTokenizerMismatchError, check_model_tokenizer
from .paths import MODELS_DIR, cache_dir
from .profiles import Profile, get_profile

REWARD_MODEL_NAME = "course-reward-model"
"""Folder under ``data/models/`` holding the shipped reward model (built by ``scripts/train_reward_model.py``)."""
SHIPPED_REWARD_MODEL_DIR = MODELS_DIR / REWARD_MODEL_NAME
INFO_FILE = "reward_model.json"
"""Normalisation constants and provenance, saved next to the weights and the tokenizer."""
BUILD_COMMAND = "python scripts/train_reward_model.py"
SCORING_RULE = "<|endoftext|> prompt response <|endoftext|>; the reward is read at the final <|endoftext|>"
HEAD_L2_KEEP = 3.0
"""L2 weight of :func:`fit_head` towards the shipped head (criterion ``positive``, the shipped model's own):
tens of noisy labels should refine that head, not replace it."""
HEAD_L2_FRESH = 10.0
"""L2 weight of :func:`fit_head` for a fresh head (``negative``, ``own``). Both weights were chosen on
development pairs, at 40 labels, by ``scripts/learner_reward_model_curve.py --select-l2`` (committed in
``data/results/learner_reward_model_curve.json``; accuracy is flat within 0.01 from 0.3 to 30)."""


def head_l2(criterion: str) -> float:
    """The L2 weight :func:`learner_reward_model` fits a learner's head with."""
    return HEAD_L2_KEEP if check_criterion(criterion) == "positive" else HEAD_L2_FRESH


class RewardModelFileError(ValueError):
    """A saved reward model's files are missing or corrupt (the message names the file and the fix)."""


class RewardModelTokenizerError(ModelTokenizerMismatchError):
    """Token ids made by another tokenizer than the reward model's (they would be scored as other words)."""


# ============================================================================ the scoring rule
def format_for_reward(prompt: str, response: str, eos_token: str = END_OF_TEXT) -> str:
    """The text a reward model reads: ``<|endoftext|> prompt response <|endoftext|>`` (no spaces added)."""
    return f"{eos_token}{prompt}{response}{eos_token}"


def check_reward_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    """Raise ``ValueError`` unless ``tokenizer`` can follow the scoring rule.

    It needs an end-of-text token, a *separate* pad token (with pad = end-of-text the model would
    skip the final end-of-text and read the reward one token early), and must add no special tokens
    of its own when called (TRL tokenises with the defaults; GPT-2's tokenizers add none).
    """
    if tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
        raise ValueError("The reward model's tokenizer needs an end-of-text and a pad token "
                         "(load it with rlhf_utils.models.load_tokenizer, which adds the pad token).")
    if tokenizer.pad_token_id == tokenizer.eos_token_id:
        raise ValueError(
            f"The tokenizer's pad token is its end-of-text token ({tokenizer.eos_token!r}); the reward is read at the "
            "last non-pad token, which must be the final end-of-text. Add a separate pad token: "
            "tokenizer.add_special_tokens({'pad_token': '<|pad|>'}) and resize the model's embeddings."
        )
    probe = "a"
    if tokenizer(probe)["input_ids"] != tokenizer(probe, add_special_tokens=False)["input_ids"]:
        raise ValueError(f"{type(tokenizer).__name__} adds special tokens to every text (e.g. a beginning-of-text "
                         "token); the scoring rule and TRL's RewardTrainer then disagree. Use a GPT-2 tokenizer.")


def encode_for_reward(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], responses: Sequence[str]
) -> list[list[int]]:
    """Text path: the ids of :func:`format_for_reward` per pair, tokenised in one piece (as TRL does)."""
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    texts = [format_for_reward(p, r, tokenizer.eos_token) for p, r in zip(prompts, responses, strict=True)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into ``(input_ids, attention_mask)``, both ``(B, T)``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def samples_for_reward(samples: Samples, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token path: ``query_ids + response_ids + [eos]``, still left-padded: ``(input_ids, attention_mask)``.

    The response ids are used as sampled; every row ends with the end-of-text token, so the reward
    is read in the same (last) column for all rows.
    """
    eos = torch.full_like(samples.response_ids[:, :1], eos_id)
    ids = torch.cat([samples.query_ids, samples.response_ids, eos], dim=1)
    mask = torch.cat([samples.query_mask, torch.ones_like(samples.response_ids), torch.ones_like(eos)], dim=1)
    return ids, mask


def last_token_rewards(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Raw rewards ``r(x, y)``, shape ``(B,)``: the scalar head at each row's last non-pad token.

    Position ids come from the attention mask, so left and right padding give the same rewards
    (without them, left padding would shift every position). The last non-pad token must be the
    end-of-text token that closes the text (the scoring rule); anything else raises ``ValueError``.
    """
    pad_id, eos_id = model.config.pad_token_id, model.config.eos_token_id
    if pad_id is None or pad_id == eos_id:
        raise ValueError(f"The reward model's config.pad_token_id ({pad_id}) must be set and differ from the "
                         f"end-of-text id ({eos_id}); see check_reward_tokenizer.")
    n_positions = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if n_positions is not None and input_ids.shape[1] > n_positions:
        raise ValueError(f"{input_ids.shape[1]} tokens do not fit the model's {n_positions} positions: "
                         "shorten the prompts or responses.")
    # The same rule GPT2ForSequenceClassification uses: the rightmost token that is not the pad token.
    columns = torch.arange(input_ids.shape[1], device=input_ids.device)
    last = (columns * (input_ids != pad_id)).argmax(-1)
    read_at = input_ids.gather(1, last[:, None]).squeeze(1)
    if (read_at != eos_id).any():
        raise ValueError("The reward is read at the last non-pad token, which must be the end-of-text token closing "
                         "'<|endoftext|> prompt response <|endoftext|>'. Build inputs with encode_for_reward "
                         "(text) or samples_for_reward (tokens).")
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids(attention_mask),
                use_cache=False)
    return out.logits[:, 0]


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Dropout off inside the block; the model's previous mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# ============================================================================ the model
class RewardModel:
    """A sequence-classification GPT-2 with one output, its tokenizer, and normalisation constants.

    ``score = gain · r + bias`` where ``r`` is the raw head output (see :func:`last_token_rewards`).
    ``score_samples`` is a reward function for :mod:`rlhf_utils.lm_ppo` (``reward_fn=rm.score_samples``).
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, gain: float = 1.0,
                 bias: float = 0.0, info: dict[str, Any] | None = None, folder: Path | None = None):
        if getattr(model.config, "num_labels", None) != 1:
            raise ValueError(f"A reward model has one output (num_labels=1); this one has {model.config.num_labels}.")
        check_reward_tokenizer(tokenizer)
        check_model_tokenizer(model, tokenizer, "reward model")
        self.model, self.tokenizer = model, tokenizer
        self.gain, self.bias = float(gain), float(bias)
        self.info = dict(info or {})
        self.folder = folder
        """Where it was loaded from (``None`` for a model built in this session)."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def criterion(self) -> str:
        """What this reward model was taught to prefer (the shipped one: ``positive``, the gold score)."""
        return self.info.get("criterion", "positive")

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return self.gain * raw + self.bias

    # -- scoring ---------------------------------------------------------------------------
    @torch.no_grad()
    def score_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, raw: bool = False) -> torch.Tensor:
        """Scores of ready-made inputs (either padding side), dropout off: ``(B,)`` on the CPU."""
        with eval_mode(self.model):
            r = last_token_rewards(self.model, input_ids.to(self.device), attention_mask.to(self.device)).float().cpu()
        return r if raw else self.normalise(r)

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str], *, raw: bool = False,
                    batch_size: int = 64) -> torch.Tensor:
        """Scores of responses to prompts, by the text path: ``(B,)`` (normalised unless ``raw``)."""
        rows = encode_for_reward(self.tokenizer, prompts, responses)
        out = [self.score_ids(*pad_right(rows[i : i + batch_size], self.tokenizer.pad_token_id), raw=raw)
               for i in range(0, len(rows), batch_size)]
        return torch.cat(out) if out else torch.zeros(0)

    def score_samples(self, samples: Samples, raw: bool = False,
                      via: Literal["tokens", "text"] = "tokens") -> torch.Tensor:
        """The PPO reward function: scores of sampled responses, ``(B,)``.

        ``via="tokens"`` (default) scores the sampled ids as they are (:func:`samples_for_reward`);
        ``via="text"`` re-tokenises the decoded text, as the reward model saw its training data. The
        two differ only for responses whose text re-tokenises to other ids (a sampled split of a word
        that the tokenizer would not make, a character cut in two). Checks first that the samples'
        prompt ids are what this reward model's tokenizer makes of the prompts (responses from a model
        with another tokenizer would be scored as other words).
        """
        self.check_samples(samples)
        if via == "text":
            return self.score_texts(samples.prompts, samples.responses, raw=raw)
        if via != "tokens":
            raise ValueError(f"via must be 'tokens' or 'text', got {via!r}")
        return self.score_ids(*samples_for_reward(samples, self.tokenizer.eos_token_id), raw=raw)

    __call__ = score_samples

    # -- compatibility -----------------------------------------------------------------------
    def check_samples(self, samples: Samples) -> None:
        """Raise :class:`RewardModelTokenizerError` unless the samples were tokenised by this tokenizer."""
        expected, _ = encode_prompts(self.tokenizer, samples.prompts)
        vocab = self.model.get_input_embeddings().num_embeddings
        same = expected.shape == samples.query_ids.shape and torch.equal(expected, samples.query_ids.cpu())
        if not same or int(samples.response_ids.max()) >= vocab:
            raise RewardModelTokenizerError(
                "These samples were tokenised by another tokenizer than the reward model's (the prompt ids differ), "
                "so their token ids would be read as other words. Score them with a reward model trained on the "
                "same base model as the policy - train one in notebook 04 or with "
                f"`{BUILD_COMMAND} --base-model <policy folder>` - or score the decoded text with "
                "rm.score_texts(samples.prompts, samples.responses)."
            )

    def check_tokenizer(self, tokenizer: PreTrainedTokenizerBase, what: str = "policy") -> None:
        """Raise :class:`RewardModelTokenizerError` unless ``tokenizer`` has the reward model's vocabulary."""
        if not same_vocabulary(self.tokenizer, tokenizer):
            raise RewardModelTokenizerError(
                f"The {what}'s tokenizer ({len(tokenizer)} tokens) is not the reward model's ({len(self.tokenizer)} "
                f"tokens): the reward model was trained on another base model "
                f"({self.info.get('base_model', 'unknown')}). Train a reward model on the {what}'s base model "
                f"(notebook 04, or `{BUILD_COMMAND} --base-model <folder>`), or load the matching one."
            )

    # -- normalisation -----------------------------------------------------------------------
    def calibrate(self, samples: Samples | Sequence[Samples]) -> dict[str, float]:
        """Set gain and bias so the scores of these (base-model) samples have mean 0 and std 1.

        ``gain = 1 / std(r)``, ``bias = -mean(r) / std(r)`` with the sample standard deviation
        (``torch.std``, n - 1). Returns the statistics, also kept in ``info["calibration"]``.
        """
        batches = [samples] if isinstance(samples, Samples) else list(samples)
        raw = torch.cat([self.score_samples(s, raw=True) for s in batches])
        if raw.numel() < 2:
            raise ValueError("calibrate needs at least two samples")
        mean, std = raw.mean().item(), raw.std().item()
        if not std > 0:
            raise ValueError("all calibration samples got the same raw reward; cannot normalise to std 1")
        self.gain, self.bias = 1.0 / std, -mean / std
        self.info["calibration"] = {"n": int(raw.numel()), "raw_mean": mean, "raw_std": std}
        return dict(self.info["calibration"])

    # -- files ----------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``model.safetensors`` + config, the tokenizer and ``reward_model.json`` to ``folder``, atomically.

        Everything is written to a temporary folder beside it, which then replaces ``folder`` by renaming:
        a crash leaves the old model whole (never new weights with old normalisation constants).
        """
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            self.model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
            info = {"gain": self.gain, "bias": self.bias, "scoring_rule": SCORING_RULE, **self.info}
            (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, default=_json_default) + "\n")
            old = folder.with_name(f".{folder.name}.old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.folder = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> RewardModel:
        """Load a folder written by :meth:`save` (safetensors only, local files only).

        Raises ``FileNotFoundError`` when a file is missing and :class:`RewardModelFileError` when one is
        corrupt, each naming the file and the fix: unreadable JSON, a missing or non-finite gain or bias, weights that lack a tensor
        (transformers would silently fill a missing score head with random numbers).
        """
        folder = Path(folder)
        fix = (f"Restore the shipped one with `git checkout -- data/models` (or rebuild it with `{BUILD_COMMAND}`); "
               "for your own model, delete the folder and train it again in notebook 04.")
        if not (folder / "model.safetensors").exists() or not (folder / INFO_FILE).exists():
            raise FileNotFoundError(f"{folder} holds no saved reward model (model.safetensors and {INFO_FILE}). {fix}")
        try:
            info = json.loads((folder / INFO_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RewardModelFileError(f"{folder / INFO_FILE} is not valid JSON ({err}). {fix}") from None
        if not isinstance(info, dict):
            raise RewardModelFileError(f"{folder / INFO_FILE} must hold a JSON object. {fix}")
        for key in ("gain", "bias"):
            value = info.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise RewardModelFileError(f"{folder / INFO_FILE}: {key!r} must be a finite number, got {value!r}. {fix}")
        try:
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                folder, local_files_only=True, use_safetensors=True, output_loading_info=True)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except Exception as err:  # safetensors, tokenizers and transformers each raise their own kinds
            raise RewardModelFileError(f"{folder}: the weights or tokenizer cannot be read ({err}). {fix}") from None
        missing = sorted(loading.get("missing_keys", []))
        if missing:
            raise RewardModelFileError(f"{folder / 'model.safetensors'} lacks {', '.join(missing)}: these would be "
                                       f"random numbers. {fix}")
        gain, bias = info.pop("gain"), info.pop("bias")
        info.pop("scoring_rule", None)
        return cls(model.to(device).eval(), tokenizer, gain, bias, info, folder)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def same_vocabulary(a: PreTrainedTokenizerBase, b: PreTrainedTokenizerBase) -> bool:
    """True when two tokenizers map every token to the same id and share end-of-text and pad ids."""
    return (a.get_vocab() == b.get_vocab() and a.eos_token_id == b.eos_token_id
            and a.pad_token_id == b.pad_token_id)


def init_reward_model(lm: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> RewardModel:
    """A fresh reward model: the base LM's transformer weights under a new scalar head.

    The head (``score``, no bias) starts random (seeded, normal with the config's initializer range),
    the body is a copy of the base model's, so ``lm`` itself is left untouched.
    """
    check_reward_tokenizer(tokenizer)
    check_model_tokenizer(lm, tokenizer, "base model")
    config = copy.deepcopy(lm.config)
    config.num_labels = 1
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    config.architectures = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_config(config)
    model.base_model.load_state_dict(lm.base_model.state_dict())
    info = {"base_model": getattr(lm.config, "_name_or_path", "") or "unknown", "vocab_size": len(tokenizer)}
    return RewardModel(model.to(lm.device).eval(), tokenizer, info=info)


# ============================================================================ Bradley-Terry
def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor,
                       target: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Mean Bradley-Terry loss of pairs of rewards.

    With target ``t`` = P(chosen ≻ rejected) (1 for a clear preference, 0.5 for a tie) and
    ``Δ = r_chosen - r_rejected``:

        L = -[t · log σ(Δ) + (1 - t) · log σ(-Δ)],   which for t = 1 is  -log σ(r_w - r_l).

    A tie (t = 0.5) is minimised at Δ = 0: it pulls the two rewards together.
    """
    delta = r_chosen - r_rejected
    target = torch.as_tensor(target, dtype=delta.dtype, device=delta.device)
    return -(target * F.logsigmoid(delta) + (1 - target) * F.logsigmoid(-delta)).mean()


def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """Share of pairs where the chosen response gets the higher reward (an equal reward counts as wrong)."""
    if len(r_chosen) == 0:
        return math.nan
    return (r_chosen > r_rejected).float().mean().item()


def gold_pairwise_accuracy(
    scores_a: Sequence[float], scores_b: Sequence[float], gold_a: Sequence[float], gold_b: Sequence[float],
    tie_margin: float = SimulatedLabeller.tie_margin,
) -> tuple[float, int]:
    """How often the reward model orders a pair as the gold score does, gold ties (|Δgold| < margin) left out.

    Returns ``(accuracy, pairs compared)``.
    """
    da = np.asarray(scores_a, dtype=float) - np.asarray(scores_b, dtype=float)
    dg = np.asarray(gold_a, dtype=float) - np.asarray(gold_b, dtype=float)
    keep = np.abs(dg) >= tie_margin
    n = int(keep.sum())
    return (float(np.mean((da[keep] > 0) == (dg[keep] > 0))) if n else math.nan), n


def evaluate_pairs(rm: RewardModel, pairs: Sequence[PreferencePair], batch_size: int = 64) -> dict[str, float]:
    """Bradley-Terry loss (ties included), label accuracy (clear preferences only) and, for reference,
    accuracy against the gold ordering (gold ties left out) of a reward model on preference pairs."""
    prompts = [p.prompt for p in pairs]
    chosen = rm.score_texts(prompts, [p.chosen for p in pairs], raw=True, batch_size=batch_size)
    rejected = rm.score_texts(prompts, [p.rejected for p in pairs], raw=True, batch_size=batch_size)
    target = torch.tensor([p.target for p in pairs], dtype=torch.float32)
    clear = target == 1.0
    gold_c = gold_scores([p.chosen for p in pairs], prompts)
    gold_r = gold_scores([p.rejected for p in pairs], prompts)
    gold_acc, n_gold = gold_pairwise_accuracy(chosen.numpy(), rejected.numpy(), gold_c, gold_r)
    return {"loss": bradley_terry_loss(chosen, rejected, target).item() if len(pairs) else math.nan,
            "accuracy": pairwise_accuracy(chosen[clear], rejected[clear]), "pairs": len(pairs),
            "gold_accuracy": gold_acc, "gold_pairs": n_gold}


# ============================================================================ training from scratch
@dataclass
class RewardTrainingConfig:
    """Hyperparameters shared by the from-scratch loop and the TRL run, so the two can be compared."""

    epochs: int = 2
    """Passes over the training pairs."""
    batch_size: int = 16
    """Pairs per gradient step (2 × this many sequences: the chosen and the rejected responses)."""
    learning_rate: float = 3e-4
    """AdamW step size, decayed linearly to 0 over training. TRL's default is 1e-4, tuned for larger
    models; a few-million-parameter GPT-2 takes a larger step."""
    weight_decay: float = 0.0
    """AdamW weight decay (TRL's default)."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm (TRL's default); None: no clipping."""
    dropout_off: bool = True
    """Train with dropout off (TRL's ``disable_dropout`` default): the reward is then a deterministic
    function during training as it is when scoring."""
    trainable_layers: int | None = None
    """Train only the top this-many transformer blocks, the final layer norm and the head (None: every
    weight). Frozen lower blocks need no backward pass: faster steps, at some cost in accuracy."""
    seed: int = 0
    """Seeds the shuffling of pairs."""


@contextlib.contextmanager
def only_top_layers_trainable(model: PreTrainedModel, trainable_layers: int | None) -> Iterator[None]:
    """Freeze the embeddings and all but the top ``trainable_layers`` GPT-2 blocks inside the block."""
    frozen: list[torch.nn.Parameter] = []
    if trainable_layers is not None:
        body = model.base_model
        if not 0 <= trainable_layers <= len(body.h):
            raise ValueError(f"trainable_layers must be between 0 and {len(body.h)}, got {trainable_layers}")
        for module in [body.wte, body.wpe, *body.h[: len(body.h) - trainable_layers]]:
            frozen += [p for p in module.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


def train_reward_model(rm: RewardModel, train_pairs: Sequence[PreferencePair],
                       valid_pairs: Sequence[PreferencePair] | None = None,
                       config: RewardTrainingConfig | None = None, progress: bool = True) -> list[dict[str, float]]:
    """Train ``rm`` in place on preference pairs with the Bradley-Terry loss; returns the history.

    Each step scores a batch of chosen and rejected texts in one forward pass, takes
    ``bradley_terry_loss(r_chosen, r_rejected, target)``, and makes one AdamW step (linear learning-rate
    decay, gradient clipping). Pairs longer than the model's context are left out with a warning
    (as TRL does). The history has one entry per step (``loss``, ``accuracy`` on the batch,
    ``lr``); with ``valid_pairs`` the last step of each epoch also has ``valid_loss``,
    ``valid_accuracy`` and ``valid_gold_accuracy``.
    """
    cfg = config or RewardTrainingConfig()
    if not train_pairs:
        raise ValueError("No training pairs: label some pairs first (ties and skips are not training pairs).")
    tokenizer, model = rm.tokenizer, rm.model
    prompts = [p.prompt for p in train_pairs]
    chosen = encode_for_reward(tokenizer, prompts, [p.chosen for p in train_pairs])
    rejected = encode_for_reward(tokenizer, prompts, [p.rejected for p in train_pairs])
    max_length = getattr(model.config, "n_positions", None)
    if max_length is not None:  # like TRL's max_length filter: a pair that does not fit is left out
        keep = [i for i in range(len(train_pairs)) if max(len(chosen[i]), len(rejected[i])) <= max_length]
        if len(keep) < len(train_pairs):
            warnings.warn(f"left out {len(train_pairs) - len(keep)} of {len(train_pairs)} pairs longer than "
                          f"{max_length} tokens", stacklevel=2)
            if not keep:
                raise ValueError(f"every pair is longer than the model's {max_length} positions")
            train_pairs = [train_pairs[i] for i in keep]
            chosen, rejected = [chosen[i] for i in keep], [rejected[i] for i in keep]
    targets = torch.tensor([p.target for p in train_pairs], dtype=torch.float32)
    with only_top_layers_trainable(model, cfg.trainable_layers):
        history = _bradley_terry_loop(rm, chosen, rejected, targets, valid_pairs, cfg, progress)
    model.eval()
    return history


def _bradley_terry_loop(rm: RewardModel, chosen: list[list[int]], rejected: list[list[int]], targets: torch.Tensor,
                        valid_pairs: Sequence[PreferencePair] | None, cfg: RewardTrainingConfig,
                        progress: bool) -> list[dict[str, float]]:
    from tqdm.auto import tqdm

    model, pad_id, device = rm.model, rm.tokenizer.pad_token_id, rm.device
    n_pairs = len(chosen)
    total = math.ceil(n_pairs / cfg.batch_size) * cfg.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
    generator = torch.Generator().manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    bar = tqdm(total=total, desc="reward model", disable=not progress)
    for epoch in range(cfg.epochs):
        order = torch.randperm(n_pairs, generator=generator).tolist()
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            ids, mask = pad_right([chosen[i] for i in rows] + [rejected[i] for i in rows], pad_id)
            model.train(not cfg.dropout_off)
            rewards = last_token_rewards(model, ids.to(device), mask.to(device))
            r_chosen, r_rejected = rewards.chunk(2)
            target = targets[rows].to(device)
            loss = bradley_terry_loss(r_chosen, r_rejected, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            schedule.step()
            clear = target == 1.0
            entry = {"step": len(history) + 1, "epoch": epoch + (start + len(rows)) / len(order), "loss": loss.item(),
                     "accuracy": pairwise_accuracy(r_chosen[clear].detach(), r_rejected[clear].detach()), "lr": lr}
            history.append(entry)
            bar.update(1)
            bar.set_postfix(loss=f"{entry['loss']:.3f}")
        if valid_pairs:
            result = evaluate_pairs(rm, valid_pairs)
            history[-1].update(valid_loss=result["loss"], valid_accuracy=result["accuracy"],
                               valid_gold_accuracy=result["gold_accuracy"])
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", valid_acc=f"{result['accuracy']:.3f}")
    bar.close()
    return history


# ============================================================================ learning from tens of labels
@torch.no_grad()
def final_token_features(rm: RewardModel, prompts: Sequence[str], responses: Sequence[str],
                         batch_size: int = 64) -> torch.Tensor:
    """The trunk's last hidden state h(x, y) at the final end-of-text token, ``(N, hidden)``.

    The reward model's raw reward is linear in it: ``r(x, y) = w · h(x, y)`` with ``w`` the score head.
    """
    rows = encode_for_reward(rm.tokenizer, prompts, responses)
    out = []
    with eval_mode(rm.model):
        for i in range(0, len(rows), batch_size):
            ids, mask = pad_right(rows[i : i + batch_size], rm.tokenizer.pad_token_id)
            ids, mask = ids.to(rm.device), mask.to(rm.device)
            hidden = rm.model.base_model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask),
                                         use_cache=False).last_hidden_state
            out.append(hidden[torch.arange(len(ids)), mask.sum(-1) - 1].float().cpu())  # right-padded: last real token
    return torch.cat(out) if out else torch.zeros(0, rm.model.config.hidden_size)


def fit_head(rm: RewardModel, pairs: Sequence[PreferencePair], *, prior: torch.Tensor | None = None,
             l2: float = HEAD_L2_FRESH, features: tuple[torch.Tensor, torch.Tensor] | None = None,
             margins: torch.Tensor | Sequence[float] | None = None) -> dict[str, float]:
    """Refit only the score head ``w`` of ``rm`` (in place) on preference pairs, the trunk frozen.

    With features ``h`` of each pair's chosen and rejected response (:func:`final_token_features`) and
    ``Δ = w · (h_chosen - h_rejected)``, it minimises the Bradley-Terry loss plus an L2 pull towards
    ``prior`` (zeros: a fresh head; the current head: a fine-tune that stays near it):

        L(w) = -mean[t · log σ(Δ) + (1 - t) · log σ(-Δ)]  +  l2 · ||w - prior||²

    This is logistic regression, convex in ``w``, so L-BFGS finds the one minimum: the fit is
    deterministic and takes well under a second. ``features`` may be passed when the same pairs'
    features were computed before. Returns the final loss and the number of pairs.

    ``margins`` (one ``m ≥ 0`` per pair; default ``None``: the loss above, unchanged) gives the margin loss of
    Llama 2 (Touvron et al., 2023): the chosen response must win by at least ``m``,

        L(w) = -mean[t · log σ(Δ - m) + (1 - t) · log σ(-Δ - m)]  +  l2 · ||w - prior||²,

    with a larger ``m`` for a pair the labeller rated as a clearer preference (:func:`rating_margins`); give a
    tie (``t = 0.5``) the margin 0. Still convex in ``w``.
    """
    if not pairs:
        raise ValueError("No preference pairs to fit the head on: label a few pairs first.")
    if features is None:
        prompts = [p.prompt for p in pairs]
        features = (final_token_features(rm, prompts, [p.chosen for p in pairs]),
                    final_token_features(rm, prompts, [p.rejected for p in pairs]))
    diff = (features[0] - features[1]).double()
    target = torch.tensor([p.target for p in pairs], dtype=torch.float64)
    head = rm.model.score.weight
    prior = torch.zeros(diff.shape[1], dtype=torch.float64) if prior is None else prior.detach().double().reshape(-1)
    if margins is not None:
        margins = torch.as_tensor(margins, dtype=torch.float64).reshape(-1)
        if margins.shape[0] != len(pairs) or not torch.isfinite(margins).all() or (margins < 0).any():
            raise ValueError(f"margins must be {len(pairs)} finite numbers >= 0, one per pair; got {margins.tolist()}")
    w = prior.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([w], lr=1.0, max_iter=200, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        delta = diff @ w
        if margins is None:
            loss = -(target * F.logsigmoid(delta) + (1 - target) * F.logsigmoid(-delta)).mean()
        else:
            loss = -(target * F.logsigmoid(delta - margins) + (1 - target) * F.logsigmoid(-delta - margins)).mean()
        loss = loss + l2 * (w - prior).pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(objective)  # returns the loss at the start; the one at the minimum is evaluated below
    loss = objective()
    with torch.no_grad():
        head.copy_(w.detach().reshape(head.shape).to(head.dtype))
    return {"loss": float(loss.detach()), "pairs": len(pairs)}


def rating_margins(ratings: Sequence[int | None], scale: float, top: int = 5) -> torch.Tensor:
    """Margins for :func:`fit_head` from 1-5 ratings of how clear each preference was: ``scale·(rating-1)/(top-1)``.

    Rating 1 ("barely") gets margin 0, rating ``top`` ("by far") gets ``scale``; a missing rating (``None``,
    e.g. a tie) gets 0. ``scale`` is in units of the head's reward difference Δ.
    """
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    out = []
    for r in ratings:
        if r is not None and not (isinstance(r, int | np.integer) and 1 <= r <= top):
            raise ValueError(f"a rating is a whole number from 1 to {top} (or None), got {r!r}")
        out.append(0.0 if r is None else scale * (int(r) - 1) / (top - 1))
    return torch.tensor(out, dtype=torch.float64)


def pair_features(rm: RewardModel, prompts: Sequence[str], responses_a: Sequence[str], responses_b: Sequence[str],
                  batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`final_token_features` of both responses of each pair: ``(h_a, h_b)``, each ``(N, hidden)``."""
    return (final_token_features(rm, prompts, responses_a, batch_size),
            final_token_features(rm, prompts, responses_b, batch_size))


def head_gold_accuracy(head_weight: torch.Tensor, features_a: torch.Tensor, features_b: torch.Tensor,
                       gold_a: Sequence[float], gold_b: Sequence[float]) -> tuple[float, int]:
    """:func:`gold_pairwise_accuracy` of the linear head ``w`` on pairs given by their features:
    the reward model's raw rewards are ``w · h``. Returns ``(accuracy, pairs compared)``."""
    w = head_weight.detach().reshape(-1).to(features_a.dtype)
    return gold_pairwise_accuracy((features_a @ w).numpy(), (features_b @ w).numpy(), gold_a, gold_b)


def most_uncertain(head_weight: torch.Tensor, features_a: torch.Tensor, features_b: torch.Tensor, k: int = 1,
                   exclude: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Uncertainty sampling: the indices of the ``k`` pairs the head is least sure about, most uncertain first.

    With the head ``w`` and each pair's features (:func:`pair_features`), the model's preference is
    ``P(A ≻ B) = σ(Δ)`` with ``Δ = w · (h_a - h_b)``; the least certain pairs are those with the smallest
    ``|Δ|`` (``P`` nearest 1/2), the ones whose label could change the head most. ``exclude`` (indices already
    labelled) are never chosen, nor is a pair whose two responses have the same features (``h_a = h_b``: no
    label can teach the head anything from it). Returns at most ``k`` indices (fewer when fewer remain), a
    ``LongTensor``; equal ``|Δ|`` go in index order.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if features_a.shape != features_b.shape or features_a.dim() != 2:
        raise ValueError(f"features_a and features_b must both be (pairs, hidden); got {tuple(features_a.shape)} "
                         f"and {tuple(features_b.shape)}")
    diff = features_a - features_b
    delta = (diff @ head_weight.detach().reshape(-1).to(diff.dtype)).abs()
    allowed = diff.abs().amax(dim=1) > 0
    if exclude is not None:
        allowed[torch.as_tensor(exclude, dtype=torch.long).reshape(-1)] = False
    candidates = torch.nonzero(allowed).reshape(-1)
    order = torch.sort(delta[candidates], stable=True).indices
    return candidates[order[:k]]


def warm_start(shipped: RewardModel, criterion: str) -> RewardModel:
    """The learner's starting point: a copy of the shipped reward model, whose trunk already encodes sentiment.

    For ``positive`` (the criterion the shipped model was trained on) its head is kept, to be fine-tuned;
    for ``negative`` and ``own`` the head is fresh (zeros), so nothing of the shipped preference is assumed.
    """
    check_criterion(criterion)
    model = copy.deepcopy(shipped.model)
    if criterion != "positive":
        torch.nn.init.zeros_(model.score.weight)
    info = {k: v for k, v in shipped.info.items() if k in ("base_model", "vocab_size")}
    return RewardModel(model.eval(), shipped.tokenizer, shipped.gain, shipped.bias, info=info)


HELDBACK_SHARE = 0.25
"""Share of a learner's labels kept out of training, to measure their model on their own judgements."""


def learner_reward_model(shipped: RewardModel, pairs: Sequence[PreferencePair], criterion: str, *,
                         heldout: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
                         calibration: Samples | Sequence[Samples] | None = None, seed: int = 0,
                         l2: float | None = None) -> RewardModel:
    """A reward model of the learner's own labels (notebook 04): warm-started, fitted, measured.

    1. :data:`HELDBACK_SHARE` of ``pairs`` (at random, by ``seed``) is kept out of training.
    2. :func:`warm_start` from the shipped reward model, whose trunk already encodes sentiment, and
       :func:`fit_head` on the rest (transfer: tens of labels then suffice, where a model trained from the
       base GPT-2 on them stays near chance; ``scripts/learner_reward_model_curve.py`` measures both).
    3. Measured on the held-back labels and, for a named criterion, on ``heldout``
       ``(prompts, responses_a, responses_b)`` against the criterion's gold ordering (gold ties left out).
    4. Normalised on ``calibration`` samples of the base model (mean 0, std 1), as the shipped model is.

    The measurements go to ``rm.info["evaluation"]``; :func:`usable` reads them.
    """
    check_criterion(criterion)
    clear = [p for p in pairs if p.target == 1.0]
    if not clear:
        raise ValueError("None of these labels prefers one response (all are ties or skips): a reward model learns "
                         "from A-or-B choices. Label a few more pairs and pick the better response.")
    order = torch.randperm(len(clear), generator=torch.Generator().manual_seed(seed)).tolist()
    n_back = int(round(HELDBACK_SHARE * len(clear))) if len(clear) >= 4 else 0
    heldback, train = [clear[i] for i in order[:n_back]], [clear[i] for i in order[n_back:]]
    l2 = head_l2(criterion) if l2 is None else l2
    rm = warm_start(shipped, criterion)
    fit_head(rm, train, prior=rm.model.score.weight, l2=l2)
    evaluation: dict[str, Any] = {"train_pairs": len(train), "heldback_pairs": len(heldback)}
    if heldback:
        prompts = [p.prompt for p in heldback]
        evaluation["heldback_accuracy"] = pairwise_accuracy(
            rm.score_texts(prompts, [p.chosen for p in heldback], raw=True),
            rm.score_texts(prompts, [p.rejected for p in heldback], raw=True))
    if heldout is not None and criterion in NAMED_CRITERIA:
        prompts, responses_a, responses_b = heldout
        evaluation["gold_accuracy"], evaluation["gold_pairs"] = gold_pairwise_accuracy(
            rm.score_texts(prompts, responses_a, raw=True).numpy(), rm.score_texts(prompts, responses_b, raw=True).numpy(),
            gold_scores(responses_a, prompts, criterion), gold_scores(responses_b, prompts, criterion))
    if calibration is not None:
        rm.calibrate(calibration)
    rm.info.update(criterion=criterion, method="warm start: shipped trunk, head fitted (fit_head)", l2=l2,
                   train_pairs=len(train), evaluation=evaluation)
    return rm


class LiveHeldbackAccuracy:
    """The labelling widget's running report (``LabellingWidget(after_label=...)``, notebook 04, section 2.3):
    how a reward model of the learner's A/B labels so far does on their own held-back pairs.

    Every ``every`` new A/B labels (from ``min_pairs`` on) it refits with :func:`learner_reward_model`, the
    same split (:data:`HELDBACK_SHARE` held back, by ``seed``) and head fit as section 4.3, so its last
    number is the one section 4.3 prints before measuring against gold. In between it repeats the last report.
    The labels counted are the session labeller's in the store, for ``model`` and the session's criterion.
    """

    def __init__(self, shipped: RewardModel, *, model: str, seed: int = 0, every: int = 5, min_pairs: int = 8) -> None:
        if every < 1 or min_pairs < 4:
            raise ValueError(f"every must be >= 1 and min_pairs >= 4 (to hold some back); got {every}, {min_pairs}")
        self.shipped, self.model, self.seed, self.every, self.min_pairs = shipped, model, seed, every, min_pairs
        self._fitted_at: int | None = None
        self._report = ""

    def __call__(self, session: LabellingSession) -> str:
        labels = [r for r in session.store.labels(session.labeller)
                  if r.model == self.model and r.criterion == session.criterion]
        pairs = preference_pairs(labels)   # A-or-B choices only: ties and skips are left out
        if len(pairs) < self.min_pairs:
            return (f"Your model's accuracy on your own held-back pairs shows here from {self.min_pairs} A-or-B "
                    f"labels ({len(pairs)} so far).")
        if self._fitted_at is None or len(pairs) - self._fitted_at >= self.every or len(pairs) < self._fitted_at:
            evaluation = learner_reward_model(self.shipped, pairs, session.criterion, seed=self.seed).info["evaluation"]
            right = round(evaluation["heldback_accuracy"] * evaluation["heldback_pairs"])
            self._fitted_at = len(pairs)
            self._report = (f"Your model so far (trained on {evaluation['train_pairs']} of your {len(pairs)} A-or-B "
                            f"labels) gets {right} of {evaluation['heldback_pairs']} held-back pairs right "
                            f"({evaluation['heldback_accuracy']:.0%}). It refits every {self.every} labels.")
        return self._report


# ============================================================================ where reward models live
def learner_reward_model_dir(profile: Profile | str | None = None) -> Path:
    """Where notebook 04 saves the learner's own reward model: the user cache, one folder per base model."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    base = COURSE_MODEL_NAME if profile.offline else FULL_MODEL_NAME
    return cache_dir() / "reward_models" / base


USABLE_ACCURACY = 0.65
"""A learner's reward model is used by default in notebooks 05-07 only if it orders at least this share of
held-out pairs correctly: by the criterion's gold score for a named criterion, by the learner's own held-back
labels (at least :data:`MIN_HELDBACK_PAIRS` of them) for ``own``."""
MIN_HELDBACK_PAIRS = 8
FORCE_HINT = ("to use it anyway, set USE_MY_REWARD_MODEL_ANYWAY = True in the setup cell "
              "(load_reward_model(require_usable=False))")


def usable(info: dict[str, Any]) -> tuple[bool, str]:
    """Is a learner's reward model good enough to drive notebooks 05-07? Returns ``(verdict, reason)``.

    Reads the measurements notebook 04 saves in ``info["evaluation"]`` (see :data:`USABLE_ACCURACY`).
    """
    ev = info.get("evaluation") or {}
    criterion = info.get("criterion", "positive")
    if criterion in NAMED_CRITERIA:
        acc, n, what = ev.get("gold_accuracy"), ev.get("gold_pairs", 0), f"held-out pairs by the {criterion!r} gold score"
    else:
        acc, n, what = ev.get("heldback_accuracy"), ev.get("heldback_pairs", 0), "your own held-back labels"
        if n < MIN_HELDBACK_PAIRS:
            return False, (f"it was checked on only {n} of your held-back labels (at least {MIN_HELDBACK_PAIRS} "
                           "are needed to tell it from chance): label more pairs in notebook 04")
    if not isinstance(acc, int | float) or not math.isfinite(acc):
        return False, "it carries no accuracy measurement (train it again in notebook 04)"
    if acc < USABLE_ACCURACY:
        return False, f"it orders {acc:.0%} of {n} {what} correctly, below the {USABLE_ACCURACY:.0%} bar"
    return True, f"it orders {acc:.0%} of {n} {what} correctly (bar {USABLE_ACCURACY:.0%})"


def load_reward_model(prefer_learner: bool = True, *, tokenizer: PreTrainedTokenizerBase | None = None,
                      profile: Profile | str | None = None, folder: str | Path | None = None,
                      device: torch.device | str = "cpu", verbose: bool = True,
                      require_usable: bool = True) -> RewardModel:
    """The reward model notebooks 05-07 use: the learner's own (notebook 04) if it is usable, else the shipped one.

    The learner's model is used only when :func:`usable` says so (``require_usable=False`` uses it anyway);
    otherwise one sentence says why the shipped model is used and how to force the learner's. A learner's
    model whose files are corrupt, or with another vocabulary than ``tokenizer`` (the policy's), is passed
    over with a warning naming the folder; the shipped one then raises. ``folder`` loads that folder and
    nothing else. ``rm.folder`` says which was loaded, ``rm.criterion`` what it prefers (printed if ``verbose``).
    """
    learner_dir = learner_reward_model_dir(profile)
    candidates = [Path(folder)] if folder is not None else (
        ([learner_dir] if prefer_learner else []) + [SHIPPED_REWARD_MODEL_DIR])
    for i, path in enumerate(candidates):
        last = i == len(candidates) - 1
        if not (path / INFO_FILE).exists() and not (path / "model.safetensors").exists():
            continue
        try:
            rm = RewardModel.load(path, device)
            if tokenizer is not None:
                rm.check_tokenizer(tokenizer)
        except (FileNotFoundError, RewardModelFileError, RewardModelTokenizerError) as err:
            if last:
                raise
            warnings.warn(f"Not using the reward model in {path}: {err}", stacklevel=2)
            continue
        mine = folder is None and path == learner_dir
        if mine and require_usable:
            ok, reason = usable(rm.info)
            if not ok:
                print(f"Using the shipped reward model, not yours ({path}): {reason}; {FORCE_HINT}.")
                continue
        if verbose:
            print(f"Using {'your own reward model (notebook 04)' if mine else 'the reward model'} from {path} "
                  f"(criterion: {rm.criterion!r})")
        return rm
    looked = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"No reward model found (looked in {looked}). The course ships one in {SHIPPED_REWARD_MODEL_DIR}: restore "
        f"it with `git checkout -- data/models` or rebuild it with `{BUILD_COMMAND}`; or train your own in notebook 04."
    )


__all__ = [
    "BUILD_COMMAND", "HEAD_L2_FRESH", "HEAD_L2_KEEP", "MIN_HELDBACK_PAIRS", "REWARD_MODEL_NAME", "SCORING_RULE", "SHIPPED_REWARD_MODEL_DIR",
    "USABLE_ACCURACY", "RewardModel", "RewardModelFileError", "RewardModelTokenizerError", "final_token_features",
    "fit_head", "head_gold_accuracy", "head_l2", "learner_reward_model", "most_uncertain", "pair_features",
    "rating_margins", "usable", "warm_start", "HELDBACK_SHARE", "RewardTrainingConfig", "bradley_terry_loss", "check_reward_tokenizer",
    "encode_for_reward", "eval_mode", "evaluate_pairs", "format_for_reward", "gold_pairwise_accuracy",
    "init_reward_model", "last_token_rewards", "learner_reward_model_dir", "load_reward_model",
    "only_top_layers_trainable", "pad_right", "pairwise_accuracy", "same_vocabulary", "samples_for_reward",
    "train_reward_model",
]
