"""Perplexity of a model on a stream of ids, the one measure the trainer, the CLI and the benchmarks share."""

from __future__ import annotations

import torch

from .errors import LyricdemoError
from .models.state import index_state
from .numbers import perplexity_of

EVAL_STREAMS = 16      # the trainer's evaluations between steps read the text as 16 pieces side by side
MIN_PIECE = 64         # targets in the shortest piece


def pieces(targets: int, streams: int, shortest: int = MIN_PIECE) -> int:
    """How many pieces ``targets`` targets are read as, for ``streams`` asked, each at least ``shortest`` long."""
    return max(1, min(int(streams), targets // shortest))


@torch.inference_mode()
def perplexity(model, ids: torch.Tensor, chunk: int = 512, streams: int = 1) -> float:
    """exp(mean NLL of ids[1:] given everything before), one stream from a zero state.

    The same targets as ``NGramLM.perplexity``, so the numbers compare directly.  With ``streams`` > 1
    the text is read as that many contiguous pieces side by side (a batch: several times faster on a
    CPU), each from a zero state; the targets are the same, only the context restarts at each piece."""
    if len(ids) < 2:
        raise LyricdemoError("At least two tokens are needed to measure perplexity.")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        ids = ids.to(device)
        n = len(ids) - 1                                      # targets
        b = pieces(n, streams)
        seg = n // b
        X = ids[: b * seg].reshape(b, seg)                     # piece j reads ids[j*seg : (j+1)*seg] ...
        Y = ids[1: b * seg + 1].reshape(b, seg)                # ... and predicts the next token of each
        state, nll = model.init_state(b, device), 0.0
        for i in range(0, seg, chunk):
            loss, state = model.loss(X[:, i:i + chunk], Y[:, i:i + chunk], state)
            nll += float(loss) * X[:, i:i + chunk].numel()
        rest = n - b * seg                                     # fewer than b targets: the last piece reads on
        if rest:
            last = state if b == 1 else index_state(state, b - 1)
            loss, _ = model.loss(ids[b * seg: n].unsqueeze(0), ids[b * seg + 1:].unsqueeze(0), last)
            nll += float(loss) * rest
        return perplexity_of(nll / n)
    finally:
        model.train(was_training)
