"""The shipped checkpoints (checkpoints/, made by checkpoints/build.sh): each loads on CPU, its
description, vocabulary and card agree with each other and with the weights, and -- where its corpus
is here (the d2l one in data/, the embedded Tang poems always) -- its validation perplexity recomputed
here matches its card within 1%."""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lyricdemo.cli import data_config, model_config, parse_args, train_config
from lyricdemo.checkpoint import list_checkpoints, load_checkpoint
from lyricdemo.corpora import EMBEDDED
from lyricdemo.corpus import read_corpus_file
from lyricdemo.data import load_dataset
from lyricdemo.evaluation import EVAL_STREAMS, pieces
from lyricdemo.ngram import STANDING_WORDS, standing
from lyricdemo.train import perplexity
from lyricdemo.train_eval import PIECE

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = {"char-gru": ("gru", "char"), "char-lstm": ("lstm", "char"), "char-rnn": ("rnn", "char"),
           "word-gru": ("gru", "word"), "tang-gru": ("gru", "char")}
EMBEDDED_OF = {"tang-gru": "tang"}          # trained on an embedded corpus (lyricdemo.corpora), not the d2l one
MAX_BYTES = 6 * 2**20


pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_shipped_checkpoint_is_there_and_readable():
    assert {folder.name for folder, _ in list_checkpoints(ROOT)} == set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_loads_on_cpu_and_its_description_vocab_and_card_agree(name):
    folder = ROOT / name
    ck = load_checkpoint(folder)
    kind, tokenizer = SHIPPED[name]
    c = ck.model.config
    assert c.kind == kind and ck.data_config.tokenizer == tokenizer
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in ck.model.parameters())
    out = ck.model(torch.tensor([[1]]))[0]                  # the full softmax's or the adaptive one's distribution
    assert len(ck.vocab) == c.vocab_size == out.shape[-1]
    assert ck.vocab.idx_to_token[0] == "<unk>" and ck.vocab.token_to_idx["\n"] > 0
    assert sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) <= MAX_BYTES
    md = md_of(folder)                                  # the card names AWD-LSTM's dropouts where they were used
    assert (f"weight drop {c.dropout_hh} on W_hh" in md) == bool(c.dropout_hh)
    assert ("locked (one mask per sequence)" in md) == c.locked_dropout
    assert (c.dropout_hh, c.locked_dropout) == ((0.5, True) if name.startswith("char-") else (0.0, False))
    # the bigram's soft targets: every lyrics model (read ~48 times: recipe.SOFT_TARGETS), not the Tang poems (18)
    assert ck.train_config.soft_targets == (0.0 if name in EMBEDDED_OF else 0.3)
    card_says = "soft targets 0.3 (that share of each target is the cross-fitted bigram's" in md
    assert card_says == (name not in EMBEDDED_OF)
    meta = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))
    corpus = EMBEDDED[EMBEDDED_OF[name]]["path"].name if name in EMBEDDED_OF else "jaychou_lyrics.txt.zip"
    assert meta["corpus"]["name"] == corpus and len(meta["corpus"]["sha256"]) == 64
    assert ck.data_config.val_fraction == 0.1 and ck.train_config.early_stopping > 0 and ck.train_config.keep_best
    card, metrics = meta["card"], meta["metrics"]
    # float16 storage moves the validation perplexity by less than 0.5% (card: stored weights; metrics: training's)
    assert meta["weights"]["dtype"] == "float16"
    stored = card["val_ppl"]                                                # one stream, as `evaluate` reads it
    if metrics["history"][-1].get("val_tokens", 0) > ck.train_config.eval_sample > 0:
        # a run that sampled validation between steps measures the whole set at its end as pieces side by side
        # (train_eval; tang-gru: 101.8 against 101.0 as one stream): read the stored weights the same way
        assert name in EMBEDDED_OF, "only a model of an embedded corpus is measured again here"
        val = load_dataset(ck.data_config, raw=read_corpus_file(EMBEDDED[EMBEDDED_OF[name]]["path"])).val_ids
        stored = perplexity(ck.model, val, streams=pieces(len(val) - 1, EVAL_STREAMS, PIECE))
    assert abs(stored / metrics["best_val_ppl"] - 1) < 0.005, (stored, metrics["best_val_ppl"])
    assert card["val_ppl"] < card["baselines"]["unigram"]                 # every shipped model beats the unigram
    # Against the modified Kneser-Ney bigram (issue 16) no lyrics model is 20% below the bigram: with the bigram's
    # soft targets the char GRU is 0.92x, the LSTM 0.97x, the RNN 0.99x, the word GRU 0.98x; the Tang GRU is 0.50x.
    # The goal of ">= 20% below the bigram" is met on the Tang poems only (bench/RESULTS.md); this pins what holds now.
    ratio = card["val_ppl"] / card["baselines"]["bigram"]
    pins = {"char-gru": 0.93, "char-lstm": 0.97, "char-rnn": 1.0, "word-gru": 0.98, "tang-gru": 0.51}
    assert ratio <= pins[name], card
    words = STANDING_WORDS[standing(card["val_ppl"], card["baselines"]["bigram"])]
    assert f"{ratio:.2f}x, {words[0]} / {words[1]}" in md_of(folder)      # the card says it plainly
    assert card["memorization"]["text_length"] >= 400
    if name in EMBEDDED_OF:                         # its memorization sample starts like one of its poems
        prefix = EMBEDDED[EMBEDDED_OF[name]]["prefixes"][0]
        assert card["memorization"]["prefix"] == prefix and f"sampled after {prefix}," in md_of(folder)
    cmd = meta["command"]
    assert cmd.startswith("python -m lyricdemo train ") and "--seed" in cmd and f"checkpoints/{name}" in cmd
    md = md_of(folder)
    assert cmd in md and f"**{card['val_ppl']:.1f}**" in md and "bigram" in md
    assert shlex.split(cmd) == shlex.split(build_command(name))        # build.sh makes exactly this one


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_recorded_command_still_means_what_was_trained(name, capsys):
    """If a default of the CLI changed since the build, the card's command would no longer reproduce
    the checkpoint: parse it with today's CLI and compare with the configuration stored beside the weights."""
    ck = load_checkpoint(ROOT / name)
    argv = shlex.split(ck.meta["command"])[3:]                     # after "python -m lyricdemo"
    args = parse_args(argv)
    stored = ck.model.config
    if name in EMBEDDED_OF:              # its corpus is always here: size the command as `train` does, every knob
        from lyricdemo.cli.cmd_train import _sized_to_corpus

        path = EMBEDDED[EMBEDDED_OF[name]]["path"]
        args.source = None
        _sized_to_corpus(args, load_dataset(data_config(args), raw=read_corpus_file(path)))
        assert model_config(args, stored.vocab_size) == stored
    else:
        # AWD-LSTM's two dropouts come from the recipe sized to the corpus, not from a flag's default: the test
        # below sizes the command as `train` does (when the d2l corpus is here)
        assert model_config(args, stored.vocab_size) == replace(stored, dropout_hh=0.0, locked_dropout=False)
    t, stored = train_config(args), ck.train_config
    for key in ("sampling", "batch_size", "num_steps", "optimizer", "lr", "weight_decay", "lr_schedule", "clip",
                "clip_theta", "epochs", "max_steps", "max_seconds", "eval_every", "early_stopping", "keep_best", "seed"):
        assert getattr(t, key) == getattr(stored, key), key
    # the soft targets come from the recipe (the lyrics) or from nothing (the Tang poems: sized above)
    assert t.soft_targets == (stored.soft_targets if name in EMBEDDED_OF else 0.0)
    d = data_config(args)
    for key in ("clean", "tokenizer", "newline", "min_freq", "reserved_tokens", "val_fraction", "max_tokens"):
        assert getattr(d, key) == getattr(ck.data_config, key), key
    if d.tokenizer != "char":                      # for characters the two ways of reading a rare word are one
        assert d.unknown_words == ck.data_config.unknown_words


