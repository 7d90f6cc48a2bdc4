"""Tab 3, generation: the alternatives at one step, entropy along the text, one unit over time."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from ..vocab import show_token
from .base import PALETTE, _figure, _r, _rs

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
