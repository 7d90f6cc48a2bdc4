"""The Gradio app: four tabs, each a view on one step of the flow (see DESIGN.md).

    build_app() -> gr.Blocks        (app.py queues and launches it)

    ui/__init__.py   the frame: header, tabs, cross-tab wiring, /models
    ui/tab_vocab.py  1 tokenize & vocabulary   /tokenize, /lookup
    ui/tab_train.py  2 train live              /train (streams), /stop
    ui/tab_generate.py 3 generate              /generate (streams), /step_view
    ui/tab_inside.py 4 look inside             /probe
    ui/session.py    per-user state (gr.State): uploads, runs, trained models
    ui/registry.py   the model picker: shipped checkpoints + session models
    ui/resources.py  shared read-only caches (corpus, datasets, stats, indexes, checkpoints) and env limits
    ui/labels.py     bilingual labels and one-line help
    ui/validate.py   server-side checks of every endpoint input
    ui/widgets.py    HTML views and CSS

This is the only package that imports gradio; it holds no tensor math.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # before any gr.Blocks is built

import threading  # noqa: E402

import gradio as gr  # noqa: E402

from . import registry, resources, tab_generate, tab_inside, tab_train, tab_vocab  # noqa: E402
from .labels import T  # noqa: E402
from .session import Session  # noqa: E402
from .validate import env_int  # noqa: E402
from .widgets import CSS  # noqa: E402

__all__ = ["build_app", "CSS", "queue_kwargs", "launch_kwargs", "warm_up"]


def _close_session(session) -> None:
    if isinstance(session, Session):
        session.close()


def header_markdown() -> str:
    corpus = ("✓ Corpus: the d2l Jay Chou lyrics are in data/. / 已找到周杰伦歌词语料。"
              if resources.corpus_available() else
              "⚠ No corpus in data/: tabs 1–2 offer upload (and the toy task); generation and the visualizer use "
              "the shipped models. / 未找到语料：可上传文本；生成与可视化使用预训练模型。")
    shipped = resources.shipped_models()
    models = (f"✓ {len(shipped)} shipped model(s): " + ", ".join(m.folder.name for m in shipped) + "."
              if shipped else "No shipped checkpoints installed: train a model in tab 2 to generate. / "
                              "尚无预训练模型：请在第 2 页训练。")
    return f"{T['subtitle']}\n\n{corpus} · {models}"


def list_models(session: Session):
    """The pickers' choices for this session, and the same list as JSON (for API users)."""
    choices = registry.choices(session)
    for m in list(session.models.values()):       # a stopped run's checkpoint is written lazily; do it now
        try:
            m.ensure_saved(session.workdir())
        except Exception:                          # noqa: BLE001 -- listing must never fail on a save
            pass
    pick = registry.default_key(session)
    data = [{"key": k, "label": label} for label, k in choices]
    return gr.update(choices=choices, value=pick), gr.update(choices=choices, value=pick), data


def refresh_picker(session: Session, current: str | None):
    return gr.update(choices=registry.choices(session), value=registry.default_key(session, current))


def build_app() -> gr.Blocks:
    """The whole app (not launched). Every tab's main action is a named endpoint."""
    with gr.Blocks(title="lyricdemo · 歌词 RNN 教学演示", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        session = gr.State(Session(), delete_callback=_close_session)   # deep-copied per session
        gr.Markdown(T["title"], elem_id="ld-title")
        gr.Markdown(header_markdown(), elem_id="ld-header", elem_classes=["ld-note"])
        with gr.Tabs(elem_id="ld-tabs"):
            with gr.Tab(T["tab_vocab"], id="vocab", elem_id="tab-vocab"):
                tab_vocab.build(demo, session)
            with gr.Tab(T["tab_train"], id="train", elem_id="tab-train"):
                train = tab_train.build(demo, session)
            with gr.Tab(T["tab_generate"], id="generate", elem_id="tab-generate") as gen_tab:
                gen = tab_generate.build(demo, session)
            with gr.Tab(T["tab_inside"], id="inside", elem_id="tab-inside") as inside_tab:
                inside = tab_inside.build(demo, session)

        tab_train.wire(train, session, [gen.model, inside.model])
        gen.refresh.click(list_models, session, [gen.model, inside.model, gen.models_json], api_name="models")
        inside.refresh.click(refresh_picker, [session, inside.model], inside.model, api_visibility="private")
        gen_tab.select(refresh_picker, [session, gen.model], gen.model, api_visibility="private", queue=False)
        inside_tab.select(refresh_picker, [session, inside.model], inside.model, api_visibility="private",
                          queue=False)
    return demo


def queue_kwargs() -> dict:
    """``demo.queue(**queue_kwargs())``: a bounded queue; each event sets its own concurrency."""
    return {"max_size": env_int("LYRICDEMO_QUEUE_SIZE", 64, 1, 10_000), "default_concurrency_limit": 4}


def launch_kwargs() -> dict:
    """What ``launch()`` needs besides the address: upload cap, CSS, no run history, the API link."""
    return {"max_file_size": resources.max_upload_bytes(), "css": CSS, "footer_links": ["api"],
            "run_history": False, "show_error": False}


def warm_up() -> threading.Thread:
    """In the background: load jieba and prepare tab 1's default view, so the first visitor does not wait."""
    def work():
        from ..data import DataConfig
        from ..tokenizers import WordTokenizer

        WordTokenizer.warm_up()
        if resources.corpus_available():
            try:
                raw, cfg = resources.d2l_corpus(), DataConfig()
                resources.stats(raw, cfg)
                resources.compare(raw, cfg)
            except Exception:   # noqa: BLE001 -- a warm-up must never take the app down
                pass
    t = threading.Thread(target=work, name="lyricdemo-warm-up", daemon=True)
    t.start()
    return t
