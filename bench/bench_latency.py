"""Benchmark: time per app action, through gradio_client against a started app, beside the goals.

    python bench/bench_latency.py [--repeat 5] [--threads 1]

Starts ``python app.py`` (start to first HTTP 200 is the first figure), then times each action as
one ``gradio_client`` call from this process on the same machine: the server's work plus the local
HTTP/queue round trip (what a page waits for, without the browser's rendering).  Each action runs
``--repeat`` times after one warm-up; the median and the minimum are printed beside the goal of
issue 16 part 4 (on a quiet 2-core machine).  The 1-minute load average is printed beside every
figure: on a shared machine the figures move with it.

The text probed is made up here (16 short lines), never corpus text.  The app uses the d2l corpus
when it is in data/, else its embedded one; the first shipped model in the picker is used.
"""

from __future__ import annotations

import argparse
import os

from bench_app import start_app, stop
from common import machine, timeit

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

LINES = ["月光洒在小河上", "风吹过我的窗", "你在远方唱", "星星一闪一闪亮", "我想你在远方", "明天会更亮",
         "夜很长路很长", "花开在山岗"]
PROBE_TEXT = "\n".join((LINES * 2)[:16])
GOALS_S = {"start to first HTTP 200": 5.0, "tokenize / analyze": 0.3, "token <-> id lookup": 0.05,
           "step view": 0.1, "probe of 16 lines": 1.0, "generate 100 tokens (to the last)": 0.3}


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """(median s, min s, load average) of ``fn()`` over ``repeat`` calls after one warm-up."""
    return (*timeit(fn, repeat), os.getloadavg()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the app server")
    args = ap.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from gradio_client import Client

    print(f"# app latency -- {machine()}; load average {os.getloadavg()}")
    proc, url, startup = start_app()
    rows = [("start to first HTTP 200", startup, startup, os.getloadavg()[0])]
    try:
        c = Client(url, verbose=False)
        key = c.predict(api_name="/models")[-1][0]["key"]
        actions = {
            "tokenize / analyze": lambda: c.predict(api_name="/tokenize"),
            "token <-> id lookup": lambda: c.predict("爱", api_name="/lookup"),
            "generate 100 tokens (to the last)": lambda: c.predict(model=key, prefix="分开", length=100,
                                                                   strategy="greedy", api_name="/generate"),
            "step view": lambda: c.predict(5, api_name="/step_view"),
            "probe of 16 lines": lambda: c.predict(model=key, text=PROBE_TEXT, api_name="/probe"),
        }
        for name, fn in actions.items():
            rows.append((name, *timed(fn, args.repeat)))
    finally:
        stop(proc)
    print(f"\nmodel {key}; {args.repeat} calls after a warm-up, one gradio_client call each\n")
    print("| action | median | min | goal | met (median) | load average |")
    print("|---|---:|---:|---:|---|---:|")
    for name, med, best, load in rows:
        goal = GOALS_S[name]
        print(f"| {name} | {med * 1000:,.0f} ms | {best * 1000:,.0f} ms | {goal * 1000:,.0f} ms | "
              f"{'yes' if med <= goal else 'no'} | {load:.1f} |")


if __name__ == "__main__":
    main()
