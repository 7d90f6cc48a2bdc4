"""Tab 4, the visualizer: units over time, gate saturation, the prediction strip, saliency,
connectivity, the trajectory, RNN · GRU · LSTM compared, and the standalone page of them all."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from ..vocab import show_token
from .base import DIVERGING, FONT, FONT_MIN, PALETTE, _figure, _rs

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
