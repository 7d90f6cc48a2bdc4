"""Tab 4 — Look inside / 隐状态可视化: what a recurrent network does with a text.

    text --probe.probe (the model's scratch twin: one forward, one backward pass)-->
         units over time (sortable) · the text coloured by one unit · units that fire at a selection
         · gate saturation · the prediction strip · connectivity (saliency) · the 2-D trajectory
    the same text --every available cell kind--> RNN, GRU and LSTM stacked on one chart

Endpoints: ``/probe`` (everything shown by default), ``/probe_unit`` (one unit's views),
``/probe_units`` (the heatmap re-sorted and the units ranked at a selection),
``/probe_saliency`` (one position's connectivity), ``/probe_connectivity`` (the full matrix,
short texts), ``/probe_compare`` (RNN · GRU · LSTM), ``/probe_export`` (JSON or a standalone
HTML page, as ``python -m lyricdemo probe`` writes).  Every handler reads the text again: the
probe of a page-sized text takes a fraction of a second, and nothing goes stale between views.
Its HTML views (the text shaded by a unit, by saliency, by what the song memory drew on; the
units ranked at a selection) are in ``inside_views.py``.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr
import numpy as np

from .. import plots
from ..errors import LyricdemoError
from ..memory import card_memory_config
from ..memory import trace as memory_trace
from ..activations import SATURATION, SELECT_BY, UNIT_ORDERS, select_positions, unit_order, unit_scores
from ..probe import MAX_CONNECTIVITY_TOKENS, Probe, Saliency, connectivity
from ..probe_page import GATE_NAMES, probe_html, probe_notes
from ..reading import read_text
from ..probe import probe as run_probe
from ..probe import saliency as run_saliency
from . import limits, links, registry, resources
from .inside_views import RANKED, memory_html, ranking_html, saliency_html, unit_html
from .labels import T, kw
from .session import Session
from .validate import choice, flag, user_errors, whole
from .validate import text as check_text
from .widgets import esc, mark_stale, scroll_on_phone

UI_MAX_TOKENS = 1000          # longer texts are read up to here (and the page says so)
MAX_TEXT_CHARS = 20_000
HEATMAP_UNITS = 15            # units drawn in the heatmap, every id (the first of the chosen order): 21-px rows fit the first screen
KINDS = ("rnn", "gru", "lstm")
MAX_LAYERS, MAX_UNITS = 8, 2 * 4096      # what a ModelConfig allows: layers, units of a bidirectional layer
DEFAULT_TEXT = "分开\n不分开\n我想你在远方\n月光洒在小河上\n风吹过我的窗\n我想你在远方"
SORT_CHOICES = [("variance / 方差", "variance"), ("mean / 均值", "mean"), ("selection / 选中位置", "selection")]
SORT_ZH = {"variance": "方差", "mean": "均值", "selection": "选中位置"}
SELECT_CHOICES = [("character or word / 字或词", "token"), ("line starts / 行首", "line starts"),
                  ("line ends / 行尾", "line ends"), ("positions / 位置", "positions")]
EXPORT_FORMATS = ("html", "json")


# ----------------------------------------------------------------------------- reading
def _read(session: Session, model, text, **opts) -> tuple[registry.ModelEntry, Probe]:
    txt = check_text("probe_text", text, MAX_TEXT_CHARS, allow_empty=False)
    entry = registry.get(session, model)
    ck = entry.checkpoint
    p = run_probe(ck.model, ck.vocab, ck.tokenizer, txt, max_tokens=UI_MAX_TOKENS, truncate=True, **opts)
    return entry, p


def _layer(p: Probe, layer) -> int:
    return whole("layer", layer, 1, p.num_layers) - 1


def _unit(p: Probe, unit) -> int:
    return whole("unit", unit, 0, p.width - 1)


def _selection(p: Probe, select_by, select_value) -> np.ndarray:
    by = choice("select_by", select_by, SELECT_BY)
    value = check_text("select_value", select_value, 2_000)
    return select_positions(p.tokens, by, value)


def _summary(entry: registry.ModelEntry, p: Probe, k: int, seconds: float) -> str:
    bits = p.surprisal_bits()
    ppl = f" Mean surprisal / 平均意外度 **{bits:.2f} bits/token** (perplexity {2 ** bits:.1f})." if bits else ""
    kind = p.kind.upper()
    gates = (", ".join(f"{g} ({GATE_NAMES[g].split(' / ')[0]})" for g in p.gates) or "no gates / 无门")
    head = (f"**{esc(entry.label)}** reads {len(p.tokens)} tokens: {kind}, {p.num_layers} layer(s) of {p.width} "
            f"units; showing layer {k + 1}. Gates: {gates}.{ppl} ({seconds * 1000:.0f} ms)")
    return head + "".join(f"\n\n{esc(n)}" for n in probe_notes(p))


def _unit_views(p: Probe, k: int, u: int, marks=()):
    return unit_html(p, k, u, marks), plots.unit_trace_chart(p.values(k, "h")[:, u].tolist(), p.tokens, u)


def _units_views(p: Probe, k: int, sort_by: str, sel: np.ndarray, how: str, all_units: bool = False):
    """(heatmap, ranking html, ranking data) for layer k sorted ``sort_by``: the top HEATMAP_UNITS units,
    or with ``all_units`` every unit of the layer; each row tall enough for its id."""
    h = p.values(k, "h")
    scores = unit_scores(h, sel) if 0 < sel.size < len(p.tokens) else None
    if sort_by == "selection" and scores is None:
        sort_by = "variance"
    order = unit_order(h, sort_by, sel if sort_by == "selection" else None)
    title = f"Units over time (h, layer {k + 1}, by {sort_by}) / 第 {k + 1} 层单元（按{SORT_ZH[sort_by]}排序）"
    heat = plots.units_heatmap(h, p.tokens, order, title=title, max_units=p.width if all_units else HEATMAP_UNITS,
                               selected=sel.tolist(), readable=True)
    if scores is None:
        html = ("<div class='ld-note'>Select some positions, but not all, to rank the units. / "
                "请选择部分位置来给单元排名。</div>")
        data = {"positions": sel.tolist(), "order": order.tolist(), "scores": None}
    else:
        html = ranking_html(p, scores, sel, how)
        data = {"positions": sel.tolist(), "order": order.tolist(), "scores": [round(float(s), 4) for s in scores],
                "top_up": np.argsort(-scores, kind="stable")[:RANKED].tolist(),
                "top_down": np.argsort(scores, kind="stable")[:RANKED].tolist()}
    return heat, html, data, scores


def _position_slider(T: int, value: int):
    return gr.update(maximum=max(T - 1, 1), value=value, interactive=T > 1)


def _layer_slider(num_layers: int, value: int = 1):
    # a slider needs minimum < maximum: a one-layer model gets a locked 1..2 slider, hidden
    return gr.update(maximum=max(num_layers, 2), value=value, interactive=num_layers > 1, visible=num_layers > 1)


def _unit_slider(width: int, value: int = 0):
    return gr.update(maximum=max(width - 1, 1), value=value)


# ----------------------------------------------------------------------------- handlers
@user_errors
def probe(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1, unit: float = 0,
          sort_by: str = "variance", select_by: str = "line starts", select_value: str = "",
          all_units: bool = False):
    """Everything tab 4 shows by default: (summary, heatmap, text coloured by the unit, the unit's
    trace, data JSON, layer slider, unit slider, ranking of units at the selection, gate saturation,
    prediction strip, saliency text, saliency chart, position slider, trajectory).  The heatmap shows
    the top units, or every unit with ``all_units``."""
    t0 = time.perf_counter()
    sort_by = choice("sort_units", sort_by, UNIT_ORDERS)
    all_units = flag("all_units", all_units)
    entry, p = _read(session, model, text)
    k, u = _layer(p, layer), _unit(p, unit)
    sel = _selection(p, select_by, select_value)
    heat, ranking, rank_data, _ = _units_views(p, k, sort_by, sel, select_by, all_units)
    colored, trace = _unit_views(p, k, u, sel)
    s = p.saliency
    sat = plots.saturation_chart(p.saturation(), GATE_NAMES, *SATURATION)
    strip = plots.prediction_strip(p.tokens, p.top_tokens, p.top_probs, p.entropy_bits, p.next_logprob_bits.tolist())
    sal_fig = plots.saliency_chart(p.tokens, s.shares, s.position, s.target, s.in_text, s.reads_future)
    traj = plots.trajectory_chart(p.projection[k], p.tokens, p.explained[k],
                                  title=f"State trajectory (PCA), layer {k + 1} / 第 {k + 1} 层状态轨迹（主成分）")
    seconds = time.perf_counter() - t0
    data = {"model": entry.key, **p.to_dict(arrays=False, layers=[k]), "notes": probe_notes(p), "layer": k + 1, "unit": u,
            "shape": [len(p.tokens), p.width], "activations": [round(float(x), 4) for x in p.values(k)[:, u]],
            "units": rank_data, "seconds": round(seconds, 3)}
    return (_summary(entry, p, k, seconds), heat, colored, trace, data,
            _layer_slider(p.num_layers, k + 1), _unit_slider(p.width, u), ranking, sat, strip,
            saliency_html(p.tokens, s), sal_fig, _position_slider(len(p.tokens), s.position), traj)


@user_errors
def unit_view(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1, unit: float = 0,
              select_by: str = "line starts", select_value: str = ""):
    """One unit: (text coloured by it, its trace, its activations as data)."""
    _, p = _read(session, model, text, saliency_at=None, project=False)
    k, u = _layer(p, layer), _unit(p, unit)
    try:
        sel = _selection(p, select_by, select_value)
    except LyricdemoError:               # the unit's view does not depend on a selection typed half-way
        sel = np.zeros(0, dtype=np.int64)
    colored, trace = _unit_views(p, k, u, sel)
    return colored, trace, {"layer": k + 1, "unit": u, "tokens": p.tokens,
                            "activations": [round(float(x), 4) for x in p.values(k)[:, u]]}


@user_errors
def units_view(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1,
               sort_by: str = "variance", select_by: str = "line starts", select_value: str = "",
               all_units: bool = False):
    """The heatmap sorted ``sort_by`` and the units ranked at the selection: (heatmap, ranking, data);
    every unit with ``all_units``."""
    sort_by = choice("sort_units", sort_by, UNIT_ORDERS)
    all_units = flag("all_units", all_units)
    _, p = _read(session, model, text, saliency_at=None, project=False)
    k = _layer(p, layer)
    heat, html, data, _ = _units_views(p, k, sort_by, _selection(p, select_by, select_value), select_by,
                                       all_units)
    return heat, html, data


@user_errors
def find_units(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1,
               select_by: str = "line starts", select_value: str = "", all_units: bool = False):
    """"Find units that fire here": sort by the selection and move the unit slider to the top unit."""
    all_units = flag("all_units", all_units)
    _, p = _read(session, model, text, saliency_at=None, project=False)
    k = _layer(p, layer)
    sel = _selection(p, select_by, select_value)
    heat, html, data, scores = _units_views(p, k, "selection", sel, select_by, all_units)
    if scores is None:
        return heat, html, data, gr.skip(), gr.skip()
    top = int(np.argmax(scores))
    return heat, html, data, gr.update(value="selection"), gr.update(value=top)


@user_errors
def saliency_view(session: Session, model: str = "", text: str = DEFAULT_TEXT, position: float = 0):
    """Connectivity of one position: (shaded text, bar chart, data)."""
    txt = check_text("probe_text", text, MAX_TEXT_CHARS, allow_empty=False)
    ck = registry.get(session, model).checkpoint
    pos = whole("position", position, 0, UI_MAX_TOKENS - 1)
    tokens = list(read_text(ck.vocab, ck.tokenizer, txt, UI_MAX_TOKENS, truncate=True).tokens)
    if pos >= len(tokens):
        raise gr.Error(f"Position must be from 0 to {len(tokens) - 1} (the text has {len(tokens)} tokens); "
                       f"got {pos}. / 位置超出范围。", print_exception=False)
    s = run_saliency(ck.model, ck.vocab, ck.tokenizer, txt, pos, max_tokens=UI_MAX_TOKENS, truncate=True)
    return (saliency_html(tokens, s),
            plots.saliency_chart(tokens, s.shares, s.position, s.target, s.in_text, s.reads_future), s.to_dict())


@user_errors
def memory_view(session: Session, model: str = "", text: str = DEFAULT_TEXT, position: float = 0):
    """Song memory at one position: which earlier positions it drew on (HTML, data)."""
    txt = check_text("probe_text", text, MAX_TEXT_CHARS, allow_empty=False)
    ck = registry.get(session, model).checkpoint
    pos = whole("position", position, 0, UI_MAX_TOKENS - 1)
    rt = read_text(ck.vocab, ck.tokenizer, txt, UI_MAX_TOKENS, truncate=True)
    if pos >= len(rt.tokens):
        raise gr.Error(f"Position must be from 0 to {len(rt.tokens) - 1} (the text has {len(rt.tokens)} tokens); "
                       f"got {pos}. / 位置超出范围。", print_exception=False)
    try:
        config = card_memory_config(ck.meta, ck.name)
    except LyricdemoError:
        raise LyricdemoError("Song memory needs settings measured on the model card; the shipped models have "
                             "them. / 歌曲记忆需要模型卡上测得的设置：内置模型都有。") from None
    tr = memory_trace(ck.model, rt.ids, rt.tokens, pos, config)
    return memory_html(tr), tr.to_dict()


@user_errors
def connectivity_view(session: Session, model: str = "", text: str = DEFAULT_TEXT):
    """The full connectivity matrix (texts up to MAX_CONNECTIVITY_TOKENS tokens)."""
    txt = check_text("probe_text", text, MAX_TEXT_CHARS, allow_empty=False)
    ck = registry.get(session, model).checkpoint
    c = connectivity(ck.model, ck.vocab, ck.tokenizer, txt, max_tokens=MAX_CONNECTIVITY_TOKENS)
    return plots.connectivity_chart(c.shares, c.tokens, c.targets)


def _compare_models(session: Session) -> list[registry.ModelEntry]:
    """One model per cell kind: the first shipped checkpoint of that kind, else this session's newest."""
    found: dict[str, str] = {}
    for m in resources.shipped_models():
        kind = (m.meta.get("model") or {}).get("kind")
        if kind in KINDS and kind not in found:
            found[kind] = m.key
    for m in reversed(list(session.models.values())):
        kind = m.checkpoint.model.config.kind
        if kind not in found:
            found[kind] = m.key
    return [registry.get(session, found[k]) for k in KINDS if k in found]


