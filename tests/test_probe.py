"""probe.py: the visualizer's numbers are the model's numbers.

Every layer's states equal torch.nn's (to 1e-5), the gates lie in their ranges and rebuild
h and c, the distributions are the fused model's, saliency is a real gradient that is zero
for the future of a one-directional model (and not of a bidirectional one), and the data
goes to JSON.  Tiny models (H = 6), so the whole file runs in a few seconds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.activations import gate_saturation, pca_2d, select_positions, unit_order, unit_scores
from lyricdemo.probe import MAX_PROBE_TOKENS, connectivity, probe, saliency, scratch_twin
from lyricdemo.probe_page import probe_notes
from lyricdemo.reading import read_text
from lyricdemo.tokenizers import CharTokenizer, flatten, tokenize_lines
from lyricdemo.train import new_model
from lyricdemo.vocab import Vocab

LINES = ["月光洒在小河上", "风吹过我的窗", "我想你在远方"]
TEXT = "月光洒在\n风吹过\n我想你"              # 12 tokens, two line breaks
H = 6


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab(flatten(tokenize_lines(LINES, CharTokenizer())))


def make(vocab, kind="gru", layers=1, bi=False, embed=8, seed=1):
    return new_model(ModelConfig(vocab_size=len(vocab), kind=kind, embed_dim=embed, hidden_size=H,
                                 num_layers=layers, bidirectional=bi), seed=seed).eval()


def inputs(model, ids) -> torch.Tensor:
    ids = torch.tensor([ids])
    return model.embedding(ids) if model.embedding is not None else F.one_hot(ids, model.config.vocab_size).float()


CASES = [(k, n, bi) for k in ("rnn", "gru", "lstm") for n in (1, 2) for bi in (False, True)]


@pytest.mark.parametrize("kind,layers,bi", CASES)
def test_every_layers_states_equal_torch_nn(vocab, kind, layers, bi):
    """Layer by layer: a one-layer torch.nn module with that layer's weights, fed the probe's previous layer,
    gives the probe's h (and its final c) -- so every layer and direction is checked at every step."""
    model = make(vocab, kind, layers, bi, embed=0 if kind == "rnn" else 8)     # one-hot and embedding inputs
    p = probe(model, vocab, "char", TEXT)
    T, D = len(p.tokens), 2 if bi else 1
    assert p.tokens[4] == "\n" and T == 12 and p.num_layers == layers and p.width == D * H
    assert p.states["h"].shape == (layers, T, D * H) and p.projection.shape == (layers, T, 2)
    assert set(p.gates) == {"rnn": set(), "gru": {"r", "z", "n"}, "lstm": {"i", "f", "g", "o"}}[kind]
    assert ("c" in p.states) == (kind == "lstm") and all(g.shape == (layers, T, D * H) for g in p.gates.values())
    x = inputs(model, p.ids)
    sd = model.rnn.state_dict()
    for k in range(layers):
        one = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](
            x.shape[-1], H, 1, batch_first=True, bidirectional=bi)
        one.load_state_dict({name.replace(f"_l{k}", "_l0"): w for name, w in sd.items() if f"_l{k}" in name})
        with torch.no_grad():
            out, state = one(x)
        np.testing.assert_allclose(p.states["h"][k], out[0].numpy(), atol=1e-5)
        if kind == "lstm":
            c_n = state[1][:, 0].numpy()                                   # (D, H): forward ends at T-1, backward at 0
            np.testing.assert_allclose(p.states["c"][k, -1, :H], c_n[0], atol=1e-5)
            if bi:
                np.testing.assert_allclose(p.states["c"][k, 0, H:], c_n[1], atol=1e-5)
        x = torch.from_numpy(p.states["h"][k])[None]                       # the next layer reads this one
    with torch.no_grad():
        np.testing.assert_allclose(p.states["h"][-1], model.rnn(inputs(model, p.ids))[0][0].numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_gates_lie_in_their_ranges_and_rebuild_the_state(vocab, kind):
    p = probe(model := make(vocab, kind, 2, bi=True), vocab, "char", TEXT, saliency_at=None)
    for name, g in p.gates.items():
        lo = -1.0 if name in ("n", "g") else 0.0                             # tanh candidates; sigmoid gates
        assert g.min() >= lo and g.max() <= 1.0, name
    h = p.states["h"]
    for d, steps in ((0, range(12)), (1, range(11, -1, -1))):               # forwards, backwards
        u = slice(d * H, (d + 1) * H)
        prev_h = np.zeros((2, H), np.float32)
        prev_c = np.zeros((2, H), np.float32)
        for t in steps:
            if kind == "gru":
                z, n = p.gates["z"][:, t, u], p.gates["n"][:, t, u]
                np.testing.assert_allclose(h[:, t, u], (1 - z) * n + z * prev_h, atol=1e-5)
            else:
                i, f, g, o = (p.gates[k][:, t, u] for k in "ifgo")
                c = p.states["c"][:, t, u]
                np.testing.assert_allclose(c, f * prev_c + i * g, atol=1e-5)
                np.testing.assert_allclose(h[:, t, u], o * np.tanh(c), atol=1e-5)
                prev_c = c
            prev_h = h[:, t, u]
    twin = scratch_twin(model)
    assert scratch_twin(model) is twin                                        # cached ...
    with torch.no_grad():
        model.decoder.bias.add_(1.0)
    assert scratch_twin(model) is not twin and scratch_twin(model).decoder.bias[0] == model.decoder.bias[0]  # ... rebuilt


def test_distributions_are_the_fused_models(vocab):
    model = make(vocab, "lstm", 2)
    p = probe(model, vocab, "char", TEXT, top_k=4)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([p.ids]))[0][0], -1)          # the fused model (T, V)
    top = logp.topk(4, -1)
    np.testing.assert_array_equal(p.top_ids, top.indices.numpy())
    np.testing.assert_allclose(p.top_probs, top.values.exp().numpy(), atol=1e-5)
    assert p.top_tokens[0] == vocab.to_tokens(top.indices[0].tolist())
    ent = -(logp.exp() * logp).sum(-1) / math.log(2)
    np.testing.assert_allclose(p.entropy_bits, ent.numpy(), atol=1e-4)
    nxt = logp[torch.arange(11), torch.tensor(p.ids[1:])] / math.log(2)
    np.testing.assert_allclose(p.next_logprob_bits[:-1], nxt.numpy(), atol=1e-4)
    assert math.isnan(p.next_logprob_bits[-1]) and p.surprisal_bits() == pytest.approx(-nxt.mean().item(), abs=1e-4)


