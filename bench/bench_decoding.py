"""Benchmark: which decoding reads like lyrics by default (tab 3's default, chosen by measurement).

    python bench/bench_decoding.py [--seeds 3] [--length 100] [--threads 1]

For each shipped character model (char-gru, char-lstm, char-rnn) and each decoding setting,
generates ``len(PREFIXES) x seeds`` continuations of ``--length`` characters and measures, on the
continuation alone:

* distinct-2: distinct character bigrams / all bigrams (1.0 = never repeats a pair; greedy loops
  fall far below), beside the same figure for real held-out lyrics cut into windows as long;
* loops: the share of texts with a repetition loop (``novelty.repetition``: a line 3+ times, or a
  short unit 4+ times in a row);
* copy: the mean longest verbatim copy from the training text, and the share with a copy of
  8+ characters (the memorization meter's threshold);
* log-prob: the mean log-probability per token the model itself gives the text (bits; higher =
  the model finds it more likely: greedy is the ceiling, and noise is what low values read as).

Real lyrics repeat themselves too (choruses, 啦啦啦): the same figures for the held-out lyrics, cut
into windows as long, are the reference.  The rule that picks the default is printed with the
table: among the settings whose texts loop at most 5 points more often than the real windows and
whose distinct-2 is within 0.05 of theirs, the one with the highest log-prob.  Sample texts
(prefix 分开, seed 0, the first 24 characters) show what each reads like.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

from common import REPO, arguments, machine

from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.data import load_dataset
from lyricdemo.generate import DecodeConfig, generate
from lyricdemo.novelty import CorpusIndex, repetition

MODELS = ("char-gru", "char-lstm", "char-rnn")
PREFIXES = ("分开", "我想", "天空", "爱")
SETTINGS = {
    "greedy": dict(strategy="greedy"),
    "T=1.0": dict(strategy="sample", temperature=1.0),
    "T=0.8": dict(strategy="sample", temperature=0.8),
    "T=0.8 top-p 0.9": dict(strategy="sample", temperature=0.8, top_p=0.9),
    "T=0.7 top-p 0.9": dict(strategy="sample", temperature=0.7, top_p=0.9),
    "T=1.0 top-k 10": dict(strategy="sample", temperature=1.0, top_k=10),
    "T=0.6": dict(strategy="sample", temperature=0.6),
}
MAX_LOOP_SHARE, MAX_DISTINCT_GAP = 0.05, 0.05


def distinct2(text: str) -> float:
    pairs = [text[i:i + 2] for i in range(len(text) - 1)]
    return len(set(pairs)) / len(pairs) if pairs else 0.0


def real_windows(val_text: str, length: int) -> tuple[float, float]:
    """(distinct-2, loop share) of the held-out lyrics cut into ``length``-character windows."""
    windows = [val_text[i:i + length] for i in range(0, len(val_text) - length, length)]
    return (statistics.mean(distinct2(w) for w in windows),
            statistics.mean(repetition(w) is not None for w in windows))


def main() -> None:
    args = arguments(__doc__, seeds=3, length=100, threads=1)
    import torch

    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    rows: dict[str, dict[str, list]] = {name: {"d2": [], "loop": [], "copy": [], "copy8": [], "lp": []}
                                        for name in SETTINGS}
    examples: dict[str, dict[str, str]] = {name: {} for name in SETTINGS}
    real = real_loops = None
    t0 = time.perf_counter()
    for model_name in MODELS:
        print(f"{model_name} ... ({time.perf_counter() - t0:.0f} s)", flush=True)
        ck = load_checkpoint(REPO / "checkpoints" / model_name)
        ds = load_dataset(ck.data_config)
        index = CorpusIndex(ds.train_text)
        if real is None:
            real, real_loops = real_windows("\n".join(ds.val_lines), args.length)
        for name, kw in SETTINGS.items():
            for prefix in PREFIXES:
                for seed in range(args.seeds if kw["strategy"] == "sample" else 1):
                    cfg = DecodeConfig(length=args.length, seed=seed, **kw)
                    g = generate(ck.model, ck.vocab, ck.tokenizer, prefix, cfg)
                    c = g.continuation
                    r = rows[name]
                    r["d2"].append(distinct2(c))
                    r["loop"].append(repetition(c) is not None)
                    L = index.check(c).longest_length
                    r["copy"].append(L)
                    r["copy8"].append(L >= 8)
                    r["lp"].append(g.candidates[0].mean_log_prob / math.log(2))
                    if prefix == "分开" and seed == 0:
                        examples[name][model_name] = c[:24].replace("\n", "↵")
    print(f"{len(MODELS)} models x {len(PREFIXES)} prefixes x {args.seeds} seeds (greedy: 1), "
          f"{args.length} characters each; {time.perf_counter() - t0:.0f} s; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"real held-out lyrics, {args.length}-character windows: distinct-2 {real:.3f}, loops {real_loops:.0%}\n")
    print(f"{'setting':18} {'distinct-2':>10} {'loops':>6} {'copy':>5} {'copy>=8':>8} {'log2 p/token':>13}")
    summary = {}
    for name, r in rows.items():
        s = {"d2": statistics.mean(r["d2"]), "loop": statistics.mean(r["loop"]), "copy": statistics.mean(r["copy"]),
             "copy8": statistics.mean(r["copy8"]), "lp": statistics.mean(r["lp"])}
        summary[name] = s
        print(f"{name:18} {s['d2']:10.3f} {s['loop']:6.0%} {s['copy']:5.1f} {s['copy8']:8.0%} {s['lp']:13.2f}")
    ok = [n for n, s in summary.items()
          if s["loop"] <= real_loops + MAX_LOOP_SHARE and abs(s["d2"] - real) <= MAX_DISTINCT_GAP]
    print(f"\nrule: loops <= real + {MAX_LOOP_SHARE:.0%} and |distinct-2 - real| <= {MAX_DISTINCT_GAP}, then the highest "
          f"log-prob; eligible: {', '.join(ok) or 'none'}")
    if ok:
        print(f"chosen default: {max(ok, key=lambda n: summary[n]['lp'])}")
    print("\nsamples (prefix 分开, seed 0, first 24 characters of the continuation):")
    for name, ex in examples.items():
        for model_name, text in ex.items():
            print(f"  {name:18} {model_name:10} 分开|{text}")


if __name__ == "__main__":
    main()
