"""One training run as the app keeps it: the Trainer's events taken into what the chart, the status
line and the run's JSON show (``TrainingRun.record``), each curve thinned to at most ``MAX_POINTS``
points as it grows (``BoundedCurve``).  A run lives in its owner's ``Session`` and, read only, in
the registry of followable runs (``runs.py``)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace

from ..corpus import RawText
from ..data import Dataset
from ..plots import RunCurves
from ..train import Baselines, Done, Evaluation, Failed, Progress, Sample, Started, Trainer, TrainWarning
from .wording import bilingual

MAX_POINTS = 1200          # per curve; beyond it every other point is dropped and the stride doubles
EMA = 0.1                  # smoothing of the per-batch loss drawn on the chart


class BoundedCurve:
    """(x, y) points of a long curve, thinned to at most ``cap`` points as it grows."""

    def __init__(self, cap: int = MAX_POINTS):
        self.cap, self.stride, self._n = cap, 1, 0
        self.xs: list = []
        self.ts: list = []
        self.ys: list = []

    def add(self, x, t, y) -> None:
        self._n += 1
        if (self._n - 1) % self.stride:
            return
        self.xs.append(x)
        self.ts.append(t)
        self.ys.append(y)
        if len(self.xs) > self.cap:
            self.xs, self.ts, self.ys = self.xs[::2], self.ts[::2], self.ys[::2]
            self.stride *= 2


@dataclass
class TrainingRun:
    """One run of the Trainer in this session: its trainer while it runs, and what the chart draws."""

    number: int
    label: str
    trainer: Trainer | None = field(repr=False)
    dataset: Dataset | None = field(repr=False)
    raw: RawText | None = field(default=None, repr=False)
    corpus_text: str | None = field(default=None, repr=False)
    clip_theta: float | None = None
    curves: RunCurves = field(default_factory=lambda: RunCurves(label=""))
    grad: BoundedCurve = field(default_factory=BoundedCurve)
    batch: BoundedCurve = field(default_factory=BoundedCurve)
    started: Started | None = None
    progress: Progress | None = None
    last_eval: Evaluation | None = None
    baselines: dict | None = None
    samples: dict = field(default_factory=dict)           # prefix -> latest text
    warnings: list = field(default_factory=list)
    started_from: str = ""             # fine-tuning: the model it started from and what moved (tab_train.fine_tune)
    outcome: Done | Failed | None = None
    model_key: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    ended_at: float | None = None
    ui_seconds: float = 0.0            # wall time training waited for the page (building + sending updates)
    gave_way_s: float = 0.0            # wall time training paused for students' generations (train_loop.give_way)
    updates: int = 0
    follow_id: str | None = None       # its id in the registry of followable runs (runs.py)
    _ema: float | None = None

    def __post_init__(self):
        self.curves.label = self.label

    def record(self, ev) -> bool:
        """Take one Trainer event into the run's data; True when the UI should show it at once."""
        if isinstance(ev, Progress):
            self.progress = ev
            self._ema = ev.loss if self._ema is None else (1 - EMA) * self._ema + EMA * ev.loss
            self.grad.add(ev.step, ev.elapsed, ev.grad_norm)
            self.batch.add(ev.step, ev.elapsed, math.exp(min(self._ema, 700)))
            return False
        if isinstance(ev, Evaluation):
            self.last_eval = ev
            if ev.kept:         # the kept weights measured again at the end: the status line's figure, not a step's
                return True
            c = self.curves
            c.eval_steps.append(ev.step)
            c.eval_seconds.append(ev.elapsed)
            c.train_ppl.append(ev.train_ppl)
            c.val_ppl.append(ev.val_ppl)
            return True
        if isinstance(ev, Sample):
            self.samples[ev.prefix] = ev.text
            return False
        if isinstance(ev, Started):
            self.started = ev
            return True
        if isinstance(ev, Baselines):
            self.baselines = dict(ev.perplexities)
            return True
        if isinstance(ev, TrainWarning):
            self.warnings.append(bilingual(ev.message))
            return True
        if isinstance(ev, Failed):                  # kept as the app shows it (status line, run JSON)
            ev = replace(ev, message=bilingual(ev.message))
        if isinstance(ev, (Done, Failed)):
            self.outcome = ev
            return True
        return False

    def chart_curves(self) -> RunCurves:
        """The curves with the per-batch line filled in (only the current run draws it)."""
        c = self.curves
        c.batch_steps, c.batch_seconds, c.batch_ppl = self.batch.xs, self.batch.ts, self.batch.ys
        return c

    @property
    def running(self) -> bool:
        return not self.finished.is_set()
