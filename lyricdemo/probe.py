"""What the visualizer shows: what a recurrent model does with a text, as plain arrays.

    text --read_text--> tokens, ids --scratch twin, one forward pass--> per layer h_t (c_t), gates
                                                      |--> logits --> top-k next tokens, entropy, log p(next)
                                                      |--> one backward pass --> saliency of one position
         states --> PCA --> a 2-D trajectory;  gates --> saturation;  units --> rankings

The fused ``torch.nn`` layers a model trains with do not expose their states step by
step, so the text is read by the model's scratch twin (``model.with_impl("scratch")``,
cached on the model): the same weights, the cells written out.  ``tests/test_probe.py``
checks that every layer's states equal the fused module's to 1e-5.

Conventions (T tokens, L layers, D directions, H units per direction, W = D*H):

* ``h[k, t]`` is layer k's state *after* reading token t; for a bidirectional layer the
  backward half (units H..2H-1) is joined on the right, as in the layer's output, and
  it has read tokens t..T-1 -- the future.
* Position t *predicts* token t+1: ``top_ids[t]``, ``entropy_bits[t]`` and the saliency
  "at t" are about the model's distribution p(x_{t+1} | x_0..x_t).

**Saliency** (Distill's "connectivity", Madsen 2019).  At position t the model is scored
on one target token: the text's next token x_{t+1}, or, at the end of the text, its own
most likely choice.  The saliency of input position s is

    sal_t(s) = || d log p(target | x_0..x_t) / d e_s ||_2

where e_s is the vector the first recurrent layer reads at s (the embedding row, or the
one-hot vector), and the norm runs over that vector.  One backward pass gives the whole
row s = 0..T-1.  A one-directional model cannot see the future, so sal_t(s) = 0 for
s > t exactly (measured, not assumed: the gradient is taken through the whole text); a
bidirectional one can, and its row shows it.  For display a row is divided by its
maximum (``Saliency.shares``).  ``connectivity`` computes every row at once (T backward
passes' worth of work in one batched pass), so it is offered for short texts only.

Positions, units and gates are then ranked and summarised on these arrays (``activations.py``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .activations import SATURATION, gate_saturation, pca_2d, select_positions, unit_order, unit_scores
from .errors import LyricdemoError
from .reading import MAX_PROBE_TOKENS, ReadText, UnknownToken, read_text
from .models.stepper import weights_key
from .numbers import rounded
from .tokenizers import Tokenizer
from .vocab import Vocab

MAX_CONNECTIVITY_TOKENS = 120     # a (T, T) matrix costs about T single-position saliency passes
CONNECTIVITY_CHUNK = 12_000_000   # input numbers per batched pass of connectivity (rows x T x I)
CONNECTIVITY_ROWS = 24            # target rows per batched pass (a one-directional pass stops at its last row)
DEFAULT_TOP_K = 5

# Gates each cell exposes (ScratchRNN's names).
GATES = {"rnn": (), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}
LN2 = math.log(2.0)


def _check_model(model) -> None:
    if not hasattr(model, "with_impl") or not hasattr(model, "config") or not hasattr(model.config, "kind"):
        raise LyricdemoError("The visualizer needs a recurrent model (RNN, GRU or LSTM), not an n-gram model.")


def _whole(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise LyricdemoError(f"{name} must be a whole number from {lo:,} to {hi:,}; got {v!r}.")
    return int(v)


# ----------------------------------------------------------------------------- the scratch twin
def scratch_twin(model):
    """The model's scratch twin in eval mode with frozen weights, cached on the model and rebuilt
    when a weight changed (the same key as ``RNNLM.stepper()``)."""
    _check_model(model)
    key = weights_key(model)
    cached = model.__dict__.get("_probe_twin")
    if cached is not None and cached[0] == key:
        return cached[1]
    twin = model.with_impl("scratch").eval()
    for p in twin.parameters():
        p.requires_grad_(False)      # gradients are only ever taken with respect to the inputs
    model.__dict__["_probe_twin"] = (key, twin)
    return twin


def _grad_mode(on: bool):
    """Autograd on (even inside a caller's ``inference_mode``), or inference mode."""
    if not on:
        return torch.inference_mode()
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode(False))
    stack.enter_context(torch.enable_grad())
    return stack


def _features(twin, x: torch.Tensor, record: bool):
    """x (B, T, I) -> (features (B, T, F) for the output layer, gates dict or {}). Eval mode: no dropout."""
    y, _, gates = twin.run_layers(x, None, with_gates=record)
    return y, gates or {}


