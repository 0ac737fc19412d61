"""A labelling session killed with SIGKILL keeps every label it had made, and the store still loads."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from rlhf_utils.feedback import LabellingSession
from rlhf_utils.feedback_store import FeedbackStore, load_records

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")

# The child labels through the same session API the widget uses, reports each label on stdout,
# then (when told to) sleeps until it is killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from rlhf_utils.feedback import LabellingSession, SimulatedLabeller
    from rlhf_utils.feedback_store import FeedbackStore

    path, n_labels, then_sleep = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "sleep"
    pairs = [(f"Review {i}:", f" a warm and lovely film, number {i}", f" a dull and boring film, number {i}")
             for i in range(n_labels * 4)]
    session = LabellingSession(FeedbackStore(path), pairs, model="crash-test", labeller="simulated")
    labeller = SimulatedLabeller(seed=0)
    print("ready", flush=True)
    for i in range(n_labels):
        choice, rating = labeller.judge(session.current.pair)
        session.label(choice, rating)
        print("labelled", i + 1, flush=True)
    if then_sleep:
        time.sleep(600)
    """
)


def start_child(path, n_labels: int, then: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(n_labels), then],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(child: subprocess.Popen, line: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = child.stdout.readline()
        if got.strip() == line:
            return
        if not got and child.poll() is not None:
            raise AssertionError(f"child exited with {child.returncode}: {child.stderr.read()}")
    child.kill()
    raise AssertionError(f"child did not print {line!r} within {timeout} s")


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    child.stdout.close()
    child.stderr.close()


@pytest.mark.parametrize("n_labels", [1, 7])
def test_sigkill_after_n_labels_leaves_n_records(tmp_path, n_labels):
    path = tmp_path / "labels.jsonl"
    child = start_child(path, n_labels, "sleep")
    read_until(child, f"labelled {n_labels}")
    kill(child)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file: no truncated line either
        records = load_records(path)
    assert len(records) == n_labels
    assert len({r.pair_id for r in records}) == n_labels and {r.model for r in records} == {"crash-test"}
    # a new session resumes after the labelled pairs
    pairs = [(f"Review {i}:", f" a warm and lovely film, number {i}", f" a dull and boring film, number {i}")
             for i in range(n_labels * 4)]
    session = LabellingSession(FeedbackStore(path), pairs, model="crash-test", labeller="simulated")
    assert session.done == n_labels and session.current.pair.prompt == f"Review {n_labels}:"


def test_sigkill_while_labelling_loses_nothing_that_was_reported(tmp_path):
    """Killed at an arbitrary moment mid-run: every label reported as saved is on disk."""
    path = tmp_path / "labels.jsonl"
    child = start_child(path, 10_000, "exit")
    read_until(child, "labelled 20")
    time.sleep(0.2)  # keep labelling for a moment, then kill without warning
    kill_time = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    reported = 20
    for line in child.stdout:  # everything the child had printed before it died
        if line.startswith("labelled"):
            reported = int(line.split()[1])
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL and time.monotonic() - kill_time < 10
    with warnings.catch_warnings(record=True):  # a cut-off last line would be tolerated (with a warning)
        store = FeedbackStore(path)
    assert reported <= len(store.labels()) <= reported + 1, (reported, len(store.labels()))
