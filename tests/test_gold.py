"""The gold score: sentiment a person would agree with, and no reward for degenerate text."""

import numpy as np
import pytest

from rlhf_utils.gold import degeneracy, gold_score, gold_scores, sentiment

FLUENT_POSITIVE = [
    "The film was a delight from start to finish, with warm performances and a clever",
    "I loved every minute of it. The cast is wonderful and the story is funny and",
    "An absolute joy to watch, beautifully shot and full of heart, this is one of the best",
    "It was very very good, and the ending made me smile",
]
FLUENT_NEUTRAL = [
    "The movie follows a detective in a small town who is trying to find out what happened",
    "It was released in 1998 and runs for about two hours, with a score by",
]
FLUENT_NEGATIVE = [
    "I was bored and the plot made no sense, the acting was",
    "A dull, lifeless mess with terrible dialogue and characters I could not care",
]
DEGENERATE = [
    "great great great love",
    "amazing amazing amazing",
    "love love love love love love",
    "great movie. great movie. great movie. great movie. great",
    "I loved it, I loved it, I loved it, I loved it, I loved it",
    "Great! :) :) :) :) :)",
    "!!!!!",
    "",
    "   ",
    "Great.",
]


def test_fluent_text_is_not_penalised_and_follows_sentiment():
    for text in FLUENT_POSITIVE + FLUENT_NEUTRAL + FLUENT_NEGATIVE:
        assert degeneracy(text).total == 0.0, (text, degeneracy(text))
        assert gold_score(text) == pytest.approx(sentiment(text))
    assert all(0.6 <= gold_score(t) <= 1.0 for t in FLUENT_POSITIVE)
    assert all(-1.0 <= gold_score(t) <= -0.3 for t in FLUENT_NEGATIVE)


def test_a_cut_off_sentence_is_not_penalised():
    """RL responses are fixed-length continuations: ending mid-sentence is normal."""
    whole = "The cast is wonderful and the story is funny and moving."
    cut = "The cast is wonderful and the story is funny and"
    assert degeneracy(cut).total == 0.0
    assert gold_score(cut) > 0.6 and abs(gold_score(cut) - gold_score(whole)) < 0.2


@pytest.mark.parametrize("text", DEGENERATE)
def test_degenerate_text_scores_below_neutral_text(text):
    neutral = min(gold_score(t) for t in FLUENT_NEUTRAL)
    assert gold_score(text) < neutral, (text, gold_score(text), degeneracy(text))


def test_repeating_praise_cannot_beat_a_fluent_positive_review():
    worst_fluent_positive = min(gold_score(t) for t in FLUENT_POSITIVE)
    for n in range(2, 30):
        assert gold_score(" ".join(["great"] * n)) < worst_fluent_positive
        assert gold_score("great movie, " * n) < worst_fluent_positive
    # VADER alone is fooled, which is why the penalty exists.
    assert sentiment("great great great love") > 0.9


def test_score_is_bounded_and_fully_degenerate_text_is_minus_one():
    texts = FLUENT_POSITIVE + FLUENT_NEGATIVE + DEGENERATE
    scores = gold_scores(texts)
    assert scores.shape == (len(texts),) and np.all(scores >= -1) and np.all(scores <= 1)
    assert gold_score("") == -1.0 and gold_score("amazing amazing amazing") == -1.0


def test_repetition_beyond_a_doubled_word_only_lowers_the_score():
    """A doubled word is tolerated ("very very good"); a third in a row already costs more than it adds."""
    base = "the story is warm and the cast is great"
    scores = [gold_score(base + " great" * k) for k in range(8)]
    assert all(s < scores[0] for s in scores[2:]), scores
    assert all(b <= a + 1e-9 for a, b in zip(scores[1:-1], scores[2:], strict=True)), scores


def test_prompt_counts_for_sentiment_but_not_for_degeneracy():
    # "not" in the prompt flips the sentiment of the continuation, as a reader would read it.
    assert gold_score(" good at all", prompt="It was not") < 0 < gold_score(" good at all", prompt="It was")
    # A good prompt cannot hide an empty or repetitive response.
    prompt = "This wonderful, moving film was"
    assert gold_score("", prompt=prompt) == -1.0
    assert gold_score(" great great great great", prompt=prompt) == -1.0


def test_gold_scores_is_gold_score_elementwise_and_checks_lengths():
    texts, prompts = ["a fine film", " awful", ""], ["", "It was", "x"]
    np.testing.assert_allclose(gold_scores(texts, prompts), [gold_score(t, p) for t, p in zip(texts, prompts)])
    with pytest.raises(ValueError, match="2 prompts"):
        gold_scores(texts, prompts[:2])
