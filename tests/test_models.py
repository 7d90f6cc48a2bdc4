"""The model package: scratch cells equal torch.nn, gates explain h, RNNLM's calls, config, state helpers.

Tiny sizes (V 17, H 8, T 7, B 3) and float64 where numbers are compared, so that the
whole file runs in seconds and equality holds to 1e-5 with room to spare.
"""

import json
import math
import warnings
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lyricdemo.errors import LyricdemoError
from lyricdemo.models import (BIDIRECTIONAL_WARNING, CELL_KINDS, IMPLS, ModelConfig, RNNLM, ScratchRNN,
                              build_model, detach_state, index_state, state_to)

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
V, I, H, T, B = 17, 5, 8, 7, 3
TOL = dict(atol=1e-5, rtol=1e-5)

# (kind, layers, bidirectional): every kind with 1 and 2 layers, every kind bidirectional.
SHAPES = [(k, L, False) for k in CELL_KINDS for L in (1, 2)] + [(k, 2, True) for k in CELL_KINDS]


def parts(h):
    """h_n or (h_n, c_n) -> a tuple of tensors."""
    return h if isinstance(h, tuple) else (h,)


def random_hx(kind, L, D):
    hx = tuple(torch.randn(L * D, B, H, dtype=torch.float64) for _ in range(2 if kind == "lstm" else 1))
    return hx if kind == "lstm" else hx[0]


def run_and_grad(module, x, hx):
    """Output, final state and the gradient of every parameter (and of x, hx) for one fixed loss."""
    module.zero_grad()
    x = x.clone().requires_grad_(True)
    hx_in = tuple(p.clone().requires_grad_(True) for p in parts(hx))
    out, h_n = module(x, hx_in if len(hx_in) == 2 else hx_in[0])
    g = torch.Generator().manual_seed(7)                          # the same weights for both modules
    loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum()
    for p in parts(h_n):
        loss = loss + (p * torch.randn(p.shape, generator=g, dtype=p.dtype)).sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    return out, parts(h_n), grads, x.grad, [p.grad for p in hx_in]


# -- ScratchRNN == torch.nn ------------------------------------------------------------------

@pytest.mark.parametrize("kind,L,bi", SHAPES)
def test_scratch_matches_torch_outputs_states_and_gradients(kind, L, bi):
    torch.manual_seed(0)
    ref = TORCH[kind](I, H, L, batch_first=True, bidirectional=bi).double()
    mine = ScratchRNN(kind, I, H, L, bidirectional=bi).double()
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert all(mine.state_dict()[k].shape == v.shape for k, v in ref.state_dict().items())
    mine.load_state_dict(ref.state_dict())                         # torch -> scratch
    x, hx = torch.randn(B, T, I, dtype=torch.float64), random_hx(kind, L, 2 if bi else 1)

    out_r, h_r, g_r, gx_r, ghx_r = run_and_grad(ref, x, hx)
    out_m, h_m, g_m, gx_m, ghx_m = run_and_grad(mine, x, hx)
    assert out_m.shape == out_r.shape == (B, T, H * (2 if bi else 1))
    torch.testing.assert_close(out_m, out_r, **TOL)
    assert len(h_m) == len(h_r) == (2 if kind == "lstm" else 1)
    for a, b in zip(h_m, h_r):
        torch.testing.assert_close(a, b, **TOL)
    assert g_m.keys() == g_r.keys()
    for name in g_r:
        torch.testing.assert_close(g_m[name], g_r[name], **TOL, msg=f"gradient of {name}")
    torch.testing.assert_close(gx_m, gx_r, **TOL)
    for a, b in zip(ghx_m, ghx_r):
        torch.testing.assert_close(a, b, **TOL)

    # scratch -> torch: perturb the scratch weights, load them back into a fresh torch module
    with torch.no_grad():
        for p in mine.parameters():
            p.add_(0.1 * torch.randn_like(p))
    back = TORCH[kind](I, H, L, batch_first=True, bidirectional=bi).double()
    back.load_state_dict(mine.state_dict())
    torch.testing.assert_close(back(x, hx)[0], mine(x, hx)[0], **TOL)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_scratch_float32_default_state_and_same_seed_same_init(kind):
    torch.manual_seed(3)
    ref = TORCH[kind](I, H, 2, batch_first=True)
    torch.manual_seed(3)
    mine = ScratchRNN(kind, I, H, 2)
    for (n, a), b in zip(ref.state_dict().items(), mine.state_dict().values()):
        assert torch.equal(a, b), n                                # torch's init, in torch's order
    x = torch.randn(B, T, I)
    (out_r, h_r), (out_m, h_m) = ref(x), mine(x)                   # hx=None: zeros
    torch.testing.assert_close(out_m, out_r, **TOL)
    for a, b in zip(parts(h_m), parts(h_r)):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind,bi", [("gru", False), ("lstm", True), ("rnn", False)])
