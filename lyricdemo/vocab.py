"""The vocabulary: tokens <-> ids, as d2l's ``Vocab`` (seed 000), made deterministic.

With ``unknown_words="chars"`` (a word model's default) a word seen fewer than ``min_freq`` times is
*spelled*: it becomes its characters, each a token of the same vocabulary, so the tokens still join back
into the text and the model still has to predict every character of a rare word.  A character is in the
vocabulary when the training text has it at least ``min_freq`` times (inside any word); a character rarer
than that is still ``<unk>``.  ``"unk"`` (d2l's way, and every checkpoint saved before this mode) reads
a rare word as one ``<unk>``.  For characters the two modes are the same.

Layout of the ids::

    0            <unk>         every token not in the vocabulary
    1 .. r       reserved      e.g. <pad>, <bos>, <eos> (only if asked for)
    r+1 ..       tokens        by frequency, most frequent first; ties in Unicode order

d2l's variants built the vocab from ``list(set(chars))``, whose order changes
between processes, so a saved model stopped matching its vocab.  Here the same
tokens always give the same ids, and the vocab is saved with every checkpoint.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from .errors import LyricdemoError

UNK = "<unk>"
RESERVED_CHOICES = ("<pad>", "<bos>", "<eos>")
UNKNOWN_WORDS = ("chars", "unk")       # a word below min_freq: spelled as its characters, or <unk>

# How a whitespace token is written where it must be seen (charts, pages, the lookup box), and the
# glyphs and names a user may type for it.  Glyphs that DejaVu Sans and Noto Sans CJK both draw
# (␠ U+2420 and ␍ are missing: they would be tofu boxes).
GLYPHS = {"\n": "↵", " ": "␣", "\u3000": "⬚", "\t": "⇥", "\r": "\\r"}
_TYPED = {**{g: t for t, g in GLYPHS.items()}, "\\n": "\n", "␠": " ", "space": " "}


def show_token(token: str) -> str:
    """A token as it can be read on a chart or a page: a line break is ``↵``, a space ``␣``,
    a full-width space ``⬚``."""
    if token in GLYPHS:
        return GLYPHS[token]
    return "".join(GLYPHS.get(ch, ch) for ch in token) if any(ch in GLYPHS for ch in token) else token


def token_from_glyph(typed: str) -> str:
    """The token a user means by what they typed: ``↵`` or ``\\n`` a line break, ``␣``/``␠``/``space`` a
    space, ``⬚`` a full-width space; anything else as it is."""
    return _TYPED.get(typed, typed)


class Vocab:
    unk = 0

    def __init__(self, tokens: Iterable[str] | Iterable[Sequence[str]] = (), min_freq: int = 1,
                 reserved_tokens: Sequence[str] = (), unknown_words: str = "unk"):
        """Count ``tokens`` (a flat list, or a list of token lists) and keep those seen at
        least ``min_freq`` times; with ``unknown_words="chars"`` the rarer words are spelled
        (``spell``) and the characters seen at least ``min_freq`` times are kept too.

        ``token_freqs`` counts the tokens of the training stream as the model reads it (a spelled
        word counts for its characters, not for itself)."""
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise LyricdemoError(f"min_freq must be a whole number >= 1; got {min_freq!r}.")
        if unknown_words not in UNKNOWN_WORDS:
            raise LyricdemoError(f"unknown_words must be one of {UNKNOWN_WORDS}; got {unknown_words!r}.")
        reserved = list(reserved_tokens)
        if UNK in reserved or len(set(reserved)) != len(reserved):
            raise LyricdemoError(f"Reserved tokens must be distinct and not {UNK!r}; got {reserved}.")
        tokens = list(tokens)
        if tokens and not isinstance(tokens[0], str):
            tokens = [t for line in tokens for t in line]
        counter = Counter(tokens)
        self.min_freq = min_freq
        self.reserved_tokens = reserved
        self.unknown_words = unknown_words
        kept = [t for t, f in counter.items() if f >= min_freq]
        if unknown_words == "chars":
            chars: Counter = Counter()
            for t, f in counter.items():
                for ch in t:
                    chars[ch] += f
            kept = {t for t in kept if len(t) > 1} | {ch for ch, f in chars.items() if f >= min_freq}
            counter = Counter(_spell(tokens, kept))
            # a character seen only inside kept words is in the vocabulary too, with 0 reads of its own
            counter.update({ch: 0 for ch in kept if ch not in counter})
        # (-freq, token): deterministic whatever the order the tokens came in
        self.token_freqs: list[tuple[str, int]] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = set(kept)
        self.idx_to_token: list[str] = [UNK, *reserved]
        self.idx_to_token += [t for t, _ in self.token_freqs if t in kept and t not in self.idx_to_token]
        self.token_freqs = [(t, f) for t, f in self.token_freqs if f]
        self.token_to_idx: dict[str, int] = {t: i for i, t in enumerate(self.idx_to_token)}

    def spell(self, tokens: Iterable[str]) -> list[str]:
        """The tokens as this vocabulary reads them: with ``unknown_words="chars"`` a word it lacks
        becomes its characters (each then in the vocabulary or ``<unk>``); otherwise unchanged.
        ``"".join`` of the result is ``"".join(tokens)``."""
        if self.unknown_words != "chars":
            return list(tokens)
        return _spell(tokens, self.token_to_idx)

    def spelled(self, tokens: Iterable[str]) -> list[bool]:
        """For each token, whether ``spell`` breaks it into its characters."""
        chars = self.unknown_words == "chars"
        return [chars and len(t) > 1 and t not in self.token_to_idx for t in tokens]

    # -- lookups -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def __getitem__(self, tokens):
        """d2l style: one token -> id, a list/tuple of tokens -> list of ids."""
        if isinstance(tokens, (list, tuple)):
            return [self.token_to_idx.get(t, self.unk) for t in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        if isinstance(indices, (list, tuple)):
            return [self.idx_to_token[i] for i in indices]
        return self.idx_to_token[indices]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of the tokens; unknown tokens become ``<unk>`` (0)."""
        get = self.token_to_idx.get
        return [get(t, 0) for t in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids (tokens joined as written; ``<unk>`` shows as ``<unk>``)."""
        n = len(self.idx_to_token)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise LyricdemoError(f"Id {i} is outside the vocabulary (size {n}).")
            out.append(self.idx_to_token[i])
        return "".join(out)

    def unknown_positions(self, tokens: Sequence[str]) -> list[int]:
        """Positions of the tokens that are not in the vocabulary."""
        return [i for i, t in enumerate(tokens) if t not in self.token_to_idx]

    def freq(self, token: str) -> int:
        return self._freqs().get(token, 0)

    def _freqs(self) -> dict[str, int]:
        if not hasattr(self, "_freq_map"):
            self._freq_map = dict(self.token_freqs)
        return self._freq_map

    # -- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "idx_to_token": self.idx_to_token,
            "token_freqs": [[t, f] for t, f in self.token_freqs],
            "min_freq": self.min_freq,
            "reserved_tokens": self.reserved_tokens,
            "unknown_words": self.unknown_words,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """Rebuild exactly (ids included) from ``to_dict``; checks the data is consistent."""
        try:
            idx_to_token = list(d["idx_to_token"])
            token_freqs = [(str(t), int(f)) for t, f in d["token_freqs"]]
            min_freq = int(d["min_freq"])
            reserved = list(d.get("reserved_tokens", []))
            unknown_words = d.get("unknown_words", "unk")   # saved before the character fallback: "unk"
        except (KeyError, TypeError, ValueError) as e:
            raise LyricdemoError(f"The vocabulary data is malformed ({e!r}).") from None
        if not idx_to_token or idx_to_token[0] != UNK or not all(isinstance(t, str) for t in idx_to_token):
            raise LyricdemoError("The vocabulary data is malformed: id 0 must be '<unk>'.")
        if len(set(idx_to_token)) != len(idx_to_token):
            raise LyricdemoError("The vocabulary data is malformed: a token appears twice.")
        if unknown_words not in UNKNOWN_WORDS:
            raise LyricdemoError(f"The vocabulary data is malformed: unknown_words must be one of {UNKNOWN_WORDS}; "
                                 f"got {unknown_words!r}.")
        v = cls.__new__(cls)
        v.min_freq, v.reserved_tokens, v.token_freqs = min_freq, reserved, token_freqs
        v.unknown_words = unknown_words
        v.idx_to_token = idx_to_token
        v.token_to_idx = {t: i for i, t in enumerate(idx_to_token)}
        return v

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise LyricdemoError(f"The vocabulary is not valid JSON ({e}).") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (f"Vocab(size={len(self)}, min_freq={self.min_freq}, reserved={self.reserved_tokens}, "
                f"unknown_words={self.unknown_words!r})")


def _spell(tokens: Iterable[str], known) -> list[str]:
    """Each token of more than one character that is not in ``known`` replaced by its characters."""
    out: list[str] = []
    for t in tokens:
        if len(t) > 1 and t not in known:
            out.extend(t)
        else:
            out.append(t)
    return out
