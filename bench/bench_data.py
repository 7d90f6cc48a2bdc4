"""Benchmark: load the corpus, char-tokenize it, build the vocab; jieba cold and warm.

    python bench/bench_data.py

Prints our figures beside the d2l reference (``load_corpus_jaychou``) measured in
the same run, and the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

from common import REPO, corpus_path, d2l_reference, machine, timeit

from lyricdemo.corpus import read_corpus_file
from lyricdemo.data import DataConfig, load_dataset


def main() -> None:
    path = corpus_path()
    ref = d2l_reference()
    print("machine:", machine())

    ref_t, _ = timeit(lambda: ref.load_corpus_jaychou(path), repeat=7)
    ours_t, _ = timeit(lambda: load_dataset(DataConfig(source=path, clean="d2l", min_freq=1)), repeat=7)
    read_t, _ = timeit(lambda: read_corpus_file(path), repeat=7)
    print(f"read + unzip + decode + check          {read_t * 1e3:7.1f} ms")
    print(f"load+clean+split+char tokens+vocab+ids {ours_t * 1e3:7.1f} ms   "
          f"d2l load_corpus_jaychou {ref_t * 1e3:6.1f} ms   ratio (d2l time / ours) {ref_t / ours_t:4.2f}x")

    # jieba: a fresh process each time, with no dictionary cache, then with the cache on disk
    code = ("import time; from lyricdemo.data import DataConfig, load_dataset; t0 = time.perf_counter(); "
            f"ds = load_dataset(DataConfig(source={path!r}, tokenizer='word')); t1 = time.perf_counter(); "
            f"ds = load_dataset(DataConfig(source={path!r}, tokenizer='word')); t2 = time.perf_counter(); "
            "print(t1 - t0, t2 - t1, len(ds.train_tokens))")
    with tempfile.TemporaryDirectory() as cache:
        env = {"LYRICDEMO_CACHE": cache, "PATH": "/usr/bin:/bin"}
        runs = []
        for _ in range(2):  # 1st: builds jieba's prefix dict and caches it; 2nd: loads the cache
            out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
            runs.append((float(out[0]), float(out[1]), int(out[2])))
    (cold_nocache, warm, n), (cold_cache, warm2, _) = runs
    print(f"jieba word tokens of the corpus: {n:,}")
    print(f"  cold, no dictionary cache (build dict + tokenize) {cold_nocache:6.2f} s")
    print(f"  cold, dictionary cache on disk (load dict + tokenize)  {cold_cache:6.2f} s")
    print(f"  warm (dictionary loaded, same pipeline again)         {min(warm, warm2):6.2f} s")


if __name__ == "__main__":
    main()
