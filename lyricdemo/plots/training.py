"""Tab 2, training: the perplexity chart (runs, baselines, log axis) and the gradient norm."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import plotly.graph_objects as go

from .base import BASELINE_DASH, FONT_MIN, LOG_AXIS, PALETTE, _figure, _r, _rs

# ----------------------------------------------------------------------------- training
@dataclass
class RunCurves:
    """What the training chart draws of one run (plain lists, filled by the app as events arrive)."""

    label: str
    eval_steps: list[int] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    train_ppl: list[float | None] = field(default_factory=list)
    val_ppl: list[float | None] = field(default_factory=list)
    batch_steps: list[int] = field(default_factory=list)     # smoothed per-batch perplexity (current run)
    batch_seconds: list[float] = field(default_factory=list)
    batch_ppl: list[float] = field(default_factory=list)


TRAINING_HEIGHT = 480           # px: with the buttons and the status, the whole chart fits a 720-px screen
_TRAIN_MARGIN = dict(l=60, r=16, t=44, b=40)


def spread_labels(ys: Sequence[float], lo: float, hi: float, plot_px: float, gap_px: float = 20.0) -> list[float]:
    """Pixel offsets that keep labels at heights ``ys`` (axis units, range ``lo``..``hi`` over
    ``plot_px`` pixels) at least ``gap_px`` apart: a label that would overlap the one below it is
    pushed up (bigram and trigram perplexities are often within a few percent)."""
    scale = plot_px / (hi - lo) if hi > lo else 0.0
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    shifts = [0.0] * len(ys)
    last = -math.inf
    for i in order:
        at = (ys[i] - lo) * scale
        placed = max(at, last + gap_px)
        shifts[i] = placed - at
        last = placed
    return shifts


def _log_range(values: Sequence[float | None]) -> list[float] | None:
    """A log10 axis range around every finite positive value, with a little room above and below."""
    vs = [math.log10(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vs:
        return None
    lo, hi = min(vs), max(vs)
    pad = max(0.06 * (hi - lo), 0.05)
    return [lo - pad, hi + pad]


# long: one figure's traces and axes, which read best together (a little over 60 lines).
def training_chart(runs: Sequence[RunCurves], baselines: Mapping[str, float] | None = None,
                   x: str = "step", title: str | None = None, height: int = TRAINING_HEIGHT) -> go.Figure:
    """Perplexity (log scale) of every run: validation solid with filled dots, training dotted with open
    dots (told apart without colour), the last run's smoothed per-batch perplexity thin, and the n-gram
    baselines as grey horizontal lines labelled at the right edge, pushed apart where they would overlap.

    ``x`` is ``"step"`` or ``"seconds"`` (seconds race models of different speeds fairly).
    The last run in ``runs`` is the current one and is drawn on top."""
    by_time = x == "seconds"
    data: list[dict] = []
    n = len(runs)
    shown: list[float | None] = []
    for i, run in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        current = i == n - 1
        width = 3 if current else 1.6
        ex = _rs(run.eval_seconds, 4) if by_time else list(run.eval_steps)
        if current and run.batch_ppl:
            bx = _rs(run.batch_seconds, 4) if by_time else list(run.batch_steps)
            data.append(dict(type="scatter", mode="lines", x=bx, y=_rs(run.batch_ppl),
                             name=f"{run.label} · batches / 批次", line=dict(color=color, width=1), opacity=0.35,
                             legendgroup=run.label, hovertemplate="%{y:.1f}<extra>batches / 批次</extra>"))
            shown += run.batch_ppl
        if run.train_ppl:
            data.append(dict(type="scatter", mode="lines+markers", x=ex, y=_rs(run.train_ppl),
                             name=f"{run.label} · train ┈ / 训练", legendgroup=run.label,
                             line=dict(color=color, width=width, dash="dot"),
                             marker=dict(size=7, symbol="circle-open", line=dict(width=2)),
                             opacity=1.0 if current else 0.6, hovertemplate="%{y:.1f}<extra>train / 训练</extra>"))
            shown += run.train_ppl
        if any(v is not None for v in run.val_ppl):
            data.append(dict(type="scatter", mode="lines+markers", x=ex, y=_rs(run.val_ppl),
                             name=f"{run.label} · validation ━ / 验证", legendgroup=run.label,
                             line=dict(color=color, width=width), marker=dict(size=7),
                             opacity=1.0 if current else 0.6,
                             hovertemplate="%{y:.1f}<extra>validation / 验证</extra>"))
            shown += run.val_ppl
    lines = [(name, ppl) for name, ppl in (baselines or {}).items()
             if ppl is not None and math.isfinite(ppl) and ppl > 0]
    yrange = _log_range(shown + [p for _, p in lines]) if data or lines else None
    shapes, annotations = [], []
    if lines and yrange:
        # an underestimate of the plot's height (the legend's rows take their share): labels end up farther
        # apart, never closer; a 14-px label box is ~23 px tall in the browser
        plot_px = height - _TRAIN_MARGIN["t"] - _TRAIN_MARGIN["b"] - 120 * (1 if data else 0)
        shifts = spread_labels([math.log10(p) for _, p in lines], *yrange, plot_px, gap_px=28.0)
        for (name, ppl), dy in zip(lines, shifts):
            shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=_r(ppl), y1=_r(ppl),
                               line=dict(color="#666666", width=1.5, dash=BASELINE_DASH.get(name, "dot"))))
            annotations.append(dict(xref="paper", x=1.0, xanchor="right", yref="y", y=math.log10(ppl),
                                    yanchor="bottom", yshift=_r(dy, 3), text=f"{name} {ppl:.0f}", showarrow=False,
                                    bgcolor="rgba(255,255,255,0.8)", font=dict(size=FONT_MIN, color="#333333")))
    if not data:
        annotations.append(dict(xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=16),
                                text="Press Start to train / 点击“开始训练”"))
    yaxis = dict(title=dict(text="perplexity / 困惑度"), **LOG_AXIS)
    if yrange:
        yaxis["range"] = [_r(v) for v in yrange]
    return _figure(data, dict(
        title=dict(text=title or "Perplexity (log scale) / 困惑度（对数坐标）"),
        xaxis=dict(title=dict(text="seconds / 秒" if by_time else "step / 步数", standoff=4), rangemode="tozero"),
        yaxis=yaxis, shapes=shapes, annotations=annotations, height=height, margin=dict(_TRAIN_MARGIN),
        legend=dict(orientation="h", y=-0.14, yanchor="top", x=0, font=dict(size=FONT_MIN)),
        uirevision="training"))


def grad_norm_chart(steps: Sequence[int], norms: Sequence[float], clip_theta: float | None = None) -> go.Figure:
    """Global gradient norm per step (log scale), with the clipping threshold when clipping is on."""
    data = [dict(type="scatter", mode="lines", x=list(steps), y=_rs(norms, 3), name="‖g‖",
                 line=dict(color=PALETTE[1], width=1.2), hovertemplate="step %{x}: %{y}<extra></extra>")]
    shapes, annotations = [], []
    if clip_theta:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=clip_theta, y1=clip_theta,
                           line=dict(color="#333333", width=1, dash="dash")))
        annotations.append(dict(xref="paper", x=1.0, xanchor="right", yref="y", y=math.log10(clip_theta),
                                yanchor="bottom", showarrow=False, text=f"clip θ = {clip_theta:g}",
                                font=dict(size=FONT_MIN)))
    return _figure(data, dict(
        title=dict(text="Gradient norm before clipping / 裁剪前的梯度范数"),
        xaxis=dict(title=dict(text="step / 步数"), rangemode="tozero"), yaxis=dict(**LOG_AXIS),
        shapes=shapes, annotations=annotations, showlegend=False, height=240,
        margin=dict(l=56, r=16, t=40, b=40), uirevision="grad"))
