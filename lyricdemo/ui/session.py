"""What one user has: uploads, training runs, trained models, the last generation.

A ``Session`` lives in a ``gr.State``: Gradio makes one per browser tab (or per
``gradio_client.Client``) and hands the *same object* to every handler of that
session, so a handler can change it in place -- which is how a training run that is
cancelled (Stop, or the tab closed) still registers its model: the run object is in
the session before training starts, and the generator's ``finally`` finishes it.

Memory is bounded: at most ``max_session_models()`` trained or uploaded models (the
oldest is evicted with a note and its files deleted), the chart keeps the last
``MAX_CHART_RUNS`` runs, and each curve keeps at most ``training_run.MAX_POINTS`` points.

Sessions end.  Gradio deletes a ``gr.State`` only when a handler *returns* it, and our
handlers change the session in place, so its ``delete_callback`` would never run: a
closed tab, or a ``gradio_client`` that simply goes away, would keep its models for
good.  So every session registers itself (``__deepcopy__`` -- Gradio deep-copies the
State's default value once per session), handlers ``touch()`` it, and a reaper thread
closes sessions idle for longer than ``session_idle_seconds()`` (a running training
keeps its session alive).  Files go with the session object at the latest: a
finalizer deletes its folder when Python collects it.

Runs can be followed from other sessions (``runs.py``): a run is registered there with an
unguessable id as it starts and told when it ends; a session that follows runs keeps
only their ids (``followed``), never their models.
"""

from __future__ import annotations

import ctypes
import datetime
import math
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoint import Checkpoint, pack_checkpoint, save_from_training
from ..corpus import RawText, atomic_write_bytes
from ..data import Dataset
from ..models.lm import KIND_NAMES
from ..train import Failed, Trainer
from . import runs
from .limits import max_session_models, session_idle_seconds
from .training_run import TrainingRun

MAX_CHART_RUNS = 8
MAX_FOLLOWED = 8           # runs one session follows (ids only: their models are shared, counted nowhere)

_LOCK = threading.RLock()  # guards session changes made from worker threads and the event loop
_LIVE: weakref.WeakSet = weakref.WeakSet()    # every Session the app made (for the reaper)


@dataclass
class SessionModel:
    """A model trained in this session, ready for the Generate and Look-inside tabs.

    Until ``ensure_saved`` runs it keeps its ``trainer`` (whose history and metrics go
    into the checkpoint); saving writes the checkpoint folder and its zip into the
    session's work folder and lets the trainer (and its optimizer state) go."""

    key: str
    label: str
    checkpoint: Checkpoint
    raw: RawText | None = None             # the corpus it saw (for the memorization meter)
    corpus_text: str | None = None         # the toy task's text, which is not a corpus file
    trainer: Trainer | None = field(default=None, repr=False)
    dataset: Dataset | None = field(default=None, repr=False)
    zip_path: Path | None = None
    folder: Path | None = None

    def ensure_saved(self, workdir: Path) -> Path:
        """The checkpoint as a zip (written once): ``checkpoint.save_from_training`` + ``pack_checkpoint``."""
        with _LOCK:
            if self.zip_path is not None and self.zip_path.is_file():
                return self.zip_path
            slug = self.key.replace(":", "-")
            folder = workdir / slug / "checkpoint"
            if self.trainer is not None and self.dataset is not None:
                save_from_training(folder, self.trainer, self.dataset, extra={"app_label": self.label})
            else:
                from ..checkpoint import save_checkpoint

                save_checkpoint(folder, self.checkpoint.model, self.checkpoint.vocab, self.checkpoint.data_config,
                                train_config=self.checkpoint.train_config, metrics=self.checkpoint.metrics)
            zip_path = workdir / slug / f"lyricdemo-{slug}.zip"
            atomic_write_bytes(zip_path, pack_checkpoint(folder))  # a killed server leaves no half zip here
            self.folder, self.zip_path = folder, zip_path
            self.trainer = self.dataset = None       # the optimizer state is no longer needed
            return zip_path

    def delete_files(self) -> None:
        if self.zip_path is not None:
            shutil.rmtree(self.zip_path.parent, ignore_errors=True)


