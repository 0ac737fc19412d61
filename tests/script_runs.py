"""Helpers for the tests that run the scripts in ``scripts/`` and ``benchmarks/``."""

from __future__ import annotations

import importlib.util
import json
from importlib import metadata
from pathlib import Path
from types import ModuleType

from rlhf_utils.paths import REPO_ROOT


def load_script(relative_path: str) -> ModuleType:
    """Import a script (``"scripts/ppo_beta_sweep.py"``) as a module, without running it."""
    path = REPO_ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_json(value) -> str:
    """``value`` as the JSON a results file holds (NaN spelled out, so NaN equals NaN when compared)."""
    return json.dumps(value, sort_keys=True)


def read_results_file(path: Path, script: str, returned: dict) -> dict:
    """The results file at ``path``, checked to be in the one layout (``rlhf_utils.results.results_file``),
    to name ``script``, and to hold what the script's ``main`` returned."""
    saved = json.loads(path.read_text())
    assert saved["script"] == script, saved["script"]
    assert {"args", "machine", "versions"} <= set(saved), sorted(saved)
    assert saved["versions"]["torch"] == metadata.version("torch") and saved["machine"]["torch_threads"] >= 1
    assert as_json(saved) == as_json(json.loads(json.dumps({k: returned[k] for k in saved})))
    return saved
