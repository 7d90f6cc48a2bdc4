"""RNN, GRU and LSTM written out equation by equation, with the gates exposed.

``ScratchRNN`` is a drop-in replacement for ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``
built with ``batch_first=True``: the same constructor, the same parameter names,
shapes and gate order, the same call and the same dropout between layers.  So a
``state_dict`` moves between the two in either direction, and the visualizer can
run these cells on the weights the fast fused module was trained with.

Parameters of layer ``k`` (``_reverse`` appended for the backward direction), with
G gates stacked in torch's order (RNN: 1; GRU r, z, n: 3; LSTM i, f, g, o: 4)::

    weight_ih_l{k}  (G*H, I_k)    I_0 = input_size, I_k = D*H for k > 0
    weight_hh_l{k}  (G*H, H)
    bias_ih_l{k}    (G*H,)
    bias_hh_l{k}    (G*H,)

One layer and direction, for speed: the input projection ``W_ih x_t + b_ih`` of all
time steps is a single matmul before the loop; only ``W_hh h + b_hh`` and the
elementwise gate arithmetic run once per step.  The call is batch-first; inside, the
layers pass time-first tensors to each other, as torch's own loop does, so that the
dropout between layers draws its mask in the same order and a seeded run drops the
same units as ``nn.GRU`` on the CPU (cuDNN draws its own masks)::

    input (B, T, I) -> x (T, B, I) --one matmul--> xi (T, B, G*H)
                                      |  t = 0 .. T-1 (T-1 .. 0 backwards)
                        h_{t-1} --> cell(xi[t], h_{t-1}) --> h_t --> out[t]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LyricdemoError

CELL_KINDS = ("rnn", "gru", "lstm")

Cell = Callable[[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor, "torch.Tensor | None"],
                tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]]


# -- the cells: one time step, one layer, one direction ---------------------------------
# Each takes xi = W_ih x_t + b_ih (precomputed, (B, G*H)), the previous state as a tuple
# of (B, H) tensors, and W_hh, b_hh; it returns (new state tuple, gates tuple).

def rnn_cell(xi: torch.Tensor, state: tuple[torch.Tensor], w_hh: torch.Tensor, b_hh: torch.Tensor | None):
    """Elman RNN (tanh)::

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    """
    (h,) = state                                   # (B, H)
    h = torch.tanh(xi + F.linear(h, w_hh, b_hh))   # (B, H)
    return (h,), ()


def gru_cell(xi: torch.Tensor, state: tuple[torch.Tensor], w_hh: torch.Tensor, b_hh: torch.Tensor | None):
    """Gated recurrent unit, in PyTorch's form (the reset gate scales ``W_hn h + b_hn``,
    not ``h``; the textbook form ``W_hn (r * h)`` gives different numbers)::

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        reset gate
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)        update gate
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))     candidate
        h' = (1 - z) * n + z * h

    z near 1 keeps the old state (long memory); z near 0 takes the candidate.
    """
    (h,) = state                                   # (B, H)
    xr, xz, xn = xi.chunk(3, dim=-1)               # 3 x (B, H)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h = (1 - z) * n + z * h
    return (h,), (r, z, n)


def lstm_cell(xi: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], w_hh: torch.Tensor,
              b_hh: torch.Tensor | None):
    """Long short-term memory::

        i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)        input gate
        f  = sigmoid(W_if x + b_if + W_hf h + b_hf)        forget gate
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)           candidate cell
        o  = sigmoid(W_io x + b_io + W_ho h + b_ho)        output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    The cell state c is the memory; h is what the next layer and the decoder see.
    """
    h, c = state                                   # (B, H) each
    gi, gf, gg, go = (xi + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    i = torch.sigmoid(gi)
    f = torch.sigmoid(gf)
    g = torch.tanh(gg)
    o = torch.sigmoid(go)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return (h, c), (i, f, g, o)


@dataclass(frozen=True)
class CellSpec:
    """What the layer loop needs to know about a kind of cell."""

    cell: Cell
    gates: tuple[str, ...]    # names of the gates the cell returns, in order
    states: tuple[str, ...]   # names of the state parts: ("h",) or ("h", "c")

    @property
    def num_chunks(self) -> int:
        """How many H-sized blocks the weight matrices stack (torch's gate count)."""
        return max(len(self.gates), 1)


CELLS: dict[str, CellSpec] = {
    "rnn": CellSpec(rnn_cell, (), ("h",)),
    "gru": CellSpec(gru_cell, ("r", "z", "n"), ("h",)),
    "lstm": CellSpec(lstm_cell, ("i", "f", "g", "o"), ("h", "c")),
}
_MODE_ALIASES = {"rnn_tanh": "rnn"}


def check_hidden(mode: str, hx, shape: tuple[int, int, int]) -> tuple[torch.Tensor, ...]:
    """Check a recurrent state against the expected ``(L*D, B, H)`` shape and return
    its parts as a tuple: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM."""
    names = CELLS[mode].states
    parts = (hx,) if isinstance(hx, torch.Tensor) else tuple(hx) if isinstance(hx, (tuple, list)) else ()
    if len(parts) != len(names) or not all(isinstance(p, torch.Tensor) for p in parts):
        want = "a tuple (h, c) of tensors" if len(names) == 2 else "one tensor"
        raise LyricdemoError(f"The {mode.upper()} state must be {want}; got {type(hx).__name__}.")
    for p in parts:
        if tuple(p.shape) != tuple(shape):
            raise LyricdemoError(f"The state has shape {tuple(p.shape)}; this {mode.upper()} expects "
                                 f"(layers*directions, batch, hidden) = {tuple(shape)}.")
    return parts


class ScratchRNN(nn.Module):
    """``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (batch_first=True) written out in Python.

    ``mode`` is ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``; the other arguments mean
    what they mean for ``nn.GRU``.  ``forward(input (B, T, I), hx=None)`` returns
    ``(output (B, T, D*H), h_n)``, where ``h_n`` is ``(L*D, B, H)``, or ``(h_n, c_n)``
    for an LSTM; an unbatched ``input (T, I)`` with ``hx (L*D, H)`` works too.
    Row ``k*D + d`` of ``h_n`` is layer k, direction d (0 forwards, 1 backwards).
    """

    batch_first = True

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, bias: bool = True):
        super().__init__()
        mode = _MODE_ALIASES.get(str(mode).lower(), str(mode).lower())
        if mode not in CELLS:
            raise LyricdemoError(f"Unknown recurrent cell {mode!r}; choose one of {CELL_KINDS}.")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise LyricdemoError(f"{name} must be a whole number >= 1; got {v!r}.")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise LyricdemoError(f"dropout must be a number between 0 and 1; got {dropout!r}.")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout only acts between recurrent layers, so with num_layers=1 it does nothing "
                          "(the same warning as torch.nn).", stacklevel=2)
        self.mode, self.spec = mode, CELLS[mode]
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dropout, self.bidirectional, self.bias = float(dropout), bool(bidirectional), bool(bias)
        self.num_directions = 2 if bidirectional else 1

        # Registered in torch's order (layer, direction, w_ih, w_hh, b_ih, b_hh), so the
        # same seed gives the same initial weights as the torch.nn module.
        gh = self.spec.num_chunks * hidden_size
        for k in range(num_layers):
            layer_in = input_size if k == 0 else hidden_size * self.num_directions
            for d in range(self.num_directions):
                sfx = self._suffix(k, d)
                self.register_parameter(f"weight_ih{sfx}", nn.Parameter(torch.empty(gh, layer_in)))
                self.register_parameter(f"weight_hh{sfx}", nn.Parameter(torch.empty(gh, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih{sfx}", nn.Parameter(torch.empty(gh)))
                    self.register_parameter(f"bias_hh{sfx}", nn.Parameter(torch.empty(gh)))
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def reset_parameters(self) -> None:
        """torch.nn's initialisation: every weight and bias uniform in +-1/sqrt(H)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.mode!r}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if not self.bias:
            s += ", bias=False"
        return s + ", batch_first=True"

    def _weights(self, layer: int, direction: int):
        sfx = self._suffix(layer, direction)
        return (getattr(self, f"weight_ih{sfx}"), getattr(self, f"weight_hh{sfx}"),
                getattr(self, f"bias_ih{sfx}", None), getattr(self, f"bias_hh{sfx}", None))

    # -- the state ---------------------------------------------------------------------------
    def _initial_parts(self, hx, batch: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """hx (None, a tensor, or (h, c)) -> a tuple of (L*D, B, H) tensors, checked."""
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            return tuple(x.new_zeros(shape) for _ in self.spec.states)
        return check_hidden(self.mode, hx, shape)

    # -- the forward pass --------------------------------------------------------------------
    def _run_direction(self, x: torch.Tensor, parts: tuple[torch.Tensor, ...], layer: int, direction: int,
                       record: bool):
        """One layer, one direction over the whole sequence (time-first inside, as torch).

        x (T, B, I_k), parts: tuple of (B, H) -> (out (T, B, H), final parts, recorded)
        where recorded[name] is (B, T, H) for every gate and state part (if ``record``)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        T = x.shape[0]
        xi = F.linear(x, w_ih, b_ih)                               # (T, B, G*H): all steps at once
        cell = self.spec.cell
        steps = range(T - 1, -1, -1) if direction else range(T)
        outs: list[torch.Tensor] = [x.new_empty(0)] * T
        trace: list[tuple[torch.Tensor, ...]] = [()] * T
        for t in steps:
            parts, gates = cell(xi[t], parts, w_hh, b_hh)          # parts: (B, H) each
            outs[t] = parts[0]
            if record:
                trace[t] = gates + parts
        out = torch.stack(outs)                                    # (T, B, H)
        recorded = {}
        if record:
            names = self.spec.gates + self.spec.states
            recorded = {name: torch.stack([tr[j] for tr in trace], dim=1) for j, name in enumerate(names)}
        return out, parts, recorded

    def _run(self, input: torch.Tensor, hx, record: bool):
        unbatched = input.dim() == 2
        if unbatched:                                              # (T, I) -> (1, T, I)
            input = input.unsqueeze(0)
            if hx is not None:
                hx = tuple(p.unsqueeze(1) for p in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
        if input.dim() != 3 or input.shape[-1] != self.input_size:
            raise LyricdemoError(f"ScratchRNN expects input (batch, time, {self.input_size}); "
                                 f"got {tuple(input.shape)}.")
        B, D = input.shape[0], self.num_directions
        init = self._initial_parts(hx, B, input)                   # tuple of (L*D, B, H)
        finals: list[tuple[torch.Tensor, ...]] = []                # per row k*D + d
        records: list[list[dict[str, torch.Tensor]]] = []          # [layer][direction]
        # Time-first inside, like torch's own loop: the dropout masks between layers are
        # then drawn in the same memory order, so a seeded run drops the same units.
        x = input.transpose(0, 1)                                  # (T, B, I)
        for k in range(self.num_layers):
            outs, recs = [], []
            for d in range(D):
                out, last, rec = self._run_direction(x, tuple(p[k * D + d] for p in init), k, d, record)
                outs.append(out)
                finals.append(last)
                recs.append(rec)
            records.append(recs)
            x = torch.cat(outs, dim=-1) if D > 1 else outs[0]      # (T, B, D*H)
            if k < self.num_layers - 1:                            # torch: between layers, not after the last
                x = F.dropout(x, self.dropout, self.training)
        h_n = tuple(torch.stack([f[j] for f in finals]) for j in range(len(init)))  # each (L*D, B, H)
        x = x.transpose(0, 1)                                      # (B, T, D*H)
        gates = {}
        if record:                                                 # each (L, D, B, T, H)
            gates = {name: torch.stack([torch.stack([r[name] for r in recs]) for recs in records])
                     for name in records[0][0]}
        if unbatched:
            x = x.squeeze(0)
            h_n = tuple(p.squeeze(1) for p in h_n)
            gates = {name: g.squeeze(2) for name, g in gates.items()}
        return x, (h_n[0] if len(h_n) == 1 else h_n), gates

    def forward(self, input: torch.Tensor, hx=None):
        """input (B, T, I), hx None | (L*D, B, H) | ((L*D, B, H), (L*D, B, H)) for LSTM
        -> (output (B, T, D*H), h_n of the same form as hx)."""
        output, h_n, _ = self._run(input, hx, record=False)
        return output, h_n

    def forward_with_gates(self, input: torch.Tensor, hx=None):
        """Like ``forward``, plus the gates: ``(output, h_n, gates)``.

        ``gates[name]`` is one tensor ``(L, D, B, T, H)``; ``gates["z"][k, d, b, t]``
        is the update gate of layer k, direction d (1 = backwards), batch row b, at the
        step that read input position t (for the backward direction, too: position t,
        not step t).  Names: GRU ``r z n``, LSTM ``i f g o`` and ``c`` (the cell state
        after reading x_t), RNN none; always ``h``, the hidden state after reading x_t
        (before any dropout), so ``gates["h"][-1]`` joined over directions is ``output``.
        They are computed with the module's own weights, so gradients flow through them.
        """
        return self._run(input, hx, record=True)
