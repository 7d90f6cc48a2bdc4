"""From a file to training and validation ids: the data half of the flow, in one call.

    file -> RawText -> clean -> split lines -> tokenize -> Vocab (train only) -> ids

``DataConfig`` says how; ``load_dataset`` does it and returns a ``Dataset`` that the
Trainer, the n-gram baselines and the statistics all read.  The vocabulary is built
from the training lines only, so validation text is truly unseen: its tokens that
training never saw (or saw fewer than ``min_freq`` times) become ``<unk>`` -- or, for a word
model with ``unknown_words="chars"`` (the default), are spelled as their characters, each of
them in the vocabulary or ``<unk>`` (``vocab.Vocab.spell``).  ``train_tokens`` and ``val_tokens``
are the tokens as the model reads them (spelled), one per id.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import torch

from .corpus import (CLEANERS, DEFAULT_MAX_BYTES, RawText, clean_lines, default_corpus_path, read_corpus_file,
                     split_lines)
from .errors import LyricdemoError
from .fields import field, from_dict, to_dict, validate
from .tokenizers import NEWLINE_MODES, TOKENIZERS, Tokenizer, flatten, get_tokenizer, tokenize_lines
from .vocab import RESERVED_CHOICES, UNKNOWN_WORDS, Vocab


@dataclass(frozen=True)
class DataConfig:
    """How text becomes ids.  Stored in every checkpoint, so a model knows its data.

    ``min_freq=2`` by default: tokens seen once in training become ``<unk>``, so the
    models learn how likely an unseen character is.  With ``min_freq=1`` no ``<unk>``
    is ever seen in training, every model gives it almost no probability, and the
    ~3% of validation characters that training never saw dominate its perplexity.
    """

    source: str | None = field(None, help="A .txt or .zip of UTF-8 text; empty: the corpus in use / "
                                          "UTF-8 文本文件（.txt 或 .zip）；为空时用当前语料")
    clean: str = field("d2l", choices=tuple(CLEANERS), help="Cleaning preset (corpus.CLEANERS) / 清洗方式")
    tokenizer: str = field("char", choices=tuple(TOKENIZERS), help="Characters or jieba words / 按字或按 jieba 词切分")
    newline: str = field("token", choices=NEWLINE_MODES, help="A line break becomes a token or a space / "
                                                              "换行符变为词元或空格")
    min_freq: int = field(2, lo=1, hi=1_000_000, help="Rarer training tokens become <unk> / "
                                                      "训练集中出现次数少于它的词元记为 <unk>")
    reserved_tokens: tuple[str, ...] = field((), choices=RESERVED_CHOICES,
                                             help="Special tokens with their own ids after <unk> / 保留的特殊词元")
    val_fraction: float = field(0.1, lo=0.0, hi=0.5, help="The last share of the lines held out / "
                                                           "留作验证的最后一部分行")
    max_tokens: int = field(0, lo=0, hi=10**12, help="Keep the first N training tokens (0 = all; d2l used 10,000) / "
                                                    "只用前 N 个训练词元（0 为全部）")
    unknown_words: str = field("chars", choices=UNKNOWN_WORDS,
                               help="A word below min_freq: spelled as its characters (chars) or read as <unk> "
                                    "(unk, d2l's way); no effect on characters / 低频词：拆成单字（chars）或记为 "
                                    "<unk>（unk，d2l 的做法）；对按字切分无影响")

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DataConfig:
        return from_dict(cls, d)


@dataclass
class Dataset:
    """Everything downstream needs, made once from a ``DataConfig``."""

    config: DataConfig
    raw: RawText
    tokenizer: Tokenizer
    vocab: Vocab
    train_lines: list[str]
    val_lines: list[str]
    train_tokens: list[str]
    val_tokens: list[str]
    train_ids: torch.Tensor = dc_field(repr=False)   # (N_train,) long
    val_ids: torch.Tensor = dc_field(repr=False)     # (N_val,) long
    train_targets: torch.Tensor | None = dc_field(default=None, repr=False)  # toy task only: Y for X = train_ids
    val_words: int = 0              # validation tokens as the tokenizer gave them (before spelling)
    val_spelled: int = 0            # of them, words not in the vocabulary spelled as their characters

    @property
    def corpus_sha256(self) -> str:
        return self.raw.sha256

    @property
    def train_text(self) -> str:
        return self.tokenizer.detokenize(self.train_tokens)

    @property
    def val_unk_rate(self) -> float:
        if not len(self.val_ids):
            return 0.0
        return float((self.val_ids == self.vocab.unk).float().mean())


def load_raw(config: DataConfig, max_bytes: int = DEFAULT_MAX_BYTES) -> RawText:
    """The text of ``config.source``, or of the corpus in use: the d2l lyrics in data/, else the
    embedded Tang poems."""
    if config.source:
        return read_corpus_file(Path(config.source), max_bytes=max_bytes)
    from .sources import corpus_in_use

    return read_corpus_file(corpus_in_use().path, max_bytes=max_bytes)


def load_dataset(config: DataConfig = DataConfig(), raw: RawText | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Read (unless ``raw`` is given), clean, split, tokenize and index the text."""
    raw = raw if raw is not None else load_raw(config, max_bytes)
    lines = clean_lines(raw.lines(), config.clean)
    if not any(ln.strip() for ln in lines):
        raise LyricdemoError(f"After cleaning with {config.clean!r}, {raw.name!r} has no text left.")
    train_lines, val_lines = split_lines(lines, config.val_fraction)
    return dataset_from_lines(config, raw, train_lines, val_lines)


