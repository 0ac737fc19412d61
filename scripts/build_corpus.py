"""Turn the raw SmolLM2 generations into the course corpus: filter, deduplicate, balance, split.

Reads ``data/corpus/raw/shard_*.jsonl.gz`` (written by ``scripts/generate_corpus.py``) and writes
``data/corpus/reviews.jsonl.gz`` (one review a line: id, text, split, VADER compound, the request)
plus the prompt sets the RLHF notebooks share (``data/prompts/{train,heldout}.json``).

Steps, each counted in the printed report:
1. clean: straighten quotes, join lines, cut an unfinished generation back to its last full sentence;
2. filter: drop meta-talk and chat replies ("Dear Sarah", "this review", "I'm thrilled to announce"...),
   non-ASCII leftovers, and texts shorter than 8 or longer than 90 words;
3. deduplicate: exact (case and spacing ignored) and near (the same first eight words);
4. balance: SmolLM2 leans positive, so positive reviews (VADER compound > 0.05) are subsampled to the
   number of negative ones (< -0.05); neutral ones are all kept;
5. split: 5% of reviews (by a hash of the id, so it is stable) are held out for validation;
6. prompts: the opening 2-4 words of reviews, plain words only, whose opening is itself neutral
   (VADER compound 0), deduplicated; train prompts from the train split, held-out prompts from the validation split.

Run: ``python scripts/build_corpus.py``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "data" / "corpus"
PROMPTS_DIR = REPO_ROOT / "data" / "prompts"

TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ",
                           "\u2013": "-", "\u2026": "...", "\u00a0": " "})
META = re.compile(
    r"review|dear |thrilled to announce|as an ai|i hope this|here is|here's|sure[,!]|title:|sentence|"
    r"i'm here to help|let me know|feel free|#|\*|\[|\]|note:|http|@|smollm|assistant|i cannot|i can't help|"
    r"\bhey\b|\bhi\b|\bhello\b|"
    r"as a (?:casual moviegoer|film critic|teenager|student|parent)|in a (?:sarcastic|friendly|calm|plain) ",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?][\"')]*(?=\s|$)")
PROMPT_WORD = re.compile(r"^[A-Za-z][a-z']{0,11}$")  # a plain word: no digits, quotes, "Soooooo..."


def clean(text: str, finished: bool) -> str:
    text = " ".join(text.translate(TRANSLATE).split())
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    if not finished:
        ends = list(SENTENCE_END.finditer(text))
        text = text[: ends[-1].end()] if ends else ""
    return text


def keep(text: str) -> str | None:
    """Return why a cleaned review is dropped, or None to keep it."""
    n_words = len(text.split())
    if n_words < 8:
        return "too short / unfinished"
    if n_words > 90:
        return "too long"
    if not text.isascii():
        return "non-ASCII"
    if META.search(text):
        return "meta-talk or chat reply"
    if not SENTENCE_END.search(text[-3:] + " "):
        return "no sentence end"
    return None


def split_of(review_id: str, heldout_fraction: float) -> str:
    bucket = int(hashlib.sha1(review_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < heldout_fraction else "train"


def opening_prompts(texts: list[str], analyzer: SentimentIntensityAnalyzer, rng: np.random.Generator) -> list[str]:
    prompts = set()
    for text in texts:
        words = text.split()
        n = int(rng.integers(2, 5))
        opening = " ".join(words[:n])
        plain = all(PROMPT_WORD.match(w) and not re.search(r"(.)\1\1", w) for w in words[:n])
        if not plain or analyzer.polarity_scores(opening)["compound"] != 0:
            continue
        prompts.add(opening)
    return sorted(prompts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw-dir", type=Path, default=CORPUS_DIR / "raw", help="the shards generate_corpus.py wrote")
    parser.add_argument("--corpus-dir", type=Path, default=CORPUS_DIR, help="where reviews.jsonl.gz is written")
    parser.add_argument("--prompts-dir", type=Path, default=PROMPTS_DIR, help="where train.json and heldout.json go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Build the corpus and prompt sets; returns the report it prints (counts per step)."""
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    analyzer = SentimentIntensityAnalyzer()

    shards = sorted(args.raw_dir.glob("shard_*.jsonl.gz"))
    if not shards:
        raise SystemExit(f"No raw shards in {args.raw_dir}: run scripts/generate_corpus.py first.")
    raw = [json.loads(line) for path in shards for line in gzip.open(path, "rt", encoding="utf-8")]
    dropped: Counter[str] = Counter()
    seen_exact, seen_opening, reviews = set(), set(), []
    for record in raw:
        text = clean(record["text"], record["finished"])
        reason = keep(text)
        if reason is None:
            exact, opening = text.lower(), " ".join(text.lower().split()[:8])
            if exact in seen_exact or opening in seen_opening:
                reason = "duplicate"
            seen_exact.add(exact)
            seen_opening.add(opening)
        if reason:
            dropped[reason] += 1
            continue
        compound = analyzer.polarity_scores(text)["compound"]
        reviews.append({"id": record["id"], "text": text, "vader": round(compound, 4), "request": record["request"]})

    positive = [r for r in reviews if r["vader"] > 0.05]
    negative = [r for r in reviews if r["vader"] < -0.05]
    neutral = [r for r in reviews if -0.05 <= r["vader"] <= 0.05]
    if len(positive) > len(negative):
        keep_idx = rng.choice(len(positive), size=len(negative), replace=False)
        dropped["balance (positive subsampled)"] += len(positive) - len(negative)
        positive = [positive[i] for i in sorted(keep_idx)]
    balanced = sorted(positive + negative + neutral, key=lambda r: r["id"])
    for r in balanced:
        r["split"] = split_of(r["id"], args.heldout_fraction)

    args.corpus_dir.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.corpus_dir / "reviews.jsonl.gz", "wt", encoding="utf-8") as fh:
        for r in balanced:
            fh.write(json.dumps({k: r[k] for k in ("id", "split", "text", "vader", "request")}) + "\n")

    args.prompts_dir.mkdir(parents=True, exist_ok=True)
    prompt_counts = {}
    for split, name in (("train", "train"), ("validation", "heldout")):
        texts = [r["text"] for r in balanced if r["split"] == split]
        prompts = opening_prompts(texts, analyzer, rng)
        (args.prompts_dir / f"{name}.json").write_text(json.dumps(prompts, indent=0) + "\n")
        prompt_counts[name] = len(prompts)
        print(f"{name} prompts: {len(prompts)}")

    vader = np.array([r["vader"] for r in balanced])
    words = sum(len(r["text"].split()) for r in balanced)
    print(f"raw generations: {len(raw)} from {len(shards)} shards")
    for reason, count in dropped.most_common():
        print(f"  dropped {count:6d}  {reason}")
    print(f"kept: {len(balanced)} reviews, {words} words "
          f"(train {sum(r['split'] == 'train' for r in balanced)}, "
          f"validation {sum(r['split'] == 'validation' for r in balanced)})")
    print(f"VADER compound: mean {vader.mean():+.3f}, std {vader.std():.3f}, "
          f"positive {np.mean(vader > 0.05):.2f}, negative {np.mean(vader < -0.05):.2f}")
    return {"shards": len(shards), "raw": len(raw), "dropped": dict(dropped), "kept": len(balanced), "words": words,
            "splits": dict(Counter(r["split"] for r in balanced)), "prompts": prompt_counts}


if __name__ == "__main__":
    main()
