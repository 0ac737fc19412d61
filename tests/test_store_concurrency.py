"""Nothing saved is ever lost: several writers on one feedback file, stale store objects, a full disk.

Each writer reports on stdout the id of every record ``append`` returned (what the widget would
have shown as "Saved"); afterwards every reported id must be in the file, and the file must load
without a cut-off line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from rlhf_utils.feedback_store import FeedbackStore, LabelRecord, load_records

pytest.importorskip("fcntl", reason="the lock is fcntl.flock; this test drives POSIX processes")

CUT_OFF = '{"prompt": "cut off by a crash in the mid'
WRITER = textwrap.dedent(
    """
    import os, sys, time, warnings
    warnings.simplefilter("ignore")  # the cut-off line is reported by a warning, expected here
    from rlhf_utils.feedback_store import FeedbackStore, LabelRecord
    path, name, rounds, per_round, size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    store = FeedbackStore(path)  # every writer has the file open (and has seen its cut-off line) ...
    print("ready", flush=True)
    while not os.path.exists(path + ".go"):  # ... before any of them labels
        time.sleep(0.01)
    for r in range(rounds):
        store = store if r == 0 else FeedbackStore(path)  # a re-run cell: a new store object each round
        for i in range(per_round):
            record = LabelRecord(prompt="p" * size, response_a=f" {name} {r} {i}", response_b=" b", choice="A",
                                 labeller=name, model="m")
            print(store.append(record).record_id, flush=True)
    """
)


def label(text: str, size: int = 1) -> LabelRecord:
    return LabelRecord(prompt="p" * size, response_a=text, response_b=" b", choice="A", labeller="ann", model="m")


def ids_on_disk(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cut-off line, no repeated record
        return [r.record_id for r in load_records(path)]


@pytest.mark.parametrize("run", range(2))
def test_processes_appending_at_once_lose_nothing(tmp_path, run):
    """Four processes, each opening a new store five times, on a file that starts with a cut-off line
    that all of them saw before the first label."""
    path = tmp_path / "labels.jsonl"
    FeedbackStore(path).append(label(" before"))
    with open(path, "a") as f:
        f.write(CUT_OFF)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{k}", "5", "4", "20000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(4)
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()[-2000:]
    Path(f"{path}.go").touch()
    reported = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
        reported += out.split()
    on_disk = ids_on_disk(path)
    lost = set(reported) - set(on_disk)
    assert len(reported) == 80 and not lost, f"{len(lost)} of {len(reported)} saved records lost"
    assert len(on_disk) == len(set(on_disk)) == 81
    assert (tmp_path / "labels.jsonl.truncated").read_text() == CUT_OFF + "\n"  # set aside once, not lost


def test_stale_store_objects_in_one_process_lose_nothing(tmp_path):
    """A cut-off line, then two stores open on the file (two kernels, or a re-run cell), labelling in turn."""
    path = tmp_path / "labels.jsonl"
    saved = [FeedbackStore(path).append(label(" first")).record_id]
    with open(path, "a") as f:
        f.write(CUT_OFF)
    with pytest.warns(UserWarning, match="cut off"):
        one, two = FeedbackStore(path), FeedbackStore(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for store in (one, two, one, two):
            saved += [store.append(label(f" {id(store)} {len(saved)} {i}")).record_id for i in range(3)]
    assert ids_on_disk(path) == saved  # all 13, in the order they were saved
    # each store object sees what the other wrote
    assert [r.record_id for r in one.records] == [r.record_id for r in two.records] == saved
    assert len(one.labels()) == len(two.labels()) == 13


def test_records_appended_elsewhere_become_visible_and_a_new_file_is_read_afresh(tmp_path):
    path = tmp_path / "labels.jsonl"
    reader, writer = FeedbackStore(path), FeedbackStore(path)
    writer.append(label(" x"))
    assert len(reader) == 1
    path.unlink()  # the learner deletes the file to start over
    assert len(reader) == 0
    writer.append(label(" y"))
    assert [r.response_a for r in reader.records] == [" y"]


SHORT_WRITE = textwrap.dedent(
    """
    import resource, signal, sys
    from rlhf_utils.feedback_store import FeedbackStore, LabelRecord
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # like a full disk: the write fails instead of killing us
    path = sys.argv[1]
    store = FeedbackStore(path)
    def label(i):
        return LabelRecord(prompt="p" * 700, response_a=f" {i}", response_b=" b", choice="A", labeller="a", model="m")
    print("saved", store.append(label(0)).record_id, flush=True)
    size = len(open(path, "rb").read())
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))  # room for 100 bytes
    for i in (1, 2):
        try:
            print("saved", store.append(label(i)).record_id, flush=True)
        except OSError as err:
            print("refused", err, flush=True)
    print("bytes", len(open(path, "rb").read()), size, flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space freed
    print("saved", store.append(label(3)).record_id, flush=True)
    """
)


def test_a_short_write_is_refused_and_leaves_no_torn_line(tmp_path):
    """With a file-size limit 100 bytes above the file (a disk that fills mid-record), nothing is reported
    saved that is not on disk, and the store stays readable."""
    pytest.importorskip("resource")
    path = tmp_path / "labels.jsonl"
    out = subprocess.run([sys.executable, "-c", SHORT_WRITE, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    refused = [line for line in lines if line.startswith("refused")]
    assert len(refused) == 2 and all("NOT saved" in line and "only 100 of" in line for line in refused[:1]), lines
    after, before = map(int, next(line for line in lines if line.startswith("bytes")).split()[1:])
    assert after == before  # the 100 bytes that did get written were taken back
    saved = [line.split()[1] for line in lines if line.startswith("saved")]
    assert ids_on_disk(path) == saved and len(saved) == 2
    assert all(json.loads(line) for line in path.read_text().splitlines())
