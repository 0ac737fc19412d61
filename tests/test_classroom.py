"""A class's labels: export, merge (names kept, duplicates dropped, bad files refused), agreement."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

from rlhf_utils import classroom
from rlhf_utils.classroom import LabelMergeError
from rlhf_utils.feedback import LabellingSession, SimulatedLabeller
from rlhf_utils.feedback_store import FeedbackFileError, FeedbackStore

# The preferred text sorts first in half the pairs, so agreement has both categories to work with.
PAIRS = [(f"Review {i}:", f" {('a', 'the')[i % 2]} lovely film {i}", f" {('the', 'a')[i % 2]} dull film {i}")
         for i in range(12)]
MODEL = "course-gpt2"


def labelled_store(tmp_path, name: str, criterion_followed: str = "positive", seed: int = 0, session_criterion="positive",
                   pairs=PAIRS, model=MODEL) -> FeedbackStore:
    store = FeedbackStore(tmp_path / f"{name}-own.jsonl")
    person = SimulatedLabeller(name=name, criterion=criterion_followed, seed=seed, temperature=0.05)
    person.label(LabellingSession(store, pairs, model=model, labeller=name, criterion=session_criterion))
    return store


def test_export_then_merge_keeps_every_name_and_label(tmp_path):
    files = [classroom.export_labels(labelled_store(tmp_path, n), tmp_path / "collected", n) for n in ("ana", "bo")]
    assert [f.name for f in files] == ["ana.labels.jsonl", "bo.labels.jsonl"]
    merged = classroom.merge_label_files(files)
    assert merged.labellers == ["ana", "bo"] and len(merged.labels) == 24 and merged.duplicates == 0
    assert merged.files == {"ana.labels.jsonl": 12, "bo.labels.jsonl": 12}
    assert (merged.model, merged.criterion) == (MODEL, "positive")
    assert {len(v) for v in merged.by_labeller().values()} == {12}


def test_export_leaves_out_undone_labels_and_replaces_an_earlier_export_whole(tmp_path):
    store = FeedbackStore(tmp_path / "s.jsonl")
    session = LabellingSession(store, PAIRS[:3], model=MODEL, labeller="ana")
    session.label("A")
    session.label("B")
    session.undo()
    first = classroom.export_labels(store, tmp_path / "out", "ana")
    assert [r.choice for r in classroom.merge_label_files([first]).labels] == ["A"]
    session.label("tie")
    session.label("A")
    again = classroom.export_labels(store, tmp_path / "out", "ana")
    assert again == first and len(classroom.merge_label_files([again]).labels) == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ana.labels.jsonl"]  # no temporary file left


def test_a_later_export_of_the_same_person_adds_only_new_records(tmp_path):
    store = FeedbackStore(tmp_path / "s.jsonl")
    session = LabellingSession(store, PAIRS[:4], model=MODEL, labeller="ana")
    session.label("A")
    early = classroom.export_labels(store, tmp_path / "early", "ana")
    session.label("B")
    late = classroom.export_labels(store, tmp_path / "late", "ana")
    merged = classroom.merge_label_files([early, late])
    assert len(merged.labels) == 2 and merged.duplicates == 1


def test_bad_files_are_refused_with_what_to_do(tmp_path):
    ana = classroom.export_labels(labelled_store(tmp_path, "ana"), tmp_path / "c", "ana")
    with pytest.raises(LabelMergeError, match="handed in twice"):
        classroom.merge_label_files([ana, ana])
    empty = tmp_path / "c" / "empty.labels.jsonl"
    empty.write_text("")
    with pytest.raises(LabelMergeError, match="holds no labels"):
        classroom.merge_label_files([ana, empty])
    with pytest.raises(LabelMergeError, match="does not exist"):
        classroom.merge_label_files([tmp_path / "nowhere.labels.jsonl"])
    with pytest.raises(LabelMergeError, match="No label files"):
        classroom.merge_label_files([])
    old = tmp_path / "c" / "old.labels.jsonl"
    old.write_text("".join(json.dumps({**json.loads(line), "v": 0, "record_id": f"old{i}"}) + "\n"
                           for i, line in enumerate(ana.read_text().splitlines())))
    with pytest.raises(LabelMergeError, match="format version 0"):
        classroom.merge_label_files([ana, old])
    corrupt = tmp_path / "c" / "corrupt.labels.jsonl"
    corrupt.write_text("{not json\n" + ana.read_text())
    with pytest.raises(FeedbackFileError):
        classroom.merge_label_files([corrupt])


def test_files_of_another_model_or_criterion_are_refused(tmp_path):
    ana = classroom.export_labels(labelled_store(tmp_path, "ana"), tmp_path / "c", "ana")
    other_model = classroom.export_labels(labelled_store(tmp_path, "bo", model="another-model"), tmp_path / "c", "bo")
    with pytest.raises(LabelMergeError, match="model 'another-model'"):
        classroom.merge_label_files([ana, other_model])
    negative = classroom.export_labels(labelled_store(tmp_path, "cy", "negative", session_criterion="negative"),
                                       tmp_path / "c", "cy")
    with pytest.raises(LabelMergeError, match="criterion 'negative'"):
        classroom.merge_label_files([ana, negative])
    with pytest.raises(LabelMergeError, match="criterion 'positive'"):
        classroom.merge_label_files([ana, negative], criterion="negative")


def test_export_of_a_person_without_labels_says_so(tmp_path):
    with pytest.raises(LabelMergeError, match="no labels"):
        classroom.export_labels(labelled_store(tmp_path, "ana"), tmp_path / "c", "someone else")


def test_kappa_is_one_for_agreement_and_negative_for_another_criterion(tmp_path):
    stores = {"ana": labelled_store(tmp_path, "ana", seed=1), "bo": labelled_store(tmp_path, "bo", seed=2),
              "cy": labelled_store(tmp_path, "cy", "negative", seed=3)}  # cy judges by the opposite criterion
    files = [classroom.export_labels(s, tmp_path / "c", n) for n, s in stores.items()]
    agreement = classroom.class_agreement(classroom.merge_label_files(files).labels)
    kappa_ab, shared = agreement.pairwise[("ana", "bo")]
    assert shared == 12 and kappa_ab == pytest.approx(1.0)  # both follow "positive" with little noise
    assert agreement.pairwise[("ana", "cy")][0] < 0 and agreement.pairwise[("bo", "cy")][0] < 0
    assert agreement.shared_pairs == 12 and agreement.fleiss < kappa_ab


def test_kappa_values_on_known_tables():
    assert classroom.cohens_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    assert classroom.cohens_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    # p_o = 3/4, both raters 1/2 each way: p_e = 1/2, kappa = (0.75 - 0.5) / 0.5
    assert classroom.cohens_kappa([0, 0, 1, 1], [0, 0, 1, 0]) == pytest.approx(0.5)
    # Fleiss (1971)-style check by hand: 2 items, 3 raters; P_i = (1, 1/3), P-bar = 2/3; p_j = (2/3, 1/3)
    table = np.array([[0, 0, 0], [0, 1, 1]])
    p_e = (4 / 6) ** 2 + (2 / 6) ** 2
    assert classroom.fleiss_kappa(table) == pytest.approx((2 / 3 - p_e) / (1 - p_e))
    with pytest.raises(ValueError, match="every item labelled"):
        classroom.fleiss_kappa(np.array([[0, -1, 1]]))


def test_agreement_reads_texts_not_positions_and_leaves_skips_out(tmp_path):
    store = FeedbackStore(tmp_path / "s.jsonl")
    prompt, good, bad = PAIRS[0]
    LabellingSession(store, [(prompt, good, bad)], model=MODEL, labeller="ana").label("A")
    LabellingSession(store, [(prompt, bad, good)], model=MODEL, labeller="bo").label("B")  # same text, other side
    LabellingSession(store, [(prompt, good, bad)], model=MODEL, labeller="cy").label("skip")
    labellers, pairs, table = classroom.rating_table(store.labels())
    assert labellers == ["ana", "bo", "cy"] and len(pairs) == 1
    assert table.tolist() == [[table[0, 0], table[0, 0], -1]] and table[0, 0] in (0, 1)
    agreement = classroom.class_agreement(store.labels(), min_shared=1)
    assert agreement.shared_pairs == 0 and math.isnan(agreement.fleiss)


def test_the_readme_workshop_snippets_run(tmp_path, monkeypatch):
    """The README's "Running this as a workshop" code: a student's export, then the teacher's merge."""
    import re
    import shutil
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Running this as a workshop", 1)[1].split("\n## ", 1)[0]
    export, merge = [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", section, re.S)]
    monkeypatch.setenv("RLHF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "collected").mkdir()
    for name, seed in (("ana", 1), ("bo", 2), ("cy", 3)):
        namespace = {"store": labelled_store(tmp_path, name, seed=seed), "YOUR_NAME": name, "MODEL_NAME": MODEL}
        exec(compile(export, "README export snippet", "exec"), namespace)  # noqa: S102 - the README's own code
        shutil.copy(tmp_path / "cache" / "export" / f"{name}.labels.jsonl", tmp_path / "collected")
    namespace: dict = {}
    exec(compile(merge, "README merge snippet", "exec"), namespace)  # noqa: S102
    assert namespace["merged"].labellers == ["ana", "bo", "cy"] and len(namespace["pooled_pairs"]) > 0
    assert namespace["agreement"].shared_pairs == len(PAIRS)
