"""/generate through gradio_client, with continuous batching (lyricdemo/batching.py) behind it.

Concurrent students get the text each would get alone (the same seed, the same text); with a
small batch, a request that must wait streams its queue position and is served, one beyond the
waiting room is refused at once with a bilingual "queue is full, try again" message, and a long
silent wait in the queue does not make gradio_client time out.
"""

from __future__ import annotations

import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from conftest import finish_job, start_app, stop_app
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.generate import DecodeConfig, generate

pytestmark = pytest.mark.slow

OPTIONS = [dict(strategy="greedy"), dict(seed=1), dict(seed=2, temperature=0.7), dict(seed=3, top_k=5),
           dict(seed=4, top_p=0.8), dict(seed=5, repetition_penalty=1.3), dict(seed=6, temperature=1.5, top_k=20),
           dict(seed=1)]


def finish(job) -> list:
    return finish_job(job, timeout=120.0)


def wait_for(cond, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def notes(job) -> list[str]:
    return [o[2] for o in job.outputs() if isinstance(o[2], str)]


def test_concurrent_students_get_the_text_each_gets_alone(app_url, checkpoints_dir):
    folder = checkpoints_dir / "char-gru" if (checkpoints_dir / "char-gru").is_dir() else checkpoints_dir / "tiny-gru"
    ck = load_checkpoint(folder)
    key = f"shipped:{folder.name}"
    clients = [Client(app_url, verbose=False) for _ in OPTIONS]
    start = threading.Barrier(len(clients))
    jobs: list = [None] * len(clients)

    def go(i: int) -> None:
        start.wait()
        jobs[i] = clients[i].submit(model=key, prefix="月光", length=80, strategy=OPTIONS[i].get("strategy", "sample"),
                                    temperature=OPTIONS[i].get("temperature", 1.0), top_k=OPTIONS[i].get("top_k", 0),
                                    top_p=OPTIONS[i].get("top_p", 1.0),
                                    repetition_penalty=OPTIONS[i].get("repetition_penalty", 1.0),
                                    seed=OPTIONS[i].get("seed", 0), api_name="/generate")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for job, opts in zip(jobs, OPTIONS):
        outs = finish(job)
        alone = generate(ck.model, ck.vocab, ck.tokenizer, "月光",
                         DecodeConfig(length=80, alternatives=10, **{"seed": 0, **opts}))
        assert outs[-1][0] == alone.text
        assert outs[-1][6]["seed"] == alone.seed
    assert finish(jobs[1])[-1][0] == finish(jobs[-1])[-1][0]      # the same seed and options: the same text


@pytest.fixture(scope="module")
def small_batch_app(tmp_path_factory, checkpoints_dir):
    """A server whose batch holds one generation and whose waiting room holds one more."""
    tmp = tmp_path_factory.mktemp("small-batch")
    url, proc, log, _ = start_app(tmp, "small-batch", {
        "LYRICDEMO_CHECKPOINTS": str(checkpoints_dir), "LYRICDEMO_GENERATE_BATCH": "1",
        "LYRICDEMO_GENERATE_WAITING": "1", "LYRICDEMO_MAX_LENGTH": "1000000"})
    try:
        yield url
    finally:
        stop_app(proc, log)


def test_a_full_batch_queues_then_refuses_at_once_and_a_long_wait_does_not_time_out(small_batch_app):
    a, b, c = (Client(small_batch_app, verbose=False) for _ in range(3))
    key = next(m["key"] for m in a.predict(api_name="/models")[2] if m["key"].startswith("shipped:"))
    endless = a.submit(model=key, prefix="月", length=1_000_000, seed=1, api_name="/generate")
    try:
        wait_for(lambda: any(isinstance(o[0], str) and len(o[0]) > 3 for o in endless.outputs()), what="a's text")
        waiting = b.submit(model=key, prefix="风", length=20, seed=2, api_name="/generate")
        wait_for(lambda: any("in the queue: position 1" in n and "排队中" in n for n in notes(waiting)),
                 what="b's queue position")
        t0 = time.perf_counter()
        with pytest.raises(AppError) as refused:
            c.predict(model=key, prefix="夜", length=20, seed=3, api_name="/generate")
        assert time.perf_counter() - t0 < 10                      # at once, not after a wait
        msg = str(refused.value)
        assert "queue is full" in msg and "try again" in msg and "队列已满" in msg
        assert msg.index("queue is full") < msg.index("队列已满")     # English / 中文
        time.sleep(12)                                            # b waits in silence ...
        assert not waiting.done()
        endless.cancel()                                          # ... until a leaves the batch
        outs = finish(waiting)                                    # and is then served, no time-out
        assert outs[-1][0].startswith("风") and outs[-1][6]["tokens"] == 20
        assert outs[-1][6]["seed"] == 2
    finally:
        endless.cancel()
