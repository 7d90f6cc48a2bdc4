"""The app through its API: gradio_client against `python app.py` on 127.0.0.1.

Every tab's main action is a named endpoint (/tokenize, /train, /generate, /probe); each
returns sensible results, checks its inputs itself, and /train streams and stops on request.
The models are whatever the server lists (tiny checkpoints made by conftest, or the real
shipped ones with LYRICDEMO_TEST_SHIPPED=1).
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from conftest import TINY_LYRIC, finish_job, start_app, stop_app

pytestmark = pytest.mark.slow

SMALL_TRAIN = dict(hidden_size=32, embed_dim=16, batch_size=8, num_steps=16, eval_every=4, max_seconds=60)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False, analytics_enabled=False)


def collect(job, timeout: float = 90.0) -> list:
    """Wait for a job and return every output it yielded (never an unguarded ``for x in job``)."""
    return finish_job(job, timeout)


def wait_outputs(job, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(job.outputs()) < n:
        assert not job.done() or len(job.outputs()) >= n, f"job ended after {len(job.outputs())} outputs"
        assert time.monotonic() < deadline, f"only {len(job.outputs())} outputs"
        time.sleep(0.05)


def models(client) -> list[dict]:
    return client.predict(api_name="/models")[2]


def shipped_key(client) -> str:
    keys = [m["key"] for m in models(client) if m["key"].startswith("shipped:")]
    if not keys:
        pytest.skip("no shipped checkpoint")
    return keys[0]


def test_startup_and_named_endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")
    names = set(api["named_endpoints"])
    assert {"/tokenize", "/train", "/generate", "/probe", "/stop", "/models", "/lookup"} <= names, names
    assert {"/probe_unit", "/probe_units", "/probe_saliency", "/probe_connectivity", "/probe_compare",
            "/probe_export"} <= names, names
    assert all("Session" not in n for n in names)             # the session store is not an endpoint


@pytest.mark.corpus
def test_tokenize_d2l_corpus(client, corpus_path):
    out = client.predict(tokenizer="char", min_freq=2, top_n=20, api_name="/tokenize")
    notice, summary, view, top, zipf, coverage, rare, compare, stats = out
    assert "jaychou" in notice and "vocabulary size" in summary
    assert 1500 < stats["vocab_size"] < 3000 and stats["tokens"] > 50_000
    assert len(stats["top_tokens"]) == 20 and stats["top_tokens"][0][1] >= stats["top_tokens"][-1][1]
    assert view.count("<span") > 20 and "title=\"id " in view        # token boxes with their ids
    for fig in (top, zipf, coverage):
        assert fig["type"] == "plotly" and json.loads(fig["plot"])["data"]
    zipf_fig = json.loads(zipf["plot"])
    assert zipf_fig["layout"]["xaxis"]["type"] == "log" and len(zipf_fig["data"]) == 3
    assert compare["headers"][1:] == ["char / 字", "word / 词 (jieba)"]
    word = client.predict(tokenizer="word", api_name="/tokenize")[8]
    assert word["config"]["tokenizer"] == "word" and word["tokens"] < stats["tokens"]
    assert "id **" in client.predict("爱", api_name="/lookup")


def test_tokenize_upload_and_lookup(client, tmp_path):
    f = tmp_path / "my-lyrics.txt"
    f.write_text(TINY_LYRIC, encoding="utf-8")
    stats = client.predict(source="upload", upload=handle_file(str(f)), min_freq=1, api_name="/tokenize")[8]
    assert stats["corpus"] == "my-lyrics.txt" and stats["vocab_size"] < 60
    assert "→ id" in client.predict("月", api_name="/lookup")
    assert "id **1**" in client.predict("1", api_name="/lookup")
    assert "not in the vocabulary" in client.predict("龘", api_name="/lookup")


def test_tokenize_refuses_bad_input(client, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("月光洒在小河上\n风吹过我的窗\n".encode("gb18030"))
    with pytest.raises(AppError, match="not UTF-8"):
        client.predict(source="upload", upload=handle_file(str(gbk)), api_name="/tokenize")
    with pytest.raises(AppError):
        client.predict(min_freq=0, api_name="/tokenize")
    with pytest.raises(AppError):
        client.predict(tokenizer="bpe", api_name="/tokenize")
    with pytest.raises(AppError, match="lookup|Token or id"):
        client.predict("x" * 500, api_name="/lookup")


def test_generate_streams_and_flags_unknown_characters(client):
    key = shipped_key(client)
    job = client.submit(model=key, prefix="分开龘", length=60, strategy="sample", seed=3, api_name="/generate")
    outs = collect(job)
    assert len(outs) >= 2                                    # the text streams in, then the analysis
    text, report, meter, step, alt, ent, info = outs[-1]
    assert text.startswith("分开龘") and len(text) > 3
    assert 1 <= info["tokens"] <= 60 and info["unknown"] == [{"token": "龘", "start": 2, "end": 3}]
    assert "<mark" in report and "龘" in report and "never seen" in report
    assert alt["type"] == "plotly" and ent["type"] == "plotly"
    assert "Longest verbatim copy" in meter or "unavailable" in meter
    again = collect(client.submit(model=key, prefix="分开龘", length=60, strategy="sample", seed=3,
                                  api_name="/generate"))[-1][0]
    assert again == text                                     # a seed gives the same text
    alt2, _ = client.predict(5, api_name="/step_view")
    assert "Step 5" in json.loads(alt2["plot"])["layout"]["title"]["text"]


def test_generate_checks_its_inputs(client):
    key = shipped_key(client)
    with pytest.raises(AppError, match="Unknown model"):
        client.predict(model="shipped:nope", api_name="/generate")
    with pytest.raises(AppError, match="strict|词表外"):
        client.predict(model=key, prefix="龘", unknown="strict", api_name="/generate")
    with pytest.raises(AppError):
        client.predict(model=key, length=0, api_name="/generate")
    with pytest.raises(AppError):
        client.predict(model=key, strategy="magic", api_name="/generate")
    with pytest.raises(AppError):
        client.predict(model=key, prefix="x" * 30_000, api_name="/generate")


def test_probe_returns_hidden_states(client):
    key = shipped_key(client)
    out = client.predict(model=key, text="分开\n不分开", layer=1, unit=2, api_name="/probe")
    summary, heat, colored, trace, data = out[:5]
    T, W = data["shape"]
    assert data["tokens"] == ["分", "开", "\n", "不", "分", "开"] or T == len(data["tokens"])
    assert len(data["activations"]) == T and data["unit"] == 2
    assert all(-1.0 <= a <= 1.0 for a in data["activations"])                       # h = o * tanh(c) or tanh(...)
    fig = json.loads(heat["plot"])
    assert fig["data"][0]["type"] == "heatmap"
    assert colored.count("<span") >= T
    with pytest.raises(AppError, match="Unit|单元|maximum"):
        client.predict(model=key, text="分开", unit=W + 5, api_name="/probe")
    with pytest.raises(AppError):
        client.predict(model=key, text="   ", api_name="/probe")


def test_probe_shows_every_view_and_its_sub_views(client):
    """/probe answers every default view; the sub-view endpoints redraw one part; all check their inputs."""
    chars = [m["key"] for m in models(client) if m["key"].startswith("shipped:") and ", char" in m["label"]]
    if not chars:
        pytest.skip("no shipped character-level checkpoint")
    key = chars[0]
    text = "月光洒在小河上\n风吹过我的窗\n我想你在远方"
    out = client.predict(model=key, text=text, select_by="token", select_value="我", api_name="/probe")
    data, ranking, sat, strip, sal_html, sal_fig, position, traj = out[4], *out[7:14]
    T = len(data["tokens"])
    assert data["units"]["positions"] == [11, 15] and len(data["units"]["top_up"]) == 8 and "up here" in ranking
    assert len(data["predictions"]["tokens"]) == T and len(data["predictions"]["tokens"][0]) == 5
    assert data["saliency"]["position"] == T - 2 and data["saliency"]["shares"][-1] == 0.0
    assert len(data["projection"]["layers"][0]["coords"]) == T and "states" not in data         # compact
    assert position["value"] == T - 2 and position["maximum"] == T - 1 and "boxed" in sal_html
    for fig, kind in ((strip, "heatmap"), (sal_fig, "bar"), (traj, "scatter")):
        assert any(t["type"] == kind for t in json.loads(fig["plot"])["data"])
    json.loads(sat["plot"])
    colored, trace, unit = client.predict(model=key, text=text, layer=1, unit=3, api_name="/probe_unit")
    assert unit["unit"] == 3 and len(unit["activations"]) == T and "unit 3" in colored
    heat, ranking, units = client.predict(model=key, text=text, sort_by="selection", select_by="line starts",
                                          api_name="/probe_units")
    assert units["positions"] == [0, 8, 15] and units["order"][0] == units["top_up"][0]
    sal_html, sal_fig, sal = client.predict(model=key, text=text, position=4, api_name="/probe_saliency")
    assert sal["position"] == 4 and sal["target"] == "河" and sal["shares"][5:] == [0.0] * (T - 5)
    conn = json.loads(client.predict(model=key, text="月光\n风吹", api_name="/probe_connectivity")["plot"])
    assert len(conn["data"][0]["y"]) == 5
    note, cmp_fig, cmp_data = client.predict(text=text, api_name="/probe_compare")
    assert {d["kind"] for d in cmp_data} <= {"rnn", "gru", "lstm"} and len(cmp_data) >= 1 and "surprisal" in note
    page = client.predict(model=key, text=text, fmt="html", api_name="/probe_export")
    assert Path(page).suffix == ".html" and "Plotly.newPlot" in Path(page).read_text(encoding="utf-8")
    full = json.loads(Path(client.predict(model=key, text=text, fmt="json", api_name="/probe_export")).read_text())
    assert len(full["states"]["h"][0]) == T and full["model"]["key"] == key
    for api, bad, says in (("/probe", dict(layer=1.5), "Layer"), ("/probe", dict(sort_by="loud"), "Sort|choices"),
                           ("/probe", dict(select_by="positions", select_value="999"), "Positions"),
                           ("/probe", dict(select_by="token", select_value="龘"), "does not occur"),
                           ("/probe_saliency", dict(text="月光", position=5), "Position must be from 0 to 1"),
                           ("/probe_saliency", dict(position=-1), "Position .* must be from 0"),
                           ("/probe_connectivity", dict(text="月光" * 100), "at most"),
                           ("/probe_export", dict(fmt="pdf"), "Export|choices"),
                           ("/probe_unit", dict(model="shipped:nope"), "Unknown model")):
        with pytest.raises(AppError, match=says):
            client.predict(**{"model": key, "text": text, **bad}, api_name=api)


def test_train_streams_and_stops_on_request(client):
    """A run streams several updates; cancelling it (the Stop button's cancel) ends it, and its model
    is still registered in the session, ready to generate."""
    before = {m["key"] for m in models(client)}
    kw = dict(data="d2l", **SMALL_TRAIN) if _corpus_here() else \
        dict(data="toy", max_steps=100_000, max_seconds=60, eval_every=1)
    job = client.submit(**kw, api_name="/train")
    wait_outputs(job, 4)
    first = job.outputs()[1][5]
    assert first["state"] == "running"
    assert job.cancel()
    time.sleep(1.0)
    n = len(job.outputs())
    time.sleep(1.0)
    assert len(job.outputs()) == n                           # nothing more arrives
    new = [m for m in models(client) if m["key"] not in before]
    assert len(new) == 1 and new[0]["key"].startswith("session:") and "stopped" in new[0]["label"]
    text = client.predict(model=new[0]["key"], prefix="", length=10, api_name="/generate")[0]
    assert isinstance(text, str)
    # the slot is free again: a toy run finishes at once
    t0 = time.monotonic()
    outs = collect(client.submit(data="toy", kind="rnn", input_kind="one-hot", hidden_size=4, batch_size=1,
                                 num_steps=5, log10_lr=-1, max_steps=15, max_seconds=30, eval_every=1,
                                 api_name="/train"), timeout=60)
    assert time.monotonic() - t0 < 30
    info = outs[-1][5]
    assert info["state"] == "done" and info["step"] == 15 and info["samples"]
    zip_path = outs[-1][6]
    with zipfile.ZipFile(zip_path) as z:
        names = {Path(n).name for n in z.namelist()}
    assert {"checkpoint.json", "model.safetensors"} <= names


def test_a_run_fine_tunes_a_shipped_model_on_another_corpus(client):
    """"Start from / 起点" through the API: a shipped char model fine-tuned on the embedded Tang poems; a model
    that does not exist is a message."""
    key = shipped_key(client)
    outs = collect(client.submit(data="tang", init_from=key, hidden_size=16, batch_size=2, num_steps=4, max_steps=2,
                                 max_seconds=60, eval_every=1, api_name="/train"), timeout=180)
    status, info = outs[-1][0], outs[-1][5]
    assert info["state"] == "done" and "fine-tuned" in info["label"], info
    assert "Started from" in status and "hidden_size 16 →" in status and "tokens keep the source's rows" in status
    with pytest.raises(AppError, match="Unknown model"):
        client.predict(data="tang", init_from="shipped:nope", api_name="/train")


def test_stop_endpoint_ends_a_run_gracefully(client):
    job = client.submit(data="toy", max_steps=1_000_000, max_seconds=60, eval_every=50, api_name="/train")
    wait_outputs(job, 3)
    status = client.predict(api_name="/stop")[0]
    assert "stopped" in status
    outs = collect(job, timeout=30)
    assert outs[-1][5]["state"] == "stopped" and outs[-1][5]["model"]


def test_train_checks_its_inputs(client):
    with pytest.raises(AppError):
        client.predict(max_seconds=100_000, api_name="/train")       # above the cap
    if _corpus_here():
        with pytest.raises(AppError, match="output layer"):
            client.predict(data="d2l", batch_size=512, num_steps=200, api_name="/train")
    with pytest.raises(AppError):
        client.predict(kind="transformer", api_name="/train")
    with pytest.raises(AppError, match="No uploaded corpus|toy"):
        Client(client.src, verbose=False).predict(data="upload", api_name="/train")


def _corpus_here() -> bool:
    from conftest import CORPUS

    return CORPUS.is_file()


def test_starts_without_corpus(tmp_path, checkpoints_dir):
    """No corpus in data/: the app starts, says how to get it, and generation still works."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    url, proc, log, _ = start_app(tmp_path, "app-no-corpus", {"LYRICDEMO_DATA_DIR": str(empty),
                                                              "LYRICDEMO_CHECKPOINTS": str(checkpoints_dir)})
    try:
        c = Client(url, verbose=False)
        with pytest.raises(AppError, match="jaychou_lyrics.txt.zip"):
            c.predict(source="d2l", api_name="/tokenize")
        keys = [m["key"] for m in c.predict(api_name="/models")[2]]
        if keys:
            assert c.predict(model=keys[0], prefix="我", length=5, api_name="/generate")[0].startswith("我")
        info = collect(c.submit(data="toy", max_steps=5, max_seconds=20, eval_every=1, api_name="/train"))[-1][5]
        assert info["state"] == "done"
    finally:
        stop_app(proc, log)


def test_training_has_its_own_concurrency_limit(app_url, client):
    """LYRICDEMO_MAX_TRAINING=2 on the test server: a third run waits in the queue and sees its
    position, generation is not blocked, and a cancelled run frees its slot."""
    from gradio_client.utils import Status

    long_toy = dict(data="toy", max_steps=1_000_000, max_seconds=60, eval_every=50, api_name="/train")
    users = [Client(app_url, verbose=False) for _ in range(3)]
    jobs = [u.submit(**long_toy) for u in users[:2]]
    try:
        for j in jobs:
            wait_outputs(j, 1)
        third = users[2].submit(**long_toy)
        jobs.append(third)
        deadline = time.monotonic() + 20
        while third.status().code != Status.IN_QUEUE:
            assert time.monotonic() < deadline, third.status()
            time.sleep(0.05)
        assert third.status().rank is not None and not third.outputs()
        t0 = time.monotonic()
        assert client.predict(model=shipped_key(client), length=5, api_name="/generate")[0]
        assert time.monotonic() - t0 < 15                                   # generation has its own slots
        jobs[0].cancel()
        wait_outputs(third, 1, timeout=20)                                  # the freed slot goes to the third
    finally:
        for j in jobs:
            j.cancel()
