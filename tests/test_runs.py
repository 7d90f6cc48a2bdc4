"""The registry of followable runs (ui/runs.py), the queue's estimate and the limits that follow the cores.

In-process: real training runs on a tiny text, no server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest

from conftest import TINY_LYRIC
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.errors import LyricdemoError
from lyricdemo.ui import limits, registry, runs, tab_generate, tab_train, train_follow
from lyricdemo.ui.session import Session
from lyricdemo.ui.training_run import TrainingRun

QUICK = dict(data="upload", min_freq=1, hidden_size=16, embed_dim=8, batch_size=2, num_steps=4, eval_every=3,
             max_seconds=30, max_steps=4)


def run_async(coro):
    """``asyncio.run`` in a thread of its own: after a Playwright test, this thread may hold a running
    event loop, and asyncio.run refuses to start another one in it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def drain(gen):
    out = None
    for out in gen:
        pass
    return out


async def adrain(agen) -> list:
    return [x async for x in agen]


@pytest.fixture(autouse=True)
def fresh_registry():
    runs.clear()
    yield
    runs.clear()


def make_session() -> Session:
    s = Session()
    s.upload = read_corpus_bytes(TINY_LYRIC.encode(), "tiny.txt")
    return s


def bare_run(n: int = 1) -> TrainingRun:
    return TrainingRun(number=n, label=f"#{n}", trainer=None, dataset=None)


# ----------------------------------------------------------------------------- ids and messages
def test_ids_are_unguessable_and_bad_ones_are_named():
    a, b = runs.register(bare_run()), runs.register(bare_run())
    assert a.id != b.id and len(a.id) >= 22 and runs.ID_RE.fullmatch(a.id)
    assert runs.lookup(a.id) is a and runs.lookup(f"  {a.id} ") is a
    for bad in (None, "", 5, ["x"]):
        with pytest.raises(LyricdemoError, match="No run to follow"):
            runs.lookup(bad)
    for bad in ("abc", "../" * 8, a.id + "!", "é" * 22, "x" * 65):
        with pytest.raises(LyricdemoError, match="not a run id"):
            runs.lookup(bad)
    with pytest.raises(LyricdemoError, match="not on this server.*restarted.* / .*服务器"):
        runs.lookup("A" * 22)


def test_finished_runs_are_kept_for_a_while_then_dropped_and_said_so(monkeypatch):
    monkeypatch.setenv("LYRICDEMO_FOLLOW_RUNS", "2")
    monkeypatch.setenv("LYRICDEMO_SESSION_IDLE_MINUTES", "10")
    shared = [runs.register(bare_run(i)) for i in range(4)]
    live = shared[3]
    for s in shared[:3]:
        runs.finish(s.id, None)
    assert runs.counts() == {"running": 1, "finished": 2, "dropped_ids": 1}     # at most 2 finished
    with pytest.raises(LyricdemoError, match="ended about .* minute.*no longer kept.* / "):
        runs.lookup(shared[0].id)
    assert runs.lookup(shared[1].id) is shared[1]
    later = time.monotonic() + 10 * 60 + 1                                       # past the keep time
    assert runs.reap(now=later) == 2
    assert runs.counts()["finished"] == 0 and runs.lookup(live.id) is live        # a running run stays
    with pytest.raises(LyricdemoError, match="no longer kept"):
        runs.lookup(shared[2].id)


def test_one_view_per_change_is_shared_by_every_follower():
    s = runs.register(bare_run())
    made = []

    def make():
        made.append(1)
        return len(made)

    v1 = [s.view("step", make) for _ in range(40)]            # forty followers, one build
    assert made == [1] and all(v == v1[0] for v in v1)
    s.run.samples["a"] = "abc"                                  # the run changes: built once more
    assert s.view("step", make)[1] == 2 and s.view("step", make)[1] == 2
    assert s.view("seconds", make)[1] == 3                      # another axis is another view


# ----------------------------------------------------------------------------- the queue
def test_the_start_estimate_follows_slots_and_durations():
    assert runs.estimate_start(1, 2, [10.0, 30.0], 45.0) == 10.0
    assert runs.estimate_start(2, 2, [10.0, 30.0], 45.0) == 30.0
    assert runs.estimate_start(3, 2, [10.0, 30.0], 45.0) == 55.0       # after the first slot's next run
    assert runs.estimate_start(1, 2, [10.0], 45.0) == 0.0              # a free slot: now
    assert runs.estimate_start(5, 1, [], 10.0) == 40.0


def test_the_queue_note_says_place_time_and_the_class_run_in_both_languages():
    md = train_follow.queue_markdown(3, 4, 2, [10.0, 30.0], 45.0, True, "A" * 22)
    assert "number 3 of 4" in md and "55 s" in md and "第 3 位" in md and "measured" in md
    assert f'href="?follow={"A" * 22}"' in md and 'target="_blank"' in md and "等待时" in md
    assert "follow" not in train_follow.queue_markdown(1, 1, 2, [5.0, 6.0], None, False, None)


