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
    temporary folder so runs never see each other's files).
    """
    root = Path(os.environ.get("RLHF_CACHE_DIR", Path.home() / ".cache" / "rlhf_course"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def shown_path(path: str | Path) -> str:
    """A path as logged in committed results: relative to the repository when inside it (no machine prefix)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def logged_args(args) -> dict:
    """A script's ``argparse`` arguments as JSON values, paths shown with :func:`shown_path`."""
    return {k: shown_path(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
