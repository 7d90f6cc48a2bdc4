"""Benchmark: training throughput (tokens/s) against the d2l concise reference, in one run.

    python bench/bench_train.py              # the table below, medians of --repeat rounds
    python bench/bench_train.py --sweep      # + batch size / tying / adaptive softmax variants

Rows (all on the full d2l corpus, 2 threads, training steps only):

* **d2l reference** — ``make_net("nn_gru")``: one-hot input into ``nn.GRU(V, 256)``,
  a linear output, batch 32 x 35 steps, sequential partitioning, SGD lr 1, clipping
  at 1, ``train_epoch`` exactly as the reference runs it (over the first
  ``--batches`` batches of an epoch), on the reference's own corpus and vocab
  (d2l tokenization: every character of the whole file, no ``<unk>``).
* **ours, default** — the recommended recipe (``bench_quality.RECIPE``) through
  ``Trainer`` (Adam, clipping, dropout, our DataConfig defaults: vocab from the
  training lines with min_freq 2), throughput as ``Done.tokens_per_s`` reports it.
  The same recipe is also timed on the reference's vocab size (min_freq 1 on all
  lines), so the ratio is not bought by a smaller vocabulary.
* **scratch vs torch.nn** — the recipe's model with ``impl="scratch"`` (cells
  written out, one Python step per time step) against ``impl="torch"``.
* **adaptive vs full softmax** — the recipe's model with and without
  ``adaptive_cutoffs`` (``nn.AdaptiveLogSoftmaxWithLoss``).
* **the large-corpus layout** — the recipe's model in the layout ``recipe.adapt`` gives a corpus of
  100k training tokens or more (recipe.LARGE): 256 rows of 9 tokens a step (about the tokens of 64 x 35), beside the
  reference in the same layout (a wider batch helps it too, so both are shown).

The machine is shared: every round times every row once, in turn, so a burst of
load hits all rows of that round; we print the median over rounds (and the best).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
from dataclasses import replace

import time

import torch
from common import corpus_path, d2l_reference, machine
from torch.utils.flop_counter import FlopCounterMode
from bench_quality import RECIPE

from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.models import ModelConfig
from lyricdemo.recipe import WIDE_ROWS, WIDE_STEPS, adapt
from lyricdemo.train import Trainer, TrainConfig, new_model


def reference_runner(ref, path: str, batches: int, kind: str = "nn_gru", batch_size: int = 32, num_steps: int = 35):
    """A function that times the d2l reference's ``train_epoch`` over ``batches`` batches."""
    corpus, vocab = ref.load_corpus_jaychou(path)
    net = ref.make_net(kind, len(vocab), num_hiddens=256)
    loss = torch.nn.CrossEntropyLoss()
    updater = ref.make_updater(net, 1.0, "sgd")
    loader = ref.SeqDataLoader(corpus, batch_size, num_steps, use_random_iter=False)

    def run() -> float:
        _, tps = ref.train_epoch(net, itertools.islice(iter(loader), batches), loss, updater, False, 1)
        return tps

    run.flops = flops_per_token_ref(ref, len(vocab), kind)
    return run, len(vocab)


def ours_runner(ds, model_kw: dict, train_kw: dict, batches: int):
    """A function that times ``batches`` Trainer steps of a fresh model (tokens/s of the steps)."""
    mcfg = ModelConfig(vocab_size=len(ds.vocab), **model_kw)
    tcfg = TrainConfig(**dict(train_kw, max_steps=batches, max_seconds=0, eval_every=10**9, sample_length=0,
                              keep_best=False))

    def run() -> float:
        trainer = Trainer(new_model(mcfg, seed=0), ds, tcfg, baselines={})
        done = [e for e in trainer.run() if e.kind == "done"][-1]
        return done.tokens_per_s

    run.flops = flops_per_token_ours(ds, model_kw, dict(train_kw))
    return run


