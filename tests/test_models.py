"""Loading the base model by profile: the same from_pretrained path, clear errors, no network in quick."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from rlhf_utils import models
from rlhf_utils.lm_task import END_OF_TEXT, PAD
from rlhf_utils.pretraining import train_byte_level_bpe

TEXTS = ["This movie was great fun and the acting was superb.", "I hated every minute of this boring film."] * 20


def save_tiny_gpt2(folder, with_pad: bool = False, vocab_extra: int = 0) -> None:
    """A GPT-2-architecture model and a GPT-2-like tokenizer (no pad token, like the real gpt2)."""
    if with_pad:
        tokenizer = train_byte_level_bpe(TEXTS, vocab_size=300)
    else:  # like the real GPT-2 tokenizer: an end-of-text token and no pad token at all
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(TEXTS, vocab_size=300, special_tokens=[END_OF_TEXT], show_progress=False)
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=END_OF_TEXT, bos_token=END_OF_TEXT)
    config = GPT2Config(vocab_size=len(tokenizer) + vocab_extra, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def test_full_branch_loads_local_gpt2_and_adds_pad(tmp_path):
    save_tiny_gpt2(tmp_path)
    vocab_before = len(PreTrainedTokenizerFast.from_pretrained(tmp_path))
    model, tokenizer = models.load_base_model("full", source=tmp_path)
    assert len(tokenizer) == vocab_before + 1  # the pad token was added...
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)  # ...and the embeddings grown to fit
    assert tokenizer.pad_token == PAD and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.get_input_embeddings().num_embeddings >= len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.padding_side == "left"
    ids = tokenizer(["This movie was"], return_tensors="pt")["input_ids"]
    assert torch.isfinite(model(ids).logits).all()


def test_quick_profile_missing_folder_says_how_to_rebuild(tmp_path):
    with pytest.raises(FileNotFoundError, match="rebuild it"):
        models.load_base_model("quick", source=tmp_path / "nowhere")


def test_mismatched_tokenizer_is_a_clear_error(tmp_path):
    save_tiny_gpt2(tmp_path, with_pad=True, vocab_extra=1000)
    model = GPT2LMHeadModel.from_pretrained(tmp_path)
    tokenizer = models.load_tokenizer(tmp_path)
    with pytest.raises(models.ModelTokenizerMismatchError, match="different models"):
        models.check_model_tokenizer(model, tokenizer)


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="Valid profiles"):
        models.base_model_source("huge")


def test_full_profile_without_hub_points_to_quick(tmp_path):
    """With the hub unreachable (forced offline here, so the test is instant) the error names the fix."""
    code = textwrap.dedent(
        """
        from rlhf_utils import models
        try:
            models.load_base_model("full", source="no-such-org/no-such-model")
        except OSError as exc:
            print("MESSAGE:", exc)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": os.fspath(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "MESSAGE:" in out.stdout, out.stderr
    assert "quick" in out.stdout and "offline" in out.stdout
