"""Benchmark: two default trainings at once on this machine, with and without sharing the cores.

    python bench/bench_two_trainings.py [--seconds 60]

Three rounds of ``python -m lyricdemo train`` (the default recipe, seed 0, a time budget of
``--seconds``): one run alone; two runs started together that each take every core
(``--threads`` = the machine's cores, what the CLI did before ``lyricdemo/cores.py``); two runs
started together that share them (``--threads 0``, the default: an even share, asked again as
they run).  Prints each run's training tokens/s, its ratio to the run alone, its steps and its
best validation perplexity against the bigram, with the load average before each round.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from common import REPO, arguments, machine

from lyricdemo.cores import machine_cores


def start(seconds: float, threads: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lyricdemo", "train", "--seed", "0", "--quiet",
                             "--minutes", str(seconds / 60), "--threads", str(threads)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result(proc: subprocess.Popen) -> dict:
    out = proc.communicate()[0]
    if proc.returncode:
        raise SystemExit(f"a training failed:\n{out}")
    num = lambda pattern: float(re.search(pattern, out).group(1).replace(",", ""))     # noqa: E731
    return {"tokens/s": num(r"tokens/s\s+([\d,.]+)"), "steps": int(num(r"after ([\d,]+) steps")),
            "best": num(r"validation ppl\s+best ([\d,.]+)"), "bigram": num(r"bigram\s+([\d,.]+)"),
            "threads": re.findall(r"threads?: ([^\n]+)", out)}


def main() -> None:
    args = arguments(__doc__, seconds=60.0)
    cores = machine_cores()
    print(f"# two trainings at once -- {machine()}; {cores} cores; budget {args.seconds:g} s each\n")
    rounds = [("alone", [0]), (f"two, each --threads {cores}", [cores, cores]), ("two, shared (--threads 0)", [0, 0])]
    alone = None
    print("| round | run | threads said | tokens/s | vs alone | steps | best val ppl | bigram | load before |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, threads in rounds:
        time.sleep(5)
        load = os.getloadavg()[0]
        procs = [start(args.seconds, t) for t in threads]
        for i, r in enumerate(result(p) for p in procs):
            alone = alone or r["tokens/s"]
            said = "; ".join(r["threads"]) or "-"
            print(f"| {name} | {i + 1} | {said} | {r['tokens/s']:,.0f} | {r['tokens/s'] / alone:.2f}x | {r['steps']:,} | "
                  f"{r['best']:.1f} | {r['bigram']:.1f} | {load:.2f} |", flush=True)


if __name__ == "__main__":
    main()
