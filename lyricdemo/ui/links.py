"""Lesson links: the URL sets what the page opens on, and "copy link / 复制链接" gives the link to
what is on screen, so a teacher prepares a lesson as a list of links::

    /?tab=generate&model=char-gru&prefix=分开&strategy=sample&temperature=0.8&top_p=0.9&seed=7
    /?tab=train&preset=d2l
    /?tab=inside&model=char-lstm&text=天空很蓝

``from_query`` turns the query into plain values (a wrong one is dropped with a bilingual note, never
an error: a link must always open the app); ``wire`` applies them on page load *before* tabs 3 and 4
draw their first result, so that result is the linked one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import SimpleNamespace

import gradio as gr

from ..generate import STRATEGIES
from ..reading import MAX_PREFIX_CHARS
from ..presets import PRESETS
from . import registry, tab_train
from .labels import T
from .session import Session

TABS = ("vocab", "train", "generate", "inside")
NUMBERS = {"temperature": (0.0, 3.0), "top_p": (0.05, 1.0), "top_k": (0, 100), "seed": (0, 2**31 - 1)}
MAX_TEXT = 2_000


def _number(name: str, raw: str):
    lo, hi = NUMBERS[name]
    x = float(raw)
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(f"{name} must be from {lo:g} to {hi:g}")
    return int(x) if isinstance(lo, int) and name != "top_p" else x


def from_query(query: Mapping[str, str], session: Session | None = None) -> tuple[dict, list[str]]:
    """(values to apply, notes on the parameters that were dropped) from a page's query parameters."""
    out, notes = {}, []

    def drop(name: str, why: str) -> None:
        notes.append(f"Link parameter “{name}” ignored: {why}. / 链接参数 “{name}” 已忽略。")

    for name, raw in query.items():
        raw = str(raw)
        if name == "tab":
            out["tab"] = raw if raw in TABS else drop("tab", f"choose one of {', '.join(TABS)}")
        elif name == "preset":
            out["preset"] = raw if raw in PRESETS else drop("preset", f"choose one of {', '.join(PRESETS)}")
        elif name == "model":
            keys = [k for _, k in registry.choices(session)]
            key = raw if raw in keys else f"shipped:{raw}" if f"shipped:{raw}" in keys else None
            out["model"] = key if key else drop("model", f"no model “{raw[:40]}” here")
        elif name in ("prefix", "text"):
            limit = MAX_PREFIX_CHARS if name == "prefix" else MAX_TEXT
            out[name] = raw if len(raw) <= limit else drop(name, f"longer than {limit:,} characters")
        elif name == "strategy":
            out["strategy"] = raw if raw in STRATEGIES else drop("strategy", f"choose one of {', '.join(STRATEGIES)}")
        elif name in NUMBERS:
            try:
                out[name] = _number(name, raw)
            except ValueError as e:
                drop(name, str(e) if "must" in str(e) else "not a number")
    return {k: v for k, v in out.items() if v is not None}, notes


# The link to what is on screen, built in the page (no server round trip); the textbox keeps it for copying.
COPY_JS = """(tab, model, extra, names) => {
    const u = new URL(window.location.href.split('?')[0]);
    u.searchParams.set('tab', tab);
    if (model) u.searchParams.set('model', String(model).replace(/^shipped:/, ''));
    const keys = JSON.parse(names);
    keys.forEach((k, i) => { const v = extra[i]; if (v !== null && v !== undefined && v !== '') u.searchParams.set(k, v); });
    const link = u.toString();
    try { navigator.clipboard.writeText(link); } catch (e) {}
    return link;
}"""


def copy_link(button: gr.Button, box: gr.Textbox, tab: str, model, named: dict) -> None:
    """``button`` puts the link to ``tab`` with the values of ``named`` components into ``box`` (and the
    clipboard, where the browser allows it)."""
    names = list(named)
    js = ("(...v) => (" + COPY_JS + ")(" + json.dumps(tab) + ", v[0], v.slice(1), "
          + json.dumps(json.dumps(names)) + ")")
    button.click(None, [model, *named.values()], box, js=js, api_visibility="private", queue=False)


def wire(demo: gr.Blocks, session: gr.State, tabs: gr.Tabs, train: SimpleNamespace, gen: SimpleNamespace,
         inside: SimpleNamespace, then: list) -> None:
    """On page load: apply the link's values, then run ``then`` ((fn, inputs, outputs) of the first
    results of tabs 3 and 4) so they show what the link asked for."""
    knobs = [train.knobs[k] for k in tab_train.KNOBS]
    buttons = [train.presets[n] for n in tab_train.PRESET_ORDER]
    gen_fields = {"prefix": gen.prefix, "strategy": gen.strategy, "temperature": gen.temperature,
                  "top_p": gen.top_p, "top_k": gen.top_k, "seed": gen.seed}
    outputs = [tabs, *knobs, train.preset_note, *buttons, gen.model, inside.model, *gen_fields.values(), inside.text]

    def apply(session: Session, request: gr.Request):
        values, notes = from_query(dict(request.query_params) if request is not None else {}, session)
        for n in notes:
            gr.Warning(n)
        skip = gr.skip()
        tab = gr.update(selected=values["tab"]) if "tab" in values else skip
        if "preset" in values:
            preset = (*tab_train.apply_preset(values["preset"]), *tab_train.preset_buttons(values["preset"]))
        else:
            preset = (skip,) * (len(knobs) + 1 + len(buttons))
        model = values.get("model", skip)
        fields = [values.get(k, skip) for k in gen_fields]
        return (tab, *preset, model, model, *fields, values.get("text", skip))

    ev = demo.load(apply, session, outputs, api_visibility="private", queue=False)
    for fn, ins, outs, kw in then:
        ev.then(fn, ins, outs, api_visibility="private", **kw)


__all__ = ["from_query", "wire", "copy_link", "TABS", "T"]
