"""``train``: train a model; print evaluations and save a checkpoint (``--resume`` continues one)."""

from __future__ import annotations

import shlex
import sys

from ..cores import Share, machine_cores
from ..errors import LyricdemoError
from .checkpoints import set_threads
from .cmd_corpus import say_corpus
from .flags import add_train_args, data_config, model_config, preset_arguments, train_config


def add_parser(sub):
    """The ``train`` subparser, its defaults the recipe of ``presets.DEFAULT`` (returned: ``--preset`` resets them)."""
    from ..presets import DEFAULT, apply

    recipe = preset_arguments(DEFAULT)
    p = sub.add_parser("train", help="train a model; prints evaluations, saves a checkpoint",
                       description="Train a model. Without flags: the default recipe of lyricdemo.presets.DEFAULT "
                                   f"(char {recipe['kind'].upper()} {recipe['hidden_size']}, embedding "
                                   f"{recipe['embed_dim']}, dropout {recipe['dropout_embed']}/{recipe['dropout_out']}, "
                                   f"adaptive softmax {'/'.join(map(str, recipe['adaptive_cutoffs']))}, "
                                   f"{recipe['optimizer']} {recipe['lr']:g} with weight decay "
                                   f"{recipe['weight_decay']:g}, {recipe['sampling']} sampling, "
                                   f"{recipe['max_seconds'] / 60:g} minutes, early stopping after "
                                   f"{recipe['early_stopping']} evaluations), sized to the corpus by "
                                   "lyricdemo/recipe.py (printed before training; --fixed-recipe: as it is).")
    add_train_args(p, apply(DEFAULT))
    p.set_defaults(func=cmd_train, adaptive_default=recipe["adaptive_default"])
    return p


def cmd_train(args) -> int:
    from tqdm import tqdm

    trainer, ds = _trainer(args)
    total, unit = _bar_total(trainer.config, trainer)
    bar = None if args.quiet else tqdm(total=total, unit=unit, dynamic_ncols=True, disable=None,
                                       bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}] {postfix}")
    write = bar.write if bar is not None else print
    done, baselines = None, {}
    share = Share("train") if args.threads == 0 else None
    set_threads(share.threads if share is not None else args.threads)
    write(threads_line(share, args.threads))
    try:
        for ev in trainer.run():
            if share is not None and share.update() is not None:
                set_threads(share.threads)
                write(threads_line(share, args.threads, "now "))
            if ev.kind == "failed":
                write(f"FAILED: {ev.message}")
                return 1
            if ev.kind == "done":
                done = ev
            elif ev.kind == "baselines":
                baselines = ev.perplexities
            _show_event(ev, write, bar, total, unit)
    except KeyboardInterrupt:
        write("stopped by the user; the model keeps its best weights so far")
    finally:
        if share is not None:
            share.close()
        if bar is not None:
            bar.close()
    _print_summary(trainer, ds, done, baselines)
    _save(args, trainer, ds)
    return 0


def threads_line(share, asked: int, now: str = "") -> str:
    """The threads this training uses and why: the flag, or its share of the cores."""
    if share is None:
        return f"threads: {now}{asked} (--threads)"
    cores = machine_cores()
    if not share.running:
        return f"threads: {now}{share.threads} (all {cores} cores: no other training on this machine)"
    others = ", ".join(f"pid {c.pid}" for c in share.running)
    return (f"threads: {now}{share.threads} ({cores} cores shared with {len(share.running)} other "
            f"training{'s' if len(share.running) > 1 else ''}: {others})")


def _trainer(args):
    """(Trainer, Dataset): a new run from the flags, or the one ``--resume`` continues."""
    from ..data import load_dataset
    from ..train import Trainer, new_model

    if args.resume:
        return _resumed(args)
    ds = load_dataset(data_config(args))
    say_corpus(args, ds)
    if not (args.preset or args.fixed_recipe):
        ds = _sized_to_corpus(args, ds)
    tcfg = _capped(train_config(args))
    if args.init_from:
        return Trainer(_from_source(args, ds), ds, tcfg), ds
    return Trainer(new_model(model_config(args, len(ds.vocab)), seed=args.seed), ds, tcfg), ds


