"""A training run as the train tab streams it: the Trainer's events recorded into the run, the page
updated at most ``1 / UI_INTERVAL`` times a second and at every evaluation, and a pause after each
step while students generate (``give_way``)."""

from __future__ import annotations

import os
import time

import gradio as gr
import torch

from .. import cores
from ..train import Done, Failed, Progress
from . import resources
from .session import Session
from .training_run import TrainingRun
from .train_view import chart, grad_chart, picker, run_info, samples_text, status_markdown, warnings_markdown

UI_INTERVAL = float(os.environ.get("LYRICDEMO_UI_INTERVAL", "0.25") or 0.25)   # seconds between page updates
MIN_URGENT_INTERVAL = 0.1      # evaluations come at most this often to the page
# While students generate, a training pauses this many times its own step time after each step (at
# most GIVE_WAY_MAX_S): two trainings on two cores then leave most of the CPU to forty generations,
# whose time to the first character is what a class feels (bench/bench_load.py); the training goes
# on at a quarter of its speed for the few seconds they take.  0 turns it off.  The cap was 0.25 s:
# under a class's load a step takes 0.3-0.5 s, so the pause stopped at half a step and the two
# trainings kept most of a core; at 1 s (2026-12-02, 40 students, 2 trainings, bench_load.py
# --actions generate) the first character's p95 fell from 2.8-3.5 s to 1.3 s, the whole 200
# characters' from 15-16 s to 9 s, and the trainings went faster too (2.6-2.9k against 1.3k tokens/s:
# less time fighting over the cores).
GIVE_WAY = float(os.environ.get("LYRICDEMO_TRAIN_GIVE_WAY", "3") or 0)
GIVE_WAY_MAX_S = 1.0


def give_way(step_s: float) -> float:
    """Pause the calling training while students generate; returns the seconds paused."""
    if GIVE_WAY <= 0 or step_s <= 0 or not resources.students_generating():
        return 0.0
    pause = min(GIVE_WAY * step_s, GIVE_WAY_MAX_S)
    time.sleep(pause)
    return pause


def stream(session: Session, run: TrainingRun, trainer, x_axis: str):
    """Train ``run`` and yield the page's (status, chart, grad-norm chart, samples, warnings, run JSON,
    checkpoint download, generate-tab picker, inside-tab picker) as it goes; the last one hands over the model."""
    skip = gr.skip()
    events = trainer.run()
    claim = cores.Share("app training", fixed=torch.get_num_threads())   # a CLI training here sizes itself to it
    last = 0.0
    shown_samples, shown_warnings = "", ""
    try:                              # from here on, however the generator ends, the run is finished
        yield (status_markdown(run), chart(session, x_axis), grad_chart(run), "", warnings_markdown(run),
               run_info(run), None, skip, skip)
        t_step = time.monotonic()
        for ev in events:
            urgent = run.record(ev)
            now = time.monotonic()
            if isinstance(ev, Progress):
                run.gave_way_s += give_way(now - t_step)
                now = t_step = time.monotonic()
            final = isinstance(ev, (Done, Failed))
            if final or (urgent and now - last >= MIN_URGENT_INTERVAL) or now - last >= UI_INTERVAL:
                s, w = samples_text(run), warnings_markdown(run)
                update = (status_markdown(run), chart(session, x_axis), grad_chart(run),
                          s if s != shown_samples else skip, w if w != shown_warnings else skip, run_info(run),
                          skip, skip, skip)
                shown_samples, shown_warnings = s, w
                yield update                   # Gradio sends it; training waits meanwhile (measured below)
                last = time.monotonic()
                run.ui_seconds += last - now
                run.updates += 1
    finally:
        claim.close()
        events.close()                # the Trainer's own finally hands over a usable model
        session.finish_run(run)       # ... which joins the session even when we were cancelled

    entry = session.model_for_run(run)
    download = str(entry.ensure_saved(session.workdir())) if entry is not None else None
    notes = session.pop_notes()
    yield (status_markdown(run), chart(session, x_axis), grad_chart(run), samples_text(run),
           warnings_markdown(run, notes), run_info(run), download,
           picker(session, run.model_key), picker(session, run.model_key))
