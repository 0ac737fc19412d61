"""Run profiles: one switch (``RLHF_PROFILE``) that scales every notebook.

- ``quick`` (default): a 2-core CPU, fully offline, minutes per notebook, the course's own GPT-2.
- ``full``: the real ``gpt2`` and IMDB prompts from the Hugging Face hub, longer runs, a GPU expected.

Both run the same code; only sizes, step counts and the model/data source differ.

The Hugging Face libraries read their offline switches once, when they are imported. Importing
``rlhf_utils`` therefore calls :func:`use_network` first, before any of them is imported, so the
quick profile never opens a connection (no downloads, no telemetry); ``setup(profile=...)`` calls it
again and flips the libraries already imported too.
"""

from __future__ import annotations

import os
import sys
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
    downloads: str = ""
    """What the profile fetches from the network, in one line (empty for an offline profile)."""

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
        downloads=(
            "the full profile downloads gpt2 (124M parameters, about 550 MB) and the IMDB reviews (about 85 MB) "
            "from the Hugging Face hub on first use, into its cache (~/.cache/huggingface)"
        ),
    ),
}

OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
"""Environment variables that keep the Hugging Face libraries off the network (the quick profile)."""
TELEMETRY_SWITCH = "HF_HUB_DISABLE_TELEMETRY"
"""Turned on in every profile (unless the learner set it): the course sends no usage reports."""
_set_by_course: set[str] = set()  # the offline switches this module turned on, and may turn off again


def use_network(profile: Profile) -> str | None:
    """Turn the Hugging Face libraries' offline switches on (offline profile) or off (otherwise).

    Sets :data:`OFFLINE_SWITCHES` (and :data:`TELEMETRY_SWITCH`) in the environment and, for the
    libraries already imported, the constants they read them into (``huggingface_hub.constants``,
    ``datasets.config``). An online profile turns off only the switches this module turned on; one
    the learner set stays. Returns a line saying what the profile downloads, or why it cannot
    (``None`` for an offline profile).
    """
    hub = sys.modules.get("huggingface_hub.constants")
    data = sys.modules.get("datasets.config")
    os.environ.setdefault(TELEMETRY_SWITCH, "1")
    if hub is not None and os.environ[TELEMETRY_SWITCH] == "1":
        hub.HF_HUB_DISABLE_TELEMETRY = True
    if profile.offline:
        for name in OFFLINE_SWITCHES:
            if os.environ.get(name) != "1":
                os.environ[name] = "1"
                _set_by_course.add(name)
        _set_offline_constants(hub, data, True)
        return None
    for name in sorted(_set_by_course):
        os.environ.pop(name, None)
    _set_by_course.clear()
    kept = [name for name in OFFLINE_SWITCHES if os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")]
    if kept:
        return (
            f"{' and '.join(kept)} set in your environment: the {profile.name} profile can use only files already "
            "downloaded (or local copies); unset it to download from the Hugging Face hub."
        )
    _set_offline_constants(hub, data, False)
    return f"Network: {profile.downloads}."


def _set_offline_constants(hub, data, offline: bool) -> None:
    if hub is not None:
        hub.HF_HUB_OFFLINE = offline
    if data is not None:
        data.HF_HUB_OFFLINE = data.HF_DATASETS_OFFLINE = offline


def profile_at_import() -> Profile:
    """The profile ``$RLHF_PROFILE`` names, for the network switches set when the package is imported;
    a name that is not a profile counts as ``quick`` here (``setup()`` then reports it)."""
    try:
        return get_profile()
    except UnknownProfileError:
        return PROFILES[DEFAULT_PROFILE]


def get_profile(name: str | Profile | None = None) -> Profile:
    """Resolve a profile: the argument, else ``$RLHF_PROFILE``, else ``quick``.

    An unknown name raises :class:`UnknownProfileError` listing the valid ones; a value that is not
    a name at all (``get_profile(3)``) raises ``TypeError``, listing them too.
    """
    if isinstance(name, Profile):
        return name
    valid = ", ".join(repr(k) for k in PROFILES)
    if name is not None and not isinstance(name, str):
        raise TypeError(
            f"A profile is given by its name, a string: one of {valid}; got {type(name).__name__} {name!r}. "
            "Use setup(profile='quick') or setup(profile='full')."
        )
    source = "argument"
    if name is None:
        name, source = os.environ.get(PROFILE_ENV_VAR), f"${PROFILE_ENV_VAR}"
    if name is None or name.strip() == "":
        name, source = DEFAULT_PROFILE, "default"
    key = name.strip().lower()
    if key not in PROFILES:
        raise UnknownProfileError(
            f"Unknown profile {name!r} (from {source}). Valid profiles: {valid}. "
            f"Use setup(profile='quick') or set {PROFILE_ENV_VAR}=quick."
        )
    return PROFILES[key]