class Session:
    """Everything that belongs to one user of the app (see the module docstring)."""

    def __init__(self):
        self.models: OrderedDict[str, SessionModel] = OrderedDict()
        self.runs: list[TrainingRun] = []
        self.upload: RawText | None = None            # the corpus uploaded in tab 1
        self.analyzed: Dataset | None = None          # tab 1's last dataset (for token <-> id lookup)
        self.generation = None                        # (Generation, MemorizationReport | None) of tab 3
        self.notes: list[str] = []
        self.expired_note: str | None = None          # why this session's models are gone (idle too long)
        self.followed: OrderedDict[str, None] = OrderedDict()   # ids of runs followed here (runs.py), newest last
        self.start_keys: tuple[str, ...] | None = None   # tab 2's "Start from" list as the page last got it
        self.last_used = time.monotonic()
        self._next_run = 1
        self._workdir: str | None = None
        self._cleanup: weakref.finalize | None = None
        _LIVE.add(self)
        start_reaper()

    def __deepcopy__(self, memo) -> Session:
        """Gradio makes each session's State by deep-copying the default: a fresh, registered Session."""
        return Session()

    def touch(self) -> None:
        """Mark the session as in use (handlers call this; the reaper closes sessions idle too long)."""
        self.last_used = time.monotonic()

    @property
    def busy(self) -> bool:
        return any(r.running for r in self.runs)

    def holds_something(self) -> bool:
        return bool(self.models or self.runs or self.upload is not None or self.analyzed is not None
                    or self.generation is not None or self._workdir)

    # -- files -----------------------------------------------------------------------
    def workdir(self) -> Path:
        """A private temp folder for this session's checkpoints (deleted with the session)."""
        with _LOCK:
            if self._workdir is None or not Path(self._workdir).is_dir():
                self._workdir = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
                if self._cleanup is not None:
                    self._cleanup.detach()
                # the folder goes with the object even if nobody calls close()
                self._cleanup = weakref.finalize(self, shutil.rmtree, self._workdir, True)
            return Path(self._workdir)

    def close(self) -> None:
        """Delete the session's files and let go of its models, runs and texts (the reaper, or
        Gradio's ``delete_callback`` where it runs, calls this when the session ends)."""
        with _LOCK:
            if self._cleanup is not None:
                self._cleanup()                    # rmtree the work folder, once
                self._cleanup = None
            self._workdir = None
            for run in self.runs:
                if run.running and run.trainer is not None:
                    run.trainer.stop()
            self.models.clear()
            self.runs.clear()
            self.followed.clear()
            self.upload = self.analyzed = self.generation = None

    def expire(self, idle_seconds: float) -> None:
        """Close an idle session, leaving a note for the user in case they come back."""
        with _LOCK:
            self.close()
            minutes = max(round(idle_seconds / 60), 1)
            self.expired_note = (
                f"This session was idle for more than {minutes} minute(s), so its models, runs and uploads were "
                "deleted to free memory; download a checkpoint to keep a model. / "
                "会话闲置过久，训练的模型与上传的文件已删除以释放内存；请下载检查点以保存模型。")

    # -- runs --------------------------------------------------------------------------
    def start_run(self, trainer: Trainer, dataset: Dataset, raw: RawText | None, corpus_text: str | None,
                  describe: str, clip_theta: float | None) -> TrainingRun:
        with _LOCK:
            number = self._next_run
            self._next_run += 1
            run = TrainingRun(number=number, label=f"#{number} {describe}", trainer=trainer, dataset=dataset,
                              raw=raw, corpus_text=corpus_text, clip_theta=clip_theta)
            run.follow_id = runs.register(run, budget_s=trainer.config.max_seconds).id
            self.runs.append(run)
            # keep the chart readable and memory bounded: drop the oldest finished runs
            while len(self.runs) > MAX_CHART_RUNS:
                old = next((r for r in self.runs if not r.running), None)
                if old is None:
                    break
                self.runs.remove(old)
            return run

    def chart_runs(self) -> list[TrainingRun]:
        return list(self.runs)

    def clear_chart(self) -> None:
        with _LOCK:
            self.runs = [r for r in self.runs if r.running]

    def latest_run(self) -> TrainingRun | None:
        return self.runs[-1] if self.runs else None

    def finish_run(self, run: TrainingRun) -> SessionModel | None:
        """Register the run's model (idempotent; cheap -- no file is written here, because on
        Stop this runs in Gradio's event loop as the generator closes)."""
        with _LOCK:
            if run.finished.is_set():
                return self.models.get(run.model_key) if run.model_key else None
            entry = None
            try:
                trainer, ds = run.trainer, run.dataset
                if trainer is None or ds is None or trainer.step == 0:
                    return None
                entry = self._register(run, trainer, ds)
                run.model_key = entry.key
                return entry
            finally:
                run.trainer = run.dataset = None
                run.ended_at = time.monotonic()
                run.finished.set()
                shared = None if entry is None else runs.SharedModel(
                    label=entry.label, checkpoint=entry.checkpoint, raw=entry.raw, corpus_text=entry.corpus_text)
                runs.finish(run.follow_id, shared)   # followers get the same model object, not a copy

    def _register(self, run: TrainingRun, trainer: Trainer, ds: Dataset) -> SessionModel:
        model = trainer.model
        model.eval()
        best = trainer.best_val_ppl
        outcome = run.outcome
        how = ("diverged" if isinstance(outcome, Failed) else
               "stopped" if outcome is None or getattr(outcome, "reason", "") == "stopped" else "done")
        c = model.config
        desc = f"{KIND_NAMES[c.kind]} {c.num_layers}×{c.hidden_size} {ds.config.tokenizer}"
        if run.corpus_text is not None:
            desc += " toy"
        ppl = f" · val ppl {best:.1f}" if best is not None and math.isfinite(best) else ""
        key = f"session:{run.number}"
        label = f"trained here · #{run.number} {desc}{ppl} ({how}, {trainer.step} steps)"
        meta = {"name": key, "metrics": {"best_val_ppl": best, "steps": trainer.step, "history": trainer.history,
                                         "baselines": trainer.baselines},
                "corpus": {"name": ds.raw.name, "sha256": ds.corpus_sha256}}
        ckpt = Checkpoint(name=label, model=model, vocab=ds.vocab, data_config=ds.config,
                          train_config=trainer.config, meta=meta, path=None)
        entry = SessionModel(key=key, label=label, checkpoint=ckpt, raw=run.raw, corpus_text=run.corpus_text,
                             trainer=trainer, dataset=ds)
        self._add_model(entry)
        return entry

    def _add_model(self, entry: SessionModel) -> None:
        """Keep ``entry``; evict the oldest models (and delete their files) beyond the limit."""
        self.models[entry.key] = entry
        limit = max_session_models()
        while len(self.models) > limit:
            _, old = self.models.popitem(last=False)
            old.delete_files()
            self.notes.append(f"Removed {old.label} to keep at most {limit} models in this session. / "
                              f"为节省内存，已移除最早的模型（每个会话最多 {limit} 个）。")

    def add_checkpoint(self, data: bytes, filename: str, max_bytes: int) -> SessionModel:
        """A checkpoint zip the user brought (``pack_checkpoint``'s format), checked by the library --
        ``unpack_checkpoint`` takes only the known file names, ``load_checkpoint`` checks every byte
        and never unpickles -- and kept like a trained model (same limit, same eviction)."""
        from ..checkpoint import load_checkpoint, unpack_checkpoint

        with _LOCK:
            number = self._next_run
            self._next_run += 1
        key = f"session:{number}"
        home = self.workdir() / key.replace(":", "-")
        home.mkdir(parents=True, exist_ok=True)
        try:
            folder = unpack_checkpoint(data, home, max_bytes=max_bytes)
            ckpt = load_checkpoint(folder)
            zip_path = home / f"lyricdemo-{key.replace(':', '-')}.zip"
            zip_path.write_bytes(data)
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise
        ckpt.model.eval()
        c = ckpt.model.config
        name = filename if len(filename) <= 60 else filename[:57] + "…"
        label = (f"uploaded · #{number} {name} — {KIND_NAMES[c.kind]} {c.num_layers}×{c.hidden_size} "
                 f"{ckpt.data_config.tokenizer}")
        entry = SessionModel(key=key, label=label, checkpoint=ckpt, zip_path=zip_path, folder=folder)
        with _LOCK:
            self._add_model(entry)
        return entry

    def follow(self, rid: str) -> None:
        """Remember that this session follows run ``rid`` (its model then shows in the pickers)."""
        with _LOCK:
            self.followed[rid] = None
            self.followed.move_to_end(rid)
            while len(self.followed) > MAX_FOLLOWED:
                self.followed.popitem(last=False)

    def followed_models(self) -> list[tuple[str, runs.SharedModel]]:
        """(run id, model) of the followed runs that ended with a model and are still kept, oldest first."""
        out = []
        for rid in list(self.followed):
            shared = runs.get(rid)
            if shared is not None and shared.model is not None:
                out.append((rid, shared.model))
        return out

    def model_for_run(self, run: TrainingRun) -> SessionModel | None:
        return self.models.get(run.model_key) if run.model_key else None

    def pop_notes(self) -> list[str]:
        with _LOCK:
            notes, self.notes = self.notes, []
            return notes


