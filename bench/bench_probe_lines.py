"""Benchmark: tab 4's ``/probe`` handler on 16 lines of lyrics with the shipped char GRU (issue 13: < 2 s).

    python bench/bench_probe_lines.py [--lines 16] [--repeat 5] [--model char-gru] [--all-units]

Server side only (``tab_inside.probe`` as the page calls it: the probe, every default figure and HTML
view, serialised as Gradio sends them); the browser's drawing is not included.  The text is the first
``--lines`` non-empty lines of the corpus in use (the d2l lyrics when present).  Prints the median and
best of the repeats (the first call, which loads the checkpoint, is reported apart) and the load
average: on a shared 2-core machine other jobs change every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import common  # noqa: F401  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default="char-gru")
    ap.add_argument("--all-units", action="store_true")
    a = ap.parse_args()
    import torch

    from lyricdemo.ui import limits, resources, tab_inside
    from lyricdemo.ui.session import Session

    torch.set_num_threads(limits.torch_threads())
    raw = resources.builtin_corpus(resources.corpus_in_use().key)
    lines = [ln for ln in raw.text.splitlines() if ln.strip()][: a.lines]
    text = "\n".join(lines)
    session = Session()
    key = f"shipped:{a.model}"
    args = (session, key, text, 1, 0, "variance", "line starts", "", a.all_units)
    print(f"load average before: {os.getloadavg()[0]:.2f} · torch threads {torch.get_num_threads()}")
    t0 = time.perf_counter()
    out = tab_inside.probe(*args)
    first = time.perf_counter() - t0
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        out = tab_inside.probe(*args)
        for fig in (out[1], out[3], out[8], out[9], out[11], out[13]):      # as Gradio sends them
            fig.to_json()
        times.append(time.perf_counter() - t0)
    data = out[4]
    print(f"{a.model}: {a.lines} lines, {len(text)} characters, {data['shape'][0]} tokens, {data['shape'][1]} units"
          f"{' (all units drawn)' if a.all_units else ''}")
    print(f"/probe handler + figures serialised: median {statistics.median(times) * 1000:.0f} ms, "
          f"best {min(times) * 1000:.0f} ms over {a.repeat} (first call, loading the checkpoint: {first * 1000:.0f} ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
