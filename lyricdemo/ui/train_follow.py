"""Following a run and waiting for a training slot, on the train tab.

Every run has a share link ``?follow=<id>`` (``runs.py``); ``follow`` streams the run's status,
chart and samples to another session (views built once per change, shared by all followers)
and hands over its model when it ends.  While a run waits for a training slot, ``queue_watch``
shows its place in Gradio's queue and when it should start.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace

import gradio as gr
from gradio.components.plot import PlotData

from .. import plots
from ..errors import LyricdemoError
from . import limits, runs
from .session import Session
from .train_view import (X_AXES, fmt_s, grad_chart, picker, run_info, samples_text, status_markdown,
                         warnings_markdown)
from .validate import choice, user_errors

# seconds between a follower's updates: a phone redraws the chart once a second
FOLLOW_INTERVAL = float(os.environ.get("LYRICDEMO_FOLLOW_INTERVAL", "1.0") or 1.0)
QUEUE_INTERVAL = 1.0           # seconds between updates of a waiting run's place in the queue
QUEUE_APPEAR_S = 5.0           # how long the watcher waits for the Start event to reach the queue


def follow_view(shared: runs.SharedRun, x_axis: str) -> tuple:
    """What a follower's page shows of a run: (status, chart, grad chart, samples, warnings, run JSON).
    Built once per change of the run and shared by every follower (``SharedRun.view``) -- the charts
    already as Plotly JSON, which Gradio would otherwise serialize again for each follower."""
    run = shared.run
    fig = plots.training_chart([run.chart_curves()], run.baselines, x="seconds" if x_axis == "seconds" else "step")
    return (status_markdown(run, follower=True), PlotData(type="plotly", plot=fig.to_json()),
            PlotData(type="plotly", plot=grad_chart(run).to_json()), samples_text(run), warnings_markdown(run),
            run_info(run))


@user_errors
async def follow(session: Session, run_id="", x_axis="step"):
    """Follow someone's run by the id of its share link: stream its (status, chart, grad-norm chart, samples,
    warnings, run JSON) as it trains, then hand its model to this session's pickers (generate tab, inside tab).
    Read-only: nothing here can stop or change the run. An async generator: a follower waiting between
    updates holds no worker thread, so forty followers cost forty sleeping tasks."""
    session.touch()
    x_axis = choice("x_axis", x_axis, X_AXES)
    skip = gr.skip()
    try:
        shared = runs.lookup(run_id)
    except LyricdemoError as e:
        yield (f"✗ {e}", skip, skip, skip, skip, {"state": "gone", "follow": None}, skip, skip)
        raise
    session.follow(shared.id)
    shown, sent = None, (None,) * 6
    while True:
        ended = not shared.running                   # read before the view, so the last view is the final one
        version, view = shared.view(x_axis, lambda: follow_view(shared, x_axis))
        if version != shown:
            shown = version
            if not ended:                            # a phone redraws only what changed (samples, warnings)
                status, fig, grad, samples, warns, info = view
                yield (status, fig, grad, samples if samples != sent[3] else skip,
                       warns if warns != sent[4] else skip, info, skip, skip)
                sent = view
        if ended:
            break
        session.touch()
        await asyncio.sleep(FOLLOW_INTERVAL)
    key = f"follow:{shared.id}" if shared.model is not None else None
    yield (*view, picker(session, key), picker(session, key))


@user_errors
async def follow_page(session: Session, run_id="", x_axis="step"):
    """The page's own follow (its ``?follow=`` link): ``follow``, or nothing for a page without a link.
    A gone or mistyped link is said on the status line (``follow`` puts it there before it raises), and
    the page goes on normally: Start and Stop come back."""
    if not run_id:
        yield (gr.skip(),) * 8
        return
    try:
        async for out in follow(session, run_id, x_axis):
            yield out
    except gr.Error:
        return


def follow_link_param(request: gr.Request) -> str:
    """The ``follow`` query parameter of the page (``?follow=<id>``), or "" when it has none."""
    params = getattr(request, "query_params", None) or {}
    value = params.get("follow", "") if hasattr(params, "get") else ""
    return value if isinstance(value, str) else ""


def queue_position(demo: gr.Blocks, session_hash: str | None) -> tuple[int, int] | None:
    """(place, waiting) of this page's training in Gradio's queue of trainings (place 1 = next), or None
    when it is not waiting there (started, cancelled, or not sent yet).  Reads Gradio's queue, the one
    that really decides; gradio is pinned (requirements.txt), and a change there only hides the note."""
    try:
        waiting = list(demo._queue.event_queue_per_concurrency_id["train"].queue)
    except (AttributeError, KeyError):
        return None
    for i, ev in enumerate(waiting):
        if ev.session_hash == session_hash:
            return i + 1, len(waiting)
    return None


def queue_markdown(place: int, waiting: int, slots: int, running_left: list[float], typical: float | None,
                   measured: bool, class_id: str | None) -> str:
    """A waiting run's place and when it should start, in both languages, with the class run to follow."""
    each = typical if typical is not None else 60.0
    eta = runs.estimate_start(place, slots, running_left, each)
    basis = (f"from the measured length of recent runs, ~{fmt_s(each)} each / 根据最近训练的实测时长（每次约 {fmt_s(each)}）"
             if measured else "from the running runs' time budgets / 根据正在训练的时间预算")
    lines = [f"⏳ **Waiting for a training slot: number {place} of {waiting} in the queue; starts in about "
             f"{fmt_s(eta)}** ({slots} run{'s' if slots > 1 else ''} train at once; {basis}). / "
             f"**正在排队：第 {place} 位（共 {waiting} 位），预计约 {fmt_s(eta)} 后开始。**"]
    if class_id:
        lines.append(f'While you wait, <a href="?follow={class_id}" target="_blank" rel="noopener" id="train-class-link">'
                     "follow the class run live</a> (a new tab; your place here is kept). / "
                     "等待时可以在新标签页中实时观看正在进行的训练（这里的排队位置保留）。")
    return "\n\n".join(lines)


