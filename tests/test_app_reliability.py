"""Bad input through the real server: gradio_client (and raw HTTP, for what a client cannot send)
against the shared ``python app.py`` of conftest.  Every case ends in a clear message naming
what is wrong -- never a blank "Error", never a 500 -- and the server goes on working.

The server runs with LYRICDEMO_MAX_TRAINING=2 and the default 20 MB upload limit."""

from __future__ import annotations

import io
import json
import pickle
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from conftest import REPO, TINY_LYRIC, finish_job
from conftest import make_zip as _zip
from lyricdemo.checkpoint import META, WEIGHTS, load_checkpoint, unpack_checkpoint

pytestmark = pytest.mark.slow

TOY_QUICK = dict(data="toy", kind="rnn", input_kind="one-hot", hidden_size=4, batch_size=1, num_steps=5,
                 log10_lr=-1, max_steps=5, max_seconds=30, eval_every=1)


def new_client(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False)      # its own session


finish = finish_job                   # wait for a job, return its outputs (conftest)


def raw_call(url: str, name: str, data: list) -> tuple[str, object]:
    """POST /gradio_api/call/<name> with a JSON body gradio_client refuses to build (NaN, lone
    surrogates, wrong shapes); returns ("complete", output) or ("error", message)."""
    body = json.dumps({"data": data}, allow_nan=True).encode()
    r = httpx.post(f"{url}gradio_api/call/{name}", content=body, headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    event, payload = None, None
    for line in httpx.get(f"{url}gradio_api/call/{name}/{r.json()['event_id']}", timeout=60).text.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            payload = json.loads(line[6:])
    if event == "error":
        return "error", payload.get("error") if isinstance(payload, dict) else payload
    return event, payload


def shipped_key(client) -> str:
    keys = [m["key"] for m in client.predict(api_name="/models")[2] if m["key"].startswith("shipped:")]
    if not keys:
        pytest.skip("no shipped checkpoint")
    return keys[0]


# ----------------------------------------------------------------------------- uploads
def test_bad_uploads_get_a_clear_message_and_odd_names_work(app_url, tmp_path):
    c = new_client(app_url)
    bad = {
        "empty.txt": (b"", "is empty"),
        "binary.txt": (bytes(range(256)) * 8, "NUL bytes|binary"),
        "gbk.txt": ("月光洒在小河上\n风吹过我的窗\n".encode("gb18030") * 3, "not UTF-8.*GBK.*iconv"),
        "big5.txt": ("月光灑在小河上\n風吹過我的窗\n".encode("big5") * 3, "not UTF-8.*Big5"),
        "photo.txt": (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "PNG image"),
        "model.txt": (pickle.dumps({"a": 1}), "pickle"),
        "bomb.zip": (_zip({"a.txt": b"\0" * (60 * 2**20)}, zipfile.ZIP_DEFLATED), "unpacks to 60.0 MB"),
        "many.zip": (_zip({f"m{i}.txt": b"x" for i in range(2000)}), "holds 2000 files"),
        "two.zip": (_zip({"a.txt": TINY_LYRIC.encode(), "b.txt": TINY_LYRIC.encode()}), "exactly one"),
    }
    for name, (data, words) in bad.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(AppError, match=words):
            c.predict(source="upload", upload=handle_file(str(f)), api_name="/tokenize")
    with pytest.raises(AppError, match="No uploaded corpus"):                  # nothing bad was kept
        c.predict(data="upload", api_name="/train")
    for name in ("with space 歌词.txt", "长" * 80 + ".txt", "no-extension", "UPPER.TXT", "a..b.txt"):
        f = tmp_path / name
        f.write_text(TINY_LYRIC, encoding="utf-8")
        stats = c.predict(source="upload", upload=handle_file(str(f)), min_freq=1, api_name="/tokenize")[8]
        shown = stats["corpus"]                         # Gradio shortens a very long name, keeping its end
        assert (shown == name or (shown.startswith("长") and shown.endswith(".txt"))) and stats["vocab_size"] > 10
    # a name that climbs out of the folder: Gradio keeps only its last part
    r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("../../../tmp/evil.txt", TINY_LYRIC.encode())})
    path = r.json()[0]
    assert r.status_code == 200 and Path(path).name == "evil.txt" and "/tmp/evil.txt" != path
    state, out = raw_call(app_url, "tokenize", ["upload", {"path": path, "meta": {"_type": "gradio.FileData"}},
                                                "none", "char", "token", 1, [], 10, 1, "chars"])
    assert state == "complete" and out[8]["corpus"] == "evil.txt"
    with pytest.raises(AppError, match="must be a file.*handle_file"):              # a path without handle_file
        c.predict(source="upload", upload="lyrics.txt", api_name="/tokenize")


