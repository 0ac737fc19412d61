"""Human feedback as data: judgement records, a crash-safe JSONL store, sessions, and training pairs.

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

A :class:`LabellingSession` walks a list of pairs, skipping those this labeller already judged (so
labelling resumes where it stopped). The widget in ``rlhf_utils.labelling`` and the
:class:`SimulatedLabeller` both label through :meth:`LabellingSession.label`: the simulated human
fills the same store through the same code path.

Bradley-Terry (the model behind the reward model) has no ties, and TRL's ``RewardTrainer`` cannot
take them: ties are stored, left out of :func:`to_trl_dataset`, optionally kept with a 0.5 target
by :func:`preference_pairs`, and left out of every agreement measure.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .gold import gold_score
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
class ComparisonPair:
    """Two responses to one prompt, in the order they are shown (A left, B right)."""

    prompt: str
    response_a: str
    response_b: str
    model: str

    @property
    def pair_id(self) -> str:
        return pair_id(self.prompt, self.response_a, self.response_b, self.model)

    def swapped(self) -> ComparisonPair:
        return ComparisonPair(self.prompt, self.response_b, self.response_a, self.model)


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


@dataclass(frozen=True)
class QueueItem:
    """A pair waiting to be judged; ``is_repeat`` marks a deliberate second showing (A and B swapped)."""

    pair: ComparisonPair
    is_repeat: bool = False

    @property
    def key(self) -> tuple[str, bool]:
        return (self.pair.pair_id, self.is_repeat)


class LabellingSession:
    """Walks a labeller through pairs, writing every judgement to a :class:`FeedbackStore` at once.

    ``pairs`` are ``(prompt, response_a, response_b)`` tuples (or :class:`ComparisonPair`) written
    by ``model``. Pairs this labeller already judged in the store are not shown again, so a new
    session on the same file resumes where the last one stopped. ``repeats`` pairs, chosen at
    random, are shown a second time later on with A and B swapped (recorded with
    ``is_repeat=True``, not announced to the labeller), to measure self-agreement.
    """

    def __init__(
        self,
        store: FeedbackStore,
        pairs: Iterable[ComparisonPair | Sequence[str]],
        *,
        model: str,
        labeller: str,
        repeats: int = 0,
        seed: int = 0,
    ) -> None:
        if not labeller or not isinstance(labeller, str):
            raise ValueError("labeller must be a non-empty name (a person's name, or 'simulated')")
        self.store, self.model, self.labeller = store, model, labeller
        unique: dict[str, ComparisonPair] = {}
        for item in pairs:
            pair = item if isinstance(item, ComparisonPair) else ComparisonPair(*_as_triple(item), model=model)
            unique.setdefault(pair.pair_id, pair)
        self.pairs = list(unique.values())
        rng = random.Random(seed)
        repeated = rng.sample(self.pairs, min(repeats, len(self.pairs)))
        items = [QueueItem(p) for p in self.pairs]
        for pair in repeated:  # each repeat goes somewhere after its first showing
            first = next(i for i, it in enumerate(items) if it.key == (pair.pair_id, False))
            items.insert(rng.randint(first + 1, len(items)), QueueItem(pair.swapped(), is_repeat=True))
        self.total = len(items)
        done = {(r.pair_id, r.is_repeat) for r in store.labels(labeller)}
        self._queue = [it for it in items if it.key not in done]
        self._keys = {it.key for it in items}
        self._shown_at: float | None = None

    @property
    def current(self) -> QueueItem | None:
        """The pair to judge now (``None`` when the session is finished)."""
        return self._queue[0] if self._queue else None

    @property
    def done(self) -> int:
        return self.total - len(self._queue)

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def label(self, choice: Choice, rating: int | None = None, response_time_s: float | None = None) -> LabelRecord:
        """Record a judgement of the current pair (written to disk before this returns) and move on."""
        item = self.current
        if item is None:
            raise RuntimeError("every pair of this session is labelled; nothing to label")
        if response_time_s is not None and (not math.isfinite(response_time_s) or response_time_s < 0):
            raise ValueError(f"response_time_s must be a finite number >= 0, got {response_time_s!r}")
        record = LabelRecord(
            prompt=item.pair.prompt,
            response_a=item.pair.response_a,
            response_b=item.pair.response_b,
            choice=choice,
            rating=rating,
            labeller=self.labeller,
            model=item.pair.model,
            is_repeat=item.is_repeat,
            response_time_s=response_time_s,
        )
        self.store.append(record)
        self._queue.pop(0)
        return record

    def undo(self) -> Retraction | None:
        """Retract this labeller's latest label (even one from an earlier session) and show it again.

        Returns the retraction, or ``None`` when there is nothing to undo.
        """
        labels = self.store.labels(self.labeller)
        if not labels:
            return None
        last = labels[-1]
        retraction = self.store.retract(last)
        item = QueueItem(ComparisonPair(last.prompt, last.response_a, last.response_b, last.model), last.is_repeat)
        if item.key in self._keys:
            self._queue.insert(0, item)
        return retraction


def _as_triple(item: Sequence[str]) -> tuple[str, str, str]:
    if len(item) != 3 or not all(isinstance(x, str) for x in item):
        raise ValueError(f"a pair is (prompt, response_a, response_b), three strings; got {item!r}")
    return item[0], item[1], item[2]


# ---------------------------------------------------------------- the simulated labeller


@dataclass
class SimulatedLabeller:
    """A stand-in human who prefers the response with the higher gold score, with Bradley-Terry noise.

    ``P(A preferred) = sigmoid((g_A - g_B) / temperature)`` where ``g`` is
    :func:`rlhf_utils.gold.gold_score` of each response (with its prompt). When the two gold scores
    are within ``tie_margin`` the labeller answers ``"tie"``. With ``rate=True`` it also gives a
    1-5 rating from the gap: ``1 + min(4, floor(|g_A - g_B| / 0.25))``.
    """

    temperature: float = 0.2
    """Noise of the choices: 0 would always follow the gold ordering; larger flips more close calls."""
    tie_margin: float = 0.02
    """Gold scores closer than this are a tie (e.g. two responses without any sentiment word)."""
    rate: bool = True
    seed: int = 0
    name: str = SIMULATED
    score: Callable[[str, str], float] = gold_score
    """``score(response, prompt)``: the hidden preference; the gold score by default."""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        self._rng = random.Random(self.seed)

    def judge(self, pair: ComparisonPair) -> tuple[Choice, int | None]:
        """One noisy judgement ``(choice, rating)`` of a pair."""
        gap = self.score(pair.response_a, pair.prompt) - self.score(pair.response_b, pair.prompt)
        if abs(gap) < self.tie_margin:
            return "tie", None
        p_a = 1.0 / (1.0 + math.exp(-gap / self.temperature))
        choice: Choice = "A" if self._rng.random() < p_a else "B"
        rating = 1 + min(4, int(abs(gap) / 0.25)) if self.rate else None
        return choice, rating

    def label(self, session: LabellingSession, limit: int | None = None) -> int:
        """Label the session's pairs (all, or at most ``limit``) through ``session.label``; returns the count."""
        if session.labeller != self.name:
            raise ValueError(f"the session labels as {session.labeller!r}; a simulated session uses {self.name!r}")
        n = 0
        while session.current is not None and (limit is None or n < limit):
            choice, rating = self.judge(session.current.pair)
            session.label(choice, rating)
            n += 1
        return n

    def label_pairs(self, store: FeedbackStore, pairs: Iterable[Sequence[str]], *, model: str) -> list[LabelRecord]:
        """Label ``(prompt, response_a, response_b)`` pairs written by ``model`` into ``store`` through a
        session (pairs already judged are skipped), and return this labeller's labels of exactly these
        pairs (the store may hold others, from earlier runs)."""
        pairs = [_as_triple(p) for p in pairs]
        self.label(LabellingSession(store, pairs, model=model, labeller=self.name))
        ids = {pair_id(*p, model) for p in pairs}
        return [r for r in store.labels(self.name) if r.pair_id in ids]


