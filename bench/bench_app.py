"""Benchmark: the app's startup time, and training throughput in the app against the CLI.

    python bench/bench_app.py [--reps 3] [--seconds 30] [--skip-startup] [--threads N]

Startup: ``python app.py`` to its first HTTP 200, ``--reps`` times.  Throughput: the
classroom configuration trained for ``--seconds`` by the CLI (``python -m lyricdemo
train``) and by the app's ``/train`` endpoint (gradio_client, the chart streaming as
it would to a page), alternated ``--reps`` times; both report the Trainer's own
``Done.tokens_per_s`` (training steps only), and the steps done in the budget.  The
machine is shared: the 1-minute load average is printed beside every measurement, and
``--threads 1`` (OMP_NUM_THREADS for both the CLI and the app server) keeps one busy core
of someone else's from stalling torch's two-thread kernels, which otherwise scatters the
figures by a factor of five.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import time

from common import REPO, corpus_path, machine

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# The same configuration on both sides: the "classroom" preset (lyricdemo/presets.py), as the app's
# button fills the knobs and as `python -m lyricdemo train --preset classroom` reads it.
CLASSROOM_CLI = ["--preset", "classroom", "--seed", "0", "--quiet"]


def classroom_app() -> dict:
    from lyricdemo.ui.tab_train import preset_values

    v = preset_values("classroom")
    assert v["data"] == "d2l", "the corpus must be in data/"
    return v


def load() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(repo=REPO) -> tuple[subprocess.Popen, str, float]:
    """``python app.py`` of ``repo``: (process, URL, seconds to the first HTTP 200)."""
    import httpx

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=repo, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url, time.monotonic() - t0
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            raise SystemExit("the app did not start")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def cli_run(seconds: float) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-m", "lyricdemo", "train", *CLASSROOM_CLI, "--minutes", str(seconds / 60)],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tokens/s\s+([\d,.]+)", out).group(1).replace(",", ""))
    steps = int(re.search(r"after ([\d,]+) steps", out).group(1).replace(",", ""))
    return tps, steps


def app_run(client, seconds: float) -> tuple[float, int, int, float, float]:
    """(tokens/s, steps, page updates, seconds training waited for the page, wall seconds of the run)."""
    job = client.submit(**dict(classroom_app(), max_seconds=seconds), api_name="/train")
    while not job.done():
        time.sleep(0.1)
    job.result()
    info = job.outputs()[-1][5]
    done = info["outcome"]
    return done["tokens_per_s"], done["step"], info["updates"], info["ui_seconds"], done["elapsed"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for the CLI and the app (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)     # inherited by both subprocesses
    corpus_path()
    print("machine:", machine())

    if not args.skip_startup:
        times = []
        for _ in range(args.reps):
            before = load()
            proc, _, t = start_app()
            stop(proc)
            times.append(t)
            print(f"startup: python app.py -> first HTTP 200 in {t:5.2f} s   (load {before:.2f})")
        print(f"startup median {statistics.median(times):.2f} s, min {min(times):.2f} s")

    from gradio_client import Client

    proc, url, _ = start_app()
    try:
        client = Client(url, verbose=False)
        app_run(client, 5)                                          # warm-up (caches, first-call costs)
        cli, app, ratios = [], [], []
        for r in range(args.reps):
            pair = {}
            for who in (("cli", "app") if r % 2 == 0 else ("app", "cli")):    # alternate who goes first
                before = load()
                if who == "cli":
                    tps, steps = cli_run(args.seconds)
                    cli.append(tps)
                    print(f"rep {r + 1}  CLI {tps:8,.0f} tokens/s  {steps:4d} steps   (load {before:.2f})")
                else:
                    tps, steps, updates, ui, wall = app_run(client, args.seconds)
                    app.append(tps)
                    print(f"rep {r + 1}  app {tps:8,.0f} tokens/s  {steps:4d} steps, {updates} page updates "
                          f"taking {ui:.2f} s of {wall:.1f} s ({ui / wall:.1%})   (load {before:.2f})")
                pair[who] = tps
            ratios.append(pair["app"] / pair["cli"])
        c, a = statistics.median(cli), statistics.median(app)
        print(f"median: CLI {c:,.0f} tokens/s, app {a:,.0f} tokens/s, app/CLI = {a / c:.3f}; "
              f"per-pair ratios {', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.3f})")
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
