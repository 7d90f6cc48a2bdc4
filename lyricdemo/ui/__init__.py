"""The Gradio app: four tabs, each a view on one step of the flow (see DESIGN.md).

    build_app() -> gr.Blocks        (app.py queues and launches it)

    ui/__init__.py   the frame: header, tabs, cross-tab wiring, /models
    ui/tab_vocab.py  1 tokenize & vocabulary   /tokenize, /lookup
    ui/tab_train.py  2 train live              /train (streams), /stop
      train_loop.py, train_view.py, train_follow.py: its run loop, what it shows, /follow and the queue
    ui/tab_generate.py 3 generate              /generate (streams), /step_view, /load_checkpoint
    ui/tab_inside.py 4 look inside             /probe
    ui/session.py    per-user state (gr.State): uploads, runs, trained models
    ui/registry.py   the model picker: shipped checkpoints + session models
    ui/resources.py  shared read-only caches (corpus, datasets, stats, indexes, checkpoints)
    ui/limits.py     every limit, read from the environment in one place
    ui/labels.py     bilingual labels and one-line help
    ui/validate.py   server-side checks of every endpoint input
    ui/widgets.py    HTML views and CSS

This is the only package that imports gradio; it holds no tensor math.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # before any gr.Blocks is built

import threading  # noqa: E402

from . import gradio_import  # noqa: E402

gradio_import.install()        # gradio's import stops rewriting its type stubs (3 s of the start)

import gradio as gr  # noqa: E402

from . import (event_costs, fast_skip, limits, links, registry, resources, tab_generate, tab_inside, tab_train,  # noqa: E402
               tab_vocab, train_follow)
from .labels import T  # noqa: E402
from .session import Session, watch_gradio_sessions  # noqa: E402
from .widgets import CSS, FIT_JS, esc  # noqa: E402
from .wording import corpus_header  # noqa: E402

__all__ = ["build_app", "CSS", "queue_kwargs", "launch_kwargs", "prepare_server", "warm_up"]


def _close_session(session) -> None:
    if isinstance(session, Session):
        session.close()


def header_markdown() -> str:
    """Which corpus is in use (size, origin), the background download's state, the shipped models.
    Drawn on every page load, so a corpus that arrives while the app runs shows at once."""
    from .. import sources

    src = resources.corpus_in_use()
    dl = sources.download_status()
    corpus = f"Corpus in use / 当前语料: **{esc(corpus_header(src))}**"       # one line: the lesson must fit below it
    if dl.state == "running":
        corpus += " · downloading the d2l lyrics … / 正在下载周杰伦歌词 …"
    elif dl.state == "failed":
        corpus += " · the d2l download failed: tab 1 says why / 下载失败，原因见第 1 页"
    shipped = resources.shipped_models()
    models = (f"✓ {len(shipped)} shipped model(s) / 预训练模型: " + ", ".join(m.folder.name for m in shipped) + "."
              if shipped else "No shipped checkpoints installed: train a model in tab 2 to generate. / "
                              "尚无预训练模型：请在第 2 页训练。")
    return f"{T['subtitle']}\n\n{corpus}\n\n{models}"


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
    fast_skip.install()                         # streamed updates stop rebuilding the outputs they leave alone
    event_costs.install()                       # new sessions copy block configs lazily; no matplotlib search per event
    age = limits.session_idle_seconds()         # uploads and downloadable copies live as long as an idle session
    with gr.Blocks(title="lyricdemo · 歌词 RNN 教学演示", analytics_enabled=False,
                   delete_cache=(min(age, 600), age)) as demo:
        # deep-copied per session (Session.__deepcopy__ registers it with the idle-session reaper)
        session = gr.State(Session(), delete_callback=_close_session)
        gr.Markdown(T["title"], elem_id="ld-title")
        projector = gr.Checkbox(value=False, label="Projector / 投影", container=False, elem_id="ld-projector")
        from .widgets import wire_projector

        wire_projector(demo, projector)
        header = gr.Markdown(header_markdown(), elem_id="ld-header", elem_classes=["ld-note"])
        demo.load(header_markdown, None, header, api_visibility="private", queue=False)
        with gr.Tabs(elem_id="ld-tabs", overflow_behavior="wrap") as tabs:
            with gr.Tab(T["tab_vocab"], id="vocab", elem_id="tab-vocab"):
                tab_vocab.build(demo, session)
            with gr.Tab(T["tab_train"], id="train", elem_id="tab-train"):
                train = tab_train.build(demo, session)
            with gr.Tab(T["tab_generate"], id="generate", elem_id="tab-generate") as gen_tab:
                gen = tab_generate.build(demo, session)
            with gr.Tab(T["tab_inside"], id="inside", elem_id="tab-inside") as inside_tab:
                inside = tab_inside.build(demo, session)

        tab_train.wire(train, session, [gen.model, inside.model])
        links.wire(demo, session, tabs, train, gen, inside, [gen.first, inside.first])   # ?tab=…&model=…
        gen.ckpt_upload.upload(tab_generate.load_upload, [session, gen.ckpt_upload],
                               [gen.model, inside.model, gen.ckpt_note], api_name="load_checkpoint",
                               concurrency_limit=2, concurrency_id="cpu", preprocess=False)
        gen.refresh.click(list_models, session, [gen.model, inside.model, gen.models_json], api_name="models")
        inside.refresh.click(refresh_picker, [session, inside.model], inside.model, api_visibility="private")
        gen_tab.select(refresh_picker, [session, gen.model], gen.model, api_visibility="private", queue=False)
        inside_tab.select(refresh_picker, [session, inside.model], inside.model, api_visibility="private",
                          queue=False)
        wire_follow_link(demo, session, tabs, train, [gen.model, inside.model])
    watch_gradio_sessions(demo)        # the reaper forgets the sessions of closed pages
    return demo


def open_follow_link(request: gr.Request):
    """Page load: with ``?follow=<id>`` open tab 2 following that run, Start and Stop hidden (a follower
    cannot stop it; they come back when the run ends); without it, change nothing."""
    rid = train_follow.follow_link_param(request)
    if not rid:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return gr.Tabs(selected="train"), rid, gr.update(visible=False), gr.update(visible=False)


def wire_follow_link(demo: gr.Blocks, session: gr.State, tabs: gr.Tabs, train, pickers: list) -> None:
    """``?follow=<id>`` in the page's address: read it, follow the run in tab 2, then give back Start/Stop."""
    outputs = [train.status, train.plot, train.grad_plot, train.samples, train.warn, train.info, *pickers]
    (demo.load(open_follow_link, None, [tabs, train.follow_box, train.start, train.stop],
               api_visibility="private", queue=False)
         .then(train_follow.follow_page, [session, train.follow_box, train.x_axis], outputs, api_visibility="private",
               concurrency_limit=None, concurrency_id="follow", show_progress="hidden", preprocess=False)
         .then(lambda: (gr.update(visible=True), gr.update(visible=True)), None, [train.start, train.stop],
               api_visibility="private", queue=False))


