"""setup(): seeding is repeatable, the profile switch works, a bad profile name is a clear error."""

import random

import numpy as np
import pytest
import torch

from rlhf_utils import PROFILES, UnknownProfileError, setup
from rlhf_utils.profiles import PROFILE_ENV_VAR


def _draw() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_seed_gives_same_numbers():
    setup(seed=123, verbose=False)
    first = _draw()
    setup(seed=123, verbose=False)
    assert _draw() == first


def test_different_seed_gives_different_numbers():
    setup(seed=1, verbose=False)
    a = _draw()
    setup(seed=2, verbose=False)
    assert _draw() != a


def test_unknown_profile_lists_valid_names():
    with pytest.raises(UnknownProfileError) as info:
        setup(profile="turbo", verbose=False)
    message = str(info.value)
    assert "turbo" in message
    for name in PROFILES:
        assert repr(name) in message


def test_env_var_selects_the_profile(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV_VAR, "full")
    assert setup(verbose=False).profile.name == "full"
    monkeypatch.setenv(PROFILE_ENV_VAR, "quick")
    assert setup(verbose=False).profile.name == "quick"


def test_argument_overrides_env_var(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV_VAR, "full")
    assert setup(profile="quick", verbose=False).profile.name == "quick"


def test_default_profile_is_quick(monkeypatch):
    monkeypatch.delenv(PROFILE_ENV_VAR, raising=False)
    course = setup(verbose=False)
    assert course.profile.name == "quick"
    assert course.profile.pick(quick=1, full=2) == 1


def test_bad_env_var_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV_VAR, "fast")
    with pytest.raises(UnknownProfileError, match=PROFILE_ENV_VAR):
        setup(verbose=False)


def test_banner_names_profile_and_seed(capsys, monkeypatch):
    monkeypatch.delenv(PROFILE_ENV_VAR, raising=False)
    setup(seed=7, device="cpu")
    out = capsys.readouterr().out
    assert "profile=quick" in out and "seed=7" in out and "device=cpu" in out
