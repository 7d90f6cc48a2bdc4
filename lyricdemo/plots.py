"""Pure functions: plain data (numbers, lists, arrays) -> a plotly ``Figure``.

Nothing here knows about Gradio, models or files; the UI computes the data with
the library and hands it over.  Every figure is built without plotly's per-property
validation (``_validate=False``): the training chart is rebuilt several times a
second while a model trains, and validation would cost more than the rest of the
work together.  The tests rebuild every figure *with* validation, so a typo in a
property name still fails loudly.

Numbers are rounded (``_r``) before they go into a figure: the JSON that travels to
the browser on every update is then about half as long.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from .vocab import show_token

# Colours of successive training runs (a colour-blind-safe qualitative palette).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
BASELINE_DASH = {"unigram": "dot", "bigram": "dash", "trigram": "dashdot"}
FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
# Read from the back of a classroom: no chart text (ticks, legends, annotations, cell text) below 14 px.
FONT_MIN = 14
DIVERGING = [[0.0, "#2166ac"], [0.5, "#f7f7f7"], [1.0, "#b2182b"]]    # negative blue, 0 white, positive red
NGRAM_NAMES = {1: "unigram / 一元", 2: "bigram / 二元", 3: "trigram / 三元"}



def _r(x: float | None, digits: int = 4) -> float | None:
    """Round to ``digits`` significant digits; None/NaN/inf become None (a gap in the line)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, max(digits - 1 - int(math.floor(math.log10(abs(x)))), 0))


def _rs(xs: Sequence[float | None], digits: int = 4) -> list[float | None]:
    return [_r(x, digits) for x in xs]


# 1-2-5 ticks for the log axes: "1 2 5 10 20 50 100 ..." reads better than plotly's crowded minor digits
_LOG_TICKS = [m * 10.0 ** e for e in range(-3, 7) for m in (1, 2, 5)]
LOG_AXIS = dict(type="log", tickmode="array", tickvals=_LOG_TICKS, ticktext=[f"{v:g}" for v in _LOG_TICKS])


# The look of plotly's "plotly_white", spelled out: figures are built with _validate=False
# (fast), which leaves a template *name* unresolved, and plotly.js only understands a
# template object.  The layout part is all we use (a few hundred bytes per figure).
_WHITE = pio.templates["plotly_white"].layout
TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"},
                       "xaxis": _WHITE.xaxis.to_plotly_json(), "yaxis": _WHITE.yaxis.to_plotly_json(),
                       "hoverlabel": {"align": "left"}}}


NARROW_PX = 520          # a chart narrower than this (a phone) gets its layout.meta["narrow"] changes in the page
WRAP_TITLE = 36          # characters: a longer "English / 中文" title breaks at its slash (phones, half-width plots)


def _wrap_title(layout: dict) -> None:
    """Break a long bilingual title into its English and its Chinese line, and make room for both."""
    title = layout.get("title")
    text = title.get("text", "") if isinstance(title, dict) else ""
    if len(text) > WRAP_TITLE and " / " in text and "<br>" not in text:
        title["text"] = text.replace(" / ", "<br>", 1)
        margin = layout.setdefault("margin", dict(l=56, r=16, t=48, b=48))
        margin["t"] = max(margin.get("t", 48), 72)


def _figure(data: list[dict], layout: dict) -> go.Figure:
    base = dict(margin=dict(l=56, r=16, t=48, b=48), font=dict(family=FONT, size=FONT_MIN),
                template=TEMPLATE, hovermode="closest")
    base.update(layout)
    _wrap_title(base)
    if base.get("height"):        # the page's copy: Gradio's resize after each draw drops layout.height (widgets.FIT_JS)
        base["meta"] = {**(base.get("meta") or {}), "height": base["height"]}
    return go.Figure(data=data, layout=base, _validate=False)


