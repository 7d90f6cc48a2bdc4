"""Benchmark: probing 500 characters with everything tab 4 shows by default.

    python bench/bench_probe.py [--threads 1 2] [--repeat 7] [--chars 500]

For each thread count (``torch.set_num_threads``, stated in the output) and each model --
a GRU-256 and an LSTM-256 with a 128-wide embedding (the default model family), and d2l's
one-hot GRU-256 -- over a vocabulary of the corpus's size (~2,600 characters):

* ``probe()`` as the tab calls it, broken down into reading the text, states + gates (one
  forward pass of the scratch twin, autograd on), distributions (top-5, entropy), saliency
  of one position (one backward pass) and PCA;
* figures: every figure and HTML view the default ``/probe`` answer holds, built and
  serialised as Gradio sends them (``fig.to_json()``), and the data JSON;
* the whole ``/probe`` handler (``tab_inside.probe``, a checkpoint on disk, no server):
  what a click costs before the browser draws;
* the cheaper sub-views: one unit (``/probe_unit``), one position's saliency
  (``/probe_saliency``), and the full connectivity matrix of a 120-token text.

Untrained weights (speed does not depend on what the weights say); the text is the first
characters of the d2l corpus when it is in data/, else random characters.  Each figure
is the median of the repeats (and the best, which other jobs on the machine disturb
least).  The load average is printed before and after: on a shared 2-core machine other
jobs change every absolute figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)
import numpy as np
import torch

from lyricdemo.models import ModelConfig
from lyricdemo.probe import connectivity, probe, saliency
from lyricdemo.train import new_model
from lyricdemo.vocab import Vocab

PARTS = ("read", "states", "distributions", "saliency", "projection")
V = 2600


def text_and_vocab(chars: int) -> tuple[str, Vocab, str]:
    from lyricdemo.corpus import default_corpus_path

    path = default_corpus_path()
    if path.is_file():
        from lyricdemo.data import DataConfig, load_dataset

        ds = load_dataset(DataConfig())
        return ds.train_text[:chars], ds.vocab, f"the first {chars} characters of the d2l corpus"
    rng = np.random.default_rng(0)
    alphabet = [chr(0x4E00 + i) for i in range(V - 2)]
    body = "".join(rng.choice(alphabet[:400], chars).tolist())
    text = "\n".join(body[i:i + 9] for i in range(0, chars, 10))[:chars]
    return text, Vocab(alphabet + ["\n"]), f"{chars} random characters (no corpus in data/)"


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.1f} ms (best {min(xs) * 1000:6.1f})"


def figures_of_default_view(p, layer: int = 0, unit: int = 0) -> float:
    """Build and serialise everything the default /probe answer shows (as tab_inside does); seconds."""
    from lyricdemo import plots
    from lyricdemo.activations import SATURATION, select_positions, unit_order, unit_scores
    from lyricdemo.probe_page import GATE_NAMES
    from lyricdemo.ui.tab_inside import ranking_html, saliency_html, unit_html

    t0 = time.perf_counter()
    h = p.values(layer)
    sel = select_positions(p.tokens, "line starts")
    figs = [plots.units_heatmap(h, p.tokens, unit_order(h, "variance"), selected=sel.tolist()),
            plots.unit_trace_chart(h[:, unit].tolist(), p.tokens, unit),
            plots.saturation_chart(p.saturation(), GATE_NAMES, *SATURATION),
            plots.prediction_strip(p.tokens, p.top_tokens, p.top_probs, p.entropy_bits, p.next_logprob_bits.tolist()),
            plots.saliency_chart(p.tokens, p.saliency.shares, p.saliency.position, p.saliency.target),
            plots.trajectory_chart(p.projection[layer], p.tokens, p.explained[layer])]
    html = [unit_html(p, layer, unit, sel), ranking_html(p, unit_scores(h, sel), sel, "line starts"),
            saliency_html(p.tokens, p.saliency)]
    payload = sum(len(f.to_json()) for f in figs) + sum(map(len, html))
    payload += len(json.dumps(p.to_dict(arrays=False, layers=[layer])))
    figures_of_default_view.payload = payload
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--chars", type=int, default=500)
    args = ap.parse_args()
    text, vocab, about = text_and_vocab(args.chars)
    models = {
        "GRU-256, embedding 128": ModelConfig(vocab_size=len(vocab), kind="gru", embed_dim=128, hidden_size=256),
        "LSTM-256, embedding 128": ModelConfig(vocab_size=len(vocab), kind="lstm", embed_dim=128, hidden_size=256),
        "GRU-256, one-hot (d2l)": ModelConfig(vocab_size=len(vocab), kind="gru", embed_dim=0, hidden_size=256),
    }
    print(f"probe benchmark: {about}; vocabulary {len(vocab):,}; {args.repeat} repeats")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    os.environ["LYRICDEMO_CHECKPOINTS"] = str(tmp)
    from lyricdemo.checkpoint import save_checkpoint
    from lyricdemo.data import DataConfig
    from lyricdemo.ui import tab_inside
    from lyricdemo.ui.session import Session

    session = Session()
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"\n== torch.set_num_threads({threads}) ==")
        for name, cfg in models.items():
            model = new_model(cfg, seed=0).eval()
            folder = tmp / f"{cfg.kind}-{'embed' if cfg.embed_dim else 'onehot'}"
            if not folder.exists():
                save_checkpoint(folder, model, vocab, DataConfig(min_freq=1))
            key = f"shipped:{folder.name}"
            parts = {k: [] for k in PARTS}
            total, figs, handler, unit_t, sal_t = [], [], [], [], []
            p = probe(model, vocab, "char", text)                                   # warm-up (builds the twin)
            tab_inside.probe(session, key, text)
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                p = probe(model, vocab, "char", text)
                total.append(time.perf_counter() - t0)
                for k in PARTS:
                    parts[k].append(p.timings[k])
                figs.append(figures_of_default_view(p))
                t0 = time.perf_counter()
                out = tab_inside.probe(session, key, text)
                for o in out:                                          # what gr.Plot / gr.JSON serialise
                    if hasattr(o, "to_json"):
                        o.to_json()
                json.dumps(out[4])
                handler.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                tab_inside.unit_view(session, key, text, 1, 5)
                unit_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                saliency(model, vocab, "char", text, len(p.tokens) // 2)
                sal_t.append(time.perf_counter() - t0)
            print(f"-- {name}: {len(p.tokens)} tokens, {model.num_parameters():,} parameters")
            print(f"   probe() total            {med(total)}")
            for k in PARTS:
                label = {"states": "states + gates (fwd)", "saliency": "saliency (1 bwd)", "projection": "PCA"}.get(k, k)
                print(f"     {label:<22} {med(parts[k])}")
            print(f"   figures + HTML + JSON    {med(figs)}  ({figures_of_default_view.payload / 1e6:.2f} MB sent)")
            print(f"   = probe + figures        {statistics.median(np.add(total, figs)) * 1000:7.1f} ms")
            print(f"   /probe handler, whole    {med(handler)}   <- everything shown by default")
            print(f"   /probe_unit (one unit)   {med(unit_t)}")
            print(f"   saliency of one position {med(sal_t)}   (/probe_saliency's work)")
            short = text[:120]
            t0 = time.perf_counter()
            c = connectivity(model, vocab, "char", short)
            print(f"   connectivity {len(c.tokens)}x{len(c.tokens)}       {(time.perf_counter() - t0) * 1000:7.1f} ms (once)")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"machine: {common.machine()}")


if __name__ == "__main__":
    sys.exit(main())