def test_dropout_between_layers_is_torchs(kind, bi):
    """Same seed, same mask: dropout acts on every layer's output but the last, in training only."""
    torch.manual_seed(0)
    ref = TORCH[kind](I, H, 3, batch_first=True, dropout=0.5, bidirectional=bi).double()
    mine = ScratchRNN(kind, I, H, 3, dropout=0.5, bidirectional=bi).double()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.manual_seed(11)
    out_r, h_r = ref(x)
    torch.manual_seed(11)
    out_m, h_m = mine(x)
    torch.testing.assert_close(out_m, out_r, **TOL)
    for a, b in zip(parts(h_m), parts(h_r)):
        torch.testing.assert_close(a, b, **TOL)
    ref.eval(), mine.eval()
    out_eval = mine(x)[0]
    assert not torch.allclose(out_eval, out_m)                     # the masks did act in training
    torch.testing.assert_close(out_eval, ref(x)[0], **TOL)         # and do not in eval


def test_scratch_unbatched_input_and_bad_input():
    torch.manual_seed(0)
    ref, mine = nn.LSTM(I, H, batch_first=True), ScratchRNN("lstm", I, H)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(T, I)
    hx = (torch.randn(1, H), torch.randn(1, H))
    (out_r, (h_r, c_r)), (out_m, (h_m, c_m)) = ref(x, hx), mine(x, hx)
    assert out_m.shape == (T, H) and h_m.shape == (1, H)
    torch.testing.assert_close(out_m, out_r, **TOL)
    torch.testing.assert_close(c_m, c_r, **TOL)
    with pytest.raises(LyricdemoError, match="expects input"):
        mine(torch.randn(B, T, I + 1))
    with pytest.raises(LyricdemoError, match="tuple"):
        mine(torch.randn(B, T, I), torch.zeros(1, B, H))           # an LSTM needs (h, c)
    with pytest.raises(LyricdemoError, match="shape"):
        mine(torch.randn(B, T, I), (torch.zeros(1, B + 1, H), torch.zeros(1, B + 1, H)))
    with pytest.raises(LyricdemoError, match="cell"):
        ScratchRNN("transformer", I, H)
    with pytest.warns(UserWarning, match="does nothing"):
        ScratchRNN("gru", I, H, num_layers=1, dropout=0.3)
    no_bias_ref, no_bias = nn.GRU(I, H, 2, batch_first=True, bias=False), ScratchRNN("gru", I, H, 2, bias=False)
    no_bias.load_state_dict(no_bias_ref.state_dict())             # strict: no bias_* keys on either side
    torch.testing.assert_close(no_bias(x.unsqueeze(0))[0], no_bias_ref(x.unsqueeze(0))[0], **TOL)


# -- the gates explain h -----------------------------------------------------------------

