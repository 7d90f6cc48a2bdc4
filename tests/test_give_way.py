"""A training gives way to students' generations (``train_loop.give_way``): it pauses between its
steps only while the server's shared batch has generations decoding or waiting."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from lyricdemo.generate import DecodeConfig
from lyricdemo.models import ModelConfig, build_model
from lyricdemo.ui import resources, train_loop
from lyricdemo.vocab import Vocab


@pytest.fixture()
def pool(monkeypatch):
    from lyricdemo.batching import BatchPool

    p = BatchPool(max_rows=4, max_waiting=4)
    monkeypatch.setitem(resources._POOL, "pool", p)
    yield p
    p.close()


def test_no_pause_while_nobody_generates(pool):
    assert not resources.students_generating()
    t0 = time.perf_counter()
    assert train_loop.give_way(0.05) == 0.0
    assert time.perf_counter() - t0 < 0.05


def test_a_pause_while_a_generation_decodes(pool, monkeypatch):
    monkeypatch.setattr(train_loop, "GIVE_WAY", 3.0)
    monkeypatch.setenv("LYRICDEMO_MAX_LENGTH", "1000000")      # a generation that lasts until it is closed
    torch.manual_seed(0)
    vocab = Vocab(list("月光洒在小河上风吹过我的窗"))
    model = build_model(ModelConfig(vocab_size=len(vocab), kind="gru", embed_dim=8, hidden_size=16)).eval()
    s = pool.submit(model, vocab, "char", "月", DecodeConfig(length=1_000_000, strategy="sample", seed=1))
    try:
        deadline = time.monotonic() + 30
        while not resources.students_generating():          # it joins the batch at the next step
            assert time.monotonic() < deadline and not s.ended
            time.sleep(0.001)
        assert train_loop.give_way(0.01) == pytest.approx(0.03)   # three times the step
        assert train_loop.give_way(1.0) == train_loop.GIVE_WAY_MAX_S
    finally:
        s.close()
    deadline = time.monotonic() + 30
    while resources.students_generating():                  # it left: the trainings go on at full speed
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert train_loop.give_way(0.01) == 0.0


def test_off_when_set_to_zero(pool, monkeypatch):
    monkeypatch.setattr(train_loop, "GIVE_WAY", 0.0)
    monkeypatch.setattr(resources, "students_generating", lambda: True)
    assert train_loop.give_way(0.05) == 0.0


def test_a_request_warming_up_on_its_prefix_counts_as_generating(pool, monkeypatch):
    """Between leaving the queue and joining the batch (its warm-up over the prefix) a request is
    neither waiting nor decoding: the trainings must still give way (CI once saw the gap)."""
    from lyricdemo import generate as gen_mod

    warming, release = threading.Event(), threading.Event()
    original = gen_mod.GenerationStream.start_sampling

    def slow_start(self):
        warming.set()
        release.wait(30)
        return original(self)

    monkeypatch.setattr(gen_mod.GenerationStream, "start_sampling", slow_start)
    vocab = Vocab(list("月光洒在小河上"))
    model = build_model(ModelConfig(vocab_size=len(vocab), kind="gru", embed_dim=8, hidden_size=16)).eval()
    s = pool.submit(model, vocab, "char", "月", DecodeConfig(length=5, strategy="greedy"))
    try:
        assert warming.wait(30)
        (st,) = pool.stats()
        assert (st["waiting"], st["joining"], st["rows"]) == (0, 1, 0)
        assert resources.students_generating()
    finally:
        release.set()
    assert len(s.result().steps) == 5
    assert all(st["joining"] == 0 for st in pool.stats())
