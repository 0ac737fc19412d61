"""Train the course's own GPT-2: a byte-level BPE tokenizer and a small GPT2LMHeadModel on the review corpus.

Reads ``data/corpus/reviews.jsonl.gz`` (from ``scripts/build_corpus.py``) and writes
``data/models/course-gpt2/`` (config, ``model.safetensors``, tokenizer files, ``training_log.json``),
which ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load.

Training keeps the checkpoint with the best validation loss and stops early when it has not improved
for ``--patience`` evaluations, or when ``--max-minutes`` run out.

Run: ``python scripts/train_course_gpt2.py --max-minutes 120``
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import GPT2Config, GPT2LMHeadModel

from rlhf_utils.lm_task import COURSE_MODEL_NAME
from rlhf_utils.paths import MODELS_DIR
from rlhf_utils.pretraining import (
    CORPUS_PATH,
    encode_documents,
    evaluate_loss,
    length_bucketed_batches,
    lm_loss,
    load_reviews,
    train_byte_level_bpe,
    unigram_entropy,
)
from rlhf_utils.results import results_file, write_results

SAMPLE_PROMPTS = ["This movie", "I watched this", "The film", "As a fan of", "The story", "My kids and I",
                  "From the opening scene,", "The acting", "I went in expecting", "This documentary"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS_PATH, help="the review corpus (reviews.jsonl.gz)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR / COURSE_MODEL_NAME)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--n-layer", type=int, default=6)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--n-head", type=int, default=8)
    parser.add_argument("--n-positions", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=12,
                        help="planned epochs: the learning-rate schedule spans them; early stopping may end sooner")
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--max-minutes", type=float, default=180,
                        help="time budget: training stops after it, and the schedule decays within it")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_texts = [r["text"] for r in load_reviews("train", args.corpus)]
    valid_texts = [r["text"] for r in load_reviews("validation", args.corpus)]

    tokenizer = train_byte_level_bpe(train_texts, args.vocab_size)
    tokenizer.model_max_length = args.n_positions
    train_docs = encode_documents(tokenizer, train_texts, args.n_positions)
    valid_docs = encode_documents(tokenizer, valid_texts, args.n_positions)
    n_train_tokens = sum(len(d) for d in train_docs)
    entropy = unigram_entropy(train_docs)
    print(f"{len(train_docs)} train / {len(valid_docs)} validation reviews, {n_train_tokens} train tokens, "
          f"vocab {len(tokenizer)}, unigram entropy {entropy:.3f} nats/token")

    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=args.n_positions, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, resid_pdrop=args.dropout, embd_pdrop=args.dropout, attn_pdrop=args.dropout,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"GPT-2 with {args.n_layer} layers, d={args.n_embd}: {n_params / 1e6:.2f}M parameters")

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    steps_per_epoch = sum(1 for _ in length_bucketed_batches(train_docs, args.tokens_per_batch, tokenizer.pad_token_id))
    total_steps = steps_per_epoch * args.epochs

    def lr_at(step: int) -> float:
        """Linear warm-up, then cosine decay to 10% over the planned run: the step budget or the time
        budget, whichever runs out first (so a run cut by --max-minutes still ends at a low rate)."""
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        by_steps = (step - args.warmup_steps) / max(1, total_steps - args.warmup_steps)
        by_time = (time.time() - started) / 60 / args.max_minutes
        progress = min(1.0, max(by_steps, by_time))
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    log = results_file(__file__, args, n_params=n_params, unigram_entropy=entropy, train_reviews=len(train_docs),
                       validation_reviews=len(valid_docs), train_tokens=n_train_tokens, evals=[])
    best, since_best, step, smoothed = float("inf"), 0, 0, None
    done = False
    bar = tqdm(total=total_steps, desc="pretraining")
    for epoch in range(args.epochs):
        model.train()
        for ids, mask in length_bucketed_batches(train_docs, args.tokens_per_batch, tokenizer.pad_token_id, rng):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            loss = lm_loss(model, ids, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
            step += 1
            bar.update()
            if step % args.eval_every == 0:
                valid = evaluate_loss(model, valid_docs, tokenizer.pad_token_id)
                minutes = (time.time() - started) / 60
                log["evals"].append({"step": step, "epoch": epoch + 1, "minutes": round(minutes, 2),
                                     "train_loss": round(smoothed, 4), "validation_loss": round(valid, 4)})
                bar.set_postfix(train=f"{smoothed:.3f}", valid=f"{valid:.3f}", best=f"{min(best, valid):.3f}")
                if valid < best:
                    best, since_best = valid, 0
                    model.save_pretrained(args.out)
                    tokenizer.save_pretrained(args.out)
                else:
                    since_best += 1
                log["best_validation_loss"] = best
                write_results(args.out / "training_log.json", log)
                if since_best >= args.patience or minutes >= args.max_minutes:
                    done = True
                    break
        if done:
            break
    bar.close()
    print(f"best validation loss {best:.3f} (perplexity {math.exp(best):.1f}) after {step} steps")

    best_model = GPT2LMHeadModel.from_pretrained(args.out).eval()
    for prompt in SAMPLE_PROMPTS:
        ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(prompt)["input_ids"]])
        out = best_model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=40,
                                  pad_token_id=tokenizer.pad_token_id)
        print("-", tokenizer.decode(out[0, 1:], skip_special_tokens=True))
    return log


if __name__ == "__main__":
    main()