def queue_note(place: int, waiting: int) -> str:
    """``queue_markdown`` with the server's figures: slots, running runs' rest, measured durations, class run."""
    typical = runs.typical_duration()
    left = runs.remaining_seconds()
    if typical is None and left:
        typical = max(left)                   # nothing measured yet: a run lasts about its budget
    cls = runs.class_run()
    return queue_markdown(place, waiting, limits.max_training(), left, typical, runs.typical_duration() is not None,
                          cls.id if cls is not None else None)


async def queue_watch(demo: gr.Blocks, session: Session, request: gr.Request):
    """While this page's training waits for a slot, show its place and when it should start (every second);
    hide the note once it starts or is cancelled."""
    t0 = time.monotonic()
    shown = False
    while True:
        pos = queue_position(demo, getattr(request, "session_hash", None))
        if pos is None:
            if shown or session.busy or time.monotonic() - t0 > QUEUE_APPEAR_S:
                break
            await asyncio.sleep(0.2)
            continue
        shown = True
        yield gr.update(value=queue_note(*pos), visible=True)
        await asyncio.sleep(QUEUE_INTERVAL)
    yield gr.update(value="", visible=False)


def wire_follow(ui: SimpleNamespace, session: gr.State, pickers: list) -> None:
    """The queue note beside Start, and /follow (the page's ``?follow=`` link starts it, see ``ui/__init__``)."""
    async def watch(session: Session, request: gr.Request):
        async for update in queue_watch(ui.demo, session, request):
            yield update

    ui.start.click(watch, session, ui.queue_md, api_visibility="private", concurrency_limit=None,
                   concurrency_id="queue-watch", show_progress="hidden", preprocess=False)
    outputs = [ui.status, ui.plot, ui.grad_plot, ui.samples, ui.warn, ui.info, *pickers]
    ui.follow_event = ui.follow_btn.click(follow, [session, ui.follow_box, ui.x_axis], outputs, api_name="follow",
                                          concurrency_limit=None, concurrency_id="follow", show_progress="hidden",
                                          preprocess=False)
