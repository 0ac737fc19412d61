"""Feedback records, the JSONL store (bad input included), sessions, the simulated labeller, conversion."""

import json
import math
import random
import warnings
from dataclasses import asdict

import pytest

from rlhf_utils import feedback as fb
from rlhf_utils.feedback import (
    ComparisonPair,
    LabellingSession,
    SimulatedLabeller,
    agreement_with_gold,
    preference_pairs,
    self_agreement,
    use_simulated_feedback,
)
from rlhf_utils.feedback_store import (
    SIMULATED,
    FeedbackFileError,
    FeedbackStore,
    LabelRecord,
    Retraction,
    active_labels,
    load_records,
    record_from_dict,
)
from rlhf_utils.trl_trainers import preference_dataset
from rlhf_utils.gold import gold_score

MODEL = "test-gpt2"
PAIRS = [
    ("This movie was", " a joy from start to finish, warm and funny", " a dull mess and far too long"),
    ("I watched it and", " it bored me to tears, the plot is silly", " I loved the cast, a wonderful evening"),
    ("The acting", " is fine and the music is pleasant enough", " is wooden and the script is awful"),
    ("Honestly, the story", " takes place in a small town in the fifties", " follows a family that moves to the city"),
    ("The director", " made something beautiful and moving here", " great great great great great great"),
]
OPENINGS = ["This movie was", "I watched this film last night and", "The acting in this one", "Honestly, the story"]
CONTINUATIONS = [
    " a pleasant surprise, with a few funny moments and a cast that clearly enjoyed",
    " one of the best films I have seen this year, moving and beautifully made",
    " fine, nothing special, but the second half picks up a little and the",
    " a complete waste of time, the jokes fall flat and the plot goes nowhere",
    " long and slow, and I kept checking my watch during the middle part of",
    " set in a small town in the fifties, where a young teacher arrives to",
    " okay for a rainy afternoon, though the ending felt rushed and a bit",
    " brilliant, funny and warm, with a soundtrack I still hum days later",
    " boring, predictable and badly acted, I would not recommend it to anyone",
    " mostly forgettable, but the lead actress does what she can with the",
    " a lovely little story about friendship that made me smile more than once",
    " not as good as the book, but still an enjoyable watch with some strong",
    " decent, the music is good but the characters are thin and the script",
    " weak, the villain is silly and the action scenes are hard to follow",
    " a quiet drama that takes its time, and the two leads are very",
    " uneven, with a strong opening and a weak middle, but worth seeing for",
    " great great great great great great great",
    " I loved it. I loved it. I loved it. I loved",
    "",
]