def _previous(seq, t, d, first):
    """The state the cell saw before reading position t: forwards t-1, backwards t+1."""
    prev = t - 1 if d == 0 else t + 1
    return first if prev in (-1, seq.shape[-2]) else seq[..., prev, :]


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_gates_reproduce_hidden_states(kind):
    L, D = 2, 2
    torch.manual_seed(1)
    rnn = ScratchRNN(kind, I, H, L, bidirectional=True).double().eval()
    x, hx = torch.randn(B, T, I, dtype=torch.float64), random_hx(kind, L, D)
    out, h_n, g = rnn.forward_with_gates(x, hx)
    out2, h_n2 = rnn(x, hx)
    torch.testing.assert_close(out, out2, atol=0, rtol=0)           # the same computation
    expected = {"rnn": {"h"}, "gru": {"r", "z", "n", "h"}, "lstm": {"i", "f", "g", "o", "c", "h"}}[kind]
    assert set(g) == expected
    assert all(v.shape == (L, D, B, T, H) for v in g.values())
    torch.testing.assert_close(torch.cat([g["h"][-1, 0], g["h"][-1, 1]], dim=-1), out)
    h0, c0 = parts(hx)[0], parts(hx)[-1]
    layer_in = x
    for k in range(L):
        for d in range(D):
            w_ih, w_hh, b_ih, b_hh = rnn._weights(k, d)
            hs = g["h"][k, d]                                       # (B, T, H)
            first_h = h0[k * D + d]
            ends = T - 1 if d == 0 else 0                           # where h_n is read
            torch.testing.assert_close(hs[:, ends], parts(h_n)[0][k * D + d])
            for t in range(T):
                h_prev = _previous(hs, t, d, first_h)
                if kind == "gru":
                    z, n = g["z"][k, d, :, t], g["n"][k, d, :, t]
                    torch.testing.assert_close(hs[:, t], (1 - z) * n + z * h_prev)
                    r = g["r"][k, d, :, t]
                    W_in, W_hn = w_ih[2 * H:], w_hh[2 * H:]
                    n_manual = torch.tanh(layer_in[:, t] @ W_in.T + b_ih[2 * H:] + r * (h_prev @ W_hn.T + b_hh[2 * H:]))
                    torch.testing.assert_close(n, n_manual)
                elif kind == "lstm":
                    i, f, gg, o = (g[name][k, d, :, t] for name in "ifgo")
                    c_prev = _previous(g["c"][k, d], t, d, c0[k * D + d])
                    c = g["c"][k, d, :, t]
                    torch.testing.assert_close(c, f * c_prev + i * gg)
                    torch.testing.assert_close(hs[:, t], o * torch.tanh(c))
                else:
                    manual = torch.tanh(layer_in[:, t] @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)
                    torch.testing.assert_close(hs[:, t], manual)
        layer_in = torch.cat([g["h"][k, 0], g["h"][k, 1]], dim=-1)  # (B, T, 2H): next layer's input
    if kind == "lstm":
        torch.testing.assert_close(g["c"][-1, 0, :, -1], h_n[1][(L - 1) * D])


def test_gates_carry_gradients_to_the_weights():
    rnn = ScratchRNN("gru", I, H)
    _, _, g = rnn.forward_with_gates(torch.randn(B, T, I))
    g["z"].sum().backward()
    assert rnn.weight_hh_l0.grad is not None and rnn.weight_hh_l0.grad.abs().sum() > 0


# -- RNNLM -------------------------------------------------------------------------------

def small(**kw) -> ModelConfig:
    return ModelConfig(**{"vocab_size": V, "hidden_size": H, **kw})