def test_a_100_mb_upload_is_refused_before_it_is_read(app_url, tmp_path):
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(100 * 2**20)                                            # sparse: costs no disk
    with pytest.raises(ValueError, match="exceeds the maximum file size of 20971520"):
        new_client(app_url).predict(source="upload", upload=handle_file(str(huge)), api_name="/tokenize")
    t0 = time.monotonic()
    with open(huge, "rb") as f:                                            # a client that ignores the limit
        r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("huge.txt", f)}, timeout=60)
    assert r.status_code == 413 and "maximum allowed size of 20971520" in r.text
    assert time.monotonic() - t0 < 20


def test_files_the_server_did_not_receive_are_never_read(app_url):
    secret = str(REPO / "requirements.txt")
    state, message = raw_call(app_url, "tokenize", ["upload", {"path": secret, "meta": {"_type": "gradio.FileData"}},
                                                    "none", "char", "token", 1, [], 10, 1, "chars"])
    assert state == "error"                                                # Gradio: "not uploaded by a user"
    assert httpx.get(f"{app_url}gradio_api/file={secret}").status_code == 403


# ----------------------------------------------------------------------------- numbers and text from the API
def test_numbers_from_the_api_are_checked_by_name(app_url):
    c = new_client(app_url)
    key = shipped_key(c)
    for length in (0, -1, 10**30, 2.5, "x", None, True, [5]):
        with pytest.raises(AppError, match="Length"):
            c.predict(model=key, length=length, api_name="/generate")
    for bad in ("NaN", "Infinity"):                                       # JSON gradio_client will not write
        state, msg = raw_call(app_url, "generate", [key, "分开", float(bad.replace("Infinity", "inf")), "sample",
                                                    1.0, 0, 1.0, 1.0, 4, 0, "unk", False, False])
        assert state == "error" and "Length" in (msg or ""), (state, msg)
    knobs = [("hidden_size", 0, "Hidden size"), ("hidden_size", 10**6, "Hidden size"), ("num_layers", 9, "Layers"),
             ("num_layers", None, "Layers"), ("batch_size", -1, "Batch size"), ("batch_size", 3.5, "Batch size"),
             ("num_steps", "many", "Time steps"), ("max_steps", 10**30, "Max optimizer steps"),
             ("max_seconds", 0, "Time budget"), ("max_seconds", 10**9, "Time budget"), ("log10_lr", 3, "Learning rate"),
             ("log10_lr", "fast", "Learning rate"), ("embed_dim", [], "Embedding size"), ("dropout", 0.95, "Dropout"),
             ("seed", -1, "Seed"), ("clip_theta", 0, "Clipping threshold"),
             ("weight_decay", -1, "Weight decay"), ("weight_decay", "x", "Weight decay"),
             ("soft_targets", 0.95, "Soft targets"), ("soft_targets", -0.1, "Soft targets")]
    for knob, v, name in knobs:
        with pytest.raises(AppError, match=name):
            c.predict(data="toy", **{knob: v}, api_name="/train")
    state, msg = raw_call(app_url, "train", ["toy", "char", "d2l", "token", 2, 0, "chars", "gru", "torch", "embedding", 128,
                                             256, 1, 0.3, 0.1, False, "random", "adam", float("nan"), 0.0, 0.0, True, 1.0,
                                             32, 35, 5, 45, 25, True, 0, "", "step"])
    assert state == "error" and "Learning rate" in (msg or ""), (state, msg)
    for v in ("x", None, 0):
        with pytest.raises(AppError, match="Minimum frequency"):
            c.predict(min_freq=v, api_name="/tokenize")
    with pytest.raises(AppError, match="Generate a text first|Step"):
        c.predict(None, api_name="/step_view")
    for api, kw, name in [("/probe", {"layer": "x"}, "Layer"), ("/probe", {"unit": "abc"}, "Unit"),
                          ("/probe", {"unit": 1.5}, "Unit"), ("/probe_unit", {"unit": None}, "Unit"),
                          ("/probe_units", {"layer": -1}, "Layer"), ("/probe_saliency", {"position": "x"}, "Position"),
                          ("/probe_export", {"fmt": 3}, "Export as")]:
        with pytest.raises(AppError, match=name):
            c.predict(model=key, text="分开", **kw, api_name=api)