def peak_gflops(n: int = 2048, repeat: int = 3) -> float:
    """The machine's fp32 matmul rate at the bench's threads: the best of ``repeat`` n x n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def flops_per_token_ours(ds, model_kw: dict, train_kw: dict) -> float:
    """Forward + backward FLOPs of one training batch of the model, per token (``FlopCounterMode``: the
    matmuls, as the shapes give them; the optimizer's elementwise work is not counted)."""
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), **model_kw), seed=0)
    bs, steps = train_kw["batch_size"], train_kw["num_steps"]
    ids = ds.train_ids[: bs * steps + 1]
    X, Y = ids[:-1].reshape(bs, steps), ids[1:].reshape(bs, steps)
    with FlopCounterMode(display=False) as fc:
        loss, _ = model.loss(X, Y, model.init_state(bs, torch.device("cpu")))
        loss.backward()
    return fc.get_total_flops() / (bs * steps)


def flops_per_token_ref(ref, vocab_size: int, kind: str = "nn_gru") -> float:
    """The same count for the reference's ``RNNModel`` (batch 32 x 35, as it trains)."""
    net = ref.make_net(kind, vocab_size, num_hiddens=256)
    X, Y = torch.randint(vocab_size, (32, 35)), torch.randint(vocab_size, (32, 35))
    with FlopCounterMode(display=False) as fc:
        y_hat, _ = net(X, net.begin_state(batch_size=32))
        torch.nn.functional.cross_entropy(y_hat, Y.T.reshape(-1)).backward()
    return fc.get_total_flops() / (32 * 35)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="rounds (each times every row once)")
    p.add_argument("--batches", type=int, default=20, help="training steps per timing")
    p.add_argument("--sweep", action="store_true", help="also time batch size / tying / adaptive variants")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cutoffs", default="", help="adaptive softmax cutoffs for the adaptive rows, e.g. 500,1200 "
                   "(default: the recipe's, else 500,1200)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    ref = d2l_reference()
    path = corpus_path()
    ds = load_dataset(DataConfig(**RECIPE["data"]))
    ds_ref_vocab = load_dataset(replace(DataConfig(**RECIPE["data"]), min_freq=1, val_fraction=0.0))
    m, t = dict(RECIPE["model"]), dict(RECIPE["train"])
    cut = m.pop("adaptive_cutoffs", ())
    full = dict(m, adaptive_cutoffs=())
    adaptive = dict(m, adaptive_cutoffs=tuple(int(c) for c in args.cutoffs.split(",") if c)
                    or tuple(cut) or (500, 1200))
    print("machine:", machine(), "| load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("recipe model:", RECIPE["model"], "| train:", {k: t[k] for k in ("batch_size", "num_steps", "optimizer")})

    ref_run, ref_v = reference_runner(ref, path, args.batches)
    rows: dict[str, callable] = {
        f"d2l reference: one-hot nn.GRU 256, V={ref_v}, batch 32x35, SGD": ref_run,
        f"ours, default recipe (V={len(ds.vocab)})": ours_runner(ds, RECIPE["model"], t, args.batches),
        f"ours, default recipe on the reference's vocab size (V={len(ds_ref_vocab.vocab)})":
            ours_runner(ds_ref_vocab, RECIPE["model"], t, args.batches),
        "ours, recipe, torch.nn GRU, full softmax": ours_runner(ds, full, t, args.batches),
        "ours, recipe, scratch GRU cells, full softmax": ours_runner(ds, dict(full, impl="scratch"), t, args.batches),
        f"ours, recipe, torch.nn GRU, adaptive softmax {list(adaptive['adaptive_cutoffs'])}":
            ours_runner(ds, adaptive, t, args.batches),
        f"ours, recipe, scratch GRU cells, adaptive softmax {list(adaptive['adaptive_cutoffs'])}":
            ours_runner(ds, dict(adaptive, impl="scratch"), t, args.batches),
        # the layout recipe.adapt gives a corpus of >= recipe.LARGE (100k) training tokens: the same tokens per step
        # as 64 x 35, in 256 rows of 9; the reference in that layout too, since a wider batch could help it as much
        f"ours, default recipe in the large-corpus layout ({WIDE_ROWS}x{WIDE_STEPS})":
            ours_runner(ds, RECIPE["model"], dict(t, batch_size=WIDE_ROWS, num_steps=WIDE_STEPS), args.batches),
        f"d2l reference in the same layout ({WIDE_ROWS}x{WIDE_STEPS})":
            reference_runner(ref, path, args.batches, batch_size=WIDE_ROWS, num_steps=WIDE_STEPS)[0],
    }
    # what `python -m lyricdemo train` trains on this corpus (recipe.adapt): on the lyrics the full softmax, AWD's
    # dropouts and the bigram's soft targets; timed with and without the soft targets, to show what they cost
    sized = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids))
    sm, st = {**RECIPE["model"], **sized.model}, {**t, **sized.train}
    rows["ours, the recipe sized to this corpus"] = ours_runner(ds, sm, st, args.batches)
    if st.get("soft_targets"):
        rows["ours, the same without soft targets"] = ours_runner(ds, sm, dict(st, soft_targets=0.0), args.batches)
    if args.sweep:
        base = dict(m, adaptive_cutoffs=())
        for bs in (64, 128):
            rows[f"sweep: full softmax, batch {bs}"] = ours_runner(ds, base, dict(t, batch_size=bs), args.batches)
            rows[f"sweep: adaptive {list(adaptive['adaptive_cutoffs'])}, batch {bs}"] = \
                ours_runner(ds, adaptive, dict(t, batch_size=bs), args.batches)
        rows["sweep: adaptive [200, 800], batch 32"] = ours_runner(ds, dict(m, adaptive_cutoffs=(200, 800)), t,
                                                                 args.batches)
        rows["sweep: tied (emb 128, proj 256->128), batch 32"] = \
            ours_runner(ds, dict(base, tie_weights=True), t, args.batches)
        rows["sweep: hidden 512, full softmax"] = ours_runner(ds, dict(base, hidden_size=512), t, args.batches)
        rows["sweep: hidden 512, adaptive"] = ours_runner(ds, dict(adaptive, hidden_size=512), t, args.batches)
        rows["sweep: d2l reference scratch_gru (one-hot, Python loop)"] = \
            reference_runner(ref, path, args.batches, "scratch_gru")[0]
        rows["sweep: d2l reference nn_gru_emb (embedding 128)"] = \
            reference_runner(ref, path, args.batches, "nn_gru_emb")[0]

    peak = peak_gflops()
    for fn in rows.values():        # warm-up: first-call allocations, lazy init
        fn()
    results: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.repeat):
        for name, fn in rows.items():
            results[name].append(fn())
    med = {k: statistics.median(v) for k, v in results.items()}
    names = list(rows)
    ref_name, ours_name = names[0], names[1]
    width = max(map(len, names))
    print(f"\n{'training tokens/s (median of %d; best)' % args.repeat:<{width}}  {'median':>8} {'best':>8}  vs d2l")
    for name in names:
        print(f"{name:<{width}}  {med[name]:8,.0f} {max(results[name]):8,.0f}  {med[name] / med[ref_name]:5.2f}x")
    ratios = [o / r for o, r in zip(results[ours_name], results[ref_name])]
    print(f"\nspeed goal: default recipe / d2l reference = {med[ours_name] / med[ref_name]:.2f}x "
          f"(per-round ratios {', '.join(f'{r:.2f}' for r in ratios)}; issue 16's goal >= 4x: "
          f"{'MET' if med[ours_name] / med[ref_name] >= 4 else 'not met'})")
    lay, lay_ref = names[7], names[8]
    print(f"large-corpus layout ({WIDE_ROWS}x{WIDE_STEPS}): ours {med[lay] / med[ref_name]:.2f}x the reference as d2l "
          f"trains it (32x35), {med[lay] / med[lay_ref]:.2f}x the reference in the same layout (goal >= 4x: "
          f"{'MET' if min(med[lay] / med[ref_name], med[lay] / med[lay_ref]) >= 4 else 'not met'})")
    s, f = names[4], names[3]
    print(f"scratch GRU cells / torch.nn GRU (full softmax): {med[s] / med[f]:.2f}x")
    a = names[5]
    print(f"adaptive softmax / full softmax (torch.nn GRU): {med[a] / med[f]:.2f}x")
    peak = max(peak, peak_gflops())
    print(f"\n{'share of the machine (forward + backward FLOPs per token by FlopCounterMode)':<{width}}  "
          f"{'MFLOP/tok':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for name, fn in rows.items():
        gf = med[name] * fn.flops / 1e9
        print(f"{name:<{width}}  {fn.flops / 1e6:9.2f} {gf:8.1f} {gf / peak:8.0%}")
    print(f"peak: fp32 matmul 2048^3 at {args.threads} threads, best of this run's timings: {peak:.0f} GFLOP/s")
    print("load average at the end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
