"""How many threads a training may use: an even share of the machine's cores among the trainings on it.

Two trainings that each take every core run far slower than one: measured on a 2-core machine (issue 16),
two default ``train`` runs started at once each got 0.31x of one run's tokens/s (four busy-waiting
torch threads on two cores), and neither beat the bigram in its budget.  So each training claims
its threads in a small file (``<pid>-<n>.json`` in ``claims_dir()``) while it runs, and every
training takes an even share of the cores (``Share``: at least one thread), asking again as it runs.

A claim of a process that is gone (killed, crashed) does not count: it is removed when seen.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .corpus import atomic_write_bytes
from .environment import env_number

CLAIMS_ENV = "LYRICDEMO_CLAIMS_DIR"
_SERIAL = itertools.count()


def machine_cores() -> int:
    """The cores this process may use: ``CPU_CORES`` (set on Hugging Face Spaces; a wrong value is
    an error), else the cores it may run on (``os.sched_getaffinity``)."""
    try:
        seen = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        seen = os.cpu_count() or 1
    return env_number("CPU_CORES", max(1, seen), 1, 4096)


def claims_dir() -> Path:
    """Where trainings on this machine leave their claims (``LYRICDEMO_CLAIMS_DIR`` overrides)."""
    return Path(os.environ.get(CLAIMS_ENV) or Path(tempfile.gettempdir()) / "lyricdemo-trainings")


@dataclass(frozen=True)
class Claim:
    pid: int
    threads: int
    what: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # another user's process: alive
        return True
    return True


def others() -> list[Claim]:
    """The claims of other live processes (those of dead ones are removed; this process's own
    trainings are its own business)."""
    out = []
    folder = claims_dir()
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            d = json.loads(f.read_text())
            claim = Claim(int(d["pid"]), int(d["threads"]), str(d.get("what", "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue                    # half-written or foreign: not ours to judge
        if claim.pid == os.getpid():
            continue
        if not _alive(claim.pid):
            f.unlink(missing_ok=True)
            continue
        out.append(claim)
    return out


def fair_share(own: int = 1) -> tuple[int, list[Claim]]:
    """(threads for each of this process's ``own`` trainings, the other processes' trainings): the
    cores split evenly among every training on the machine, at least one each.  A training asks
    again as it runs (``Share``), so the first of two gives back half its cores when the second
    starts, and takes them again when it ends."""
    running = others()
    return max(1, machine_cores() // (own + len(running))), running


class Share:
    """A training's claim, kept fair while it runs: ``update()`` (cheap; it reads the claims at most
    every ``every_s`` seconds) returns the new thread count when it changed, else None.  ``fixed``:
    a training whose threads are set otherwise (the app's, which share the process's torch threads)
    claims that many and keeps them."""

    def __init__(self, what: str = "training", every_s: float = 2.0, fixed: int | None = None):
        self.what, self.every_s, self.fixed = what, every_s, fixed
        self.threads, self.running = fair_share() if fixed is None else (fixed, others())
        self._path = claims_dir() / f"{os.getpid()}-{next(_SERIAL)}.json"        # a process may run several
        self._seen = time.monotonic()
        self._write()

    def _write(self) -> None:
        try:
            atomic_write_bytes(self._path, json.dumps({"pid": os.getpid(), "threads": self.threads,
                                                       "what": self.what}).encode())
        except OSError:                 # no writable claims folder: this training trains, uncounted
            pass

    def update(self) -> int | None:
        if self.fixed is not None or time.monotonic() - self._seen < self.every_s:
            return None
        self._seen = time.monotonic()
        threads, self.running = fair_share()
        if threads == self.threads:
            return None
        self.threads = threads
        self._write()
        return threads

    def close(self) -> None:
        try:
            self._path.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self) -> Share:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
