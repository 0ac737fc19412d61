"""Committed results: the files long runs write to ``data/results/``, and how a live re-run is judged against them.

Runs too long for a live notebook come from scripts (``scripts/``, ``benchmarks/``). Every script writes
its results in one layout, made by :func:`results_file`::

    {"script": "scripts/ppo_beta_sweep.py",          # repository-relative, never a machine's path
     "args": {...},                                  # its arguments (paths repository-relative)
     "machine": {"python": ..., "platform": ..., "cpus": ..., "torch_threads": ...},
     "versions": {"torch": ..., "transformers": ..., "trl": ..., ...},
     ...}                                            # the script's own numbers

and :func:`write_results` replaces the file atomically (a crash mid-write leaves the old file whole).
Files committed before this layout have ``script`` and ``args`` but no ``machine`` or ``versions``.

A notebook re-runs a small part live and checks that it agrees with the committed numbers
(:func:`agrees`, :func:`agrees_with_runs`), but only when it ran on the models those were made with
(:func:`comparable_with_committed`).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .paths import REPO_ROOT, RESULTS_DIR

LIBRARIES = ("torch", "transformers", "trl", "tokenizers", "datasets", "accelerate", "gymnasium", "numpy")
"""The libraries whose versions a results file records."""


# ============================================================================ result files
def shown_path(path: str | Path) -> str:
    """A path as logged in committed results: relative to the repository when inside it (no machine prefix)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def logged_args(args) -> dict:
    """A script's ``argparse`` arguments as JSON values, paths shown with :func:`shown_path`."""
    return {k: shown_path(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def machine() -> dict[str, Any]:
    """What a result was computed on: Python, platform, CPU count and torch's thread count."""
    import torch

    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            "processor": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def library_versions(names: Sequence[str] = LIBRARIES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` for one that is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def results_file(script: str | Path, args, **payload: Any) -> dict[str, Any]:
    """A results file's content: the script, its arguments, the machine and library versions, then ``payload``."""
    return {"script": shown_path(script), "args": logged_args(args) if args is not None else {},
            "machine": machine(), "versions": library_versions(), **payload}


def write_results(path: str | Path, output: dict[str, Any]) -> Path:
    """Write ``output`` as indented JSON to ``path``, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(output, indent=1) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a results file is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_results(name_or_path: str | Path) -> dict[str, Any]:
    """A results file, by name under ``data/results/`` (``"ppo_beta_sweep"``) or by path.

    A missing or unreadable file raises an error that names it and the script that rebuilds it.
    """
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = RESULTS_DIR / f"{name_or_path}.json"
    if not path.exists():
        raise FileNotFoundError(f"No results file {shown_path(path)}: restore it with `git checkout -- data/results` "
                                "or rebuild it with the script named in data/README.md.")
    try:
        output = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{shown_path(path)} is not valid JSON ({err}): restore it with "
                         "`git checkout -- data/results`.") from None
    if not isinstance(output, dict) or "script" not in output:
        raise ValueError(f"{shown_path(path)} is not a results file (no 'script' field): restore it with "
                         "`git checkout -- data/results`.")
    return output


# ============================================================================ live vs committed
def over_seeds(values: Sequence[float]) -> dict[str, float]:
    """How a script summarises one number over its seeds: median, minimum, maximum and the number of seeds."""
    values = list(values)
    if not values:
        raise ValueError("over_seeds needs at least one value")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "seeds": len(values)}


def agrees(mean_a: float, se_a: float, mean_b: float, se_b: float, k: float = 3.0, spread: float = 0.0) -> bool:
    """Two independent estimates agree when they differ by at most ``k`` combined standard errors.

    ``|a - b| <= k * sqrt(se_a² + se_b² + spread²)``: how a live re-run is checked against committed
    results. With ``k = 3`` two runs of the same thing would disagree by chance about 0.3% of the time
    *if* the standard errors were known exactly and the estimates normal. They are estimated, ``spread``
    from 2–6 seeds, so the tails are heavier: for a Student t with 4 degrees of freedom (3 seeds a side)
    the chance is about 4%, with 10 about 1.3%. Read a failed check as "look", not as proof of a bug.
    ``spread`` is the seed-to-seed standard deviation of a *training run's* outcome: a re-run on another
    machine is another draw of the run (its floating-point path differs), not only of the evaluation.
    """
    return bool(abs(mean_a - mean_b) <= k * float(np.sqrt(se_a**2 + se_b**2 + spread**2)))


def agrees_with_runs(mean: float, se: float, run_means: Sequence[float], k: float = 3.0) -> bool:
    """Does a new training run (``mean`` ± ``se``) agree with committed runs of the same configuration?

    The new run is one more draw: it is compared with the runs' average, allowing for their seed-to-seed
    spread σ (a new draw varies by σ around the true mean, the average of n draws by σ/√n); see :func:`agrees`.
    """
    values = np.asarray(run_means, dtype=float)
    if len(values) < 2:
        raise ValueError("agrees_with_runs needs at least two committed runs to estimate their spread")
    spread = float(values.std(ddof=1))
    return agrees(mean, se, float(values.mean()), spread / np.sqrt(len(values)), k=k, spread=spread)


def comparable_with_committed(profile, reward_model) -> bool:
    """Can a notebook's live re-run be checked against the committed results in ``data/results``?

    Only when it uses the models those were made with: the quick profile's course GPT-2 and the
    shipped reward model. With the learner's own reward model (notebook 04), or in the full profile,
    the live numbers measure something else and are shown, not compared.
    """
    from .reward_model import SHIPPED_REWARD_MODEL_DIR

    folder = getattr(reward_model, "folder", None)
    return (getattr(profile, "name", profile) == "quick" and folder is not None
            and Path(folder).resolve() == Path(SHIPPED_REWARD_MODEL_DIR).resolve())


__all__ = [
    "LIBRARIES", "agrees", "agrees_with_runs", "comparable_with_committed", "library_versions", "logged_args",
    "machine", "over_seeds", "read_results", "results_file", "shown_path", "write_results",
]
