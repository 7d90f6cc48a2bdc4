"""Following a run through the API (gradio_client against `python app.py` on 127.0.0.1).

One client trains, another follows by the id of its share link: the follower streams the same
run, cannot stop or change it, and gets its model when it ends; a malformed or unknown id gets
a clear, bilingual message.
"""

from __future__ import annotations

import secrets
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

pytestmark = pytest.mark.slow

LONG_TOY = dict(data="toy", max_steps=1_000_000, max_seconds=60, eval_every=20, api_name="/train")


def wait_for(pred, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def last_info(job) -> dict:
    outs = job.outputs()
    return outs[-1][5] if outs else {}


def keys(client) -> list[str]:
    return [m["key"] for m in client.predict(api_name="/models")[2]]


@pytest.fixture
def owner(app_url):
    return Client(app_url, verbose=False, analytics_enabled=False)


@pytest.fixture
def follower(app_url):
    return Client(app_url, verbose=False, analytics_enabled=False)


def test_a_malformed_or_unknown_id_gets_a_clear_message(follower):
    for bad, says in (("", "No run to follow"), ("   ", "No run to follow"),
                      ("../../etc/passwd", "is not a run id"), ("abc", "is not a run id"),
                      ("x" * 500, "is not a run id"), ("<script>alert(1)</script>", "is not a run id"),
                      (secrets.token_urlsafe(16), "not on this server")):
        with pytest.raises(AppError, match=says) as e:
            follower.predict(run_id=bad, api_name="/follow")
        assert " / " in str(e.value) and "训练" in str(e.value)          # English / 中文
    with pytest.raises(AppError, match="x axis"):
        follower.predict(run_id=secrets.token_urlsafe(16), x_axis="hours", api_name="/follow")


def test_a_follower_sees_the_run_gets_its_model_and_cannot_stop_it(owner, follower):
    job = owner.submit(**LONG_TOY)
    try:
        rid = wait_for(lambda: last_info(job).get("follow"), what="the run's follow id")
        assert len(rid) >= 22 and rid not in keys(follower)
        wait_for(lambda: last_info(job).get("step", 0) > 0, what="the first step")

        watch = follower.submit(run_id=rid, api_name="/follow")
        wait_for(lambda: len(watch.outputs()) >= 1, what="the first followed update")
        status, fig, _, _, _, info = watch.outputs()[0][:6]
        assert "Following a run" in status and "only its owner can stop it" in status
        assert info["follow"] == rid and info["state"] == "running" and fig["type"] == "plotly"

        # the follower cannot stop it: /stop acts on the caller's own session, which trains nothing
        step = last_info(job)["step"]
        assert "Nothing is training" in follower.predict(api_name="/stop")[0]
        wait_for(lambda: last_info(job).get("step", 0) > step + 5, what="the owner's run going on")
        assert last_info(job)["state"] == "running" and not job.done()
        # ... nor make it stop by training in its own session (that is a run of its own)
        mine = follower.submit(data="toy", max_steps=3, max_seconds=20, eval_every=1, api_name="/train")
        mine.result()
        assert mine.outputs()[-1][5]["follow"] != rid and last_info(job)["state"] == "running"
        # the followed model is not there before the run ends
        with pytest.raises(AppError, match="still training"):
            follower.predict(model=f"follow:{rid}", prefix="", length=3, api_name="/generate")

        # the same stream grows: later updates carry more steps
        wait_for(lambda: watch.outputs()[-1][5]["step"] > info["step"], what="followed progress")

        # the owner stops: the follower's stream ends with the model in its pickers
        assert "stopped" in owner.predict(api_name="/stop")[0]
        wait_for(watch.done, timeout=30, what="the follow stream to end")
        final = watch.outputs()[-1]
        assert final[5]["state"] == "stopped" and final[5]["model"]
        assert "your pickers" in final[0]
        picker = final[6]
        assert picker["value"] == f"follow:{rid}"
        assert [c[1] for c in picker["choices"]].count(f"follow:{rid}") == 1
    finally:
        job.cancel()
    assert f"follow:{rid}" in keys(follower)
    text = follower.predict(model=f"follow:{rid}", prefix="h", length=5, api_name="/generate")[0]
    assert text.startswith("h")
    # following a finished run: the final view at once
    again = Client(follower.src, verbose=False).submit(run_id=rid, api_name="/follow")
    outs = wait_for(lambda: again.done() and again.outputs(), timeout=20, what="a finished run's view")
    assert outs[-1][5]["state"] == "stopped"
    # the owner still has its own copy (the same model, its key) and keeps its limit
    assert any(k.startswith("session:") for k in keys(owner))
    assert not any(k.startswith("follow:") for k in keys(owner))