def ids_(b=B, t=T, seed=0):
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cfg,has", [
    (small(), {"decoder"}),                                                  # one-hot, d2l
    (small(kind="lstm", embed_dim=6), {"embedding", "decoder"}),
    (small(embed_dim=H, tie_weights=True), {"embedding", "decoder"}),        # tied, no proj
    (small(kind="rnn", embed_dim=6, tie_weights=True), {"embedding", "proj", "decoder"}),
    (small(kind="lstm", embed_dim=6, tie_weights=True, bidirectional=True, num_layers=2),
     {"embedding", "proj", "decoder"}),
    (small(adaptive_cutoffs=(4,)), {"adaptive"}),
    (small(kind="lstm", embed_dim=6, adaptive_cutoffs=(4, 10), hidden_size=16), {"embedding", "adaptive"}),
])
@pytest.mark.parametrize("impl", IMPLS)
def test_rnnlm_shapes(cfg, has, impl):
    cfg = ModelConfig.from_dict({**cfg.to_dict(), "impl": impl})
    torch.manual_seed(0)
    model = build_model(cfg)
    assert {n for n in ("embedding", "proj", "decoder", "adaptive") if getattr(model, n) is not None} == has
    logits, state = model(ids_())
    assert logits.shape == (B, T, V)
    D = cfg.num_directions
    for p in parts(state):
        assert p.shape == (cfg.num_layers * D, B, cfg.hidden_size)
    assert isinstance(state, tuple) == (cfg.kind == "lstm")
    init = model.init_state(B)
    assert [p.shape for p in parts(init)] == [p.shape for p in parts(state)]
    assert all(not p.any() for p in parts(init))
    if cfg.tie_weights:
        assert model.decoder.weight is model.embedding.weight
    if cfg.adaptive_cutoffs:                                        # full log-probabilities
        torch.testing.assert_close(logits.logsumexp(-1), torch.zeros(B, T), atol=1e-5, rtol=0)
    assert model.rnn.weight_ih_l0.shape[1] == cfg.input_size
    assert "params" in model.describe()


def test_loss_is_cross_entropy_of_forward():
    torch.manual_seed(0)
    model = build_model(small(kind="lstm", embed_dim=6, num_layers=2)).double()
    x, y = ids_(seed=1), ids_(seed=2)
    loss, state = model.loss(x, y)
    logits, state2 = model(x)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)))
    for a, b in zip(state, state2):
        torch.testing.assert_close(a, b)
    assert loss.dim() == 0 and abs(loss.item() - math.log(V)) < 0.5   # an untrained model is near uniform


def test_adaptive_loss_matches_its_log_probabilities():
    torch.manual_seed(0)
    model = build_model(small(adaptive_cutoffs=(4, 10), hidden_size=16)).double()
    x, y = ids_(seed=1), ids_(seed=2)
    loss, _ = model.loss(x, y)
    logp, _ = model(x)
    torch.testing.assert_close(loss, -logp.gather(-1, y.unsqueeze(-1)).mean(), atol=1e-6, rtol=1e-6)
    loss.backward()
    assert model.adaptive.head.weight.grad is not None


def test_tied_initialisation_starts_near_uniform():
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=300, embed_dim=32, hidden_size=32, tie_weights=True))
    loss, _ = model.loss(ids_(seed=1) * 17, ids_(seed=2) * 17)
    assert abs(loss.item() - math.log(300)) < 0.2


@pytest.mark.parametrize("cfg", [small(kind="gru", embed_dim=6, num_layers=2, dropout_rnn=0.3),
                                 small(kind="lstm", bidirectional=True),
                                 small(kind="rnn", embed_dim=6, tie_weights=True, adaptive_cutoffs=())])
def test_with_impl_round_trip_gives_identical_logits(cfg):
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    before = torch.random.get_rng_state()
    twin = model.with_impl("scratch")
    assert torch.equal(torch.random.get_rng_state(), before)       # the caller's random stream is untouched
    back = twin.with_impl("torch")
    assert twin.config.impl == "scratch" and isinstance(twin.rnn, ScratchRNN)
    assert isinstance(back.rnn, nn.RNNBase) and back.config == model.config
    assert list(twin.state_dict()) == list(model.state_dict())
    assert not twin.training and twin.device == model.device
    x = ids_()
    logits, _ = model(x)
    torch.testing.assert_close(twin(x)[0], logits, **TOL)
    assert torch.equal(back(x)[0], logits)
    assert model.train().with_impl("scratch").training