def dataset_from_lines(config: DataConfig, raw: RawText, train_lines: list[str], val_lines: list[str]) -> Dataset:
    """Tokenize and index lines already cleaned and split (``load_dataset``'s second half; a benchmark
    splits differently, e.g. nanoGPT's first 90% of the characters for training)."""
    tok = get_tokenizer(config.tokenizer)
    train_tokens = flatten(tokenize_lines(train_lines, tok, config.newline))
    if config.max_tokens:
        train_tokens = train_tokens[: config.max_tokens]
    val_words = flatten(tokenize_lines(val_lines, tok, config.newline))
    vocab = Vocab(train_tokens, min_freq=config.min_freq, reserved_tokens=config.reserved_tokens,
                  unknown_words=config.unknown_words)
    train_tokens, val_tokens = vocab.spell(train_tokens), vocab.spell(val_words)
    return Dataset(
        config=config, raw=raw, tokenizer=tok, vocab=vocab,
        train_lines=train_lines, val_lines=val_lines,
        train_tokens=train_tokens, val_tokens=val_tokens,
        train_ids=torch.tensor(vocab.encode(train_tokens), dtype=torch.long),
        val_ids=torch.tensor(vocab.encode(val_tokens), dtype=torch.long),
        val_words=len(val_words), val_spelled=sum(vocab.spelled(val_words)),
    )


def toy_dataset(inputs: str = "hello", targets: str = "ohlol") -> Dataset:
    """Seed 002's toy task: learn to map each character of ``inputs`` to the character
    at the same place in ``targets`` ("hello" -> "ohlol").  Not a language model: the
    trainer sees one fixed batch (X, Y) and every step is visible."""
    if not inputs or len(inputs) != len(targets) or len(inputs) > 64:
        raise LyricdemoError("The toy task needs an input and a target of the same length (1 to 64 characters).")
    tok = get_tokenizer("char")
    vocab = Vocab(sorted(set(inputs) | set(targets)))
    raw = RawText(name="toy", text=f"{inputs}\n{targets}\n", sha256="", size_bytes=len(inputs) + len(targets) + 2)
    return Dataset(config=DataConfig(clean="none", min_freq=1, val_fraction=0.0), raw=raw, tokenizer=tok,
                   vocab=vocab, train_lines=[inputs], val_lines=[], train_tokens=list(inputs), val_tokens=[],
                   train_ids=torch.tensor(vocab.encode(list(inputs))), val_ids=torch.tensor([], dtype=torch.long),
                   train_targets=torch.tensor(vocab.encode(list(targets))))