def _from_source(args, ds):
    """A new model with the architecture and the starting weights of the checkpoint ``--init-from`` names
    (pretrained on another text, fine-tuned on this one: ``lyricdemo/transfer.py``)."""
    from ..checkpoint import load_checkpoint
    from ..train import new_model
    from ..transfer import ARCHITECTURE, starting_config, transfer
    from .checkpoints import resolve_checkpoint

    src = load_checkpoint(resolve_checkpoint(args.init_from))
    if src.data_config.tokenizer != ds.config.tokenizer:
        raise LyricdemoError(f"{args.init_from!r} reads {src.data_config.tokenizer} tokens, this corpus "
                             f"{ds.config.tokenizer} tokens: a model can only start from one that reads the same.")
    theirs, explicit = src.model.config, getattr(args, "explicit", frozenset())
    clash = [f"{f} {getattr(args, f)!r}" for f in ARCHITECTURE
             if f in explicit and _same(getattr(args, f)) != _same(getattr(theirs, f))]
    if clash:
        raise LyricdemoError(f"--init-from takes the architecture of {args.init_from!r}; these flags differ from "
                             f"it: {', '.join(clash)}. / 迁移沿用原模型的结构。")
    mine = model_config(args, len(ds.vocab))
    model = new_model(starting_config(src.model, src.vocab, mine, ds.vocab), seed=args.seed)
    moved = transfer(src.model, src.vocab, model, ds.vocab)
    unused = [f"{f} {_same(getattr(mine, f))!r}" for f in ARCHITECTURE
              if _same(getattr(mine, f)) != _same(getattr(theirs, f))]
    print(f"starting from {args.init_from} ({theirs.kind.upper()} {theirs.hidden_size}, embedding "
          f"{theirs.embed_dim}, trained on {src.meta.get('corpus', {}).get('name', '?')}) / 从已训练的模型开始: "
          f"{moved.line()}" + (f"\n  its architecture replaces the recipe's {', '.join(unused)} / 结构沿用原模型"
                               if unused else ""))
    return model


def _same(value):
    return tuple(value) if isinstance(value, list) else value


def _sized_to_corpus(args, ds):
    """The default recipe sized to this corpus (``recipe.adapt``): its values replace the defaults of the
    flags not given; prints what it chose and why.  Returns the dataset (read again if a data value moved)."""
    from ..data import load_dataset
    from ..recipe import adapt

    explicit = getattr(args, "explicit", frozenset())
    r = adapt(len(ds.train_ids), len(ds.vocab), len(ds.val_ids), seconds=args.max_seconds or 180.0,
              fine_tune=bool(getattr(args, "init_from", None)))
    changed = {k: v for k, v in r.flat().items() if k not in explicit and getattr(args, k) != v}
    print(f"recipe sized to the corpus (lyricdemo/recipe.py; --fixed-recipe: presets.DEFAULT as it is) / "
          f"按语料调整的配方: {len(ds.train_ids):,} training tokens, vocabulary {len(ds.vocab):,}")
    for line in r.reasons:
        print(f"  {line}")
    if changed:
        print("  changed from the default recipe / 相对默认配方的改动: "
              + ", ".join(f"{k} {getattr(args, k)!r} -> {v!r}" for k, v in changed.items()))
    else:
        print("  the default recipe as it is / 默认配方不变")
    kept = sorted(k for k in r.flat() if k in explicit)
    if kept:
        print(f"  kept as given / 保留命令行的值: {', '.join(kept)}")
    for k, v in changed.items():
        setattr(args, k, v)
    if any(k in changed for k in r.data):
        ds = load_dataset(data_config(args))
    return ds


