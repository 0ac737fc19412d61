"""The feedback store: human judgements as records in a crash-safe, append-only JSONL file (notebook 04).

One line of the store is one event, written the moment it happens:

* a **label** (``kind="label"``): a prompt, the two responses as shown (A and B), the choice
  (``"A"``, ``"B"``, ``"tie"`` or ``"skip"``), an optional 1-5 rating of how much better the chosen
  response is, who labelled it (a person's name or ``"simulated"``), when, which model wrote the
  responses, and whether it was a deliberate repeat of a pair already shown;
* a **retraction** (``kind="retraction"``): "undo" never edits the file; it appends a record
  naming the label it takes back.

The store appends each record with a single write, flushes it and calls ``fsync``, so a crash or a
killed kernel loses at most the record being written. Reading tolerates a truncated last line (with
a warning) and rejects any other malformed line with an error naming the file and the line.
Sessions, labellers and agreement measures, which write and read these records, are in
:mod:`rlhf_utils.feedback`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .paths import cache_dir

CHOICES = ("A", "B", "tie", "skip")
"""What a labeller can answer: A is better, B is better, a tie, or skip (no judgement)."""
RATINGS = (1, 2, 3, 4, 5)
"""Optional strength of a preference: 1 = the chosen response is slightly better ... 5 = far better."""
SIMULATED = "simulated"
"""The ``labeller`` name of the simulated human."""
SCHEMA_VERSION = 1

Choice = Literal["A", "B", "tie", "skip"]


class FeedbackFileError(ValueError):
    """A line of a feedback file is not a valid record (the message names the file and line)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _new_record_id() -> str:
    return os.urandom(8).hex()


def pair_id(prompt: str, response_a: str, response_b: str, model: str) -> str:
    """A stable id of a comparison: the same prompt, responses and model give the same id.

    The two responses are sorted first, so a pair shown with A and B swapped keeps its id.
    """
    first, second = sorted((response_a, response_b))
    payload = json.dumps([model, prompt, first, second], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class LabelRecord:
    """One judgement: which of two responses to ``prompt`` the labeller prefers."""

    prompt: str
    response_a: str
    response_b: str
    choice: Choice
    labeller: str
    model: str
    rating: int | None = None
    is_repeat: bool = False
    response_time_s: float | None = None
    """Seconds from showing the pair to the click: an implicit signal (hesitation), kept for study."""
    pair_id: str = ""
    record_id: str = field(default_factory=_new_record_id)
    created_at: str = field(default_factory=_now)
    kind: Literal["label"] = "label"
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.pair_id:
            object.__setattr__(self, "pair_id", pair_id(self.prompt, self.response_a, self.response_b, self.model))
        problem = _label_problem(asdict(self))
        if problem:
            raise ValueError(problem)

    @property
    def chosen(self) -> str | None:
        """The preferred response text (``None`` for a tie or a skip)."""
        return {"A": self.response_a, "B": self.response_b}.get(self.choice)

    @property
    def rejected(self) -> str | None:
        return {"A": self.response_b, "B": self.response_a}.get(self.choice)


@dataclass(frozen=True)
class Retraction:
    """Takes back the label ``retracts`` (what "undo" writes)."""

    retracts: str
    labeller: str
    pair_id: str
    record_id: str = field(default_factory=_new_record_id)
    created_at: str = field(default_factory=_now)
    kind: Literal["retraction"] = "retraction"
    v: int = SCHEMA_VERSION


Record = LabelRecord | Retraction

_LABEL_FIELDS = {f for f in LabelRecord.__dataclass_fields__}
_RETRACTION_FIELDS = {f for f in Retraction.__dataclass_fields__}
_REQUIRED_LABEL = {"prompt", "response_a", "response_b", "choice", "labeller", "model", "record_id", "kind"}
_REQUIRED_RETRACTION = {"retracts", "labeller", "record_id", "kind"}


def _label_problem(data: dict[str, Any]) -> str | None:
    """Why ``data`` is not a valid label record, or ``None`` when it is."""
    for name in ("prompt", "response_a", "response_b", "labeller", "model", "record_id"):
        if not isinstance(data.get(name), str):
            return f"field {name!r} must be a string, got {data.get(name)!r}"
    if not data["labeller"] or not data["model"]:
        return "fields 'labeller' and 'model' must not be empty"
    if data["choice"] not in CHOICES:
        return f"unknown choice {data['choice']!r}; a choice is one of {', '.join(CHOICES)}"
    rating = data.get("rating")
    if rating is not None:
        if isinstance(rating, bool) or rating not in RATINGS:
            return f"rating must be one of {RATINGS} or null, got {rating!r}"
        if data["choice"] not in ("A", "B"):
            return f"a rating says how much better the chosen response is; a {data['choice']!r} has none"
    if not isinstance(data.get("is_repeat", False), bool):
        return f"field 'is_repeat' must be true or false, got {data.get('is_repeat')!r}"
    seconds = data.get("response_time_s")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0):
        return f"response_time_s must be a number of seconds >= 0 or null, got {seconds!r}"
    return None


