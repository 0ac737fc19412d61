"""`setup()`: the first call of every notebook (seeds, device, profile, banner)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from .profiles import Profile, get_profile, use_network


@dataclass(frozen=True)
class CourseSetup:
    """What :func:`setup` resolved; notebooks read sizes and the device from it."""

    profile: Profile
    device: torch.device
    seed: int

    def banner(self) -> str:
        import transformers

        return (
            f"RLHF course | profile={self.profile.name} ({self.profile.description}) | "
            f"device={self.device} | seed={self.seed} | torch {torch.__version__} | "
            f"transformers {transformers.__version__}"
        )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a notebook run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(
    seed: int = 0, profile: str | None = None, device: str | None = None, verbose: bool = True
) -> CourseSetup:
    """Seed everything, pick the device, resolve the profile and print a one-line banner.

    ``profile`` overrides ``$RLHF_PROFILE`` (default ``quick``); an unknown name raises an error
    that lists the valid ones. The offline (quick) profile keeps the Hugging Face libraries in
    offline mode (importing ``rlhf_utils`` already switched them, before they were imported), so
    nothing in it can reach the network; the full profile switches them back on and says in one
    line what it downloads. Hides transformers' per-file "Loading weights" bars, which would
    clutter every notebook.
    """
    resolved = get_profile(profile)
    network = use_network(resolved)  # before the import below: the hub library reads the switches then
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    seed_everything(seed)
    course = CourseSetup(profile=resolved, device=choose_device(device), seed=seed)
    if verbose:
        print(course.banner())
        if network:
            print(network)
    return course
