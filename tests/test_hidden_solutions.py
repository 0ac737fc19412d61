"""Every hidden solution passes its exercise's checker, and the untouched stub does not.

An exercise is three cells: the learner's stub (a code cell with ``YOUR CODE HERE``), the checker cell after it, and
a Markdown ``<details><summary>Solution</summary>`` block with the solution in a ```` ```python ```` fence. The test
runs only the notebook's cells tagged ``exercise-setup`` (the setup cell, and the few cheap cells an exercise reads:
they never train), then for each exercise: stub + checker must print a failure; stub, then the solution in its place,
+ checker must print a pass and no failure.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported by a notebook cell: no window, no inline backend

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rlhf_utils.exercises import FAIL, PASS  # noqa: E402

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
SETUP_TAG = "exercise-setup"
SOLUTION = re.compile(r"<details><summary>Solution</summary>.*?```python\n(.*?)```", re.S)
STUB = re.compile(r"your code here", re.I)
# A tagged cell must not train: these calls are the course's training loops and optimiser steps.
TRAINING = re.compile(r"(\btrain|train_dpo|train_reward_model\w*|train_reinforce|train_ppo|train_dpo_with_trl|"
                      r"rejection_sampling_finetune)\(|\.step\(|\.train\(\)")
# Sizes that only say how much data a tagged cell makes, shrunk so the test stays quick (same code, less data):
# notebook -> (run right after the tagged cell that first defines this name, code).
SMALLER = {
    "04_reward_modeling": ("heldout_prompts", "heldout_prompts = heldout_prompts[:64]  # exercise 3 clicks on any number of pairs"),
    "06_alternatives_to_ppo": ("settings", 'settings["dpo_pairs"] = 64  # exercise 3 reads the first 64 pairs'),
}


@dataclass(frozen=True)
class Exercise:
    notebook: str
    number: int
    stub: str
    checker: str
    solution: str


def exercises(path: Path) -> list[Exercise]:
    """The notebook's exercises in order: each solution block with the checker and stub cells before it."""
    cells = nbformat.read(path, as_version=4).cells
    found = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for solution in SOLUTION.findall(cell.source):
            code = [j for j in range(i) if cells[j].cell_type == "code"]
            checker = code[-1]
            stubs = [j for j in code if j < checker and STUB.search(cells[j].source)]
            assert stubs, f"{path.name}: no stub cell (one with 'YOUR CODE HERE') before the checker of cell {checker}"
            found.append(Exercise(path.stem, len(found) + 1, cells[stubs[-1]].source, cells[checker].source, solution))
    return found


CASES = [exercise for path in NOTEBOOKS for exercise in exercises(path)]


def test_every_notebook_with_exercises_is_found():
    with_exercises = {e.notebook for e in CASES}
    assert len(with_exercises) == len(NOTEBOOKS), f"no exercises found in {sorted({p.stem for p in NOTEBOOKS} - with_exercises)}"
    for name in with_exercises:
        assert sum(e.notebook == name for e in CASES) >= 2, f"{name} has fewer than 2 exercises with a hidden solution"


def run(source: str, namespace: dict, label: str) -> str:
    """Execute one cell's source in ``namespace`` and return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, label, "exec"), namespace)  # noqa: S102 - the course's own notebook cells
    return out.getvalue()


_namespaces: dict[str, dict] = {}


@pytest.fixture
def setup_namespace():
    """The namespace after a notebook's tagged setup cells, built once per notebook (torch's thread count restored)."""
    threads = torch.get_num_threads()

    def get(name: str) -> dict:
        if name not in _namespaces:
            _namespaces[name] = build_namespace(name)
        return _namespaces[name]

    yield get
    torch.set_num_threads(threads)
    plt.close("all")


def build_namespace(name: str) -> dict:
    path = next(p for p in NOTEBOOKS if p.stem == name)
    tagged = [c.source for c in nbformat.read(path, as_version=4).cells
              if c.cell_type == "code" and SETUP_TAG in c.metadata.get("tags", [])]
    assert tagged, f"{path.name}: no cell is tagged {SETUP_TAG!r}; tag its setup cell (and the cells its exercises read)"
    namespace: dict = {"__name__": "__main__"}
    for number, source in enumerate(tagged, start=1):
        training = TRAINING.search(source)
        assert not training, (f"{path.name}: the cell tagged {SETUP_TAG!r} that starts {source[:50]!r} trains "
                              f"({training.group(0)!r}); exercises must not depend on training: untag it")
        defined_before = set(namespace)
        run(source, namespace, f"{name} setup cell {number}")
        after, smaller = SMALLER.get(name, (None, ""))
        if after in namespace and after not in defined_before:
            run(smaller, namespace, f"{name} smaller sizes")
    return namespace


@pytest.mark.parametrize("exercise", CASES, ids=lambda e: f"{e.notebook}-exercise{e.number}")
def test_hidden_solution_passes_its_checker(exercise: Exercise, setup_namespace):
    namespace = dict(setup_namespace(exercise.notebook))
    label = f"{exercise.notebook} exercise {exercise.number}"
    run(exercise.stub, namespace, f"{label} stub")
    printed = run(exercise.checker, namespace, f"{label} checker")
    assert FAIL in printed, f"{label}: the checker accepts the untouched stub:\n{printed}"

    run(exercise.solution, namespace, f"{label} solution")
    printed = run(exercise.checker, namespace, f"{label} checker")
    assert PASS in printed and FAIL not in printed, (
        f"{label}: the hidden solution does not pass its checker; fix the solution in the <details> block or the "
        f"checker cell:\n{printed}")


# The common wrong answers each checker must reject: tests/wrong_answers/<notebook>.py holds
# WRONG = {exercise number: [(what is wrong, source that defines the learner's function), ...]}.
WRONG_DIR = Path(__file__).resolve().parent / "wrong_answers"


def wrong_answers() -> list[tuple[Exercise, str, str]]:
    found = []
    by_key = {(e.notebook, e.number): e for e in CASES}
    for path in sorted(WRONG_DIR.glob("[0-9]*.py")):
        namespace: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the course's own test data
        for number, answers in namespace["WRONG"].items():
            exercise = by_key[(path.stem, number)]
            found += [(exercise, what, source) for what, source in answers]
    return found


WRONG_CASES = wrong_answers()


def test_wrong_answers_are_listed_for_the_named_exercises():
    listed = {(e.notebook, e.number) for e, _, _ in WRONG_CASES}
    assert len(WRONG_CASES) >= 1 and all(len(k) == 2 for k in listed)


@pytest.mark.parametrize("exercise,what,source", WRONG_CASES,
                         ids=[f"{e.notebook}-exercise{e.number}-{what}" for e, what, _ in WRONG_CASES])
def test_common_wrong_answer_fails_its_checker(exercise: Exercise, what: str, source: str, setup_namespace):
    namespace = dict(setup_namespace(exercise.notebook))
    label = f"{exercise.notebook} exercise {exercise.number} ({what})"
    run(exercise.stub, namespace, f"{label} stub")
    run(source, namespace, f"{label} wrong answer")
    printed = run(exercise.checker, namespace, f"{label} checker")
    assert FAIL in printed and "hint" in printed, f"{label}: the checker accepts this wrong answer, or gives no hint:\n{printed}"
