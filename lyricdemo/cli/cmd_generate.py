"""``generate``: continue a prefix with a checkpoint; print the text and how much of it is copied
from the training text."""

from __future__ import annotations

import argparse

from .checkpoints import add_checkpoint_command, resolve_checkpoint, set_threads, training_text


def add_parser(sub) -> None:
    from ..generate import STRATEGIES, DecodeConfig

    p = add_checkpoint_command(sub, "generate", cmd_generate, help="continue a prefix with a checkpoint; prints the "
                               "text and how much of it is copied from the training text")
    d = DecodeConfig()
    p.add_argument("--prefix", default="分开", help="the text to continue ('' starts a new line)")
    p.add_argument("--length", type=int, default=d.length, help="new tokens to generate")
    p.add_argument("--strategy", default=d.strategy, choices=STRATEGIES, help="how to choose each token")
    p.add_argument("--temperature", type=float, default=d.temperature, help="sampling: < 1 bolder, > 1 wilder")
    p.add_argument("--top-k", type=int, default=d.top_k, help="sampling: keep the k most likely tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=d.top_p, help="sampling: keep the smallest set with mass p (1 = off)")
    p.add_argument("--repetition-penalty", type=float, default=d.repetition_penalty,
                   help="> 1 lowers tokens already in the text (1 = off)")
    p.add_argument("--beam-width", type=int, default=d.beam_width, help="beam search: partial texts kept")
    p.add_argument("--candidates", type=int, default=d.num_candidates, help="texts to show (beam: best n; sample: n)")
    p.add_argument("--seed", type=seed_value, default=d.seed, help="sampling seed, or 'random' for a fresh one")
    p.add_argument("--strict", action="store_true", help="refuse prefix characters the model does not know")
    p.add_argument("--memory", action="store_true",
                   help="song memory: the caches over the prefix and the text generated so far, with the settings "
                        "on the model card (python -m lyricdemo card measures them)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for this process (1: batch-1 decoding is fastest on one thread, and a "
                        "second one stalls when the machine is busy; see bench/bench_generate.py)")


def seed_value(value: str):
    if value.strip().lower() in ("random", "none"):
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number or 'random'; got {value!r}") from None


def cmd_generate(args) -> int:
    """Continue a prefix; print the text(s), unknown prefix characters, the decoder's summary and
    how much of each continuation is copied verbatim from the model's training text."""
    from ..checkpoint import load_checkpoint
    from ..generate import DecodeConfig, generate
    from ..novelty import CorpusIndex

    set_threads(args.threads)
    config = DecodeConfig(strategy=args.strategy, length=args.length, temperature=args.temperature,
                          top_k=args.top_k, top_p=args.top_p, repetition_penalty=args.repetition_penalty,
                          beam_width=args.beam_width, num_candidates=args.candidates, seed=args.seed,
                          unknown="strict" if args.strict else "unk")
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint))
    model = ckpt.model
    if args.memory:
        from ..memory import MemoryLM, card_memory_config

        model = MemoryLM(ckpt.model, card_memory_config(ckpt.meta, ckpt.name))
    g = generate(model, ckpt.vocab, ckpt.tokenizer, args.prefix, config)
    print(f"model: {ckpt.describe()}" + (" + song memory" if args.memory else ""))
    if ckpt.model.bidirectional:
        from ..models import BIDIRECTIONAL_WARNING

        print(f"note: {BIDIRECTIONAL_WARNING}")
    if g.prefix.unknown:
        print(f"unknown: {g.prefix.message}")
    print()
    cands = g.candidates
    if len(cands) == 1:
        print(g.text)
    else:
        for i, c in enumerate(cands, 1):
            print(f"[{i}] (mean log-prob {c.mean_log_prob:.3f}) {g.prefix.prefix}{c.continuation}")
    print()
    print(g.summary() + (f", seed {g.seed}" if g.seed is not None else ""))
    shown = set(g.prefix.warnings) if g.prefix.unknown else set()     # already printed under "unknown"
    for note in g.notes:
        if note not in shown:
            print(f"note: {note}")
    text, about = training_text(ckpt)
    if text is None:
        print(f"memorization meter unavailable: {about}.")
        return 0
    index = CorpusIndex(text)
    print(f"memorization of the generated text (the prefix not counted) against {about}:")
    for i, c in enumerate(cands, 1):
        label = f"[{i}] " if len(cands) > 1 else "  "
        print(f"{label}{index.check(c.continuation).summary()}")
    return 0
