"""What every figure shares: colours, fonts, the template, rounding, the one ``_figure`` constructor,
thinning long curves."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

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
# ticklabeloverflow "allow": plotly.js's default for a non-category axis ("hide past div") measures every
# tick label against every other one each time it draws (quadratic: ~4 s in Chromium for the ~100 position
# labels of tab 4's charts on this machine); a label past the edge is clipped by the chart anyway.
_AXIS = {"ticklabeloverflow": "allow"}
TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"},
                       "xaxis": {**_WHITE.xaxis.to_plotly_json(), **_AXIS},
                       "yaxis": {**_WHITE.yaxis.to_plotly_json(), **_AXIS},
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
