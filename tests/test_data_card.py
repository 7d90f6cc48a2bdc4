"""The data card's figures are what the code computes from the real file."""

from __future__ import annotations

import re
from pathlib import Path

from lyricdemo.corpus import read_corpus_file
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.stats import RawStats, corpus_stats

CARD = Path(__file__).resolve().parents[1] / "data" / "README.md"


def card_rows() -> dict[str, str]:
    rows = {}
    for line in CARD.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (.+?) \| (.+?) \|$", line)
        if m and m.group(1) not in ("figure", "---"):
            rows[m.group(1)] = m.group(2)
    return rows


def test_card_matches_the_code(corpus_path):
    raw = read_corpus_file(corpus_path)
    r = RawStats.of(raw)
    s1 = corpus_stats(load_dataset(DataConfig(clean="d2l", min_freq=1), raw=raw))
    s2 = corpus_stats(load_dataset(DataConfig(clean="d2l", min_freq=2), raw=raw))
    computed = {
        "file": r.name,
        "size (bytes, zipped)": f"{r.size_bytes:,}",
        "sha256": r.sha256,
        "lines": f"{r.lines:,}",
        "characters (line breaks not counted)": f"{r.chars:,}",
        "distinct characters": f"{r.distinct_chars:,}",
        "training lines (last 10% held out)": f"{s1.train_lines:,}",
        "validation lines": f"{s1.val_lines:,}",
        "training tokens (char, clean=d2l, newline=token)": f"{s1.tokens:,}",
        "vocabulary size (char, clean=d2l, min_freq=1, incl. `<unk>`)": f"{s1.vocab_size:,}",
        "vocabulary size (char, clean=d2l, min_freq=2, incl. `<unk>`)": f"{s2.vocab_size:,}",
        "validation `<unk>` rate (char, clean=d2l, min_freq=2)": f"{s2.val_unk_rate:.2%}",
    }
    assert card_rows() == computed