def simulate_implicit_feedback(
    pair: ComparisonPair,
    rng: random.Random,
    *,
    temperature: float = 0.5,
    position_bias: float = 0.5,
    score: Callable[[str, str], float] = gold_score,
) -> tuple[Choice, float]:
    """Implicit feedback: which of two listed reviews a reader clicks, and how long they read it.

    Nobody states a preference; the reader clicks one and stays a while. Clicks are a noisier,
    biased preference: ``P(click A) = sigmoid((g_A - g_B) / temperature + position_bias)``, where
    ``position_bias > 0`` is the pull of the first item in a list. The dwell time on the clicked
    review is log-normal, longer for reviews the reader likes:
    ``seconds = exp(N(log(8) + 0.5 * g_clicked, 0.5))``. Returns ``(choice, seconds)``;
    ``session.label(choice, response_time_s=seconds)`` stores it like any judgement.
    """
    g_a, g_b = score(pair.response_a, pair.prompt), score(pair.response_b, pair.prompt)
    p_a = 1.0 / (1.0 + math.exp(-((g_a - g_b) / temperature + position_bias)))
    choice: Choice = "A" if rng.random() < p_a else "B"
    liked = g_a if choice == "A" else g_b
    return choice, math.exp(rng.gauss(math.log(8.0) + 0.5 * liked, 0.5))


