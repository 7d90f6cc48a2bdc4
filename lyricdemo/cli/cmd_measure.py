"""``evaluate`` (a checkpoint beside the n-gram baselines, with song memory on request) and ``card``
(measure a checkpoint again and rewrite its model card)."""

from __future__ import annotations

from ..errors import LyricdemoError
from .checkpoints import add_checkpoint_command, checkpoint_dataset, resolve_checkpoint, set_threads


def add_parsers(sub) -> None:
    p = add_checkpoint_command(sub, "evaluate", cmd_evaluate, help="validation perplexity and bits per character "
                               "of a checkpoint beside the n-gram baselines; --memory: with song memory too")
    p.add_argument("--memory", action="store_true",
                   help="also with song memory (caches over the text read so far, dynamic evaluation), the "
                        "n-grams given the same memory; settings from the model card, else tuned on training text")
    p.add_argument("--retune", action="store_true", help="with --memory: tune the memory again, ignoring the card")
    p.add_argument("--threads", type=int, default=1, help="torch threads (batch-1 work is fastest on one)")

    p = add_checkpoint_command(sub, "card", cmd_card, help="measure an existing checkpoint again and rewrite its "
                               "model card (weights unchanged)")
    p.add_argument("--no-memory", action="store_true", help="leave song memory off the card (it takes minutes)")
    p.add_argument("--baselines-only", action="store_true",
                   help="keep the model's song-memory figures from its card (same weights) and measure the rest "
                        "again, the n-gram baselines with and without memory included (seconds, not minutes)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def cmd_evaluate(args) -> int:
    """Validation perplexity and bits per character of a checkpoint beside the n-gram baselines;
    with ``--memory``, the same with song memory (the n-grams given the same memory)."""
    from ..bits import measure as measure_bits
    from ..checkpoint import load_checkpoint
    from ..mixture import mixed_with_ngram
    from ..ngram import NGramLM, standing_text

    set_threads(args.threads)
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint))
    try:
        ds = checkpoint_dataset(ckpt)
    except LyricdemoError as e:
        raise LyricdemoError(f"Cannot evaluate {ckpt.name}: {e}.") from None
    unit = "char" if ds.config.tokenizer == "char" else "word"
    V = len(ds.vocab)
    models = {ckpt.name: ckpt.model}
    models.update({NGramLM(n, V).name: NGramLM(n, V).fit(ds.train_ids) for n in (1, 2, 3)})
    print(f"model: {ckpt.describe()}")
    print(f"validation text: {len(ds.val_ids):,} {unit} tokens, <unk> {ds.val_unk_rate:.1%} of them")
    print(f"\n{'':<22}{'ppl per ' + unit:>14}{'bits/char':>11}")
    figures = {}
    for name, m in models.items():
        b = measure_bits(m, ds)
        figures[name] = b
        print(f"{name:<22}{2 ** b.bits_per_token:>14.1f}{b.bits_per_char:>11.3f}")
    mixed = None
    if not getattr(ckpt.model, "bidirectional", False):
        mixed = measure_bits(mixed_with_ngram(ckpt.model, ds.train_ids, V), ds)
        print(f"{'+ trigram, 0.5 / 0.5':<22}{2 ** mixed.bits_per_token:>14.1f}{mixed.bits_per_char:>11.3f}")
    print("(bits per character: the total log-loss in bits over the characters the predicted tokens cover; "
          "a line break is one character; the n-grams are interpolated modified Kneser-Ney)")
    if "bigram" in figures:
        print(f"{ckpt.name} against the bigram: "
              f"{standing_text(2 ** figures[ckpt.name].bits_per_token, 2 ** figures['bigram'].bits_per_token)}")
        if mixed is not None:
            print(f"{ckpt.name} mixed with the trigram (fixed equal weights, lyricdemo/mixture.py) against the "
                  f"bigram: {standing_text(2 ** mixed.bits_per_token, 2 ** figures['bigram'].bits_per_token)}")
    if args.memory:
        _print_with_memory(args, ckpt, ds, models, figures)
    return 0


