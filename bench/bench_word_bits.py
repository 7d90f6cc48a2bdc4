"""Benchmark: bits per character of the n-gram baselines, char and word, on the same validation text.

    python bench/bench_word_bits.py

For the d2l lyrics in data/ (default DataConfig split: last 10% of lines held out), one row per
tokenization -- characters, jieba words with the character fallback (``unknown_words="chars"``, the
default) and jieba words read the old way (``"unk"``) -- with the vocabulary, the share of validation
characters behind ``<unk>``, and the bits per character of the project's interpolated Kneser-Ney
unigram / bigram / trigram (``lyricdemo.ngram``) in its two variants: one discount per order
(``smoothing="single"``, the library's default until issue 16) and *modified* Kneser-Ney (Chen &
Goodman 1998: three discounts per order, for counts 1, 2 and 3+; the default now).  About a minute.
"""

from __future__ import annotations

import os

import common  # noqa: F401  (puts the repository on sys.path)

from lyricdemo.bits import measure
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.ngram import fit_baselines

SETTINGS = (("char", DataConfig()), ("word, unknown_words=chars", DataConfig(tokenizer="word")),
            ("word, unknown_words=unk", DataConfig(tokenizer="word", unknown_words="unk")))


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<27}{'vocab':>7}{'<unk> chars':>13}{'chars':>7}   single-discount KN uni / bi / tri   modified KN uni / bi / tri")
    for label, cfg in SETTINGS:
        ds = load_dataset(cfg)
        V, chars = len(ds.vocab), sum(len(t) for t in ds.val_tokens[1:])
        single, modified = ([measure(m, ds) for m in fit_baselines(ds.train_ids, V, smoothing=s).values()]
                            for s in ("single", "modified"))
        print(f"{label:<27}{V:>7,}{single[0].unk_char_share:>13.1%}{chars:>7,}   "
              f"{' / '.join(f'{b.bits_per_char:.3f}' for b in single):>34}   "
              f"{' / '.join(f'{b.bits_per_char:.3f}' for b in modified):>26}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
