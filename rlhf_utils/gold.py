"""The hidden *gold* score: what a person who wants positive, enthusiastic reviews would prefer (or its mirror).

The course uses it twice: the simulated labeller turns it into noisy preferences (the "human" of
``rlhf_utils.feedback``), and every later notebook evaluates its policies by it. A reward model is
a learned, imperfect copy of this score; a policy that learns to please the copy while the gold
score falls is over-optimising the reward model.

Definition (one formula, used everywhere; ``gold_score(response, prompt)``)::

    gold(x) = s(x) - d(x) * (1 + s(x))   =   (1 - d(x)) * s(x) - d(x)

* ``s(x)`` in [-1, 1] is the VADER compound sentiment (``vadersentiment``) of the whole text a
  reader sees, prompt + response;
* ``d(x)`` in [0, 1] is a *degeneracy* penalty of the response alone, made of five parts ``d_i``,
  each 0 for ordinary fluent text and 1 for text no reader would call a review, combined as
  ``d = 1 - prod_i (1 - d_i)``: any one part at 1 makes ``d = 1``, and several partial signs add up:

  ===================  ====================================================  ===========  ===========
  part                 measured on                                           0 when       1 when
  ===================  ====================================================  ===========  ===========
  ``too_few_words``    alphabetic words (empty, "!!!!!", "Great.")           >= 4         0
  ``word_run``         longest run of one token ("great great great")        <= 2         >= 4
  ``low_diversity``    distinct-word ratio, mean over 20-word windows        >= 0.65      <= 0.35
  ``repeated_ngrams``  share of word 3-grams repeating an earlier one        <= 0.10      >= 0.40
  ``symbols``          share of tokens without a letter (":)", "!!!")        <= 0.30      >= 0.70
  ===================  ====================================================  ===========  ===========

Each part is linear between its two ends. On ordinary prose (a license text cut into 18-word
pieces) every part is 0; "great great great love" gets ``d = 0.75`` (a run of 3 and half its
words distinct: ``1 - 0.5 * 0.5``).

So ``gold`` stays in [-1, 1]: with ``d = 0`` it is the sentiment; with ``d = 1`` it is -1 whatever
the sentiment, so repeating "great" can never raise it ("great great great love" scores below
neutral text although VADER alone gives it 0.96). In between, ``gold`` falls as ``d`` rises and
rises with ``s`` (slope ``1 - d``).

The mirror criterion ``negative`` (a person who wants scathing reviews) is ``(1 - d) * (-s) - d``: the same
penalty, the opposite sentiment. A third criterion, ``own``, is whatever a learner writes down; it has no
gold score (see :data:`CRITERIA`).

Only the first :data:`MAX_CHARS` characters of the text are read (VADER is pure Python and slow on
long texts; the course's responses are about 100 characters), so a huge input cannot stall a run.

Not penalised: a response that stops mid-sentence. The RLHF policies write fixed-length
continuations (24 tokens), so most responses end without punctuation; "truncated" here means
*almost no words*, not "no full stop".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

# Thresholds of the degeneracy parts. Each part ramps linearly from 0 at ``start`` to 1 at ``full``.
MIN_WORDS = 4
"""Texts with fewer alphabetic words are (partly) empty: 0 words -> 1, 4 or more -> 0."""
RUN_START, RUN_FULL = 2, 4
"""Longest run of one repeated token: up to 2 ("very very") is fine, 4 or more is degenerate."""
DIVERSITY_WINDOW = 20
"""Distinct-word ratio is averaged over sliding windows of this many words (length-independent)."""
DIVERSITY_START, DIVERSITY_FULL = 0.65, 0.35
"""Fluent 20-word windows have a distinct ratio of about 0.75-1.0."""
NGRAM = 3
NGRAM_START, NGRAM_FULL = 0.10, 0.40
"""Share of word 3-grams that already occurred earlier in the text."""
SYMBOL_START, SYMBOL_FULL = 0.30, 0.70
"""Share of whitespace tokens that contain no letter at all."""

MAX_CHARS = 2000
"""Characters of ``prompt + response`` (and of the response) the gold score reads; the rest is ignored."""

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


@lru_cache(maxsize=1)
def _analyzer():
    """One VADER analyser per process (it loads its lexicon once; scoring is pure Python)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound score of ``text``, in [-1, 1] (0 for empty text)."""
    return float(_analyzer().polarity_scores(text)["compound"])


def _ramp(value: float, start: float, full: float) -> float:
    """0 at ``start``, 1 at ``full``, linear in between, clipped (works for falling ramps too)."""
    return min(1.0, max(0.0, (value - start) / (full - start)))


def _tokens(text: str) -> list[str]:
    """Whitespace tokens, lower-cased, edge punctuation stripped ("Great," -> "great").

    A token made only of symbols keeps its symbols (":)" stays ":)"), so a run of emoticons is a run.
    """
    out = []
    for raw in text.lower().split():
        stripped = _EDGE_PUNCT.sub("", raw)
        out.append(stripped or raw)
    return out


def _longest_run(items: list[str]) -> int:
    best = run = 0
    previous = None
    for item in items:
        run = run + 1 if item == previous else 1
        previous = item
        best = max(best, run)
    return best


def _windowed_distinct_ratio(words: list[str], window: int = DIVERSITY_WINDOW) -> float:
    """Mean distinct-word ratio over all windows of ``window`` words (the whole text if shorter)."""
    if not words:
        return 1.0
    if len(words) <= window:
        return len(set(words)) / len(words)
    ratios = [len(set(words[i : i + window])) / window for i in range(len(words) - window + 1)]
    return float(np.mean(ratios))


def _repeated_ngram_share(words: list[str], n: int = NGRAM) -> float:
    """Share of the text's word n-grams that repeat an n-gram seen earlier in the same text."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


