"""The learner's path, end to end: a person labels in notebook 04's widget, and notebook 05 runs on their model.

CI's regular run of the notebooks lets the simulated labeller stand in for the learner. This test goes
the person's way instead: notebook 04 runs with ``SIMULATE = False`` and a named criterion (parameters
injected with papermill), and where the widget appears, a scripted person reads the pair the widget shows
and presses the widget's own buttons, one click per pair. Notebook 04 then trains and saves the learner's
reward model; notebook 05 must pick it up, say so, and move the reviews the learner's way: its result
check asserts that criterion's gold score rose by at least 0.3 at a sequence KL of at most 8 (for
``negative``: the reviews get more negative). Then notebook 07 runs on the same model, and the scripted person
labels its second round's 40 pairs in that notebook's widget: the round must count them as the person's, show
the reward model with and without them, and pass its result check.

The criterion is ``negative``: its reward model gets a fresh head, the path most unlike CI's. ``positive`` keeps the
shipped head (``reward_model.warm_start``, unit-tested) and its notebook 05 is the one CI runs.

Notebook 04's cells tagged ``course-reward-models`` (the course's own reward models from thousands of
simulated labels, run by the regular notebook test) are skipped here, it samples fewer training pairs, and it
stops once the learner's model is saved.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SKIPPED_TAG = "course-reward-models"
WIDGET_TAG = "labelling-widget"
SAVED_TAG = "learner-model-saved"

# Runs in notebook 04's kernel right after the widget cell: a person who prefers reviews by the notebook's
# criterion, with Bradley-Terry noise, pressing the buttons of the widget on screen (never session.label directly).
SCRIPTED_PERSON = """
from rlhf_utils.feedback import SimulatedLabeller
_person = SimulatedLabeller(criterion=criterion, seed=11, name=widget.session.labeller)
_clicks = []
while widget.session.current is not None and len(_clicks) < 500:
    _shown = widget.shown_pair                       # what is on screen now
    _choice, _ = _person.judge(_shown)
    widget.button_for(_choice).click()
    _clicks.append(_choice)
print(json.dumps({"clicks": len(_clicks), "choices": {c: _clicks.count(c) for c in set(_clicks)},
                  "note": widget.note.value}))
"""


def cell_tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def run_as_a_person(notebook: str, parameters: dict, skipped_tag: str | None = None,
                    stop_tag: str | None = None) -> list[dict]:
    """Execute a notebook with papermill's parameters and nbclient, clicking through the widget of the cell
    tagged ``labelling-widget``; returns the outputs of every executed cell (the scripted person's included)."""
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(NOTEBOOKS / notebook))
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    outputs = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or (skipped_tag and skipped_tag in cell_tags(cell)):
                continue
            client.execute_cell(cell, index)
            outputs.append({"tags": cell_tags(cell), "outputs": cell.outputs})
            if WIDGET_TAG in cell_tags(cell):
                person = nbformat.v4.new_code_cell("import json\n" + SCRIPTED_PERSON)
                client.execute_cell(person, index)
                outputs.append({"tags": ["scripted-person"], "outputs": person.outputs})
            if stop_tag and stop_tag in cell_tags(cell):
                break  # the exercises after it are the regular notebook test's
    return outputs


def run_notebook_04_as_a_person(criterion: str) -> list[dict]:
    return run_as_a_person("04_reward_modeling.ipynb", {"SIMULATE": False, "YOUR_NAME": "scripted-person",
                                                        "CRITERION": criterion, "N_TRAIN_PAIRS": 200},
                           skipped_tag=SKIPPED_TAG, stop_tag=SAVED_TAG)


def printed(cell_outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in cell_outputs if o.get("output_type") == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["negative"])   # positive's path differs only in keeping the shipped head
def test_a_persons_labels_in_the_widget_drive_notebooks_05_and_07(criterion, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RLHF_SIMULATED_FEEDBACK", "0")   # a person labels, even under CI
    monkeypatch.delenv("MPLBACKEND", raising=False)

    cells = run_notebook_04_as_a_person(criterion)
    person = json.loads(printed(next(c["outputs"] for c in cells if c["tags"] == ["scripted-person"])).strip())
    assert person["clicks"] >= 40, person
    assert "held-back pairs right" in person["note"], person["note"]   # the live accuracy under the buttons

    from rlhf_utils import reward_model
    from rlhf_utils.feedback_store import FeedbackStore, default_store_path

    labels = FeedbackStore(default_store_path("labels")).labels("scripted-person")
    assert len(labels) == person["clicks"] and all(r.criterion == criterion for r in labels)
    assert all(r.response_time_s is not None for r in labels)   # clicked in the widget, not written directly
    saved = reward_model.RewardModel.load(reward_model.learner_reward_model_dir("quick"))
    assert saved.criterion == criterion and saved.info["labeller"] == "scripted-person"
    assert reward_model.usable(saved.info)[0], saved.info["evaluation"]

    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(NOTEBOOKS / "05_rlhf_ppo_gpt2.ipynb", out, kernel_name="python3",
                               cwd=str(NOTEBOOKS), progress_bar=False)
    text = "".join(printed(c.get("outputs", [])) for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code")
    assert "your own reward model (notebook 04)" in text and f"criterion: {criterion!r}" in text
    assert "result check passed" in text
    print("learner path:", person, saved.info["evaluation"],
          *(line for line in text.splitlines() if "gain" in line or "Using" in line), sep="\n  ")
    # notebook 07 on the same model: the person labels round 2's 40 pairs in its widget, and the round says so
    cells = run_as_a_person("07_overoptimization_and_iteration.ipynb", {"SIMULATE": False, "YOUR_NAME": "scripted-person"})
    person = json.loads(printed(next(c["outputs"] for c in cells if c["tags"] == ["scripted-person"])).strip())
    text = "".join(printed(c["outputs"]) for c in cells)
    assert person["clicks"] == 40 and "reward model criterion: 'negative'" in text
    assert "40 of them yours" in text, [line for line in text.splitlines() if "round 2" in line]
    assert "round 2 without your labels" in text and "result check passed" in text.lower()
    print("notebook 07:", *(line for line in text.splitlines() if "yours" in line or "without your" in line), sep="\n  ")