def test_with_impl_keeps_dtype():
    model = build_model(small(embed_dim=6)).double()
    twin = model.with_impl("scratch")
    assert twin.dtype == torch.float64 and twin(ids_())[0].dtype == torch.float64


def test_forward_with_gates_only_on_scratch():
    model = build_model(small(num_layers=2, embed_dim=6))
    with pytest.raises(LyricdemoError, match=r"with_impl\('scratch'\)"):
        model.forward_with_gates(ids_())
    twin = model.with_impl("scratch").eval()
    logits, state, gates = twin.forward_with_gates(ids_())
    torch.testing.assert_close(logits, model.eval()(ids_())[0], **TOL)
    assert set(gates) == {"r", "z", "n", "h"} and gates["z"].shape == (2, 1, B, T, H)


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("impl", IMPLS)
def test_state_carried_across_calls_equals_one_call(kind, impl):
    torch.manual_seed(0)
    model = build_model(small(kind=kind, impl=impl, embed_dim=6, num_layers=2)).double().eval()
    x = ids_(t=10)
    whole, state_whole = model(x)
    first, state = model(x[:, :4])
    second, state = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, **TOL)
    for a, b in zip(parts(state), parts(state_whole)):
        torch.testing.assert_close(a, b, **TOL)
    other = model.with_impl("scratch" if impl == "torch" else "torch")
    _, s = other(x[:, :4])
    torch.testing.assert_close(other(x[:, 4:], s)[0], second, **TOL)


def test_rnnlm_rejects_bad_ids_and_states():
    model = build_model(small(kind="lstm"))
    with pytest.raises(LyricdemoError, match="outside the vocabulary"):
        model(torch.tensor([[0, V]]))
    with pytest.raises(LyricdemoError, match="whole-number"):
        model(torch.zeros(B, T))
    with pytest.raises(LyricdemoError, match="at least one token"):
        model(torch.zeros(B, 0, dtype=torch.long))
    with pytest.raises(LyricdemoError, match="shape"):
        model(ids_(), model.init_state(B + 1))
    with pytest.raises(LyricdemoError, match="tuple"):
        model(ids_(), torch.zeros(1, B, H))
    with pytest.raises(LyricdemoError, match="shape of ids"):
        model.loss(ids_(), ids_(t=T - 1))
    assert model(torch.tensor([1, 2, 3]))[0].shape == (1, 3, V)   # one unbatched row


def test_describe_parameters_and_bidirectional_flag():
    model = build_model(ModelConfig(vocab_size=2600, kind="gru", embed_dim=128, hidden_size=256,
                                    num_layers=2, tie_weights=True))
    assert model.describe() == "GRU 2x256, embedding 128, tied, 1.1M params"
    untied = build_model(ModelConfig(vocab_size=2600, embed_dim=128, hidden_size=256, num_layers=2))
    # untied: decoder 256 -> 2600; tied: proj 256 -> 128 and the shared matrix counted once
    assert untied.num_parameters() - model.num_parameters() == 256 * 2600 - (256 * 128 + 128)
    assert build_model(small()).describe().startswith("GRU 1x8, one-hot 17")
    assert not model.bidirectional
    bi = build_model(small(bidirectional=True))
    assert bi.bidirectional and "bidirectional" in bi.describe()
    assert bi.config.warnings() == [BIDIRECTIONAL_WARNING]
    assert "分开始开始" in BIDIRECTIONAL_WARNING and "perplexity" in BIDIRECTIONAL_WARNING
    assert BIDIRECTIONAL_WARNING.code == "bidirectional"              # plain English; the app words it (ui/wording)


