"""The class's shared decoding loop in a process of its own, beside the server.

Why: a Python process runs Python code one thread at a time (the interpreter lock).  With
forty students generating, the server's event loop -- Gradio's queue, its streaming, the
handlers -- holds that lock most of the time, and the decoding loop of ``batching.py``
waits for it between its steps: measured here, forty generations of 200 characters that
take 1.5 s alone took 5.1 s beside a thread that held the lock 70% of the time, and
cutting the loop's calls into torch by half did not change that (its Python work is what
waits).  In a process of its own the loop has a lock of its own::

    server (app.py)                                   decoder (python -m lyricdemo.decode_process)
    ProcessPool.submit --{"op": "gen", id, checkpoint folder, prefix, options}-->  BatchPool.submit
    RemoteStream <-------- one message per burst of records: steps, queue positions, ends ---- the loop
    RemoteStream.close -----{"op": "cancel", id}----------------------------------->  leaves the batch

The server keeps what a generation is to the app: its ``GenerationStream`` checks the
prefix and options and makes the ``Generation`` at the end from the steps received, so
the app, the step view and the memorization meter read the same records as before.
The decoder runs the same ``BatchPool`` and ``decode_choice`` code, so a seed gives the
same text in either process (``tests/test_decode_process.py``).

Messages are JSON framed by a 4-byte length on the decoder's stdin and stdout: nothing is
unpickled.  Only shipped checkpoints (a folder the decoder can load by itself) go to the
decoder; a model trained or uploaded in a session, and every generation while the decoder
starts (``import torch`` takes seconds), decode in the server's own ``BatchPool`` as before; so does a
shipped model whose batch already runs there, until that batch empties (one batch per model).
When the server dies the decoder reads the end of its stdin and exits; when the decoder
dies, the generations it held end with a clear message and the next request starts a new one.
``LYRICDEMO_DECODE_PROCESS=0`` keeps all decoding in the server.

What it buys on two cores (``bench/bench_load.py``, like with like, ``bench/RESULTS.md``): in the
class mix the whole 200-character generation's p95 fell from 4.0-4.9 s to 3.0-3.5 s, the first
character staying under 0.6 s; with all forty pressing Generate at once it changed nothing and took
20-30% of the trainings' speed; it costs ~330 MB (a second torch).
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from .batching import END, BatchedStream, BatchPool, QueueFull, Waiting
from .decode_records import Alternatives, Step
from .errors import LyricdemoError
from .generate import DecodeConfig, GenerationStream

_HEADER = struct.Struct("<I")
# The decoder runs at a lower priority than the server: on two cores it would otherwise take a whole one
# while the server answers newcomers on the other.  Measured (bench_load.py, the class mix, alternating):
# nice 5 gave a first character p95 of 0.42/0.55 s and a whole generation p95 of 3.5/3.0 s, nice 0
# 0.76/0.76 s and 2.7/2.7 s.
NICE = 5
RETRY_S = 30.0          # a decoder that died while starting is started again after this long at the earliest
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def send(out: BinaryIO, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def receive(inp: BinaryIO) -> Any | None:
    """The next message, or None at the end of the stream."""
    head = inp.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    data = inp.read(n)
    return None if len(data) < n else json.loads(data)


# ============================================================================ the decoder's side
class _Outbox:
    """Records from the decoding loop, sent in bursts by a writer thread: one message for all the
    rows of a step, not one per row."""

    def __init__(self, out: BinaryIO):
        self.out, self.items, self.cond = out, [], threading.Condition()
        threading.Thread(target=self._write, name="lyricdemo-decode-out", daemon=True).start()

    def put(self, items: list) -> None:
        with self.cond:
            self.items.extend(items)
            self.cond.notify()

    def _write(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.items)
                items, self.items = self.items, []
            send(self.out, {"ev": items})


def _record(rid: int, bs: BatchedStream, item: Any) -> list:
    """One record of a stream as JSON: a step, a queue position, the end, an error."""
    if isinstance(item, Step):
        alt = item.alternatives
        return ["s", rid, item.position, item.id, item.log_prob, item.entropy, list(alt._ids),
                list(alt._log_probs), item.decode_prob, item.candidate]
    if isinstance(item, Waiting):
        return ["w", rid, item.position, item.eta_s]
    if item is END:
        return ["e", rid, bs._chooser.eos_logp, bs.stream.seed, bs.stream._positions]
    code = getattr(item, "code", None)
    return ["x", rid, str(item) or type(item).__name__, code]


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The decoder: read requests until the server closes the pipe."""
    import torch
    torch.set_num_threads(int(os.environ.get("LYRICDEMO_DECODE_THREADS", "1")))
    os.nice(NICE)
    from .checkpoint import load_checkpoint
    # the batch as large as the server's; the server refuses what would wait too long
    pool = BatchPool(max_rows=int(os.environ.get("LYRICDEMO_DECODE_ROWS", "64")), max_waiting=10**6)
    outbox, streams, models = _Outbox(out), {}, {}

    def sink_for(rid: int):
        def sink(bs, items):
            outbox.put([_record(rid, bs, it) for it in items])
            if any(it is END or isinstance(it, BaseException) for it in items):
                streams.pop(rid, None)
        return sink

    outbox.put([["ready"]])
    while (msg := receive(inp)) is not None:
        rid = msg.get("id")
        if msg["op"] == "cancel":
            bs = streams.pop(rid, None)
            if bs is not None:
                bs.close()
            continue
        try:                                                  # "gen"
            ck = models.get(msg["path"])
            if ck is None:
                ck = models[msg["path"]] = load_checkpoint(msg["path"])
            streams[rid] = pool.submit(ck.model, ck.vocab, ck.tokenizer, msg["prefix"],
                                       DecodeConfig.from_dict(msg["config"]), sink=sink_for(rid))
        except Exception as e:                                # noqa: BLE001 -- this request's problem only
            outbox.put([_record(rid, None, e)])
    pool.close(timeout=2.0)                                   # the server is gone: end the loops, then exit


