"""Run profiles: one switch (``RLHF_PROFILE``) that scales every notebook.

- ``quick`` (default): a 2-core CPU, fully offline, minutes per notebook, the course's own GPT-2.
- ``full``: the real ``gpt2`` and IMDB prompts from the Hugging Face hub, longer runs, a GPU expected.

Both run the same code; only sizes, step counts and the model/data source differ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

PROFILE_ENV_VAR = "RLHF_PROFILE"
DEFAULT_PROFILE = "quick"

T = TypeVar("T")


class UnknownProfileError(ValueError):
    """Raised for a profile name that is not one of :data:`PROFILES`."""


@dataclass(frozen=True)
class Profile:
    """A named run size. Notebooks ask it for sizes with :meth:`pick`."""

    name: str
    """``"quick"`` or ``"full"``."""
    description: str
    """One line shown in the setup banner."""
    offline: bool
    """True when the profile must never touch the network (the quick profile)."""

    def pick(self, *, quick: T, full: T) -> T:
        """Return the value for this profile, e.g. ``profile.pick(quick=300, full=3000)``."""
        return quick if self.name == "quick" else full


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="2-core CPU, offline, the course's own GPT-2",
        offline=True,
    ),
    "full": Profile(
        name="full",
        description="real gpt2 + IMDB from the Hugging Face hub, GPU expected",
        offline=False,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Resolve a profile: the argument, else ``$RLHF_PROFILE``, else ``quick``.

    An unknown name raises :class:`UnknownProfileError` listing the valid ones.
    """
    source = "argument"
    if name is None:
        name, source = os.environ.get(PROFILE_ENV_VAR), f"${PROFILE_ENV_VAR}"
    if name is None or name.strip() == "":
        name, source = DEFAULT_PROFILE, "default"
    key = name.strip().lower()
    if key not in PROFILES:
        valid = ", ".join(repr(k) for k in PROFILES)
        raise UnknownProfileError(
            f"Unknown profile {name!r} (from {source}). Valid profiles: {valid}. "
            f"Use setup(profile='quick') or set {PROFILE_ENV_VAR}=quick."
        )
    return PROFILES[key]