@pytest.mark.parametrize("kind,embed", [("rnn", 0), ("gru", 8), ("lstm", 8)])
def test_saliency_is_the_gradient_and_zero_for_the_future(vocab, kind, embed):
    model = make(vocab, kind, 2, embed=embed)
    t = 6
    p = probe(model, vocab, "char", TEXT, saliency_at=t)
    s = p.saliency
    assert s.position == t and s.in_text and s.target == p.tokens[t + 1] and not s.reads_future
    assert np.all(s.norms[t + 1:] == 0.0) and np.all(s.norms[:t + 1] > 0)      # measured through the whole text
    # the definition, on the fused model: || d log p(x_{t+1} | x_<=t) / d e_s ||_2
    x = inputs(model, p.ids).detach().requires_grad_(True)
    y, _ = model.rnn(x)
    lp = torch.log_softmax(model.decoder(y[0, t]), -1)[p.ids[t + 1]]
    (g,) = torch.autograd.grad(lp, x)
    np.testing.assert_allclose(s.norms, g[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-7)
    assert s.logprob == pytest.approx(lp.item(), abs=1e-5) and s.shares.max() == pytest.approx(1.0)
    alone = saliency(model, vocab, "char", TEXT, t)                                # the slider's cheaper path
    np.testing.assert_allclose(alone.norms, s.norms, rtol=1e-4, atol=1e-8)
    end = saliency(model, vocab, "char", TEXT, -1)                                 # the text ends: its own choice
    assert end.position == 11 and not end.in_text and end.target_id == int(p.top_ids[11, 0])


def test_bidirectional_saliency_reads_the_future(vocab):
    model = make(vocab, "gru", 1, bi=True)
    p = probe(model, vocab, "char", TEXT, saliency_at=3)
    assert p.saliency.reads_future and p.saliency.norms[4:].max() > 0                # it sees the answer
    assert any("future" in n for n in probe_notes(p)) and p.bidirectional


def test_connectivity_rows_are_saliencies(vocab):
    model = make(vocab, "gru", 1)
    c = connectivity(model, vocab, "char", TEXT)
    assert c.matrix.shape == (12, 12) and np.all(np.triu(c.matrix, 1) == 0)        # no row sees its future
    for t in (0, 5, 11):
        np.testing.assert_allclose(c.matrix[t], saliency(model, vocab, "char", TEXT, t).norms, rtol=1e-4, atol=1e-8)
    assert c.targets[:11] == list(TEXT.replace("\n", "\n"))[1:] and np.allclose(c.shares.max(axis=1), 1.0)
    with pytest.raises(LyricdemoError, match="at most 5 tokens") as refused:
        connectivity(model, vocab, "char", TEXT, max_tokens=5)
    assert refused.value.code == "connectivity_too_long" and refused.value.data == {"limit": 5}


def test_long_texts_get_a_clear_message_or_are_cut(vocab):
    model = make(vocab, "gru", 1)
    with pytest.raises(LyricdemoError, match="more than 2,000 tokens.*at most 2,000"):
        probe(model, vocab, "char", "月" * (MAX_PROBE_TOKENS + 1))
    with pytest.raises(LyricdemoError, match="too long") as refused:
        probe(model, vocab, "char", "月光" * 30_000)
    assert refused.value.code == "text_too_long"                                  # ui/wording words it
    with pytest.raises(LyricdemoError, match="at most 10"):
        probe(model, vocab, "char", "月光" * 50, max_tokens=10)
    cut = probe(model, vocab, "char", "月龘光" * 10_000, max_tokens=10, truncate=True)
    assert cut.truncated and len(cut.tokens) == 10 and cut.states["h"].shape[1] == 10
    assert [u.token for u in cut.unknown] == ["龘"] * 3 and any("first 10" in n for n in probe_notes(cut))
    assert read_text(vocab, "char", "月光" * 1000).tokens[:2] == ("月", "光")


def test_refuses_what_it_cannot_read(vocab):
    model = make(vocab, "gru", 1)
    for bad in ("", "   ", None):
        with pytest.raises(LyricdemoError, match="Type a text"):
            probe(model, vocab, "char", bad)
    with pytest.raises(LyricdemoError):
        probe(object(), vocab, "char", "月光")
    with pytest.raises(LyricdemoError, match="saliency position"):
        probe(model, vocab, "char", "月光", saliency_at=2)
    with pytest.raises(LyricdemoError, match="top_k"):
        probe(model, vocab, "char", "月光", top_k=0)
    p = probe(model, vocab, "char", "月")                               # one token: nothing to compare, still fine
    assert p.saliency.position == 0 and not p.saliency.in_text and p.surprisal_bits() is None
    assert np.all(p.projection == 0)
    with pytest.raises(LyricdemoError, match="unit"):
        p.unit(0, H)
    with pytest.raises(LyricdemoError, match="no 'c'"):
        p.values(0, "c")


def test_selections_scores_and_orders():
    toks = list("我爱你\n我想你\n")
    assert select_positions(toks, "token", "我").tolist() == [0, 4]
    assert select_positions(toks, "token", "\\n").tolist() == [3, 7] == select_positions(toks, "line ends").tolist()
    assert select_positions(toks, "line starts").tolist() == [0, 4]
    assert select_positions(toks, "positions", "1, 3-5，0").tolist() == [0, 1, 3, 4, 5]
    assert select_positions(["我们", "爱", "你们"], "token", "你").tolist() == [2]      # a word containing it
    for by, value in (("token", "他"), ("token", ""), ("positions", "8"), ("positions", "a-b"), ("colour", "")):
        with pytest.raises(LyricdemoError):
            select_positions(toks, by, value)
    v = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.5], [0.0, 1.0, 0.5], [1.0, 0.0, 0.5]], np.float32)   # (T=4, W=3)
    np.testing.assert_allclose(unit_scores(v, [0, 3]), [1.0, -0.5, 0.0])
    assert unit_order(v, "selection", [0, 3]).tolist() == [0, 2, 1]
    assert unit_order(v, "variance")[-1] == 2 and unit_order(v, "mean").tolist() == [0, 2, 1]
    with pytest.raises(LyricdemoError, match="Every position"):
        unit_scores(v, [0, 1, 2, 3])
    with pytest.raises(LyricdemoError):
        unit_order(v, "selection")


