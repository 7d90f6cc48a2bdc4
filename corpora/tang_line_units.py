"""Which hidden units of a Tang-poem model count the characters of a line?

A regulated poem's half-lines have exactly 5 or 7 characters, and a model that writes
them must know when to put the comma.  This script reads the *held-out* poems of the
Tang corpus with ``lyricdemo.probe`` (the visualizer's own reader) and correlates each
unit's activation h_t(u) with the position of character t in its half-line
(0 = the first character after a line break or a ，。？！):

    春 眠 不 觉 晓 ， 处 处 闻 啼 鸟 。 \\n
    0  1  2  3  4  -  0  1  2  3  4  -  -        (punctuation and line breaks not scored)

It prints the units with the largest |Pearson r| over all held-out characters, and
within five- and seven-character poems apart.  corpora/README.md quotes its output.

    python corpora/tang_line_units.py                       # the shipped checkpoints/tang-gru
    python corpora/tang_line_units.py --checkpoint PATH --top 5
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lyricdemo.checkpoint import load_checkpoint  # noqa: E402
from lyricdemo.corpora import EMBEDDED  # noqa: E402
from lyricdemo.corpus import read_corpus_file  # noqa: E402
from lyricdemo.data import load_dataset  # noqa: E402
from lyricdemo.probe import MAX_PROBE_TOKENS, probe  # noqa: E402
from lyricdemo.train import new_model  # noqa: E402

BREAKS = set("，。？！\n")


def held_out_poems(dataset) -> list[str]:
    """Whole poems of the validation lines (the first block may be the tail of a split poem: dropped)."""
    blocks = "\n".join(dataset.val_lines).strip("\n").split("\n\n")
    return [b + "\n" for b in blocks[1:] if b]


def positions_in_line(text: str) -> np.ndarray:
    """For each character: its position in its half-line, or -1 for punctuation and line breaks."""
    out, p = [], 0
    for ch in text:
        if ch in BREAKS:
            out.append(-1)
            p = 0
        else:
            out.append(p)
            p += 1
    return np.array(out)


def chunks(poems: list[str], limit: int) -> list[str]:
    """Consecutive poems joined by blank lines, each chunk within the probe's token limit."""
    out, cur = [], ""
    for poem in poems:
        piece = poem if not cur else "\n" + poem
        if cur and len(cur) + len(piece) > limit:
            out.append(cur)
            cur, piece = "", poem
        cur += piece
    if cur:
        out.append(cur)
    return out


def correlations(h: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Pearson r of each column of h (N, W) with pos (N,)."""
    hc = h - h.mean(0)
    pc = pos - pos.mean()
    denom = np.sqrt((hc ** 2).sum(0) * (pc ** 2).sum()) + 1e-12
    return (hc * pc[:, None]).sum(0) / denom


def read_poems(model, ck, poems: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h (N, W) of the last layer, position in line (N,), poem width 5/7 (N,)) over the poems."""
    hs, ps, widths = [], [], []
    for text in chunks(poems, MAX_PROBE_TOKENS):
        pr = probe(model, ck.vocab, ck.tokenizer, text, saliency_at=None, project=False)
        assert "".join(pr.tokens) == text
        hs.append(pr.values(model.config.num_layers - 1, "h"))
        ps.append(positions_in_line(text))
        w = np.zeros(len(text), dtype=int)
        start = 0
        for block in text.split("\n\n"):
            w[start:start + len(block)] = (len(block.split("\n")[0]) - 2) // 2
            start += len(block) + 2
        widths.append(w)
    return np.concatenate(hs), np.concatenate(ps), np.concatenate(widths)


def report(label: str, h: np.ndarray, pos: np.ndarray, width: np.ndarray, top: int) -> None:
    print(label)
    for name, keep in (("all poems", pos >= 0), ("5-character lines", (pos >= 0) & (width == 5)),
                       ("7-character lines", (pos >= 0) & (width == 7))):
        r = correlations(h[keep], pos[keep].astype(float))
        order = np.argsort(-np.abs(r))[:top]
        print(f"  {name:<18} ({int(keep.sum()):,} chars): " + ", ".join(f"unit {u} r={r[u]:+.2f}" for u in order))
    r_all = correlations(h[pos >= 0], pos[pos >= 0].astype(float))
    u = int(np.argmax(np.abs(r_all)))
    for w in (5, 7):
        means = [float(h[(pos == p) & (width == w), u].mean()) for p in range(w)]
        print(f"  unit {u}, mean activation at positions 0-{w - 1} of {w}-character lines: "
              + " ".join(f"{m:+.2f}" for m in means))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "tang-gru"))
    ap.add_argument("--top", type=int, default=3, help="units to list per group")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ck = load_checkpoint(args.checkpoint)
    raw = read_corpus_file(EMBEDDED["tang"]["path"])
    ds = load_dataset(replace(ck.data_config, source=None), raw=raw)
    poems = held_out_poems(ds)
    h, pos, width = read_poems(ck.model, ck, poems)
    print(f"{args.checkpoint}: {len(poems)} held-out poems, {int((pos >= 0).sum()):,} characters scored, "
          f"{h.shape[1]} units (last layer)")
    report("trained:", h, pos, width, args.top)
    untrained = new_model(ck.model.config, seed=0).eval()
    report("the same model untrained (seed 0), for scale:", *read_poems(untrained, ck, poems), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