def md_of(folder: Path) -> str:
    return (folder / "README.md").read_text(encoding="utf-8")


def build_command(name: str) -> str:
    """The command checkpoints/build.sh runs for ``name``: its ARGS entry, LYRICS (not for the model of an embedded
    corpus, which takes the recipe as ``train --file`` sizes it), COMMON, its TAIL entry if any, --out."""
    script = (ROOT / "build.sh").read_text(encoding="utf-8")
    common = re.search(r"^COMMON=\((.*)\)$", script, re.M).group(1)
    if name not in EMBEDDED_OF:
        common = re.search(r"^LYRICS=\((.*)\)$", script, re.M).group(1) + " " + common
    args, *tail = re.findall(rf'^  \[{re.escape(name)}\]="(.*)"$', script, re.M)     # ARGS, then TAIL if any
    return " ".join(["python -m lyricdemo train", args, common, *tail, f"--out checkpoints/{name}"])


@pytest.fixture
def corpus_of(request):
    """The file a shipped model was trained on: its embedded corpus, or the d2l one (skipped if absent)."""
    name = request.node.callspec.params["name"]
    if name in EMBEDDED_OF:
        return EMBEDDED[EMBEDDED_OF[name]]["path"]
    return request.getfixturevalue("corpus_path")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_validation_perplexity_recomputed_matches_the_card(name, corpus_of):
    ck = load_checkpoint(ROOT / name)
    raw = read_corpus_file(corpus_of)
    meta = ck.meta
    if raw.sha256 != meta["corpus"]["sha256"]:
        pytest.skip("data/ holds a different corpus file than the one the checkpoint was trained on")
    ds = load_dataset(replace(ck.data_config, source=None), raw=raw)
    assert ds.vocab.idx_to_token == ck.vocab.idx_to_token            # the same split gives the same vocabulary
    val = perplexity(ck.model, ds.val_ids)
    assert math.isfinite(val) and abs(val / meta["card"]["val_ppl"] - 1) < 0.01, (val, meta["card"]["val_ppl"])


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_recorded_command_sized_by_todays_recipe_trains_the_same_model(name, corpus_of, capsys):
    """``train`` sizes the recipe to the corpus (``recipe.adapt``) for every flag not given: if the rule moved
    since the build, build.sh would make another model than the one shipped.  Read the corpus, size the
    recorded command's flags as ``train`` does, and compare with the stored configuration."""
    from lyricdemo.cli.cmd_train import _sized_to_corpus

    ck = load_checkpoint(ROOT / name)
    args = parse_args(shlex.split(ck.meta["command"])[3:])
    raw = read_corpus_file(corpus_of)
    if raw.sha256 != ck.meta["corpus"]["sha256"]:
        pytest.skip("data/ holds a different corpus file than the one the checkpoint was trained on")
    args.source = None
    _sized_to_corpus(args, load_dataset(data_config(args), raw=raw))
    assert model_config(args, ck.model.config.vocab_size) == ck.model.config
    t, stored = train_config(args), ck.train_config
    # the knobs that shape the weights; not the evaluation schedule (tang-gru was built before the rule set one
    # for a validation set longer than 8,192 tokens: evaluated every 50 steps on all of it)
    for key in ("batch_size", "num_steps", "lr", "weight_decay", "lr_schedule", "soft_targets"):
        assert getattr(t, key) == getattr(stored, key), key
