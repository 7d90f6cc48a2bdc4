"""Continuous batching: many live generations of one model share one forward pass per step.

A recurrent model decodes one token per step.  At batch 1 that step costs mostly the
fixed price of each call (see ``models/stepper.py``), so forty students asking the
same model at the same moment can share one forward pass per step for little more
than the price of one.  A ``Batcher`` runs one decoding loop per model, in its own
thread::

    submit(prefix, config) --> waiting --(room in the batch)--> warm-up over its prefix (its own call)
                                                        --> joins the running batch
    each step:  one forward pass over every active row  -->  each request chooses its own next token
                (its options, its seeded torch.Generator, its repetition memory: decode_choice.Chooser)
    a request leaves the batch when it is done, fails, or its client closed its stream

Requests join and leave between steps, so a newcomer never waits for the others to
finish.  Everything that makes a request's text -- strategy, temperature, top-k, top-p,
repetition penalty, seed -- stays its own: the per-request choice is
``decode_choice.Chooser``, the very code ``generate.stream`` runs alone, and the prefix
warm-up is the same call.  Only the forward pass of the later steps is shared.

**The same seed gives the same text batched or alone** -- with one caveat that is a
matter of floating point, not of design: the BLAS library computes a matrix product
of 1 row and one of 40 rows with different kernels, so the shared step's logits agree
with the lone step's to about 1e-6, not bit for bit (measured on the shipped models:
at most 5e-6).  A sampled token could therefore differ only if its uniform draw fell
within that distance of a boundary of the cumulative distribution, and a greedy one
only on a near-tie of that size; ``tests/test_batching.py`` checks that several
requests with different options produce exactly the tokens they produce alone.

What does not batch runs alone, as before: beam search (its rows are re-ranked and
re-ordered every step; it could share the pass too, but it is rare in a classroom and
streams only at its end), a model in training mode (its weights are moving) and a
model without ``init_state``.  ``batchable`` says which.

A loop whose model has had no request for ``idle_s`` seconds ends its thread and
drops the model, so an evicted model is freed and the thread count returns to where it
was.  The pool refuses a request at once, with a clear message and an estimate of
when to try again (``QueueFull``), when more than ``max_waiting`` are already waiting
for room; a request that is accepted streams ``Waiting`` records (its position and an
estimated wait) until it joins, then its ``Step`` records: it is never silent for long.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import LyricdemoError
from .decode_choice import choose_together
from .generate import DecodeConfig, Generation, GenerationStream, Step
from .models.state import cat_states, narrow_state
from .tokenizers import Tokenizer
from .vocab import Vocab

EMA = 0.2                      # weight of the newest measurement in the running step time


class QueueFull(LyricdemoError):
    """Refused at once: the batch is full and too many are waiting.  ``retry_after_s`` is an
    estimate (from measured step times) of when room frees up, or None before any measurement."""

    def __init__(self, waiting: int, retry_after_s: float | None):
        self.waiting, self.retry_after_s = waiting, retry_after_s
        if retry_after_s is None:
            super().__init__(f"The generation queue is full ({waiting} waiting); try again in a few seconds.",
                             code="queue_full", waiting=waiting)
        else:
            seconds = max(1, math.ceil(retry_after_s))
            super().__init__(f"The generation queue is full ({waiting} waiting); try again in ~{seconds} s.",
                             code="queue_full_retry", waiting=waiting, seconds=seconds)


@dataclass(frozen=True)
class Waiting:
    """A request not yet in the batch: ``position`` 1 joins next; ``eta_s`` estimates when
    (None before the loop has measured a step)."""

    position: int
    eta_s: float | None


def batchable(model: Any, config: DecodeConfig) -> bool:
    """Can this request share a batch?  Greedy or sampling, on a model in eval mode that answers
    ``init_state`` (see the module docstring for why the others run alone)."""
    if config.effective_strategy == "beam" or not hasattr(model, "init_state"):
        return False
    return not (isinstance(model, nn.Module) and model.training)


# ----------------------------------------------------------------------------- the consumer's end
_END = END = object()          # the record that ends a stream (``END`` for a sink)


class BatchedStream(Iterator["Step | Waiting"]):
    """One request's stream: ``Waiting`` records while it waits to join, then its ``Step``
    records, as ``generate.stream`` yields them; ``result()`` gives the ``Generation``.

    ``close()`` (or dropping out of a ``for`` loop and closing) takes it out of the batch
    at the next step.  An error of this request (and only of this one) is raised to its
    consumer."""

    def __init__(self, batcher: Batcher, stream: GenerationStream, sink=None):
        self.batcher, self.stream = batcher, stream
        self._sink = sink                        # sink(self, items): takes the records instead (decode_process.py)
        self.prefix = stream.prefix
        self.config = stream.config
        self.submitted = time.perf_counter()
        self._cond = threading.Condition()
        self._events: deque = deque()
        self._error: BaseException | None = None
        self._ended = False                      # the consumer has seen the end
        self._buffer: deque = deque()            # read by next_events, not yet handed out by __next__
        self._over = threading.Event()           # set when the end (or an error) is pushed
        self.cancelled = False
        # the batcher's bookkeeping (touched only by its thread)
        self._chooser = None
        self._logits: torch.Tensor | None = None
        self._state: Any = None
        self._fresh = False                      # state not yet in the batch's shared state
        self._offset = 0
        self._nxt: torch.Tensor | None = None
        self._told: int | None = None            # the queue position it was last told

    # -- the batcher pushes --------------------------------------------------------------
    def _push(self, items: list) -> None:
        if not items:
            return
        if self._sink is not None:
            self._sink(self, items)
            return
        with self._cond:
            self._events.extend(items)
            self._cond.notify_all()

    def _fail(self, error: BaseException) -> None:
        if self._sink is not None:
            self._sink(self, [error])
        with self._cond:
            self._error = error
            self._events.append(_END)
            self._cond.notify_all()
        self._over.set()

    def _finish(self) -> None:
        """The stream ended with its ``Generation`` (``GenerationStream.finish``): tell the consumer."""
        self._push([_END])
        self._over.set()

    def wait_end(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early only when the request ends (not for each
        token, unlike ``next_events``): for a consumer that reads at its own pace."""
        return self._over.wait(timeout)

    # -- the consumer reads ----------------------------------------------------------------
    def next_events(self, timeout: float | None = None) -> list:
        """What arrived (``Step`` and ``Waiting`` records), waiting up to ``timeout`` seconds for
        at least one; ``[]`` on a timeout or at the end (see ``ended``).  Raises this request's error."""
        if self._buffer:                          # read earlier by __next__
            out, self._buffer = list(self._buffer), deque()
            return out
        with self._cond:
            if not self._events and not self._ended:
                self._cond.wait_for(lambda: bool(self._events), timeout)
            out = []
            while self._events:
                item = self._events.popleft()
                if item is _END:
                    self._ended = True
                    if self._error is not None:
                        raise self._error
                    break
                out.append(item)
            return out

    @property
    def ended(self) -> bool:
        return self._ended

    def __iter__(self) -> BatchedStream:
        return self

    def __next__(self) -> Step | Waiting:
        while not self._buffer:
            if self._ended:
                raise StopIteration
            self._buffer.extend(self.next_events(None))
        return self._buffer.popleft()

    def close(self) -> None:
        """Leave the batch (or the waiting line) at the next step; ``result()`` is then unavailable."""
        with self._cond:
            self.cancelled = True
            self._buffer.clear()
            self._events.clear()
            self._events.append(_END)            # a reader (result(), another thread) ends at once
            self._cond.notify_all()
        self._over.set()
        self.batcher._wake()

    def result(self) -> Generation:
        """Wait for the end and return the ``Generation`` (times are wall-clock since it was
        submitted: waiting and the shared steps included)."""
        for _ in self:
            pass
        if self.stream.generation is None:
            raise LyricdemoError("The generation was stopped before it finished.", code="generation_stopped")
        return self.stream.generation


