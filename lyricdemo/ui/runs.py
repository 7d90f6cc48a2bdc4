"""Runs anyone can follow: a process-wide registry of training runs, by unguessable id.

A teacher starts one run on the projector and forty students follow it on their phones:
every run gets an id (``secrets.token_urlsafe``) when it starts, and the page of tab 2
shows the link ``?follow=<id>``.  A follower reads the *owner's* run object -- its curves,
status and samples, which the owner's training loop fills in anyway -- so following costs
no training and no copy; what the page shows of it (figures, text) is built once per change
of the run and shared by every follower (``SharedRun.view``).  When the run ends, its model
joins the followers' pickers: the same ``Checkpoint`` object, read-only, never copied, and
counted in nobody's session (a session's model limit and its eviction see only its own
models; the owner evicting its copy does not take it from the followers).

Only the owner can stop or change a run: no endpoint takes a run id except ``/follow``,
which only reads.  ``/stop`` acts on the caller's own session.

The registry is bounded: a running run stays (there are at most ``max_training()``), a
finished one is kept for followers ``keep_seconds()`` (as long as an idle session) and at
most ``follow_runs()`` of them (the oldest go first), then dropped by the session reaper.
An id that is dropped, malformed, or from before a restart gets a message that says which.

Plain data and no gradio here; tab 2 builds the views it shares.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LyricdemoError
from .limits import follow_runs, session_idle_seconds

if TYPE_CHECKING:                      # session.py imports this module; types only
    from ..checkpoint import Checkpoint
    from ..corpus import RawText
    from .training_run import TrainingRun

ID_BYTES = 16                          # token_urlsafe(16): 22 characters, 128 random bits
ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_TOMBSTONES = 4096                  # ids of dropped runs remembered, to say "it ended" rather than "unknown"
MAX_DURATIONS = 20                     # recent run durations the queue estimate averages

_LOCK = threading.RLock()


@dataclass
class SharedModel:
    """What a follower generates from: the run's model, shared read-only (never copied)."""

    label: str
    checkpoint: Checkpoint
    raw: RawText | None = None
    corpus_text: str | None = None


@dataclass
class SharedRun:
    """One run as followers see it: the owner's ``TrainingRun`` (read only) and, once it ended, its model."""

    id: str
    run: TrainingRun = field(repr=False)
    started_at: float = field(default_factory=time.monotonic)
    budget_s: float | None = None                  # the run's time budget (for the queue's estimate)
    ended_at: float | None = None
    model: SharedModel | None = field(default=None, repr=False)
    _views: dict = field(default_factory=dict, repr=False)
    _view_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.ended_at is None

    def version(self) -> tuple:
        """Changes whenever what a follower would see changes (cheap: a few attribute reads)."""
        r = self.run
        return (r.progress.step if r.progress else -1, len(r.curves.eval_steps), len(r.samples),
                tuple(r.samples.values())[-1:] if r.samples else (), len(r.warnings), r.outcome is not None,
                self.running, self.model is not None, r.baselines is not None, r.started is not None)

    def view(self, key: Any, make: Callable[[], Any]) -> tuple[tuple, Any]:
        """``make()`` for the run's current version, built once and shared by every follower that asks
        with the same ``key`` (say, the chart's x axis): (version, view)."""
        version = self.version()
        with self._view_lock:
            hit = self._views.get(key)
            if hit is not None and hit[0] == version:
                return hit
            made = (version, make())
            self._views[key] = made            # one entry per key: the latest version only
            return made


_RUNS: OrderedDict[str, SharedRun] = OrderedDict()
_GONE: OrderedDict[str, float] = OrderedDict()     # dropped id -> when it ended (time.time())
_DURATIONS: deque = deque(maxlen=MAX_DURATIONS)    # wall seconds of recent runs, start to end


def keep_seconds() -> int:
    """How long a finished run stays followable: as long as an idle session lasts."""
    return session_idle_seconds()


# ----------------------------------------------------------------------------- the owner's side
def register(run: TrainingRun, budget_s: float | None = None) -> SharedRun:
    """Give ``run`` a fresh unguessable id and make it followable (called as the run starts)."""
    with _LOCK:
        reap()
        rid = secrets.token_urlsafe(ID_BYTES)
        while rid in _RUNS or rid in _GONE:     # 128 random bits: never, but cheap to be sure
            rid = secrets.token_urlsafe(ID_BYTES)
        shared = SharedRun(id=rid, run=run, budget_s=budget_s)
        _RUNS[rid] = shared
        return shared


def finish(rid: str | None, model: SharedModel | None) -> None:
    """The run ended (however: done, stopped, diverged, its owner gone); ``model`` is what it made."""
    with _LOCK:
        shared = _RUNS.get(rid) if rid else None
        if shared is None or not shared.running:
            return
        shared.model = model
        shared.ended_at = time.monotonic()
        _RUNS.move_to_end(rid)                  # finished runs are dropped oldest-ended first
        if shared.run.progress is not None:     # a run that never started training says nothing of durations
            _DURATIONS.append(shared.ended_at - shared.started_at)
        reap()


