"""Analyses of activation arrays (what ``probe.py`` recorded): a 2-D trajectory by PCA, gate
saturation, positions selected by token or line, and units ranked by what they do there.

**Units that fire here** (LSTMVis, Strobelt et al.).  Positions are selected by a token
(every occurrence), line starts, line ends or explicit positions; a unit's score is

    score(u) = mean_{t selected} a_t(u) - mean_{t not selected} a_t(u)

in the activation's own units (h lies in [-1, 1], so scores of units compare directly).
We keep the plain difference rather than a standardized one: a unit that barely varies
would get a huge standardized score from a tiny, meaningless difference.  A positive
score means the unit goes up there and not elsewhere; a negative one, that it goes down
(units are sign-symmetric: flipping a unit's weights flips its sign).

**Gate saturation** (Karpathy, Johnson & Fei-Fei 2015, fig. 3).  For each sigmoid gate
(GRU r, z; LSTM i, f, o) and each unit: the share of time steps at which the gate is
left-saturated (< 0.1, nearly closed) and right-saturated (> 0.9, nearly open).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .errors import LyricdemoError
from .vocab import token_from_glyph

SATURATION = (0.1, 0.9)           # left- and right-saturation thresholds of a sigmoid gate
SIGMOID_GATES = {"rnn": (), "gru": ("r", "z"), "lstm": ("i", "f", "o")}
SELECT_BY = ("token", "line starts", "line ends", "positions")
UNIT_ORDERS = ("variance", "mean", "selection")


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of ``x`` (T, W) on their first two principal components.

    Returns (coords (T, 2), explained (2,): each component's share of the variance).  Signs are
    fixed so that the first position has a non-positive coordinate (a stable picture).
    Computed with torch in float64 (numpy's BLAS would start its own threads, which stall
    badly on a busy shared machine: 1 s instead of 10 ms for T=500, W=256)."""
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    T, W = xt.shape
    xc = xt - xt.mean(dim=0, keepdim=True)
    coords = torch.zeros(T, 2, dtype=torch.float64)
    explained = torch.zeros(2, dtype=torch.float64)
    total = float((xc ** 2).sum())
    if T < 2 or total <= 1e-20:
        return coords.float().numpy(), explained.float().numpy()
    if T > W:                                # eigenvectors of the (W, W) scatter matrix: cheaper than an SVD
        w, v = torch.linalg.eigh(xc.T @ xc)
        comps, var = v[:, -2:].flip(1), w[-2:].flip(0).clamp(min=0)
    else:
        _, sv, vt = torch.linalg.svd(xc, full_matrices=False)
        comps, var = vt[:2].T, sv[:2] ** 2
    n = comps.shape[1]
    coords[:, :n] = xc @ comps
    explained[:n] = var / total
    flip = torch.where(coords[0] > 0, -1.0, 1.0).to(torch.float64)
    return (coords * flip).float().numpy(), explained.float().numpy()


def gate_saturation(gates: dict[str, np.ndarray], kind: str, lo: float = SATURATION[0],
                    hi: float = SATURATION[1]) -> dict[str, np.ndarray]:
    """For each sigmoid gate: (L, W, 2) -- per layer and unit, the share of time steps below ``lo``
    (left-saturated) and above ``hi`` (right-saturated).  Empty for an RNN (no gates)."""
    out = {}
    for name in SIGMOID_GATES.get(kind, ()):
        g = gates[name]                                          # (L, T, W)
        out[name] = np.stack([(g < lo).mean(axis=1), (g > hi).mean(axis=1)], axis=-1).astype(np.float32)
    return out


def _line_break(tok: str) -> bool:
    return tok == "\n"