def test_saturation_and_pca():
    g = {"z": np.array([[[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.5]]], np.float32),   # (L=1, T=4, W=2)
         "r": np.full((1, 4, 2), 0.5, np.float32), "n": np.zeros((1, 4, 2), np.float32)}
    sat = gate_saturation(g, "gru")
    assert set(sat) == {"r", "z"} and sat["z"].shape == (1, 2, 2)
    np.testing.assert_allclose(sat["z"][0], [[0.5, 0.25], [0.0, 0.25]])
    assert gate_saturation({}, "rnn") == {}
    line = np.outer(np.arange(10.0), [1.0, 2.0, -1.0]) + 3                # points on a line: one component
    coords, explained = pca_2d(line)
    assert coords.shape == (10, 2) and explained[0] == pytest.approx(1.0) and explained[1] == pytest.approx(0.0, abs=1e-6)
    assert coords[0, 0] <= 0 and np.allclose(np.diff(coords[:, 0]), np.diff(coords[:, 0])[0])
    wide = np.random.default_rng(0).normal(size=(5, 40))                  # T < W: the SVD path
    c2, e2 = pca_2d(wide)
    assert c2.shape == (5, 2) and 0 < e2.sum() <= 1.0 + 1e-6


def test_to_dict_is_plain_compact_json(vocab):
    p = probe(make(vocab, "lstm", 2), vocab, "char", "月光\n风龘")
    d = p.to_dict()
    s = json.dumps(d, ensure_ascii=False, allow_nan=False)                  # JSON-safe: NaN became null
    assert d["predictions"]["next_logprob_bits"][-1] is None and d["tokens"] == ["月", "光", "\n", "风", "龘"]
    assert len(d["states"]["h"]) == 2 and len(d["states"]["c"][0]) == 5 and len(d["gates"]["f"][1][0]) == H
    assert d["unknown"] == [{"token": "龘", "start": 4}] and d["saliency"]["position"] == 3
    assert set(d["saturation"]["gates"]) == {"i", "f", "o"}
    assert all(len(str(x).split(".")[-1]) <= 4 for x in d["states"]["h"][0][0])          # rounded to 4 decimals
    small = p.to_dict(arrays=False, layers=[1])
    assert "states" not in small and small["layers"] == [1] and len(small["projection"]["layers"]) == 1
    assert len(json.dumps(small)) < len(s)


def test_word_level_tokens_are_words():
    lines = ["我们在学习机器学习", "机器学习很有趣"]
    from lyricdemo.tokenizers import WordTokenizer

    tok = WordTokenizer()
    vocab = Vocab(flatten(tokenize_lines(lines, tok)))
    p = probe(make(vocab, "gru", 1), vocab, tok, "机器学习很有趣")
    assert p.tokens == tok.tokenize("机器学习很有趣") and len(p.tokens) < 7 and p.states["h"].shape[1] == len(p.tokens)
