"""Where the course keeps its files: the shipped `data/` folder and a per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = DATA_DIR / "models"
RESULTS_DIR = DATA_DIR / "results"


def cache_dir() -> Path:
    """The learner's own artefacts (their labels, their reward model) live here, outside the repo.

    Defaults to ``~/.cache/rlhf_course``; set ``RLHF_CACHE_DIR`` to move it (CI points it at a
    temporary folder so runs never see each other's files). A leading ``~`` is the home folder, and
    an empty (or blank) value counts as unset, so labels never land in the working directory.
    """
    value = os.environ.get("RLHF_CACHE_DIR", "").strip()
    root = Path(value).expanduser() if value else Path.home() / ".cache" / "rlhf_course"
    root.mkdir(parents=True, exist_ok=True)
    return root