def _to_units(g: torch.Tensor) -> np.ndarray:
    """A recorded gate (L, D, 1, T, H) -> (L, T, D*H) float32, the backward half on the right."""
    L, D, _, T, H = g.shape
    return g[:, :, 0].permute(0, 2, 1, 3).reshape(L, T, D * H).detach().float().cpu().numpy()


# ----------------------------------------------------------------------------- results
@dataclass
class Saliency:
    """How much each input position drove one prediction (see the module docstring).

    ``norms[s]`` = ||d log p(target | x_0..x_position) / d e_s||_2; zero for s > position
    in a one-directional model."""

    position: int                 # t: the model has read tokens 0..t
    target: str                   # the token it is scored on
    target_id: int
    in_text: bool                 # True: target is the text's token t+1; False: the model's own top choice
    logprob: float                # ln p(target | ...)
    norms: np.ndarray = field(repr=False)       # (T,)
    reads_future: bool = False    # bidirectional: positions after t count too

    @property
    def shares(self) -> np.ndarray:
        """``norms`` divided by their maximum: 1 for the position that mattered most."""
        m = float(self.norms.max(initial=0.0))
        return self.norms / m if m > 0 else np.zeros_like(self.norms)

    def to_dict(self, digits: int = 4) -> dict:
        return {"position": self.position, "target": self.target, "target_id": self.target_id,
                "in_text": self.in_text, "logprob": _round(self.logprob, digits),
                "max_norm": _round(float(self.norms.max(initial=0.0)), 8),
                "shares": rounded(self.shares, digits), "reads_future": self.reads_future}


