"""Decoding in thirty lines: read this first.

A language model gives, after each token, a score (logit) for every token of the vocabulary.
To write, feed the prefix, turn the scores of the last position into a choice, feed the
choice back, and repeat::

    prefix ids --model--> logits (1, T, V) --last position--> scores (V,)
        --mask specials--> greedy: argmax
                        \\-> sample: / temperature -> top-k -> top-p -> softmax -> draw
        --> token --model--> logits (1, 1, V) --> ...   (until `length` tokens or <eos>)

``decode`` below is exactly that, over nothing but ``model(ids, state) -> (logits, state)``.
``generate.generate`` is the same function made fast (a one-token ``Stepper`` instead of the
model's forward, a top-list shortcut for greedy, batched rows, beam search, per-step reports);
``tests/test_generate.py`` checks that both give the same tokens for the same seed:

* greedy: always (the argmax of the same scores);
* sampling: the fast path draws one uniform number per token from a ``torch.Generator`` seeded
  with ``seed`` and inverts the cumulative distribution at it (``decode_choice.draw``: same law as
  ``torch.multinomial``, several times faster for one draw); this reference draws the same
  number the same way, so the same seed gives the same text.

(No repetition penalty, beams or several candidates here: those are ``generate.py``'s.)
"""

from __future__ import annotations

import math

import torch

NEVER_EMITTED = ("<unk>", "<pad>", "<bos>")     # the vocabulary's specials a decoder never writes


@torch.inference_mode()
def decode(model, vocab, prefix_ids: list[int], length: int, greedy: bool = True, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[int]:
    """The ids of up to ``length`` new tokens after ``prefix_ids`` (see the module docstring)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    banned = [vocab[t] for t in NEVER_EMITTED if t in vocab]
    eos = vocab["<eos>"] if "<eos>" in vocab else None
    logits, state = model(torch.tensor([prefix_ids]), None)              # warm-up: (1, T, V)
    out: list[int] = []
    for _ in range(length):
        x = logits[0, -1].float().clone()                                # (V,) scores of the next token
        x[banned] = -math.inf
        if greedy:
            tok = int(x.argmax())
        else:
            x = x / temperature
            if 0 < top_k < len(x):                                       # keep the k best (and ties)
                x[x < x.topk(top_k).values[-1]] = -math.inf
            if top_p < 1.0:                                              # keep the smallest set with mass >= p
                p, order = x.softmax(-1).sort(descending=True)
                drop = p.cumsum(-1) - p >= top_p                         # the mass ranked above already >= p
                drop[0] = False
                x[order[drop]] = -math.inf
            cdf = x.softmax(-1).double().cumsum(-1)                      # (V,)
            u = torch.rand(1, generator=gen, dtype=torch.float64) * cdf[-1]   # one uniform draw per token
            u = torch.minimum(u, cdf[-1].nextafter(cdf.new_zeros(())))   # strictly below the total mass
            tok = int(torch.searchsorted(cdf, u, right=True))            # the first token whose cdf > u
        if tok == eos:
            break
        out.append(tok)
        logits, state = model(torch.tensor([[tok]]), state)              # (1, 1, V)
    return out


class ForwardOnly:
    """A model seen only through ``init_state`` and ``forward``, as ``decode`` sees it: ``generate``
    then takes its plain path (no ``Stepper``), for comparisons with the fast one."""

    def __init__(self, model):
        self.model = model

    def init_state(self, batch_size):
        return self.model.init_state(batch_size)

    def __call__(self, ids, state):
        return self.model(ids, state)
