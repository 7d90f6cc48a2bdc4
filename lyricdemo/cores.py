"""How many threads a training may use: the machine's cores, less those other trainings hold.

Two trainings that each take every core run far slower than one: measured on a 2-core machine,
two default ``train`` runs started at once each got 0.31x of one run's tokens/s (four busy-waiting
torch threads on two cores), and neither beat the bigram in its budget.  So each training claims
its threads in a small file (``<pid>-<n>.json`` in ``claims_dir()``) while it runs, and the next one
sizes itself to the cores nobody claimed -- at least one thread, and it says so.

A claim of a process that is gone (killed, crashed) does not count: it is removed when seen.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def free_threads() -> tuple[int, list[Claim]]:
    """(threads a new training should use, the other trainings running): the cores nobody claimed,
    at least one."""
    running = others()
    return max(1, machine_cores() - sum(c.threads for c in running)), running


@contextmanager
def claim(threads: int, what: str = "training") -> Iterator[None]:
    """Hold ``threads`` cores for this process while the block runs."""
    path = claims_dir() / f"{os.getpid()}-{next(_SERIAL)}.json"        # a process may run several
    atomic_write_bytes(path, json.dumps({"pid": os.getpid(), "threads": int(threads), "what": what}).encode())
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