def use_simulated_feedback(override: bool | None = None) -> bool:
    """Should the notebook use the simulated labeller instead of a person?

    ``override`` (the switch in a notebook's setup cell) wins; otherwise the environment variable
    ``RLHF_SIMULATED_FEEDBACK`` ("1"/"0", also "true"/"false"); otherwise on under CI
    (``CI=true``) and off for a learner.
    """
    if override is not None:
        return bool(override)
    value = os.environ.get("RLHF_SIMULATED_FEEDBACK", "").strip().lower()
    if value:
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"RLHF_SIMULATED_FEEDBACK={value!r}: use 1 (simulated labeller) or 0 (a person labels)")
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Agreement:
    """How often judgements agree with a reference (ties and skips are counted, not compared)."""

    rate: float
    """Share of compared judgements that agree (``nan`` when none could be compared)."""
    compared: int
    ties: int
    """Judgements that were ties, or pairs whose reference is a tie: left out of ``rate``."""
    skipped: int

    def __str__(self) -> str:
        return (
            f"agreement {self.rate:.1%} on {self.compared} pairs "
            f"({self.ties} ties and {self.skipped} skips left out)"
        )


def agreement_with_gold(
    labels: Iterable[LabelRecord],
    *,
    tie_margin: float = SimulatedLabeller.tie_margin,
    score: Callable[[str, str], float] = gold_score,
) -> Agreement:
    """Share of A/B judgements that pick the response with the higher gold score.

    Pairs whose gold scores are within ``tie_margin`` (gold ties) and judgements that are ties or
    skips are left out. Repeats count like any other judgement.
    """
    agree = compared = ties = skipped = 0
    for r in labels:
        if r.choice == "skip":
            skipped += 1
            continue
        gap = score(r.response_a, r.prompt) - score(r.response_b, r.prompt)
        if r.choice == "tie" or abs(gap) < tie_margin:
            ties += 1
            continue
        compared += 1
        agree += (gap > 0) == (r.choice == "A")
    return Agreement(agree / compared if compared else math.nan, compared, ties, skipped)


def self_agreement(labels: Iterable[LabelRecord]) -> Agreement:
    """How often a labeller gave the same answer to a pair shown twice (the repeat had A and B swapped).

    Compares the preferred *text*, so the swap does not matter; a pair is compared only when both
    showings were A/B choices.
    """
    first: dict[tuple[str, str], LabelRecord] = {}
    second: dict[tuple[str, str], LabelRecord] = {}
    for r in labels:
        (second if r.is_repeat else first)[(r.labeller, r.pair_id)] = r
    agree = compared = ties = skipped = 0
    for key, repeat in second.items():
        original = first.get(key)
        if original is None:
            continue
        choices = {original.choice, repeat.choice}
        if "skip" in choices:
            skipped += 1
        elif "tie" in choices:
            ties += 1
        else:
            compared += 1
            agree += original.chosen == repeat.chosen
    return Agreement(agree / compared if compared else math.nan, compared, ties, skipped)


# ---------------------------------------------------------------- training data


@dataclass(frozen=True)
class PreferencePair:
    """A training example: ``P(chosen preferred to rejected) = target`` (1.0, or 0.5 for a tie)."""

    prompt: str
    chosen: str
    rejected: str
    target: float = 1.0


def _training_labels(labels: Iterable[LabelRecord], model: str | None) -> list[LabelRecord]:
    """Active first judgements (repeats only measure self-agreement), checked against ``model``."""
    labels = [r for r in labels if not r.is_repeat]
    if model is not None:
        other = Counter(r.model for r in labels if r.model != model)
        if other:
            found = ", ".join(f"{n} from {m!r}" for m, n in other.most_common())
            raise ValueError(
                f"expected responses written by {model!r}, but found {found}. A reward model should "
                "learn from the model it will judge: label that model's samples, or filter the "
                "records (r.model == ...) before training."
            )
    return labels


def preference_pairs(
    labels: Iterable[LabelRecord], *, include_ties: bool = False, model: str | None = None
) -> list[PreferencePair]:
    """Turn judgements into chosen/rejected pairs for a Bradley-Terry loss.

    A and B choices give ``target=1.0``. Ties are left out, or with ``include_ties=True`` kept as
    one pair with ``target=0.5`` (the loss then pulls the two rewards together). Skips and repeats
    are left out. With ``model`` set, responses from any other model raise ``ValueError``.
    """
    out = []
    for r in _training_labels(labels, model):
        if r.choice in ("A", "B"):
            out.append(PreferencePair(r.prompt, r.chosen, r.rejected, 1.0))
        elif r.choice == "tie" and include_ties:
            out.append(PreferencePair(r.prompt, r.response_a, r.response_b, 0.5))
    return out


def to_trl_dataset(labels: Iterable[LabelRecord], *, model: str | None = None):
    """TRL's preference format: a ``datasets.Dataset`` with ``prompt``, ``chosen``, ``rejected``.

    ``chosen`` and ``rejected`` are the continuations; TRL prepends the prompt. ``RewardTrainer``
    and ``DPOTrainer`` take it as is. Ties, skips and repeats are left out.
    """
    from datasets import Dataset

    pairs = preference_pairs(labels, model=model)
    return Dataset.from_dict(
        {
            "prompt": [p.prompt for p in pairs],
            "chosen": [p.chosen for p in pairs],
            "rejected": [p.rejected for p in pairs],
        }
    )
