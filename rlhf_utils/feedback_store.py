"""The feedback store: human judgements as records in a crash-safe, append-only JSONL file (notebook 04).

One line of the store is one event, written the moment it happens:

* a **label** (``kind="label"``): a prompt, the two responses as shown (A and B), the choice
  (``"A"``, ``"B"``, ``"tie"`` or ``"skip"``), an optional 1-5 rating of how much better the chosen
  response is, who labelled it (a person's name or ``"simulated"``), when, which model wrote the
  responses, and whether it was a deliberate repeat of a pair already shown;
* a **retraction** (``kind="retraction"``): "undo" never edits the file; it appends a record
  naming the label it takes back.

The store appends each record under an exclusive lock on the file (``fcntl.flock``), writes all of
its bytes (or takes the partial write back and raises), and calls ``fsync``: a crash, a killed
kernel, a second kernel on the same file or a full disk loses at most the record being written, and
never reports a record as saved that is not on disk. Reading tolerates a truncated last line (with
a warning) and rejects any other malformed line with an error naming the file and the line.
Sessions, labellers and agreement measures, which write and read these records, are in
:mod:`rlhf_utils.feedback`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .gold import CRITERIA
from .paths import cache_dir

try:
    import fcntl
except ImportError:  # Windows has no flock: a lock file next to the store (filelock) does the same job
    fcntl = None

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


def _text_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be stored as UTF-8 text (a lone surrogate such as ``"\\ud800"``), or ``None``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return (
            f"field {name!r} holds {value[err.start]!r} at index {err.start}, a lone surrogate that is not valid "
            "text and cannot be saved as UTF-8; remove it (or decode the text with errors='replace')"
        )
    return None


def pair_id(prompt: str, response_a: str, response_b: str, model: str) -> str:
    """A stable id of a comparison: the same prompt, responses and model give the same id.

    The two responses are sorted first, so a pair shown with A and B swapped keeps its id.
    """
    for name, value in (("prompt", prompt), ("response_a", response_a), ("response_b", response_b), ("model", model)):
        if not isinstance(value, str):
            raise TypeError(f"pair_id: {name} must be a string, got {type(value).__name__} {value!r}")
        problem = _text_problem(name, value)
        if problem:
            raise ValueError(problem)
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
    criterion: str = "positive"
    """What the labeller was asked to prefer (:data:`rlhf_utils.gold.CRITERIA`); records written before
    criteria existed were all made under the default, ``positive``."""
    pair_id: str = ""
    record_id: str = field(default_factory=_new_record_id)
    created_at: str = field(default_factory=_now)
    kind: Literal["label"] = "label"
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        problem = _label_problem(asdict(self))
        if problem:
            raise ValueError(problem)
        if not self.pair_id:
            object.__setattr__(self, "pair_id", pair_id(self.prompt, self.response_a, self.response_b, self.model))

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
        problem = _text_problem(name, data[name])
        if problem:
            return problem
    if not data["labeller"] or not data["model"]:
        return "fields 'labeller' and 'model' must not be empty"
    if data["choice"] not in CHOICES:
        return f"unknown choice {data['choice']!r}; a choice is one of {', '.join(CHOICES)}"
    if data.get("criterion", "positive") not in CRITERIA:
        return f"unknown criterion {data.get('criterion')!r}; a criterion is one of {', '.join(CRITERIA)}"
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


def load_records(path: str | os.PathLike) -> list[Record]:
    """Every record of a feedback file, in order (an empty list for a missing file).

    A truncated last line is ignored with a warning; any other bad line raises
    :class:`FeedbackFileError` naming the file and the line. A line that repeats an earlier record
    (the same ``record_id``, e.g. after pasting two files together) is counted once, with a warning.
    """
    return FeedbackStore(path).records


def active_labels(records: Iterable[Record]) -> list[LabelRecord]:
    """The labels that no retraction takes back, in the order they were made; a record id seen twice
    (records pooled from copies of one file) counts once."""
    records = list(records)
    retracted = {r.retracts for r in records if isinstance(r, Retraction)}
    seen: set[str] = set()
    active = []
    for r in records:
        if isinstance(r, LabelRecord) and r.record_id not in retracted and r.record_id not in seen:
            seen.add(r.record_id)
            active.append(r)
    return active


def default_store_path(name: str = "labels") -> Path:
    """Where a learner's labels live by default: ``cache_dir() / "feedback" / f"{name}.jsonl"``."""
    return cache_dir() / "feedback" / f"{name}.jsonl"