@user_errors
def compare(session: Session, text: str = DEFAULT_TEXT):
    """RNN, GRU and LSTM (whichever are available) on the same text: (note, chart, data)."""
    txt = check_text("probe_text", text, MAX_TEXT_CHARS, allow_empty=False)
    entries = _compare_models(session)
    if not entries:
        raise gr.Error(T["no_model"], print_exception=False)
    rows, table, data = [], [], []
    for e in entries:
        ck = e.checkpoint
        p = run_probe(ck.model, ck.vocab, ck.tokenizer, txt, max_tokens=UI_MAX_TOKENS, truncate=True,
                      saliency_at=None, project=False, top_k=1)
        h = p.values(p.num_layers - 1, "h")
        order = unit_order(h, "variance")[:24]
        surprisal = [None if not np.isfinite(x) else -float(x) for x in p.next_logprob_bits]
        rows.append(plots.CompareRow(label=e.label, tokens=p.tokens, values=h[:, order],
                                     surprisal=surprisal, unit_ids=order.tolist()))
        sat = p.saturation()
        share = (float(np.mean([s.mean(axis=(0, 1)).sum() for s in sat.values()])) if sat else None)
        bits = p.surprisal_bits()
        table.append(f"| {p.kind.upper()} | {esc(e.label)} | {bits:.2f} |" if bits is not None else
                     f"| {p.kind.upper()} | {esc(e.label)} | – |")
        table[-1] += f" {float(p.entropy_bits.mean()):.2f} | " + (f"{share:.0%} |" if share is not None else "– |")
        data.append({"model": e.key, "kind": p.kind, "tokens": len(p.tokens), "surprisal_bits": bits,
                     "mean_entropy_bits": round(float(p.entropy_bits.mean()), 4), "saturated_share": share})
    kinds = [p_["kind"] for p_ in data]
    missing = [k.upper() for k in KINDS if k not in kinds]
    note = ("| cell | model | surprisal, bits/token | entropy, bits | gates saturated |\n|---|---|---|---|---|\n"
            + "\n".join(table))
    if missing:
        note += (f"\n\nOnly {', '.join(k.upper() for k in kinds)} available: no {' or '.join(missing)} checkpoint is "
                 f"installed or trained in this session. / 只有 {len(kinds)} 种模型可比较。")
    note += ("\n\nSurprisal −log₂ p(next token): lower means the model expected the text. Saturated = the share of "
             "sigmoid-gate values below 0.1 or above 0.9. / 意外度越低，模型越能预料到这段文字。")
    return note, plots.compare_chart(rows), data


