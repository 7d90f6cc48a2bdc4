"""plots: every figure is valid plotly (rebuilt *with* validation), shows what it claims, and
stays small however long the data."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from lyricdemo import plots


def validated(fig: go.Figure) -> go.Figure:
    """plots builds figures without validation (speed); rebuild with it: a bad property raises."""
    return go.Figure(fig.to_dict())


def test_show_token():
    assert plots.show_token("\n") == "↵" and plots.show_token(" ") == "␣" and plots.show_token("爱") == "爱"
    assert plots.show_token("a b") == "a␣b"


def test_round_drops_non_finite_and_keeps_significant_digits():
    assert plots._r(None) is None and plots._r(float("nan")) is None and plots._r(float("inf")) is None
    assert plots._r(123.456789) == 123.5 and plots._r(0.000123456) == 0.0001235 and plots._r(0) == 0.0


def test_decimate_and_log_spaced_bound_the_points():
    xs = list(range(10_000))
    dx, dy = plots.decimate(xs, [x * 2 for x in xs], 100)
    assert len(dx) <= 100 and dx[0] == 0 and dx[-1] == 9_999 and dy[-1] == 19_998
    assert plots.decimate([1, 2], [3, 4], 100) == ([1, 2], [3, 4])
    ranks, vals = plots.log_spaced(list(range(50_000, 0, -1)), 300)
    assert len(ranks) <= 300 and ranks[0] == 1 and ranks[-1] == 50_000
    assert all(a < b for a, b in zip(ranks, ranks[1:])) and vals[0] == 50_000
    assert plots.log_spaced([]) == ([], [])


def test_top_tokens_chart_keeps_every_bar():
    fig = validated(plots.top_tokens_chart([("\n", 50), (" ", 40), ("爱", 30), ("\u3000", 20)]))
    bar = fig.data[0]
    assert list(bar.y) == [50, 40, 30, 20] and len(set(bar.x)) == 4 and bar.x[0] == "↵"


def test_zipf_and_coverage():
    zipf = {1: list(range(5000, 0, -1)), 2: list(range(900, 0, -1)), 3: [3, 2, 1, 1]}
    fig = validated(plots.zipf_chart(zipf, max_points=200))
    assert len(fig.data) == 3 and fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert all(len(t.x) <= 200 for t in fig.data)
    cov = validated(plots.coverage_chart([(1, 0.1), (10, 0.5), (100, 0.9), (1000, 1.0)], {0.5: 10, 0.9: 100}))
    assert cov.data[0].y[-1] == 100 and len(cov.layout.annotations) == 2


def test_training_chart_runs_baselines_and_axes():
    old = plots.RunCurves("#1 RNN", eval_steps=[10, 20], eval_seconds=[1.0, 2.0], train_ppl=[500, 300],
                          val_ppl=[520, 400])
    cur = plots.RunCurves("#2 GRU", eval_steps=[10], eval_seconds=[0.5], train_ppl=[400], val_ppl=[None],
                          batch_steps=[1, 2, 3], batch_seconds=[0.1, 0.2, 0.3], batch_ppl=[2000.0, 1500.0, 900.0])
    fig = validated(plots.training_chart([old, cur], {"unigram": 410.0, "bigram": 267.0, "trigram": float("nan")}))
    names = [t.name for t in fig.data]
    assert any("#1 RNN" in n and "validation" in n for n in names)
    assert any("#2 GRU" in n and "batches" in n for n in names)          # only the current run draws batches
    assert not any("#1 RNN" in n and "batches" in n for n in names)
    assert not any("#2 GRU" in n and "validation" in n for n in names)   # no validation point yet
    assert fig.layout.yaxis.type == "log"
    assert len(fig.layout.shapes) == 2                                    # NaN baseline dropped
    assert {s.y0 for s in fig.layout.shapes} == {410.0, 267.0}
    by_time = validated(plots.training_chart([old], None, x="seconds"))
    assert list(by_time.data[0].x) == [1.0, 2.0]
    empty = validated(plots.training_chart([], None))
    assert not empty.data and "Start" in empty.layout.annotations[0].text


def test_training_chart_payload_stays_small():
    n = 1200
    run = plots.RunCurves("#1", eval_steps=list(range(0, 5000, 25)), eval_seconds=[i * 0.1 for i in range(200)],
                          train_ppl=[300 + math.sin(i) for i in range(200)], val_ppl=[320.0] * 200,
                          batch_steps=list(range(n)), batch_seconds=[i * 0.01 for i in range(n)],
                          batch_ppl=[1000 / (1 + i) + math.pi for i in range(n)])
    size = len(plots.training_chart([run] * 8, {"bigram": 267.0}).to_json())
    assert size < 250_000, size


def test_grad_norm_chart_shows_the_clip_threshold():
    fig = validated(plots.grad_norm_chart([1, 2, 3], [0.5, 2.0, 1.2], 1.0))
    assert fig.layout.shapes[0].y0 == 1.0 and fig.layout.yaxis.type == "log"
    assert not validated(plots.grad_norm_chart([1], [0.5], None)).layout.shapes


def test_alternatives_and_entropy_charts():
    fig = validated(plots.alternatives_chart([("爱", 0.5), ("\n", 0.3), ("你", 0.1)], "\n", 4, 1.2))
    bar = fig.data[0]
    assert list(bar.y) == ["#3 你", "#2 ↵", "#1 爱"] and list(bar.x) == [0.1, 0.3, 0.5]  # most likely on top
    assert bar.marker.color[1] != bar.marker.color[0]                            # the chosen one stands out
    assert "Step 5" in fig.layout.title.text and "rank / 排名 2" in fig.layout.title.text
    assert fig.layout.xaxis.range[1] == pytest.approx(0.625)                     # fits the bars, not 0..1


def test_alternatives_chart_always_shows_the_chosen_token():
    alts = [(f"字{i}", 0.05 - i * 0.001) for i in range(30)]
    fig = validated(plots.alternatives_chart(alts, "字17", 0, chosen_prob=0.033))
    bar = fig.data[0]
    assert len(bar.y) == 11 and bar.y[0] == "#18 字17" and bar.x[0] == 0.033      # the 11th bar, at the bottom
    assert "rank / 排名 18" in fig.layout.title.text and "p = 0.033" in fig.layout.title.text
    assert fig.layout.xaxis.range[1] < 0.1                                       # autoscaled to ~0.05
    outside = validated(plots.alternatives_chart(alts[:10], "远", 1, chosen_prob=0.002))
    assert outside.data[0].y[0] == "#>10 远" and "> 10" in outside.layout.title.text


def test_spread_labels_keeps_close_baselines_apart():
    ys = [math.log10(267), math.log10(280), math.log10(410)]
    shifts = plots.spread_labels(ys, 2.0, 3.5, 300, gap_px=20)
    px = [(y - 2.0) * 200 + d for y, d in zip(ys, shifts)]
    assert shifts[0] == 0 and px[1] - px[0] >= 20 - 1e-9 and px[2] - px[1] >= 20 - 1e-9
    assert plots.spread_labels([2.0, 3.0], 2.0, 3.0, 300) == [0.0, 0.0]          # far apart: untouched


def _font_sizes(obj, path=""):
    """Every font size set anywhere in a figure's JSON, with where it is."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("font") and isinstance(v, dict) and "size" in v:
                yield path + "." + k, v["size"]
            yield from _font_sizes(v, path + "." + k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _font_sizes(v, f"{path}[{i}]")


def test_no_chart_text_below_14px():
    """Readable from the back of a room: every font a figure sets (ticks, legend, annotations, cells)."""
    run = plots.RunCurves("#1", eval_steps=[10, 20], eval_seconds=[1, 2], train_ppl=[500, 300], val_ppl=[520, 400])
    T = len(TOKS)
    figs = [plots.training_chart([run], {"unigram": 410.0, "bigram": 267.0, "trigram": 280.0}),
            plots.grad_norm_chart([1, 2], [0.5, 2.0], 1.0),
            plots.alternatives_chart([("爱", 0.5)], "爱", 0, 1.0), plots.entropy_chart(["爱"], [1.0], [0.5]),
            plots.units_heatmap(np.zeros((T, 40), np.float32), TOKS, max_units=24),
            plots.prediction_strip(TOKS, [["分"] * 5] * T, np.full((T, 5), 0.2), [1.0] * T, [-1.0] * T),
            plots.saliency_chart(TOKS, [0.5] * T, 2, "开"),
            plots.saturation_chart({"z": np.zeros((1, 4, 2))}, {"z": "update"}),
            plots.top_tokens_chart([("爱", 3)]), plots.coverage_chart([(1, 0.5), (2, 1.0)], {0.5: 1})]
    for fig in figs:
        d = fig.to_dict()
        assert d["layout"]["font"]["size"] >= 14
        small = [(where, size) for where, size in _font_sizes(d) if size < 14]
        assert not small, (d["layout"].get("title"), small)
    train = figs[0].to_dict()
    dashes = {t["name"]: t["line"].get("dash") for t in train["data"]}
    assert dashes["#1 · train ┈ / 训练"] == "dot" and dashes["#1 · validation ━ / 验证"] is None   # not by colour
    labels = sorted(((a["y"] - train["layout"]["yaxis"]["range"][0]) * 1000, a["yshift"])
                    for a in train["layout"]["annotations"])
    assert any(shift > 0 for _, shift in labels)                          # 267 and 280 pushed apart
    assert figs[4].to_dict()["layout"]["yaxis"]["showticklabels"] is True    # 24 units: ids drawn
    ent = validated(plots.entropy_chart(["爱", "你"], [3.0, 1.5], [0.2, 0.7], selected=1))
    assert len(ent.data) == 2 and ent.layout.shapes[0].x0 == 1.5


def test_unit_trace_chart():
    line = validated(plots.unit_trace_chart([0.1, -0.2], ["a", "b"], 3))
    assert "Unit 3" in line.layout.title.text


# ----------------------------------------------------------------------------- the visualizer (tab 4)
TOKS = ["分", "开", "\n", "不", "分", "开"]


def test_units_heatmap_orders_marks_and_names_positions():
    v = np.arange(6 * 4, dtype=np.float32).reshape(6, 4) / 24 - 0.5            # (T=6, W=4)
    raw = plots.units_heatmap(v, TOKS, order=[3, 0, 1, 2], max_units=3, selected=[0, 4], unit=0)
    fig = validated(raw)
    z = np.asarray(raw.data[0].z)
    assert z.shape == (3, 6) and np.allclose(z[0], v[:, 3])                   # first of the order on top, 3 shown
    assert list(fig.data[0].x) == ["0:分", "1:开", "2:↵", "3:不", "4:分", "5:开"]   # unique categories per position
    assert list(fig.layout.xaxis.ticktext) == ["分", "开", "↵", "不", "分", "开"]
    assert len(fig.layout.shapes) == 3 and "top 3 of 4 units" in fig.layout.title.text
    gates = validated(plots.units_heatmap(np.full((6, 2), 0.5), TOKS, diverging=False))
    assert gates.data[0].zmin == 0 and gates.data[0].zmax == 1
    long = validated(plots.units_heatmap(np.zeros((300, 2)), ["a"] * 300))
    assert tuple(long.layout.xaxis.range) == (-0.5, plots.VIEW_TOKENS - 0.5)  # opens on the first tokens


def test_probe_figures_are_valid_plotly():
    rng = np.random.default_rng(0)
    sat = {"z": rng.random((2, 5, 2)).astype(np.float32) / 2, "r": np.zeros((2, 5, 2), np.float32)}
    fig = validated(plots.saturation_chart(sat, {"z": "update"}))
    assert len(fig.data) == 4 and fig.layout.xaxis2.domain[0] > fig.layout.xaxis.domain[1]   # 2 gates x 2 layers
    assert "no gates" in validated(plots.saturation_chart({})).layout.annotations[0].text
    top = [["开", "\n"], ["\n", "分"], ["不", "我"], ["分", "不"], ["开", "我"], ["\n", "开"]]
    strip = validated(plots.prediction_strip(TOKS, top, rng.random((6, 2)), [3.0] * 6, [-1.0] * 5 + [float("nan")]))
    hits = next(t for t in strip.data if t.type == "scatter" and t.mode == "markers")
    assert list(hits.x) == ["0:分", "1:开", "2:↵", "3:不", "4:分"]               # the text's next token was in the top 2
    sal = validated(plots.saliency_chart(TOKS, [0.2, 1.0, 0.5, 0.1, 0, 0], 3, "分"))
    assert sal.data[0].marker.color[3] != sal.data[0].marker.color[2] and "“分”" in sal.layout.title.text
    conn = validated(plots.connectivity_chart(np.tril(np.ones((6, 6))), TOKS, TOKS[1:] + ["我"]))
    assert conn.data[0].y[0] == "0:分 → 开"
    traj = validated(plots.trajectory_chart(rng.random((6, 2)), TOKS, [0.5, 0.2]))
    assert "PC1 (50%)" in traj.layout.xaxis.title.text and list(traj.data[1].text)[2] == "↵"
    grid = plots.text_grid_chart(TOKS, [0.1, -0.2, 0.3, 0.4, 0.5, -0.6], "unit 3", marks=[1])
    validated(grid)
    assert np.asarray(grid.data[0].z).shape == (2, 3) and grid.data[0].text[0][1] == "<b>开</b>"   # a row per line
    rows = [plots.CompareRow("GRU", TOKS, rng.random((6, 3)), [1.0] * 5 + [None]),
            plots.CompareRow("LSTM", TOKS, rng.random((6, 3)), [2.0] * 5 + [None])]
    cmp = validated(plots.compare_chart(rows))
    assert [t.type for t in cmp.data] == ["heatmap", "heatmap", "scatter", "scatter"]
    assert cmp.layout.xaxis2.matches == "x" and list(cmp.data[0].x)[:2] == [0.5, 1.5]
    words = plots.compare_chart([rows[0], plots.CompareRow("word LSTM", ["分开", "\n", "不", "分开"], rng.random((4, 2)),
                                                                [1.0, 1.0, 1.0, None])])
    assert list(validated(words).data[1].x) == [1.0, 2.5, 3.5, 5.0]           # lined up by characters


def test_figures_page_inlines_plotly_once():
    fig = plots.trajectory_chart(np.zeros((3, 2)), ["a", "b", "c"])
    page = plots.figures_page("t <x>", [("one", fig), ("html", "<p>hi</p>"), ("two", fig)])
    assert page.count("window.PlotlyConfig") == 1 and page.count("Plotly.newPlot") == 2
    assert "t &lt;x&gt;" in page and "<p>hi</p>" in page and 'src="http' not in page


def test_figures_carry_the_template_itself_not_its_name():
    """plotly.js resolves no template names: with _validate=False a name would reach the browser as a bare
    string and be ignored (grey background); the JSON must hold the template object."""
    sent = json.loads(plots.top_tokens_chart([("分", 3), ("开", 2)]).to_json())
    assert isinstance(sent["layout"]["template"], dict)
    assert sent["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
