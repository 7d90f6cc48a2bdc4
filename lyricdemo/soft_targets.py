"""Soft targets from the bigram: the network learns towards what the counts say as well as the next token.

With ``TrainConfig.soft_targets = a`` each training position's target is no longer the one token that came
next but a mix of it and the Kneser-Ney bigram's distribution after the token just read::

    target(w) = (1 - a) * [w == next token] + a * q(w | current token)
    loss      = - sum_w target(w) * log p_model(w)
              = (1 - a) * cross-entropy + a * (cross-entropy against q)

It is label smoothing whose prior is not uniform but the bigram's (n-gram noising as smoothing, Xie et al.
2017; distillation from a teacher, Hinton et al. 2015).  On a small corpus the network, trained on the one
observed token, learns each rare pair as "this, and nothing else"; the bigram spreads that mass over what
followed the same character elsewhere, and the network learns that too.  On d2l's lyrics the shipped recipe
reaches ~172 instead of ~187 (seeds 0 and 1; bench/RESULTS.md, "Soft targets from the bigram").

**Cross-fitting.**  A bigram fitted on the whole training text has read every pair it is asked about, so
it would mostly repeat the observed token.  The training text is cut into ``FOLDS`` stretches; the targets
of a position come from a bigram fitted on the *other* stretches -- as it would see held-out text.

Each bigram is kept sparse: per current token v, the next tokens seen after it with their discounted share,
plus the back-off weight gamma(v) on one dense unigram vector p1 (``NGramLM``'s interpolation)::

    q(w | v) = kept(v, w) / c(v) + gamma(v) * p1(w)

so ``sum_w q(w | v) * log p(w)`` is a gather over the pairs seen after v and one dot product with p1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .errors import LyricdemoError

FOLDS = 5      # the training text is cut into this many stretches for the bigrams' cross-fitting


class BigramTeacher:
    """The cross-fitted bigrams of one training text, ready to give ``sum_w q(w | v) log p(w)`` per position."""

    def __init__(self, train_ids: torch.Tensor, vocab_size: int, folds: int = FOLDS):
        from .ngram import NGramLM

        seq = train_ids.tolist() if isinstance(train_ids, torch.Tensor) else list(train_ids)
        n, V = len(seq), vocab_size
        if n < 2 * folds:
            raise LyricdemoError(f"Soft targets need at least {2 * folds} training tokens; got {n}.")
        self.n, self.V, self.folds = n, V, folds
        self.bounds = torch.tensor([n * k // folds for k in range(folds + 1)])
        indptr, cols, vals = [0], [], []
        gamma = np.ones(folds * V)                # a token never seen before another backs off entirely
        p1 = np.zeros((folds, V))
        for k in range(folds):
            a, b = int(self.bounds[k]), int(self.bounds[k + 1])
            lm = NGramLM(2, V).fit(seq[:a] + seq[b:])
            p1[k] = lm.prob_vector(())                          # the unigram level (continuation counts)
            rows = lm.levels[1].ctx
            for v in range(V):
                entry = rows.get((v,))
                if entry is not None:
                    ws, kept, total, taken = entry
                    cols.append(ws)
                    vals.append(kept / total)
                    gamma[k * V + v] = taken / total
                indptr.append(indptr[-1] + (len(entry[0]) if entry is not None else 0))
        self.indptr = torch.tensor(indptr)                      # row k * V + v: fold k, current token v
        self.cols = torch.from_numpy(np.concatenate(cols)).long()
        self.vals = torch.from_numpy(np.concatenate(vals)).float()
        self.gamma = torch.from_numpy(gamma).float()
        self.p1 = torch.from_numpy(p1).float()                  # (folds, V)

    def fold_of(self, positions: torch.Tensor) -> torch.Tensor:
        """The fold (stretch of the training text) each position lies in."""
        return torch.bucketize(positions, self.bounds[1:], right=True).clamp_(max=self.folds - 1)

    def row(self, v: int, fold: int) -> torch.Tensor:
        """q(. | v) of one fold's bigram, dense (V,) -- for tests and for reading."""
        r = fold * self.V + v
        q = self.gamma[r] * self.p1[fold]
        a, b = int(self.indptr[r]), int(self.indptr[r + 1])
        return q.index_add(0, self.cols[a:b], self.vals[a:b])

    def expected(self, logp: torch.Tensor, current: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``sum_w q(w | current) * logp[..., w]`` for each position: logp (..., V) log-probabilities of the
        token at ``positions`` (...) after reading ``current`` (...), q the bigram of the position's fold."""
        lead = logp.shape[:-1]
        flat = logp.reshape(-1, self.V)
        folds = self.fold_of(positions.reshape(-1).cpu())
        rows = folds * self.V + current.reshape(-1).cpu()
        start, stop = self.indptr[rows], self.indptr[rows + 1]
        lens = stop - start
        owner = torch.repeat_interleave(torch.arange(len(rows)), lens)          # which position each pair is of
        first = torch.cumsum(lens, 0) - lens
        at = torch.arange(int(lens.sum())) - first[owner] + start[owner]        # the pair's index in cols/vals
        dev = flat.device
        owner, cols, vals = owner.to(dev), self.cols[at].to(dev), self.vals[at].to(dev)
        sparse = torch.zeros(len(rows), device=dev, dtype=flat.dtype).index_add_(
            0, owner, vals.to(flat.dtype) * flat[owner, cols])
        dense = (flat @ self.p1.to(dev, flat.dtype).T).gather(1, folds.to(dev)[:, None]).squeeze(1)
        return (sparse + self.gamma[rows].to(dev, flat.dtype) * dense).view(lead)

    def loss(self, model, X: torch.Tensor, Y: torch.Tensor, positions: torch.Tensor, share: float, state=None):
        """The mean soft-target loss of predicting ``Y`` (at ``positions`` of the training text) after
        ``X``: (1 - share) * cross-entropy + share * cross-entropy against the bigram -> (loss, the
        cross-entropy alone, state)."""
        y, state = model.features(X, state)
        logp = F.log_softmax(model.logits_of(y), dim=-1)      # (an adaptive softmax's log-probabilities: unchanged)
        nll = -logp.gather(-1, Y.unsqueeze(-1)).squeeze(-1)
        soft = -self.expected(logp, X, positions)
        nll = nll.mean()
        return (1 - share) * nll + share * soft.mean(), nll.detach(), state