# ============================================================================ the server's side
class _Link:
    """What a ``RemoteStream`` calls when its reader closes it: the decoder is told to drop it."""

    def __init__(self, pool: ProcessPool, rid: int):
        self.pool, self.rid = pool, rid

    def _wake(self) -> None:
        self.pool._cancel(self.rid)


class RemoteStream(BatchedStream):
    """A generation decoded in the decoder, read like a ``BatchedStream`` (``next_events``,
    ``wait_end``, iteration, ``close``, ``result``).  Its records are rebuilt here; the
    ``Generation`` is made here from them, by its own ``GenerationStream``."""

    def __init__(self, pool: ProcessPool, rid: int, stream: GenerationStream, path: str):
        super().__init__(_Link(pool, rid), stream)
        self.rid, self.path = rid, path
        self.rows = 1 if stream.config.effective_strategy == "greedy" else stream.config.num_candidates
        self.steps: list[list[Step]] = [[] for _ in range(self.rows)]
        self.joined = False

    def receive(self, rec: list) -> None:
        """One record from the decoder (called by the pool's reader thread)."""
        kind = rec[0]
        if kind == "s":
            _, _, position, i, log_prob, entropy, alt_ids, alt_lps, decode_prob, cand = rec
            names = self.stream.vocab.idx_to_token
            step = Step(position=position, token=names[i], id=i, prob=math.exp(log_prob), log_prob=log_prob,
                        entropy=entropy, alternatives=Alternatives(names, alt_ids, alt_lps),
                        decode_prob=decode_prob, candidate=cand)
            if not self.joined:
                self.joined = True
                self.stream.count_position(time.perf_counter() - self.submitted)
            self.steps[cand].append(step)
            self._push([step])
        elif kind == "w":
            self._push([Waiting(rec[2], rec[3])])
        elif kind == "e":
            self._end(eos_logp=rec[2], seed=rec[3], positions=rec[4])
        else:
            self._fail(LyricdemoError(rec[2], code=rec[3] or "decode_failed"))

    def _end(self, eos_logp: list, seed: int | None, positions: int) -> None:
        s = self.stream
        s.seed = seed
        cands = [s.make_candidate(b, [st.id for st in self.steps[b]], self.steps[b], eos_logp[b], None)
                 for b in range(self.rows)]
        cands.sort(key=lambda c: -c.mean_log_prob)               # as Chooser.candidates: ties keep sample order
        busy = time.perf_counter() - self.submitted
        s.finish(cands, busy, positions=positions)
        self.batcher.pool.measured(busy, positions)
        self._finish()


