"""Benchmark: a network and a counter together -- each shipped char model mixed with the n-gram baselines.

    python bench/bench_mixture.py [--checkpoints char-gru char-lstm char-rnn] [--weights 0.3 0.5 0.7]

On the d2l held-out lines (default DataConfig split), for each shipped char model: its validation
perplexity alone, the Kneser-Ney bigram's and trigram's (``lyricdemo.ngram``, as the library fits
them on the training ids), and the perplexity of the linear mixture
``p = w * p_model + (1 - w) * p_ngram`` at each weight ``w``. The weight 0.5 is fixed in advance
(nothing is tuned on the validation text); the other weights show how flat the optimum is. A last
column gives the weight the training text's last stretch (``memory_tuning.tuning_slice``, as long
as the validation text) would choose: both the model and the counts have read that text, so it says
little about held-out text -- which is why the table's verdict uses the fixed 0.5.

It answers one question honestly: do the model and the counter err differently (the mixture beats
both), or is the network only a smoother counter (the mixture no better than the better one)?
Deterministic (no sampling): the figures depend only on the checkpoints and the corpus. A minute.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
import torch

import common  # noqa: F401  (puts the repository on sys.path)
from common import REPO

from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.memory_tuning import tuning_slice
from lyricdemo.ngram import NGramLM


@torch.inference_mode()
def model_log_probs(model, ids: torch.Tensor) -> np.ndarray:
    """log P(ids[t] | ids[:t]) for t >= 1, one stream from a zero state (as ``evaluation.perplexity`` reads it)."""
    model.eval()
    logits, _ = model(ids[:-1].unsqueeze(0), model.init_state(1))
    lp = torch.log_softmax(logits.float(), dim=-1)[0]
    return lp.gather(1, ids[1:].unsqueeze(1)).squeeze(1).numpy().astype(np.float64)


def mixed_ppl(a: np.ndarray, b: np.ndarray, w: float) -> float:
    if w >= 1.0:
        return math.exp(-a.mean())
    if w <= 0.0:
        return math.exp(-b.mean())
    return math.exp(-np.logaddexp(math.log(w) + a, math.log(1 - w) + b).mean())


def best_weight(a: np.ndarray, b: np.ndarray) -> float:
    grid = [i / 20 for i in range(1, 20)]
    return min(grid, key=lambda w: mixed_ppl(a, b, w))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", nargs="+", default=["char-gru", "char-lstm", "char-rnn"])
    ap.add_argument("--weights", nargs="+", type=float, default=[0.3, 0.5, 0.7])
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    ds = load_dataset(DataConfig())
    V, val = len(ds.vocab), ds.val_ids
    tune = tuning_slice(ds.train_ids, len(val))
    grams = {n: NGramLM(n, V).fit(ds.train_ids) for n in (2, 3)}
    ng_val = {n: m.log_probs(val) for n, m in grams.items()}
    ng_tune = {n: m.log_probs(tune) for n, m in grams.items()}
    bigram = math.exp(-ng_val[2].mean())
    print(f"validation: {len(val) - 1:,} predicted tokens; bigram {bigram:.1f}, trigram {math.exp(-ng_val[3].mean()):.1f} "
          f"({type(grams[2]).__name__} {getattr(grams[2], 'smoothing', 'interpolated KN')})")
    head = "".join(f"{'w=' + format(w, 'g'):>9}" for w in args.weights)
    print(f"{'model':<10}{'alone':>8}{'with':>9}{head}{'best w':>8}{'x bigram (w=0.5)':>18}{'x with-gram':>13}"
          f"{'w chosen on train':>19}")
    for name in args.checkpoints:
        ck = load_checkpoint(REPO / "checkpoints" / name)
        mv, mt = model_log_probs(ck.model, val), model_log_probs(ck.model, tune)
        alone = math.exp(-mv.mean())
        for n in (2, 3):
            cells = "".join(f"{mixed_ppl(mv, ng_val[n], w):>9.1f}" for w in args.weights)
            half = mixed_ppl(mv, ng_val[n], 0.5)
            print(f"{name:<10}{alone:>8.1f}{'bi' if n == 2 else 'tri':>9}{cells}{best_weight(mv, ng_val[n]):>8.2f}"
                  f"{half / bigram:>18.3f}{half / math.exp(-ng_val[n].mean()):>13.3f}{best_weight(mt, ng_tune[n]):>19.2f}")


if __name__ == "__main__":
    main()
