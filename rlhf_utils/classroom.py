"""A whole class's labels: export one file per person, merge them, and measure how much people agree.

In a workshop every student labels in their own notebook 04 and exports their labels to one file
(:func:`export_labels`). The teacher collects the files and merges them (:func:`merge_label_files`):
each record keeps its labeller's name, exact duplicates (the same ``record_id``, e.g. one file handed
in twice) are dropped, and files that do not belong together (another format version, another model's
responses, another criterion) are refused with a message naming the file.

Agreement is measured on the pairs several people labelled (every session shows the same fixed shared
pairs first, so there are some). A label is read as which of the two *texts* was preferred, or a tie,
so A/B order does not matter; skips are left out. Chance-corrected agreement:

- **Cohen's κ** for two people: ``κ = (p_o − p_e) / (1 − p_e)``, observed agreement ``p_o`` against the
  agreement ``p_e`` two people with those label frequencies would reach by chance;
- **Fleiss' κ** for more: the same idea over every pair of raters of each item, on the items all of
  them labelled.

κ = 1 is perfect agreement, 0 is chance, below 0 is systematic disagreement (someone judges by another
criterion). Both come from ``statsmodels.stats.inter_rater``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from .feedback_store import SCHEMA_VERSION, FeedbackFileError, FeedbackStore, LabelRecord, active_labels, load_records

EXPORT_SUFFIX = ".labels.jsonl"
"""The name every exported file ends with: ``<labeller>.labels.jsonl``."""

CATEGORIES = ("first", "second", "tie")
"""A label as agreement sees it: the first or second response of the pair (texts sorted), or a tie."""


class LabelMergeError(ValueError):
    """Label files that cannot be merged (the message names the file and the fix)."""


def export_labels(store: FeedbackStore, folder: str | os.PathLike, labeller: str, *,
                  model: str | None = None) -> Path:
    """Write ``labeller``'s labels (undone ones left out) to ``folder/<labeller>.labels.jsonl``; its path.

    The file has the store's format, so :func:`merge_label_files` (or a :class:`FeedbackStore`) reads it.
    It is written to a temporary file and renamed, so an export never leaves half a file, and a second
    export of the same person replaces the first whole. ``model`` keeps only the labels of that model's
    responses (one labelling round).
    """
    labels = [r for r in store.labels(labeller) if model is None or r.model == model]
    if not labels:
        where = f" of the model {model!r}" if model else ""
        raise LabelMergeError(f"{labeller!r} has no labels{where} in {store.path}: label some pairs in notebook 04 "
                              "first, and check that YOUR_NAME there is the name given here.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", labeller).strip("_") + EXPORT_SUFFIX)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".jsonl")
    os.close(handle)
    os.unlink(tmp)  # the store creates the file itself
    try:
        copy = FeedbackStore(tmp)
        for record in labels:
            copy.append(record)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass
class MergedLabels:
    """What :func:`merge_label_files` read: the labels, who gave them, and what it left out."""

    labels: list[LabelRecord]
    labellers: list[str]
    model: str
    criterion: str
    files: dict[str, int] = field(default_factory=dict)
    """File name -> labels it contributed (after duplicates were dropped)."""
    duplicates: int = 0
    """Records dropped because an earlier file had the same record id."""

    def by_labeller(self) -> dict[str, list[LabelRecord]]:
        grouped: dict[str, list[LabelRecord]] = {name: [] for name in self.labellers}
        for record in self.labels:
            grouped[record.labeller].append(record)
        return grouped


def merge_label_files(paths: Iterable[str | os.PathLike], *, model: str | None = None,
                      criterion: str | None = None) -> MergedLabels:
    """Merge exported label files into one set of labels (see the module docstring).

    ``model`` and ``criterion`` say which round the files must belong to; by default the first file's.
    Raises :class:`LabelMergeError` for an empty list, an empty file, a file of another format version,
    or labels of another model or criterion; :class:`~rlhf_utils.feedback_store.FeedbackFileError` for a
    corrupt line.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise LabelMergeError("No label files given: pass the paths of the files your students exported.")
    merged: list[LabelRecord] = []
    seen: set[str] = set()
    files: dict[str, int] = {}
    duplicates = 0
    for path in paths:
        if not path.is_file():
            raise LabelMergeError(f"{path} does not exist or is not a file: check the path of the collected file.")
        records = load_records(path)
        if not records:
            raise LabelMergeError(f"{path} holds no labels: ask its owner to export again after labelling.")
        old = sorted({r.v for r in records if r.v != SCHEMA_VERSION})
        if old:
            raise LabelMergeError(f"{path} is in label format version {old[0]}, this course reads version "
                                  f"{SCHEMA_VERSION}: export it again with this version of the course.")
        labels = active_labels(records)
        model = model or labels[0].model
        criterion = criterion or labels[0].criterion
        for what, expected in (("model", model), ("criterion", criterion)):
            other = sorted({getattr(r, what) for r in labels} - {expected})
            if other:
                raise LabelMergeError(
                    f"{path} has labels for the {what} {other[0]!r}, the others are for {expected!r}: merge only the "
                    f"files of one labelling round (same notebook, same criterion), or pass {what}=... to choose.")
        fresh = [r for r in labels if r.record_id not in seen]
        if not fresh:
            raise LabelMergeError(f"every record of {path} is already in an earlier file: the same file was handed "
                                  "in twice (or copied); leave one of them out.")
        duplicates += len(labels) - len(fresh)
        seen.update(r.record_id for r in fresh)
        merged += fresh
        files[path.name] = len(fresh)
    labellers = list(dict.fromkeys(r.labeller for r in merged))
    return MergedLabels(merged, labellers, model, criterion, files, duplicates)


