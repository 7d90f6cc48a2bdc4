"""Command line: ``python -m lyricdemo {inspect,fetch,train,generate,probe,evaluate,card} ...``.

Each subcommand is a thin shell over the library: it parses arguments, calls the
library, prints.  A ``LyricdemoError`` is printed as a plain message (exit code 2),
never as a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .errors import LyricdemoError
from .presets import DEFAULT, PRESETS


# The flags of the config fields, one per field (vocab_size comes from the data): the flag where it is not the
# field's name with dashes.  --no-clip and --keep-last turn a field that defaults to True off; --minutes reads
# max_seconds in minutes.  tests/test_config_fields.py checks the flags against the fields, both ways.
FLAGS = {
    "source": "--file", "reserved_tokens": "--reserved", "kind": "--model", "embed_dim": "--embed",
    "hidden_size": "--hidden", "num_layers": "--layers", "tie_weights": "--tie", "adaptive_cutoffs": "--adaptive",
    "batch_size": "--batch", "num_steps": "--steps", "lr_schedule": "--schedule", "clip_theta": "--clip",
    "clip": "--no-clip", "early_stopping": "--patience", "keep_best": "--keep-last", "max_seconds": "--minutes",
    "sample_prefixes": "--prefix",
}
TURNS_OFF = ("clip", "keep_best")
NOTES = {       # what a flag adds to its field's help
    "source": "the d2l lyrics in data/, else the embedded Tang poems",
    "adaptive_cutoffs": "e.g. 500 1200 (the default); --adaptive with no numbers: the full softmax",
    "max_seconds": "in minutes (0 = none)",
    "sample_prefixes": "repeatable",
}


def _minutes(text: str) -> float:
    return float(text) * 60


class _Repeat(argparse.Action):
    """A repeatable flag whose values replace its default (argparse's "append" would add to it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, self.dest)
        setattr(namespace, self.dest, (given if isinstance(given, list) else []) + [values])


def _add_fields(g, cls, defaults: dict, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of the config class ``cls``: its type, choices and help from the field, its default
    from ``defaults`` (the field's own, or a preset's)."""
    from .fields import config_fields

    for f in config_fields(cls):
        if f.name in skip:
            continue
        tp, _optional, many = f.metadata["_hint"]
        text = f.metadata["help"] + (f" ({NOTES[f.name]})" if f.name in NOTES else "")
        kw = {"dest": f.name, "default": defaults[f.name], "help": text.replace("%", "%%")}
        if tp is bool:
            kw["action"] = "store_false" if f.name in TURNS_OFF else "store_true"
        elif many:
            kw.update(action=_Repeat) if f.name == "sample_prefixes" else kw.update(nargs="*")
            kw["type"] = tp
        else:
            kw["type"] = _minutes if f.name == "max_seconds" else tp
        flag = FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
        if f.metadata["choices"] is not None:
            kw["choices"] = f.metadata["choices"]
        elif tp is not bool:
            kw["metavar"] = flag[2:].upper().replace("-", "_")
        g.add_argument(flag, **kw)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from .data import DataConfig
    from .fields import defaults

    _add_fields(p.add_argument_group("data"), DataConfig, defaults(DataConfig))


def _config(cls, args, **given):
    """The config ``cls`` from the parsed flags (in the fields' names) and ``given``."""
    from .fields import config_fields

    return cls(**{f.name: getattr(args, f.name) for f in config_fields(cls) if f.name not in given}, **given)


def _data_config(args):
    from .data import DataConfig

    return _config(DataConfig, args)


def _show(tok: str) -> str:
    return {"\n": "\\n", " ": "␠", "\u3000": "␣(全角)"}.get(tok, tok)


def cmd_inspect(args) -> int:
    from .data import load_dataset
    from .stats import RawStats, corpus_stats

    cfg = _data_config(args)
    ds = load_dataset(cfg)
    _say_corpus(args, ds)
    raw, st = RawStats.of(ds.raw), corpus_stats(ds, top=args.top)
    rows = [
        ("file", f"{raw.name}  ({raw.size_bytes:,} bytes, sha256 {raw.sha256[:16]}...)"),
        ("lines (raw)", f"{raw.lines:,}"),
        ("characters (raw, no line breaks)", f"{raw.chars:,}  ({raw.distinct_chars:,} distinct)"),
        ("settings", f"clean={cfg.clean} tokenizer={cfg.tokenizer} newline={cfg.newline} min_freq={cfg.min_freq}"),
        ("lines train / validation", f"{st.train_lines:,} / {st.val_lines:,}"),
        ("training tokens", f"{st.tokens:,}  (mean {st.mean_token_chars:.2f} chars per token)"),
        ("distinct training tokens", f"{st.types:,}"),
        (f"vocabulary size (min_freq={cfg.min_freq})", f"{st.vocab_size:,}  (incl. <unk>)"),
        ("singletons (seen once)", f"{st.singletons:,}  ({st.singletons / max(st.types, 1):.0%} of types)"),
        ("validation tokens", f"{st.val_tokens:,}"),
        ("validation <unk> rate", f"{st.val_unk_rate:.2%}"),
        ("coverage", "  ".join(f"{m:.0%}:{k}" for m, k in st.coverage_marks.items()) + "  (share: top-k types)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"\ntop {args.top} tokens: " + "  ".join(f"{_show(t)}:{f}" for t, f in st.top_tokens))
    return 0


def cmd_fetch(args) -> int:
    from .corpus import fetch_corpus
    from .sources import corpus_urls

    path = fetch_corpus(urls=tuple(args.url) if args.url else corpus_urls())
    print(f"corpus ready: {path}")
    return 0


def _add_train_args(p: argparse.ArgumentParser, recipe: dict[str, dict]) -> None:
    from .data import DataConfig
    from .models import ModelConfig
    from .train import TrainConfig

    _add_fields(p.add_argument_group("data"), DataConfig, recipe["data"])
    _add_fields(p.add_argument_group("model"), ModelConfig, recipe["model"], skip=("vocab_size",))
    g = p.add_argument_group("training")
    _add_fields(g, TrainConfig, recipe["train"])
    g.add_argument("--preset", default=None, choices=["classroom", "d2l"],
                   help="start from a preset of the app (explicit flags still win)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, help="save the checkpoint folder here, e.g. checkpoints/my-gru")
    g.add_argument("--fp16", action="store_true", help="store the weights as float16 (half the size)")
    g.add_argument("--resumable", action="store_true", help="also store optimizer and RNG state (exact resume)")
    g.add_argument("--resume", default=None, help="continue the run saved in this checkpoint folder")
    g.add_argument("--card", action="store_true", help="measure the saved checkpoint and write its model card")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def preset_arguments(preset: dict | str) -> dict:
    """A preset (``presets.PRESETS``/``DEFAULT``) as the train command's defaults: ``presets.apply`` in the
    fields' names, which are the flags' destinations."""
    from .presets import apply

    whole = apply(preset)
    out = {k: v for part in whole.values() for k, v in part.items()}
    out["adaptive_default"] = out["adaptive_cutoffs"]   # the same object: ``args.adaptive_cutoffs is`` = not given
    return out


def _model_config(args, vocab_size: int):
    from .models import ModelConfig

    cutoffs = tuple(args.adaptive_cutoffs)
    if cutoffs and args.adaptive_cutoffs is getattr(args, "adaptive_default", None) and max(cutoffs) >= vocab_size - 1:
        # the recipe's cutoffs are ranks in the d2l vocabulary (~2,000 tokens); a smaller one gets the full
        # softmax -- an explicit --adaptive is never changed (a bad one is an error)
        print(f"note: the vocabulary has {vocab_size:,} tokens, too few for the default adaptive softmax "
              f"cutoffs {list(cutoffs)}; using the full softmax")
        cutoffs = ()
    return _config(ModelConfig, args, vocab_size=vocab_size, adaptive_cutoffs=cutoffs)


def _train_config(args):
    from .train import TrainConfig

    return _config(TrainConfig, args)


def cmd_train(args) -> int:
    import torch
    from tqdm import tqdm

    from .checkpoint import resume_trainer, save_from_training
    from .data import load_dataset
    from .train import Trainer, new_model

    if args.resume:
        trainer, ds = _resumed(args)
        tcfg = trainer.config
    else:
        ds = load_dataset(_data_config(args))
        _say_corpus(args, ds)
        tcfg = _capped(_train_config(args))
        trainer = Trainer(new_model(_model_config(args, len(ds.vocab)), seed=args.seed), ds, tcfg)
    total, unit = _bar_total(tcfg, trainer)
    bar = None if args.quiet else tqdm(total=total, unit=unit, dynamic_ncols=True, disable=None,
                                       bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}] {postfix}")
    write = bar.write if bar is not None else print
    done = None
    baselines = {}
    try:
        for ev in trainer.run():
            if ev.kind == "started":
                write(f"model: {ev.model} on {ev.device}; {ev.train_tokens:,} training tokens, "
                      f"{ev.val_tokens:,} validation tokens, {ev.batches_per_epoch} batches per epoch")
            elif ev.kind == "baselines":
                baselines = ev.perplexities
                write("n-gram baselines (validation perplexity): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in ev.perplexities.items()))
            elif ev.kind == "warning":
                write(f"warning: {ev.message}")
            elif ev.kind == "progress":
                if bar is not None:
                    bar.n = min(ev.step if unit == "steps" else int(ev.elapsed), total)
                    bar.set_postfix_str(f"loss {ev.loss:.3f} | {ev.tokens_per_s:,.0f} tok/s | |g| {ev.grad_norm:.2f}")
            elif ev.kind == "evaluation":
                val = f"{ev.val_ppl:8.1f}" if ev.val_ppl is not None else "       -"
                write(f"step {ev.step:6d}  epoch {ev.epoch:6.2f}  train ppl {ev.train_ppl:8.1f}  "
                      f"(eval mode {ev.train_eval_ppl:7.1f})  validation ppl {val}  [{ev.elapsed:6.1f} s]")
            elif ev.kind == "sample":
                write(f"  {ev.text!r}")
            elif ev.kind == "failed":
                write(f"FAILED: {ev.message}")
                return 1
            elif ev.kind == "done":
                done = ev
    except KeyboardInterrupt:
        write("stopped by the user; the model keeps its best weights so far")
    finally:
        if bar is not None:
            bar.close()
    model = trainer.model
    print("\nsummary")
    print(f"  model            {model.describe()}")
    if done:
        print(f"  stopped by       {done.reason} after {done.step:,} steps ({done.epoch:.2f} epochs), {done.elapsed:.1f} s")
        print(f"  tokens/s         {done.tokens_per_s:,.0f} (training steps only)")
    hist = trainer.history
    if hist:
        last = hist[-1]
        print(f"  train ppl        {last['train_ppl']:.2f} (batches)  {last['train_eval_ppl']:.2f} (eval mode)")
        if trainer.best_val_ppl is not None:
            print(f"  validation ppl   best {trainer.best_val_ppl:.2f}, last {last['val_ppl']:.2f}; kept: "
                  f"{done.kept if done else 'best'} weights")
    for k, v in (baselines or trainer.baselines or {}).items():
        print(f"  {k:<16} {v:.2f} (validation)")
    if len(ds.val_ids) >= 2:
        from .bits import measure as measure_bits

        b = measure_bits(model, ds)
        print(f"  bits/char        {b.bits_per_char:.3f} (validation; comparable between char and word models, "
              f"<unk> covers {b.unk_char_share:.1%} of the characters)")
    out = args.out or args.resume              # a resumed run writes back to its folder unless --out says where
    if out:
        command = "python -m lyricdemo " + " ".join(shlex.quote(a) for a in args.argv)
        path = save_from_training(out, trainer, ds, dtype="float16" if args.fp16 else "float32",
                                  resume=args.resumable or bool(args.resume), extra={"command": command})
        print(f"  saved            {path}")
        if args.card:
            from .card import write_card

            fig = write_card(path, ds, command)
            print(f"  model card       {path / 'README.md'} (validation perplexity as stored: {fig.val_ppl:.2f})")
    return 0


MAX_TRAIN_SECONDS_ENV = "LYRICDEMO_MAX_TRAIN_SECONDS"


def _capped(trainer_or_config, already: float = 0.0):
    """``LYRICDEMO_MAX_TRAIN_SECONDS``, when set, caps the CLI's time budget as it caps the app's slider
    (a machine shared by a class; the README's examples run under it in the tests).  Unset: no cap."""
    from dataclasses import replace

    from .environment import env_number

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

    from .checkpoint import load_checkpoint, resume_trainer
    from .data import load_dataset

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


def _say_corpus(args, ds) -> None:
    """Without --file the corpus in use is the d2l one in data/, else the embedded one: say which."""
    if not args.source:
        from .sources import corpus_in_use

        print(f"corpus: {corpus_in_use().describe()}  (--file chooses another)")


def _bar_total(tcfg, trainer) -> tuple[int, str]:
    """The progress bar counts steps under a step/epoch budget, else seconds."""
    if tcfg.max_steps:
        return tcfg.max_steps, "steps"
    if tcfg.epochs:
        return int(tcfg.epochs * trainer.batches_per_epoch()), "steps"
    return int(tcfg.max_seconds), "s"


def _add_generate_args(p: argparse.ArgumentParser) -> None:
    from .generate import STRATEGIES, DecodeConfig

    d = DecodeConfig()
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder, or the name of one under checkpoints/ (e.g. char-gru)")
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
    p.add_argument("--seed", type=_seed, default=d.seed, help="sampling seed, or 'random' for a fresh one")
    p.add_argument("--strict", action="store_true", help="refuse prefix characters the model does not know")
    p.add_argument("--memory", action="store_true",
                   help="song memory: the caches over the prefix and the text generated so far, with the settings "
                        "on the model card (python -m lyricdemo card measures them)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for this process (1: batch-1 decoding is fastest on one thread, and a "
                        "second one stalls when the machine is busy; see bench/bench_generate.py)")


def _seed(value: str):
    if value.strip().lower() in ("random", "none"):
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number or 'random'; got {value!r}") from None


def _resolve_checkpoint(name: str):
    """A folder as given, else a bare name under the repository's ``checkpoints/``."""
    from .checkpoint import SHIPPED_DIR, list_checkpoints

    path = Path(name)
    if path.is_dir():
        return path
    if path.name == name and (SHIPPED_DIR / name).is_dir():
        return SHIPPED_DIR / name
    shipped = [folder.name for folder, _ in list_checkpoints(SHIPPED_DIR)]
    known = f" Checkpoints in {SHIPPED_DIR}: {', '.join(shipped)}." if shipped else ""
    raise LyricdemoError(f"No checkpoint folder at {name!r} (nor {SHIPPED_DIR / path.name}).{known}")


def _checkpoint_dataset(ckpt):
    """The dataset a checkpoint was trained on (its DataConfig over its corpus file), or a
    ``LyricdemoError`` saying why it cannot be had.

    The checkpoint records the sha256 of the corpus file it saw; the data is rebuilt from
    the file only when that file is here with the same sha256, so no figure is ever
    measured against a different text than the model's."""
    from dataclasses import replace

    from .corpus import default_corpus_path
    from .data import DataConfig, load_dataset, load_raw
    from .sources import source_with_sha256

    sha = (ckpt.meta.get("corpus") or {}).get("sha256")
    if not sha:
        raise LyricdemoError("the checkpoint does not record which corpus it was trained on")
    cfg: DataConfig = ckpt.data_config
    if not cfg.source:                       # trained on a built-in corpus: the one with its checksum
        builtin = source_with_sha256(sha)
        cfg = replace(cfg, source=str(builtin.path if builtin else default_corpus_path()))
    path = Path(cfg.source)
    if not path.is_file():
        hint = " (python -m lyricdemo fetch gets the d2l corpus)" if path == default_corpus_path() else ""
        raise LyricdemoError(f"its training corpus {str(path)!r} is not here{hint}")
    try:
        raw = load_raw(cfg)
    except LyricdemoError as e:
        raise LyricdemoError(f"its training corpus cannot be read: {e}") from None
    if raw.sha256 != sha:
        raise LyricdemoError(f"{str(path)!r} is not the file this model was trained on "
                             f"(sha256 {raw.sha256[:12]}..., the checkpoint says {sha[:12]}...)")
    return load_dataset(cfg, raw=raw)


def _training_text(ckpt) -> tuple[str | None, str]:
    """(the checkpoint's training text, a description) or (None, why it cannot be had)."""
    try:
        ds = _checkpoint_dataset(ckpt)
    except LyricdemoError as e:
        return None, str(e)
    text = ds.train_text
    return text, f"its training text ({ds.raw.name}, {len(text):,} chars)"


def _set_threads(n: int) -> None:
    """torch threads for this process only (the CLI is its own app)."""
    import torch

    if not 1 <= n <= 256:
        raise LyricdemoError(f"--threads must be a whole number from 1 to 256; got {n}.")
    torch.set_num_threads(n)


def cmd_generate(args) -> int:
    """Continue a prefix; print the text(s), unknown prefix characters, the decoder's summary and
    how much of each continuation is copied verbatim from the model's training text."""
    from .checkpoint import load_checkpoint
    from .generate import DecodeConfig, generate
    from .novelty import CorpusIndex

    _set_threads(args.threads)
    config = DecodeConfig(strategy=args.strategy, length=args.length, temperature=args.temperature,
                          top_k=args.top_k, top_p=args.top_p, repetition_penalty=args.repetition_penalty,
                          beam_width=args.beam_width, num_candidates=args.candidates, seed=args.seed,
                          unknown="strict" if args.strict else "unk")
    ckpt = load_checkpoint(_resolve_checkpoint(args.checkpoint))
    model = ckpt.model
    if args.memory:
        from .memory import MemoryLM, card_memory_config

        model = MemoryLM(ckpt.model, card_memory_config(ckpt.meta, ckpt.name))
    g = generate(model, ckpt.vocab, ckpt.tokenizer, args.prefix, config)
    print(f"model: {ckpt.describe()}" + (" + song memory" if args.memory else ""))
    if ckpt.model.bidirectional:
        from .models import BIDIRECTIONAL_WARNING

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
    text, about = _training_text(ckpt)
    if text is None:
        print(f"memorization meter unavailable / 无法检查照抄: {about}.")
        return 0
    index = CorpusIndex(text)
    print(f"memorization of the generated text (the prefix not counted) against {about}:")
    for i, c in enumerate(cands, 1):
        label = f"[{i}] " if len(cands) > 1 else "  "
        print(f"{label}{index.check(c.continuation).summary()}")
    return 0


def _add_probe_args(p: argparse.ArgumentParser) -> None:
    from .activations import SELECT_BY
    from .probe import DEFAULT_TOP_K, MAX_PROBE_TOKENS

    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder, or the name of one under checkpoints/ (e.g. char-gru)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text the model reads (\\n in a shell string is a line break)")
    src.add_argument("--text-file", help="read the text from this UTF-8 file")
    p.add_argument("--out", required=True, help="FILE.json (the data) or FILE.html (a standalone page of the plots)")
    p.add_argument("--max-tokens", type=int, default=MAX_PROBE_TOKENS, help="refuse longer texts (at most 2,000)")
    p.add_argument("--truncate", action="store_true", help="read only the first --max-tokens tokens of a longer text")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="next-token candidates kept per position")
    p.add_argument("--position", type=int, default=None,
                   help="saliency of this position (default: the last one that predicts a token of the text; "
                        "negative counts from the end)")
    p.add_argument("--connectivity", action="store_true",
                   help="also the full saliency matrix (one row per position; short texts only)")
    p.add_argument("--layer", type=int, default=0, help="HTML: the layer shown (1 = first; default the last)")
    p.add_argument("--unit", type=int, default=None, help="HTML: the unit the text is coloured by (default the top one)")
    p.add_argument("--select-by", default="line starts", choices=SELECT_BY,
                   help="HTML: positions whose units are ranked ('find units that fire here')")
    p.add_argument("--select", default="", help="HTML: the character/word or positions (0, 5, 9-12) for --select-by")
    p.add_argument("--no-arrays", action="store_true", help="JSON: leave out the (T, units) states and gates")
    p.add_argument("--threads", type=int, default=1, help="torch threads (batch-1 work is fastest on one)")


def cmd_probe(args) -> int:
    """Read a text with a checkpoint and write what the visualizer shows: JSON data or an HTML page."""
    import json
    import time

    from .checkpoint import load_checkpoint
    from .probe import connectivity, probe
    from .probe_page import probe_html, probe_notes

    out = Path(args.out)
    fmt = {".json": "json", ".html": "html", ".htm": "html"}.get(out.suffix.lower())
    if fmt is None:
        raise LyricdemoError(f"--out must end in .json (the data) or .html (a page of the plots); got {args.out!r}.")
    _set_threads(args.threads)
    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LyricdemoError(f"Cannot read {args.text_file!r} as UTF-8 text: {e}") from None
    else:
        text = args.text.replace("\\n", "\n")
    ckpt = load_checkpoint(_resolve_checkpoint(args.checkpoint))
    t0 = time.perf_counter()
    p = probe(ckpt.model, ckpt.vocab, ckpt.tokenizer, text, max_tokens=args.max_tokens, truncate=args.truncate,
              top_k=args.top_k, saliency_at="auto" if args.position is None else args.position)
    conn = connectivity(ckpt.model, ckpt.vocab, ckpt.tokenizer, text) if args.connectivity else None
    seconds = time.perf_counter() - t0
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        layer = (args.layer - 1) if args.layer else p.num_layers - 1
        page = probe_html(p, layer=layer, unit=args.unit, select_by=args.select_by, select_value=args.select,
                          title=f"lyricdemo · {ckpt.name}", connectivity=conn)
        out.write_text(page, encoding="utf-8")
    else:
        d = p.to_dict(arrays=not args.no_arrays)
        d["notes"] = probe_notes(p)
        d["model"].update(checkpoint=ckpt.name, describe=ckpt.model.describe(), tokenizer=ckpt.data_config.tokenizer)
        if conn is not None:
            d["connectivity"] = {"targets": conn.targets, "matrix": conn.matrix.round(8).tolist(),
                                 "reads_future": conn.reads_future}
        out.write_text(json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")), encoding="utf-8")
    print(f"model: {ckpt.describe()}")
    for note in probe_notes(p):
        print(f"note: {note}")
    bits = p.surprisal_bits()
    print(f"read {len(p.tokens)} tokens in {seconds:.2f} s" + (f"; mean surprisal {bits:.2f} bits/token" if bits else ""))
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB, {fmt})")
    return 0


def cmd_evaluate(args) -> int:
    """Validation perplexity and bits per character of a checkpoint beside the n-gram baselines;
    with ``--memory``, the same with song memory (the n-grams given the same memory)."""
    import math
    import time

    from .bits import measure as measure_bits
    from .checkpoint import load_checkpoint
    from .memory import MemoryConfig, choose_memory, memory_log_probs, tuning_slice
    from .ngram import NGramLM

    _set_threads(args.threads)
    ckpt = load_checkpoint(_resolve_checkpoint(args.checkpoint))
    try:
        ds = _checkpoint_dataset(ckpt)
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
    print("(bits per character: the total log-loss in bits over the characters the predicted tokens cover; "
          "a line break is one character)")
    if not args.memory:
        return 0
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
        t0 = time.perf_counter()
        if stored.get(key) and not args.retune:
            cfg = MemoryConfig.from_dict(stored[key]["config"])
        else:
            cfg = choose_memory(m, tune).config
        plain, mixed = memory_log_probs(m, ds.val_ids, cfg)
        bpc = -mixed.sum() / math.log(2) / figures[name].chars
        with_memory[name] = math.exp(-mixed.mean())
        how = f"window {cfg.window}, beta {cfg.beta:g}" + (f", theta {cfg.theta:g}" if cfg.continuous else "") \
            + (f", dynamic lr {cfg.dynamic_lr:g}" if cfg.dynamic_lr else "")
        print(f"{name:<22}{math.exp(-plain.mean()):>10.1f}{with_memory[name]:>13.1f}{bpc:>11.3f}   {how} "
              f"[{time.perf_counter() - t0:.0f} s]")
    if "bigram" in with_memory:
        print(f"\n{ckpt.name} with memory / bigram with memory: {with_memory[ckpt.name] / with_memory['bigram']:.3f}")
    return 0


def cmd_card(args) -> int:
    """Measure an existing checkpoint again and rewrite its model card (the weights are not touched)."""
    from .card import write_card
    from .checkpoint import load_checkpoint

    _set_threads(args.threads)
    path = _resolve_checkpoint(args.checkpoint)
    ckpt = load_checkpoint(path)
    try:
        ds = _checkpoint_dataset(ckpt)
    except LyricdemoError as e:
        raise LyricdemoError(f"Cannot measure {ckpt.name}: {e}.") from None
    fig = write_card(path, ds, ckpt.meta.get("command"), memory=not args.no_memory)
    print(f"model card {path / 'README.md'}: validation perplexity {fig.val_ppl:.2f}, "
          f"{fig.bits['model']['bits_per_char']:.3f} bits/char"
          + (f", with song memory {fig.memory['model']['val_ppl_memory']:.2f}" if fig.memory else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lyricdemo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="corpus and vocabulary statistics")
    _add_data_args(p)
    p.add_argument("--top", type=int, default=20, help="how many frequent tokens to list")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("fetch", help="download the d2l corpus into data/ (checksum verified)")
    p.add_argument("--url", action="append", help="a mirror URL to try (repeatable)")
    p.set_defaults(func=cmd_fetch)

    recipe = preset_arguments(DEFAULT)
    p = sub.add_parser("train", help="train a model; prints evaluations, saves a checkpoint",
                       description="Train a model. Without flags: the default recipe of lyricdemo.presets.DEFAULT "
                                   f"(char {recipe['kind'].upper()} {recipe['hidden_size']}, embedding "
                                   f"{recipe['embed_dim']}, dropout {recipe['dropout_embed']}/{recipe['dropout_out']}, "
                                   f"adaptive softmax {'/'.join(map(str, recipe['adaptive_cutoffs']))}, "
                                   f"{recipe['optimizer']} {recipe['lr']:g} with weight decay "
                                   f"{recipe['weight_decay']:g}, {recipe['sampling']} sampling, "
                                   f"{recipe['max_seconds'] / 60:g} minutes, early stopping after "
                                   f"{recipe['early_stopping']} evaluations).")
    from .presets import apply

    _add_train_args(p, apply(DEFAULT))
    p.set_defaults(func=cmd_train, adaptive_default=recipe["adaptive_default"])
    parser.train_parser = p

    p = sub.add_parser("generate", help="continue a prefix with a checkpoint; prints the text and how much "
                                        "of it is copied from the training text")
    _add_generate_args(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("probe", help="read a text with a checkpoint; write its states, gates, predictions, saliency "
                                     "and trajectory as JSON, or as a standalone HTML page of plots")
    _add_probe_args(p)
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("evaluate", help="validation perplexity and bits per character of a checkpoint beside the "
                                        "n-gram baselines; --memory: with song memory too")
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder, or the name of one under checkpoints/ (e.g. char-gru)")
    p.add_argument("--memory", action="store_true",
                   help="also with song memory (caches over the text read so far, dynamic evaluation), the "
                        "n-grams given the same memory; settings from the model card, else tuned on training text")
    p.add_argument("--retune", action="store_true", help="with --memory: tune the memory again, ignoring the card")
    p.add_argument("--threads", type=int, default=1, help="torch threads (batch-1 work is fastest on one)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("card", help="measure an existing checkpoint again and rewrite its model card "
                                    "(weights unchanged)")
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder, or the name of one under checkpoints/ (e.g. char-gru)")
    p.add_argument("--no-memory", action="store_true", help="leave song memory off the card (it takes minutes)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(func=cmd_card)

    p = sub.add_parser("publish", help="publish the app as a Hugging Face Space (--dry-run lists the files)")
    p.add_argument("--space", default=None, help="USER/NAME of the Space (created if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; no network")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.set_defaults(func=cmd_publish)
    return parser


def cmd_publish(args) -> int:
    from .publish import describe, publish, space_files

    if args.dry_run:
        print(describe(space_files()))
        print(f"dry run: nothing uploaded{f' to {args.space}' if args.space else ''}")
        return 0
    if not args.space:
        raise LyricdemoError("Say where: --space USER/NAME (log in first: `hf auth login`, or set HF_TOKEN).")
    print(f"published: {publish(args.space, private=args.private)}")
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    """The command line as ``main`` reads it: with ``--preset``, the preset's values become the
    defaults and explicit flags still win."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "preset", None):
        parser.train_parser.set_defaults(**preset_arguments(PRESETS[args.preset]))
        args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)      # for the command a checkpoint records
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return args.func(args)
    except LyricdemoError as e:
        field = getattr(e, "field", None)          # a config field's error: say which flag set it
        flag = FLAGS.get(field, f"--{field.replace('_', '-')}") if field and args.command == "train" else ""
        print(f"error: {flag + ': ' if flag else ''}{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
