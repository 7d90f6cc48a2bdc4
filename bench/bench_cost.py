"""What one student costs the server: CPU seconds per call of each endpoint, to size a server for N.

    python bench/bench_cost.py [--repeat 5] [--followers 10] [--train-steps 150]

Against ``python app.py`` on 127.0.0.1 (a subprocess), one call at a time through
``gradio_client``; the figure is the server process's own CPU time (user + system, all its
threads, from /proc/<pid>/stat) across the call, so other work on a shared machine slows the
calls but does not count in them.  Printed per endpoint: CPU seconds per call (median over
``--repeat``) and the wall time beside it.

- ``/tokenize``: the page's first call (character vocabulary of the d2l corpus; cached after the
  first student, so the warm figure is what the other 39 cost);
- ``/generate``: 200 characters sampled from the shipped char GRU;
- ``/probe``: 100 characters through everything tab 4 shows by default;
- ``/follow``: the same training (``--train-steps`` steps of a small GRU) run once alone and once
  with ``--followers`` clients following it; the difference per follower per minute of run;
- ``/train``: CPU seconds per second of training (a student who trains for 45 s costs 45 times that).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import arguments, machine
from server import Server, loadavg, shipped_key

PROBE_TEXT = ("分开\n" * 50)[:100]


def cpu_of(server: Server, fn) -> tuple[float, float]:
    """(server CPU seconds, wall seconds) of ``fn()``."""
    c0, t0 = server.cpu_seconds(), time.perf_counter()
    fn()
    return server.cpu_seconds() - c0, time.perf_counter() - t0


def per_call(server: Server, fn, repeat: int) -> tuple[float, float]:
    cpu, wall = zip(*(cpu_of(server, fn) for _ in range(repeat)))
    return statistics.median(cpu), statistics.median(wall)


def training_run(client, steps: int, followers: list) -> tuple[float, float]:
    """Run ``steps`` steps of a small GRU while ``followers`` follow it; (server CPU s, wall s) of the run."""
    job = client.submit(data="d2l", hidden_size=64, embed_dim=32, max_steps=steps, max_seconds=300, eval_every=25,
                        api_name="/train")
    while not job.outputs():
        time.sleep(0.05)
    rid = job.outputs()[-1][5]["follow"]
    watchers = [f.submit(run_id=rid, api_name="/follow") for f in followers]
    job.result()
    for w in watchers:
        w.result()
    return job.outputs()[-1][5]["elapsed_s"], len(watchers)


def main() -> None:
    args = arguments(__doc__, repeat=5, followers=10, train_steps=150)
    from gradio_client import Client

    print(machine())
    with tempfile.TemporaryDirectory(prefix="lyricdemo-cost-") as root:
        server = Server(Path(root))
        print(f"server up in {server.start():.1f} s · load average {loadavg()}")
        try:
            c = Client(server.url, verbose=False)
            key = shipped_key(c)
            rows = []
            first = cpu_of(server, lambda: c.predict(api_name="/tokenize"))
            rows.append(("/tokenize (first student: builds the statistics)", *first))
            rows.append(("/tokenize (every other student)",
                         *per_call(server, lambda: Client(server.url, verbose=False).predict(api_name="/tokenize"),
                                   args.repeat)))
            rows.append(("/generate 200 chars (sample)",
                         *per_call(server, lambda: c.predict(model=key, prefix="分开", length=200, api_name="/generate"),
                                   args.repeat)))
            rows.append(("/probe 100 chars (every default view)",
                         *per_call(server, lambda: c.predict(model=key, text=PROBE_TEXT, api_name="/probe"),
                                   args.repeat)))
            # following: the same run alone and with followers
            c0 = server.cpu_seconds()
            alone_s, _ = training_run(c, args.train_steps, [])
            alone_cpu = server.cpu_seconds() - c0
            fans = [Client(server.url, verbose=False) for _ in range(args.followers)]
            c0 = server.cpu_seconds()
            with_s, n = training_run(c, args.train_steps, fans)
            with_cpu = server.cpu_seconds() - c0
            per_min = max(with_cpu - alone_cpu, 0.0) / n / (with_s / 60)
            rows.append((f"/train (CPU s per second of training; {args.train_steps} steps of GRU 64)",
                         alone_cpu / alone_s, alone_s))
            rows.append((f"/follow (CPU s per follower per minute; {n} followers)", per_min, with_s))
            print(f"\nload average after: {loadavg()} · server {server.status()}")
            print(f"\n{'endpoint':62s} {'server CPU s':>13s} {'wall s':>8s}")
            for name, cpu, wall in rows:
                print(f"{name:62s} {cpu:13.3f} {wall:8.2f}")
            print(f"\n(training alone: {alone_cpu:.1f} CPU s in {alone_s:.1f} s; with {n} followers: "
                  f"{with_cpu:.1f} CPU s in {with_s:.1f} s)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