class FeedbackStore:
    """An append-only JSONL file of label and retraction records, safe to share between store objects,
    kernels and processes.

    Every ``append`` takes an exclusive lock on the file, first reads what other writers appended
    since (so :attr:`records` and :meth:`labels` show them too), writes the whole line, then
    ``fsync``: once it returns, the record survives a crash. A write that fails part-way (a full
    disk) is taken back and raised, so nothing half-written is ever reported as saved. Readers take a
    shared lock, so they never see a line that is still being written. A missing file is an empty
    store (created at the first append). A truncated last line (a crash mid-write) is moved to
    ``<file>.truncated`` by the first append that finds it, decided under the lock on the file as it
    is at that moment, so new records start on a clean line and nothing readable is lost.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self._forget()
        self._sync()

    def _forget(self, identity: tuple[str, int, int] | None = None) -> None:
        """Start over from an empty view of ``identity`` (path, device, inode) of the file."""
        self._identity = identity
        self._records: list[Record] = []
        self._lines: dict[str, int] = {}  # record id -> line number, for errors that name both lines
        self._offset = 0  # bytes read: the end of the last complete line
        self._line_count = 0
        self._needs_newline = False  # the last record is complete but lacks its newline
        self._tail = b""  # a cut-off last line, not yet set aside
        self._warned_tail: tuple[int, bytes] | None = None

    @property
    def records(self) -> list[Record]:
        """Every record in the file, in order (a copy), including those other writers appended."""
        self._sync()
        return list(self._records)

    def labels(self, labeller: str | None = None) -> list[LabelRecord]:
        """Active (not retracted) labels, optionally only those of one labeller."""
        labels = active_labels(self.records)
        return labels if labeller is None else [r for r in labels if r.labeller == labeller]

    def __len__(self) -> int:
        return len(self.records)

    # ------------------------------------------------------------------ reading
    def _sync(self) -> None:
        """Read, under a shared lock, whatever was appended since the last read."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if self._identity is not None:
                self._forget()
            return
        try:
            with _locked(fd, self.path, exclusive=False):
                self._read_new(fd)
        finally:
            os.close(fd)

    def _read_new(self, fd: int) -> None:
        """Parse the bytes after ``self._offset`` (the caller holds a lock on ``fd``).

        The file only grows at its end, so a view stays valid while the file is the same file (same
        path, device and inode) and at least as long as what was read; otherwise it is read afresh.
        """
        stat = os.fstat(fd)
        identity = (str(self.path), stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._offset:
            self._forget(identity)
        raw = _read_from(fd, self._offset, stat.st_size)
        if self._needs_newline and raw.startswith(b"\n"):  # another writer ended the unterminated line
            self._offset += 1
            raw = raw[1:]
            self._needs_newline = False
        lines = raw.split(b"\n")
        tail = lines.pop()  # the bytes after the last newline (b"" when the file ends with one)
        for line in lines:
            self._line_count += 1
            if line.strip():
                self._add(self._line_count, line)
            self._offset += len(line) + 1
        self._tail = b""
        if tail.strip():
            try:
                json.loads(tail.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._tail = tail
                if self._warned_tail != (self._offset, tail):
                    self._warned_tail = (self._offset, tail)
                    warnings.warn(
                        f"{self.path}, line {self._line_count + 1}: the last line is cut off (was the program killed "
                        f"while writing it?). Ignoring it and keeping the {len(self._records)} complete record(s) "
                        "before it.",
                        stacklevel=4,
                    )
                return
            self._add(self._line_count + 1, tail)  # a whole record that only lacks its newline
            self._line_count += 1
            self._offset += len(tail)
            self._needs_newline = True

    def _add(self, line_no: int, line: bytes) -> None:
        where = f"{self.path}, line {line_no}"
        try:
            record = record_from_dict(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise FeedbackFileError(
                f"{where}: not valid JSON ({err}). Fix or delete that line; the other lines are untouched."
            ) from None
        except (ValueError, TypeError) as err:
            raise FeedbackFileError(
                f"{where}: malformed record: {err}. Fix or delete that line; the other lines are untouched."
            ) from None
        if isinstance(record, Retraction) and record.retracts not in self._lines:
            raise FeedbackFileError(
                f"{where}: retraction of record {record.retracts!r}, which no earlier line holds. Fix or delete that line."
            )
        first = self._lines.get(record.record_id)
        if first is not None:
            earlier = next(r for r in self._records if r.record_id == record.record_id)
            if earlier != record:
                raise FeedbackFileError(
                    f"{where}: record id {record.record_id!r} is already used by a different record on line {first}. "
                    "Each record needs its own id: delete one of the two lines, or give it a new id."
                )
            warnings.warn(f"{where} repeats the record on line {first}; counting it once.", stacklevel=5)
            return
        self._lines[record.record_id] = line_no
        self._records.append(record)

    # ------------------------------------------------------------------ writing
    def append(self, record: Record) -> Record:
        """Write ``record`` as one JSON line under an exclusive lock, fsync it, then keep it in memory.

        Raises ``OSError`` (and leaves the file as it was) when the line cannot be written whole.
        """
        if not isinstance(record, LabelRecord | Retraction):
            raise TypeError(f"append takes a LabelRecord or a Retraction, got {type(record).__name__}")
        line = (json.dumps(asdict(record), ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with _locked(fd, self.path, exclusive=True):
                self._read_new(fd)  # what others appended, and the file's end as it is now
                if isinstance(record, Retraction) and record.retracts not in self._lines:
                    raise ValueError(f"cannot retract {record.retracts!r}: no record with that id in {self.path}")
                if record.record_id in self._lines:
                    raise ValueError(
                        f"record {record.record_id!r} is already in {self.path} (line {self._lines[record.record_id]}); "
                        "appending it again would count it twice. Make a new record for a new judgement."
                    )
                if self._tail:
                    self._set_aside_tail(fd)
                if self._needs_newline:
                    line = b"\n" + line
                _write_all(fd, line, self.path)
                os.fsync(fd)
                self._offset += len(line)
                self._line_count += 1
                self._needs_newline = False
                self._lines[record.record_id] = self._line_count
                self._records.append(record)
        finally:
            os.close(fd)
        if new_file:
            _fsync_dir(self.path.parent)
        return record

    def _set_aside_tail(self, fd: int) -> None:
        """Move a cut-off last line to ``<file>.truncated``, then cut the file at the end of its last
        complete line, measured now, under the exclusive lock (never a length seen earlier)."""
        aside = self.path.with_name(self.path.name + ".truncated")
        with open(aside, "ab") as f:
            f.write(self._tail + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.ftruncate(fd, self._offset)
        warnings.warn(f"moved the cut-off last line of {self.path} to {aside}", stacklevel=4)
        self._tail = b""

    def retract(self, label: LabelRecord) -> Retraction:
        """Append a retraction of ``label`` (the file is never rewritten)."""
        return self.append(Retraction(retracts=label.record_id, labeller=label.labeller, pair_id=label.pair_id))


@contextmanager
def _locked(fd: int, path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold an advisory lock on the open file ``fd``: exclusive for a writer, shared for a reader."""
    if fcntl is None:
        from filelock import FileLock

        with FileLock(str(path) + ".lock"):
            yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_from(fd: int, start: int, end: int) -> bytes:
    """The bytes ``[start, end)`` of the open file ``fd``."""
    os.lseek(fd, start, os.SEEK_SET)
    chunks, left = [], end - start
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    """Write every byte of ``data`` at the end of ``fd`` (the caller holds the exclusive lock).

    ``os.write`` may write only part of its input (a full disk, a file-size limit). The loop writes
    the rest; if the disk refuses, the part already written is cut off again, so the file holds no
    torn line, and the error says the record was not saved.
    """
    start = os.fstat(fd).st_size
    view, written = memoryview(data), 0
    try:
        while written < len(data):
            n = os.write(fd, view[written:])
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += n
    except OSError as err:
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError:
            pass  # then the torn line stays at the end, and the next append sets it aside
        raise OSError(
            err.errno,
            f"{path}: the record was NOT saved: only {written} of {len(data)} bytes could be written "
            f"({err.strerror}). The file is as it was before. Free some disk space and label that pair again.",
        ) from err


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
