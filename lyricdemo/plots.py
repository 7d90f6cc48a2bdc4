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

# Colours of successive training runs (a colour-blind-safe qualitative palette).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
BASELINE_DASH = {"unigram": "dot", "bigram": "dash", "trigram": "dashdot"}
FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
DIVERGING = [[0.0, "#2166ac"], [0.5, "#f7f7f7"], [1.0, "#b2182b"]]    # negative blue, 0 white, positive red
NGRAM_NAMES = {1: "unigram / 一元", 2: "bigram / 二元", 3: "trigram / 三元"}

# glyphs that DejaVu Sans and Noto Sans CJK both draw (␠ U+2420 and ␍ are missing: they would be tofu boxes)
_SHOWN = {"\n": "↵", " ": "␣", "\u3000": "⬚", "\t": "⇥", "\r": "\\r"}


def show_token(token: str) -> str:
    """A token as it can be read on a chart or a page: a line break is ``↵``, a space ``␣``,
    a full-width space ``⬚``."""
    if token in _SHOWN:
        return _SHOWN[token]
    return "".join(_SHOWN.get(ch, ch) for ch in token) if any(ch in _SHOWN for ch in token) else token


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


def _figure(data: list[dict], layout: dict) -> go.Figure:
    base = dict(margin=dict(l=56, r=16, t=48, b=48), font=dict(family=FONT, size=13),
                template="plotly_white", hovermode="closest")
    base.update(layout)
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
                                arrowhead=2, ax=30, ay=20, font=dict(size=12)))
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


def training_chart(runs: Sequence[RunCurves], baselines: Mapping[str, float] | None = None,
                   x: str = "step", title: str | None = None) -> go.Figure:
    """Perplexity (log scale) of every run: validation solid, training dotted, the last run's
    smoothed per-batch perplexity thin, and the n-gram baselines as horizontal lines.

    ``x`` is ``"step"`` or ``"seconds"`` (seconds race models of different speeds fairly).
    The last run in ``runs`` is the current one and is drawn on top."""
    by_time = x == "seconds"
    data: list[dict] = []
    n = len(runs)
    for i, run in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        current = i == n - 1
        width = 3 if current else 1.6
        ex = _rs(run.eval_seconds, 4) if by_time else list(run.eval_steps)
        if current and run.batch_ppl:
            bx = _rs(run.batch_seconds, 4) if by_time else list(run.batch_steps)
            data.append(dict(type="scatter", mode="lines", x=bx, y=_rs(run.batch_ppl), name=f"{run.label} · batches",
                             line=dict(color=color, width=1), opacity=0.35, legendgroup=run.label,
                             hovertemplate="%{y:.1f}<extra>batches</extra>"))
        if run.train_ppl:
            data.append(dict(type="scatter", mode="lines+markers", x=ex, y=_rs(run.train_ppl),
                             name=f"{run.label} · train / 训练", legendgroup=run.label,
                             line=dict(color=color, width=width, dash="dot"), marker=dict(size=5),
                             opacity=1.0 if current else 0.6, hovertemplate="%{y:.1f}<extra>train</extra>"))
        if any(v is not None for v in run.val_ppl):
            data.append(dict(type="scatter", mode="lines+markers", x=ex, y=_rs(run.val_ppl),
                             name=f"{run.label} · validation / 验证", legendgroup=run.label,
                             line=dict(color=color, width=width), marker=dict(size=6),
                             opacity=1.0 if current else 0.6, hovertemplate="%{y:.1f}<extra>validation</extra>"))
    shapes, annotations = [], []
    for j, (name, ppl) in enumerate((baselines or {}).items()):
        if ppl is None or not math.isfinite(ppl) or ppl <= 0:
            continue
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=_r(ppl), y1=_r(ppl),
                           line=dict(color="#777777", width=1.2, dash=BASELINE_DASH.get(name, "dot"))))
        # labels at different heights of the right edge would collide (bigram and trigram are close): spread along x
        annotations.append(dict(xref="paper", x=1.0 - 0.16 * j, xanchor="right", yref="y", y=math.log10(ppl),
                                yanchor="bottom", text=f"{name} {ppl:.0f}", showarrow=False,
                                font=dict(size=11, color="#555555")))
    if not data:
        annotations.append(dict(xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=15),
                                text="Press Start to train / 点击“开始训练”"))
    return _figure(data, dict(
        title=dict(text=title or "Perplexity (log scale) / 困惑度（对数坐标）"),
        xaxis=dict(title=dict(text="seconds / 秒" if by_time else "step / 步数", standoff=4), rangemode="tozero"),
        yaxis=dict(title=dict(text="perplexity / 困惑度"), **LOG_AXIS),
        shapes=shapes, annotations=annotations, height=460, margin=dict(l=56, r=16, t=48, b=40),
        legend=dict(orientation="h", y=-0.16, yanchor="top", x=0, font=dict(size=11)),
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
                                font=dict(size=11)))
    return _figure(data, dict(
        title=dict(text="Gradient norm before clipping / 裁剪前的梯度范数"),
        xaxis=dict(title=dict(text="step / 步数"), rangemode="tozero"), yaxis=dict(**LOG_AXIS),
        shapes=shapes, annotations=annotations, showlegend=False, height=240,
        margin=dict(l=56, r=16, t=40, b=40), uirevision="grad"))


