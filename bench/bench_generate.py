"""Benchmark: generation speed against d2l's ``predict_ch``, and the memorization meter.

    python bench/bench_generate.py [--threads 1 2] [--repeat 7] [--length 500]

For each thread count (``torch.set_num_threads``, stated in the output), in one run
and interleaved repeat by repeat so that both sides see the same machine load:

* the d2l reference: ``predict_ch("分开", 500)`` with its one-hot ``nn.GRU`` 256
  ``RNNModel`` (``make_net("nn_gru")``, seed 000) on the full corpus vocabulary, batch
  1, as the seed runs it (autograd on) and under ``inference_mode``;
* ours: ``generate()`` greedy for a GRU-256 with a 128-wide embedding (the default
  model family) and the same vocabulary size, 500 characters -- through the fast
  ``Stepper`` and, for comparison, through the model's plain forward;
* ours: sampling (top-k 40, temperature 0.8) and beam search (width 4);
* the time to the first token after a 20-character prefix (ours: the decoder's own
  ``time_to_first_token_s``; the reference: ``predict_ch(prefix, 1)``).

Chars/s are wall-clock over the whole call (prefix read-in included) for both
sides; each figure is the median of the repeats (and the best, which other jobs on
the machine disturb least), and the ratios are ratios of medians (and of bests).  Untrained weights: speed does not depend on what the weights say.
Then the memorization meter: ``CorpusIndex`` build time on the training text of the
default data config and on the whole corpus, and ``check()`` time for a
2,000-character text (a sampled one, and a copied one -- every character inside a
long match).

The load average is printed before and after: on a shared 2-core machine other
jobs change every absolute figure, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from common import corpus_path, d2l_reference, machine

from lyricdemo.decode_reference import ForwardOnly as PlainForward
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.generate import DecodeConfig, generate
from lyricdemo.models import ModelConfig, build_model
from lyricdemo.novelty import CorpusIndex


def wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def decoding(threads: int, repeat: int, length: int, ref, ref_net, ref_vocab, ours, vocab, tok,
             prefix20: str) -> dict[str, float]:
    """Median chars/s (and first-token ms) of every variant at ``threads`` threads."""
    torch.set_num_threads(threads)
    plain = PlainForward(ours)
    greedy = DecodeConfig(strategy="greedy", length=length)
    sample = DecodeConfig(strategy="sample", length=length, top_k=40, temperature=0.8, seed=0)
    beam = DecodeConfig(strategy="beam", length=length, beam_width=4)

    def ref_inference():
        with torch.inference_mode():
            ref.predict_ch("分开", length, ref_net, ref_vocab)

    def first_token():
        return generate(ours, vocab, tok, prefix20, DecodeConfig(strategy="greedy", length=1)).time_to_first_token_s

    runs = {
        "d2l predict_ch (autograd on, as seed 000)": lambda: ref.predict_ch("分开", length, ref_net, ref_vocab),
        "d2l predict_ch under inference_mode": ref_inference,
        "ours greedy (Stepper)": lambda: generate(ours, vocab, tok, "分开", greedy),
        "ours greedy (plain forward, no Stepper)": lambda: generate(plain, vocab, tok, "分开", greedy),
        "ours sample top-k 40, T 0.8": lambda: generate(ours, vocab, tok, "分开", sample),
        "ours beam width 4": lambda: generate(ours, vocab, tok, "分开", beam),
    }
    for fn in runs.values():                           # warm-up: lazy inits, caches, the Stepper build
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    ttft_ours, ttft_ref = [], []
    for _ in range(repeat):                            # interleaved: every variant sees the same load
        for name, fn in runs.items():
            times[name].append(wall(fn))
        ttft_ours.append(first_token())
        ttft_ref.append(wall(lambda: ref.predict_ch(prefix20, 1, ref_net, ref_vocab)))
    out = {name: (length / statistics.median(ts), length / min(ts)) for name, ts in times.items()}
    out["ttft ours ms"] = statistics.median(ttft_ours) * 1e3
    out["ttft ref ms"] = statistics.median(ttft_ref) * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch.set_num_threads values to try")
    ap.add_argument("--repeat", type=int, default=7, help="repeats per figure (the median is printed)")
    ap.add_argument("--length", type=int, default=500, help="characters generated per call")
    args = ap.parse_args()

    path = corpus_path()
    ref = d2l_reference()
    print("machine:", machine())
    print("before:", load())

    # the reference, as d2l builds it: its own vocabulary of the whole corpus, one-hot nn.GRU 256
    _, ref_vocab = ref.load_corpus_jaychou(path)
    torch.manual_seed(0)
    ref_net = ref.make_net("nn_gru", len(ref_vocab))
    # ours: the same corpus and cleaning through our pipeline (newline as a space, every
    # character kept, as d2l), which gives the same vocabulary size
    ds = load_dataset(DataConfig(source=path, clean="d2l", newline="space", min_freq=1, val_fraction=0.0))
    vocab, tok = ds.vocab, ds.tokenizer
    torch.manual_seed(0)
    ours = build_model(ModelConfig(vocab_size=len(vocab), kind="gru", embed_dim=128, hidden_size=256)).eval()
    prefix20 = "".join(ds.train_tokens[:20])
    print(f"vocabulary: d2l {len(ref_vocab):,}, ours {len(vocab):,};  ours: {ours.describe()};  "
          f"Stepper fast path: {ours.stepper().fast};  {args.length} chars per call, batch 1, "
          f"median of {args.repeat}")

    results = {}
    for n in args.threads:
        r = results[n] = decoding(n, args.repeat, args.length, ref, ref_net, ref_vocab, ours, vocab, tok, prefix20)
        base, base_best = r["d2l predict_ch (autograd on, as seed 000)"]
        base_inf = r["d2l predict_ch under inference_mode"][0]
        print(f"\ntorch.set_num_threads({n})   [{load()}]")
        print(f"  {'':<44} {'median':>8}           {'best':>6}   median / the seed's predict_ch")
        for name, v in r.items():
            if name.startswith("ttft"):
                continue
            print(f"  {name:<44} {v[0]:8,.0f} chars/s  {v[1]:6,.0f}   {v[0] / base:5.2f}x")
        fast, fast_best = r["ours greedy (Stepper)"]
        print(f"  => greedy, ours / d2l predict_ch: {fast / base:.2f}x median, {fast_best / base_best:.2f}x best "
              f"(goal >= 4x); / predict_ch under inference_mode: {fast / base_inf:.2f}x; "
              f"Stepper / plain forward: {fast / r['ours greedy (plain forward, no Stepper)'][0]:.2f}x")
        print(f"  time to first token after a 20-char prefix: ours {r['ttft ours ms']:.2f} ms "
              f"(one forward over the prefix + the first choice); d2l predict_ch(prefix, 1) "
              f"{r['ttft ref ms']:.2f} ms (19 single-token warm-up calls + 1)")

    if len(results) > 1:
        key = "ours greedy (Stepper)"
        best = max(results, key=lambda n: results[n][key][0])
        rates = ", ".join(f"{n} thread(s) {results[n][key][0]:,.0f}" for n in results)
        print(f"\nbatch-1 greedy decoding by thread count: {rates} chars/s -> fastest with {best} thread(s)")

    # the memorization meter: the training text of the default data config (what `generate` checks
    # a default checkpoint against) and the whole corpus (no validation split)
    torch.set_num_threads(1)
    sampled = generate(ours, ds.vocab, tok, "分开", DecodeConfig(strategy="sample", length=2000, seed=1)).continuation
    for label, cfg in (("training text (default DataConfig)", DataConfig(source=path)),
                       ("full corpus (val_fraction 0)", DataConfig(source=path, val_fraction=0.0))):
        text = load_dataset(cfg).train_text
        builds = [wall(lambda: CorpusIndex(text)) for _ in range(3)]
        index = CorpusIndex(text)
        copied = text[10_000:12_000]
        checks = {name: statistics.median(wall(lambda: index.check(t)) for _ in range(args.repeat))
                  for name, t in (("sampled", sampled[:2000]), ("copied", copied))}
        print(f"\nmemorization meter, {label}: {len(text):,} chars, {index.num_states:,} states; "
              f"CorpusIndex built in {statistics.median(builds) * 1e3:.0f} ms (median of 3); "
              f"check() of 2,000 chars: sampled {checks['sampled'] * 1e3:.1f} ms, "
              f"copied {checks['copied'] * 1e3:.1f} ms (median of {args.repeat})")
    print("after:", load())


if __name__ == "__main__":
    main()