def decimate(xs: Sequence, ys: Sequence, max_points: int = 600) -> tuple[list, list]:
    """At most ``max_points`` evenly spaced points of a curve (the last point always kept)."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [xs[i] for i in idx], [ys[i] for i in idx]


def log_spaced(values: Sequence[int], max_points: int = 400) -> tuple[list[int], list[int]]:
    """(ranks, values) of a descending frequency list at log-spaced ranks, for a log-log plot."""
    n = len(values)
    if n == 0:
        return [], []
    if n <= max_points:
        return list(range(1, n + 1)), list(values)
    ranks = np.unique(np.geomspace(1, n, max_points).round().astype(int))
    return ranks.tolist(), [values[r - 1] for r in ranks]


# ----------------------------------------------------------------------------- corpus
def top_tokens_chart(top: Sequence[tuple[str, int]], title: str = "Most frequent tokens / 高频词元") -> go.Figure:
    """Bar chart of (token, count), most frequent first."""
    labels = [show_token(t) for t, _ in top]
    # plotly merges equal category labels; keep each bar distinct with an invisible suffix
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        k = seen.get(lab, 0)
        seen[lab] = k + 1
        if k:
            labels[i] = lab + "\u200b" * k
    counts = [int(c) for _, c in top]
    return _figure(
        [dict(type="bar", x=labels, y=counts, marker=dict(color=PALETTE[0]),
              hovertemplate="%{x}: %{y}<extra></extra>")],
        dict(title=dict(text=title), xaxis=dict(title=dict(text="token / 词元"), type="category", tickangle=0),
             yaxis=dict(title=dict(text="count / 次数")), height=340))


def zipf_chart(zipf: Mapping[int, Sequence[int]], max_points: int = 400) -> go.Figure:
    """Zipf's law: n-gram frequency against rank, log-log, one line per n."""
    data = []
    for i, (n, freqs) in enumerate(sorted(zipf.items())):
        ranks, fs = log_spaced(freqs, max_points)
        data.append(dict(type="scatter", mode="lines", x=ranks, y=fs, name=NGRAM_NAMES.get(n, f"{n}-gram"),
                         line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                         hovertemplate="rank %{x}: %{y}<extra>" + NGRAM_NAMES.get(n, f"{n}-gram") + "</extra>"))
    return _figure(data, dict(
        title=dict(text="Zipf's law (log-log) / 齐普夫定律（双对数）"),
        xaxis=dict(title=dict(text="rank / 排名"), type="log"),
        yaxis=dict(title=dict(text="frequency / 频率"), type="log"),
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1.0, xanchor="right"), height=360))


def coverage_chart(coverage: Sequence[tuple[int, float]], marks: Mapping[float, int] | None = None) -> go.Figure:
    """Share of all tokens covered by the k most frequent types, with the marks (e.g. 90% at k=...)."""
    ks = [int(k) for k, _ in coverage]
    shares = [_r(s * 100) for _, s in coverage]
    data = [dict(type="scatter", mode="lines", x=ks, y=shares, name="coverage", line=dict(color=PALETTE[2], width=2),
                 hovertemplate="top %{x}: %{y}%<extra></extra>")]
    annotations = []
    for share, k in sorted((marks or {}).items()):
        if share not in (0.5, 0.9, 0.99):
            continue
        annotations.append(dict(x=math.log10(max(k, 1)), y=share * 100, text=f"{share:.0%}: {k}", showarrow=True,
                                arrowhead=2, ax=30, ay=20, font=dict(size=FONT_MIN)))
    return _figure(data, dict(
        title=dict(text="Coverage / 覆盖率：前 k 个词元覆盖的文本"),
        xaxis=dict(title=dict(text="k most frequent types / 前 k 个词元"), type="log"),
        yaxis=dict(title=dict(text="% of tokens / 占比 %"), range=[0, 101]),
        annotations=annotations, showlegend=False, height=340))


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


# A little over 60 lines: one figure's traces and axes, which read best together.
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


# ----------------------------------------------------------------------------- generation
def alternatives_chart(alternatives: Sequence[tuple[str, float]], chosen: str, position: int,
                       entropy_bits: float | None = None, chosen_prob: float | None = None,
                       shown: int = 10) -> go.Figure:
    """The model's ``shown`` likeliest next tokens at one step, the chosen one highlighted; a sampled
    token outside them gets its own bar below, with its rank (or "> len(alternatives)" when it is
    not among them at all) and probability.  The axis fits the bars: next-token probabilities of a
    2,000-token vocabulary are often below 0.1, invisible on a fixed 0-1 axis."""
    ranks = [i for i, (t, _) in enumerate(alternatives) if t == chosen]
    rank = ranks[0] + 1 if ranks else None
    p_chosen = chosen_prob if chosen_prob is not None else (alternatives[rank - 1][1] if rank else None)
    rows = [(f"#{i + 1} {show_token(t)}", p, t == chosen) for i, (t, p) in enumerate(alternatives[:shown])]
    if rank is None or rank > shown:
        where = f"#{rank}" if rank else f"#>{len(alternatives)}"
        rows.append((f"{where} {show_token(chosen)}", p_chosen or 0.0, True))
    labels = [r[0] for r in rows][::-1]
    probs = [_r(r[1], 3) for r in rows][::-1]
    colors = [PALETTE[1] if r[2] else PALETTE[0] for r in rows][::-1]
    top = max((p for p in probs if p is not None), default=0.0) or 1.0
    ent = f" · entropy / 熵 {entropy_bits:.2f} bits" if entropy_bits is not None else ""
    said = (f"rank / 排名 {rank if rank else f'> {len(alternatives)}'}, p = {p_chosen:.3f}" if p_chosen is not None
            else f"rank / 排名 {rank}")
    return _figure(
        [dict(type="bar", orientation="h", x=probs, y=labels, marker=dict(color=colors),
              text=[f"{p:.3f}" if p is not None else "" for p in probs], textposition="outside",
              cliponaxis=False, hovertemplate="%{y}: %{x:.3f}<extra></extra>")],
        dict(title=dict(text=f"Step {position + 1}: chose “{show_token(chosen)}” ({said}){ent}<br>"
                             f"第 {position + 1} 步：选中 “{show_token(chosen)}”"),
             xaxis=dict(title=dict(text="probability / 概率"), range=[0, _r(top * 1.25, 3)]),
             yaxis=dict(type="category"), height=360, showlegend=False, margin=dict(l=90, r=24, t=64, b=48)))


