"""Fixtures for every test in ``tests/``, and for the tests that run a course script at a tiny size."""

from __future__ import annotations

import pytest
import torch

from .tiny import tiny_script_inputs


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one torch thread, restored afterwards (also when a script under test changes it).

    The tests' tiny models are fastest on one thread; with two on a busy 2-core machine the threads wait for
    each other (tests/test_lm_ppo.py's PPO run took 4 s on one thread and 65 s on two there).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_inputs(tmp_path, monkeypatch) -> dict:
    """A tiny base model, reward model and prompt sets (:func:`tests.tiny.tiny_script_inputs`) and a private cache."""
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    return tiny_script_inputs(tmp_path)
