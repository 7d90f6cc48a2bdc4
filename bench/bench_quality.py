"""Benchmark: held-out perplexity of the default char GRU within a time budget, against
the n-gram baselines of the same run.

    python bench/bench_quality.py                      # the recommended recipe, GRU, 3 minutes, seed 0
    python bench/bench_quality.py --kinds gru lstm rnn # the same recipe for each cell
    python bench/bench_quality.py --interp             # + interpolation with the KN bigram/trigram
    python bench/bench_quality.py --set train.sampling=random --set model.dropout_out=0.5   # one experiment

The goal it checks: on the standard split (DataConfig defaults: the last 10% of the
lines held out, vocab from the training lines), the GRU's best validation perplexity
within ``--seconds`` (wall clock of the training loop, evaluations included) is at
most 0.8 x the Kneser-Ney bigram's -- the library's modified Kneser-Ney (three discounts per order;
issue 16).  The single-discount bigram the figures were once measured against is printed beside it
("x single-discount bigram"), so older rows of bench/RESULTS.md can be read against today's.

``--interp`` measures (does not build) an interpolated model
``p = lam * p_rnn + (1 - lam) * p_kn``: lam is tuned on the first half of the
validation tokens and the perplexity is reported on the second half, beside the GRU
alone and the n-gram alone on that same half.  Both halves come from one pass of the
GRU over the whole validation stream (state carried, as ``perplexity()`` does).

``--ema D`` is an experiment: it keeps an exponential moving average of the weights
(decay D) beside the trained ones and reports its validation perplexity too.

Each run appends one JSON line to ``--log`` (default ``runs/quality.jsonl``, git-ignored).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import subprocess
import time

import torch
from common import REPO, machine

from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import ORDER_NAMES, NGramLM, fit_baselines
from lyricdemo.presets import DEFAULT, apply
from lyricdemo.train import Trainer, TrainConfig, new_model, perplexity

NGRAM_NAMES = set(ORDER_NAMES.values())

# The recipe under test: the default of ``python -m lyricdemo train`` (lyricdemo.presets.DEFAULT).
# --set model.KEY=VALUE / train.KEY=VALUE / data.KEY=VALUE override it.
RECIPE = apply(DEFAULT)            # every field, so a result row records the whole recipe


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(recipe: dict, sets: list[str]) -> dict:
    out = {k: dict(v) for k, v in recipe.items()}
    for s in sets:
        key, _, val = s.partition("=")
        part, _, name = key.partition(".")
        if part not in out or not name or not _:
            raise SystemExit(f"--set wants data.KEY=VALUE, model.KEY=VALUE or train.KEY=VALUE; got {s!r}")
        out[part][name] = _value(val)
    return out


@torch.inference_mode()
def target_log_probs(model, ids: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """log p(ids[t] | ids[:t]) for t = 1..N-1, one stream from a zero state (as ``perplexity()``)."""
    was = model.training
    model.eval()
    state, out = model.init_state(1), []
    for i in range(0, len(ids) - 1, chunk):
        x = ids[i:i + chunk].unsqueeze(0)
        y = ids[i + 1:i + 1 + chunk].unsqueeze(0)
        x = x[:, :y.shape[1]]
        logits, state = model(x, state)
        out.append(torch.log_softmax(logits.double(), -1)[0].gather(-1, y[0].unsqueeze(-1)).squeeze(-1))
    model.train(was)
    return torch.cat(out)


def interpolation(lp_rnn: torch.Tensor, lp_ng: torch.Tensor) -> dict:
    """Tune lam on the first half, report perplexities on the second half."""
    half = len(lp_rnn) // 2
    p_r, p_n = lp_rnn.exp(), lp_ng.exp()

    def ppl(lam, sl):
        return math.exp(-torch.log(lam * p_r[sl] + (1 - lam) * p_n[sl]).mean().item())

    first, second = slice(0, half), slice(half, None)
    lams = [i / 100 for i in range(1, 100)]
    lam = min(lams, key=lambda l: ppl(l, first))
    return {"lam": lam, "mix_ppl_2nd": ppl(lam, second), "rnn_ppl_2nd": ppl(1.0, second),
            "ngram_ppl_2nd": ppl(0.0, second), "mix_ppl_1st": ppl(lam, first)}


def add_head_bias(model) -> None:
    """Experiment: the adaptive softmax with ``head_bias=True`` (lm.py builds it without),
    same initial weights, a zero bias on the head (frequent tokens + cluster logits)."""
    old = model.adaptive
    new = torch.nn.AdaptiveLogSoftmaxWithLoss(old.in_features, old.n_classes, old.cutoffs[:-1],
                                              div_value=old.div_value, head_bias=True)
    with torch.no_grad():
        new.head.weight.copy_(old.head.weight)
        new.head.bias.zero_()
    new.tail = old.tail
    model.adaptive = new


class EMA:
    """Exponential moving average of the parameters, updated after every step."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.shadow = [p.detach().clone() for p in model.parameters()]
        self.n = 0

    @torch.no_grad()
    def update(self, model):
        self.n += 1
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        for s, p in zip(self.shadow, model.parameters()):
            s.lerp_(p.detach(), 1 - d)

    @torch.no_grad()
    def swap(self, model):
        for s, p in zip(self.shadow, model.parameters()):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)