def test_odd_prefixes(app_url):
    c = new_client(app_url)
    key = shipped_key(c)
    for prefix in ("龘", "😀👨‍👩‍👧🎤", "\x00\x07\x1b[31m\x7f\u200b\u202e", "<script>alert(1)</script>", "\r\n\r"):
        text, report, *_, info = c.predict(model=key, prefix=prefix, length=10, api_name="/generate")
        assert text.startswith(prefix) and info["tokens"] == 10
        assert "<script>" not in report                                    # shown escaped
    info = c.predict(model=key, prefix="😀", length=5, api_name="/generate")[-1]
    assert info["unknown"] == [{"token": "😀", "start": 0, "end": 1}] and "<unk>" in info["notes"][0]
    with pytest.raises(AppError, match="too long: 10,000 tokens"):
        c.predict(model=key, prefix="月" * 10_000, length=5, api_name="/generate")
    with pytest.raises(AppError, match="too long: 20,001 characters"):
        c.predict(model=key, prefix="月" * 20_001, length=5, api_name="/generate")
    state, msg = raw_call(app_url, "generate", [key, "分\ud800开", 5, "sample", 1.0, 0, 1.0, 1.0, 4, 0, "unk", False, False])
    assert state == "error" and "not valid Unicode" in msg, msg
    state, msg = raw_call(app_url, "lookup", ["\udfff"])
    assert state == "error" and "not valid Unicode" in msg, msg


# ----------------------------------------------------------------------------- checkpoints a user brings
class Boom:
    """Unpickling this would create a file: the proof that nothing was unpickled."""

    marker: Path | None = None

    def __reduce__(self):
        return (Path.touch, (Boom.marker,))


