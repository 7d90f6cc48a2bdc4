"""Benchmark: bits per character of the n-gram baselines, char and word, on the same validation text.

    python bench/bench_word_bits.py

For the d2l lyrics in data/ (default DataConfig split: last 10% of lines held out), one row per
tokenization -- characters, jieba words with the character fallback (``unknown_words="chars"``, the
default) and jieba words read the old way (``"unk"``) -- with the vocabulary, the share of validation
characters behind ``<unk>``, and the bits per character of the project's interpolated Kneser-Ney
unigram / bigram / trigram (``lyricdemo.ngram``, one discount per order).

A second block gives the same models with *modified* Kneser-Ney (Chen & Goodman 1998: three
discounts per order, for counts 1, 2 and 3+), written out here and not used by the library: it says
how much of the word bigram's trouble is the single discount.  Plain Python: about a minute.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict

import common  # noqa: F401  (puts the repository on sys.path)

from lyricdemo.bits import measure
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.ngram import fit_baselines

SETTINGS = (("char", DataConfig()), ("word, unknown_words=chars", DataConfig(tokenizer="word")),
            ("word, unknown_words=unk", DataConfig(tokenizer="word", unknown_words="unk")))


def _discounts(counts) -> tuple[float, float, float]:
    cc = Counter(counts)
    n1, n2, n3, n4 = (cc.get(i, 0) for i in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):
        return 0.5, 0.5, 0.5
    y = n1 / (n1 + 2 * n2)
    return max(0.05, 1 - 2 * y * n2 / n1), max(0.05, 2 - 3 * y * n3 / n2), max(0.05, 3 - 4 * y * n4 / n3)


def modified_kn_bits(train: list[int], val: list[int], order: int, vocab_size: int) -> float:
    """Total bits of val[1:] under interpolated modified Kneser-Ney of ``order`` (continuation counts below the top)."""
    grams = Counter(zip(*(train[i:] for i in range(order))))
    levels = [dict(grams)]
    for _ in range(order - 1):
        grams = Counter(g[1:] for g in grams)
        levels.append(dict(grams))
    levels.reverse()
    fitted = []
    for level in levels:
        by_ctx: dict = defaultdict(lambda: [0, 0, 0, 0])      # total, distinct next tokens seen 1, 2, 3+ times
        for g, c in level.items():
            e = by_ctx[g[:-1]]
            e[0] += c
            e[min(c, 3)] += 1
        fitted.append((level, _discounts(level.values()), by_ctx))
    bits = 0.0
    for t in range(1, len(val)):
        ctx, w, p = tuple(val[max(0, t - order + 1):t]), val[t], 1.0 / vocab_size
        for k, (level, d, by_ctx) in enumerate(fitted):
            if k > len(ctx):
                break
            h = ctx[len(ctx) - k:] if k else ()
            e = by_ctx.get(h)
            if e is None:
                continue
            c = level.get(h + (w,), 0)
            p = max(c - (d[min(c, 3) - 1] if c else 0.0), 0.0) / e[0] + (d[0] * e[1] + d[1] * e[2] + d[2] * e[3]) / e[0] * p
        bits -= math.log2(p)
    return bits


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<27}{'vocab':>7}{'<unk> chars':>13}{'chars':>7}   interpolated KN uni / bi / tri   modified KN uni / bi / tri")
    for label, cfg in SETTINGS:
        ds = load_dataset(cfg)
        V, chars = len(ds.vocab), sum(len(t) for t in ds.val_tokens[1:])
        ours = [measure(m, ds) for m in fit_baselines(ds.train_ids, V).values()]
        mkn = [modified_kn_bits(ds.train_ids.tolist(), ds.val_ids.tolist(), n, V) / chars for n in (1, 2, 3)]
        print(f"{label:<27}{V:>7,}{ours[0].unk_char_share:>13.1%}{chars:>7,}   "
              f"{' / '.join(f'{b.bits_per_char:.3f}' for b in ours):>30}   {' / '.join(f'{b:.3f}' for b in mkn):>26}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
