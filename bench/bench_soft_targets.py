"""Soft targets from the bigram (lyricdemo/soft_targets.py): the sized recipe with and without, per corpus and seed.

    python bench/bench_soft_targets.py                                  # lyrics, its words, 大雅, Tang poems; ~35 min
    python bench/bench_soft_targets.py --only lyrics --shares 0,0.15,0.3,0.5 --seeds 0

Each row is ``python -m lyricdemo train --file F`` as the recipe sizes it (``bench_corpora.train_one``), with
``soft_targets`` set to the share given, everything else the recipe's (the recipe itself gives 0.3 to a corpus
read >= 30 times and 0 to any other).  "ours" is the kept weights' perplexity on the whole validation set (per
token: words for ``lyrics-words``), beside the modified-KN bigram's on the same split; "mixed" is the model half
and half with its training text's trigram.  The change is against share 0 with the same seed: like with like.
"""

from __future__ import annotations

import os

from common import arguments, machine

import torch

from bench_corpora import load, train_one
from corpora_fetch import CORPORA

CORPORA_HERE = {**CORPORA, "lyrics-words": (CORPORA["lyrics"][0], {"tokenizer": "word"})}


def main() -> None:
    args = arguments(__doc__, only="lyrics,lyrics-words,daya,tang", shares="0,0.3", seeds="0,1", threads=2)
    from lyricdemo.corpus import read_corpus_file
    from lyricdemo.data import DataConfig, load_dataset

    torch.set_num_threads(args.threads)
    shares = [float(s) for s in args.shares.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(machine())
    print(f"threads {args.threads}; load average at start {load()}\n")
    head = (f"{'corpus':<13} {'share':>5} {'seed':>4} {'bigram':>8} {'ours':>8} {'x bigram':>8} {'change':>7} "
            f"{'mixed':>8} {'steps':>6} {'time':>6} {'tok/s':>7}  load")
    print(head, flush=True)
    for name in args.only.split(","):
        build, overrides = CORPORA_HERE[name]
        path = build()
        ds = load_dataset(DataConfig(source=str(path), **overrides), raw=read_corpus_file(path))
        for seed in seeds:
            plain = None
            for share in shares:
                r = train_one(ds, seed=seed, train_overrides={"soft_targets": share})
                plain = r["ours"] if share == 0 else plain
                change = f"{r['ours'] / plain - 1:+.1%}" if plain and share else ""
                print(f"{name:<13} {share:5.2f} {seed:4d} {r['bigram']:8.2f} {r['ours']:8.2f} "
                      f"{r['ours'] / r['bigram']:8.3f} {change:>7} {r['mixed']:8.2f} {r['steps']:6d} "
                      f"{r['elapsed']:5.0f}s {r['tok_s']:7,.0f}  {r['load_before']} -> {r['load_after']}", flush=True)
    print(f"\nload average at the end {load()}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