def select_positions(tokens: Sequence[str], by: str, value: str = "") -> np.ndarray:
    """Positions (sorted int array) selected in a token list.

    ``by``: ``"token"`` -- every occurrence of ``value`` (for a word-level model, a single
    character also matches every word containing it; ``\\n`` or ``↵`` is the line break);
    ``"line starts"`` -- the first token of every line; ``"line ends"`` -- every line break;
    ``"positions"`` -- explicit positions such as ``"0, 5, 9-12"``."""
    T = len(tokens)
    if by not in SELECT_BY:
        raise LyricdemoError(f"Select positions by one of {', '.join(SELECT_BY)}; got {by!r}.")
    value = "" if value is None else value
    if not isinstance(value, str):
        raise LyricdemoError(f"The selection must be text; got {type(value).__name__}.")
    if by == "line starts":
        pos = [t for t in range(T) if t == 0 or _line_break(tokens[t - 1])]
    elif by == "line ends":
        pos = [t for t in range(T) if _line_break(tokens[t])]
        if not pos:
            raise LyricdemoError("The text has no line break.", code="no_line_break")
    elif by == "token":
        want = value.strip() or value
        want = token_from_glyph(want)
        if not want:
            raise LyricdemoError("Type the character (or word) to select, e.g. 我.", code="select_token_empty")
        pos = [t for t in range(T) if tokens[t] == want]
        if not pos and len(want) == 1:
            pos = [t for t in range(T) if want in tokens[t]]
        if not pos:
            raise LyricdemoError(f"“{want}” does not occur in the text.", code="token_not_in_text", token=want)
    else:
        pos = _parse_positions(value, T)
    return np.asarray(pos, dtype=np.int64)


def _parse_positions(spec: str, T: int) -> list[int]:
    out: set[int] = set()
    parts = [p.strip() for p in spec.replace("，", ",").replace("–", "-").split(",") if p.strip()]
    if not parts or len(parts) > 10_000:
        raise LyricdemoError("Type positions such as 0, 5, 9-12.", code="positions_empty")
    for p in parts:
        a, sep, b = p.partition("-")
        try:
            lo, hi = (int(a), int(b)) if sep else (int(p), int(p))
        except ValueError:
            raise LyricdemoError(f"{p!r} is not a position or a range like 9-12.", code="position_format") from None
        if not 0 <= lo <= hi < T:
            raise LyricdemoError(f"Positions run from 0 to {T - 1} (the text has {T} tokens); got {p!r}.")
        out.update(range(lo, hi + 1))
    return sorted(out)


def unit_scores(values: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    """score(u) = mean of unit u over the selected positions minus its mean elsewhere: (W,).
    See the module docstring for why the difference is not standardized."""
    values = np.asarray(values)
    T = values.shape[0]
    mask = np.zeros(T, dtype=bool)
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size == 0:
        raise LyricdemoError("No position is selected.", code="no_selection")
    if pos.min() < 0 or pos.max() >= T:
        raise LyricdemoError(f"Positions run from 0 to {T - 1}.")
    mask[pos] = True
    if mask.all():
        raise LyricdemoError("Every position is selected, so there is no 'elsewhere' to compare with.",
                             code="all_selected")
    return (values[mask].mean(axis=0) - values[~mask].mean(axis=0)).astype(np.float32)


def unit_order(values: np.ndarray, by: str = "variance", positions: Sequence[int] | None = None) -> np.ndarray:
    """Unit indices (W,) in display order: ``"variance"`` (most varying first), ``"mean"``
    (most positive first) or ``"selection"`` (highest score at ``positions`` first)."""
    values = np.asarray(values)
    if by == "variance":
        key = -values.var(axis=0)
    elif by == "mean":
        key = -values.mean(axis=0)
    elif by == "selection":
        if positions is None:
            raise LyricdemoError("Sorting by the selection needs selected positions.", code="sort_needs_selection")
        key = -unit_scores(values, positions)
    else:
        raise LyricdemoError(f"Sort units by one of {', '.join(UNIT_ORDERS)}; got {by!r}.")
    return np.argsort(key, kind="stable")