@user_errors
def export(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1, unit: float = 0,
           select_by: str = "line starts", select_value: str = "", fmt: str = "html"):
    """The probe's data as a file: a standalone HTML page of the plots, or the full JSON (every layer's
    states and gates), as ``python -m lyricdemo probe`` writes them."""
    import json

    fmt = choice("export_format", fmt, EXPORT_FORMATS)
    entry, p = _read(session, model, text)
    k, u = _layer(p, layer), _unit(p, unit)
    by = choice("select_by", select_by, SELECT_BY)
    value = check_text("select_value", select_value, 2_000)
    folder = session.workdir() / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lyricdemo-probe-{p.kind}-{int(time.time() * 1000) % 10**9}.{fmt}"
    if fmt == "html":
        path.write_text(probe_html(p, layer=k, unit=u, select_by=by, select_value=value,
                                   title=f"lyricdemo · {entry.label}"), encoding="utf-8")
    else:
        d = p.to_dict()
        d["notes"] = probe_notes(p)
        d["model"].update(key=entry.key, label=entry.label)
        path.write_text(json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")), encoding="utf-8")
    return str(path)


def dims(session: Session, model: str | None):
    """Slider ranges for the chosen model (layers, units)."""
    try:
        c = registry.get(session, model).checkpoint.model.config
    except Exception:
        return gr.skip(), gr.skip()
    return _layer_slider(c.num_layers), _unit_slider(c.hidden_size * c.num_directions)


# ----------------------------------------------------------------------------- layout
def _section(key: str):
    title, help_line = T[key].split("\n", 1) if "\n" in T[key] else (T[key], "")
    return gr.Markdown(f"### {title}\n<span class='ld-note' style='color:#555'>{help_line}</span>")


def first_view(session: Session, *args):
    """On arrival: the default model reads the default text (nothing when no model is installed)."""
    if not registry.choices(session):
        return (gr.skip(),) * 14
    return probe(session, *args)


def stale_views():
    """What a new text or model makes stale and is not recomputed at once: the full connectivity matrix,
    the RNN·GRU·LSTM comparison and the exported file are cleared (never shown for the old text)."""
    return None, "", None, None


# long: the layout is written top to bottom as the page shows it, then the wiring of its events; cut
# into pieces it would no longer read as the page.
def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    """Model, text and "Look inside" on the left, the units-over-time heatmap on the right: drawn on
    arrival (the shipped char GRU on the default text) and redrawn when the text or the model changes."""
    with gr.Row(elem_id="probe-row"):
        with gr.Column(scale=2, min_width=320, elem_id="probe-controls"):
            model, refresh = registry.picker("probe")
            txt = gr.Textbox(value=DEFAULT_TEXT, lines=4, max_lines=12, elem_id="probe-text", **kw("probe_text"))
            go = gr.Button(T["probe"], variant="primary", elem_id="probe-go")
            with gr.Row(equal_height=True):
                link_btn = gr.Button("Copy link / 复制链接", size="sm", scale=1, elem_id="probe-link-btn")
                link = gr.Textbox(show_label=False, scale=3, max_lines=1, interactive=False, buttons=["copy"],
                                  placeholder="the link to this text / 这段文本的链接", elem_id="probe-link")
            with gr.Row():
                # wide ranges here (Gradio checks API calls against them); the page narrows them to the model
                layer = gr.Slider(1, MAX_LAYERS, value=1, step=1, elem_id="probe-layer", **kw("layer"))
                unit = gr.Slider(0, MAX_UNITS - 1, value=0, step=1, elem_id="probe-unit", **kw("unit"))
            sort_by = gr.Radio(SORT_CHOICES, value="variance", elem_id="probe-sort", **kw("sort_units"))
            all_units = gr.Checkbox(value=False, elem_id="probe-all-units", **kw("all_units"))
            summary = gr.Markdown(label="Summary / 概要", show_label=False, elem_id="probe-summary",
                                  elem_classes=["ld-note"])
        with gr.Column(scale=3, min_width=300, elem_id="probe-main"):
            heat = gr.Plot(label="Units over time / 单元随时间变化", show_label=False, elem_id="probe-heatmap")
            _section("sec_units")
    with gr.Row():
        with gr.Column(scale=3, min_width=320):
            colored = gr.HTML(label="Text coloured by the unit / 按单元激活着色的文本", elem_id="probe-colored")
        with gr.Column(scale=2, min_width=320):
            trace = gr.Plot(label="Unit activation / 单元激活", show_label=False, elem_id="probe-trace")

    _section("sec_find")
    with gr.Row():
        select_by = gr.Radio(SELECT_CHOICES, value="line starts", scale=3, elem_id="probe-select-by",
                             **kw("select_by"))
        select_value = gr.Textbox(value="", scale=2, elem_id="probe-select", **kw("select_value"))
        find = gr.Button(T["find_units"], scale=1, elem_id="probe-find")
    ranking = gr.HTML(elem_id="probe-ranking")

    _section("sec_predictions")
    strip = gr.Plot(label="Predictions / 预测", show_label=False, elem_id="probe-strip")

    _section("sec_connectivity")
    position = gr.Slider(0, UI_MAX_TOKENS - 1, value=0, step=1, elem_id="probe-position", **kw("position"))
    sal_html = gr.HTML(elem_id="probe-saliency")
    sal_fig = gr.Plot(label="Saliency / 显著性", show_label=False, elem_id="probe-saliency-chart")
    with gr.Accordion(T["full_matrix"], open=False):
        conn_go = gr.Button(T["full_matrix_btn"], elem_id="probe-conn-go")
        conn = gr.Plot(label="Connectivity matrix / 连接性矩阵", show_label=False, elem_id="probe-connectivity")
    with gr.Accordion(T["memory_section"], open=False):
        mem_go = gr.Button(T["memory_btn"], elem_id="probe-memory-go")
        mem_html = gr.HTML(elem_id="probe-memory")
        mem_data = gr.JSON(visible=False)

    with gr.Row():
        with gr.Column():
            _section("sec_saturation")
            sat = gr.Plot(label="Gate saturation / 门饱和度", show_label=False, elem_id="probe-saturation")
        with gr.Column():
            _section("sec_trajectory")
            traj = gr.Plot(label="Trajectory / 轨迹", show_label=False, elem_id="probe-trajectory")

    _section("sec_compare")
    cmp_go = gr.Button(T["compare_btn"], elem_id="probe-compare-go")
    cmp_note = gr.Markdown(elem_id="probe-compare-note")
    cmp_fig = gr.Plot(label="RNN · GRU · LSTM", show_label=False, elem_id="probe-compare")

    with gr.Accordion(T["export_section"], open=False):
        with gr.Row():
            fmt = gr.Radio([("HTML page / 网页", "html"), ("JSON data / 数据", "json")], value="html",
                           elem_id="probe-export-format", **kw("export_format"))
            export_go = gr.Button(T["export_btn"], elem_id="probe-export-go")
        export_file = gr.File(label="File / 文件", elem_id="probe-export-file")
        data = gr.JSON(label="Data / 数据", elem_id="probe-json")
        unit_data = gr.JSON(visible=False)
        units_data = gr.JSON(visible=False)
        sal_data = gr.JSON(visible=False)
        cmp_data = gr.JSON(visible=False)

    # the slots are shared with /generate; preprocess=False: the handlers check every raw value
    # themselves (validate.py), so "abc" sent to a slider names the slider instead of a blank "Error"
    infer = dict(concurrency_limit=limits.max_generating(), concurrency_id="infer", preprocess=False)
    quiet = dict(infer, trigger_mode="always_last", show_progress="hidden")
    ins = [session, model, txt, layer, unit, sort_by, select_by, select_value, all_units]
    outs = [summary, heat, colored, trace, data, layer, unit, ranking, sat, strip, sal_html, sal_fig, position, traj]
    mark_stale(go.click(probe, ins, outs, api_name="probe", **infer), "probe-main", "probe-colored")
    scroll_on_phone(go, "probe-summary")
    layer.input(probe, ins, outs, api_visibility="private", **quiet)
    unit.input(unit_view, [session, model, txt, layer, unit, select_by, select_value], [colored, trace, unit_data],
               api_name="probe_unit", **quiet)
    units_ins = [session, model, txt, layer, sort_by, select_by, select_value, all_units]
    sort_by.input(units_view, units_ins, [heat, ranking, units_data], api_name="probe_units", **quiet)
    all_units.input(units_view, units_ins, [heat, ranking, units_data], api_visibility="private", **quiet)
    find.click(find_units, [session, model, txt, layer, select_by, select_value, all_units],
               [heat, ranking, units_data, sort_by, unit], api_visibility="private", **infer).success(
        unit_view, [session, model, txt, layer, unit, select_by, select_value], [colored, trace, unit_data],
        api_visibility="private", **infer)
    position.input(saliency_view, [session, model, txt, position], [sal_html, sal_fig, sal_data],
                   api_name="probe_saliency", **quiet)
    conn_go.click(connectivity_view, [session, model, txt], conn, api_name="probe_connectivity", **infer)
    mem_go.click(memory_view, [session, model, txt, position], [mem_html, mem_data], api_name="probe_memory", **infer)
    cmp_go.click(compare, [session, txt], [cmp_note, cmp_fig, cmp_data], api_name="probe_compare", **infer)
    export_go.click(export, [session, model, txt, layer, unit, select_by, select_value, fmt], export_file,
                    api_name="probe_export", **infer)
    model.change(dims, [session, model], [layer, unit], api_visibility="private", queue=False)
    demo.load(dims, [session, model], [layer, unit], api_visibility="private", queue=False)
    # never a stale view: a new text or model redraws what probe() draws and clears the rest
    stale = [conn, cmp_note, cmp_fig, export_file]
    txt.change(stale_views, None, stale, api_visibility="private", queue=False)
    for source in (txt, model):                       # what the song memory drew on: for the old text, cleared
        source.change(lambda: "", None, mem_html, api_visibility="private", queue=False)
    model.change(lambda: stale_views()[:1] + (gr.skip(), gr.skip(), None), None, stale, api_visibility="private",
                 queue=False)                         # the comparison does not depend on the picked model
    # a new text is read as it comes (.change: Gradio 6.31 sent no .input event for this box, typed or pasted)
    mark_stale(txt.change(probe, ins, outs, api_visibility="private", **quiet), "probe-main", "probe-colored")
    # .change, not .input: a model put in the picker by another tab (a run that ends in tab 2) is read too
    mark_stale(model.change(probe, ins, outs, api_visibility="private", **quiet), "probe-main", "probe-colored")
    first = (first_view, ins, outs, dict(infer, show_progress="hidden"))      # run on load by links.wire
    links.copy_link(link_btn, link, "inside", model, {"text": txt})
    return SimpleNamespace(
        first=first, model=model, refresh=refresh, text=txt, layer=layer, unit=unit, go=go, summary=summary,
        heat=heat, colored=colored, trace=trace, data=data, position=position)
