"""The package reads in pipeline order: every import inside ``rlhf_utils`` points to an earlier module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rlhf_utils
from rlhf_utils import PIPELINE

PACKAGE = Path(rlhf_utils.__file__).parent
README = PACKAGE.parent / "README.md"


def internal_imports(source: str) -> set[str]:
    """The ``rlhf_utils`` modules a module's source imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "rlhf_utils":
                parts = node.module.split(".")
                found.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "rlhf_utils" and len(parts) > 1:
                    found.add(parts[1])
    return found


def backward_imports(module: str, source: str, order: tuple[str, ...]) -> list[str]:
    """Imports of ``module`` that point at itself or a later module of ``order``."""
    position = order.index(module)
    return sorted(m for m in internal_imports(source) if m in order and order.index(m) >= position)


def test_every_module_is_in_the_pipeline():
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert modules == set(PIPELINE), (
        f"not in PIPELINE: {sorted(modules - set(PIPELINE))}; listed but missing: {sorted(set(PIPELINE) - modules)}")
    assert len(PIPELINE) == len(set(PIPELINE))


@pytest.mark.parametrize("module", PIPELINE)
def test_imports_point_forward_along_the_pipeline(module):
    backward = backward_imports(module, (PACKAGE / f"{module}.py").read_text(), PIPELINE)
    assert not backward, f"rlhf_utils.{module} imports {backward}, which come at or after it in rlhf_utils.PIPELINE"


def test_the_check_catches_a_backward_import():
    order = ("generation", "reward_model", "lm_ppo")
    assert backward_imports("generation", "from .lm_ppo import sample\n", order) == ["lm_ppo"]
    assert backward_imports("reward_model", "def f():\n    from rlhf_utils.lm_ppo import x\n", order) == ["lm_ppo"]
    assert backward_imports("reward_model", "from . import lm_ppo, generation\n", order) == ["lm_ppo"]
    assert backward_imports("lm_ppo", "import rlhf_utils.generation\nfrom .reward_model import y\n", order) == []


def test_the_readme_maps_every_module_in_order():
    text = README.read_text()
    text = text[text.index("## The package `rlhf_utils`"):]
    positions = [text.find(f"`{m}`") for m in PIPELINE]
    assert all(p >= 0 for p in positions), [m for m, p in zip(PIPELINE, positions) if p < 0]
    assert positions == sorted(positions), "the README's module map is not in pipeline order"
