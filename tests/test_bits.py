"""Bits per character: computed by hand for a word model on a tiny text, and the same unit for chars."""

from __future__ import annotations

import math

import pytest
import torch

from lyricdemo.bits import bits_per_char, measure
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import NGramLM
from lyricdemo.train import new_model, perplexity


def test_by_hand():
    # three word targets with p = 1/2, 1/4, 1/8 -> 1 + 2 + 3 bits; they cover 2 + 1 + 3 characters
    bpc = bits_per_char([math.log(0.5), math.log(0.25), math.log(0.125)], ["爱你", "\n", "周杰伦"],
                        target_ids=[5, 1, 0])
    assert bpc.bits == pytest.approx(6.0)
    assert bpc.chars == 6 and bpc.tokens == 3
    assert bpc.bits_per_char == pytest.approx(1.0)
    assert bpc.bits_per_token == pytest.approx(2.0)
    assert bpc.unk_char_share == pytest.approx(3 / 6)     # 周杰伦 was <unk>: its 3 characters, not 5


def test_refuses_what_does_not_fit():
    with pytest.raises(LyricdemoError, match="must match"):
        bits_per_char([-1.0], ["a", "b"])
    with pytest.raises(LyricdemoError, match="at most 0"):
        bits_per_char([0.5], ["a"])
    with pytest.raises(LyricdemoError, match="no characters"):
        bits_per_char([-1.0], [""])


def _uniform(vocab_size: int):
    """A word model whose every prediction is uniform: each token costs log2(V) bits."""
    model = new_model(ModelConfig(vocab_size=vocab_size, embed_dim=4, hidden_size=4), seed=0)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
    return model


def test_a_word_model_on_a_tiny_text_by_hand(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text("我爱你\n我爱你\n你爱我\n我想你\n", encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f), tokenizer="word", val_fraction=0.5, min_freq=1, clean="none"))
    V = len(ds.vocab)
    targets = ds.val_tokens[1:]                          # the first token is only read
    chars = sum(len(t) for t in targets)                 # each line break is one character
    assert chars == len("".join(ds.val_lines[:])) + len(ds.val_lines) - len(ds.val_tokens[0])
    got = measure(_uniform(V), ds)
    assert got.tokens == len(targets) and got.chars == chars
    assert got.bits_per_char == pytest.approx(len(targets) * math.log2(V) / chars, rel=1e-5)


def test_for_a_char_model_it_is_log2_of_the_perplexity(small_text, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(small_text, encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f), val_fraction=0.3, min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), seed=0)
    assert measure(model, ds).bits_per_char == pytest.approx(math.log2(perplexity(model, ds.val_ids)), rel=1e-5)
    bigram = NGramLM(2, len(ds.vocab)).fit(ds.train_ids)
    assert measure(bigram, ds).bits_per_char == pytest.approx(math.log2(bigram.perplexity(ds.val_ids)), rel=1e-9)