# ----------------------------------------------------------------------------- after a crash
WORKDIR_PREFIX = "lyricdemo-session-"      # + the server's pid: a folder whose server is gone is stale


def remove_stale_workdirs(root: str | None = None) -> list[Path]:
    """Delete the session folders of servers that are no longer running (killed, so their finalizers
    never ran); called as the app starts.  Returns what was deleted."""
    root_dir = Path(root or tempfile.gettempdir())
    gone = []
    for d in root_dir.glob(f"{WORKDIR_PREFIX}*-*"):
        pid = d.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not d.is_dir() or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:            # someone else's process: not ours to judge
        return True
    return True


# ----------------------------------------------------------------------------- the reaper
_REAPER: threading.Thread | None = None


def reap_idle_sessions(now: float | None = None, idle_seconds: float | None = None) -> int:
    """Close every session idle for longer than ``idle_seconds`` (default: the limit) that
    holds something and is not training; returns how many were closed."""
    now = time.monotonic() if now is None else now
    idle_seconds = session_idle_seconds() if idle_seconds is None else idle_seconds
    closed = 0
    for s in list(_LIVE):
        if s.busy or not s.holds_something() or now - s.last_used <= idle_seconds:
            continue
        s.expire(idle_seconds)
        closed += 1
    return closed


