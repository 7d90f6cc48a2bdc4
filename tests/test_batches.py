"""Random and sequential minibatches (seed 000 semantics)."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lyricdemo.batches import batch_iter, seq_data_iter_random, seq_data_iter_sequential
from lyricdemo.errors import LyricdemoError

CORPUS = list(range(100))  # token id == position: easy to check


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_y_is_x_shifted_by_one(sampling):
    for X, Y in batch_iter(CORPUS, 3, 5, sampling, random.Random(0)):
        assert X.shape == Y.shape == (3, 5) and X.dtype == torch.long
        assert torch.equal(Y, X + 1)


def test_sequential_rows_continue_across_batches():
    batches = list(seq_data_iter_sequential(CORPUS, 2, 5, random.Random(3)))
    assert len(batches) >= 2
    for (X0, _), (X1, _) in zip(batches, batches[1:]):
        assert torch.equal(X1[:, 0], X0[:, -1] + 1)  # each row picks up where it stopped


@settings(max_examples=60, deadline=None)
@given(st.integers(20, 300), st.integers(1, 4), st.integers(1, 6), st.integers(0, 10_000))
def test_random_subsequences_are_disjoint_and_on_the_grid(n, B, T, seed):
    corpus = list(range(n))
    if ((n - 1) // T) // B < 1:
        with pytest.raises(LyricdemoError, match="needs at least"):
            seq_data_iter_random(corpus, B, T, random.Random(seed))
        return
    starts = [int(x) for X, _ in seq_data_iter_random(corpus, B, T, random.Random(seed)) for x in X[:, 0]]
    assert len(starts) == len(set(starts))                       # disjoint: no start twice ...
    offset = starts[0] % T
    assert all(s % T == offset for s in starts)                  # ... on one grid offset + k*T
    assert 0 <= offset < T
    assert len(starts) == ((n - offset - 1) // T) // B * B       # every full batch is used


def test_random_batches_come_in_random_order():
    firsts = [int(X[0, 0]) for X, _ in seq_data_iter_random(list(range(1000)), 4, 5, random.Random(0))]
    assert firsts != sorted(firsts)


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_seeding_reproduces(sampling):
    a = [X.tolist() for X, _ in batch_iter(CORPUS, 2, 4, sampling, random.Random(7))]
    b = [X.tolist() for X, _ in batch_iter(CORPUS, 2, 4, sampling, random.Random(7))]
    c = [X.tolist() for X, _ in batch_iter(CORPUS, 2, 4, sampling, random.Random(8))]
    assert a == b and a != c


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_a_corpus_too_short_for_one_batch_is_a_clear_error(sampling):
    with pytest.raises(LyricdemoError, match="needs at least 161"):
        batch_iter(list(range(50)), 32, 5, sampling)  # raised at once, not at the first next()


@pytest.mark.parametrize("seed", range(20))
def test_just_long_enough_still_gives_a_batch(seed):
    # an epoch with no batch would leave a trainer spinning: the offset gives way instead
    assert len(list(seq_data_iter_sequential(list(range(11)), 2, 5, random.Random(seed)))) == 1
    assert len(list(seq_data_iter_random(list(range(20)), 3, 6, random.Random(seed)))) == 1


@pytest.mark.parametrize("bad", [0, -3, 2.5, None])
def test_bad_sizes(bad):
    with pytest.raises(LyricdemoError):
        batch_iter(CORPUS, bad, 5)
    with pytest.raises(LyricdemoError):
        batch_iter(CORPUS, 2, bad)
    with pytest.raises(LyricdemoError, match="Unknown sampling"):
        batch_iter(CORPUS, 2, 5, "shuffled")