def test_durations_are_measured_from_runs_that_trained():
    s = make_session()
    drain(tab_train.train(s, **QUICK))
    assert runs.typical_duration() is not None and runs.typical_duration() > 0
    r = runs.register(bare_run(), budget_s=30)
    left = runs.remaining_seconds()
    assert len(left) == 1 and 0 <= left[0] <= 30
    assert runs.class_run() is r
    runs.finish(r.id, None)
    assert runs.class_run() is None


# ----------------------------------------------------------------------------- owners and followers
def test_a_followed_model_is_shared_not_copied_and_outside_every_limit(monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_SESSION_MODELS", "1")
    owner, fan = make_session(), make_session()
    try:
        out = drain(tab_train.train(owner, **QUICK))
        rid = out[5]["follow"]
        assert rid and f"?follow={rid}" in out[0]                       # the share link on the status
        outs = run_async(adrain(train_follow.follow(fan, rid)))
        status, *_, info, gen_pick, inside_pick = outs[-1]
        assert "Following a run" in status and info["state"] == "done"
        assert gen_pick["value"] == f"follow:{rid}" == inside_pick["value"]
        entry = registry.get(fan, f"follow:{rid}")
        assert entry.checkpoint is owner.models[out[5]["model"]].checkpoint    # one model object
        assert fan.models == {} and [k for _, k in registry.choices(fan)].count(f"follow:{rid}") == 1
        # the follower's own model does not evict the followed one, nor the other way round
        drain(tab_train.train(fan, **QUICK))
        assert len(fan.models) == 1 and f"follow:{rid}" in [k for _, k in registry.choices(fan)]
        # the owner's limit evicts its copy; followers keep theirs
        drain(tab_train.train(owner, **QUICK))
        assert out[5]["model"] not in owner.models
        text = drain(tab_generate.generate(fan, f"follow:{rid}", "月", 4, "greedy"))[0]
        assert text.startswith("月")
    finally:
        owner.close()
        fan.close()


def test_a_follower_cannot_stop_the_run():
    owner, fan = make_session(), make_session()
    try:
        gen = tab_train.train(owner, **{**QUICK, "max_steps": 0, "max_seconds": 20})
        first = next(gen)
        rid = first[5]["follow"]
        stream = train_follow.follow(fan, rid)
        view = run_async(stream.__anext__())
        assert view[5]["state"] == "running"
        assert "Nothing is training" in tab_train.stop(fan)[0]
        assert owner.latest_run().running
        run_async(stream.aclose())
        gen.close()                                                   # the owner's page goes: the run ends
        assert not owner.latest_run().running and not runs.get(rid).running
    finally:
        owner.close()
        fan.close()


# ----------------------------------------------------------------------------- limits from the cores
def test_the_follow_runs_limit_bounds_the_registry(monkeypatch):
    monkeypatch.setenv("LYRICDEMO_FOLLOW_RUNS", "1")
    shared = [runs.register(bare_run(i)) for i in range(3)]
    for s in shared:
        runs.finish(s.id, None)
    assert limits.follow_runs() == 1 and runs.counts()["finished"] == 1 and runs.get(shared[-1].id)


# ----------------------------------------------------------------------------- after a crash
def test_a_killed_servers_session_folders_are_deleted_at_start(tmp_path):
    import os
    import subprocess
    import sys

    from lyricdemo.ui.session import WORKDIR_PREFIX, remove_stale_workdirs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f"{WORKDIR_PREFIX}{dead.stdout.strip()}-abc"
    (stale / "session-1").mkdir(parents=True)
    (stale / "session-1" / "lyricdemo-session-1.zip.part").write_bytes(b"PK\x03\x04 half")
    mine = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-xyz"
    mine.mkdir()
    other = tmp_path / "lyricdemo-session-notapid"
    other.mkdir()
    assert remove_stale_workdirs(str(tmp_path)) == [stale]
    assert not stale.exists() and mine.is_dir() and other.is_dir()


def test_a_checkpoint_zip_appears_whole_or_not_at_all():
    s = make_session()
    try:
        drain(tab_train.train(s, **QUICK))
        zip_path = next(iter(s.models.values())).zip_path
        assert zip_path.is_file() and not list(zip_path.parent.glob("*.part"))
        assert s.workdir().name.startswith(f"lyricdemo-session-{__import__('os').getpid()}-")
    finally:
        s.close()


def test_the_queue_place_is_read_from_gradios_queue_of_trainings():
    import inspect
    from types import SimpleNamespace

    from gradio.queueing import Event, EventQueue

    waiting = EventQueue("train", 2)                    # the structure tab 2 reads, as Gradio 6.31 has it
    assert waiting.queue == [] and "session_hash" in inspect.signature(Event).parameters
    waiting.queue.extend(SimpleNamespace(session_hash=h) for h in ("a", "b", "c"))
    demo = SimpleNamespace(_queue=SimpleNamespace(event_queue_per_concurrency_id={"train": waiting}))
    assert train_follow.queue_position(demo, "b") == (2, 3)
    assert train_follow.queue_position(demo, "z") is None                  # started, cancelled or never sent
    assert train_follow.queue_position(SimpleNamespace(), "a") is None     # no queue: no note, no error