class ProcessPool:
    """``BatchPool``'s ``submit`` and ``stats``, decoding shipped checkpoints in the decoder and
    everything else (and everything while the decoder starts) in ``local``, the server's own
    ``BatchPool``.  ``shipped``: the folder whose checkpoints the decoder may load."""

    def __init__(self, local: BatchPool, shipped: Path, threads: int = 1):
        self.local, self.shipped, self.threads = local, Path(shipped).resolve(), threads
        self.max_rows, self.max_waiting = local.max_rows, local.max_waiting
        self._lock, self._send_lock = threading.Lock(), threading.Lock()
        self.step_s: float | None = None                          # the decoder's time per position, measured here
        self._proc: subprocess.Popen | None = None
        self._ready = self._was_ready = False
        self._started_at = 0.0
        self._live: dict[int, RemoteStream] = {}
        self._next_id = 0
        self.started = 0                                          # decoders started so far

    # -- the decoder ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the decoder if none runs (it reports ready once torch is imported).  One that died
        before it was ever ready is not started again for ``RETRY_S`` seconds: a decoder that cannot
        start (a broken install) would otherwise be spawned again by every request, which the server
        meanwhile serves itself."""
        with self._lock:
            if self._proc is not None and (self._proc.poll() is None or
                                           (not self._was_ready and time.monotonic() - self._started_at < RETRY_S)):
                return
            env = dict(os.environ, LYRICDEMO_DECODE_THREADS=str(self.threads),
                       LYRICDEMO_DECODE_ROWS=str(self.max_rows),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])))
            self._proc = subprocess.Popen([sys.executable, "-m", "lyricdemo.decode_process"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, env=env)
            self._ready = self._was_ready = False
            self._started_at = time.monotonic()
            self.started += 1
            threading.Thread(target=self._read, args=(self._proc,), name="lyricdemo-decode-in", daemon=True).start()

    def ready(self) -> bool:
        return self._ready and self._proc is not None and self._proc.poll() is None

    def _read(self, proc: subprocess.Popen) -> None:
        while (msg := receive(proc.stdout)) is not None:
            for rec in msg["ev"]:
                if rec[0] == "ready":
                    self._ready = self._was_ready = True
                    continue
                with self._lock:
                    rs = self._live.get(rec[1])
                    if rs is not None and rec[0] in "ex":
                        del self._live[rec[1]]
                if rs is not None:
                    rs.receive(rec)
        try:             # the pipe closes a moment before the process can be reaped: reap it first, so that once
            proc.wait(timeout=5)          # ready() is False, start() sees it ended and starts another
        except subprocess.TimeoutExpired:
            pass
        with self._lock:                                          # the decoder ended: its requests end too
            if self._proc is proc:
                self._ready = False
            lost = list(self._live.values())
            self._live.clear()
        for rs in lost:
            rs._fail(LyricdemoError("The decoding process stopped; please generate again. / "
                                    "解码进程已停止，请重新生成。", code="decoder_stopped"))

    def _send(self, message: dict) -> bool:
        proc = self._proc
        try:
            with self._send_lock:                                 # one frame at a time on the pipe
                send(proc.stdin, message)
            return True
        except (OSError, ValueError, AttributeError):             # the decoder is gone
            return False

    def _cancel(self, rid: int) -> None:
        with self._lock:
            known = self._live.pop(rid, None) is not None
        if known:
            self._send({"op": "cancel", "id": rid})

    # -- the pool ------------------------------------------------------------------------------
    def submit(self, model: Any, vocab, tokenizer, prefix: str | None = "", config: DecodeConfig | None = None,
               path: Path | None = None) -> BatchedStream:
        """Queue one generation: in the decoder when ``path`` is a shipped checkpoint's folder and the
        decoder is ready, else in ``local``.  Checks and refusals as ``BatchPool.submit``."""
        if path is None or not self._is_shipped(path) or self.local.running(model):   # one batch per model:
            return self.local.submit(model, vocab, tokenizer, prefix, config)        # where it already runs
        if not self.ready():
            self.start()
            return self.local.submit(model, vocab, tokenizer, prefix, config)
        stream = GenerationStream(model, vocab, tokenizer, prefix, config)     # checks the prefix and options
        rows = 1 if stream.config.effective_strategy == "greedy" else stream.config.num_candidates
        if rows > self.max_rows:
            raise LyricdemoError(f"{rows} samples at once is more than a batch holds ({self.max_rows}).",
                                 code="batch_too_many", rows=rows, limit=self.max_rows)
        with self._lock:                     # BatchPool.submit's rule, over both pools' waiting requests
            queued = [rs for rs in self._live.values() if rs.path == str(path)]
            full = sum(rs.rows for rs in queued) + rows > self.max_rows
            waiting = self.local.overflow() + self._overflow()
            if full and waiting >= self.max_waiting:
                raise QueueFull(waiting, self._eta())
            self._next_id += 1
            rs = RemoteStream(self, self._next_id, stream, str(path))
            self._live[rs.rid] = rs
        if not self._send({"op": "gen", "id": rs.rid, "path": str(path), "prefix": prefix,
                           "config": stream.config.to_dict()}):
            with self._lock:
                self._live.pop(rs.rid, None)
            return self.local.submit(model, vocab, tokenizer, prefix, config)
        return rs

    def _is_shipped(self, path: Path) -> bool:
        try:
            return Path(path).resolve().parent == self.shipped
        except OSError:
            return False

    def _overflow(self) -> int:
        """The decoder's requests that cannot be in their model's batch yet (under the lock)."""
        n, rows = 0, {}
        for rs in self._live.values():       # in submission order, as the decoder takes them in
            rows[rs.path] = rows.get(rs.path, 0) + rs.rows
            n += rows[rs.path] > self.max_rows
        return n

    def _eta(self) -> float | None:
        """Seconds until a generation now decoding ends (from the measured time per position), under the lock."""
        left = [rs.stream.config.length - len(rs.steps[0]) for rs in self._live.values() if rs.joined]
        return None if self.step_s is None or not left else max(min(left), 0) * self.step_s

    def measured(self, busy_s: float, positions: int) -> None:
        """A generation ended after ``positions`` positions in ``busy_s`` seconds: the running step time."""
        if positions:
            dt = busy_s / positions
            self.step_s = dt if self.step_s is None else 0.8 * self.step_s + 0.2 * dt

    def stats(self) -> list[dict]:
        """``BatchPool.stats`` of the local loops, and one line for the decoder's requests."""
        out = self.local.stats()
        with self._lock:
            live = list(self._live.values())
        if live:
            joined = [rs for rs in live if rs.joined]
            out.append({"rows": sum(rs.rows for rs in joined), "waiting": len(live) - len(joined), "joining": 0,
                        "steps": None, "step_s": None, "peak_rows": None})
        return out

    def loops(self) -> int:
        return self.local.loops() + (1 if self.ready() else 0)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the decoder and the local loops (tests; a server never needs it)."""
        with self._lock:
            proc, self._proc, self._ready = self._proc, None, False
        if proc is not None:
            proc.stdin.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.local.close(timeout)


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")          # the messages' own copy of stdout ...
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())              # ... and anything printed goes to stderr
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