# ============================================================================ agreement
def _category(record: LabelRecord) -> int | None:
    """0 / 1: the first / second response (texts sorted) was preferred, 2: a tie, None: a skip."""
    if record.choice == "skip":
        return None
    if record.choice == "tie":
        return 2
    first, _ = sorted((record.response_a, record.response_b))
    return 0 if record.chosen == first else 1


def rating_table(labels: Iterable[LabelRecord]) -> tuple[list[str], list[str], np.ndarray]:
    """Labellers, pair ids, and a (pairs × labellers) array of categories (``-1``: not labelled or skipped).

    A person who labelled a pair twice (a repeat) counts with their first answer.
    """
    labels = list(labels)
    labellers = {name: i for i, name in enumerate(dict.fromkeys(r.labeller for r in labels))}
    pairs = {pair: i for i, pair in enumerate(dict.fromkeys(r.pair_id for r in labels))}
    table = np.full((len(pairs), len(labellers)), -1, dtype=int)
    for r in reversed(labels):  # reversed: the first answer of a person to a pair is the one left standing
        category = _category(r)
        if category is not None:
            table[pairs[r.pair_id], labellers[r.labeller]] = category
    return list(labellers), list(pairs), table


def cohens_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Cohen's κ of two raters' categories (:data:`CATEGORIES` indices) on the same items.

    ``nan`` when chance agreement is 1 (both gave one and the same answer throughout): κ is undefined.
    """
    from statsmodels.stats.inter_rater import cohens_kappa as kappa
    from statsmodels.stats.inter_rater import to_table

    if len(a) != len(b) or not len(a):
        raise ValueError("Cohen's kappa needs the two raters' answers on the same, non-empty list of pairs")
    table, _ = to_table(np.column_stack([a, b]), bins=np.arange(len(CATEGORIES) + 1))
    if len(set(a) | set(b)) == 1:
        return float("nan")
    return float(kappa(table).kappa)


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' κ of a (items × raters) category table in which every rater labelled every item."""
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as kappa

    if table.ndim != 2 or table.shape[0] == 0 or (table < 0).any():
        raise ValueError("Fleiss' kappa needs a table of items x raters with every item labelled by every rater")
    counts, _ = aggregate_raters(table, n_cat=len(CATEGORIES))
    return float(kappa(counts))


@dataclass
class ClassAgreement:
    """Agreement on the pairs that several people labelled."""

    pairwise: dict[tuple[str, str], tuple[float, int]]
    """(labeller, labeller) -> (Cohen's κ, pairs both labelled)."""
    fleiss: float
    """Fleiss' κ over the pairs every labeller labelled (nan with fewer than 3 labellers or no such pair)."""
    shared_pairs: int
    """Pairs every labeller labelled."""


def class_agreement(labels: Iterable[LabelRecord], min_shared: int = 5) -> ClassAgreement:
    """Cohen's κ for every two labellers, and Fleiss' κ for all of them, on the pairs they share.

    A pair of labellers with fewer than ``min_shared`` pairs in common gets no κ (too few to mean anything).
    """
    labellers, _, table = rating_table(labels)
    if len(labellers) < 2:
        raise ValueError("Agreement needs labels from at least two people.")
    pairwise = {}
    for i, j in combinations(range(len(labellers)), 2):
        both = (table[:, i] >= 0) & (table[:, j] >= 0)
        if both.sum() >= min_shared:
            pairwise[(labellers[i], labellers[j])] = (cohens_kappa(table[both, i], table[both, j]), int(both.sum()))
    everyone = (table >= 0).all(axis=1)
    fleiss = fleiss_kappa(table[everyone]) if len(labellers) >= 3 and everyone.any() else float("nan")
    return ClassAgreement(pairwise, fleiss, int(everyone.sum()))


__all__ = [
    "CATEGORIES", "ClassAgreement", "EXPORT_SUFFIX", "FeedbackFileError", "LabelMergeError", "MergedLabels",
    "class_agreement", "cohens_kappa", "export_labels", "fleiss_kappa", "merge_label_files", "rating_table",
]
