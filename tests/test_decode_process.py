"""The decoder process (lyricdemo/decode_process.py): the shipped models' shared batches decode in
a process beside the server, and each request still gets the text it gets alone.

Each test starts a real decoder (``python -m lyricdemo.decode_process``) on the shipped char GRU;
what it cannot decode (a model that is not a shipped checkpoint) stays in the server's own pool.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

from lyricdemo.batching import BatchedStream, BatchPool, QueueFull
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.decode_process import ProcessPool, RemoteStream, receive, send
from lyricdemo.errors import LyricdemoError
from lyricdemo.generate import DecodeConfig, generate

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
OPTIONS = [dict(strategy="greedy"), dict(seed=1), dict(seed=2, temperature=0.7, top_p=0.9),
           dict(seed=3, top_k=5, repetition_penalty=1.3), dict(seed=4, num_candidates=3)]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ck():
    return load_checkpoint(SHIPPED / "char-gru")


def ready_pool(shipped: Path = SHIPPED, **limits) -> ProcessPool:
    pool = ProcessPool(BatchPool(**limits), shipped)
    pool.start()
    deadline = time.monotonic() + 120
    while not pool.ready():
        assert time.monotonic() < deadline, "the decoder did not start"
        time.sleep(0.05)
    return pool


@pytest.fixture
def pool():
    p = ready_pool()
    yield p
    p.close()


def test_messages_are_length_framed_json_and_the_end_of_the_pipe_is_none():
    buf = io.BytesIO()
    send(buf, {"ev": [["s", 1, 0.5, None, "月"]]})
    send(buf, [1.0000000000000002, float("inf")])
    buf.seek(0)
    assert receive(buf) == {"ev": [["s", 1, 0.5, None, "月"]]}
    assert receive(buf) == [1.0000000000000002, float("inf")]          # floats cross exactly
    assert receive(buf) is None


def test_requests_decoded_in_the_decoder_get_the_text_they_get_alone(pool, ck):
    cfgs = [DecodeConfig(length=40, alternatives=10, **opts) for opts in OPTIONS]
    streams = [pool.submit(ck.model, ck.vocab, ck.tokenizer, "月光", c, path=ck.path) for c in cfgs]
    assert all(isinstance(s, RemoteStream) for s in streams)
    for s, cfg in zip(streams, cfgs):
        got, alone = s.result(), generate(ck.model, ck.vocab, ck.tokenizer, "月光", cfg)
        assert got.text == alone.text
        assert got.seed == alone.seed and got.strategy == alone.strategy
        assert [c.continuation for c in got.candidates] == [c.continuation for c in alone.candidates]
        assert [st.token for st in got.steps] == [st.token for st in alone.steps]
        (tok, prob), (tok_alone, prob_alone) = got.steps[0].alternatives[0], alone.steps[0].alternatives[0]
        assert tok == tok_alone and prob == pytest.approx(prob_alone, rel=1e-4)
        assert got.steps[0].entropy == pytest.approx(alone.steps[0].entropy, rel=1e-4)
        assert 0 < got.time_to_first_token_s <= got.elapsed_s and got.tokens_per_s > 0
    assert pool.stats() == pool.local.stats() == []                 # nothing left anywhere


def test_a_drawn_seed_is_reported_and_reproduces_the_text(pool, ck):
    got = pool.submit(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=30), path=ck.path).result()
    assert isinstance(got.seed, int)
    again = generate(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=30, seed=got.seed))
    assert got.text == again.text


def test_what_is_not_a_shipped_checkpoint_decodes_in_the_server(pool, ck, tmp_path):
    s = pool.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, seed=1))
    assert type(s) is BatchedStream
    s2 = pool.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, seed=1), path=tmp_path / "x")
    assert type(s2) is BatchedStream
    assert s.result().text == s2.result().text


def test_bad_input_is_refused_at_once_in_the_server(ck):
    p = ready_pool(max_rows=2)
    try:
        with pytest.raises(LyricdemoError, match="prefix"):
            p.submit(ck.model, ck.vocab, ck.tokenizer, "x" * 100_000, DecodeConfig(length=5), path=ck.path)
        with pytest.raises(LyricdemoError, match="more than a batch holds"):
            p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, num_candidates=3), path=ck.path)
        assert p.stats() == []
    finally:
        p.close()


def test_a_full_queue_is_refused_at_once_and_the_waiting_are_told_their_place(ck):
    p = ready_pool(max_rows=1, max_waiting=1)
    try:
        long = p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=2000, seed=1), path=ck.path)
        assert long.next_events(timeout=60)                        # decoding
        waiting = p.submit(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=5, seed=2), path=ck.path)
        with pytest.raises(QueueFull, match="queue is full"):
            p.submit(ck.model, ck.vocab, ck.tokenizer, "夜", DecodeConfig(length=5, seed=3), path=ck.path)
        events = waiting.next_events(timeout=30)
        assert events and events[0].position == 1                   # a Waiting record: first in line
        assert p.stats()[-1]["waiting"] == 1
        long.close()                                                # leaves the batch ...
        assert waiting.result().text.startswith("风")               # ... and the waiting one is served
    finally:
        p.close()


def test_a_closed_stream_leaves_the_batch_and_the_decoder_goes_on(pool, ck):
    s = pool.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=2000, seed=1), path=ck.path)
    assert s.next_events(timeout=60)
    s.close()
    assert pool.stats() == []                                       # forgotten at once
    with pytest.raises(LyricdemoError, match="stopped before it finished"):
        s.result()
    after = pool.submit(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=10, seed=5), path=ck.path)
    assert after.result().text == generate(ck.model, ck.vocab, ck.tokenizer, "风",
                                           DecodeConfig(length=10, seed=5)).text


def test_a_checkpoint_the_decoder_cannot_load_ends_its_request_with_the_reason(ck, tmp_path):
    shipped = tmp_path / "checkpoints"
    shutil.copytree(SHIPPED / "char-gru", shipped / "char-gru")
    p = ready_pool(shipped)
    try:
        (shipped / "char-gru" / "model.safetensors").write_bytes(b"broken")
        s = p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, seed=1),
                     path=shipped / "char-gru")
        with pytest.raises(LyricdemoError) as e:
            s.result()
        assert "char-gru" in str(e.value)
        assert p.ready()                                            # the decoder itself goes on
    finally:
        p.close()


def test_a_dead_decoder_ends_its_requests_clearly_and_the_next_request_starts_another(pool, ck):
    s = pool.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=2000, seed=1), path=ck.path)
    assert s.next_events(timeout=60)
    pool._proc.kill()
    with pytest.raises(LyricdemoError, match="decoding process stopped") as e:
        s.result()
    assert "解码进程已停止" in str(e.value)
    wait = time.monotonic() + 30
    while pool.ready():
        assert time.monotonic() < wait
        time.sleep(0.05)
    meanwhile = pool.submit(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=5, seed=2), path=ck.path)
    assert type(meanwhile) is BatchedStream and meanwhile.result().text.startswith("风")   # served in the server
    assert pool.started == 2                                        # and a new decoder is on its way


def test_the_decoder_exits_when_the_server_goes(pool):
    proc = pool._proc
    proc.stdin.close()                                              # what the kernel does when the server dies
    assert proc.wait(timeout=30) == 0


def test_while_the_decoder_starts_the_server_decodes_and_a_model_keeps_one_batch(ck, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_LENGTH", "1000000")
    p = ProcessPool(BatchPool(), SHIPPED)
    try:
        first = p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=1_000_000, seed=1),
                         path=ck.path)
        assert type(first) is BatchedStream and p.started == 1      # served at once; the decoder starts
        deadline = time.monotonic() + 120
        while not p.ready():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        joins = p.submit(ck.model, ck.vocab, ck.tokenizer, "风", DecodeConfig(length=5, seed=2), path=ck.path)
        assert type(joins) is BatchedStream                         # the model's batch runs here: it joins it
        joins.result()
        first.close()
        deadline = time.monotonic() + 30
        while p.local.running(ck.model):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        later = p.submit(ck.model, ck.vocab, ck.tokenizer, "夜", DecodeConfig(length=5, seed=3), path=ck.path)
        assert type(later) is RemoteStream and later.result().text.startswith("夜")
    finally:
        p.close()


def test_a_decoder_that_dies_while_starting_is_not_spawned_again_by_every_request(ck, monkeypatch):
    import sys

    import lyricdemo.decode_process as dp

    monkeypatch.setattr(sys, "executable", "/bin/false")            # a decoder that cannot start
    p = ProcessPool(BatchPool(), SHIPPED)
    try:
        p.start()
        assert p._proc.wait(timeout=30) != 0
        for seed in (1, 2):
            s = p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, seed=seed), path=ck.path)
            assert type(s) is BatchedStream and s.result().text.startswith("月")   # the server serves it
        assert p.started == 1                                       # and spawns nothing more ...
        monkeypatch.setattr(dp, "RETRY_S", 0.0)
        p.submit(ck.model, ck.vocab, ck.tokenizer, "月", DecodeConfig(length=5, seed=3), path=ck.path).result()
        assert p.started == 2                                       # ... until RETRY_S has passed
    finally:
        p.close()