def entropy_chart(tokens: Sequence[str], entropy_bits: Sequence[float], probs: Sequence[float],
                  selected: int | None = None) -> go.Figure:
    """Per generated token: the entropy of the model's distribution (bits) and the chosen token's probability."""
    xs = list(range(1, len(tokens) + 1))
    text = [show_token(t) for t in tokens]
    data = [
        dict(type="bar", x=xs, y=_rs(entropy_bits, 3), name="entropy / 熵 (bits)", marker=dict(color=PALETTE[5]),
             text=text, hovertemplate="%{x} “%{text}”: %{y} bits<extra></extra>", textposition="none"),
        dict(type="scatter", mode="lines+markers", x=xs, y=_rs(probs, 3), name="p(chosen) / 所选概率", yaxis="y2",
             line=dict(color=PALETTE[1], width=1.5), marker=dict(size=4), text=text,
             hovertemplate="%{x} “%{text}”: p=%{y}<extra></extra>"),
    ]
    shapes = []
    if selected is not None and 0 <= selected < len(tokens):
        shapes.append(dict(type="rect", xref="x", x0=selected + 0.5, x1=selected + 1.5, yref="paper", y0=0, y1=1,
                           fillcolor="rgba(213,94,0,0.15)", line=dict(width=0)))
    return _figure(data, dict(
        title=dict(text="Uncertainty per step / 每一步的不确定性"),
        xaxis=dict(title=dict(text="generated token / 生成的第几个词元")),
        yaxis=dict(title=dict(text="entropy (bits) / 熵"), rangemode="tozero"),
        yaxis2=dict(title=dict(text="p(chosen) / 选中概率"), overlaying="y", side="right", range=[0, 1.02], showgrid=False),
        shapes=shapes, height=300, legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right")))


# ----------------------------------------------------------------------------- hidden states
def unit_trace_chart(values: Sequence[float], tokens: Sequence[str], unit: int) -> go.Figure:
    """One unit's activation along the text."""
    labels = [show_token(t) for t in tokens]
    return _figure(
        [dict(type="scatter", mode="lines+markers", x=list(range(len(values))), y=_rs(values, 3), text=labels,
              line=dict(color=PALETTE[0], width=2), hovertemplate="t=%{x} “%{text}”: %{y}<extra></extra>")],
        dict(title=dict(text=f"Unit {unit} along the text / 第 {unit} 号单元沿文本的激活"),
             xaxis=dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels, tickangle=0),
             yaxis=dict(title=dict(text="activation / 激活"), zeroline=True), height=260, showlegend=False,
             dragmode="pan"))


# ----------------------------------------------------------------------------- the visualizer (tab 4)
# Positions are drawn on a category axis whose categories are "t:token" (unique even where a
# character repeats), so a hover names the position and the character at once; the ticks show
# the character alone.  Figures over long texts open on their first VIEW_TOKENS positions (drag
# the axis to pan) so that the characters stay readable.
VIEW_TOKENS = 60           # 14 px characters stay apart on a 1280-px screen
SEQUENTIAL = "Viridis"
SALIENCY_SCALE = [[0.0, "#ffffff"], [1.0, "#d55e00"]]
PROBABILITY_SCALE = [[0.0, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]]     # white (unlikely) to dark blue


def position_labels(tokens: Sequence[str]) -> list[str]:
    """Unique category names for positions: ``"12:月"``."""
    return [f"{t}:{show_token(tok)}" for t, tok in enumerate(tokens)]


def _position_axis(tokens: Sequence[str], title: str = "token read / 读入的词元", view: int = VIEW_TOKENS) -> dict:
    cats = position_labels(tokens)
    T = len(tokens)
    step = max(1, math.ceil(min(T, view) / 60))
    ticks = list(range(0, T, step))
    axis = dict(type="category", categoryorder="array", categoryarray=cats, tickmode="array",
                tickvals=[cats[i] for i in ticks], ticktext=[show_token(tokens[i]) for i in ticks], tickangle=0,
                tickfont=dict(size=FONT_MIN), title=dict(text=title, standoff=4))
    if T > view:
        axis["range"] = [-0.5, view - 0.5]
    return axis


def _f32(a) -> np.ndarray:
    """float32 with NaN kept (plotly draws a gap); sent to the browser base64-encoded."""
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def units_heatmap(values: np.ndarray, tokens: Sequence[str], order: Sequence[int] | None = None,
                  title: str = "Units over time / 单元随时间的变化", name: str = "h",
                  diverging: bool = True, max_units: int = 256, selected: Sequence[int] = (),
                  unit: int | None = None, readable: bool = False) -> go.Figure:
    """Units × positions: ``values`` (T, W) drawn with units down, the text along; ``order`` is the
    units' display order (the first ``max_units`` of it are drawn).  ``selected`` positions get an
    orange mark above their column; ``unit`` is outlined.  Hover: position, character, unit, value.
    ``readable``: every row tall enough for its unit id, however many units (a tall chart)."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 2:
        raise ValueError(f"values must be (time, units); got shape {v.shape}")
    T, W = v.shape
    order = list(range(W)) if order is None else [int(u) for u in order]
    shown = order[:max_units]
    z = _f32(v[:, shown].T)                                                 # (units, T)
    units = [f"unit {u}" for u in shown]
    if diverging:
        lim = float(max(np.abs(z).max(initial=0.0), 1e-6))
        colors = dict(colorscale=DIVERGING, zmin=-lim, zmax=lim, zmid=0)
    else:
        colors = dict(colorscale=SEQUENTIAL, zmin=0.0, zmax=1.0)
    shapes = [dict(type="rect", xref="x", yref="paper", x0=t - 0.5, x1=t + 0.5, y0=1.005, y1=1.03,
                   fillcolor=PALETTE[1], line=dict(width=0)) for t in selected]
    if unit is not None and unit in shown:
        r = shown.index(unit)
        shapes.append(dict(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color="#000000", width=1.5), fillcolor="rgba(0,0,0,0)"))
    note = f" (top {len(shown)} of {W} units)" if len(shown) < W else ""
    # px per unit: ids are drawn from 16 px rows (Plotly thins them to fit); ``readable`` rows hold every id
    row = 21.0 if readable else min(16.0, max(2.4, 600 / max(len(shown), 1)))
    every_id = dict(tickmode="array", tickvals=units) if readable else {}
    return _figure(
        [dict(type="heatmap", z=z, x=position_labels(tokens), y=units, **colors,
              hovertemplate="%{x} · %{y}: %{z:.3f}<extra></extra>",
              colorbar=dict(title=dict(text=name), thickness=12))],
        dict(title=dict(text=title.replace(" / ", note + " / ", 1) if " / " in title else title + note),
             xaxis=_position_axis(tokens),
             yaxis=dict(type="category", autorange="reversed", showticklabels=row >= 16, automargin=True, **every_id,
                        title=dict(text=f"unit / 单元 ({len(shown)})"), tickfont=dict(size=FONT_MIN)),
             shapes=shapes, height=int(130 + len(shown) * row),
             dragmode="pan",
             margin=dict(l=64, r=16, t=56, b=48)))


def saturation_chart(saturation: Mapping[str, np.ndarray], names: Mapping[str, str] | None = None,
                     lo: float = 0.1, hi: float = 0.9) -> go.Figure:
    """Gate saturation, as Karpathy, Johnson & Fei-Fei (2015) plot it: one panel per sigmoid gate, one
    dot per unit at (share of time < ``lo``, share of time > ``hi``), a colour per layer.  Dots on the
    right edge are gates almost always open, at the top almost always closed ... see the axis titles.
    ``saturation[name]`` is (L, W, 2)."""
    names = names or {}
    gates = list(saturation)
    if not gates:
        return _figure([], dict(title=dict(text="Gate saturation / 门饱和度"), height=240,
                                xaxis=dict(visible=False), yaxis=dict(visible=False),
                                annotations=[dict(xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                                                  font=dict(size=14),
                                                  text="A plain RNN has no gates. / 普通 RNN 没有门。")]))
    n = len(gates)
    gap = 0.1
    width = (1 - gap * (n - 1)) / n
    data, layout = [], {}
    for j, g in enumerate(gates):
        s = np.asarray(saturation[g])
        ax = "" if j == 0 else str(j + 1)
        for k in range(s.shape[0]):
            data.append(dict(type="scatter", mode="markers", x=_rs(s[k, :, 0], 3), y=_rs(s[k, :, 1], 3),
                             xaxis=f"x{ax}", yaxis=f"y{ax}", name=f"layer {k + 1} / 第 {k + 1} 层",
                             legendgroup=f"layer{k}", showlegend=j == 0,
                             marker=dict(color=PALETTE[k % len(PALETTE)], size=6, opacity=0.6),
                             customdata=list(range(s.shape[1])),
                             hovertemplate=(f"{g} unit %{{customdata}}: <{lo:g} %{{x:.0%}}, >{hi:g} %{{y:.0%}}"
                                            f"<extra>layer {k + 1}</extra>")))
        d0 = j * (width + gap)
        # the ranges start a little below 0: the "0%" ticks of x and y stay apart at the corner
        layout[f"xaxis{ax}"] = dict(domain=[d0, d0 + width], range=[-0.08, 1.03], tickformat=".0%",
                                    title=dict(text=f"closed / 关 (<{lo:g})", standoff=2), anchor=f"y{ax}")
        layout[f"yaxis{ax}"] = dict(range=[-0.06, 1.03], tickformat=".0%", anchor=f"x{ax}",
                                    title=dict(text=f"open / 开 (>{hi:g})" if j == 0 else ""))
        layout.setdefault("annotations", []).append(
            dict(xref="paper", yref="paper", x=d0 + width / 2, y=1.04, yanchor="bottom", showarrow=False,
                 text=f"<b>{g}</b> · {names.get(g, '')}", font=dict(size=FONT_MIN)))
        layout.setdefault("shapes", []).append(
            dict(type="line", xref=f"x{ax}", yref=f"y{ax}", x0=0, y0=1, x1=1, y1=0,
                 line=dict(color="#999999", width=1, dash="dot")))
    # a phone: the panels one under the other (side by side, their labels and axis titles overprint)
    panel, gap = 220, 110                                  # px: a panel, and its axis title + the next label
    H = n * panel + (n - 1) * gap
    narrow = {"height": 90 + H + 110, "margin.t": 90, "legend.y": -70 / H}
    for j in range(n):
        ax = "" if j == 0 else str(j + 1)
        hi_ = 1 - j * (panel + gap) / H
        narrow[f"xaxis{ax}.domain"] = [0, 1]
        narrow[f"yaxis{ax}.domain"] = [hi_ - panel / H, hi_]
        narrow[f"yaxis{ax}.title.text"] = f"open / 开 (>{hi:g})"
        narrow[f"annotations[{j}].x"] = 0.5
        narrow[f"annotations[{j}].y"] = hi_ + 8 / H
    return _figure(data, dict(title=dict(text="Gate saturation: share of time each unit's gate is nearly closed "
                                              "or open / 门饱和度", font=dict(size=15)),
                              height=380, margin=dict(l=56, r=16, t=90, b=48),
                              legend=dict(orientation="h", y=-0.22, x=0), meta={"narrow": narrow}, **layout))


def _cell_text(token: str) -> str:
    """A token short enough for a strip cell: ``<unk>`` is ``?``, long words are cut (hover shows them whole)."""
    if token.startswith("<") and token.endswith(">") and len(token) > 2:
        return "?" if token == "<unk>" else token[1]
    return token if len(token) <= 2 else token[0] + "…"


def prediction_strip(tokens: Sequence[str], top_tokens: Sequence[Sequence[str]], top_probs: np.ndarray,
                     entropy_bits: Sequence[float], next_logprob_bits: Sequence[float] | None = None) -> go.Figure:
    """At each position: the k most likely next tokens (rank down, shaded by probability, the text's
    actual next token boxed) and above them the entropy of the distribution and the surprisal
    -log2 p of the token that really came."""
    T = len(tokens)
    probs = np.asarray(top_probs, dtype=np.float32)                         # (T, k)
    k = probs.shape[1] if probs.ndim == 2 else 0
    cats = position_labels(tokens)
    full = [[show_token(top_tokens[t][r]) for t in range(T)] for r in range(k)]        # (k, T)
    cell = [[_cell_text(x) for x in row] for row in full]
    ranks = [f"#{r + 1}" for r in range(k)]
    hits_x, hits_y = [], []
    for t in range(T - 1):
        for r in range(k):
            if top_tokens[t][r] == tokens[t + 1]:
                hits_x.append(cats[t])
                hits_y.append(ranks[r])
    surprisal = [None if v is None or not math.isfinite(v) else -v for v in (next_logprob_bits or [])]
    data = [
        dict(type="bar", x=cats, y=_rs(entropy_bits, 3), name="entropy / 熵", yaxis="y2",
             marker=dict(color=PALETTE[5]), hovertemplate="after %{x}: entropy %{y} bits<extra></extra>"),
        dict(type="heatmap", z=_f32(probs.T), x=cats, y=ranks, text=cell, texttemplate="%{text}", customdata=full,
             textfont=dict(size=FONT_MIN), colorscale=PROBABILITY_SCALE, zmin=0, zmax=1, showscale=False,
             hovertemplate="after %{x}: %{y} “%{customdata}” p=%{z:.3f}<extra></extra>"),
        dict(type="scatter", mode="markers", x=hits_x, y=hits_y, name="real next / 实际的下一个",
             marker=dict(symbol="square-open", size=22, color=PALETTE[1], line=dict(width=2)), hoverinfo="skip"),
    ]
    if surprisal:
        data.insert(1, dict(type="scatter", mode="lines+markers", x=cats, y=_rs(surprisal, 3), yaxis="y2",
                            name="surprisal −log₂p / 意外度", line=dict(color=PALETTE[1], width=1.5),
                            marker=dict(size=4), hovertemplate="after %{x}: −log₂p = %{y} bits<extra></extra>"))
    xaxis = _position_axis(tokens, "after reading / 读完这个词元后", view=VIEW_TOKENS // 2)
    return _figure(data, dict(
        title=dict(text=f"Predictions: the top {k} next tokens at each position / 每个位置预测的下一个词元"),
        xaxis=xaxis, yaxis=dict(domain=[0, 0.62], type="category", autorange="reversed", title=dict(text="rank / 排名")),
        yaxis2=dict(domain=[0.7, 1.0], title=dict(text="bits / 比特"), rangemode="tozero"),
        height=220 + 26 * k, dragmode="pan", barmode="overlay",
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right", font=dict(size=FONT_MIN)),
        margin=dict(l=56, r=16, t=64, b=48)))


def saliency_chart(tokens: Sequence[str], shares: Sequence[float], position: int, target: str,
                   in_text: bool = True, reads_future: bool = False) -> go.Figure:
    """Connectivity of one position: how much each input token drove the prediction made there
    (normalised gradient norms, 1 = the most), the position itself marked."""
    T = len(tokens)
    cats = position_labels(tokens)
    colors = [PALETTE[1] if t == position else (PALETTE[0] if t < position else "#999999") for t in range(T)]
    what = f"“{show_token(target)}”" + ("" if in_text else " (its own top choice: the text ends here)")
    future = "<br>The backward half reads the future: grey bars. / 灰色：反向读到的未来。" if reads_future else ""
    axis = _position_axis(tokens, "input token / 输入的词元")
    if T > VIEW_TOKENS:                                 # open on the window that ends at the position
        hi = min(T, max(position + 5, VIEW_TOKENS))
        axis["range"] = [hi - VIEW_TOKENS - 0.5, hi - 0.5]
    return _figure(
        [dict(type="bar", x=cats, y=_rs(shares, 3), marker=dict(color=colors),
              hovertemplate="%{x}: %{y:.3f}<extra></extra>")],
        dict(title=dict(text=f"Saliency of the prediction {what} after position {position} / 预测的显著性"
                              + future, font=dict(size=14)),
             xaxis=axis, yaxis=dict(title=dict(text="share of max<br>相对大小"), range=[0, 1.05]),
             height=280, showlegend=False, dragmode="pan", meta={"fit_at": position}))


def connectivity_chart(shares: np.ndarray, tokens: Sequence[str], targets: Sequence[str] | None = None) -> go.Figure:
    """The full connectivity matrix: row t = the prediction after position t, column s = input s,
    each row normalised to its maximum."""
    m = _f32(shares)
    cats = position_labels(tokens)
    T = len(tokens)
    rows = [f"{c} → {show_token(targets[t])}" for t, c in enumerate(cats)] if targets is not None else cats
    return _figure(
        [dict(type="heatmap", z=m, x=cats, y=rows, colorscale=SALIENCY_SCALE, zmin=0, zmax=1,
              hovertemplate="prediction %{y} · input %{x}: %{z:.3f}<extra></extra>",
              colorbar=dict(title=dict(text="share<br>占比"), thickness=12))],
        dict(title=dict(text="Connectivity: which inputs each prediction used / 连接性矩阵"),
             xaxis={**_position_axis(tokens, "input / 输入"), "range": None},
             yaxis=dict(type="category", autorange="reversed", title=dict(text="prediction after / 预测位置"),
                        tickfont=dict(size=FONT_MIN), showticklabels=T <= 60),
             height=int(max(360, min(800, 140 + 6 * T)))))


def trajectory_chart(coords: np.ndarray, tokens: Sequence[str], explained: Sequence[float] | None = None,
                     title: str = "State trajectory (PCA) / 状态轨迹（主成分）") -> go.Figure:
    """The hidden state's path through its first two principal components, one point per position,
    coloured by position and labelled with the token read (labels up to 300 points)."""
    c = np.asarray(coords, dtype=np.float32)
    T = len(tokens)
    labels = [show_token(t) for t in tokens]
    ex = [float(e) for e in explained] if explained is not None else [float("nan")] * 2
    axes = [f"PC{i + 1}" + (f" ({e:.0%})" if math.isfinite(e) else "") for i, e in enumerate(ex)]
    return _figure(
        [dict(type="scatter", mode="lines", x=_rs(c[:, 0]), y=_rs(c[:, 1]), hoverinfo="skip", showlegend=False,
              line=dict(color="#bbbbbb", width=1)),
         dict(type="scatter", mode="markers+text" if T <= 300 else "markers", x=_rs(c[:, 0]), y=_rs(c[:, 1]),
              text=labels, textposition="top center", textfont=dict(size=FONT_MIN), showlegend=False,
              customdata=list(range(T)),
              marker=dict(color=list(range(T)), colorscale=SEQUENTIAL, size=7,
                          colorbar=dict(title=dict(text="position<br>位置"), thickness=12)),
              hovertemplate="%{customdata}:%{text}<extra></extra>")],
        dict(title=dict(text=title), xaxis=dict(title=dict(text=axes[0]), zeroline=False),
             yaxis=dict(title=dict(text=axes[1]), zeroline=False), height=460))


def text_grid_chart(tokens: Sequence[str], values: Sequence[float], title: str, diverging: bool = True,
                    width: int = 40, marks: Sequence[int] = ()) -> go.Figure:
    """The text itself as a grid of coloured cells (Karpathy's colouring, for pages without HTML views):
    one row per line of the text (long lines wrap at ``width``), each cell a token shaded by its value."""
    v = [float(x) for x in values]
    rows: list[list[int]] = [[]]
    for t, tok in enumerate(tokens):
        rows[-1].append(t)
        if tok == "\n" or len(rows[-1]) >= width:
            rows.append([])
    if not rows[-1]:
        rows.pop()
    cols = max((len(r) for r in rows), default=1)
    z = np.full((len(rows), cols), np.nan, dtype=np.float32)
    text = [[""] * cols for _ in rows]
    hover = [[""] * cols for _ in rows]
    mark = set(marks)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            z[i, j] = v[t]
            shown = show_token(tokens[t])
            text[i][j] = f"<b>{shown}</b>" if t in mark else shown
            hover[i][j] = f"{t}:{shown} {v[t]:+.3f}"
    if diverging:
        lim = max((abs(x) for x in v if math.isfinite(x)), default=1.0) or 1.0
        colors = dict(colorscale=DIVERGING, zmin=-lim, zmax=lim, zmid=0)
    else:
        colors = dict(colorscale=SALIENCY_SCALE, zmin=0, zmax=1)
    return _figure(
        [dict(type="heatmap", z=z, text=text, texttemplate="%{text}", textfont=dict(size=15), customdata=hover,
              hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1, showscale=True, **colors,
              colorbar=dict(thickness=10))],
        dict(title=dict(text=title), xaxis=dict(visible=False, constrain="domain"),
             yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1),   # square cells
             height=int(min(1400, 80 + 30 * len(rows))), margin=dict(l=16, r=16, t=48, b=16)))


@dataclass
class CompareRow:
    """One model of the side-by-side view: its name, the tokens it read, the activations of its
    shown units (T, U) and its surprisal -log2 p(next) per position (T,)."""

    label: str
    tokens: list[str]
    values: np.ndarray
    surprisal: list[float | None]
    unit_ids: list[int] = field(default_factory=list)


def _char_centres(tokens: Sequence[str]) -> list[float]:
    """Where each token sits in the text, in characters (its centre): models that cut the same text into
    different tokens (characters, jieba words) line up on this axis."""
    out, pos = [], 0
    for tok in tokens:
        n = max(len(tok), 1)
        out.append(pos + n / 2)
        pos += n
    return out


def compare_chart(rows: Sequence[CompareRow], title: str = "RNN · GRU · LSTM on the same text / 同一文本上的三种模型"
                  ) -> go.Figure:
    """Models stacked on one text: each model's most varying units as a heatmap, and at the bottom
    every model's surprisal at each token (lower is better predicted).  The x axis is the position
    in the text in characters, so a word-level model lines up with a character-level one."""
    n = len(rows)
    if not n:
        return _figure([], dict(title=dict(text=title), height=200, annotations=[dict(
            xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, text="No model to compare. / 没有可比较的模型。")]))
    same = all(r.tokens == rows[0].tokens for r in rows)
    gap, last = (0.035 if same else 0.1), 0.24
    h = (1 - last - gap * n) / n
    data: list[dict] = []
    layout: dict = {"annotations": []}
    end = max(sum(max(len(t), 1) for t in r.tokens) for r in rows)
    view = [0, min(end, VIEW_TOKENS)]

    def axis(r: CompareRow, anchor: str, ticks: bool, title: str = "") -> dict:
        xs = _char_centres(r.tokens)
        step = max(1, math.ceil(min(len(xs), VIEW_TOKENS) / 60))
        return dict(tickmode="array", tickvals=xs[::step], ticktext=[show_token(t) for t in r.tokens][::step],
                    tickangle=0, tickfont=dict(size=FONT_MIN), showticklabels=ticks, anchor=anchor, range=view,
                    title=dict(text=title, standoff=4), showgrid=False, zeroline=False)

    for i, r in enumerate(rows):
        ax = "" if i == 0 else str(i + 1)
        top = 1 - i * (h + gap)
        v = _f32(np.asarray(r.values).T)                                   # (U, T)
        lim = float(max(np.abs(v).max(initial=0.0), 1e-6))
        units = [f"unit {u}" for u in (r.unit_ids or range(v.shape[0]))]
        labels = [f"{t}:{show_token(tok)}" for t, tok in enumerate(r.tokens)]
        data.append(dict(type="heatmap", z=v, x=_char_centres(r.tokens), y=units, xaxis=f"x{ax}", yaxis=f"y{ax}",
                         colorscale=DIVERGING, zmin=-lim, zmax=lim, zmid=0, showscale=False,
                         customdata=[labels] * len(units),
                         hovertemplate=f"{r.label}<br>%{{customdata}} · %{{y}}: %{{z:.3f}}<extra></extra>"))
        xa = axis(r, f"y{ax}", not same or i == n - 1)
        if i:
            xa["matches"] = "x"
        layout[f"xaxis{ax}"] = xa
        layout[f"yaxis{ax}"] = dict(domain=[top - h, top], type="category", autorange="reversed",
                                    showticklabels=False, anchor=f"x{ax}")
        layout["annotations"].append(dict(xref="paper", yref="paper", x=0, y=top, xanchor="left", yanchor="bottom",
                                          showarrow=False, text=f"<b>{r.label}</b>", font=dict(size=FONT_MIN)))
    ax = str(n + 1)
    for i, r in enumerate(rows):
        labels = [f"{t}:{show_token(tok)}" for t, tok in enumerate(r.tokens)]
        data.append(dict(type="scatter", mode="lines+markers", x=_char_centres(r.tokens), y=_rs(r.surprisal, 3),
                         customdata=labels, xaxis=f"x{ax}", yaxis=f"y{ax}", name=r.label,
                         line=dict(color=PALETTE[i % len(PALETTE)]), marker=dict(size=4),
                         hovertemplate="after %{customdata}: %{y} bits<extra>" + r.label + "</extra>"))
    xa = axis(rows[0], f"y{ax}", same, "after reading (position in the text) / 读完这个词元后")
    xa.update(matches="x", showgrid=True)
    layout[f"xaxis{ax}"] = xa
    layout[f"yaxis{ax}"] = dict(domain=[0, last - 0.06], title=dict(text="−log₂p(next) / 意外度"), rangemode="tozero",
                                anchor=f"x{ax}")
    return _figure(data, dict(title=dict(text=title), height=int(260 + 170 * n), dragmode="pan",
                              legend=dict(orientation="h", y=-0.08, x=0), margin=dict(l=56, r=16, t=56, b=56),
                              **layout))


def figures_page(title: str, sections: Sequence[tuple[str, go.Figure | str]], intro: str = "") -> str:
    """A standalone HTML page of figures (and HTML snippets): plotly.js is inlined once, so the page
    works offline, from a file, on a projector with no network."""
    import html as _html

    import plotly.io as pio

    parts = []
    first = True
    for heading, item in sections:
        parts.append(f"<h2>{_html.escape(heading)}</h2>")
        if isinstance(item, str):
            parts.append(item)
            continue
        fig = item.to_dict()
        if isinstance(fig.get("layout", {}).get("template"), str):
            fig["layout"].pop("template")        # a name plotly.js does not resolve (the app sends it the same way)
        parts.append(pio.to_html(fig, include_plotlyjs=first, full_html=False, validate=False,
                                 config={"displaylogo": False, "responsive": True}))
        first = False
    return ("<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">"
            f"<title>{_html.escape(title)}</title><meta name=\"viewport\" content=\"width=device-width\">"
            f"<style>body{{font-family:{FONT};max-width:1200px;margin:1em auto;padding:0 1em;color:#222}}"
            "h2{font-size:1.15em;margin:1.6em 0 .3em;border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>{_html.escape(title)}</h1>{intro}{''.join(parts)}</body></html>\n")
