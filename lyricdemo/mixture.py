"""A network and a counter together: a model's next-token distribution mixed with an n-gram's.

On sixty thousand characters of lyrics a well-smoothed bigram (modified Kneser-Ney) predicts the
held-out songs nearly as well as the shipped char GRU does (perplexity 186.4 against 171.8; 185.4 before the
GRU learned from the bigram's soft targets, ``soft_targets.py``).  Yet the two are not the same predictor:
the counts know exactly which pairs the songs use, the network knows
which contexts behave alike.  Mixed with equal weights::

    p(w | context) = 0.5 * p_model(w | context) + 0.5 * p_trigram(w | context)

they err less than either: 149.6 for the GRU with the trigram (0.80x the bigram, 0.83x the trigram
alone; ``python bench/bench_mixture.py``).  The weight is fixed in advance, not tuned: tuning it on
the validation text would peek, and on the training text both parts have already read the answer
(``bench_mixture.py`` prints what that would choose).  A mixture of two distributions is a
distribution, and each part reads only the text before the position it predicts, so the mixture
never peeks either.

``NGramMix`` answers the calls every model answers (``init_state``, ``forward(ids, state) ->
(log-probabilities, state)``), so ``generate`` serves it as it is, and ``log_probs(ids)`` as the
n-gram models do, so ``bits.measure`` and the memory tuning read it as they read those.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .errors import LyricdemoError

MIX_WEIGHT = 0.5        # the model's share; the n-gram has the rest
MIX_ORDER = 3           # the n-gram mixed in: the trigram (the bigram gives 153.4 with the GRU)


class NGramMix:
    """``weight * p_model + (1 - weight) * p_ngram``, both reading the same ids left to right."""

    def __init__(self, model, ngram, weight: float = MIX_WEIGHT):
        if not 0.0 < float(weight) < 1.0:
            raise LyricdemoError(f"The model's weight in the mixture must lie strictly between 0 and 1; got {weight!r}.")
        if getattr(model, "bidirectional", False):
            raise LyricdemoError("A bidirectional model reads the future: it cannot be mixed with a left-to-right "
                                 "n-gram to predict the next token.")
        vocab = getattr(getattr(model, "config", None), "vocab_size", ngram.vocab_size)
        if vocab != ngram.vocab_size:
            raise LyricdemoError(f"The model predicts {vocab} tokens and the n-gram {ngram.vocab_size}: "
                                 "they must share one vocabulary.")
        self.model, self.ngram, self.weight = model, ngram, float(weight)
        self.vocab_size = ngram.vocab_size
        self._logw, self._log1mw = math.log(self.weight), math.log1p(-self.weight)

    @property
    def name(self) -> str:
        return f"model + {self.ngram.name} ({self.weight:g} / {1 - self.weight:g})"

    # -- what generate() and the evaluation call, as for every model -----------------------
    @property
    def training(self) -> bool:
        return bool(getattr(self.model, "training", False))

    def eval(self):
        self.model.eval()
        return self

    def train(self, mode: bool = True):
        self.model.train(mode)
        return self

    def parameters(self):
        return self.model.parameters()

    def init_state(self, batch_size: int = 1):
        return self.model.init_state(batch_size), self.ngram.init_state(batch_size)

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> (log-probabilities (B, T, V) of the mixture, state)."""
        ids = torch.as_tensor(ids).long()
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        inner, counts = state if state is not None else self.init_state(ids.shape[0])
        out, inner = self.model(ids, inner)
        model_lp = torch.log_softmax(out.float(), dim=-1).cpu()
        ngram_lp, counts = self.ngram(ids.cpu(), counts)
        return torch.logaddexp(model_lp + self._logw, ngram_lp + self._log1mw), (inner, counts)

    __call__ = forward

    def log_probs(self, ids) -> np.ndarray:
        """log P(ids[t] | ids[:t]) for t = 1 .. len-1, as ``NGramLM.log_probs`` (one stream from a zero state)."""
        from .memory_tuning import model_outputs

        model_lp, _ = model_outputs(self.model, torch.as_tensor(ids).long())
        return np.logaddexp(model_lp + self._logw, self.ngram.log_probs(ids) + self._log1mw)


def mixed_with_ngram(model, train_ids, vocab_size: int, order: int = MIX_ORDER, weight: float = MIX_WEIGHT) -> NGramMix:
    """``model`` mixed with the n-gram of ``order`` fitted on ``train_ids`` (the model's own training ids)."""
    from .ngram import NGramLM

    return NGramMix(model, NGramLM(order, vocab_size).fit(train_ids), weight)