# ----------------------------------------------------------------------------- one model's loop
class Batcher:
    """The decoding loop of one model, in its own thread, started by the first request and
    ended after ``idle_s`` seconds without one (see the module docstring)."""

    def __init__(self, pool: BatchPool, model: Any, max_rows: int, idle_s: float):
        self.pool, self.model, self.max_rows, self.idle_s = pool, model, max_rows, idle_s
        self.waiting: deque[BatchedStream] = deque()
        self.active: list[BatchedStream] = []
        self.joining: list[BatchedStream] = []   # taken from ``waiting``, warming up on their prefix
        self.step_s: float | None = None         # running mean of one shared step's time
        self.steps = 0                           # shared forward passes so far
        self.peak_rows = 0
        self._cond = threading.Condition(pool._lock)
        self._stopped = False
        self._members: list[BatchedStream] = []  # the rows of the shared state, in order
        self._state: Any = None                  # the shared state after the last forward pass
        self._logits: torch.Tensor | None = None # and its logits (N, V), the members' rows in order
        name = getattr(getattr(model, "config", None), "kind", type(model).__name__)
        self.thread = threading.Thread(target=self._loop, name=f"lyricdemo-batch-{name}", daemon=True)

    # -- called under the pool's lock ------------------------------------------------------
    def _add(self, bs: BatchedStream) -> None:
        self.waiting.append(bs)
        self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def rows(self) -> int:
        return sum(bs._chooser.rows for bs in self.active if bs._chooser is not None)

    def rows_queued(self) -> int:
        """Rows decoding now plus rows of the requests submitted but not yet taken in."""
        return self.rows() + sum(self._rows_wanted(bs) for bs in [*self.joining, *self.waiting])

    def overflow(self) -> int:
        """Waiting requests that will not fit in the batch when the loop next takes them in."""
        room, n = self.max_rows - self.rows(), 0
        for bs in self.waiting:
            need = self._rows_wanted(bs)
            if n or need > room:
                n += 1
            else:
                room -= need
        return n

    def eta(self, position: int) -> float | None:
        """Seconds until the ``position``-th waiting request (1-based) may join: the time until that
        many active rows end, from their remaining steps and the measured step time."""
        if self.step_s is None:
            return None
        left = sorted(max(bs.config.length - (bs._chooser.t if bs._chooser else 0), 0) for bs in self.active)
        free = self.max_rows - self.rows()
        need = position - free
        if need <= 0 or not left:
            return 0.0
        return left[min(need, len(left)) - 1] * self.step_s

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while self._admit():
                self._round()
        finally:
            with self._cond:
                self._stopped = True
                for bs in [*self.waiting, *self.joining, *self.active]:   # only on a crash of the loop itself
                    bs._fail(LyricdemoError("The generation loop stopped.", code="batch_loop_stopped"))
                self.waiting.clear()
                self.active.clear()
                self.pool._forget(self)
            self.model = None

    def _admit(self) -> bool:
        """Take cancelled requests out, let waiting ones in while there is room; tell those left
        waiting where they stand.  False when the loop should end (idle for ``idle_s``)."""
        with self._cond:
            while not self.active and not self.waiting:
                if not self._cond.wait(self.idle_s) and not self.active and not self.waiting:
                    self._stopped = True          # under the lock: no request can join a loop that ends
                    self.pool._forget(self)
                    return False
            self.active = [bs for bs in self.active if not bs.cancelled]
            for bs in [bs for bs in self.waiting if bs.cancelled]:
                self.waiting.remove(bs)
            joining = []
            room = self.max_rows - self.rows()
            while self.waiting and self._rows_wanted(self.waiting[0]) <= room:
                bs = self.waiting.popleft()
                room -= self._rows_wanted(bs)
                joining.append(bs)
            self.joining = list(joining)         # neither waiting nor active while they warm up
            waiting = list(self.waiting)
        for bs in joining:
            self._join(bs)
        for i, bs in enumerate(waiting, 1):
            if bs._told != i:
                bs._told = i
                bs._push([Waiting(i, self.eta(i))])
        return True

    @staticmethod
    def _rows_wanted(bs: BatchedStream) -> int:
        return 1 if bs.config.effective_strategy == "greedy" else bs.config.num_candidates

    def _join(self, bs: BatchedStream) -> None:
        """The warm-up over the request's prefix, on its own (as ``generate.stream`` does it)."""
        try:
            logits, state, chooser = bs.stream.start_sampling()
        except Exception as e:                   # noqa: BLE001 -- this request's problem only
            with self._cond:
                self.joining.remove(bs)
            bs._fail(e)
            return
        bs._chooser, bs._logits, bs._state, bs._fresh = chooser, logits, state, True
        with self._cond:
            self.joining.remove(bs)
            self.active.append(bs)
            self.peak_rows = max(self.peak_rows, self.rows())

    def _round(self) -> None:
        """Every active request chooses its next tokens (all rows in one ``choose_together``), then
        the survivors' tokens go through one forward pass together."""
        live = [bs for bs in self.active if not bs.cancelled]
        survivors: list[BatchedStream] = []
        with torch.inference_mode():
            if live:
                same = not any(bs._fresh for bs in live) and len(live) == len(self._members) and \
                    all(a is b for a, b in zip(live, self._members))
                logits = self._logits if same else torch.cat([bs._logits for bs in live])
                results = choose_together([bs._chooser for bs in live], logits)
            for bs, out in zip(live, results if live else []):
                if isinstance(out, BaseException):
                    bs._fail(out)                # this request's problem only
                    continue
                bs._nxt, steps = out
                bs.stream.count_position(time.perf_counter() - bs.submitted)
                bs._push(steps)
                if bs._chooser.finished:
                    self._end(bs)
                    continue
                survivors.append(bs)
            if survivors:
                self._forward(survivors)
        with self._cond:
            self.active = [bs for bs in survivors if not bs.cancelled]

    def _forward(self, rows: list[BatchedStream]) -> None:
        t0 = time.perf_counter()
        try:
            same = not any(bs._fresh for bs in rows) and len(rows) == len(self._members) and \
                all(a is b for a, b in zip(rows, self._members))
            if same:
                state = self._state
            else:
                state = cat_states([bs._state if bs._fresh else narrow_state(self._state, bs._offset, bs._chooser.rows)
                                     for bs in rows])
            ids = torch.cat([bs._nxt for bs in rows])
            step = rows[0].stream.choose_path()[1]           # the model's one-step path (its stepper)
            logits, state = step(ids, state)
            logits = logits.float()
        except Exception as e:                   # noqa: BLE001 -- the shared pass failed: all its rows end
            for bs in rows:
                bs._fail(e)
            rows.clear()
            self._members, self._state, self._logits = [], None, None
            return
        offset = 0
        for bs in rows:
            n = bs._chooser.rows
            bs._logits, bs._offset, bs._fresh, bs._state = logits[offset:offset + n], offset, False, None
            offset += n
        self._members, self._state, self._logits = list(rows), state, logits
        dt = time.perf_counter() - t0
        self.steps += 1
        self.step_s = dt if self.step_s is None else (1 - EMA) * self.step_s + EMA * dt

    def _end(self, bs: BatchedStream) -> None:
        try:
            bs.stream.finish(bs._chooser.candidates(), time.perf_counter() - bs.submitted)
            bs._finish()
        except Exception as e:                   # noqa: BLE001
            bs._fail(e)


