"""probe.hidden_states: the scratch twin's h equals the fused model's output, per layer and direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.probe import hidden_states
from lyricdemo.tokenizers import CharTokenizer, flatten, tokenize_lines
from lyricdemo.train import new_model
from lyricdemo.vocab import Vocab

LINES = ["月光洒在小河上", "风吹过我的窗", "我想你在远方"]


@pytest.fixture
def vocab() -> Vocab:
    return Vocab(flatten(tokenize_lines(LINES, CharTokenizer())))


@pytest.mark.parametrize("kind,layers,bi", [("rnn", 1, False), ("gru", 2, False), ("lstm", 2, True)])
def test_last_layer_states_are_the_models_output(vocab, kind, layers, bi):
    model = new_model(ModelConfig(vocab_size=len(vocab), kind=kind, embed_dim=8, hidden_size=6, num_layers=layers,
                                  bidirectional=bi), seed=1).eval()
    hs = hidden_states(model, vocab, "char", "月光\n风吹")
    assert hs.tokens == ["月", "光", "\n", "风", "吹"] and hs.num_layers == layers
    assert hs.width == 6 * (2 if bi else 1) and hs.layers[0].shape == (5, hs.width)
    with torch.inference_mode():
        x = model.embedding(torch.tensor([hs.ids]))
        out, _ = model.rnn(x)                                       # the fused torch.nn module
    np.testing.assert_allclose(hs.layers[-1], out[0].numpy(), atol=1e-5)
    assert hs.unit(0, 3).shape == (5,) and len(hs.most_active_units(0, 3)) == 3


def test_unknown_characters_are_listed_and_long_texts_cut(vocab):
    model = new_model(ModelConfig(vocab_size=len(vocab), kind="gru", hidden_size=4), seed=0)
    hs = hidden_states(model, vocab, "char", "月龘光")
    assert [u.token for u in hs.unknown] == ["龘"] and hs.ids[1] == 0
    long = hidden_states(model, vocab, "char", "月光" * 50, max_tokens=10)
    assert long.truncated and len(long.tokens) == 10 and long.layers[0].shape[0] == 10


def test_refuses_what_it_cannot_read(vocab):
    model = new_model(ModelConfig(vocab_size=len(vocab), kind="gru", hidden_size=4), seed=0)
    with pytest.raises(LyricdemoError):
        hidden_states(model, vocab, "char", "   ")
    with pytest.raises(LyricdemoError):
        hidden_states(model, vocab, "char", "月光", max_tokens=0)
    with pytest.raises(LyricdemoError):
        hidden_states(object(), vocab, "char", "月光")
    hs = hidden_states(model, vocab, "char", "月光")
    with pytest.raises(LyricdemoError):
        hs.unit(0, 4)