@dataclass(frozen=True)
class Degeneracy:
    """The parts ``d_i`` of the degeneracy penalty (each in [0, 1]); ``total`` combines them into ``d``."""

    too_few_words: float
    word_run: float
    low_diversity: float
    repeated_ngrams: float
    symbols: float

    @property
    def total(self) -> float:
        """``d = 1 - prod_i (1 - d_i)``."""
        return 1.0 - float(np.prod([1.0 - part for part in asdict(self).values()]))


def degeneracy(text: str) -> Degeneracy:
    """Measure how degenerate ``text`` is (see the module docstring for each part)."""
    words = _WORD.findall(text.lower())
    tokens = _tokens(text)
    symbol_share = sum(not any(c.isalpha() for c in t) for t in tokens) / len(tokens) if tokens else 0.0
    return Degeneracy(
        too_few_words=_ramp(len(words), MIN_WORDS, 0),
        word_run=_ramp(_longest_run(tokens), RUN_START, RUN_FULL),
        low_diversity=_ramp(_windowed_distinct_ratio(words), DIVERSITY_START, DIVERSITY_FULL),
        repeated_ngrams=_ramp(_repeated_ngram_share(words), NGRAM_START, NGRAM_FULL),
        symbols=_ramp(symbol_share, SYMBOL_START, SYMBOL_FULL),
    )


def gold_score(response: str, prompt: str = "", criterion: str = "positive") -> float:
    """The gold score of a response under a named criterion, in [-1, 1] (higher = preferred).

    ``positive`` (the default): ``(1 - d) * s - d``; ``negative``, its mirror: ``(1 - d) * (-s) - d``.
    Both keep the same degeneracy penalty, so neither can be gamed by repetition.

    A reader judges the whole review, so the sentiment ``s`` is taken on ``prompt + response``
    (a continuation is appended to its prompt as is, like the tokens it came from). The
    degeneracy ``d`` is measured on the ``response`` alone: the prompt is ours, not the model's,
    and must not hide an empty or repetitive response.
    """
    sign = _SENTIMENT_SIGN.get(check_criterion(criterion, named=True))
    s = sentiment((prompt + response)[:MAX_CHARS])
    d = degeneracy(response[:MAX_CHARS]).total
    return (1.0 - d) * sign * s - d


def gold_scores(responses: Iterable[str], prompts: Iterable[str] | None = None,
                criterion: str = "positive") -> np.ndarray:
    """``gold_score`` of every response (with its prompt, if given) under ``criterion``, as a float array.

    VADER is pure Python: about 0.2 ms per short text, so 1,000 responses take about 0.3 s.
    """
    check_criterion(criterion, named=True)
    responses = list(responses)
    prompts = [""] * len(responses) if prompts is None else list(prompts)
    if len(prompts) != len(responses):
        raise ValueError(f"gold_scores got {len(responses)} responses but {len(prompts)} prompts")
    return np.array([gold_score(r, p, criterion) for r, p in zip(responses, prompts, strict=True)], dtype=float)


# ============================================================================ criteria
CRITERIA = ("positive", "negative", "own")
"""What a learner can prefer: the two *named* criteria have a gold score (and a simulated person who
follows it); ``own`` is a criterion the learner writes in words, judged only by their own labels."""
NAMED_CRITERIA = ("positive", "negative")
_SENTIMENT_SIGN = {"positive": 1.0, "negative": -1.0}
CRITERION_ENV_VAR = "RLHF_CRITERION"


class UnknownCriterionError(ValueError):
    """A criterion name that is not one of :data:`CRITERIA` (the message lists them)."""


def check_criterion(criterion: object, named: bool = False) -> str:
    """``criterion`` if it is a valid name (a named one, with a gold score, when ``named``), else a clear error."""
    valid = NAMED_CRITERIA if named else CRITERIA
    if criterion in valid:
        return criterion  # type: ignore[return-value]
    if criterion == "own" and named:
        raise ValueError("The criterion 'own' has no gold score: only your own labels judge it. A gold score "
                         f"exists for {', '.join(repr(c) for c in NAMED_CRITERIA)}.")
    raise UnknownCriterionError(f"Unknown criterion {criterion!r}: use one of {', '.join(repr(c) for c in valid)} "
                                f"(set it in the notebook's setup cell, or with {CRITERION_ENV_VAR}).")


def choose_criterion(setting: str | None = None) -> str:
    """The learner's criterion: the notebook's own ``setting`` wins, then ``RLHF_CRITERION``, then ``positive``."""
    import os

    value = setting if setting is not None else (os.environ.get(CRITERION_ENV_VAR, "").strip() or "positive")
    return check_criterion(value)


def gold_function(criterion: str = "positive"):
    """``f(responses, prompts) -> gold scores`` for a named criterion: the evaluator's ``gold_fn``."""
    check_criterion(criterion, named=True)

    def scores(responses: Iterable[str], prompts: Iterable[str] | None = None) -> np.ndarray:
        return gold_scores(responses, prompts, criterion)

    scores.__name__ = f"gold_{criterion}"
    return scores