def review_pairs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` distinct (prompt, response_a, response_b) pairs of hand-written review continuations."""
    rng = random.Random(seed)
    pairs: dict[tuple[str, frozenset[str]], tuple[str, str, str]] = {}
    while len(pairs) < n:
        prompt, a, b = rng.choice(OPENINGS), *rng.sample(CONTINUATIONS, 2)
        pairs.setdefault((prompt, frozenset((a, b))), (prompt, a, b))
    return list(pairs.values())


def label(choice="A", **kw) -> LabelRecord:
    fields = dict(prompt="p", response_a=" a", response_b=" b", choice=choice, labeller="ann", model=MODEL)
    return LabelRecord(**(fields | kw))


# ----------------------------------------------------------------------------- records


def test_record_holds_everything_a_judgement_needs():
    r = label("B", rating=3)
    data = json.loads(json.dumps(asdict(r)))
    for key in ("prompt", "response_a", "response_b", "choice", "rating", "labeller", "created_at", "model", "pair_id"):
        assert key in data
    assert r.chosen == " b" and r.rejected == " a"
    assert record_from_dict(data) == r


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(choice="C"), "unknown choice 'C'"),
        (dict(choice="a"), "unknown choice"),
        (dict(rating=6), "rating must be one of"),
        (dict(rating=True), "rating must be one of"),
        (dict(choice="tie", rating=2), "has none"),
        (dict(labeller=""), "must not be empty"),
        (dict(model=None), "'model' must be a string"),
    ],
)
def test_invalid_records_are_refused_when_made(kw, message):
    with pytest.raises(ValueError, match=message):
        label(**kw)


def test_pair_id_is_stable_and_ignores_which_side_is_a():
    a = ComparisonPair("p", " x", " y", MODEL)
    assert a.pair_id == ComparisonPair("p", " x", " y", MODEL).pair_id == a.swapped().pair_id
    assert a.pair_id != ComparisonPair("p", " x", " y", "other-model").pair_id
    assert a.pair_id != ComparisonPair("p", " x", " z", MODEL).pair_id


# ----------------------------------------------------------------------------- the store


def test_missing_file_is_an_empty_store_created_at_first_append(tmp_path):
    path = tmp_path / "sub" / "labels.jsonl"
    store = FeedbackStore(path)
    assert len(store) == 0 and store.labels() == [] and not path.exists()
    store.append(label())
    assert path.exists() and len(path.read_text().splitlines()) == 1


def test_each_append_is_on_disk_before_it_returns(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = FeedbackStore(path)
    records = [store.append(label(c)) for c in ("A", "B", "tie", "skip")]
    for i, record in enumerate(records):
        assert json.loads(path.read_text().splitlines()[i])["record_id"] == record.record_id
    assert load_records(path) == records == FeedbackStore(path).records


def test_undo_appends_a_retraction_and_never_rewrites(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = FeedbackStore(path)
    first, second = store.append(label("A")), store.append(label("B", response_b=" c"))
    before = path.read_bytes()
    retraction = store.retract(second)
    assert path.read_bytes().startswith(before)
    assert isinstance(retraction, Retraction) and retraction.retracts == second.record_id
    reloaded = FeedbackStore(path)
    assert len(reloaded) == 3 and reloaded.labels() == [first]
    with pytest.raises(ValueError, match="no record with that id"):
        store.append(Retraction(retracts="nope", labeller="ann", pair_id=""))


def test_truncated_last_line_warns_keeps_the_rest_and_is_set_aside(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = FeedbackStore(path)
    kept = [store.append(label(c)) for c in ("A", "B")]
    cut_off = json.dumps(asdict(label("tie")))[:40]
    with open(path, "a") as f:
        f.write(cut_off)  # what a crash in the middle of a write leaves
    with pytest.warns(UserWarning, match=r"labels\.jsonl, line 3: the last line is cut off.*keeping the 2"):
        assert load_records(path) == kept
    with pytest.warns(UserWarning, match="cut off"):
        store = FeedbackStore(path)
    assert store.records == kept
    with pytest.warns(UserWarning, match="moved the cut-off last line"):
        new = store.append(label("skip"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_records(path) == [*kept, new]
    assert (tmp_path / "labels.jsonl.truncated").read_text() == cut_off + "\n"  # nothing is lost


def test_a_complete_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(asdict(label("A"))))  # e.g. saved by an editor
    store = FeedbackStore(path)
    assert len(store) == 1
    store.append(label("B"))
    assert [r.choice for r in load_records(path)] == ["A", "B"]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "a record is a JSON object"),
        ('{"kind": "vote"}', "unknown record kind 'vote'"),
        ('{"kind": "label", "prompt": "p"}', "lacks field"),
        (None, "unknown choice 'maybe'"),
        ('{"kind": "retraction", "retracts": "x", "labeller": "ann", "record_id": "r"}', "no earlier line"),
    ],
)
def test_malformed_record_is_rejected_naming_file_and_line(tmp_path, bad_line, message):
    if bad_line is None:
        bad_line = json.dumps(asdict(label("A")) | {"choice": "maybe"})
    path = tmp_path / "labels.jsonl"
    good = json.dumps(asdict(label("A")))
    path.write_text(f"{good}\n{bad_line}\n{good}\n")
    with pytest.raises(FeedbackFileError, match=rf"labels\.jsonl, line 2: .*{message}"):
        load_records(path)
    with pytest.raises(FeedbackFileError, match="line 2"):
        FeedbackStore(path)
    assert path.read_text() == f"{good}\n{bad_line}\n{good}\n"  # reading never changes the file


def test_malformed_last_line_with_valid_json_is_an_error_not_a_truncation(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(asdict(label("A")) | {"choice": "C"}))
    with pytest.raises(FeedbackFileError, match="line 1: .*unknown choice 'C'"):
        load_records(path)


# ----------------------------------------------------------------------------- sessions


def test_session_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "labels.jsonl"
    session = LabellingSession(FeedbackStore(path), PAIRS, model=MODEL, labeller="ann")
    assert (session.done, session.total, session.remaining) == (0, 5, 5)
    judged = []
    for choice in ("A", "skip"):
        judged.append(session.current.pair.pair_id)
        session.label(choice)
    # a new kernel: a fresh store and session on the same file
    resumed = LabellingSession(FeedbackStore(path), PAIRS, model=MODEL, labeller="ann")
    assert (resumed.done, resumed.remaining) == (2, 3)
    shown = []
    while resumed.current:
        shown.append(resumed.current.pair.pair_id)
        resumed.label("tie")
    assert not set(shown) & set(judged) and len(shown) == 3
    # another labeller on the same file starts from the beginning
    assert LabellingSession(FeedbackStore(path), PAIRS, model=MODEL, labeller="bob").remaining == 5


def test_undo_retracts_the_last_label_and_shows_the_pair_again(tmp_path):
    path = tmp_path / "labels.jsonl"
    session = LabellingSession(FeedbackStore(path), PAIRS, model=MODEL, labeller="ann")
    assert session.undo() is None
    first = session.current
    session.label("A")
    second = session.current
    session.label("B", rating=2)
    assert session.undo().retracts == session.store.records[1].record_id
    assert session.current == second and session.done == 1
    session.label("tie")
    # a new session (round two, another kernel) never retracts an earlier session's label
    resumed = LabellingSession(FeedbackStore(path), PAIRS, model=MODEL, labeller="ann")
    assert resumed.undo() is None and resumed.remaining == 3
    resumed.label("skip")
    assert resumed.undo().retracts == resumed.store.records[-1].retracts and resumed.remaining == 3
    assert resumed.undo() is None  # only the one label it made
    kinds = [(type(r).__name__, getattr(r, "choice", None)) for r in load_records(path)]
    assert kinds == [
        ("LabelRecord", "A"),
        ("LabelRecord", "B"),
        ("Retraction", None),
        ("LabelRecord", "tie"),
        ("LabelRecord", "skip"),
        ("Retraction", None),
    ]
    assert [r.pair_id for r in active_labels(load_records(path))] == [first.pair.pair_id, second.pair.pair_id]


def test_repeats_are_swapped_marked_and_measure_self_agreement(tmp_path):
    session = LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), PAIRS, model=MODEL, labeller="ann", repeats=2)
    assert session.total == 7
    seen: dict[str, fb.QueueItem] = {}
    flip_first = True
    while session.current:
        item = session.current
        if item.is_repeat:
            original = seen[item.pair.pair_id]
            assert item.pair == original.pair.swapped()
            # same text preferred for the first repeat, the other text for the second
            session.label("B" if flip_first else "A")
            flip_first = False
        else:
            seen[item.pair.pair_id] = item
            session.label("A")
    labels = session.store.labels()
    assert sum(r.is_repeat for r in labels) == 2
    result = self_agreement(labels)
    assert (result.compared, result.rate) == (2, 0.5)
    assert len(preference_pairs(labels)) == 5  # repeats do not enter the training data


def test_duplicate_pairs_are_shown_once_and_bad_pairs_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "l.jsonl")
    assert LabellingSession(store, PAIRS + PAIRS[:2], model=MODEL, labeller="ann").total == 5
    with pytest.raises(ValueError, match="three strings"):
        LabellingSession(store, [("only a prompt", " a")], model=MODEL, labeller="ann")
    with pytest.raises(ValueError, match="labeller"):
        LabellingSession(store, PAIRS, model=MODEL, labeller="")


# ----------------------------------------------------------------------------- simulated labeller


def test_simulated_labeller_writes_through_the_session(tmp_path, monkeypatch):
    calls = []
    original = LabellingSession.label
    monkeypatch.setattr(LabellingSession, "label", lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    session = LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), PAIRS, model=MODEL, labeller=SIMULATED)
    assert SimulatedLabeller(seed=0).label(session) == 5
    labels = FeedbackStore(tmp_path / "l.jsonl").labels()
    assert len(calls) == len(labels) == 5 and {r.labeller for r in labels} == {"simulated"}
    with pytest.raises(ValueError, match="simulated session"):
        SimulatedLabeller().label(LabellingSession(session.store, PAIRS, model=MODEL, labeller="ann"))


def test_simulated_choices_follow_bradley_terry_on_gold_scores(tmp_path):
    pairs = review_pairs(600)
    session = LabellingSession(FeedbackStore(tmp_path / "l.jsonl"), pairs, model=MODEL, labeller=SIMULATED)
    labeller = SimulatedLabeller(seed=1)
    labeller.label(session)
    labels = session.store.labels()
    result = agreement_with_gold(labels)
    # noisy but informative: the documented temperature gives 80-95 % agreement on such pairs
    assert 0.80 <= result.rate <= 0.95, result
    for r in labels:
        gap = gold_score(r.response_a, r.prompt) - gold_score(r.response_b, r.prompt)
        assert (r.choice == "tie") == (abs(gap) < labeller.tie_margin)
        if r.choice in ("A", "B"):
            assert r.rating == 1 + min(4, int(abs(gap) / 0.25))
    assert result.ties == sum(r.choice == "tie" for r in labels) > 0
    # a colder labeller agrees more, a hotter one less (judging directly; the store is tested above)
    colder, hotter = (_agreement_at(pairs, t) for t in (0.02, 1.0))
    assert hotter < result.rate < colder and colder > 0.97, (hotter, result.rate, colder)


def _agreement_at(pairs, temperature) -> float:
    labeller = SimulatedLabeller(temperature=temperature, seed=1)
    labels = [
        label(labeller.judge(ComparisonPair(*pair, MODEL))[0], prompt=pair[0], response_a=pair[1], response_b=pair[2])
        for pair in pairs
    ]
    return agreement_with_gold(labels).rate


def test_simulated_labeller_is_reproducible_and_resumable(tmp_path):
    pairs = review_pairs(40)

    def run(path, stop_after=None):
        session = LabellingSession(FeedbackStore(path), pairs, model=MODEL, labeller=SIMULATED)
        SimulatedLabeller(seed=3).label(session, limit=stop_after)
        return [r.choice for r in FeedbackStore(path).labels()]

    assert run(tmp_path / "a.jsonl") == run(tmp_path / "b.jsonl")
    run(tmp_path / "c.jsonl", stop_after=15)
    assert len(FeedbackStore(tmp_path / "c.jsonl").labels()) == 15
    assert len(run(tmp_path / "c.jsonl")) == 40


def test_agreement_leaves_out_gold_ties_label_ties_and_skips():
    a_better = label("A", prompt="It was", response_a=" wonderful", response_b=" terrible")
    labels = [
        a_better,
        label("B", prompt="It was", response_a=" wonderful", response_b=" terrible"),
        label("tie", prompt="It was", response_a=" lovely", response_b=" awful"),
        label("skip", prompt="It was", response_a=" lovely", response_b=" awful"),
        label("A", prompt="It", response_a=" is set in a small town", response_b=" was shot in the spring"),  # gold tie
    ]
    result = agreement_with_gold(labels)
    assert (result.rate, result.compared, result.ties, result.skipped) == (0.5, 2, 2, 1)


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        SimulatedLabeller(temperature=0)


@pytest.mark.parametrize(
    "env, override, expected",
    [
        ({}, None, False),
        ({"CI": "true"}, None, True),
        ({"CI": "true", "RLHF_SIMULATED_FEEDBACK": "0"}, None, False),
        ({"RLHF_SIMULATED_FEEDBACK": "1"}, None, True),
        ({"RLHF_SIMULATED_FEEDBACK": "1"}, False, False),
        ({}, True, True),
    ],
)
def test_use_simulated_feedback_switch(monkeypatch, env, override, expected):
    for name in ("CI", "RLHF_SIMULATED_FEEDBACK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert use_simulated_feedback(override) is expected


def test_use_simulated_feedback_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("RLHF_SIMULATED_FEEDBACK", "maybe")
    with pytest.raises(ValueError, match="use 1"):
        use_simulated_feedback()


# ----------------------------------------------------------------------------- training formats


def test_conversion_to_chosen_rejected_and_trl_format():
    labels = [
        label("A", response_a=" good", response_b=" bad"),
        label("B", response_a=" meh", response_b=" fine"),
        label("tie", response_a=" x", response_b=" y"),
        label("skip", response_a=" u", response_b=" v"),
    ]
    pairs = preference_pairs(labels)
    assert [(p.chosen, p.rejected, p.target) for p in pairs] == [(" good", " bad", 1.0), (" fine", " meh", 1.0)]
    with_ties = preference_pairs(labels, include_ties=True)
    assert [(p.chosen, p.rejected, p.target) for p in with_ties][-1] == (" x", " y", 0.5)
    dataset = preference_dataset(with_ties)  # TRL's format: the tie is left out, the prompt follows the prompt rule
    assert dataset.column_names == ["prompt", "chosen", "rejected"]
    assert len(dataset) == 2
    assert dataset[1] == {"prompt": "<|endoftext|>p", "chosen": " fine", "rejected": " meh"}
    assert len(preference_dataset([])) == 0


def test_responses_from_another_model_are_refused_by_name():
    labels = [label("A"), label("B", model="gpt2", response_a=" c")]
    assert len(preference_pairs(labels)) == 2
    with pytest.raises(ValueError, match=r"expected responses written by 'test-gpt2', but found 1 from 'gpt2'"):
        preference_pairs(labels, model=MODEL)


def test_implicit_clicks_are_a_noisier_position_biased_preference(tmp_path):
    pairs = review_pairs(250, seed=2)
    rng = random.Random(0)
    session = LabellingSession(FeedbackStore(tmp_path / "clicks.jsonl"), pairs, model=MODEL, labeller="clicks")
    while session.current:
        choice, seconds = fb.simulate_implicit_feedback(session.current.pair, rng)
        assert seconds > 0
        session.label(choice, response_time_s=seconds)
    clicks = session.store.labels()
    stated = LabellingSession(FeedbackStore(tmp_path / "stated.jsonl"), pairs, model=MODEL, labeller=SIMULATED)
    SimulatedLabeller(seed=0).label(stated)
    click_agreement = agreement_with_gold(clicks).rate
    assert 0.6 < click_agreement < agreement_with_gold(stated.store.labels()).rate

    def share_of_first(bias: float) -> float:  # each pair shown both ways round: no preference for A by content
        rng = random.Random(1)
        shown = [ComparisonPair(*p, MODEL) for p in pairs] + [ComparisonPair(*p, MODEL).swapped() for p in pairs]
        return [fb.simulate_implicit_feedback(q, rng, position_bias=bias)[0] for q in shown].count("A") / len(shown)

    assert abs(share_of_first(0.0) - 0.5) < 0.05 < share_of_first(1.0) - 0.5, (share_of_first(0.0), share_of_first(1.0))


def test_label_pairs_labels_through_a_session_and_returns_only_these_pairs(tmp_path):
    store = FeedbackStore(tmp_path / "labels.jsonl")
    labeller = SimulatedLabeller(seed=0)
    old = labeller.label_pairs(store, [("This movie", " was a delight.", " was dull.")], model="m")
    new_pairs = [("The story", " is great fun.", " is boring."), ("The cast", " shines.", " is wooden.")]
    labels = labeller.label_pairs(store, new_pairs, model="m")
    assert len(old) == 1 and len(labels) == 2 and len(store.labels()) == 3
    assert {r.prompt for r in labels} == {"The story", "The cast"} and all(r.labeller == SIMULATED for r in labels)
    assert labeller.label_pairs(store, new_pairs, model="m") == labels  # already judged: nothing appended
    assert len(store.labels()) == 3
    mirror = SimulatedLabeller(seed=0, criterion="negative")   # same name, another criterion, same store
    negative = mirror.label_pairs(store, new_pairs, model="m")
    assert len(negative) == 2 and all(r.criterion == "negative" for r in negative) and len(store.labels()) == 5
    assert labeller.label_pairs(store, new_pairs, model="m") == labels, "each gets only its own criterion's labels"


def test_click_rate_and_click_agreement_are_reproducible_and_read_the_position_bias():
    """Notebook 04's exercise 3 references: the same seed gives the same clicks; a pull to the first-listed
    review raises the share of A clicks and lowers agreement with gold; ties are left out of agreement."""
    pairs = [ComparisonPair(*p, MODEL) for p in review_pairs(300, seed=3)]
    assert fb.implicit_clicks(pairs, 0.5, seed=4) == fb.implicit_clicks(pairs, 0.5, seed=4)
    assert fb.implicit_clicks(pairs, 0.5, seed=4) != fb.implicit_clicks(pairs, 0.5, seed=5)
    both_ways = pairs + [p.swapped() for p in pairs]          # no preference for A by content
    assert abs(fb.click_rate(both_ways, position_bias=0.0) - 0.5) < 0.05
    assert fb.click_rate(both_ways, position_bias=1.0) > fb.click_rate(both_ways, position_bias=0.0) + 0.1
    clicks = fb.implicit_clicks(both_ways, 1.0)
    assert fb.click_rate(both_ways, position_bias=1.0) == clicks.count("A") / len(clicks)   # a share, not a count
    unbiased, biased = (fb.click_agreement_with_gold(pairs, position_bias=b) for b in (0.0, 2.0))
    assert 0.6 < unbiased <= 1.0 and biased < unbiased, (unbiased, biased)
    tie = ComparisonPair("It was", " the film", " the plot", MODEL)          # no sentiment word: a gold tie
    assert math.isnan(fb.click_agreement_with_gold([tie]))