def test_model_init_is_deterministic_and_warning_free():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.manual_seed(5)
        a = build_model(small(kind="lstm", embed_dim=6, dropout_rnn=0.2))   # one layer: dropout not passed on
        torch.manual_seed(5)
        b = build_model(small(kind="lstm", embed_dim=6, dropout_rnn=0.2, impl="scratch"))
    for (n, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), n
    assert [n.code for n in small(dropout_rnn=0.2).warnings()] == ["dropout_rnn_one_layer"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda():
    model = build_model(small(kind="lstm", embed_dim=6)).cuda()
    x = ids_().cuda()
    logits, state = model(x)
    assert logits.device.type == "cuda" and state[0].device.type == "cuda"
    assert model.init_state(B)[0].device.type == "cuda"
    twin = model.with_impl("scratch")
    assert twin.device.type == "cuda"
    torch.testing.assert_close(twin(x)[0], logits, atol=1e-4, rtol=1e-4)
    assert state_to(state, "cpu")[0].device.type == "cpu"


# -- ModelConfig -------------------------------------------------------------------------

@pytest.mark.parametrize("bad,match", [
    (dict(kind="transformer"), "kind must be one of"),
    (dict(impl="cuda"), "impl must be one of"),
    (dict(vocab_size=1), "vocab_size"),
    (dict(vocab_size=2.5), "vocab_size"),
    (dict(embed_dim=-1), "embed_dim"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(hidden_size=5000), "hidden_size"),
    (dict(hidden_size=True), "hidden_size"),
    (dict(num_layers=9), "num_layers"),
    (dict(dropout_embed=0.96), "dropout_embed"),
    (dict(dropout_rnn=-0.1), "dropout_rnn"),
    (dict(dropout_out="0.5"), "dropout_out"),
    (dict(tie_weights=True), "needs an embedding"),
    (dict(tie_weights=1, embed_dim=4), "True or False"),
    (dict(bidirectional="yes"), "True or False"),
    (dict(adaptive_cutoffs=(0,)), "adaptive_cutoffs"),
    (dict(adaptive_cutoffs=(V,)), "adaptive cutoff"),
    (dict(adaptive_cutoffs=(8, 4)), "increasing"),
    (dict(adaptive_cutoffs=(4, 4)), "increasing"),
    (dict(adaptive_cutoffs="4,8"), "list"),
    (dict(adaptive_cutoffs=(4, 8)), "0 dimensions"),                # H=8: 8 // 4**2 == 0
    (dict(adaptive_cutoffs=(4,), embed_dim=4, tie_weights=True), "do not go together"),
])
def test_model_config_rejects(bad, match):
    with pytest.raises(LyricdemoError, match=match):
        ModelConfig(**{"vocab_size": V, "hidden_size": H, **bad})


def test_model_config_round_trips_through_json():
    cfg = ModelConfig(vocab_size=V, kind="lstm", impl="scratch", embed_dim=6, hidden_size=16, num_layers=2,
                      dropout_embed=0.1, dropout_rnn=0.2, dropout_out=0.3, bidirectional=True,
                      adaptive_cutoffs=[4, 10])
    assert cfg.adaptive_cutoffs == (4, 10)                          # a list is taken as a tuple
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["adaptive_cutoffs"] == [4, 10]
    assert ModelConfig.from_dict(d) == cfg
    assert ModelConfig.from_dict({"vocab_size": V}) == ModelConfig(V)
    with pytest.raises(LyricdemoError, match="vocab_size"):
        ModelConfig.from_dict({"kind": "gru"})
    with pytest.raises(LyricdemoError):
        ModelConfig.from_dict(["gru"])
    with pytest.raises(LyricdemoError):
        RNNLM(d)


# -- state helpers -----------------------------------------------------------------------

def test_state_helpers_on_a_tensor():
    s = torch.arange(2 * 4 * 3, dtype=torch.float64).reshape(2, 4, 3).requires_grad_(True) * 1.0
    d = detach_state(s)
    assert s.requires_grad and not d.requires_grad and torch.equal(d, s.detach())
    picked = index_state(s, torch.tensor([3, 0, 0]))
    assert picked.shape == (2, 3, 3)
    assert torch.equal(picked[:, 0], s[:, 3]) and torch.equal(picked[:, 2], s[:, 0])
    assert index_state(s, 2).shape == (2, 1, 3)                     # one int keeps the batch dim
    assert torch.equal(index_state(s, torch.tensor([True, False, True, False])), s[:, [0, 2]])
    assert state_to(s, "cpu").device.type == "cpu"


def test_state_helpers_on_an_lstm_tuple():
    model = build_model(small(kind="lstm"))
    _, state = model(ids_(b=4))
    assert all(p.requires_grad for p in state)
    d = detach_state(state)
    assert isinstance(d, tuple) and not any(p.requires_grad for p in d)
    picked = index_state(state, [2, 1])
    assert isinstance(picked, tuple) and len(picked) == 2
    assert torch.equal(picked[1][:, 0], state[1][:, 2])
    assert isinstance(state_to(state, "cpu"), tuple)
    # a reordered state continues exactly like the reordered rows
    x = ids_(b=4, seed=3)
    full, _ = model(x, state)
    part, _ = model(x[[2, 1]], picked)
    torch.testing.assert_close(part, full[[2, 1]])


def test_state_helpers_on_a_list_of_rows():
    rows = [(1, 2), (3,), (), (4, 5)]                               # the n-gram model's state
    assert detach_state(rows) == rows and state_to(rows, "cpu") == rows
    assert index_state(rows, [3, 0]) == [(4, 5), (1, 2)]
    assert index_state(rows, torch.tensor([1, 1])) == [(3,), (3,)]
    assert index_state(tuple(rows), [2]) == ((),)                   # a tuple of rows, no tensors inside
    assert detach_state(None) is None and index_state(None, [0]) is None


def test_dropout_is_inverted_dropout_and_the_identity_in_eval():
    from lyricdemo.models.lm import Dropout

    torch.manual_seed(0)
    d = Dropout(0.6)
    x = torch.ones(200, 5_000, requires_grad=True)
    y = d(x)
    zero = (y == 0).float().mean().item()
    assert abs(zero - 0.6) < 0.005                                        # each element dropped with p
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.4))  # the rest scaled by 1 / (1 - p)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())                                # gradient through the same mask
    d.eval()
    assert d(x) is x
    assert Dropout(0.0).train()(x) is x


