"""Tab 1, the corpus: the most frequent tokens, Zipf's law, coverage."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from ..vocab import show_token
from .base import FONT_MIN, NGRAM_NAMES, PALETTE, _figure, _r, log_spaced

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