# ----------------------------------------------------------------------------- the follower's side
def check_id(rid) -> str:
    """The id as given, or a message saying it cannot be a run id (bilingual)."""
    if not isinstance(rid, str) or not rid.strip():
        raise LyricdemoError("No run to follow: give the id from a share link (…?follow=<id>). / "
                             "没有要关注的训练：请使用分享链接中的编号（…?follow=<编号>）。")
    rid = rid.strip()
    if not ID_RE.fullmatch(rid):
        shown = rid if len(rid) <= 40 else rid[:37] + "…"
        raise LyricdemoError(f"{shown!r} is not a run id: a share link ends in ?follow= and 22 letters, digits, "
                             "'-' or '_'. Copy the whole link again. / 这不是有效的训练编号，请重新复制完整的分享链接。")
    return rid


def lookup(rid) -> SharedRun:
    """The followable run with this id, or a message that says why there is none (bilingual)."""
    rid = check_id(rid)
    with _LOCK:
        reap()
        shared = _RUNS.get(rid)
        if shared is not None:
            return shared
        ended = _GONE.get(rid)
    minutes = max(round(keep_seconds() / 60), 1)
    if ended is not None:
        ago = max(round((time.time() - ended) / 60), 1)
        raise LyricdemoError(f"This run ended about {ago} minute(s) ago and is no longer kept (finished runs stay "
                             f"{minutes} minutes); train your own in tab 2. / 该训练已结束约 {ago} 分钟，已不再保留"
                             f"（结束的训练保留 {minutes} 分钟）；请在第 2 页自己训练。")
    raise LyricdemoError(f"This run is not on this server: it ended more than {minutes} minutes ago, or the server "
                         "restarted since (runs live in its memory), or the link is mistyped. Train your own in tab 2. / "
                         "服务器上没有这个训练：它可能早已结束、服务器已重启，或链接有误。请在第 2 页自己训练。")


def model_of(rid) -> SharedModel:
    """A followed run's model (for the pickers of tabs 3 and 4), or why it is not available."""
    shared = lookup(rid)
    if shared.model is None:
        raise LyricdemoError("The followed run is still training, or made no model (stopped before its first step). / "
                             "关注的训练尚未结束，或未产生模型。")
    return shared.model


def get(rid: str) -> SharedRun | None:
    """The run if it is still kept (no message); for listing."""
    with _LOCK:
        return _RUNS.get(rid)


def class_run() -> SharedRun | None:
    """The most recently started run that is still training: the one to offer a student who waits."""
    with _LOCK:
        live = [s for s in _RUNS.values() if s.running]
    return max(live, key=lambda s: s.started_at) if live else None


# ----------------------------------------------------------------------------- the queue's estimate
def typical_duration() -> float | None:
    """The mean wall time of recent runs (start to end), or None before any ended."""
    with _LOCK:
        d = list(_DURATIONS)
    return sum(d) / len(d) if d else None


def remaining_seconds(now: float | None = None, default_s: float = 60.0) -> list[float]:
    """For every running run: how long until it frees its slot -- the measured typical duration
    minus its age, or its own budget's rest when it is already older than typical."""
    now = time.monotonic() if now is None else now
    typical = typical_duration()
    with _LOCK:
        live = [s for s in _RUNS.values() if s.running]
    out = []
    for s in live:
        age = now - s.started_at
        expect = typical if typical is not None else (s.budget_s or default_s)
        rest = expect - age
        if rest <= 0 and s.budget_s:
            rest = s.budget_s - age
        out.append(max(rest, 0.0))
    return out


def estimate_start(position: int, slots: int, running_left: list[float], typical: float) -> float:
    """Seconds until the run waiting at ``position`` (1 = next) gets a slot: slots free as running
    runs end (``running_left``), and each run ahead in the queue takes a slot for ``typical`` seconds."""
    free = sorted(list(running_left)[:slots] + [0.0] * max(slots - len(running_left), 0))
    t = 0.0
    for _ in range(max(position, 1)):
        t = free.pop(0)
        free.append(t + typical)
        free.sort()
    return t


# ----------------------------------------------------------------------------- bounded
def reap(now: float | None = None) -> int:
    """Drop finished runs kept longer than ``keep_seconds()`` and the oldest beyond ``follow_runs()``;
    returns how many went.  The session reaper calls this too."""
    now = time.monotonic() if now is None else now
    keep, cap = keep_seconds(), follow_runs()
    dropped = 0
    with _LOCK:
        finished = [s for s in _RUNS.values() if not s.running]
        finished.sort(key=lambda s: s.ended_at)
        extra = len(finished) - cap
        for i, s in enumerate(finished):
            if i < extra or now - s.ended_at > keep:
                _RUNS.pop(s.id, None)
                _GONE[s.id] = time.time() - (now - s.ended_at)
                dropped += 1
        while len(_GONE) > MAX_TOMBSTONES:
            _GONE.popitem(last=False)
    return dropped


def counts() -> dict[str, int]:
    """Runs kept now (for the soak script and tests)."""
    with _LOCK:
        running = sum(1 for s in _RUNS.values() if s.running)
        return {"running": running, "finished": len(_RUNS) - running, "dropped_ids": len(_GONE)}


def clear() -> None:
    """Forget everything (tests)."""
    with _LOCK:
        _RUNS.clear()
        _GONE.clear()
        _DURATIONS.clear()
