"""Benchmark: song memory, technique by technique, on the d2l held-out lines.

    python bench/bench_memory.py                           # char-gru: the ablation table
    python bench/bench_memory.py --checkpoints char-gru char-lstm char-rnn word-gru
    python bench/bench_memory.py --no-dynamic              # leave out dynamic evaluation (the slow rows)
    python bench/bench_memory.py --ngrams-only             # the n-gram rows alone (seconds)

For each checkpoint: the model alone, each technique alone, the caches together, dynamic
evaluation, and everything together; the n-gram baselines alone and with the copy cache
(the same memory a count model can have: the text read so far; its "dynamic evaluation"
-- counting that text -- is what the copy cache's short matches do).  The n-grams are the
library's modified Kneser-Ney (the "x bigram" columns divide by it); the single-discount
bigram, which older tables divided by, has its rows too (issue 16).  Every setting
(window, beta, theta, dynamic-evaluation rate, the mixture weights) is chosen on the last
stretch of the *training* text, as long as the validation text; the figures are on the
validation text.  ``oracle`` re-tunes the full memory on the validation text itself, only
to show how much the training-text tuning leaves on the table -- never a figure to claim.

The memory is deterministic given a checkpoint (no sampling, no seed); the variation this
bench shows is between cell kinds (one seed each, as shipped).  Times are wall clock of
tuning + evaluating on this machine and move with its load (printed).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
from common import machine

from lyricdemo import memory as M
from lyricdemo import memory_tuning as MT
from lyricdemo.bits import LN2
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.cli import checkpoint_dataset, resolve_checkpoint
from lyricdemo.ngram import NGramLM

ROWS = [  # name, choose_memory keyword arguments (dynamic: the learning-rate grid)
    ("alone", None),
    ("+ copy cache", dict(continuous=False, copy=True, dynamic_lrs=(0.0,))),
    ("+ continuous cache", dict(continuous=True, copy=False, dynamic_lrs=(0.0,))),
    ("+ both caches (the app's)", dict(continuous=True, copy=True, dynamic_lrs=(0.0,))),
    ("+ dynamic evaluation", dict(continuous=False, copy=False, dynamic_lrs=(0.0,) + MT.DYNAMIC_LR_GRID)),
    ("+ dynamic evaluation + both caches", dict(continuous=True, copy=True, dynamic_lrs=(0.0,) + MT.DYNAMIC_LR_GRID)),
]


def settings(cfg: M.MemoryConfig, kw: dict) -> str:
    parts = []
    if kw.get("copy", True) and cfg.window > 1:
        parts.append(f"window {cfg.window}, beta {cfg.beta:g}")
    if cfg.continuous:
        parts.append(f"theta {cfg.theta:g}")
    if len(kw.get("dynamic_lrs", ())) > 1:
        parts.append(f"dynamic lr {cfg.dynamic_lr:g}")
    return "; ".join(parts)


def row(label, model, ds, kw, tune, bigram_ppl, cached_bigram=None):
    t0 = time.perf_counter()
    if kw is None:
        plain, _ = MT.model_outputs(model, ds.val_ids)
        mixed, how = plain, ""
    else:
        cfg = MT.choose_memory(model, tune, **kw).config
        _, mixed = MT.memory_log_probs(model, ds.val_ids, cfg)
        how = settings(cfg, kw)
    seconds = time.perf_counter() - t0
    ppl = math.exp(-mixed.mean())
    chars = sum(len(t) for t in ds.val_tokens[1:])
    bpc = -mixed.sum() / LN2 / chars
    vs = f"{ppl / cached_bigram:.3f}" if cached_bigram else "-"
    print(f"| {label} | {ppl:.1f} | {bpc:.3f} | {ppl / bigram_ppl:.3f} | {vs} | {how} | {seconds:.0f} |", flush=True)
    return ppl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", nargs="+", default=["char-gru"])
    ap.add_argument("--no-dynamic", action="store_true", help="skip the dynamic-evaluation rows")
    ap.add_argument("--oracle", action="store_true", help="also tune the full memory on the validation text")
    ap.add_argument("--ngrams-only", action="store_true", help="only the n-gram rows (no model rows)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# song memory ablation -- {machine()}; load average at start {os.getloadavg()}")
    for name in args.checkpoints:
        ck = load_checkpoint(resolve_checkpoint(name))
        ds = checkpoint_dataset(ck)
        tune = MT.tuning_slice(ds.train_ids, len(ds.val_ids))
        V = len(ds.vocab)
        bigram = NGramLM(2, V).fit(ds.train_ids)
        trigram = NGramLM(3, V).fit(ds.train_ids)
        bigram_ppl = bigram.perplexity(ds.val_ids)
        print(f"\n## {name}: {len(ds.val_ids):,} validation tokens ({ds.config.tokenizer}), tuned on the last "
              f"{len(tune):,} training tokens\n")
        print("| model | val ppl | bits/char | × bigram | × bigram with copy cache | settings (chosen on training text) "
              "| time (s) |")
        print("|---|---:|---:|---:|---:|---|---:|")
        row("KN bigram alone", bigram, ds, None, tune, bigram_ppl)
        cached = row("KN bigram + copy cache", bigram, ds, ROWS[1][1], tune, bigram_ppl)
        row("KN trigram alone", trigram, ds, None, tune, bigram_ppl, cached)
        row("KN trigram + copy cache", trigram, ds, ROWS[1][1], tune, bigram_ppl, cached)
        single = NGramLM(2, V, smoothing="single").fit(ds.train_ids)
        row("single-discount KN bigram alone (before issue 16)", single, ds, None, tune, bigram_ppl, cached)
        row("single-discount KN bigram + copy cache", single, ds, ROWS[1][1], tune, bigram_ppl, cached)
        for label, kw in ([] if args.ngrams_only else ROWS):
            if args.no_dynamic and kw and len(kw["dynamic_lrs"]) > 1:
                continue
            row(f"{name} {label}", ck.model, ds, kw, tune, bigram_ppl, cached)
        if args.oracle and not args.ngrams_only:
            t0 = time.perf_counter()
            cfg = MT.choose_memory(ck.model, ds.val_ids).config
            ppl = MT.perplexities(ck.model, ds.val_ids, cfg)[1]
            print(f"| {name} + both caches, tuned on validation (oracle, not a result) | {ppl:.1f} | | "
                  f"{ppl / bigram_ppl:.3f} | {ppl / cached:.3f} | {settings(cfg, {})} | "
                  f"{time.perf_counter() - t0:.0f} |", flush=True)
        print(f"\nload average at the end of {name}: {os.getloadavg()}")


if __name__ == "__main__":
    main()
