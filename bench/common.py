"""Helpers shared by the benchmarks: the d2l reference, timing, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = REPO.parent / "shared" / "bench"
sys.path.insert(0, str(REPO))


def d2l_reference():
    """Import ``../shared/bench/d2l_reference.py`` (never copied into this project)."""
    if not (SHARED_BENCH / "d2l_reference.py").is_file():
        raise SystemExit(f"the d2l reference is not at {SHARED_BENCH}: benchmarks compare against it")
    sys.path.insert(0, str(SHARED_BENCH))
    import d2l_reference

    return d2l_reference


def corpus_path() -> str:
    from lyricdemo.corpus import default_corpus_path

    p = default_corpus_path()
    if not p.is_file():
        raise SystemExit(f"{p} is missing: copy the corpus there (see data/README.md)")
    return str(p)


def timeit(fn, repeat: int = 5, warmup: int = 1) -> tuple[float, float]:
    """(median seconds, min seconds) of ``fn()`` over ``repeat`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def arguments(doc: str, **defaults):
    """Parse the command line of a benchmark whose options are ``--name`` with these defaults (the
    type of each default is the option's type, a bool one is a switch; ``train_steps`` is ``--train-steps``); the first
    line of ``doc`` describes it."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    for name, value in defaults.items():
        if isinstance(value, bool):         # a switch: --name sets it
            ap.add_argument("--" + name.replace("_", "-"), action="store_true", default=value)
        else:
            ap.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return ap.parse_args()


def machine() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a server's decoder, ``lyricdemo/decode_process.py``)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out