_GRADIO_APPS: weakref.WeakSet = weakref.WeakSet()     # the Blocks whose closed sessions the reaper forgets


def watch_gradio_sessions(demo) -> None:
    """Let the reaper forget ``demo``'s closed sessions (``forget_closed_sessions``)."""
    _GRADIO_APPS.add(demo)


def forget_closed_sessions(holder, idle_seconds: float, now: datetime.datetime | None = None) -> int:
    """Drop from Gradio's ``StateHolder`` every session whose page is gone (its heartbeat ended:
    ``is_closed``) and that has not been used for ``idle_seconds``; returns how many.

    Gradio 6.31 deletes a closed session's ``gr.State`` values an hour after it closed but keeps
    the session itself -- a copy of the app's component configs, ~1.7 MB each here -- until 10,000
    sessions exist (``state_session_capacity``): measured by ``bench/soak.py``, 220 sessions in 20
    minutes grew the server by 438 MB that no idle wait gave back.  A closed session idle as long
    as the reaper's limit is one this app has already closed (``Session.expire``)."""
    now = now or datetime.datetime.now()
    gone = []
    with holder.lock:
        for sid, state in list(holder.session_data.items()):
            used = holder.time_last_used.get(sid)
            if getattr(state, "is_closed", False) and (used is None or (now - used).total_seconds() > idle_seconds):
                gone.append(sid)
    for sid in gone:
        holder.delete_state(sid)              # each gr.State's delete_callback (our Session closes)
        with holder.lock:
            holder.session_data.pop(sid, None)
            holder.time_last_used.pop(sid, None)
    return len(gone)


def give_memory_back() -> None:
    """Return the allocator's free memory to the system (glibc ``malloc_trim``): after sessions
    and runs are let go, their freed pages would otherwise stay in the process (measured: a
    server at 878 MB fell to 685 MB).  Nothing on other C libraries."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reap_all() -> None:
    """One pass of the reaper: idle sessions, finished runs nobody may follow, Gradio's closed
    sessions; then free memory goes back to the system."""
    idle = session_idle_seconds()
    n = reap_idle_sessions(idle_seconds=idle)
    n += runs.reap()
    for demo in list(_GRADIO_APPS):
        holder = getattr(demo, "state_holder", None)
        if holder is not None:
            n += forget_closed_sessions(holder, idle)
    if n:
        give_memory_back()


def start_reaper() -> None:
    """Start the background thread that calls ``reap_idle_sessions`` (once per process)."""
    global _REAPER
    with _LOCK:
        if _REAPER is not None and _REAPER.is_alive():
            return

        def loop():
            while True:
                time.sleep(min(60.0, max(session_idle_seconds() / 4, 1.0)))
                try:
                    reap_all()
                except Exception:   # noqa: BLE001 -- the reaper must outlive any one bad session
                    pass

        _REAPER = threading.Thread(target=loop, name="lyricdemo-session-reaper", daemon=True)
        _REAPER.start()
