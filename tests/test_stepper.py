"""The fast one-token path (models/stepper.py) equals the model's own forward.

Every cell kind with 1 and 2 layers, one-hot and embedding input, tied weights (with
and without the bridging projection), the adaptive softmax, both implementations;
several steps in a row from a random state, batch 3, float32, to 1e-5.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from lyricdemo.models import CELL_KINDS, ModelConfig, RNNLM, build_model
from lyricdemo.models.stepper import Stepper

V, H, B = 23, 12, 3
TOL = dict(atol=1e-5, rtol=1e-5)

# (embed_dim, tie_weights, adaptive_cutoffs): one-hot, embedding, tied (E == H: no proj), tied (E != H: proj), adaptive
INPUTS = [(0, False, ()), (7, False, ()), (H, True, ()), (7, True, ()), (7, False, (6,))]
CASES = [(kind, L, *inp, impl) for kind, L, inp, impl in
         itertools.product(CELL_KINDS, (1, 2), INPUTS, ("torch", "scratch"))]


pytestmark = pytest.mark.usefixtures("one_thread")


def make(kind="gru", L=1, embed=7, tie=False, cutoffs=(), impl="torch", bi=False, seed=0) -> RNNLM:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(vocab_size=V, kind=kind, embed_dim=embed, hidden_size=H, num_layers=L,
                                    tie_weights=tie, adaptive_cutoffs=cutoffs, impl=impl, bidirectional=bi))
    return model.eval()


def random_state(model: RNNLM, batch: int = B, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    state = model.init_state(batch)
    if isinstance(state, tuple):
        return tuple(torch.randn(s.shape, generator=g) * 0.5 for s in state)
    return torch.randn(state.shape, generator=g) * 0.5


def assert_same_state(a, b):
    assert type(a) is type(b)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert x.shape == y.shape
        torch.testing.assert_close(x, y, **TOL)


@pytest.mark.parametrize("kind,L,embed,tie,cutoffs,impl", CASES)
def test_step_matches_the_forward(kind, L, embed, tie, cutoffs, impl):
    model = make(kind, L, embed, tie, cutoffs, impl)
    stepper = model.stepper()
    assert stepper.fast and stepper.reason is None
    g = torch.Generator().manual_seed(2)
    slow = fast = random_state(model)
    with torch.inference_mode():
        for _ in range(6):
            ids = torch.randint(0, V, (B,), generator=g)                          # (B,)
            want, slow = model(ids[:, None], slow)                                # (B, 1, V)
            got, fast = stepper.step(ids, fast)                                   # (B, V)
            assert got.shape == (B, V)
            torch.testing.assert_close(got, want[:, -1], **TOL)
            assert_same_state(fast, slow)


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("embed", [0, 7])
def test_prefill_is_the_forward_at_the_last_position(kind, embed):
    model = make(kind, 2, embed)
    ids = torch.randint(0, V, (B, 9), generator=torch.Generator().manual_seed(3))   # (B, T)
    state = random_state(model)
    with torch.inference_mode():
        want, want_state = model(ids, state)                                       # (B, T, V)
        got, got_state = model.stepper().prefill(ids, state)                       # (B, V)
    torch.testing.assert_close(got, want[:, -1], **TOL)
    assert_same_state(got_state, want_state)


def test_a_state_moves_freely_between_the_two_paths():
    """prefill -> step -> forward -> step: every hand-over keeps the same numbers."""
    model = make("lstm", 2, 0)
    stepper = model.stepper()
    ids = torch.tensor([[1, 5, 7, 2], [3, 3, 0, 9]])                             # (2, 4)
    with torch.inference_mode():
        ref, _ = model(ids, model.init_state(2))                                   # (2, 4, V)
        logits, state = stepper.prefill(ids[:, :2], model.init_state(2))
        torch.testing.assert_close(logits, ref[:, 1], **TOL)
        logits, state = stepper.step(ids[:, 2], state)
        torch.testing.assert_close(logits, ref[:, 2], **TOL)
        out, state = model(ids[:, 3:], state)
        torch.testing.assert_close(out[:, -1], ref[:, 3], **TOL)


def test_float64_is_kept_and_exact_to_rounding():
    model = make("gru", 2, 7).double()
    ids, state = torch.tensor([4, 0, 22]), random_state(model)
    state = state.double()
    with torch.inference_mode():
        want, want_state = model(ids[:, None], state)
        got, got_state = model.stepper().step(ids, state)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want[:, -1], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(got_state, want_state, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_bidirectional_falls_back_to_the_forward(kind):
    model = make(kind, 1, 7, bi=True)
    stepper = model.stepper()
    assert not stepper.fast and "bidirectional" in stepper.reason
    ids, state = torch.tensor([1, 2, 3]), random_state(model)
    with torch.inference_mode():
        want, want_state = model(ids[:, None], state)
        got, got_state = stepper.step(ids, state)
        torch.testing.assert_close(got, want[:, -1], **TOL)
        assert_same_state(got_state, want_state)
        pre, _ = stepper.prefill(ids[:, None], state)
        torch.testing.assert_close(pre, want[:, -1], **TOL)


def test_anything_but_an_rnnlm_falls_back():
    stepper = Stepper(torch.nn.Linear(3, 3))
    assert not stepper.fast and "RNNLM" in stepper.reason


def test_the_cached_stepper_follows_the_weights():
    """Built once per weights; an optimizer step or load_state_dict makes a fresh one."""
    model = make("gru", 1, 7)
    first = model.stepper()
    assert model.stepper() is first                                                # nothing changed
    ids, state = torch.tensor([1, 2, 3]), random_state(model)

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    logits, _ = model(torch.randint(0, V, (2, 5)))
    logits.sum().backward()
    opt.step()
    model.eval()
    second = model.stepper()
    assert second is not first
    with torch.inference_mode():
        want, _ = model(ids[:, None], state)
        torch.testing.assert_close(second.step(ids, state)[0], want[:, -1], **TOL)
        stale, _ = first.step(ids, state)
    assert not torch.allclose(stale, want[:, -1], **TOL)                          # why it must be rebuilt

    other = make("gru", 1, 7, seed=5)
    model.load_state_dict(other.state_dict())
    third = model.stepper()
    assert third is not second
    with torch.inference_mode():
        torch.testing.assert_close(third.step(ids, state)[0], other(ids[:, None], state)[0][:, -1], **TOL)


def test_step_computes_the_eval_mode_function():
    """Dropout is for training; the stepper always decodes as in eval mode."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=V, embed_dim=7, hidden_size=H, num_layers=2, dropout_embed=0.5,
                                    dropout_rnn=0.5, dropout_out=0.5)).eval()
    ids, state = torch.tensor([1, 2, 3]), random_state(model)
    with torch.inference_mode():
        want, _ = model(ids[:, None], state)
        got, _ = model.stepper().step(ids, state)
    torch.testing.assert_close(got, want[:, -1], **TOL)
