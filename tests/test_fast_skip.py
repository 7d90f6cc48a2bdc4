"""``ui.fast_skip``: a bare ``gr.skip()`` answered without rebuilding its component -- and the answer,
output by output, is the one Gradio's own ``Blocks.postprocess_data`` gives (so the page cannot tell)."""

from __future__ import annotations

import asyncio
import copy
import threading

import gradio as gr
import plotly.graph_objects as go
import pytest
from gradio.state_holder import SessionState

from lyricdemo.ui import fast_skip


@pytest.fixture(scope="module")
def demo():
    with gr.Blocks() as demo:
        st = gr.State(1)
        outs = [gr.Textbox(), gr.HTML(), gr.Slider(1, 10), gr.Plot(), gr.JSON(), gr.Dropdown(choices=["a", "b"]),
                gr.Markdown(), st]
        gr.Button().click(lambda: None, None, outs)
    return demo


PREDICTIONS = [
    ("text", gr.skip(), gr.skip(), None, gr.skip(), gr.skip(), "**md**", gr.skip()),
    (gr.skip(),) * 8,
    ("t", "<b>x</b>", 3, go.Figure(go.Scatter(y=[1, 2])), {"a": 1}, gr.update(choices=["c"], value="c"), gr.skip(), 5),
    (gr.update(visible=False), gr.skip(), gr.update(maximum=20, value=4), gr.skip(), None, gr.skip(), "m", gr.skip()),
    ("x",) + (gr.skip(),) * 7,
    (gr.skip(),) * 7 + (5,),                  # one output left to Gradio: its value is passed alone
]


def _in_own_loop(coro):
    """Run ``coro`` to the end in a thread of its own: the browser tests leave an event loop running in
    this one (pytest-playwright), and ``asyncio.run`` refuses to start beside it."""
    box: dict = {}

    def run():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # noqa: BLE001 -- re-raised below
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _run(demo, method, predictions):
    state = SessionState(demo.blocks_config if hasattr(demo, "blocks_config") else demo)
    out = _in_own_loop(method(demo, demo.fns[0], copy.deepcopy(list(predictions)), state))
    return out, {k: state.config_values.get(k) for k in sorted(state.config_values)}


@pytest.mark.parametrize("predictions", PREDICTIONS, ids=range(len(PREDICTIONS)))
def test_the_answer_is_gradios_own(demo, predictions):
    _run(demo, fast_skip._postprocess_data, predictions)           # the first skip of each output: Gradio's way
    assert all(fast_skip._key(demo, b) in fast_skip._answers for b, p in zip(demo.fns[0].outputs, predictions)
               if p == gr.skip() and not b.stateful)
    mine, mine_config = _run(demo, fast_skip._postprocess_data, predictions)   # ... then the remembered answer
    theirs, their_config = _run(demo, fast_skip._original, predictions)
    assert mine == theirs
    # the session's config may lack the untouched outputs' entries (Gradio fills them from the
    # app's own config when a session has none); what both hold is the same
    for k in set(mine_config) & set(their_config):
        assert mine_config[k] == their_config[k], k


def test_install_is_idempotent_and_the_app_installs_it():
    from gradio.blocks import Blocks

    from lyricdemo.ui import build_app

    build_app()
    assert Blocks.postprocess_data is fast_skip._postprocess_data
    fast_skip.install()
    assert Blocks.postprocess_data is fast_skip._postprocess_data
