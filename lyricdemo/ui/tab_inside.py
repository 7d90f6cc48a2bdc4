"""Tab 4 — Look inside / 隐状态可视化 (first version).

    text --probe.hidden_states (the scratch twin of the model)--> h (T, D*H) per layer
         --> heatmap (units × tokens) and the text coloured by one unit

``/probe`` is the tab's endpoint.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import plots
from ..probe import hidden_states
from . import registry
from .labels import T, kw
from .session import Session
from .validate import text as check_text
from .validate import user_errors, whole
from .widgets import activation_html, esc

UI_MAX_TOKENS = 300
DEFAULT_TEXT = "分开\n不分开\n我想你在远方"


@user_errors
def probe(session: Session, model: str = "", text: str = DEFAULT_TEXT, layer: float = 1, unit: float = 0):
    """Hidden states of ``model`` reading ``text``: (summary, heatmap, coloured text, unit chart, data JSON,
    layer slider, unit slider)."""
    txt = check_text("probe_text", text, 20_000, allow_empty=False)
    entry = registry.get(session, model)
    ck = entry.checkpoint
    hs = hidden_states(ck.model, ck.vocab, ck.tokenizer, txt, max_tokens=UI_MAX_TOKENS)
    k = whole("layer", layer, 1, hs.num_layers)
    u = whole("unit", unit, 0, hs.width - 1)
    h = hs.layers[k - 1]                                           # (T, D*H)
    values = [float(x) for x in h[:, u]]
    busy = hs.most_active_units(k - 1, 8)
    notes = []
    if hs.truncated:
        notes.append(f"Only the first {UI_MAX_TOKENS} tokens are shown. / 只显示前 {UI_MAX_TOKENS} 个词元。")
    if hs.unknown:
        shown = ", ".join(esc(plots.show_token(x.token)) for x in hs.unknown[:10])
        notes.append(f"Unknown tokens read as &lt;unk&gt; / 未知词元: {shown}")
    if hs.num_directions == 2:
        notes.append(f"Bidirectional: units 0–{hs.width // 2 - 1} read forwards, {hs.width // 2}–{hs.width - 1} "
                     "backwards. / 双向模型：前一半单元正向读，后一半反向读。")
    summary = (f"**{esc(entry.label)}** reads {len(hs.tokens)} tokens; layer {k} of {hs.num_layers} has "
               f"{hs.width} units. Most active units on this text / 本文本上最活跃的单元: "
               f"{', '.join(map(str, busy))}." + "".join(f"\n\n{n}" for n in notes))
    title = f"Hidden state h_t, layer {k} ({hs.kind.upper()}) / 第 {k} 层隐状态"
    heat = plots.hidden_heatmap(h, hs.tokens, title=title)
    colored = activation_html(hs.tokens, values, u, k)
    trace = plots.unit_trace_chart(values, hs.tokens, u)
    data = {"model": entry.key, "tokens": hs.tokens, "layer": k, "unit": u, "num_layers": hs.num_layers,
            "shape": [len(hs.tokens), hs.width], "activations": [round(v, 5) for v in values],
            "most_active_units": busy, "truncated": hs.truncated,
            "unknown": [{"token": x.token, "start": x.start} for x in hs.unknown]}
    return (summary, heat, colored, trace, data, _layer_slider(hs.num_layers, k), _unit_slider(hs.width, u))


def _layer_slider(num_layers: int, value: int = 1):
    # a slider needs minimum < maximum: a one-layer model gets a locked 1..2 slider
    return gr.update(maximum=max(num_layers, 2), value=value, interactive=num_layers > 1)


def _unit_slider(width: int, value: int = 0):
    return gr.update(maximum=max(width - 1, 1), value=value)


def dims(session: Session, model: str | None):
    """Slider ranges for the chosen model (layers, units)."""
    try:
        c = registry.get(session, model).checkpoint.model.config
    except Exception:
        return gr.skip(), gr.skip()
    return _layer_slider(c.num_layers), _unit_slider(c.hidden_size * c.num_directions)


def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                model = gr.Dropdown(choices=registry.choices(None), value=registry.default_key(None), scale=4,
                                    allow_custom_value=True, elem_id="probe-model", **kw("model"))
                refresh = gr.Button("↻", scale=0, min_width=48, elem_id="probe-refresh")
            txt = gr.Textbox(value=DEFAULT_TEXT, lines=4, elem_id="probe-text", **kw("probe_text"))
            with gr.Row():
                layer = gr.Slider(1, 4, value=1, step=1, elem_id="probe-layer", **kw("layer"))
                unit = gr.Slider(0, 255, value=0, step=1, elem_id="probe-unit", **kw("unit"))
            go = gr.Button(T["probe"], variant="primary", elem_id="probe-go")
            summary = gr.Markdown(label="Summary / 概要", show_label=False, elem_id="probe-summary")
        with gr.Column(scale=3, min_width=420):
            colored = gr.HTML(label="Text coloured by the unit / 按单元激活着色的文本", elem_id="probe-colored")
            trace = gr.Plot(label="Unit activation / 单元激活", elem_id="probe-trace")
    heat = gr.Plot(label="Hidden state heatmap / 隐状态热力图", elem_id="probe-heatmap")
    with gr.Accordion("Data as JSON / 数据（JSON）", open=False):
        data = gr.JSON(label="Data / 数据", elem_id="probe-json")

    ins = [session, model, txt, layer, unit]
    outs = [summary, heat, colored, trace, data, layer, unit]
    go.click(probe, ins, outs, api_name="probe", concurrency_limit=2, concurrency_id="infer")
    for slider in (unit, layer):          # drags and typed numbers redraw; the last one wins
        slider.input(probe, ins, outs, api_visibility="private", concurrency_limit=2, concurrency_id="infer",
                     trigger_mode="always_last", show_progress="hidden")
    model.change(dims, [session, model], [layer, unit], api_visibility="private", queue=False)
    return SimpleNamespace(model=model, refresh=refresh, text=txt, layer=layer, unit=unit, go=go, summary=summary,
                           heat=heat, colored=colored, trace=trace, data=data)