def _show_event(ev, write, bar, total: int, unit: str) -> None:
    """One training event as a line (or the progress bar's postfix)."""
    if ev.kind == "started":
        write(f"model: {ev.model} on {ev.device}; {ev.train_tokens:,} training tokens, "
              f"{ev.val_tokens:,} validation tokens, {ev.batches_per_epoch} batches per epoch")
    elif ev.kind == "baselines":
        write("n-gram baselines (validation perplexity, modified Kneser-Ney): "
              + ", ".join(f"{k} {v:.1f}" for k, v in ev.perplexities.items()))
    elif ev.kind == "warning":
        write(f"warning: {ev.message}")
    elif ev.kind == "progress":
        if bar is not None:
            bar.n = min(ev.step if unit == "steps" else int(ev.elapsed), total)
            bar.set_postfix_str(f"loss {ev.loss:.3f} | {ev.tokens_per_s:,.0f} tok/s | |g| {ev.grad_norm:.2f}")
    elif ev.kind == "evaluation":
        val = f"{ev.val_ppl:8.1f}" if ev.val_ppl is not None else "       -"
        if ev.kept:
            write(f"kept weights (best step), the whole validation set: validation ppl {val}  [{ev.elapsed:6.1f} s]")
            return
        write(f"step {ev.step:6d}  epoch {ev.epoch:6.2f}  train ppl {ev.train_ppl:8.1f}  "
              f"(eval mode {ev.train_eval_ppl:7.1f})  validation ppl {val}  [{ev.elapsed:6.1f} s]")
    elif ev.kind == "sample":
        write(f"  {ev.text!r}")


def _print_summary(trainer, ds, done, baselines: dict) -> None:
    model = trainer.model
    print("\nsummary")
    print(f"  model            {model.describe()}")
    if done:
        print(f"  stopped by       {done.reason} after {done.step:,} steps ({done.epoch:.2f} epochs), {done.elapsed:.1f} s")
        print(f"  tokens/s         {done.tokens_per_s:,.0f} (training steps only)")
    hist = trainer.history
    if hist:
        last = next((h for h in reversed(hist) if not h.get("kept")), hist[-1])     # the last step's figures
        print(f"  train ppl        {last['train_ppl']:.2f} (batches)  {last['train_eval_ppl']:.2f} (eval mode)")
        if trainer.best_val_ppl is not None:
            print(f"  validation ppl   best {trainer.best_val_ppl:.2f}, last {last['val_ppl']:.2f}; kept: "
                  f"{done.kept if done else 'best'} weights")
    baselines = baselines or trainer.baselines or {}
    for k, v in baselines.items():
        print(f"  {k:<16} {v:.2f} (validation)")
    if trainer.best_val_ppl is not None and baselines.get("bigram"):
        from ..ngram import standing_text

        print(f"  against bigram   {standing_text(trainer.best_val_ppl, baselines['bigram'])}")
    if len(ds.val_ids) >= 2:
        from ..bits import measure as measure_bits

        b = measure_bits(model, ds)
        print(f"  bits/char        {b.bits_per_char:.3f} (validation; comparable between char and word models, "
              f"<unk> covers {b.unk_char_share:.1%} of the characters)")
        if baselines.get("bigram") and not getattr(model, "bidirectional", False):
            _print_mixture(model, ds, baselines["bigram"])


MIX_IN_SUMMARY_TOKENS = 100_000     # a larger training text: seconds to count its trigram; `evaluate` prints it


def _print_mixture(model, ds, bigram: float) -> None:
    """The model mixed half and half with the trigram of its training text (``mixture.py``), against the bigram."""
    from ..bits import measure as measure_bits
    from ..mixture import mixed_with_ngram
    from ..ngram import standing_text

    if len(ds.train_ids) > MIX_IN_SUMMARY_TOKENS:
        print("  + trigram        (python -m lyricdemo evaluate measures the model mixed with its trigram)")
        return
    ppl = 2 ** measure_bits(mixed_with_ngram(model, ds.train_ids, len(ds.vocab)), ds).bits_per_token
    print(f"  + trigram        {ppl:.2f} (validation; mixed half and half with the trigram of the training text: "
          f"{standing_text(ppl, bigram)})")