def test_locked_dropout_keeps_one_mask_per_sequence_across_its_time_steps():
    from lyricdemo.models.lm import Dropout

    torch.manual_seed(0)
    y = Dropout(0.5, locked=True)(torch.ones(64, 35, 128))
    assert torch.equal(y, y[:, :1].expand_as(y))                          # the same mask at every step
    assert abs((y[:, 0] == 0).float().mean().item() - 0.5) < 0.03 and set(y.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(y[0, 0], y[1, 0])                              # a mask of its own per sequence
    assert torch.equal(Dropout(0.5, locked=True).eval()(y), y)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_weight_drop_drops_entries_of_w_hh_for_a_batch_and_nothing_in_eval(kind, impl):
    cfg = ModelConfig(vocab_size=11, kind=kind, impl=impl, embed_dim=6, hidden_size=8, num_layers=2,
                      dropout_hh=0.5, locked_dropout=True)
    torch.manual_seed(0)
    model = RNNLM(cfg)
    plain = RNNLM(replace(cfg, dropout_hh=0.0, locked_dropout=False))
    plain.load_state_dict(model.state_dict())
    ids = torch.randint(0, 11, (3, 7))
    model.eval(), plain.eval()
    torch.testing.assert_close(model(ids)[0], plain(ids)[0])              # eval: the weights as they are
    model.train()
    loss, _ = model.loss(ids, ids)
    loss.backward()
    for name, p in model.rnn.named_parameters():
        if name.startswith("weight_hh"):          # a dropped entry gets no gradient in this batch, the others do
            share = (p.grad == 0).float().mean().item()
            assert 0.3 < share < 0.7, (name, share)
        else:
            assert (p.grad == 0).float().mean().item() < 0.1, name
    p = model.rnn.weight_hh_l0
    assert torch.equal(p, plain.rnn.weight_hh_l0)                         # the weights themselves are untouched
    assert "weight drop 0.5, locked dropout" in model.describe()
