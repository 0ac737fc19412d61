"""Human feedback: labelling sessions, the simulated labeller, agreement, and training pairs (notebook 04).

A :class:`LabellingSession` walks a list of pairs, skipping those this labeller already judged (so
labelling resumes where it stopped), and writes every judgement to a
:class:`~rlhf_utils.feedback_store.FeedbackStore` at once. The widget in ``rlhf_utils.labelling`` and
the :class:`SimulatedLabeller` both label through :meth:`LabellingSession.label`: the simulated human
fills the same store through the same code path.

Bradley-Terry (the model behind the reward model) has no ties, and TRL's ``RewardTrainer`` cannot
take them: ties are stored, optionally kept with a 0.5 target by :func:`preference_pairs`, and left
out of every agreement measure.
"""

from __future__ import annotations

import functools
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .feedback_store import SIMULATED, Choice, FeedbackStore, LabelRecord, Retraction, pair_id
from .gold import check_criterion, gold_score


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
class QueueItem:
    """A pair waiting to be judged; ``is_repeat`` marks a deliberate second showing (A and B swapped)."""

    pair: ComparisonPair
    is_repeat: bool = False

    @property
    def key(self) -> tuple[str, bool]:
        return (self.pair.pair_id, self.is_repeat)


class StaleLabelError(RuntimeError):
    """A judgement of a pair the session is no longer showing (a double-click, a second widget): not saved."""


class LabellingSession:
    """Walks a labeller through pairs, writing every judgement to a :class:`FeedbackStore` at once.

    ``pairs`` are ``(prompt, response_a, response_b)`` tuples (or :class:`ComparisonPair`) written
    by ``model``. Pairs this labeller already judged in the store are not shown again, so a new
    session on the same file resumes where the last one stopped. ``repeats`` pairs, chosen at
    random, are shown a second time later on with A and B swapped (recorded with
    ``is_repeat=True``, not announced to the labeller), to measure self-agreement. Every label records
    the session's ``criterion``; a pair judged under another criterion is shown again.
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
        criterion: str = "positive",
    ) -> None:
        if not labeller or not isinstance(labeller, str):
            raise ValueError("labeller must be a non-empty name (a person's name, or 'simulated')")
        self.store, self.model, self.labeller = store, model, labeller
        self.criterion = check_criterion(criterion)
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
        done = {(r.pair_id, r.is_repeat) for r in store.labels(labeller) if r.criterion == self.criterion}
        self._queue = [it for it in items if it.key not in done]
        self._made: list[tuple[LabelRecord, QueueItem]] = []  # this session's labels, for undo

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

    def label(
        self,
        choice: Choice,
        rating: int | None = None,
        response_time_s: float | None = None,
        *,
        shown: tuple[str, bool] | None = None,
    ) -> LabelRecord:
        """Record a judgement of the current pair (written to disk before this returns) and move on.

        ``shown`` is the :attr:`QueueItem.key` of the pair the person saw (the widget passes it): when
        the session has moved on since, nothing is saved and :class:`StaleLabelError` is raised.
        """
        item = self.current
        if item is None:
            raise RuntimeError("every pair of this session is labelled; nothing to label")
        if shown is not None and shown != item.key:
            raise StaleLabelError(
                "that click was for a pair this session has already moved past (a double-click, or another "
                "widget on the same session); it was not saved. The pair to judge now is shown."
            )
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
            criterion=self.criterion,
            is_repeat=item.is_repeat,
            response_time_s=response_time_s,
        )
        self.store.append(record)
        self._made.append((record, self._queue.pop(0)))
        return record

    def undo(self) -> Retraction | None:
        """Retract the latest label made in *this* session and show its pair again.

        Labels from earlier sessions (an earlier round, another kernel) are never touched. Returns the
        retraction, or ``None`` when this session has nothing left to undo.
        """
        active = {r.record_id for r in self.store.labels(self.labeller)}
        while self._made and self._made[-1][0].record_id not in active:
            self._made.pop()  # already retracted elsewhere (another session on the file)
        if not self._made:
            return None
        record, item = self._made[-1]
        retraction = self.store.retract(record)
        self._made.pop()
        self._queue.insert(0, item)
        return retraction


def _as_triple(item: Sequence[str]) -> tuple[str, str, str]:
    if not isinstance(item, Sequence) or isinstance(item, str | bytes) or len(item) != 3 or not all(isinstance(x, str) for x in item):
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
    criterion: str = "positive"
    """Which named criterion's gold score this person follows (``positive`` or ``negative``)."""
    score: Callable[[str, str], float] | None = None
    """``score(response, prompt)``: the hidden preference; by default the gold score of ``criterion``."""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.score is None:
            self.score = functools.partial(gold_score, criterion=check_criterion(self.criterion, named=True))
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
        session (pairs already judged by this criterion are skipped), and return this labeller's labels of
        exactly these pairs by its own criterion (the store may hold others: earlier runs, other criteria)."""
        pairs = [_as_triple(p) for p in pairs]
        self.label(LabellingSession(store, pairs, model=model, labeller=self.name, criterion=self.criterion))
        ids = {pair_id(*p, model) for p in pairs}
        return [r for r in store.labels(self.name) if r.pair_id in ids and r.criterion == self.criterion]


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


def implicit_clicks(pairs: Sequence[ComparisonPair], position_bias: float = 0.5, seed: int = 0) -> list[Choice]:
    """One simulated click per pair (:func:`simulate_implicit_feedback`), in order, from a fresh
    ``random.Random(seed)``: the same pairs and seed give the same clicks on every call."""
    rng = random.Random(seed)
    return [simulate_implicit_feedback(pair, rng, position_bias=position_bias)[0] for pair in pairs]


def click_rate(pairs: Sequence[ComparisonPair], position_bias: float = 0.5, seed: int = 0) -> float:
    """Share of :func:`implicit_clicks` on the first-listed review (A); 0.5 would mean no pull either way.

    The reference of notebook 04's exercise 3.
    """
    clicks = implicit_clicks(pairs, position_bias, seed)
    return sum(c == "A" for c in clicks) / len(clicks)


def click_agreement_with_gold(pairs: Sequence[ComparisonPair], position_bias: float = 0.5, seed: int = 0,
                              tie_margin: float = SimulatedLabeller.tie_margin) -> float:
    """:func:`agreement_with_gold` of :func:`implicit_clicks`, each click read as an A/B judgement (gold ties
    left out): how good a preference signal clicks are, with and without position bias."""
    clicks = implicit_clicks(pairs, position_bias, seed)
    as_labels = [LabelRecord(pair.prompt, pair.response_a, pair.response_b, click, labeller="clicks", model=pair.model)
                 for pair, click in zip(pairs, clicks, strict=True)]
    return agreement_with_gold(as_labels, tie_margin=tie_margin).rate


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
    criterion: str = "positive",
    score: Callable[[str, str], float] | None = None,
) -> Agreement:
    """Share of A/B judgements that pick the response with the higher gold score of ``criterion``.

    Pairs whose gold scores are within ``tie_margin`` (gold ties) and judgements that are ties or
    skips are left out. Repeats count like any other judgement. ``score`` replaces the gold score.
    """
    if score is None:
        score = functools.partial(gold_score, criterion=check_criterion(criterion, named=True))
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