def test_a_downloaded_checkpoint_comes_back_and_bad_ones_are_refused(app_url, tmp_path):
    a = new_client(app_url)
    outs = finish(a.submit(**TOY_QUICK, api_name="/train"))
    download = Path(outs[-1][6])
    assert outs[-1][5]["state"] == "done" and download.suffix == ".zip"
    b = new_client(app_url)                                              # another user, another session
    gen_pick, inside_pick, note = b.predict(handle_file(str(download)), api_name="/load_checkpoint")
    key = gen_pick["value"] if isinstance(gen_pick, dict) else gen_pick
    assert key.startswith("session:") and "Loaded" in note
    assert key in {m["key"] for m in b.predict(api_name="/models")[2]}
    assert isinstance(b.predict(model=key, prefix="", length=5, api_name="/generate")[0], str)

    with zipfile.ZipFile(download) as z:
        files = {Path(n).name: z.read(n) for n in z.namelist()}
    meta = json.loads(files[META])
    Boom.marker = tmp_path / "pwned"

    def edited(fn):
        m = json.loads(files[META])
        fn(m)
        return _zip({META: json.dumps(m).encode(), WEIGHTS: files[WEIGHTS]})

    bad = {
        "truncated.zip": (download.read_bytes()[:-200], "Not a checkpoint archive|damaged|truncated"),
        "short-weights.zip": (_zip({META: files[META], WEIGHTS: files[WEIGHTS][:-32]}), "checksum"),
        "mismatch.zip": (edited(lambda m: m["model"].update(hidden_size=meta["model"]["hidden_size"] + 8)),
                         "shape|do not match"),
        "vocab.zip": (edited(lambda m: m["vocab"]["idx_to_token"].append("新")), "vocabulary has"),
        "pickle.zip": (pickle.dumps({"w": Boom()}), "pickle"),
        "pickle-weights.zip": (_zip({META: json.dumps({**meta, "weights": {**meta["weights"], "sha256": None}})
                                     .encode(), WEIGHTS: pickle.dumps({"w": Boom()})}), "pickle"),
        "lyrics.zip": (_zip({"lyrics.txt": TINY_LYRIC.encode()}), "must hold"),
    }
    for name, (data, words) in bad.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(AppError, match=words) as e:
            b.predict(handle_file(str(f)), api_name="/load_checkpoint")
        assert "was not loaded" in str(e.value), name
    assert not Boom.marker.exists()
    assert len([m for m in b.predict(api_name="/models")[2] if m["key"].startswith("session:")]) == 1


# ----------------------------------------------------------------------------- nothing lost
def test_cancel_frees_the_slot_and_the_model_stays_and_downloads(app_url, tmp_path):
    """job.cancel() is what a closed tab does to its run: the run ends, its training slot is free at
    once, its model stays in the session, and /stop hands over a checkpoint zip that loads back."""
    c = new_client(app_url)
    job = c.submit(data="toy", max_steps=1_000_000, max_seconds=60, eval_every=50, api_name="/train")
    t0 = time.monotonic()
    while len(job.outputs()) < 3:
        assert time.monotonic() - t0 < 60
        time.sleep(0.05)
    assert job.cancel()
    status, _, info, download, *_ = c.predict(api_name="/stop")
    assert info["state"] == "stopped" and info["model"] and "stopped" in status
    ck = load_checkpoint(unpack_checkpoint(Path(download).read_bytes(), tmp_path))
    assert ck.metrics["steps"] == info["step"] > 0
    t1 = time.monotonic()
    outs = finish(c.submit(**TOY_QUICK, api_name="/train"), timeout=30)     # both slots free again at once
    assert outs[-1][5]["state"] == "done" and time.monotonic() - t1 < 15
    keys = [m["key"] for m in c.predict(api_name="/models")[2] if m["key"].startswith("session:")]
    assert keys == [info["model"], outs[-1][5]["model"]]
    assert c.predict(model=info["model"], prefix="", length=5, api_name="/generate")[0] is not None


def test_training_that_diverges_stops_with_an_explanation_and_the_app_goes_on(app_url):
    c = new_client(app_url)
    outs = finish(c.submit(data="toy", kind="rnn", input_kind="one-hot", hidden_size=256, optimizer="sgd",
                           log10_lr=2.0, clip=False, max_steps=40, max_seconds=30, eval_every=5, api_name="/train"))
    status, info = outs[-1][0], outs[-1][5]
    assert info["state"] == "failed" and "diverged" in status and "clipping is off" in status
    assert "learning rate (100)" in info["outcome"]["message"]
    assert finish(c.submit(**TOY_QUICK, api_name="/train"))[-1][5]["state"] == "done"
    assert c.predict(model=shipped_key(c), prefix="月", length=5, api_name="/generate")[0].startswith("月")