def _save(args, trainer, ds) -> None:
    """Save the checkpoint (and its card with ``--card``) where ``--out`` says, or back into ``--resume``'s folder."""
    from ..checkpoint import save_from_training

    out = args.out or args.resume              # a resumed run writes back to its folder unless --out says where
    if not out:
        return
    command = "python -m lyricdemo " + " ".join(shlex.quote(a) for a in args.argv)
    path = save_from_training(out, trainer, ds, dtype="float16" if args.fp16 else "float32",
                              resume=args.resumable or bool(args.resume), extra={"command": command})
    print(f"  saved            {path}")
    if args.card:
        from ..card import write_card

        fig = write_card(path, ds, command)
        print(f"  model card       {path / 'README.md'} (validation perplexity as stored: {fig.val_ppl:.2f})")


MAX_TRAIN_SECONDS_ENV = "LYRICDEMO_MAX_TRAIN_SECONDS"


def _capped(trainer_or_config, already: float = 0.0):
    """``LYRICDEMO_MAX_TRAIN_SECONDS``, when set, caps the CLI's time budget as it caps the app's slider
    (a machine shared by a class; the README's examples run under it in the tests).  Unset: no cap."""
    from dataclasses import replace

    from ..environment import env_number

    cap = env_number(MAX_TRAIN_SECONDS_ENV, None, 0, 7 * 24 * 3600, whole=False, lo_open=True)
    if cap is None:
        return trainer_or_config
    c = trainer_or_config
    limit = already + cap
    if c.max_seconds and c.max_seconds <= limit:
        return c
    print(f"time budget capped at {cap:g} s by {MAX_TRAIN_SECONDS_ENV}", file=sys.stderr)
    return replace(c, max_seconds=limit)


def _resumed(args):
    """(Trainer, Dataset) continuing the run saved in ``--resume``: the data and training settings are the
    checkpoint's own, and the budget flags say how much *more* to train (``--minutes 1``: one more minute)."""
    from dataclasses import replace

    from ..checkpoint import load_checkpoint, resume_trainer
    from ..data import load_dataset

    ckpt = load_checkpoint(args.resume)
    if not ckpt.meta.get("resume"):
        raise LyricdemoError(f"{args.resume!r} was saved without its training state: train it with --resumable "
                             "to continue it later (this one can still generate and be probed).")
    ds = load_dataset(ckpt.data_config)
    trainer = resume_trainer(args.resume, ds, ckpt.train_config)
    c = trainer.config
    more_epochs = args.epochs + trainer.epoch + trainer.batch_in_epoch / max(trainer.batches_per_epoch(), 1)
    trainer.config = replace(c, max_seconds=trainer.train_seconds + args.max_seconds if args.max_seconds else 0,
                             max_steps=trainer.step + args.max_steps if args.max_steps else 0,
                             epochs=more_epochs if args.epochs else 0)
    trainer.config = _capped(trainer.config, already=trainer.train_seconds)
    print(f"resuming {args.resume} at step {trainer.step:,} ({trainer.train_seconds:.0f} s trained) on "
          f"{ds.raw.name}; training up to " + ", ".join(
              x for x in (f"{args.max_seconds / 60:g} more minute(s)" if args.max_seconds else "",
                          f"{args.max_steps:,} more steps" if args.max_steps else "",
                          f"{args.epochs:g} more epoch(s)" if args.epochs else "") if x))
    return trainer, ds


def _bar_total(tcfg, trainer) -> tuple[int, str]:
    """The progress bar counts steps under a step/epoch budget, else seconds."""
    if tcfg.max_steps:
        return tcfg.max_steps, "steps"
    if tcfg.epochs:
        return int(tcfg.epochs * trainer.batches_per_epoch()), "steps"
    return int(tcfg.max_seconds), "s"
