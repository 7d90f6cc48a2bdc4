"""Continuous batching (lyricdemo/batching.py): requests share one forward pass per step and
still each get exactly the text they get alone.

Models: small RNNLMs of every cell kind (one-hot and embedding input, 1 and 2 layers) and the
shipped char GRU; texts written here.  Requests with different options (greedy, temperature,
top-k, top-p, repetition penalty, several samples, their own seeds) are batched together and
compared token by token with ``generate.generate`` run alone.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import pytest
import torch

from lyricdemo import generate as gen_mod
from lyricdemo.decode_choice import Chooser
from lyricdemo.batching import BatchPool, QueueFull, Waiting, batchable
from lyricdemo.ui.wording import bilingual
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.errors import LyricdemoError
from lyricdemo.generate import DecodeConfig, Step, generate
from lyricdemo.models import ModelConfig, build_model
from lyricdemo.tokenizers import CharTokenizer
from lyricdemo.vocab import Vocab

TEXT = "月光洒在小河上\n风吹过我的窗\n你在远方唱\n星星一闪一闪亮\n夜很长 路很长\n明天会更亮\n"
CHAR = CharTokenizer()
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "char-gru"

# different options side by side: every processor, greedy with and without the penalty, two samples
OPTIONS = [
    dict(strategy="greedy"),
    dict(strategy="greedy", repetition_penalty=1.5),
    dict(seed=1),
    dict(seed=2, temperature=0.7),
    dict(seed=3, temperature=1.4, top_k=5),
    dict(seed=4, top_p=0.8),
    dict(seed=5, repetition_penalty=1.3, temperature=0.9, top_k=8, top_p=0.9),
    dict(seed=6, num_candidates=3),
    dict(seed=2, temperature=0.7),            # the same options twice: the same text twice
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab([c for line in TEXT.split("\n") for c in [*line, "\n"]])


def tiny(vocab: Vocab, kind="gru", embed=8, layers=1, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=len(vocab), kind=kind, embed_dim=embed, hidden_size=16, num_layers=layers)
    return build_model(cfg).eval()


@pytest.fixture
def pool():
    p = BatchPool(max_rows=64, max_waiting=8, idle_s=0.2)
    yield p
    p.close()


def ids_of(g) -> list[tuple[int, ...]]:
    return [c.ids for c in g.candidates]


def wait_until(cond, timeout=20.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("kind,embed,layers", [("gru", 8, 1), ("lstm", 0, 2), ("rnn", 8, 2), ("gru", 0, 2)])
def test_batched_gives_the_tokens_each_gets_alone(pool, vocab, kind, embed, layers):
    model = tiny(vocab, kind, embed, layers, seed=3)
    prefixes = ["月光", "", "风吹过", "夜", "星"]            # requests 3 and 8: the same prefix and options
    cfgs = [DecodeConfig(length=40, **o) for o in OPTIONS]
    alone = [generate(model, vocab, CHAR, prefixes[i % 5], c) for i, c in enumerate(cfgs)]
    streams = [pool.submit(model, vocab, CHAR, prefixes[i % 5], c) for i, c in enumerate(cfgs)]
    together = [s.result() for s in streams]
    for a, b in zip(alone, together):
        assert ids_of(b) == ids_of(a)
        assert b.text == a.text and b.seed == a.seed and b.strategy == a.strategy
        assert [s.prob for s in b.steps] == pytest.approx([s.prob for s in a.steps], rel=1e-4)
    assert together[3].text == together[8].text
    (stats,) = pool.stats() or [{"peak_rows": None}]
    assert stats["peak_rows"] > 1 + 2           # they really shared the pass (3 samples + others)


def test_shipped_model_forty_requests_batched_equal_alone(pool):
    if not SHIPPED.is_dir():
        pytest.skip("no shipped char-gru checkpoint")
    ck = load_checkpoint(SHIPPED)
    cfgs = [DecodeConfig(length=60, **{**OPTIONS[i % len(OPTIONS)], "seed": 100 + i}) for i in range(40)]
    alone = [generate(ck.model, ck.vocab, ck.tokenizer, "分开", c) for c in cfgs]
    streams = [pool.submit(ck.model, ck.vocab, ck.tokenizer, "分开", c) for c in cfgs]
    assert [ids_of(s.result()) for s in streams] == [ids_of(a) for a in alone]
    assert pool.stats()[0]["peak_rows"] >= 40


def test_streams_steps_as_generate_stream_does(pool, vocab):
    model = tiny(vocab)
    cfg = DecodeConfig(length=12, seed=9, num_candidates=2)
    alone = list(gen_mod.stream(model, vocab, CHAR, "月", cfg))
    got = list(pool.submit(model, vocab, CHAR, "月", cfg))
    assert all(isinstance(s, Step) for s in got)
    assert [(s.position, s.candidate, s.id) for s in got] == [(s.position, s.candidate, s.id) for s in alone]


def test_join_and_leave_mid_run(pool, vocab):
    model = tiny(vocab, seed=4)
    long_cfg, short_cfg = DecodeConfig(length=2000, seed=1), DecodeConfig(length=20, seed=2)
    first = pool.submit(model, vocab, CHAR, "月", long_cfg)
    seen = [next(first) for _ in range(30)]                   # the loop is well under way
    second = pool.submit(model, vocab, CHAR, "风", short_cfg)  # joins the running batch ...
    joined = second.result()
    assert wait_until(lambda: pool.stats()[0]["rows"] == 1)  # ... and left it while the first goes on
    assert pool.stats()[0]["peak_rows"] == 2 and first._chooser.t < 2000
    rest = first.result()
    assert [s.id for s in seen] == list(rest.candidates[0].ids[:30])
    assert ids_of(joined) == ids_of(generate(model, vocab, CHAR, "风", short_cfg))
    assert ids_of(rest) == ids_of(generate(model, vocab, CHAR, "月", long_cfg))


def test_a_cancelled_request_leaves_the_batch(pool, vocab):
    model = tiny(vocab, seed=5)
    keep_cfg = DecodeConfig(length=300, seed=7)
    keep = pool.submit(model, vocab, CHAR, "夜", keep_cfg)
    gone = pool.submit(model, vocab, CHAR, "夜", DecodeConfig(length=2000, seed=8))
    next(gone)
    next(keep)
    assert wait_until(lambda: pool.stats() and pool.stats()[0]["rows"] == 2)
    gone.close()
    assert wait_until(lambda: not pool.stats() or pool.stats()[0]["rows"] <= 1)
    assert ids_of(keep.result()) == ids_of(generate(model, vocab, CHAR, "夜", keep_cfg))
    with pytest.raises(LyricdemoError, match="stopped"):
        gone.result()


def test_an_error_in_one_request_does_not_stop_the_others(pool, vocab, monkeypatch):
    model = tiny(vocab, seed=6)
    commit = Chooser.commit

    def failing(self, *args):
        if self.config.seed == 13 and self.t == 5:
            raise RuntimeError("boom in request 13")
        return commit(self, *args)

    cfgs = [DecodeConfig(length=30, seed=s) for s in (11, 12, 13, 14)]
    alone = [generate(model, vocab, CHAR, "月", c) for c in cfgs]
    monkeypatch.setattr(Chooser, "commit", failing)
    streams = [pool.submit(model, vocab, CHAR, "月", c) for c in cfgs]
    for s, c, a in zip(streams, cfgs, alone):
        if c.seed == 13:
            with pytest.raises(RuntimeError, match="boom in request 13"):
                s.result()
        else:
            assert ids_of(s.result()) == ids_of(a)
    assert pool.stats()[0]["peak_rows"] == 4                  # they did share the batch


def test_a_bad_warm_up_fails_only_its_request(pool, vocab):
    model = tiny(vocab, seed=6)
    good = pool.submit(model, vocab, CHAR, "月", DecodeConfig(length=50, seed=1))
    bad_vocab = Vocab(list("月光洒在"))                          # does not belong to the model
    bad = pool.submit(model, bad_vocab, CHAR, "月", DecodeConfig(length=50, seed=1))
    with pytest.raises(LyricdemoError, match="do not belong together|vocabulary"):
        bad.result()
    assert ids_of(good.result()) == ids_of(generate(model, vocab, CHAR, "月", DecodeConfig(length=50, seed=1)))


def test_an_unused_model_stops_its_loop_and_is_freed(vocab):
    pool = BatchPool(idle_s=0.1)
    model = tiny(vocab, seed=8)
    assert len(pool.submit(model, vocab, CHAR, "月", DecodeConfig(length=5)).result().steps) == 5
    other = tiny(vocab, seed=9)
    pool.submit(other, vocab, CHAR, "风", DecodeConfig(length=5)).result()
    assert wait_until(lambda: pool.loops() == 0, timeout=10)
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("lyricdemo-batch-")],
                      timeout=10)     # its own loop threads (other tests' client threads come and go)
    ref = weakref.ref(model)
    del model
    assert wait_until(lambda: gc.collect() is not None and ref() is None, timeout=5)   # no reference kept
    again = tiny(vocab, seed=8)                               # and a later request starts a new loop
    assert pool.submit(again, vocab, CHAR, "月", DecodeConfig(length=3)).result().steps
    pool.close()
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("lyricdemo-batch-")],
                      timeout=10)     # its own loop threads (other tests' client threads come and go)


def test_a_full_queue_refuses_at_once_and_the_waiting_see_their_place(vocab):
    pool = BatchPool(max_rows=1, max_waiting=1, idle_s=0.2)
    model = tiny(vocab, seed=10)
    try:
        running = pool.submit(model, vocab, CHAR, "月", DecodeConfig(length=1500, seed=1))
        next(running)
        waiting = pool.submit(model, vocab, CHAR, "风", DecodeConfig(length=5, seed=2))
        first = waiting.next_events(timeout=10)
        assert first and isinstance(first[0], Waiting) and first[0].position == 1
        t0 = time.perf_counter()
        with pytest.raises(QueueFull) as info:
            pool.submit(model, vocab, CHAR, "夜", DecodeConfig(length=5, seed=3))
        assert time.perf_counter() - t0 < 1.0
        msg = bilingual(info.value)                            # plain English from the core, worded by the app
        assert "queue is full" in msg and "队列已满" in msg and msg.index("queue") < msg.index("队列")
        assert info.value.retry_after_s is None or info.value.retry_after_s > 0
        assert "try again in" in msg and "再试" in msg
        assert "队列" not in str(info.value)
        if info.value.retry_after_s is not None:               # the same seconds in both halves
            assert f"~{info.value.data['seconds']} s" in msg and f"约 {info.value.data['seconds']} 秒" in msg
        running.close()                                        # room frees: the waiting one runs
        out = waiting.result()
        assert out.steps and out.candidates[0].ids == generate(model, vocab, CHAR, "风",
                                                               DecodeConfig(length=5, seed=2)).candidates[0].ids
    finally:
        pool.close()


def test_bad_options_fail_at_submit_and_beam_does_not_batch(pool, vocab):
    model = tiny(vocab)
    with pytest.raises(LyricdemoError, match="strict"):
        pool.submit(model, vocab, CHAR, "月☃", DecodeConfig(unknown="strict"))
    assert not batchable(model, DecodeConfig(strategy="beam"))
    with pytest.raises(LyricdemoError, match="cannot share a batch"):
        pool.submit(model, vocab, CHAR, "月", DecodeConfig(strategy="beam"))
    model.train()
    assert not batchable(model, DecodeConfig())
    model.eval()
    assert batchable(model, DecodeConfig())