@dataclass
class Probe:
    """Everything the visualizer shows about one model reading one text, as numpy arrays.

    ``states["h"]`` (and ``states["c"]`` for an LSTM) and ``gates[name]`` are float32
    ``(L, T, W)``; ``gates`` holds GRU ``r z n`` or LSTM ``i f g o`` (none for an RNN).
    ``top_ids``/``top_probs`` are ``(T, k)``, the k most likely next tokens after each
    position; ``entropy_bits`` is ``(T,)``; ``next_logprob_bits[t]`` is log2 p(x_{t+1}),
    NaN at the last position.  ``projection`` is ``(L, T, 2)``: each layer's h projected on
    its first two principal components, which explain ``explained[k]`` of its variance.
    ``saliency`` is the connectivity of one position (None when not asked for).
    ``timings`` are seconds spent per part (for the benchmark).
    """

    text: str
    tokens: list[str]
    ids: list[int]
    kind: str
    num_layers: int
    num_directions: int
    hidden_size: int
    states: dict[str, np.ndarray] = field(repr=False)
    gates: dict[str, np.ndarray] = field(repr=False)
    top_ids: np.ndarray = field(repr=False)
    top_tokens: list[list[str]] = field(repr=False)
    top_probs: np.ndarray = field(repr=False)
    entropy_bits: np.ndarray = field(repr=False)
    next_logprob_bits: np.ndarray = field(repr=False)
    projection: np.ndarray | None = field(default=None, repr=False)
    explained: np.ndarray | None = field(default=None, repr=False)
    saliency: Saliency | None = None
    unknown: tuple[UnknownToken, ...] = ()
    truncated: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    # -- facts ---------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Units per layer as the views show them: W = D*H."""
        return self.hidden_size * self.num_directions

    @property
    def bidirectional(self) -> bool:
        return self.num_directions == 2

    def layer(self, k: int) -> int:
        return _whole("layer", k, 0, self.num_layers - 1)

    def values(self, layer: int, name: str = "h") -> np.ndarray:
        """(T, W) activations of one layer: a state (``h``, ``c``) or a gate."""
        k = self.layer(layer)
        src = self.states if name in self.states else self.gates
        if name not in src:
            have = ", ".join([*self.states, *self.gates])
            raise LyricdemoError(f"A {self.kind.upper()} has no {name!r}; choose one of {have}.")
        return src[name][k]

    def unit(self, layer: int, unit: int, name: str = "h") -> np.ndarray:
        """Activation (T,) of one unit along the text."""
        v = self.values(layer, name)
        return v[:, self.check_unit(unit)]

    def check_unit(self, unit: int) -> int:
        """``unit`` when it is a unit of every layer (0 .. W-1); else a message naming the range."""
        return _whole("unit", unit, 0, self.width - 1)

    def positions(self, by: str, value: str = "") -> np.ndarray:
        return select_positions(self.tokens, by, value)

    def unit_order(self, layer: int, by: str = "variance", positions: Sequence[int] | None = None,
                   name: str = "h") -> np.ndarray:
        return unit_order(self.values(layer, name), by, positions)

    def unit_scores(self, layer: int, positions: Sequence[int], name: str = "h") -> np.ndarray:
        return unit_scores(self.values(layer, name), positions)

    def saturation(self, lo: float = SATURATION[0], hi: float = SATURATION[1]) -> dict[str, np.ndarray]:
        return gate_saturation(self.gates, self.kind, lo, hi)

    def surprisal_bits(self) -> float | None:
        """Mean -log2 p(x_{t+1}) over the text (bits per token), None for a one-token text."""
        v = self.next_logprob_bits[:-1]
        return float(-v.mean()) if v.size else None

    # -- JSON ----------------------------------------------------------------------------
    def to_dict(self, arrays: bool = True, layers: Iterable[int] | None = None, digits: int = 4) -> dict:
        """Plain JSON-safe data (floats rounded to ``digits`` decimals, NaN -> null).

        ``arrays=False`` leaves out the (T, W) arrays of states and gates (the bulk of it);
        ``layers`` chooses which layers' arrays go in (default all)."""
        ks = list(range(self.num_layers)) if layers is None else [self.layer(k) for k in layers]
        sat = self.saturation()
        d = {
            "format": "lyricdemo-probe", "version": 1,
            "model": {"kind": self.kind, "num_layers": self.num_layers, "num_directions": self.num_directions,
                      "hidden_size": self.hidden_size, "width": self.width},
            "text": self.text, "tokens": list(self.tokens), "ids": list(self.ids),
            "truncated": self.truncated, "unknown": [{"token": u.token, "start": u.start} for u in self.unknown],
            "predictions": {"top_k": int(self.top_ids.shape[1]), "tokens": self.top_tokens,
                            "ids": self.top_ids.tolist(), "probs": rounded(self.top_probs, digits),
                            "entropy_bits": rounded(self.entropy_bits, digits),
                            "next_logprob_bits": rounded(self.next_logprob_bits, digits)},
            "saliency": self.saliency.to_dict(digits) if self.saliency is not None else None,
            "projection": None if self.projection is None else {
                "layers": [{"layer": k, "coords": rounded(self.projection[k], digits),
                            "explained": rounded(self.explained[k], digits)} for k in ks]},
            "saturation": {"thresholds": list(SATURATION),
                           "gates": {g: {"left": rounded(s[ks, :, 0], digits), "right": rounded(s[ks, :, 1], digits)}
                                     for g, s in sat.items()}},
            "layers": ks,
        }
        if arrays:
            d["states"] = {n: rounded(v[ks], digits) for n, v in self.states.items()}
            d["gates"] = {n: rounded(v[ks], digits) for n, v in self.gates.items()}
        return d


def _round(x: float, digits: int) -> float | None:
    return round(float(x), digits) if math.isfinite(x) else None




# ----------------------------------------------------------------------------- the probe
@torch.inference_mode()
def _distributions(twin, y: torch.Tensor, ids: torch.Tensor, top_k: int):
    """Features y (1, T, F) -> log p (T, V), the top-k log-probs and ids (T, k), the entropy (T,) in
    bits and log2 p(the text's next token) (T,), NaN at the last position."""
    logp = twin.log_probs_of(y.detach())[0].float()                               # (T, V)
    top_lp, top_i = logp.topk(min(top_k, logp.shape[-1]), dim=-1)                 # (T, k)
    entropy = -(logp.exp() * logp).sum(-1) / LN2                                  # (T,) bits
    nxt = torch.full((logp.shape[0],), float("nan"))
    if logp.shape[0] > 1:
        nxt[:-1] = logp[:-1].gather(1, ids[0, 1:, None]).squeeze(1) / LN2
    return logp, top_lp, top_i, entropy, nxt


