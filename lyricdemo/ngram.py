"""n-gram baselines: interpolated Kneser-Ney unigram, bigram and trigram models.

They train in a fraction of a second on the same ids and vocabulary as the
recurrent models, and they are the honest yardstick: a network that does not beat
a bigram on held-out songs has learned little that counting could not.

Interpolated Kneser-Ney (Chen & Goodman 1998), for a context h of length k and its
shorter context h' (h without its first token)::

    P_k(w | h) = max(c_k(h, w) - D_k, 0) / c_k(h)  +  D_k * N1+(h .) / c_k(h) * P_{k-1}(w | h')
    P_-1(w)    = 1 / V                                         (uniform base)

where c_k is the raw count at the highest order and the *continuation* count
N1+(. h w) (how many different tokens precede h w) at lower orders, N1+(h .) is the
number of different tokens seen after h, and D_k = n1 / (n1 + 2 n2) from the
counts-of-counts at that order.  A context never seen falls through to P_{k-1}.

Every model here answers the same calls as the recurrent ones (makemore's rule):
``init_state(batch)`` and ``forward(ids (B, T), state) -> (logits (B, T, V), state)``
(the logits are log-probabilities), so one ``generate()`` serves them all.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from .errors import LyricdemoError
from .numbers import perplexity_of

ORDER_NAMES = {1: "unigram", 2: "bigram", 3: "trigram"}


def _discount(counts: Sequence[int]) -> float:
    cc = Counter(counts)
    n1, n2 = cc.get(1, 0), cc.get(2, 0)
    if n1 == 0 or n2 == 0:  # degenerate counts-of-counts (tiny or repetitive text)
        return 0.5
    return float(min(max(n1 / (n1 + 2 * n2), 0.05), 0.95))


class _Level:
    """Counts for one context length k: per context, the next tokens and their counts."""

    def __init__(self, grams: dict[tuple[int, ...], int], discount: float | None):
        by_ctx: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
        for g, c in grams.items():
            by_ctx[g[:-1]].append((g[-1], c))
        self.d = _discount(list(grams.values())) if discount is None else float(discount)
        self.count = grams                                   # (h..., w) -> c
        self.ctx: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, float, int]] = {}
        for h, pairs in by_ctx.items():
            ws = np.fromiter((w for w, _ in pairs), dtype=np.int64, count=len(pairs))
            cs = np.fromiter((c for _, c in pairs), dtype=np.float64, count=len(pairs))
            self.ctx[h] = (ws, cs, float(cs.sum()), len(pairs))


class NGramLM:
    """Interpolated Kneser-Ney language model of order 1, 2 or 3 over token ids."""

    def __init__(self, order: int, vocab_size: int, discount: float | None = None):
        if order not in ORDER_NAMES:
            raise LyricdemoError(f"The n-gram order must be 1, 2 or 3; got {order!r}.")
        if vocab_size < 1:
            raise LyricdemoError("The vocabulary is empty.")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        self.levels: list[_Level] = []

    @property
    def name(self) -> str:
        return ORDER_NAMES[self.order]

    def fit(self, ids: Sequence[int] | torch.Tensor) -> NGramLM:
        """Count the n-grams of one token stream (the training ids)."""
        seq = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if len(seq) < self.order:
            raise LyricdemoError(f"{len(seq)} tokens are too few for a {self.name} model.")
        if seq and (min(seq) < 0 or max(seq) >= self.vocab_size):
            raise LyricdemoError("A token id is outside the vocabulary.")
        n = self.order
        top = Counter(zip(*(seq[i:] for i in range(n))))    # raw counts of n-grams
        levels: list[dict[tuple[int, ...], int]] = [dict(top)]
        grams = top
        for k in range(n - 1, 0, -1):                       # continuation counts for lower orders
            cont: Counter = Counter(g[1:] for g in grams)   # N1+(. h w): distinct left neighbours
            levels.append(dict(cont))
            grams = cont
        levels.reverse()                                    # levels[k]: context length k
        self.levels = [_Level(g, self.discount) for g in levels]
        return self

    def _check_fitted(self):
        if not self.levels:
            raise LyricdemoError("The n-gram model has not been fitted yet.")

    # -- probabilities -----------------------------------------------------------------
    def _seen_levels(self, context: Sequence[int]):
        """The interpolation's recursion, lowest order first: ``(level, h, entry)`` for each order k
        whose history h (the last k tokens of ``context``) was seen in training.  Each such level
        mixes its discounted counts with the lower orders' distribution::

            P_k(w | h) = max(c(h, w) - d, 0) / c(h) + d * N1+(h .) / c(h) * P_{k-1}(w)
        """
        self._check_fitted()
        context = tuple(int(t) for t in context)
        for k, level in enumerate(self.levels):
            if k > len(context):
                break
            h = context[len(context) - k:] if k else ()
            entry = level.ctx.get(h)
            if entry is not None:
                yield level, h, entry

    def prob_vector(self, context: Sequence[int]) -> np.ndarray:
        """P(. | context) over the whole vocabulary, shape (V,), summing to 1."""
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for level, _, (ws, cs, total, n1p) in self._seen_levels(context):
            p = (level.d * n1p / total) * p
            p[ws] += np.maximum(cs - level.d, 0.0) / total
        return p

    def prob(self, context: Sequence[int], w: int) -> float:
        """P(w | context), the scalar path of ``prob_vector`` (same numbers)."""
        p = 1.0 / self.vocab_size
        for level, h, (_, _, total, n1p) in self._seen_levels(context):
            c = level.count.get(h + (w,), 0)
            p = max(c - level.d, 0.0) / total + level.d * n1p / total * p
        return p

    def log_probs(self, ids: Sequence[int] | torch.Tensor) -> np.ndarray:
        """log P(ids[t] | ids[:t]) for t = 1 .. len-1 (the first token is context only,
        as for the recurrent models, which read ids[:-1] to predict ids[1:])."""
        seq = ids.tolist() if isinstance(ids, torch.Tensor) else [int(t) for t in ids]
        n = self.order
        return np.array([math.log(self.prob(seq[max(0, t - n + 1):t], seq[t])) for t in range(1, len(seq))])

    def perplexity(self, ids: Sequence[int] | torch.Tensor) -> float:
        lp = self.log_probs(ids)
        if not len(lp):
            raise LyricdemoError("At least two tokens are needed to measure perplexity.")
        return perplexity_of(float(-lp.mean()))

    # -- the interface every model shares ------------------------------------------------
    def init_state(self, batch_size: int = 1) -> list[tuple[int, ...]]:
        return [() for _ in range(batch_size)]

    def forward(self, ids: torch.Tensor, state: list[tuple[int, ...]] | None = None):
        """ids (B, T) -> (log-probabilities (B, T, V), state); the state is the last
        ``order - 1`` tokens of each row."""
        ids = torch.as_tensor(ids).long()
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        B, T = ids.shape
        state = list(state) if state is not None else self.init_state(B)
        out = np.empty((B, T, self.vocab_size), dtype=np.float32)
        keep = self.order - 1
        for b in range(B):
            ctx = tuple(state[b])
            for t in range(T):
                ctx = (ctx + (int(ids[b, t]),))[-keep:] if keep else ()
                out[b, t] = np.log(self.prob_vector(ctx))
            state[b] = ctx
        return torch.from_numpy(out), state

    __call__ = forward


def fit_baselines(train_ids, vocab_size: int, orders: Sequence[int] = (1, 2, 3)) -> dict[int, NGramLM]:
    return {n: NGramLM(n, vocab_size).fit(train_ids) for n in orders}


def baseline_perplexities(train_ids, val_ids, vocab_size: int, orders: Sequence[int] = (1, 2, 3)) -> dict[str, float]:
    """Validation perplexity of each n-gram baseline, e.g. ``{"unigram": 690.1, "bigram": 291.3, ...}``."""
    models = fit_baselines(train_ids, vocab_size, orders)
    return {m.name: m.perplexity(val_ids) for m in models.values()}
