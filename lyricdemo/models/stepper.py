"""One token at a time, fast: the incremental decoding path of ``RNNLM``.

Generation feeds the model one token per call, at batch 1 (or a beam's few rows).
There ``model(ids (B, 1), state)`` is dominated by fixed costs, not arithmetic: the id
checks, the one-hot or embedding, and above all the per-call set-up of the fused
``nn.GRU`` (at batch 1 most of its time).  A ``Stepper`` computes the same function
with far fewer and cheaper calls:

* **layer 0's input projection is a row lookup.**  For a token id ``i`` the input
  vector is a one-hot column or an embedding row, so ``W_ih x + b_ih`` takes one of
  only V values.  They are computed once, at construction::

      T = E @ W_ih^T + b_ih        (V, G*H)    embedding input (E is (V, E_dim))
      T = W_ih^T + b_ih            (V, G*H)    one-hot input (row i of W_ih^T is column i of W_ih)

  and a step reads ``T[ids]`` (B, G*H) instead of one-hot (B, V) @ (V, G*H).
* **the cell is written out** with plain matmuls for the hidden part, in exactly
  torch's equations and gate order (GRU r, z, n with the reset gate on
  ``W_hn h + b_hn``; LSTM i, f, g, o), the same formulas as ``scratch.py``.
* **the weights are pre-transposed** to ``(in, out)`` contiguous, which makes the
  batch-1 matmuls (above all the (H, V) decoder) faster than ``F.linear``.

The result matches ``model(ids[:, None], state)`` to about 1e-6 (floating-point
rounding of a different summation order), which ``tests/test_stepper.py`` checks
to 1e-5 for every cell kind, 1 and 2 layers, one-hot, embedding and tied models.

**The weights are read once, at construction.**  A stepper made before training
changed the weights (an optimizer step, ``load_state_dict``) computes with the old
ones.  ``RNNLM.stepper()`` therefore keys its cached stepper on every parameter's
identity, storage and version counter (which in-place updates bump), and builds a
new one when any of them changed; a ``Stepper`` built directly must be rebuilt by
its owner.

It always computes the **eval-mode** function (no dropout): it is for decoding, and
``generate`` puts the model in eval mode while it runs.  What it cannot do fast --
a bidirectional model (whose backward half would need the future), a recurrent
module other than ``nn.RNN/GRU/LSTM`` or ``ScratchRNN`` (a tanh RNN only) -- it
hands to the model's own forward, so ``step`` always works; ``fast`` and
``reason`` say which path runs and why.

A stepper keeps no state between calls (every step makes new tensors), so one
stepper can serve several generations at once, e.g. the app's concurrent users.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

State = Any  # (L, B, H) tensor, or a tuple (h, c) of two for an LSTM


def _t(w: torch.Tensor) -> torch.Tensor:
    """(out, in) -> a contiguous (in, out) copy: ``x @ w_t`` is ``F.linear(x, w)`` but faster at batch 1
    (the (256, 2597) decoder: 234 us against 272 us, ``bench/bench_decode_tricks.py``)."""
    return w.detach().t().contiguous()


def _slow_reason(model: nn.Module) -> str | None:
    """Why the fast path cannot serve ``model`` (None when it can)."""
    config = getattr(model, "config", None)
    rnn = getattr(model, "rnn", None)
    if config is None or rnn is None:
        return "not an RNNLM"
    if config.bidirectional:
        return "bidirectional: the backward direction reads the future, so it has no one-step form"
    if config.kind not in ("rnn", "gru", "lstm"):
        return f"unknown cell kind {config.kind!r}"
    if isinstance(rnn, nn.RNN) and rnn.nonlinearity != "tanh":
        return f"{rnn.nonlinearity} RNN (only tanh is written out)"
    if not isinstance(rnn, (nn.RNN, nn.GRU, nn.LSTM)) and type(rnn).__name__ != "ScratchRNN":
        return f"recurrent module {type(rnn).__name__} is not nn.RNN/GRU/LSTM or ScratchRNN"
    if getattr(rnn, "proj_size", 0):
        return "LSTM with proj_size"
    if not getattr(rnn, "batch_first", True):
        return "recurrent module is not batch-first"
    return None


class Stepper:
    """``step(ids (B,), state) -> (logits (B, V), state)``: one decoding step of an RNNLM;
    ``prefill(ids (B, T), state)``: the warm-up over a prefix, logits of its last position only.

    The same numbers as ``model(ids[:, None], state)`` (to float rounding), the same
    state layout (``(L, B, H)``, or ``(h, c)`` for an LSTM) so a state moves freely
    between the two, and the same logits (log-probabilities for an adaptive softmax).
    Ids are not checked: the decoder chose them from the model's own distribution
    (an id outside the vocabulary still fails, in the table lookup).  See the module
    docstring for how, and for when to rebuild it.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.reason = _slow_reason(model)
        self.fast = self.reason is None
        if self.fast:
            with torch.no_grad():
                self._build(model)

    def _build(self, model: nn.Module) -> None:
        c, rnn = model.config, model.rnn
        self.kind, self.num_layers, self.hidden_size = c.kind, c.num_layers, c.hidden_size
        layers = []
        for k in range(c.num_layers):
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}", None), getattr(rnn, f"bias_hh_l{k}", None)
            if b_hh is None:
                b_hh = w_hh.new_zeros(w_hh.shape[0])
            if k == 0:
                if model.embedding is None:                        # one-hot: row i of W_ih^T is W_ih x
                    table = _t(w_ih)                               # (V, G*H)
                else:
                    table = model.embedding.weight.detach() @ w_ih.detach().t()   # (V, E) @ (E, G*H)
                if b_ih is not None:
                    table = table + b_ih.detach()
                w_in, b_in = table.contiguous(), None              # the lookup table and no bias
            else:
                w_in = _t(w_ih)                                    # (D*H, G*H)
                b_in = (b_ih if b_ih is not None else w_ih.new_zeros(w_ih.shape[0])).detach().clone()
            layers.append((w_in, b_in, _t(w_hh), b_hh.detach().clone()))
        self._layers = layers                                      # per layer: (W_in or T, b_in, W_hh^T, b_hh)
        self._proj = None if model.proj is None else (_t(model.proj.weight), model.proj.bias.detach().clone())
        self._adaptive = model.adaptive
        if model.adaptive is None:
            self._decoder = (_t(model.decoder.weight), model.decoder.bias.detach().clone())   # (F, V), (V,)
        self._cell = {"rnn": self._rnn, "gru": self._gru, "lstm": self._lstm}[c.kind]
        self._two_h = 2 * c.hidden_size

    # -- the cells: gi = W_ih x + b_ih (B, G*H), the layer's state -> its new state ---------
    # Each is written with as few calls as it can be: at batch 1 a call costs more than
    # its arithmetic, so in-place ops and the fused ``addcmul``/``lerp`` matter.
    @staticmethod
    def _rnn(gi: torch.Tensor, h: torch.Tensor, w_hh_t: torch.Tensor, b_hh: torch.Tensor):
        """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)"""
        return torch.addmm(b_hh, h, w_hh_t).add_(gi).tanh_()                    # (B, H)

    def _gru(self, gi: torch.Tensor, h: torch.Tensor, w_hh_t: torch.Tensor, b_hh: torch.Tensor):
        """torch's GRU, in its CPU kernel's order::

            r, z = sigmoid(gi_rz + gh_rz)          gh = W_hh h + b_hh
            n    = tanh(gi_n + r * gh_n)
            h'   = n + z * (h - n)                 = (1 - z) * n + z * h
        """
        H2 = self._two_h
        gh = torch.addmm(b_hh, h, w_hh_t)                                         # (B, 3H)
        r, z = gh[:, :H2].add_(gi[:, :H2]).sigmoid_().chunk(2, dim=1)             # (B, H) each
        n = torch.addcmul(gi[:, H2:], r, gh[:, H2:]).tanh_()                      # (B, H)
        return torch.lerp(n, h, z)                                                # (B, H)

    def _lstm(self, gi: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor], w_hh_t: torch.Tensor,
              b_hh: torch.Tensor):
        """torch's LSTM::

            i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (gi + W_hh h + b_hh)
            c' = f * c + i * g
            h' = o * tanh(c')
        """
        h, c = hc
        gates = torch.addmm(b_hh, h, w_hh_t).add_(gi)                            # (B, 4H): i f g o
        i, f, g, o = gates.chunk(4, dim=1)                                        # views: act in place
        gates[:, :2 * self.hidden_size].sigmoid_()                               # i, f
        g.tanh_()
        o.sigmoid_()
        c = torch.addcmul(f * c, i, g)                                            # (B, H)
        return o * torch.tanh(c), c

    # -- one step ----------------------------------------------------------------------------
    def step(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids (B,) long, state ((L, B, H) or (h, c)) -> (logits (B, V), new state)."""
        if not self.fast:
            out, state = self.model(ids[:, None], state)                        # (B, 1, V)
            return out[:, -1], state
        layers = self._layers
        if self.kind == "lstm":
            hs, cs = state
            w_in, _, w_hh_t, b_hh = layers[0]
            h, c = self._lstm(w_in.index_select(0, ids), (hs[0], cs[0]), w_hh_t, b_hh)
            new_h, new_c = [h], [c]
            for k in range(1, self.num_layers):
                w_in, b_in, w_hh_t, b_hh = layers[k]
                h, c = self._lstm(torch.addmm(b_in, h, w_in), (hs[k], cs[k]), w_hh_t, b_hh)
                new_h.append(h)
                new_c.append(c)
            state = (torch.stack(new_h), torch.stack(new_c))                     # (L, B, H) each
        else:
            cell = self._cell
            w_in, _, w_hh_t, b_hh = layers[0]
            h = cell(w_in.index_select(0, ids), state[0], w_hh_t, b_hh)         # (B, H)
            if self.num_layers == 1:
                state = h.unsqueeze(0)                                           # (1, B, H)
            else:
                new_h = [h]
                for k in range(1, self.num_layers):
                    w_in, b_in, w_hh_t, b_hh = layers[k]
                    h = cell(torch.addmm(b_in, h, w_in), state[k], w_hh_t, b_hh)
                    new_h.append(h)
                state = torch.stack(new_h)                                       # (L, B, H)
        return self.logits(h), state

    def prefill(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """The warm-up: ids (B, T) long, state -> (logits (B, V) after the last token, state).

        For a prefix the fused recurrent module is the fast way (one call over all T
        steps), so it runs as the model's forward does; only the output layer is
        skipped for every position but the last, which is all a decoder needs next.
        Unlike ``step``, the ids are checked (they come from the user's prefix)."""
        model = self.model
        if not self.fast:
            out, state = model(ids, state)                                      # (B, T, V)
            return out[:, -1], state
        y, state = model.features(ids, state)                                   # (B, T, F); ids checked
        return self._head(y[:, -1]), state                                       # (B, V)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """The last layer's output h (B, H) -> logits (B, V) (proj and decoder, or adaptive log-probs)."""
        if self._proj is not None:
            h = torch.addmm(self._proj[1], h, self._proj[0])                     # (B, E)
        return self._head(h)

    def _head(self, y: torch.Tensor) -> torch.Tensor:
        """Decoder input (B, F) (after proj) -> logits (B, V)."""
        if self._adaptive is not None:
            return self._adaptive.log_prob(y)                                    # (B, V)
        w_t, b = self._decoder
        return torch.addmm(b, y, w_t)                                            # (B, V)

    def __repr__(self) -> str:
        return f"Stepper(fast={self.fast}" + ("" if self.fast else f", reason={self.reason!r}") + ")"


def weights_key(model: nn.Module) -> tuple:
    """Identity, storage and version of every parameter: changes whenever a weight may have."""
    return tuple((id(p), p.data_ptr(), p._version, p.dtype, p.device) for p in model.parameters())


def stepper_for(model: nn.Module) -> Stepper:
    """The model's ``Stepper``, rebuilt when its weights changed since the last call."""
    key = weights_key(model)
    cached = model.__dict__.get("_stepper_cache")
    if cached is not None and cached[0] == key:
        return cached[1]
    stepper = Stepper(model)
    model.__dict__["_stepper_cache"] = (key, stepper)
    return stepper