# ----------------------------------------------------------------------------- the pool
class BatchPool:
    """One ``Batcher`` per model (keyed by the model object), created on demand and dropped
    when its loop ends.  ``max_rows``: sequences one model's batch decodes at once;
    ``max_waiting``: requests waiting for room, over all models, before new ones are refused."""

    def __init__(self, max_rows: int = 64, max_waiting: int = 64, idle_s: float = 5.0):
        if max_rows < 1 or max_waiting < 0 or idle_s <= 0:
            raise LyricdemoError(f"max_rows must be >= 1, max_waiting >= 0, idle_s > 0; got "
                                 f"{max_rows}, {max_waiting}, {idle_s}.")
        self.max_rows, self.max_waiting, self.idle_s = max_rows, max_waiting, idle_s
        self._lock = threading.Lock()
        self._batchers: dict[int, Batcher] = {}

    def submit(self, model: Any, vocab: Vocab, tokenizer: Tokenizer | str, prefix: str | None = "",
               config: DecodeConfig | None = None, sink=None, path=None) -> BatchedStream:
        """Queue one generation on its model's loop.  The prefix and options are checked here
        (a ``LyricdemoError`` at once); ``QueueFull`` when too many wait already.  ``path``, the
        model's checkpoint folder, is for ``decode_process.ProcessPool`` (same call): unused here.
        ``sink(stream, records)``, when given, receives the stream's records (``Step``, ``Waiting``, the end
        marker ``END``, an exception) as they come instead of the stream keeping them for a reader."""
        stream = GenerationStream(model, vocab, tokenizer, prefix, config)
        if not batchable(model, stream.config):
            raise LyricdemoError("This request cannot share a batch (beam search, or a model in training); "
                                 "use generate.stream.", code="not_batchable")
        with self._lock:
            waiting = self._overflow()
            b = self._batchers.get(id(model))
            if b is not None and (b.model is not model or b._stopped):
                b = None
            rows_wanted = Batcher._rows_wanted(stream)
            if rows_wanted > self.max_rows:
                raise LyricdemoError(f"{rows_wanted} samples at once is more than a batch holds ({self.max_rows}).",
                                     code="batch_too_many", rows=rows_wanted, limit=self.max_rows)
            full = b is not None and b.rows_queued() + rows_wanted > self.max_rows
            if full and waiting >= self.max_waiting:
                raise QueueFull(waiting, b.eta(b.overflow() + 1))
            if b is None:
                b = Batcher(self, model, self.max_rows, self.idle_s)
                self._batchers[id(model)] = b
                b.thread.start()
            bs = BatchedStream(b, stream, sink)
            b._add(bs)
        return bs

    def _overflow(self) -> int:
        return sum(b.overflow() for b in self._batchers.values())

    def overflow(self) -> int:
        """Requests waiting for room in their model's batch, all models together."""
        with self._lock:
            return self._overflow()

    def running(self, model: Any) -> bool:
        """Has this model's loop rows decoding or requests waiting?"""
        with self._lock:
            b = self._batchers.get(id(model))
            return b is not None and b.model is model and not b._stopped and b.rows_queued() > 0

    def _forget(self, batcher: Batcher) -> None:
        """Called by a loop as it ends, under the lock."""
        for k, b in list(self._batchers.items()):
            if b is batcher:
                del self._batchers[k]

    def loops(self) -> int:
        """Decoding loops running now."""
        with self._lock:
            return len(self._batchers)

    def stats(self) -> list[dict]:
        """Per running loop: rows decoding, requests waiting, shared steps so far, the measured step
        time and the most rows it has decoded at once."""
        with self._lock:
            return [{"rows": b.rows(), "waiting": len(b.waiting), "joining": len(b.joining),
                     "steps": b.steps, "step_s": b.step_s,
                     "peak_rows": b.peak_rows} for b in self._batchers.values()]

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every request and wait for the loops to end (tests; a server never needs it)."""
        with self._lock:
            batchers = list(self._batchers.values())
            for b in batchers:
                for bs in [*b.waiting, *b.active]:
                    bs.cancelled = True
                b.idle_s = min(b.idle_s, 0.01)
                b._cond.notify_all()
        for b in batchers:
            b.thread.join(timeout)