def run_one(kind: str, recipe: dict, seconds: float, seed: int, ds, baselines: dict, ngrams: dict,
            args) -> dict:
    m = dict(recipe["model"], kind=kind)
    t = dict(recipe["train"], max_seconds=seconds, seed=seed, sample_every=0, sample_length=0)
    mcfg = ModelConfig(vocab_size=len(ds.vocab), **m)
    tcfg = TrainConfig(**t)
    model = new_model(mcfg, seed=seed)
    if args.head_bias and model.adaptive is not None:
        add_head_bias(model)
    trainer = Trainer(model, ds, tcfg, baselines={k: v for k, v in baselines.items() if k in NGRAM_NAMES})
    ema = EMA(model, args.ema) if args.ema else None
    best = (math.inf, 0.0, 0.0)          # (val ppl, epoch, elapsed)
    ema_best = (math.inf, 0.0, 0.0)
    done = None
    load0 = load_average()
    for ev in trainer.run():
        if ev.kind == "progress" and ema is not None:
            ema.update(model)
        elif ev.kind == "evaluation":
            if ev.val_ppl is not None and ev.val_ppl < best[0]:
                best = (ev.val_ppl, ev.epoch, ev.elapsed)
            extra = ""
            if ema is not None:
                ema.swap(model)
                v = perplexity(model, ds.val_ids)
                ema.swap(model)
                if v < ema_best[0]:
                    ema_best = (v, ev.epoch, ev.elapsed)
                extra = f"  ema {v:7.1f}"
            if not args.quiet:
                print(f"    step {ev.step:5d} epoch {ev.epoch:5.1f} [{ev.elapsed:5.1f} s]  train {ev.train_ppl:7.1f}"
                      f"  val {ev.val_ppl:7.1f}{extra}", flush=True)
        elif ev.kind == "failed":
            print("    FAILED:", ev.message)
        elif ev.kind == "done":
            done = ev
    bigram, single = baselines["bigram"], baselines["bigram_single_discount"]
    row = {"kind": kind, "seed": seed, "seconds": seconds, "model": m, "train": t, "data": recipe["data"],
           "vocab": len(ds.vocab), "baselines": baselines, "best_val_ppl": best[0], "best_epoch": best[1],
           "best_elapsed": best[2], "ratio_bigram": best[0] / bigram, "ratio_single_discount_bigram": best[0] / single,
           "tokens_per_s": done.tokens_per_s if done else None, "epochs": done.epoch if done else None,
           "params": model.num_parameters(), "load_start": load0, "load_end": load_average(),
           "label": args.label, "threads": torch.get_num_threads(), "head_bias": args.head_bias}
    if ema is not None:
        row.update(ema_decay=args.ema, ema_best_val_ppl=ema_best[0], ema_best_epoch=ema_best[1],
                   ema_best_elapsed=ema_best[2], ema_ratio_bigram=ema_best[0] / bigram)
    print(f"  {kind.upper():4s} best validation ppl {best[0]:7.1f} at epoch {best[1]:.1f} ({best[2]:.0f} s); "
          f"{best[0] / bigram:.3f} x bigram ({best[0] / single:.3f} x single-discount bigram); "
          f"{row['tokens_per_s']:,.0f} tok/s; {row['epochs']:.1f} epochs; "
          f"goal (<= 0.8 x bigram = {0.8 * bigram:.1f}): {'MET' if best[0] <= 0.8 * bigram else 'not met'}")
    if ema is not None:
        print(f"       EMA {args.ema}: best {ema_best[0]:7.1f} at epoch {ema_best[1]:.1f} ({ema_best[2]:.0f} s); "
              f"{ema_best[0] / bigram:.3f} x bigram")
    if args.interp:
        lp_rnn = target_log_probs(model, ds.val_ids)     # the kept (best) weights
        for order, ng in ngrams.items():
            if order == 1:
                continue
            r = interpolation(lp_rnn, torch.as_tensor(ng.log_probs(ds.val_ids), dtype=torch.float64))
            row[f"interp_{ng.name}"] = r
            bg_2nd = math.exp(-float(torch.as_tensor(ngrams[2].log_probs(ds.val_ids)[len(lp_rnn) // 2:]).mean()))
            r["bigram_ppl_2nd"] = bg_2nd
            print(f"       + KN {ng.name}: lam {r['lam']:.2f} (tuned on the 1st half); 2nd half: "
                  f"mix {r['mix_ppl_2nd']:.1f}, {kind} alone {r['rnn_ppl_2nd']:.1f}, {ng.name} alone "
                  f"{r['ngram_ppl_2nd']:.1f}, bigram {bg_2nd:.1f} -> mix/bigram {r['mix_ppl_2nd'] / bg_2nd:.3f}")
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", nargs="+", default=["gru"], choices=["rnn", "gru", "lstm"])
    p.add_argument("--seconds", type=float, default=180.0, help="training budget per model (wall clock)")
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", default=[], metavar="PART.KEY=VALUE", help="override the recipe")
    p.add_argument("--interp", action="store_true", help="also measure interpolation with the KN n-grams")
    p.add_argument("--ema", type=float, default=0.0, help="experiment: also evaluate an EMA of the weights")
    p.add_argument("--head-bias", action="store_true", help="experiment: adaptive softmax head with a bias")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--label", default="")
    p.add_argument("--log", default=str(REPO / "runs" / "quality.jsonl"))
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    recipe = apply_overrides(RECIPE, args.set)
    ds = load_dataset(DataConfig(**recipe["data"]))
    ngrams = fit_baselines(ds.train_ids, len(ds.vocab))
    baselines = {m.name: m.perplexity(ds.val_ids) for m in ngrams.values()}
    baselines["bigram_single_discount"] = NGramLM(2, len(ds.vocab), smoothing="single").fit(ds.train_ids).perplexity(
        ds.val_ids)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    print("machine:", machine(), "| commit", commit, "| load average", load_average())
    print(f"data: {len(ds.train_ids):,} training / {len(ds.val_ids):,} validation tokens, vocab {len(ds.vocab):,}, "
          f"validation <unk> {ds.val_unk_rate:.1%}")
    print("baselines (validation ppl; modified Kneser-Ney): " + ", ".join(f"{k} {v:.1f}" for k, v in baselines.items())
          + f"; goal: <= {0.8 * baselines['bigram']:.1f}")
    print("recipe:", json.dumps({k: v for k, v in recipe.items() if v}, ensure_ascii=False))
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    for kind in args.kinds:
        for seed in args.seed:
            t0 = time.time()
            row = run_one(kind, recipe, args.seconds, seed, ds, baselines, ngrams, args)
            row.update(commit=commit, sets=args.set, wall=time.time() - t0, when=time.strftime("%Y-%m-%d %H:%M"))
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
