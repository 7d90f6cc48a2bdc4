"""Benchmark: does the classroom preset keep its promise when two trainings share the 2 cores?

    python bench/bench_classroom.py [--runs 2] [--threads 1] [--seed 0]

Starts ``--runs`` trainings of ``presets.PRESETS["classroom"]`` at once, each in its own process
with ``--threads`` torch threads (the app's ``LYRICDEMO_TORCH_THREADS`` default is 1: two
trainings in the app share the cores the same way), seeds ``seed, seed+1, ...``.  Each prints, and
the summary lists: steps, seconds, evaluations (points on the chart), best validation perplexity
against the bigram baseline (modified Kneser-Ney since issue 16; the % below it: on the lyrics 3-4% since the
preset's soft targets of 2026-12-03, 7% above it before), the end reason,
and the steps per second that sized the budget.  The load average before and after is printed:
other jobs on the machine slow every run, but a step budget keeps the result (only the time grows).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

from common import arguments, machine

from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import standing_text
from lyricdemo.presets import PRESETS, apply_for_corpus
from lyricdemo.sources import corpus_in_use
from lyricdemo.train import Trainer, TrainConfig, new_model


def one_run(seed: int, threads: int, out) -> None:
    import torch

    torch.set_num_threads(threads)
    p = apply_for_corpus("classroom", corpus_in_use().key)   # as the app applies it
    ds = load_dataset(DataConfig(**p["data"]))
    cfg = TrainConfig(**{**p["train"], "seed": seed})
    trainer = Trainer(new_model(ModelConfig(**{**p["model"], "vocab_size": len(ds.vocab)}), seed=seed), ds, cfg)
    evals, baselines, done, t0 = 0, {}, None, time.perf_counter()
    for ev in trainer.run():
        if ev.kind == "baselines":
            baselines = ev.perplexities
        elif ev.kind == "evaluation" and not ev.kept:     # the points on the chart (not the kept weights' re-read)
            evals += 1
        elif ev.kind in ("done", "failed"):
            done = ev
    wall = time.perf_counter() - t0
    out.put({"seed": seed, "steps": getattr(done, "step", 0), "seconds": wall, "evaluations": evals,
             "best": getattr(done, "best_val_ppl", None), "bigram": baselines.get("bigram"),
             "reason": getattr(done, "reason", getattr(done, "message", "?"))})


def main() -> None:
    args = arguments(__doc__, runs=2, threads=1, seed=0)
    t = PRESETS["classroom"]["train"]
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"corpus in use: {corpus_in_use().key}; classroom preset: max_steps {t.get('max_steps')}, max_seconds {t.get('max_seconds')}, "
          f"eval_every {t.get('eval_every')}; {args.runs} trainings at once, {args.threads} torch thread(s) each")
    q = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=one_run, args=(args.seed + i, args.threads, q))
             for i in range(args.runs)]
    for pr in procs:
        pr.start()
    results = [q.get() for _ in procs]
    for pr in procs:
        pr.join()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for r in sorted(results, key=lambda r: r["seed"]):
        below = 100 * (1 - r["best"] / r["bigram"]) if r["best"] and r["bigram"] else float("nan")
        print(f"seed {r['seed']}: {r['steps']} steps in {r['seconds']:.0f} s ({r['steps'] / r['seconds']:.1f} steps/s), "
              f"{r['evaluations']} evaluations, best validation {r['best']:.1f} vs bigram {r['bigram']:.1f}: "
              f"{below:.0f}% below"
              + (f", {standing_text(r['best'], r['bigram'])}" if r["best"] and r["bigram"] else "")
              + f" ({r['reason']})")


if __name__ == "__main__":
    main()
