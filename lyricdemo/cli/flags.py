"""The flags of the config fields: one per field, its type, bounds and help from the field, and the
configs built back from the parsed flags (``tests/test_config_fields.py`` checks both ways)."""

from __future__ import annotations

import argparse


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
BOTH_WAYS = ("locked_dropout",)      # the recipe may turn it on: --no-locked-dropout turns it off again


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


def add_fields(g, cls, defaults: dict, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of the config class ``cls``: its type, choices and help from the field, its default
    from ``defaults`` (the field's own, or a preset's)."""
    from ..fields import config_fields

    for f in config_fields(cls):
        if f.name in skip:
            continue
        tp, _optional, many = f.metadata["_hint"]
        text = f.metadata["help"] + (f" ({NOTES[f.name]})" if f.name in NOTES else "")
        kw = {"dest": f.name, "default": defaults[f.name], "help": text.replace("%", "%%")}
        if tp is bool:
            kw["action"] = ("store_false" if f.name in TURNS_OFF else
                            argparse.BooleanOptionalAction if f.name in BOTH_WAYS else "store_true")
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


def add_data_args(p: argparse.ArgumentParser) -> None:
    from ..data import DataConfig
    from ..fields import defaults

    add_fields(p.add_argument_group("data"), DataConfig, defaults(DataConfig))


def config_from(cls, args, **given):
    """The config ``cls`` from the parsed flags (in the fields' names) and ``given``."""
    from ..fields import config_fields

    return cls(**{f.name: getattr(args, f.name) for f in config_fields(cls) if f.name not in given}, **given)


def data_config(args):
    from ..data import DataConfig

    return config_from(DataConfig, args)


def add_train_args(p: argparse.ArgumentParser, recipe: dict[str, dict]) -> None:
    from ..data import DataConfig
    from ..models import ModelConfig
    from ..train import TrainConfig

    add_fields(p.add_argument_group("data"), DataConfig, recipe["data"])
    add_fields(p.add_argument_group("model"), ModelConfig, recipe["model"], skip=("vocab_size",))
    g = p.add_argument_group("training")
    add_fields(g, TrainConfig, recipe["train"])
    g.add_argument("--preset", default=None, choices=["classroom", "d2l"],
                   help="start from a preset of the app (explicit flags still win)")
    g.add_argument("--fixed-recipe", action="store_true",
                   help="train with presets.DEFAULT as it is, not sized to the corpus (lyricdemo/recipe.py)")
    g.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights and architecture (a folder, or a name under "
                        "checkpoints/; pretrained on another text; rows moved token by token, lyricdemo/transfer.py)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, help="save the checkpoint folder here, e.g. checkpoints/my-gru")
    g.add_argument("--fp16", action="store_true", help="store the weights as float16 (half the size)")
    g.add_argument("--resumable", action="store_true", help="also store optimizer and RNG state (exact resume)")
    g.add_argument("--resume", default=None, help="continue the run saved in this checkpoint folder")
    g.add_argument("--card", action="store_true", help="measure the saved checkpoint and write its model card")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("machine")
    g.add_argument("--threads", type=int, default=0,
                   help="torch threads; 0 (default): an even share of this machine's cores among the trainings "
                        "running on it, asked again as it runs (lyricdemo/cores.py)")


def preset_arguments(preset: dict | str) -> dict:
    """A preset (``presets.PRESETS``/``DEFAULT``) as the train command's defaults: ``presets.apply`` in the
    fields' names, which are the flags' destinations."""
    from ..presets import apply

    whole = apply(preset)
    out = {k: v for part in whole.values() for k, v in part.items()}
    out["adaptive_default"] = out["adaptive_cutoffs"]   # the same object: ``args.adaptive_cutoffs is`` = not given
    return out


def model_config(args, vocab_size: int):
    from ..models import ModelConfig

    cutoffs = tuple(args.adaptive_cutoffs)
    if cutoffs and args.adaptive_cutoffs is getattr(args, "adaptive_default", None) and max(cutoffs) >= vocab_size - 1:
        # the recipe's cutoffs are ranks in the d2l vocabulary (~2,000 tokens); a smaller one gets the full
        # softmax -- an explicit --adaptive is never changed (a bad one is an error)
        print(f"note: the vocabulary has {vocab_size:,} tokens, too few for the default adaptive softmax "
              f"cutoffs {list(cutoffs)}; using the full softmax")
        cutoffs = ()
    return config_from(ModelConfig, args, vocab_size=vocab_size, adaptive_cutoffs=cutoffs)


def train_config(args):
    from ..train import TrainConfig

    return config_from(TrainConfig, args)
