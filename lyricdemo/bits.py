"""Bits per character: one number that compares character and word models.

Perplexity is per *token*: 189 per character and 78 per jieba word do not compare (a
word covers ~1.6 characters, so it has more to guess).  Bits per character do: the total
log-loss of the predicted tokens, in bits, divided by the characters those tokens cover::

    bits/char = sum_t -log2 p(x_t | x_<t)  /  sum_t len(text of x_t)

over the same validation text, tokens x_1 .. x_N (the first token is only read, as for
perplexity).  A line break is one character whatever the tokenizer (``"\\n"`` or, with
``newline="space"``, a space); a token the vocabulary maps to ``<unk>`` covers the
characters it stands for in the text, not the five of ``"<unk>"``.

What it does not charge: guessing *which* unknown word or character an ``<unk>`` is.
A word model with many ``<unk>`` targets looks better than it is, so the share of
characters hidden behind ``<unk>`` is reported beside the figure (``unk_char_share``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import LyricdemoError

LN2 = math.log(2.0)


@dataclass(frozen=True)
class BitsPerChar:
    bits: float          # total log-loss of the predicted tokens, in bits
    chars: int           # characters they cover
    tokens: int          # tokens predicted
    unk_chars: int       # characters covered by tokens predicted as <unk>

    @property
    def bits_per_char(self) -> float:
        return self.bits / self.chars

    @property
    def bits_per_token(self) -> float:
        return self.bits / self.tokens

    @property
    def unk_char_share(self) -> float:
        return self.unk_chars / self.chars

    def to_dict(self) -> dict:
        return {"bits_per_char": self.bits_per_char, "bits_per_token": self.bits_per_token, "bits": self.bits,
                "chars": self.chars, "tokens": self.tokens, "unk_char_share": self.unk_char_share}


def bits_per_char(log_probs: Sequence[float] | np.ndarray, target_tokens: Sequence[str],
                  target_ids: Sequence[int] | None = None, unk_id: int = 0) -> BitsPerChar:
    """From the natural-log probabilities of the predicted tokens and their text.

    ``log_probs[t]`` is ln p(target t); ``target_tokens[t]`` its text as it stands in the
    corpus (before the vocabulary; an unknown word keeps its characters); ``target_ids``
    (optional) mark which targets were ``<unk>``."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if len(lp) != len(target_tokens) or not len(lp):
        raise LyricdemoError(f"{len(lp)} log-probabilities for {len(target_tokens)} tokens: they must match "
                             "(and not be empty).")
    if not np.isfinite(lp).all() or (lp > 1e-9).any():
        raise LyricdemoError("Log-probabilities must be finite and at most 0.")
    lengths = np.fromiter((len(t) for t in target_tokens), dtype=np.int64, count=len(target_tokens))
    if (lengths == 0).any():
        raise LyricdemoError("A token covers no characters.")
    unk = 0
    if target_ids is not None:
        unk = int(lengths[np.asarray(target_ids) == unk_id].sum())
    return BitsPerChar(bits=float(-lp.sum() / LN2), chars=int(lengths.sum()), tokens=len(lp), unk_chars=unk)


def measure(model, dataset) -> BitsPerChar:
    """Bits per character of a model (recurrent or n-gram) on a dataset's validation text."""
    from .memory_tuning import model_outputs

    logp, _ = model_outputs(model, dataset.val_ids)
    return bits_per_char(logp, dataset.val_tokens[1:], dataset.val_ids[1:].tolist(), dataset.vocab.unk)
