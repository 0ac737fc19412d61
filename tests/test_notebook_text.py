"""Every notebook has a text twin (jupytext percent format) with the same cells, and is committed without outputs.

People review and edit ``notebooks/NN_name.py``; learners open ``notebooks/NN_name.ipynb``. The pairing lives in
``notebooks/jupytext.toml``; ``jupytext --sync notebooks/*.ipynb`` brings the two back in line after an edit.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
SYNC = "run `jupytext --sync notebooks/*.ipynb` after editing either file"


def cell_view(cell) -> tuple[str, str, list[str]]:
    """What must agree between the two forms: the cell type, its source and its tags (the exercise tests read them)."""
    return cell.cell_type, cell.source, list(cell.metadata.get("tags", []))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7, f"expected the course's notebooks under notebooks/, found {len(NOTEBOOKS)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_text_twin_has_the_same_cells(notebook: Path):
    twin = notebook.with_suffix(".py")
    assert twin.exists(), f"{notebook.name} has no text twin {twin.name}: {SYNC}"
    ipynb_cells = [cell_view(c) for c in nbformat.read(notebook, as_version=4).cells]
    text_cells = [cell_view(c) for c in jupytext.read(twin).cells]
    assert len(ipynb_cells) == len(text_cells), (
        f"{notebook.name} has {len(ipynb_cells)} cells, {twin.name} {len(text_cells)}: {SYNC}")
    for number, (a, b) in enumerate(zip(ipynb_cells, text_cells, strict=True), start=1):
        assert a == b, (f"cell {number} differs between {notebook.name} and {twin.name} "
                        f"({'type' if a[0] != b[0] else 'tags' if a[2] != b[2] else 'source'}; "
                        f"starts {a[1][:60]!r}): {SYNC}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(notebook: Path):
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    dirty = [n for n, c in enumerate(code, start=1) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, (f"{notebook.name}: code cells {dirty} carry outputs or execution counts; strip them before "
                       "committing (`jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`)")


def test_every_text_twin_has_a_notebook():
    orphans = [p.name for p in NOTEBOOKS[0].parent.glob("[0-9]*.py") if not p.with_suffix(".ipynb").exists()]
    assert not orphans, f"text twins without a notebook: {orphans}; {SYNC} (or delete the stray file)"
