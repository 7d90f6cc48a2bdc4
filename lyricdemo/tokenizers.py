"""Two tokenizers behind one interface: characters, and jieba words.

A tokenizer turns one line into tokens, and tokens back into text by joining
them (``"".join``): both keep every character, so the tokens of a line always
join back into the line.  How a line break enters the token stream is decided
here, once, by ``newline``:

- ``"token"``: each line ends with a ``"\\n"`` token (the line is the unit of a lyric);
- ``"space"``: each line ends with a space, as d2l does (``line.replace("\\n", " ")``).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from .errors import LyricdemoError

NEWLINE_MODES = ("token", "space")
LINE_BREAK = {"token": "\n", "space": " "}


class Tokenizer(Protocol):
    name: str

    def tokenize(self, line: str) -> list[str]:
        """Tokens of one line (no line break inside)."""

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Text of the tokens: they are joined as written."""


class CharTokenizer:
    """One token per character (d2l's choice for Chinese: a character is a token)."""

    name = "char"

    def tokenize(self, line: str) -> list[str]:
        return list(line)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)


class WordTokenizer:
    """jieba words (seed 004). jieba is imported and its dictionary loaded lazily,
    once per process, with its cache in a writable folder."""

    name = "word"
    _lock = threading.Lock()
    _jieba = None

    @classmethod
    def _load(cls):
        if cls._jieba is None:
            with cls._lock:
                if cls._jieba is None:
                    import jieba

                    jieba.setLogLevel(60)
                    jieba.dt.tmp_dir = str(cache_dir())
                    jieba.initialize()
                    cls._jieba = jieba
        return cls._jieba

    def tokenize(self, line: str) -> list[str]:
        # HMM on: unseen words are segmented too; every character is kept (spaces included).
        return self._load().lcut(line, HMM=True)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)

    @classmethod
    def warm_up(cls) -> None:
        """Load the dictionary now (about a second) instead of in the first request."""
        cls._load()


def cache_dir() -> Path:
    """A writable cache folder: ``$LYRICDEMO_CACHE``, else ``~/.cache/lyricdemo``, else a temp dir."""
    for candidate in (os.environ.get("LYRICDEMO_CACHE"), Path.home() / ".cache" / "lyricdemo"):
        if not candidate:
            continue
        path = Path(candidate)
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    path = Path(tempfile.gettempdir()) / "lyricdemo"
    path.mkdir(parents=True, exist_ok=True)
    return path


TOKENIZERS: dict[str, Tokenizer] = {"char": CharTokenizer(), "word": WordTokenizer()}


def get_tokenizer(name: str) -> Tokenizer:
    try:
        return TOKENIZERS[name]
    except KeyError:
        raise LyricdemoError(f"Unknown tokenizer {name!r}; choose 'char' or 'word'.") from None


def tokenize_lines(lines: Sequence[str], tokenizer: Tokenizer, newline: str = "token") -> list[list[str]]:
    """Tokens of each line, each followed by the line-break token of ``newline``."""
    if newline not in LINE_BREAK:
        raise LyricdemoError(f"Unknown newline mode {newline!r}; choose one of {NEWLINE_MODES}.")
    brk = LINE_BREAK[newline]
    return [tokenizer.tokenize(line) + [brk] for line in lines]


def flatten(token_lines: Iterable[Sequence[str]]) -> list[str]:
    return [t for line in token_lines for t in line]