def record_from_dict(data: Any) -> Record:
    """Build a record from one parsed JSON line; raises ``ValueError`` saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a record is a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind == "label":
        missing = _REQUIRED_LABEL - set(data)
        if missing:
            raise ValueError(f"label record lacks field(s) {sorted(missing)}")
        return LabelRecord(**{k: v for k, v in data.items() if k in _LABEL_FIELDS})
    if kind == "retraction":
        missing = _REQUIRED_RETRACTION - set(data)
        if missing:
            raise ValueError(f"retraction record lacks field(s) {sorted(missing)}")
        return Retraction(**{"pair_id": "", **{k: v for k, v in data.items() if k in _RETRACTION_FIELDS}})
    raise ValueError(f"unknown record kind {kind!r}; expected 'label' or 'retraction'")


@dataclass(frozen=True)
class _ReadResult:
    records: list[Record]
    complete_bytes: int
    """Length of the file up to the end of its last complete line."""
    truncated_tail: bytes
    """The bytes of a truncated last line (empty when the file ends cleanly)."""


def _read(path: Path) -> _ReadResult:
    if not path.exists():
        return _ReadResult([], 0, b"")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # the bytes after the last newline ("" when the file ends with one)
    records: list[Record] = []
    known_ids: set[str] = set()

    def parse(line_no: int, line: bytes) -> Record:
        try:
            record = record_from_dict(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise FeedbackFileError(
                f"{path}, line {line_no}: not valid JSON ({err}). "
                "Fix or delete that line; the other lines are untouched."
            ) from None
        except (ValueError, TypeError) as err:
            raise FeedbackFileError(
                f"{path}, line {line_no}: malformed record: {err}. "
                "Fix or delete that line; the other lines are untouched."
            ) from None
        if isinstance(record, Retraction) and record.retracts not in known_ids:
            raise FeedbackFileError(
                f"{path}, line {line_no}: retraction of record {record.retracts!r}, "
                "which no earlier line holds. Fix or delete that line."
            )
        known_ids.add(record.record_id)
        return record

    for line_no, line in enumerate(lines, start=1):
        if line.strip():
            records.append(parse(line_no, line))
    complete = len(raw) - len(tail)
    if tail.strip():
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            warnings.warn(
                f"{path}, line {len(lines) + 1}: the last line is cut off (was the program killed while "
                f"writing it?). Ignoring it and keeping the {len(records)} complete record(s) before it.",
                stacklevel=3,
            )
            return _ReadResult(records, complete, tail)
        records.append(parse(len(lines) + 1, tail))  # a whole record that only lacks its newline
    return _ReadResult(records, len(raw), b"")


def load_records(path: str | os.PathLike) -> list[Record]:
    """Every record of a feedback file, in order (an empty list for a missing file).

    A truncated last line is ignored with a warning; any other bad line raises
    :class:`FeedbackFileError` naming the file and the line.
    """
    return _read(Path(path)).records


def active_labels(records: Iterable[Record]) -> list[LabelRecord]:
    """The labels that no later retraction takes back, in the order they were made."""
    records = list(records)
    retracted = {r.retracts for r in records if isinstance(r, Retraction)}
    return [r for r in records if isinstance(r, LabelRecord) and r.record_id not in retracted]


def default_store_path(name: str = "labels") -> Path:
    """Where a learner's labels live by default: ``cache_dir() / "feedback" / f"{name}.jsonl"``."""
    return cache_dir() / "feedback" / f"{name}.jsonl"


class FeedbackStore:
    """An append-only JSONL file of label and retraction records.

    ``append`` writes one line with a single ``write``, then ``fsync``: once it returns, the record
    survives a crash. A missing file is an empty store (created at the first append). A truncated
    last line (a crash mid-write) is moved to ``<file>.truncated`` at the first append, so new
    records start on a clean line and nothing readable is lost.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        result = _read(self.path)
        self._records: list[Record] = result.records
        self._complete_bytes = result.complete_bytes
        self._truncated_tail = result.truncated_tail

    @property
    def records(self) -> list[Record]:
        """Every record in the file, in order (a copy)."""
        return list(self._records)

    def labels(self, labeller: str | None = None) -> list[LabelRecord]:
        """Active (not retracted) labels, optionally only those of one labeller."""
        labels = active_labels(self._records)
        return labels if labeller is None else [r for r in labels if r.labeller == labeller]

    def __len__(self) -> int:
        return len(self._records)

    def _set_aside_truncated_tail(self) -> None:
        aside = self.path.with_name(self.path.name + ".truncated")
        with open(aside, "ab") as f:
            f.write(self._truncated_tail + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.truncate(self.path, self._complete_bytes)
        warnings.warn(f"moved the cut-off last line of {self.path} to {aside}", stacklevel=3)
        self._truncated_tail = b""

    def append(self, record: Record) -> Record:
        """Write ``record`` as one JSON line, flush and fsync it, then keep it in memory."""
        if not isinstance(record, LabelRecord | Retraction):
            raise TypeError(f"append takes a LabelRecord or a Retraction, got {type(record).__name__}")
        if isinstance(record, Retraction) and record.retracts not in {r.record_id for r in self._records}:
            raise ValueError(f"cannot retract {record.retracts!r}: no record with that id in {self.path}")
        new_file = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._truncated_tail:
            self._set_aside_truncated_tail()
        line = json.dumps(asdict(record), ensure_ascii=False) + "\n"
        if self._complete_bytes and not new_file and not _ends_with_newline(self.path):
            line = "\n" + line  # the last record was complete but lacked its newline
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            _fsync_dir(self.path.parent)
        self._complete_bytes += len(line.encode("utf-8"))
        self._records.append(record)
        return record

    def retract(self, label: LabelRecord) -> Retraction:
        """Append a retraction of ``label`` (the file is never rewritten)."""
        return self.append(Retraction(retracts=label.record_id, labeller=label.labeller, pair_id=label.pair_id))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable too (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
