"""Benchmark: ``python app.py`` to its first HTTP 200, this checkout alternated with another.

    python bench/bench_start.py [--repeat 3] [--repo PATH]

Starts the app of this checkout (and, with ``--repo``, the app of another checkout, e.g. a
``git worktree`` of an older commit with the corpus in its ``data/``) one after the other,
``--repeat`` times each, alternating so both see the same machine, and prints every start time
and the medians.  Each start polls ``/`` every 50 ms and stops the server once it answers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench_app import start_app, stop
from common import REPO


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repo", type=Path, default=None, help="another checkout to alternate with")
    args = ap.parse_args()
    repos = [REPO] + ([args.repo.resolve()] if args.repo else [])
    times: dict[Path, list[float]] = {r: [] for r in repos}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for _ in range(args.repeat):
        for repo in repos:
            proc, _url, seconds = start_app(repo)
            stop(proc)
            times[repo].append(seconds)
            time.sleep(1.0)
    for repo, ts in times.items():
        print(f"{str(repo):<40} " + " / ".join(f"{t:.2f}" for t in ts) + f" s   median {statistics.median(ts):.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