def queue_kwargs() -> dict:
    """``demo.queue(**queue_kwargs())``: a bounded queue; each event sets its own concurrency."""
    return {"max_size": limits.queue_size(), "default_concurrency_limit": 4}


def launch_kwargs() -> dict:
    """What ``launch()`` needs besides the address: upload cap, CSS, no run history, the API link.

    ``show_error`` stays off: every expected problem is a ``gr.Error`` with its own message
    (validate.user_errors), and an unexpected one is reported in plain words, not as its text."""
    return {"max_file_size": limits.max_upload_bytes(), "css": CSS, "js": FIT_JS, "footer_links": ["api"],
            "run_history": False, "show_error": False,
            # sessions Gradio keeps, used ones or not (its default is 10,000: ~17 GB of configs);
            # closed ones the reaper forgets sooner (session.forget_closed_sessions)
            "state_session_capacity": limits.max_sessions(),
            # a streaming /generate holds a worker thread while it waits for its shared batch:
            # Gradio's 40 (starlette's default) plus one per generation it lets in
            "max_threads": 40 + limits.generate_concurrency()}


def prepare_server() -> dict[str, int]:
    """Before ``launch()``: check every limit (a wrong value stops the app with its name) and give
    each torch operation ``LYRICDEMO_TORCH_THREADS`` threads (concurrent requests share the cores
    instead of each grabbing all of them; see README "Limits"); delete what a killed server left in
    the temp folder.  Returns the limits in force."""
    import torch

    from .session import remove_stale_workdirs

    values = limits.check_all()
    torch.set_num_threads(limits.torch_threads())
    remove_stale_workdirs()            # session folders of a server that was killed (no finalizer ran)
    return values


def warm_up() -> threading.Thread:
    """In the background: fetch the d2l corpus when it is missing and the network is allowed (once,
    checksummed; see ``sources.start_download``), load jieba and prepare tab 1's default view, start the
    decoder process, so the first visitor does not wait."""
    from .. import sources

    sources.start_download()
    resources.batch_pool()          # starts the decoder process (LYRICDEMO_DECODE_PROCESS) while nobody waits

    def work():
        from ..data import DataConfig
        from ..tokenizers import WordTokenizer

        WordTokenizer.warm_up()
        try:
            raw, cfg = resources.builtin_corpus(resources.corpus_in_use().key), DataConfig()
            resources.stats(raw, cfg)
            resources.compare(raw, cfg)
        except Exception:   # noqa: BLE001 -- a warm-up must never take the app down
            pass

    t = threading.Thread(target=work, name="lyricdemo-warm-up", daemon=True)
    t.start()
    return t
