"""Benchmark: what each speed trick of the fast decoder buys, against the plain way.

    python bench/bench_decode_tricks.py [--repeat 2000] [--threads 1]

At batch 1 a decoding step is a chain of small calls, so each trick in ``generate.py`` and
``models/stepper.py`` saves calls rather than arithmetic.  For a GRU 1x256 with a 128-wide
embedding over a vocabulary of the corpus's size (V = 2,597), untrained weights, this prints
microseconds per call of each trick and of the plain version it replaces, and the end-to-end
tokens/s of ``decode_reference.decode`` (the thirty-line reader's version) against
``generate.generate`` (the same tokens, ``tests/test_decode_reference.py``).  The figures are
quoted in the code comments beside each trick.  The load average is printed: on a shared
2-core machine other jobs move every absolute figure.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import common  # noqa: F401  (puts the repository on sys.path)
import torch
import torch.nn.functional as F

V, E, H = 2597, 128, 256


def per_call_us(fn, repeat: int) -> float:
    for _ in range(min(repeat, 200)):
        fn()
    best = math.inf
    for _ in range(3):                      # best of three rounds: other jobs disturb it least
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6


def top_p_row(repeat: int) -> tuple:
    """Top-p over 40 rows (a class's shared batch) of the shipped char GRU's own logits at temperature
    0.8: sorting every row whole against reading the top NUCLEUS_HEAD and sorting only wide rows."""
    from lyricdemo.checkpoint import load_checkpoint
    from lyricdemo.decode_choice import top_p_filter
    from lyricdemo.generate import DecodeConfig, generate

    ck = load_checkpoint(common.REPO / "checkpoints" / "char-gru")
    text = generate(ck.model, ck.vocab, ck.tokenizer, "分开", DecodeConfig(length=400, strategy="sample", seed=0,
                                                                           temperature=0.8)).text
    with torch.inference_mode():
        out = ck.model(torch.tensor([ck.vocab.encode(ck.tokenizer.tokenize(text))]))
    logits = (out[0] if isinstance(out, tuple) else out).reshape(-1, len(ck.vocab))[::10][:40] / 0.8

    def sort_all():
        probs, order = F.softmax(logits, dim=-1).sort(dim=-1, descending=True)
        keep = (probs.cumsum(dim=-1) - probs) < 0.9
        keep[:, 0] = True
        return logits.masked_fill(~torch.zeros_like(keep).scatter(-1, order, keep), -math.inf)
    return ("top-p, 40 rows: sort every row", per_call_us(sort_all, repeat // 10),
            "top-p: head + sort wide rows", per_call_us(lambda: top_p_filter(logits, 0.9), repeat // 10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from lyricdemo.decode_reference import decode
    from lyricdemo.decode_choice import draw, top_choice, uniform_draws
    from lyricdemo.generate import DecodeConfig, generate
    from lyricdemo.models import ModelConfig, build_model
    from lyricdemo.tokenizers import CharTokenizer
    from lyricdemo.vocab import Vocab

    print(f"machine: {common.machine()}; load average before: {os.getloadavg()}")
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=V, kind="gru", embed_dim=E, hidden_size=H)).eval()
    rows = []
    with torch.inference_mode():
        ids = torch.tensor([5])
        state = model.init_state(1)
        stepper = model.stepper()
        rows.append(("one step: model(ids[:, None], state)", per_call_us(lambda: model(ids[:, None], state), args.repeat),
                     "Stepper.step(ids, state)", per_call_us(lambda: stepper.step(ids, state), args.repeat)))
        h = torch.randn(1, H)
        w = model.decoder.weight.detach()
        w_t = w.t().contiguous()
        rows.append(("decoder: F.linear(h, W)", per_call_us(lambda: F.linear(h, w), args.repeat),
                     "h @ W^T pre-transposed", per_call_us(lambda: h @ w_t, args.repeat)))
        logits = torch.randn(1, V) * 3
        raw = F.log_softmax(logits, dim=-1)
        rows.append(("entropy: -(p * log p).sum(-1)", per_call_us(lambda: -(raw.exp() * raw).sum(-1), args.repeat),
                     "entropy: vecdot(p, log p)", per_call_us(lambda: torch.linalg.vecdot(raw.exp(), raw).neg_(),
                                                              args.repeat)))
        probs = F.softmax(logits, dim=-1)
        g = torch.Generator().manual_seed(0)
        rows.append(("draw: torch.multinomial(p, 1)", per_call_us(lambda: torch.multinomial(probs, 1, generator=g),
                                                                 args.repeat),
                     "draw: inverse CDF (draw)", per_call_us(lambda: draw(probs, uniform_draws(1, g)), args.repeat)))
        forbidden = torch.tensor([0])
        top_lp, top_i = raw.topk(5, dim=-1)

        def greedy_plain():
            nxt = logits.index_fill(1, forbidden, -math.inf).argmax(dim=-1)
            return raw.gather(1, nxt.view(-1, 1)).view(-1).tolist(), nxt.tolist()

        def greedy_top():
            return top_choice(top_i[0].tolist(), top_lp[0].tolist(), {0})

        rows.append(("greedy: mask + argmax + gather", per_call_us(greedy_plain, args.repeat),
                     "greedy: read off the top list", per_call_us(greedy_top, args.repeat)))
    rows.append(top_p_row(args.repeat))
    for plain, t_plain, trick, t_trick in rows:
        print(f"  {plain:<40} {t_plain:8.1f} us   {trick:<32} {t_trick:8.1f} us   ({t_plain / t_trick:.1f}x)")

    vocab = Vocab([chr(0x4E00 + i) for i in range(V - 1)])
    tok = CharTokenizer()
    n = 300
    for name, cfg, greedy in (("greedy", DecodeConfig(strategy="greedy", length=n), True),
                              ("sample T 0.8 top-p 0.9", DecodeConfig(strategy="sample", temperature=0.8, top_p=0.9,
                                                                      length=n), False)):
        t0 = time.perf_counter()
        ref = decode(model, vocab, [1], n, greedy=greedy, temperature=cfg.temperature, top_p=cfg.top_p)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = generate(model, vocab, tok, vocab.idx_to_token[1], cfg)
        t_fast = time.perf_counter() - t0
        same = list(fast.candidates[0].ids) == ref
        print(f"  {name:<24} reference {len(ref) / t_ref:7.0f} tokens/s, generate {len(fast.candidates[0].ids) / t_fast:7.0f}"
              f" tokens/s ({t_ref / t_fast * len(fast.candidates[0].ids) / max(len(ref), 1):.1f}x), same tokens: {same}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
