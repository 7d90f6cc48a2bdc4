"""Benchmark: what one streamed update costs the server, with and without ``ui.fast_skip``.

    python bench/bench_skip.py [--n 300]

Postprocesses, as Gradio does for every update a streaming handler yields, the generate tab's
update (the text, six outputs left alone) and a follower's update (status, chart as Plotly JSON,
samples, warnings, run JSON, two pickers left alone): Gradio's own ``Blocks.postprocess_data``
against the patched one, on the app itself (``build_app()``), milliseconds per update.  The event
loop holds the interpreter lock while it does this: forty streams multiply it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from common import machine

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    import gradio as gr
    from gradio.components.plot import PlotData
    from gradio.state_holder import SessionState

    from lyricdemo.ui import build_app, fast_skip

    demo = build_app()
    by_name = {fn.api_name: fn for fn in demo.fns.values()} if isinstance(demo.fns, dict) else \
        {fn.api_name: fn for fn in demo.fns}
    skip = gr.skip()
    cases = {
        "/generate: text + 6 left alone": (by_name["generate"], ("分开" * 40,) + (skip,) * 6),
        "/follow: 6 values + 2 pickers left alone": (
            by_name["follow"], ("**step 100**", PlotData(type="plotly", plot="{}"), PlotData(type="plotly", plot="{}"),
                                "samples", "", {"state": "running"}, skip, skip)),
    }
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    for name, (fn, pred) in cases.items():
        row = []
        for label, method in (("gradio", fast_skip._original), ("fast_skip", fast_skip._postprocess_data)):
            state = SessionState(demo.blocks_config if hasattr(demo, "blocks_config") else demo)

            async def go():
                await method(demo, fn, list(pred), state)          # warm: the session's first update
                t0 = time.perf_counter()
                for _ in range(args.n):
                    await method(demo, fn, list(pred), state)
                return (time.perf_counter() - t0) / args.n * 1000
            row.append((label, asyncio.run(go())))
        (a, ta), (b, tb) = row
        print(f"{name}: {a} {ta:.2f} ms, {b} {tb:.2f} ms per update ({ta / tb:.1f}x)")


if __name__ == "__main__":
    main()