# ----------------------------------------------------------------------------- generation
def alternatives_chart(alternatives: Sequence[tuple[str, float]], chosen: str, position: int,
                       entropy_bits: float | None = None) -> go.Figure:
    """The model's top-k next tokens at one step (probabilities), the chosen one highlighted."""
    labels = [show_token(t) for t, _ in alternatives][::-1]
    probs = [_r(p, 3) for _, p in alternatives][::-1]
    colors = [PALETTE[1] if t == chosen else PALETTE[0] for t, _ in alternatives][::-1]
    ent = f", entropy / 熵 {entropy_bits:.2f} bits" if entropy_bits is not None else ""
    return _figure(
        [dict(type="bar", orientation="h", x=probs, y=labels, marker=dict(color=colors),
              hovertemplate="%{y}: %{x:.3f}<extra></extra>")],
        dict(title=dict(text=f"Step {position + 1}: chose “{show_token(chosen)}”{ent} / 第 {position + 1} 步"),
             xaxis=dict(title=dict(text="probability / 概率"), range=[0, 1]),
             yaxis=dict(type="category"), height=320, showlegend=False))


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
        yaxis2=dict(title=dict(text="p(chosen)"), overlaying="y", side="right", range=[0, 1.02], showgrid=False),
        shapes=shapes, height=300, legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right")))


# ----------------------------------------------------------------------------- hidden states
def hidden_heatmap(h: np.ndarray, tokens: Sequence[str], title: str = "Hidden state / 隐状态",
                   max_units: int = 512) -> go.Figure:
    """Hidden state ``h`` (T, H) as a heatmap: units on the vertical axis, the tokens read along the
    horizontal one (h[t] is the state *after* reading token t)."""
    h = np.asarray(h, dtype=np.float32)
    if h.ndim != 2:
        raise ValueError(f"h must be (time, units); got shape {h.shape}")
    T, H = h.shape
    z = np.round(h[:, :max_units].T, 3)                                     # (units, T)
    lim = float(max(np.abs(z).max(initial=0.0), 1e-6))
    x = list(range(T))
    labels = [show_token(t) for t in tokens]
    return _figure(
        [dict(type="heatmap", z=z, x=x, colorscale=DIVERGING, zmin=-lim, zmax=lim, zmid=0,
              customdata=[labels] * z.shape[0],
              hovertemplate="t=%{x} “%{customdata}”, unit %{y}: %{z}<extra></extra>",
              colorbar=dict(title=dict(text="h"), thickness=12))],
        dict(title=dict(text=title),
             xaxis=dict(title=dict(text="token read / 读入的词元"), tickmode="array", tickvals=x, ticktext=labels,
                        tickangle=0, tickfont=dict(size=12 if T <= 60 else 9)),
             yaxis=dict(title=dict(text="unit / 单元"), autorange="reversed"),
             height=max(320, min(720, 120 + 3 * z.shape[0]))))


def unit_trace_chart(values: Sequence[float], tokens: Sequence[str], unit: int) -> go.Figure:
    """One unit's activation along the text."""
    labels = [show_token(t) for t in tokens]
    return _figure(
        [dict(type="scatter", mode="lines+markers", x=list(range(len(values))), y=_rs(values, 3), text=labels,
              line=dict(color=PALETTE[0], width=2), hovertemplate="t=%{x} “%{text}”: %{y}<extra></extra>")],
        dict(title=dict(text=f"Unit {unit} along the text / 第 {unit} 号单元沿文本的激活"),
             xaxis=dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels, tickangle=0),
             yaxis=dict(title=dict(text="activation / 激活"), zeroline=True), height=260, showlegend=False))
