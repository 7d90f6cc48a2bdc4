"""The config fields are the one vocabulary: every CLI flag of ``train``, every knob of the training tab
and every preset key maps to exactly one field (and back), with the field's bounds and default."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest

from lyricdemo.__main__ import build_parser
from lyricdemo.data import DataConfig
from lyricdemo.fields import ConfigError, config_fields, defaults, describe_bounds
from lyricdemo.generate import DecodeConfig
from lyricdemo.models import ModelConfig
from lyricdemo.presets import DEFAULT, PARTS, PRESETS, apply
from lyricdemo.train import TrainConfig
from lyricdemo.ui import tab_train

CONFIGS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
FIELDS = {(part, f.name): f for part, cls in CONFIGS.items() for f in config_fields(cls)}


def train_flags() -> dict[str, argparse.Action]:
    """The train command's flags that set a config field, by the field's name (their destination)."""
    parser = build_parser().train_parser
    names = {name for _, name in FIELDS}
    return {a.dest: a for a in parser._actions if a.dest in names}


@pytest.mark.parametrize("cls", [DataConfig, ModelConfig, TrainConfig, DecodeConfig])
def test_every_field_declares_its_type_bounds_default_and_help_in_both_languages(cls):
    for f in config_fields(cls):
        m = f.metadata
        assert " / " in m["help"] and m["help"].split(" / ")[1].strip(), f.name
        tp = m["_hint"][0]
        assert tp in (int, float, str, bool), f.name
        if tp in (int, float) and f.name != "vocab_size":
            assert m["lo"] is not None and m["hi"] is not None, f"{f.name} has no bounds"
        if f.default is not dataclasses.MISSING and f.default is not None:
            cls(**{"vocab_size": 8} if cls is ModelConfig else {})       # the defaults pass their own checks


def test_every_cli_flag_is_one_field_and_every_field_one_flag():
    flags = train_flags()
    fields_ = {name for part, name in FIELDS if name != "vocab_size"}
    assert set(flags) == fields_                                   # and back: no field without its flag
    parser = build_parser().train_parser
    dests = [a.dest for a in parser._actions if a.dest in fields_]
    assert len(dests) == len(set(dests))                           # exactly one flag per field
    recipe = {k: v for part in apply(DEFAULT).values() for k, v in part.items()}
    for (part, name), f in FIELDS.items():
        if name == "vocab_size":
            continue
        a = flags[name]
        assert a.default == recipe[name], name                     # the default recipe, in the field's values
        if name not in DEFAULT[part]:
            assert a.default == f.default, name                    # ... which is the field's own default
        assert tuple(a.choices or ()) == tuple(f.metadata["choices"] or ()), name


def test_a_flag_out_of_bounds_is_refused_by_its_field_with_the_field_named(capsys):
    from lyricdemo.cli import model_config, parse_args, train_config

    with pytest.raises(ConfigError, match="hidden_size must be a whole number from 1 to 4,096"):
        model_config(parse_args(["train", "--hidden", "5000"]), 100)
    with pytest.raises(ConfigError, match="dropout_out") as e:
        model_config(parse_args(["train", "--dropout-out", "0.9"]), 100)
    assert e.value.field == "dropout_out"
    with pytest.raises(ConfigError, match="clip_theta"):
        train_config(parse_args(["train", "--clip", "0"]))
    assert train_config(parse_args(["train", "--minutes", "2"])).max_seconds == 120
    from lyricdemo.__main__ import main

    assert main(["train", "--min-freq", "0"]) == 2                # refused before any data is read
    assert "error: --min-freq: min_freq must be a whole number from 1 to" in capsys.readouterr().err


def test_every_training_knob_maps_to_fields_and_every_field_to_a_knob_or_the_classroom_preset():
    knobs = set(tab_train.KNOBS)
    assert set(tab_train.KNOB_FIELDS) == knobs - {"data", "init_from"}   # the corpus, a model to start from: no field
    set_by_knobs = set()
    for knob, (part, *names) in tab_train.KNOB_FIELDS.items():
        for name in names:
            assert (part, name) in FIELDS, (knob, part, name)
            set_by_knobs.add((part, name))
    # every field is set by a knob, or is one of those the app leaves at the classroom preset's value
    unset = {key for key in FIELDS if key not in set_by_knobs}
    assert unset == {("data", "source"), ("data", "reserved_tokens"), ("data", "val_fraction"),
                     ("model", "vocab_size"), ("model", "tie_weights"), ("model", "adaptive_cutoffs"),
                     ("model", "dropout_hh"), ("model", "locked_dropout"),
                     ("train", "lr_schedule"), ("train", "epochs"), ("train", "early_stopping"),
                     ("train", "sample_prefixes"), ("train", "sample_length"), ("train", "sample_every"),
                     ("train", "device"), ("train", "eval_sample")}


def test_the_sliders_lie_within_their_fields_bounds():
    for knob, (lo, hi) in tab_train.SLIDERS.items():
        part, name, *_ = tab_train.KNOB_FIELDS[knob]
        m = FIELDS[(part, name)].metadata
        if knob == "log10_lr":
            lo, hi = 10 ** lo, 10 ** hi
        assert m["lo"] <= lo and hi <= m["hi"], (knob, (lo, hi), describe_bounds(FIELDS[(part, name)]))


def test_the_train_endpoint_defaults_are_the_classroom_preset():
    from lyricdemo.presets import apply_for_corpus

    params = inspect.signature(tab_train.train).parameters
    whole = apply_for_corpus("classroom", "d2l")           # as the page opens on the lyrics
    for knob, (part, *names) in tab_train.KNOB_FIELDS.items():
        value = params[knob].default
        if knob == "log10_lr":
            assert 10 ** value == pytest.approx(whole["train"]["lr"], rel=0.01)
        elif knob == "input_kind":
            assert (value == "one-hot") == (whole["model"]["embed_dim"] == 0)
        else:
            assert value == whole[part][names[0]], knob
    assert params["data"].default == "d2l"
    c = whole["train"]
    assert c["soft_targets"] == 0.5 and apply("classroom")["train"]["soft_targets"] == 0.0
    assert (c["optimizer"], c["weight_decay"], c["sampling"]) == (TrainConfig().optimizer, TrainConfig().weight_decay,
                                                                  TrainConfig().sampling)


def test_a_knob_out_of_bounds_gets_the_fields_message_under_the_knobs_label(small_text):
    from lyricdemo.corpus import read_corpus_bytes
    from lyricdemo.errors import LyricdemoError
    from lyricdemo.ui.session import Session

    session = Session()
    session.upload = read_corpus_bytes(small_text.encode(), "small.txt")
    base = tab_train.preset_values("classroom") | {"data": "upload", "min_freq": 1}
    try:
        with pytest.raises(LyricdemoError, match=r"^Hidden size / 隐藏单元数: hidden_size must be a whole number from 1"):
            tab_train.build_configs(session, **(base | {"hidden_size": 5000}))
        with pytest.raises(LyricdemoError, match=r"^Dropout / 丢弃率: dropout_out must be a finite number from 0 to 0.8"):
            tab_train.build_configs(session, **(base | {"dropout": 0.95}))
    finally:
        session.close()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_key_is_a_field(name):
    preset = PRESETS[name]
    assert set(preset) <= {"label", "toy", *PARTS}
    for part in PARTS:
        for key in preset.get(part, {}):
            assert (part, key) in FIELDS and key != "vocab_size", (name, part, key)
    whole = apply(name)
    assert set(whole) == set(PARTS)
    for part, cls in CONFIGS.items():
        assert set(whole[part]) == set(defaults(cls))               # whole: every field with a default
        if part != "model":
            cls(**whole[part])
        else:
            cls(vocab_size=2000, **whole[part])


def test_a_preset_key_that_is_no_field_is_refused():
    from lyricdemo.errors import LyricdemoError

    with pytest.raises(LyricdemoError, match="hidden"):
        apply({"model": {"hidden": 64}})


def test_config_dicts_round_trip_and_refuse_unknown_keys():
    from lyricdemo.errors import LyricdemoError

    for cfg in (DataConfig(reserved_tokens=["<pad>"]), ModelConfig(50, adaptive_cutoffs=[10, 20], hidden_size=64),
                TrainConfig(sample_prefixes=["a"]), DecodeConfig(seed=None)):
        d = cfg.to_dict()
        assert type(cfg).from_dict(d) == cfg
        with pytest.raises(LyricdemoError, match="'bogus'"):
            type(cfg).from_dict({**d, "bogus": 1})


def test_the_generate_flags_are_decode_config_fields_with_their_defaults():
    parser = build_parser()
    gen = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["generate"]
    by_dest = {a.dest: a for a in gen._actions}
    renamed = {"num_candidates": "candidates", "unknown": "strict"}      # --candidates; --strict is unknown="strict"
    d = DecodeConfig()
    for f in config_fields(DecodeConfig):
        if f.name in ("length_norm", "alternatives"):                   # not on the command line
            assert f.name not in by_dest
            continue
        a = by_dest[renamed.get(f.name, f.name)]
        if f.name == "unknown":
            assert a.default is False and d.unknown == "unk"
            continue
        assert a.default == getattr(d, f.name), f.name
        assert tuple(a.choices or ()) == tuple(f.metadata["choices"] or ()), f.name


def test_the_classroom_preset_on_an_embedded_corpus_takes_its_overrides():
    """``presets.apply_for_corpus``: what the app's knobs and bench/bench_classroom.py both start from."""
    from lyricdemo.corpora import EMBEDDED
    from lyricdemo.presets import apply, apply_for_corpus

    over = EMBEDDED["tang"]["classroom"]
    tang = apply_for_corpus("classroom", "tang")
    for part, values in over.items():
        assert {k: tang[part][k] for k in values} == values
    lyrics = apply_for_corpus("classroom", "d2l")              # presets.CLASSROOM_FOR: the lyrics' soft targets
    assert lyrics["train"] == dict(apply("classroom")["train"], soft_targets=0.5)
    assert (lyrics["data"], lyrics["model"]) == (apply("classroom")["data"], apply("classroom")["model"])
    assert tang == apply("classroom")                          # the preset's lighter dropout came from the poems
    assert apply_for_corpus("d2l", "tang") == apply("d2l")