def _print_with_memory(args, ckpt, ds, models: dict, figures: dict) -> None:
    """``evaluate --memory``: each model with song memory (settings from the card unless ``--retune``), and
    the checkpoint with dynamic evaluation too (the rate chosen on the same slice; none if none helps there)."""
    from ..card import DYNAMIC
    from ..memory_tuning import tuning_slice
    from ..ngram import standing_text

    stored = (ckpt.meta.get("card") or {}).get("memory") or {}
    tune = tuning_slice(ds.train_ids, len(ds.val_ids))
    print(f"\nsong memory, tuned on the last {len(tune):,} training tokens"
          + ("" if args.retune or not stored else " (settings stored on the model card; --retune chooses again)"))
    print(f"{'':<22}{'without':>10}{'with memory':>13}{'bits/char':>11}   settings")
    with_memory = {}
    for name, m in models.items():
        if name == "unigram":
            continue
        key = "model" if name == ckpt.name else name
        choice = _memory_row(name, m, ds, figures[name], None if args.retune else stored.get(key), tune, with_memory)
        if key == "model" and hasattr(m, "features"):
            _memory_row(name + " + dynamic eval", m, ds, figures[name],
                        None if args.retune else stored.get(DYNAMIC), tune, with_memory, dynamic=True, without=choice)
    if "bigram" in with_memory:
        mine = with_memory.get(ckpt.name + " + dynamic eval", with_memory[ckpt.name])
        print(f"\n{ckpt.name} with memory / bigram with memory: {mine / with_memory['bigram']:.3f} ("
              + standing_text(mine, with_memory["bigram"], "the bigram with memory", "带记忆的二元模型") + ")")


def _memory_row(name: str, m, ds, bits, stored: dict | None, tune, with_memory: dict, dynamic: bool = False,
                without=None):
    """One row of ``evaluate --memory``: ``m`` with the memory ``stored`` on the card, else chosen on ``tune``
    (``dynamic``: with dynamic evaluation too, kept only if a rate helps on ``tune`` against ``without``, the
    choice with none, if known); adds the perplexity to ``with_memory``; returns the choice (None when stored)."""
    import math
    import time

    from ..memory import MemoryConfig
    from ..memory_tuning import choose_dynamic, choose_memory, memory_log_probs

    t0, choice = time.perf_counter(), None
    if stored:
        cfg = MemoryConfig.from_dict(stored["config"])
    else:
        choice = choose_memory(m, tune) if not dynamic else choose_dynamic(m, tune, without or choose_memory(m, tune))
        cfg = choice.config
    if dynamic and not cfg.dynamic_lr:
        print(f"{name:<22}   no dynamic-evaluation rate helped on the tuning slice: as above")
        return choice
    plain, mixed = memory_log_probs(m, ds.val_ids, cfg)
    with_memory[name] = math.exp(-mixed.mean())
    how = f"window {cfg.window}, beta {cfg.beta:g}" + (f", theta {cfg.theta:g}" if cfg.continuous else "") \
        + (f", dynamic lr {cfg.dynamic_lr:g}" if cfg.dynamic_lr else "")
    print(f"{name:<22}{math.exp(-plain.mean()):>10.1f}{with_memory[name]:>13.1f}"
          f"{-mixed.sum() / math.log(2) / bits.chars:>11.3f}   {how} [{time.perf_counter() - t0:.0f} s]")
    return choice


def cmd_card(args) -> int:
    """Measure an existing checkpoint again and rewrite its model card (the weights are not touched)."""
    from ..card import write_card
    from ..checkpoint import load_checkpoint

    set_threads(args.threads)
    path = resolve_checkpoint(args.checkpoint)
    ckpt = load_checkpoint(path)
    try:
        ds = checkpoint_dataset(ckpt)
    except LyricdemoError as e:
        raise LyricdemoError(f"Cannot measure {ckpt.name}: {e}.") from None
    fig = write_card(path, ds, ckpt.meta.get("command"), memory=not args.no_memory,
                     baselines_only=args.baselines_only)
    print(f"model card {path / 'README.md'}: validation perplexity {fig.val_ppl:.2f}, "
          f"{fig.bits['model']['bits_per_char']:.3f} bits/char"
          + (f", with song memory {fig.memory['model']['val_ppl_memory']:.2f}" if fig.memory else ""))
    return 0
