"""n-gram baselines: interpolated Kneser-Ney unigram, bigram and trigram models.

They train in a fraction of a second on the same ids and vocabulary as the
recurrent models, and they are the honest yardstick: a network that does not beat
a well-smoothed bigram on held-out songs has learned little that counting could not.

Interpolated *modified* Kneser-Ney (Chen & Goodman 1998), for a context h of length k
and its shorter context h' (h without its first token)::

    P_k(w | h) = max(c_k(h, w) - D_k(c_k(h, w)), 0) / c_k(h)  +  gamma_k(h) * P_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h)
    P_-1(w)    = 1 / V                                         (uniform base)

where c_k is the raw count at the highest order and the *continuation* count
N1+(. h w) (how many different tokens precede h w) at lower orders; N1(h .), N2(h .)
and N3+(h .) count the different tokens seen after h once, twice and three times or
more; D_k(c) is D_k1, D_k2 or D_k3+ for c = 1, 2 or >= 3.  The three discounts come
from the counts-of-counts n1..n4 at that order::

    Y = n1 / (n1 + 2 n2)
    D_k1 = 1 - 2 Y n2 / n1     D_k2 = 2 - 3 Y n3 / n2     D_k3+ = 3 - 4 Y n4 / n3

each kept at or above 0.05 (and below its count, so no mass is lost).  Every context
seen in training thus passes exactly the mass its discounts removed down to the
shorter context, and a context never seen falls through to P_{k-1}.

``smoothing="single"`` is the older variant: one discount per order, D_k = Y (clamped
to 0.05..0.95), for every count.  Where the counts-of-counts are too thin for three
discounts (a tiny text: some of n1..n4 is zero) the modified model falls back to that
single discount, and where even n1 or n2 is zero, to 0.5.

Every model here answers the same calls as the recurrent ones (makemore's rule):
``init_state(batch)`` and ``forward(ids (B, T), state) -> (logits (B, T, V), state)``
(the logits are log-probabilities), so one ``generate()`` serves them all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch

from .errors import LyricdemoError
from .numbers import perplexity_of

ORDER_NAMES = {1: "unigram", 2: "bigram", 3: "trigram"}
SMOOTHINGS = ("modified", "single")
DEFAULT_SMOOTHING = "modified"
FALLBACK_DISCOUNT = 0.5
MIN_DISCOUNT = 0.05
LEVEL_BAND = 0.02        # within 2% of a baseline's perplexity, either side: level with it

# How a model stands against a baseline, in the one wording the card, the CLI and the app share.
STANDING_WORDS = {"below": ("below the bigram", "低于二元模型"),
                  "level": ("level with the bigram", "与二元模型持平"),
                  "above": ("worse than the bigram", "比二元模型差")}


def standing(ppl: float, reference: float, band: float = LEVEL_BAND) -> str:
    """``"below"``, ``"level"`` or ``"above"``: a perplexity against a baseline's, within ``band``
    (a fraction of the baseline, either side) counting as level -- 188.6 against 186.4 is no win."""
    if not (ppl > 0 and reference > 0):
        raise LyricdemoError("Perplexities to compare must be positive.")
    r = ppl / reference
    return "below" if r < 1 - band else "above" if r > 1 + band else "level"


def standing_text(ppl: float, reference: float, what: str = "the bigram", zh: str = "二元模型") -> str:
    """"0.99x, level with the bigram / 与二元模型持平": the ratio and what it means, in both languages."""
    en, zh_text = STANDING_WORDS[standing(ppl, reference)]
    return f"{ppl / reference:.2f}x, {en.replace('the bigram', what)} / {zh_text.replace('二元模型', zh)}"


def single_discount(counts_of_counts: Counter) -> float:
    """One discount for every count: D = n1 / (n1 + 2 n2), clamped to 0.05..0.95 (0.5 when
    n1 or n2 is zero, on tiny or repetitive texts)."""
    n1, n2 = counts_of_counts.get(1, 0), counts_of_counts.get(2, 0)
    if n1 == 0 or n2 == 0:
        return FALLBACK_DISCOUNT
    return float(min(max(n1 / (n1 + 2 * n2), MIN_DISCOUNT), 0.95))


def modified_discounts(counts_of_counts: Counter) -> tuple[float, float, float]:
    """The three discounts (D1, D2, D3+) of modified Kneser-Ney from the counts-of-counts n1..n4.

    Each is at least 0.05 and below its count (D1 < 1, D2 < 2, D3+ < 3, which the formula gives
    anyway).  With some of n1..n4 zero the estimate is undefined: all three take the single discount.
    """
    n1, n2, n3, n4 = (counts_of_counts.get(i, 0) for i in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):
        d = single_discount(counts_of_counts)
        return d, d, d
    y = n1 / (n1 + 2 * n2)
    raw = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return tuple(float(min(max(d, MIN_DISCOUNT), c - MIN_DISCOUNT)) for c, d in zip((1, 2, 3), raw))


class _Level:
    """Counts for one context length k: per context, the next tokens, their discounted counts,
    the total and the back-off mass (the sum of the discounts taken)."""

    def __init__(self, grams: dict[tuple[int, ...], int], smoothing: str,
                 discount: float | tuple[float, float, float] | None):
        if discount is not None:
            self.d = (float(discount),) * 3 if np.isscalar(discount) else tuple(float(x) for x in discount)
        elif smoothing == "single":
            self.d = (single_discount(Counter(grams.values())),) * 3
        else:
            self.d = modified_discounts(Counter(grams.values()))
        table = np.array((0.0,) + self.d)                   # table[min(c, 3)] = D(c)
        self.count = grams                                   # (h..., w) -> c
        n = len(grams)
        ids: dict[tuple[int, ...], int] = {}                 # each context's number, in order of appearance
        of = np.fromiter((ids.setdefault(g[:-1], len(ids)) for g in grams), dtype=np.int64, count=n)
        by = np.argsort(of, kind="stable")                   # grouped by context, each in the order counted
        of = of[by]
        ws = np.fromiter((g[-1] for g in grams), dtype=np.int64, count=n)[by]
        cs = np.fromiter(grams.values(), dtype=np.int64, count=n)[by]
        taken = np.minimum(table[np.minimum(cs, 3)], cs)     # D(c(h, w)), never more than the count
        kept = cs - taken
        starts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
        bounds = zip(starts.tolist(), np.r_[starts[1:], n].tolist(), np.add.reduceat(cs, starts).tolist(),
                     np.add.reduceat(taken, starts).tolist())
        # per context: (next tokens, their discounted counts, the total, the back-off mass) -- views, not copies
        self.ctx: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, float, float]] = {
            h: (ws[a:b], kept[a:b], float(total), float(mass)) for h, (a, b, total, mass) in zip(ids, bounds)}

    def kept(self, c: int) -> float:
        """c - D(c): what a count keeps after its discount (0 for an unseen n-gram)."""
        return c - min(self.d[min(c, 3) - 1], c) if c > 0 else 0.0


class NGramLM:
    """Interpolated Kneser-Ney language model of order 1, 2 or 3 over token ids.

    ``smoothing``: ``"modified"`` (three discounts per order, the default) or ``"single"`` (one).
    ``discount`` fixes the discounts instead of estimating them: one number for every count, or
    three for counts 1, 2 and 3+.
    """

    def __init__(self, order: int, vocab_size: int, discount: float | Sequence[float] | None = None,
                 smoothing: str = DEFAULT_SMOOTHING):
        if order not in ORDER_NAMES:
            raise LyricdemoError(f"The n-gram order must be 1, 2 or 3; got {order!r}.")
        if vocab_size < 1:
            raise LyricdemoError("The vocabulary is empty.")
        if smoothing not in SMOOTHINGS:
            raise LyricdemoError(f"The smoothing must be one of {', '.join(SMOOTHINGS)}; got {smoothing!r}.")
        if discount is not None:
            ds = [discount] if np.isscalar(discount) else list(discount)
            if len(ds) not in (1, 3) or not all(isinstance(d, (int, float)) and 0 <= d for d in ds):
                raise LyricdemoError(f"A discount is one number >= 0 or three of them; got {discount!r}.")
            discount = float(ds[0]) if len(ds) == 1 else tuple(float(d) for d in ds)
        self.order, self.vocab_size, self.discount, self.smoothing = order, vocab_size, discount, smoothing
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
        self.levels = [_Level(g, self.smoothing, self.discount) for g in levels]
        return self

    def _check_fitted(self):
        if not self.levels:
            raise LyricdemoError("The n-gram model has not been fitted yet.")

    # -- probabilities -----------------------------------------------------------------
    def _seen_levels(self, context: Sequence[int]):
        """The interpolation's recursion, lowest order first: ``(level, h, entry)`` for each order k
        whose history h (the last k tokens of ``context``) was seen in training.  Each such level
        mixes its discounted counts with the lower orders' distribution::

            P_k(w | h) = (c(h, w) - D(c(h, w))) / c(h) + gamma(h) * P_{k-1}(w)
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
        for _, _, (ws, kept, total, taken) in self._seen_levels(context):
            p = (taken / total) * p                         # gamma(h) * P_{k-1}
            p[ws] += kept / total
        return p

    def prob(self, context: Sequence[int], w: int) -> float:
        """P(w | context), the scalar path of ``prob_vector`` (same numbers)."""
        p = 1.0 / self.vocab_size
        for level, h, (_, _, total, taken) in self._seen_levels(context):
            p = level.kept(level.count.get(h + (w,), 0)) / total + taken / total * p
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


def fit_baselines(train_ids, vocab_size: int, orders: Sequence[int] = (1, 2, 3),
                  smoothing: str = DEFAULT_SMOOTHING) -> dict[int, NGramLM]:
    """One fitted n-gram model per order, on the training ids only."""
    return {n: NGramLM(n, vocab_size, smoothing=smoothing).fit(train_ids) for n in orders}


def baseline_perplexities(train_ids, val_ids, vocab_size: int, orders: Sequence[int] = (1, 2, 3),
                          smoothing: str = DEFAULT_SMOOTHING) -> dict[str, float]:
    """Validation perplexity of each n-gram baseline, e.g. ``{"unigram": 410.0, "bigram": 186.4, ...}``."""
    models = fit_baselines(train_ids, vocab_size, orders, smoothing)
    return {m.name: m.perplexity(val_ids) for m in models.values()}