def probe(model, vocab: Vocab, tokenizer: Tokenizer | str, text: str, *, max_tokens: int = MAX_PROBE_TOKENS,
          truncate: bool = False, top_k: int = DEFAULT_TOP_K, saliency_at: int | str | None = "auto",
          project: bool = True) -> Probe:
    """Read ``text`` with ``model`` (an ``RNNLM``) and return what the visualizer shows.

    One forward pass of the scratch twin gives every layer's states and gates and the
    next-token distributions; with ``saliency_at`` (a position, ``"auto"`` = the last one that
    predicts a token of the text, or None) one backward pass from that position gives its
    saliency; ``project`` adds each layer's 2-D PCA trajectory.

    Texts longer than ``max_tokens`` (default 2,000) tokens are refused with a clear message,
    or cut to their beginning with ``truncate=True``."""
    _check_model(model)
    top_k = _whole("top_k", top_k, 1, 50)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rt = read_text(vocab, tokenizer, text, max_tokens, truncate)
    twin = scratch_twin(model)
    c = twin.config
    T = len(rt.ids)
    pos = _saliency_position(saliency_at, T)
    timings["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ids = torch.tensor([rt.ids], dtype=torch.long, device=twin.device)              # (1, T)
    with _grad_mode(pos is not None):
        x = twin.embed(ids)                                                 # (1, T, I)
        if pos is not None:
            x = x.detach().requires_grad_(True)
        y, rec = _features(twin, x, record=True)                                      # (1, T, F)
    states = {name: _to_units(rec[name]) for name in ("h", "c") if name in rec}
    gates = {name: _to_units(rec[name]) for name in GATES[c.kind]}
    timings["states"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    logp, top_lp, top_i, entropy, nxt = _distributions(twin, y, ids, top_k)
    top_ids = top_i.cpu().numpy()
    top_tokens = [vocab.to_tokens(row) for row in top_ids.tolist()]
    timings["distributions"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sal = None
    if pos is not None:
        with _grad_mode(True):
            sal = _saliency_from(twin, vocab, rt, x, y, logp[pos], pos)
    timings["saliency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    proj = expl = None
    if project:
        pairs = [pca_2d(h) for h in states["h"]]
        proj = np.stack([p for p, _ in pairs])
        expl = np.stack([e for _, e in pairs])
    timings["projection"] = time.perf_counter() - t0

    return Probe(text=rt.text, tokens=list(rt.tokens), ids=list(rt.ids), kind=c.kind, num_layers=c.num_layers,
                 num_directions=c.num_directions, hidden_size=c.hidden_size, states=states, gates=gates,
                 top_ids=top_ids, top_tokens=top_tokens, top_probs=top_lp.exp().cpu().numpy(),
                 entropy_bits=entropy.cpu().numpy(), next_logprob_bits=nxt.numpy(), projection=proj, explained=expl,
                 saliency=sal, unknown=rt.unknown, truncated=rt.truncated, timings=timings)


def _saliency_position(at, T: int) -> int | None:
    if at is None:
        return None
    if at == "auto":
        return max(T - 2, 0)          # the last position whose next token is in the text
    if isinstance(at, bool) or not isinstance(at, (int, np.integer)) or not -T <= at < T:
        raise LyricdemoError(f"The saliency position must be a whole number from 0 to {T - 1} "
                             f"(the text has {T} tokens); got {at!r}.")
    return int(at) % T


def _target(ids: Sequence[int], logp_t: torch.Tensor, t: int) -> tuple[int, bool]:
    """The token position t is scored on: the text's next one, or at the end the model's top choice."""
    if t + 1 < len(ids):
        return int(ids[t + 1]), True
    return int(logp_t.argmax()), False


def _saliency_from(twin, vocab: Vocab, rt: ReadText, x: torch.Tensor, y: torch.Tensor, logp_t: torch.Tensor,
                   t: int) -> Saliency:
    """One backward pass from log p(target at t) to the input vectors x (1, T, I) (which require grad);
    ``logp_t`` (V,) is the distribution at t (it names the target at the end of the text)."""
    target, in_text = _target(rt.ids, logp_t, t)
    lp = twin.log_probs_of(y[:, t:t + 1])[0, 0, target]              # only row t goes through the decoder
    (grad,) = torch.autograd.grad(lp, x)
    norms = grad[0].norm(dim=-1).float().cpu().numpy()              # (T,)
    bidi = twin.config.bidirectional
    return Saliency(position=t, target=vocab.to_tokens(target), target_id=target, in_text=in_text,
                    logprob=float(lp.detach()), norms=norms, reads_future=bidi)


def saliency(model, vocab: Vocab, tokenizer: Tokenizer | str, text: str, position: int | str = "auto", *,
             max_tokens: int = MAX_PROBE_TOKENS, truncate: bool = False) -> Saliency:
    """The saliency of one position alone (the tab's position slider): one forward and one backward
    pass.  A one-directional model reads only tokens 0..position for it (the rest cannot matter);
    a bidirectional one reads the whole text."""
    _check_model(model)
    rt = read_text(vocab, tokenizer, text, max_tokens, truncate)
    twin = scratch_twin(model)
    T = len(rt.ids)
    t = _saliency_position(position, T)
    n = T if twin.config.bidirectional else t + 1
    ids = torch.tensor([rt.ids[:n]], dtype=torch.long, device=twin.device)
    with _grad_mode(True):
        x = twin.embed(ids).detach().requires_grad_(True)
        y, _ = _features(twin, x, record=False)
        with torch.no_grad():
            logp_t = twin.log_probs_of(y[:, t:t + 1].detach())[0]    # (1, V)
        sal = _saliency_from(twin, vocab, rt, x, y, logp_t[0], t)
    if n < T:
        sal.norms = np.concatenate([sal.norms, np.zeros(T - n, dtype=sal.norms.dtype)])
    return sal


@dataclass
class Connectivity:
    """Every position's saliency at once: ``matrix[t, s]`` = sal_t(s) (see the module docstring)."""

    tokens: list[str]
    targets: list[str]            # what row t was scored on
    matrix: np.ndarray = field(repr=False)      # (T, T)
    reads_future: bool = False

    @property
    def shares(self) -> np.ndarray:
        """Each row divided by its maximum."""
        m = self.matrix.max(axis=1, keepdims=True)
        return np.divide(self.matrix, m, out=np.zeros_like(self.matrix), where=m > 0)


def connectivity(model, vocab: Vocab, tokenizer: Tokenizer | str, text: str,
                 max_tokens: int = MAX_CONNECTIVITY_TOKENS) -> Connectivity:
    """The full (T, T) saliency matrix of a short text, in one batched pass.

    The batched trick: the text is copied into T rows; row t is scored only on its own
    position's target, so summing the T log-probabilities and taking one gradient gives
    row t's saliency in row t of the input gradient.  That is T times the work of one
    position (batched, so far faster than T passes), hence the limit
    (``MAX_CONNECTIVITY_TOKENS``)."""
    _check_model(model)
    max_tokens = _whole("max_tokens", max_tokens, 1, MAX_PROBE_TOKENS)
    rt = read_text(vocab, tokenizer, text, MAX_PROBE_TOKENS)
    T = len(rt.ids)
    if T > max_tokens:
        raise LyricdemoError(f"The full connectivity matrix needs one backward pass per position, so it is "
                             f"computed for texts of at most {max_tokens} tokens; this one has {T}. Choose one "
                             f"position instead, or shorten the text.", code="connectivity_too_long", limit=max_tokens)
    twin = scratch_twin(model)
    ids = torch.tensor([rt.ids], dtype=torch.long, device=twin.device)
    bidi = twin.config.bidirectional
    chunk = max(1, min(CONNECTIVITY_ROWS, CONNECTIVITY_CHUNK // max(T * twin.rnn.input_size, 1)))
    matrix = np.zeros((T, T), dtype=np.float32)
    targets: list[int] = []
    with _grad_mode(True):
        base = twin.embed(ids).detach()                                          # (1, T, I)
        for r0 in range(0, T, chunk):
            rows = torch.arange(r0, min(r0 + chunk, T))
            n = T if bidi else int(rows[-1]) + 1          # one direction: rows up to t need tokens 0..t only
            x = base[:, :n].expand(len(rows), -1, -1).clone().requires_grad_(True)         # (rows, n, I)
            y, _ = _features(twin, x, record=False)                                        # (rows, n, F)
            own = y[torch.arange(len(rows)), rows][:, None]                                # (rows, 1, F): row t at t
            logp = twin.log_probs_of(own)[:, 0]                                             # (rows, V)
            tg = [_target(rt.ids, logp[i].detach(), int(t))[0] for i, t in enumerate(rows)]
            (grad,) = torch.autograd.grad(logp[torch.arange(len(rows)), torch.tensor(tg)].sum(), x)
            matrix[rows.numpy(), :n] = grad.norm(dim=-1).float().cpu().numpy()
            targets += tg
    return Connectivity(tokens=list(rt.tokens), targets=vocab.to_tokens(targets), matrix=matrix,
                        reads_future=twin.config.bidirectional)
