"""Load the base language model by profile - the same ``from_pretrained`` call for both.

- ``quick``: the course's own GPT-2 from ``data/models/course-gpt2`` (offline; no network call);
- ``full``: the real ``gpt2`` from the Hugging Face hub, with a pad token added (GPT-2 has none).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .lm_task import COURSE_MODEL_NAME, FULL_MODEL_NAME, PAD

FULL_MODEL_ENV_VAR = "RLHF_FULL_MODEL"
"""Overrides the full profile's ``gpt2``: another hub id or a local folder of the same architecture."""
from .paths import MODELS_DIR
from .profiles import Profile, get_profile


class ModelTokenizerMismatchError(ValueError):
    """A tokenizer whose vocabulary does not fit the model it is used with."""


class ModelFolderError(OSError):
    """A local model folder that is empty, incomplete or corrupt (the message names it and the fix)."""


TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
"""A GPT-2 tokenizer folder holds ``tokenizer.json``, or the older ``vocab.json`` + ``merges.txt``."""


def _restore_hint(folder: Path) -> str:
    if folder.resolve() == (MODELS_DIR / COURSE_MODEL_NAME).resolve():
        return ("It ships with the course: restore it with `git checkout -- data/models` or rebuild it with "
                "`python scripts/build_corpus.py && python scripts/train_course_gpt2.py`.")
    return ("Save the model and its tokenizer there again (`model.save_pretrained(folder)` and "
            "`tokenizer.save_pretrained(folder)`), or pass another folder.")


def check_model_folder(folder: str | Path) -> None:
    """Raise :class:`ModelFolderError` unless ``folder`` holds a config, safetensors weights and a tokenizer."""
    folder = Path(folder)
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any(folder.glob("*.safetensors")):
        missing.append("model.safetensors")
    if not any(all((folder / name).is_file() for name in names) for names in TOKENIZER_FILES):
        missing.append("the tokenizer (tokenizer.json, or vocab.json and merges.txt)")
    if missing:
        raise ModelFolderError(f"The model folder {folder} is incomplete: {', '.join(missing)} missing. "
                               + _restore_hint(folder))


def base_model_source(profile: Profile | str | None = None) -> str:
    """Where the profile's base model comes from: a local folder (quick) or a hub id (full).

    ``$RLHF_FULL_MODEL`` replaces the full profile's ``gpt2`` (e.g. a local copy of it: same code path).
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    if profile.offline:
        return str(MODELS_DIR / COURSE_MODEL_NAME)
    return os.environ.get(FULL_MODEL_ENV_VAR) or FULL_MODEL_NAME


def check_model_tokenizer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, what: str = "model") -> None:
    """Raise :class:`ModelTokenizerMismatchError` unless ``tokenizer`` was made for ``model``."""
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab or (len(tokenizer) < vocab - 128):
        raise ModelTokenizerMismatchError(
            f"The tokenizer has {len(tokenizer)} tokens but the {what}'s vocabulary has {vocab}: they come from "
            "different models. Load the tokenizer from the same folder or hub id as the model."
        )
    pad_id = getattr(model.config, "pad_token_id", None)
    if pad_id is not None and tokenizer.pad_token_id is not None and pad_id != tokenizer.pad_token_id:
        raise ModelTokenizerMismatchError(
            f"The tokenizer's pad token id ({tokenizer.pad_token_id}) differs from the {what}'s "
            f"config.pad_token_id ({pad_id}): load both from the same folder."
        )


def load_tokenizer(source: str | Path, offline: bool = True) -> PreTrainedTokenizerBase:
    """Load a tokenizer; add the separate pad token when it has none (the real GPT-2 has none)."""
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=offline)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": PAD})
    tokenizer.padding_side = "left"  # prompts are left-padded so every response starts at the same column
    return tokenizer


def load_base_model(
    profile: Profile | str | None = None, source: str | Path | None = None, device: torch.device | str = "cpu"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the profile's base causal LM and its tokenizer (``source`` overrides the profile's default).

    The quick profile reads only local files (``local_files_only=True``); a missing folder says how to
    rebuild it. In the full profile an unreachable hub says that the quick profile works offline.
    """
    profile = get_profile(profile)
    source = str(source or base_model_source(profile))
    is_local = Path(source).exists()
    if profile.offline and not is_local:
        raise FileNotFoundError(
            f"The course model folder {source} is missing. It ships with the course under data/models/; "
            "if you deleted it, restore it with `git checkout -- data/models` or rebuild it with "
            "`python scripts/build_corpus.py && python scripts/train_course_gpt2.py`."
        )
    if is_local:
        check_model_folder(source)
    try:
        tokenizer = load_tokenizer(source, offline=profile.offline or is_local)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=profile.offline or is_local)
    except Exception as exc:  # a local folder's files are corrupt: say which folder, and how to restore it
        if is_local:
            raise ModelFolderError(f"Could not load the model folder {source}: its files are corrupt "
                                   f"({type(exc).__name__}: {str(exc)[:200]}). " + _restore_hint(Path(source))) from exc
        if not isinstance(exc, OSError):
            raise
        raise OSError(
            f"Could not load {source!r} from the Hugging Face hub ({exc.__class__.__name__}). The `full` profile "
            "needs the hub; the `quick` profile works offline: set RLHF_PROFILE=quick or call setup(profile='quick')."
        ) from exc
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))  # room for the pad token added to GPT-2
    model.config.pad_token_id = tokenizer.pad_token_id
    check_model_tokenizer(model, tokenizer)
    return model.to(device).eval(), tokenizer
