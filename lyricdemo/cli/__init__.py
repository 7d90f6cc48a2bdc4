"""Command line: ``python -m lyricdemo {inspect,fetch,train,generate,probe,evaluate,card} ...``.

Each subcommand is a thin shell over the library: it parses arguments, calls the
library, prints.  A ``LyricdemoError`` is printed as a plain message (exit code 2),
never as a traceback.  One module per command group (``cmd_*.py``); the flags of the
config fields in ``flags.py``; what the commands reading a checkpoint share in
``checkpoints.py``.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import LyricdemoError
from ..presets import PRESETS
from . import cmd_corpus, cmd_generate, cmd_measure, cmd_probe, cmd_publish, cmd_train
from .checkpoints import checkpoint_dataset, resolve_checkpoint
from .flags import FLAGS, data_config, model_config, preset_arguments, train_config

__all__ = ["FLAGS", "build_parser", "checkpoint_dataset", "data_config", "main", "model_config", "parse_args",
           "preset_arguments", "resolve_checkpoint", "train_config"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lyricdemo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd_corpus.add_parsers(sub)
    parser.train_parser = cmd_train.add_parser(sub)
    cmd_generate.add_parser(sub)
    cmd_probe.add_parser(sub)
    cmd_measure.add_parsers(sub)
    cmd_publish.add_parser(sub)
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """The command line as ``main`` reads it: with ``--preset``, the preset's values become the
    defaults and explicit flags still win."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "preset", None):
        parser.train_parser.set_defaults(**preset_arguments(PRESETS[args.preset]))
        args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)      # for the command a checkpoint records
    if args.command == "train":
        args.explicit = explicit_flags(args.argv)
    return args


_UNSET = object()


def explicit_flags(argv: list[str]) -> frozenset[str]:
    """The train flags given on the command line (their destinations, the fields' names): the values the
    recipe sized to the corpus (``recipe.adapt``) never overrides."""
    parser = build_parser()
    tp = parser.train_parser
    tp.set_defaults(**{a.dest: _UNSET for a in tp._actions if a.dest not in ("help", "func")})
    args = parser.parse_args(argv)
    return frozenset(k for k, v in vars(args).items() if v is not _UNSET and k not in ("command", "func"))


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
