"""Corpus statistics for the inspection tab and ``python -m lyricdemo inspect``.

Everything here returns plain data (numbers, lists, dataclasses); ``plots``
draws it and the CLI prints it.  All counts are over the *training* split unless
a name says ``val``: the vocabulary is built from training text only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from .corpus import RawText
from .data import DataConfig, Dataset, load_dataset
from .tokenizers import LINE_BREAK

COVERAGE_MARKS = (0.5, 0.8, 0.9, 0.95, 0.99)


@dataclass
class RawStats:
    """What the data card states about a file, computed from the file."""

    name: str
    sha256: str
    size_bytes: int
    lines: int
    chars: int               # characters, line breaks not counted
    distinct_chars: int      # line break not counted

    @classmethod
    def of(cls, raw: RawText) -> RawStats:
        lines = raw.lines()
        chars = Counter(ch for line in lines for ch in line)
        return cls(raw.name, raw.sha256, raw.size_bytes, len(lines), sum(chars.values()), len(chars))


@dataclass
class CorpusStats:
    tokenizer: str
    clean: str
    newline: str
    min_freq: int
    train_lines: int
    val_lines: int
    tokens: int                          # training tokens, line breaks included
    types: int                           # distinct training tokens
    vocab_size: int                      # ids: <unk> + reserved + tokens seen >= min_freq
    singletons: int                      # training tokens seen exactly once
    val_tokens: int
    val_unk_rate: float                  # share of validation tokens that are <unk>
    top_tokens: list[tuple[str, int]] = field(default_factory=list)
    rare_tokens: list[tuple[str, int]] = field(default_factory=list)
    coverage: list[tuple[int, float]] = field(default_factory=list)    # (top-k types, share of tokens)
    coverage_marks: dict[float, int] = field(default_factory=dict)     # share -> types needed
    zipf: dict[int, list[int]] = field(default_factory=dict)           # n -> n-gram freqs, descending
    line_lengths: list[int] = field(default_factory=list)              # tokens per training line
    mean_token_chars: float = 1.0
    unknown_words: str = "unk"           # DataConfig.unknown_words: a rare word spelled ("chars") or <unk>
    val_words: int = 0                   # validation tokens as the tokenizer gave them, before spelling
    val_spelled: int = 0                 # of them, words outside the vocabulary spelled as their characters

    @property
    def val_spelled_rate(self) -> float:
        return self.val_spelled / self.val_words if self.val_words else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["coverage_marks"] = {str(k): v for k, v in self.coverage_marks.items()}
        d["zipf"] = {str(k): v for k, v in self.zipf.items()}
        d["val_spelled_rate"] = self.val_spelled_rate
        return d


def coverage_curve(freqs: Sequence[int], points: int = 200) -> list[tuple[int, float]]:
    """(k, share of all tokens covered by the k most frequent types), at up to ``points`` k's."""
    freqs = sorted(freqs, reverse=True)
    total = sum(freqs)
    if not total:
        return []
    out, run = [], 0
    step = max(1, len(freqs) // points)
    for k, f in enumerate(freqs, 1):
        run += f
        if k % step == 0 or k == len(freqs) or k <= 10:
            out.append((k, run / total))
    return out


def coverage_marks(freqs: Sequence[int], marks: Sequence[float] = COVERAGE_MARKS) -> dict[float, int]:
    """For each share in ``marks``, how many of the most frequent types cover it."""
    freqs = sorted(freqs, reverse=True)
    total, run, out, i = sum(freqs), 0, {}, 0
    marks = sorted(marks)
    for k, f in enumerate(freqs, 1):
        run += f
        while i < len(marks) and run >= marks[i] * total - 1e-9:
            out[marks[i]] = k
            i += 1
    return out


def ngram_freqs(tokens: Sequence[str], n: int) -> list[int]:
    """Frequencies of the n-grams of a token stream, most frequent first (Zipf's data)."""
    return sorted(Counter(zip(*(tokens[i:] for i in range(n)))).values(), reverse=True)


def corpus_stats(ds: Dataset, top: int = 30, rare: int = 60) -> CorpusStats:
    """Statistics of a prepared dataset (see ``data.load_dataset``)."""
    freqs = [f for _, f in ds.vocab.token_freqs]
    brk = LINE_BREAK[ds.config.newline]
    words = [t for t, _ in ds.vocab.token_freqs if t != brk]
    line_lengths, run = [], 0
    for t in ds.train_tokens:
        if t == brk:
            line_lengths.append(run)
            run = 0
        else:
            run += 1
    return CorpusStats(
        tokenizer=ds.config.tokenizer, clean=ds.config.clean, newline=ds.config.newline,
        min_freq=ds.config.min_freq, train_lines=len(ds.train_lines), val_lines=len(ds.val_lines),
        tokens=len(ds.train_tokens), types=len(freqs), vocab_size=len(ds.vocab),
        singletons=sum(1 for f in freqs if f == 1), val_tokens=len(ds.val_tokens),
        val_unk_rate=ds.val_unk_rate,
        top_tokens=ds.vocab.token_freqs[:top],
        rare_tokens=ds.vocab.token_freqs[-rare:],
        coverage=coverage_curve(freqs), coverage_marks=coverage_marks(freqs),
        zipf={n: ngram_freqs(ds.train_tokens, n) for n in (1, 2, 3)},
        line_lengths=line_lengths,
        mean_token_chars=(sum(len(t) for t in words) / len(words)) if words else 0.0,
        unknown_words=ds.config.unknown_words, val_words=ds.val_words, val_spelled=ds.val_spelled,
    )


def compare_tokenizers(raw: RawText, config: DataConfig = DataConfig()) -> dict[str, CorpusStats]:
    """The same text and settings, tokenized by character and by jieba word."""
    return {name: corpus_stats(load_dataset(replace(config, tokenizer=name), raw=raw)) for name in ("char", "word")}
