"""Reliability and security, in-process (no server): every endpoint's input checking under random
values, checkpoints a user brings (refused with the reason, never unpickled), the limits, and
sessions that end (idle reaper, eviction, files deleted).  The same cases through the real server
are in test_app_reliability.py."""

from __future__ import annotations

import gc
import io
import json
import math
import pickle
import re
import zipfile
from pathlib import Path

import gradio as gr
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_LYRIC, make_tiny_checkpoints
from conftest import make_zip as _zip
from lyricdemo.checkpoint import META, WEIGHTS, load_checkpoint, pack_checkpoint, unpack_checkpoint
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.errors import LyricdemoError
from lyricdemo.ui import limits, registry, tab_generate, tab_train, tab_vocab, validate
from lyricdemo.ui.session import Session, reap_idle_sessions

REPO = Path(__file__).resolve().parents[1]
QUICK = dict(data="upload", min_freq=1, hidden_size=16, embed_dim=8, batch_size=2, num_steps=4, eval_every=3,
             max_seconds=30)

# ----------------------------------------------------------------------------- what an API may send
HUGE_INTS = st.sampled_from([2**63, -(2**63), 10**30, 10**400, 10**5000])
ODD_TEXT = st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "龘", "😀👨‍👩‍👧", "x" * 30_000, "NaN", "1e309",
                            "<script>", "../../etc/passwd"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), HUGE_INTS,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), ODD_TEXT)
ANYTHING = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))
FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def clean(call):
    """Run ``call``; a result or a user-facing error is fine, anything else fails the test."""
    try:
        return call()
    except gr.Error as e:
        assert validate.INTERNAL_ERROR not in str(e), str(e)      # a bug, reported politely, is still a bug
        assert str(e).strip(), "an error without a message"
    except LyricdemoError as e:
        assert str(e).strip()
    return None


def drain(gen, limit: int = 10_000):
    out = None
    for i, out in enumerate(gen):
        assert i < limit
    return out


@pytest.fixture
def session() -> Session:
    s = Session()
    s.upload = read_corpus_bytes(TINY_LYRIC.encode(), "tiny.txt")
    yield s
    s.close()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel-ckpts")
    text = root.parent / "rel-lyric.txt"
    text.write_text(TINY_LYRIC, encoding="utf-8")
    return make_tiny_checkpoints(root, text)


@pytest.fixture
def use_shipped(shipped, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_CHECKPOINTS", str(shipped))
    return shipped


# ----------------------------------------------------------------------------- the validators
@FAST
@given(value=ANYTHING)
def test_every_validator_gives_a_clean_value_or_a_clear_error(value):
    checks = [
        lambda: validate.whole("hidden", value, 1, 1024),
        lambda: validate.real("dropout", value, 0.0, 0.8),
        lambda: validate.real("top_p", value, 0.0, 1.0, lo_open=True),
        lambda: validate.choice("kind", value, ("rnn", "gru", "lstm")),
        lambda: validate.flag("clip", value),
        lambda: validate.text("prefix", value, 20_000),
        lambda: validate.text("lookup", value, 200, allow_empty=False),
        lambda: validate.subset("reserved", value, ("<pad>", "<bos>", "<eos>")),
        lambda: validate.upload_path("upload", value),
    ]
    for check in checks:
        try:
            out = check()
        except LyricdemoError as e:
            msg = str(e)
            assert msg and len(msg) < 600, msg                   # never echoes a 30,000-character paste
            msg.encode("utf-8")                                  # and can always be sent as JSON
            continue
        if isinstance(out, float):
            assert math.isfinite(out)
        if isinstance(out, str):
            out.encode("utf-8")


# ----------------------------------------------------------------------------- each endpoint's checking
@FAST
@given(clean_=ANYTHING, tokenizer=st.one_of(st.sampled_from(["char", "word"]), ANYTHING),
       min_freq=st.one_of(st.integers(1, 5), ANYTHING), reserved=ANYTHING, top_n=st.one_of(st.integers(1, 100), ANYTHING),
       first_line=st.one_of(st.integers(1, 30), ANYTHING))
def test_tokenize_and_lookup_never_fail_uncleanly(session, clean_, tokenizer, min_freq, reserved, top_n, first_line):
    clean(lambda: tab_vocab.tokenize(session, "upload", None, clean_, tokenizer, "token", min_freq, reserved, top_n,
                                     first_line))
    clean(lambda: tab_vocab.lookup(session, tokenizer))
    clean(lambda: tab_vocab.tokenize(session, tokenizer, clean_))               # any source, any upload


@FAST
@given(knob=st.sampled_from(tab_train.KNOBS), value=ANYTHING, x_axis=ANYTHING)
def test_train_checks_every_knob(session, knob, value, x_axis):
    """/train's input checking (build_configs, the whole of it) with one knob set to anything."""
    v = tab_train.preset_values("classroom") | {"data": "upload", "min_freq": 1} | {knob: value}
    clean(lambda: tab_train.build_configs(session, **v))
    clean(lambda: tab_train.stop(session, x_axis))


@FAST
@given(model=st.one_of(st.sampled_from(["shipped:tiny-gru", "shipped:tiny-lstm", "session:1"]), ANYTHING),
       prefix=st.one_of(st.sampled_from(["月光", "", "龘\n", "\x00\x1b[31m"]), ANYTHING),
       length=st.one_of(st.integers(1, 12), ANYTHING), strategy=st.one_of(st.sampled_from(["greedy", "sample", "beam"]),
                                                                           ANYTHING),
       temperature=st.one_of(st.floats(0, 3), ANYTHING), top_k=st.one_of(st.integers(0, 50), ANYTHING),
       top_p=st.one_of(st.floats(0.05, 1), ANYTHING), rep=st.one_of(st.floats(1, 3), ANYTHING),
       beam=st.one_of(st.integers(1, 4), ANYTHING), seed=st.one_of(st.integers(0, 9), ANYTHING),
       unknown=st.one_of(st.sampled_from(["unk", "strict"]), ANYTHING), step=ANYTHING)
def test_generate_and_step_view_never_fail_uncleanly(use_shipped, monkeypatch, model, prefix, length, strategy,
                                                      temperature, top_k, top_p, rep, beam, seed, unknown, step):
    monkeypatch.setenv("LYRICDEMO_MAX_LENGTH", "12")               # keeps the valid cases quick
    s = Session()
    clean(lambda: drain(tab_generate.generate(s, model, prefix, length, strategy, temperature, top_k, top_p, rep,
                                              beam, seed, unknown)))
    clean(lambda: tab_generate.step_view(s, step))
    clean(lambda: tab_generate.model_info(s, model))


@FAST
@given(payload=st.one_of(ANYTHING, st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
def test_checkpoint_upload_never_fails_uncleanly(tmp_path_factory, payload):
    s = Session()
    if isinstance(payload, bytes):
        f = tmp_path_factory.mktemp("up") / "x.zip"
        f.write_bytes(payload)
        payload = str(f)
    clean(lambda: tab_generate.load_upload(s, payload))
    assert not s.models
    s.close()


def test_an_unexpected_exception_is_reported_in_plain_words(session, monkeypatch, caplog):
    def broken(*a, **k):
        raise KeyError("oops")
    monkeypatch.setattr(tab_vocab.resources, "dataset", broken)
    with pytest.raises(gr.Error) as e:
        tab_vocab.tokenize(session, "upload")
    assert validate.INTERNAL_ERROR in str(e.value) and "KeyError" in str(e.value) and "Traceback" not in str(e.value)
    assert "Traceback" in caplog.text or "KeyError" in caplog.text                 # the log keeps the details


# ----------------------------------------------------------------------------- checkpoints a user brings
@pytest.fixture(scope="module")
def trained_zip(tmp_path_factory) -> bytes:
    """A real checkpoint zip, as tab 2's download button gives it."""
    s = Session()
    s.upload = read_corpus_bytes(TINY_LYRIC.encode(), "tiny.txt")
    out = drain(tab_train.train(s, **{**QUICK, "max_steps": 3}))
    data = Path(out[6]).read_bytes()
    s.close()
    return data


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {Path(n).name: z.read(n) for n in z.namelist()}


def _upload(tmp_path, data: bytes, name: str = "model.zip"):
    f = tmp_path / name
    f.write_bytes(data)
    s = Session()
    try:
        return tab_generate.load_upload(s, {"path": str(f), "orig_name": name}), s
    except gr.Error:
        assert not s.models and not any(s.workdir().iterdir())           # nothing half-loaded stays behind
        s.close()
        raise


class Boom:
    """Unpickling this would create a file: the proof that nothing was unpickled."""

    marker: Path | None = None

    def __reduce__(self):
        return (Path.touch, (Boom.marker,))


def test_a_downloaded_checkpoint_loads_back_and_generates(tmp_path, trained_zip):
    (pick, _, note), s = _upload(tmp_path, trained_zip, "lyricdemo-session-1.zip")
    key = pick["value"]
    assert key in s.models and "uploaded" in s.models[key].label and "✓ Loaded" in note
    text = drain(tab_generate.generate(s, key, "月光", 8, "greedy"))[0]
    assert text.startswith("月光")
    assert load_checkpoint(unpack_checkpoint(Path(s.models[key].zip_path).read_bytes(), tmp_path)).vocab == \
        s.models[key].checkpoint.vocab
    s.close()


def _edit_meta(data: bytes, fn) -> bytes:
    files = _members(data)
    meta = json.loads(files[META])
    fn(meta)
    files[META] = json.dumps(meta).encode()
    return _zip(files)


def test_bad_checkpoints_are_refused_with_the_reason(tmp_path, trained_zip):
    files = _members(trained_zip)
    Boom.marker = tmp_path / "pwned"
    torch_save = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, torch_save)
    bad = {
        "truncated zip": (trained_zip[: len(trained_zip) // 2], "Not a checkpoint archive|damaged|truncated"),
        "truncated safetensors": (_zip({META: files[META], WEIGHTS: files[WEIGHTS][:-64]}), "checksum"),
        "JSON that does not match the weights": (_edit_meta(trained_zip, lambda m: m["model"].update(hidden_size=32)),
                                                 "shape"),
        "vocab of the wrong size": (_edit_meta(trained_zip, lambda m: m["vocab"]["idx_to_token"].append("新")),
                                    "vocabulary has"),
        "a pickle renamed .zip": (pickle.dumps({"w": Boom()}), "pickle"),
        "torch.save renamed .zip": (torch_save.getvalue(), "pickle|never unpickles"),
        "a pickle as the weights": (_zip({META: files[META], WEIGHTS: pickle.dumps({"w": Boom()})}),
                                    "checksum|pickle"),
        "a pickle as the weights, no checksum": (
            _edit_meta(_zip({META: files[META], WEIGHTS: pickle.dumps({"w": Boom()})}),
                       lambda m: m["weights"].update(sha256=None)), "pickle"),
        "no weights": (_zip({META: files[META]}), "must hold"),
        "two checkpoints": (_zip({f"a/{META}": files[META], f"a/{WEIGHTS}": files[WEIGHTS],
                                  f"b/{META}": files[META]}), "twice"),
        "a zip of lyrics": (_zip({"lyrics.txt": TINY_LYRIC.encode()}), "must hold"),
        "empty file": (b"", "Not a checkpoint archive"),
        "garbled JSON": (_zip({META: b"{not json", WEIGHTS: files[WEIGHTS]}), "not valid JSON"),
        "JSON weights record not an object": (_edit_meta(trained_zip, lambda m: m.update(weights="x")),
                                              "lacks or garbles"),
    }
    for what, (data, words) in bad.items():
        with pytest.raises(gr.Error, match=words) as e:
            _upload(tmp_path, data)
        assert "was not loaded" in str(e.value), what
    assert not Boom.marker.exists()                                       # nothing was ever unpickled


def test_a_checkpoint_describing_a_huge_model_is_refused_before_it_is_built(tmp_path, trained_zip):
    """11 GB of float32 weights described beside a few KB of real ones: refused without allocating."""
    def huge(m):
        m["model"].update(hidden_size=4096, num_layers=8, bidirectional=True, embed_dim=4096)
    data = _edit_meta(trained_zip, huge)
    data = _edit_meta(data, lambda m: m["weights"].update(sha256=None))
    before = _rss_mb()
    with pytest.raises(gr.Error, match="do not match the model config|shape"):
        _upload(tmp_path, data)
    assert _rss_mb() - before < 200


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_zip_bombs_and_crowded_zips(tmp_path, trained_zip, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_UPLOAD_MB", "1")                   # members may unpack to 2 MB
    files = _members(trained_zip)
    bomb = _zip({META: files[META], WEIGHTS: b"\0" * (50 * 2**20)}, zipfile.ZIP_DEFLATED)   # 50 MB in ~50 KB
    assert len(bomb) < 2**20
    with pytest.raises(gr.Error, match="too large|more than"):
        _upload(tmp_path, bomb)
    crowd = _zip({**{f"junk/{i}.txt": b"x" for i in range(5000)}, META: files[META], WEIGHTS: files[WEIGHTS]})
    (pick, _, _), s = _upload(tmp_path, crowd)                            # junk is ignored, never written
    assert pick["value"] in s.models
    folder = s.models[pick["value"]].folder
    assert sorted(p.name for p in folder.iterdir()) == sorted([META, WEIGHTS])
    s.close()
    (tmp_path / "big.zip").write_bytes(b"PK\x03\x04" + b"\0" * (2 * 2**20))
    with pytest.raises(gr.Error, match="limit is 1 MB"):
        tab_generate.load_upload(Session(), str(tmp_path / "big.zip"))


# ----------------------------------------------------------------------------- uploads of corpora (tab 1)
def test_bad_corpus_uploads_get_a_clear_message(session, tmp_path):
    gbk = "月光洒在小河上\n风吹过我的窗\n".encode("gb18030")
    cases = {
        "empty.txt": (b"", "empty"),
        "binary.txt": (bytes(range(256)) * 4, "NUL bytes|binary"),
        "gbk.txt": (gbk * 3, "not UTF-8.*GBK"),
        "big5.txt": ("月光灑在小河上\n風吹過我的窗\n".encode("big5") * 3, "not UTF-8.*Big5"),
        "pickle.txt": (pickle.dumps([1, 2, 3]), "pickle"),
        "bomb.zip": (_zip({"a.txt": b"a" * (30 * 2**20)}, zipfile.ZIP_DEFLATED), "unpacks to"),
        "many.zip": (_zip({f"{i}.txt": b"x" for i in range(500)}), "holds 500 files"),
    }
    for name, (data, words) in cases.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(gr.Error, match=words):
            tab_vocab.tokenize(session, "upload", {"path": str(f), "orig_name": name})
    for name in ("with space 歌词.txt", "长" * 60 + ".txt", "no-extension", "..%2F..%2Fx.txt"):
        f = tmp_path / name
        f.write_text(TINY_LYRIC, encoding="utf-8")
        stats = tab_vocab.tokenize(session, "upload", str(f), "none", "char", "token", 1)[8]
        assert stats["corpus"] == name                                     # the content decides, not the name


# ----------------------------------------------------------------------------- training that diverges
def test_lr_100_without_clipping_diverges_with_an_explanation_and_the_app_goes_on(session):
    outs = drain(tab_train.train(session, **{**QUICK, "kind": "rnn", "input_kind": "one-hot", "hidden_size": 256,
                                            "optimizer": "sgd", "log10_lr": 2.0, "clip": False, "max_steps": 40,
                                            "eval_every": 5}))
    info = outs[5]
    assert info["state"] == "failed", info
    assert "diverged" in outs[0] and "clipping is off" in outs[0] and "learning rate (100)" in outs[0]
    assert "训练发散" in outs[0] and "训练发散" in info["outcome"]["message"]      # the app words it in both languages
    key = info["model"]                                                    # the last good weights are kept
    assert drain(tab_generate.generate(session, key, "月光", 5, "greedy"))[0].startswith("月光")
    assert drain(tab_train.train(session, **{**QUICK, "max_steps": 2}))[5]["state"] == "done"
    with pytest.raises(gr.Error, match="Learning rate"):
        drain(tab_train.train(session, **{**QUICK, "log10_lr": 3.0}))       # lr 1000: beyond the slider


# ----------------------------------------------------------------------------- limits
def test_every_limit_is_read_in_one_place_and_documented(monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for lim in limits.LIMITS:
        assert f"`{lim.env}`" in readme, f"{lim.env} is not in the README's Limits table"
        monkeypatch.setenv(lim.env, "lots")
        with pytest.raises(LyricdemoError, match=lim.env):
            limits.check_all()
        monkeypatch.setenv(lim.env, str(lim.hi + 1))
        with pytest.raises(LyricdemoError, match=lim.env):
            limits.value(lim.env)
        monkeypatch.setenv(lim.env, str(lim.lo))
        assert limits.value(lim.env) == lim.lo
        monkeypatch.delenv(lim.env)
        assert limits.value(lim.env) == lim.default
    src = "".join(p.read_text(encoding="utf-8") for p in (REPO / "lyricdemo" / "ui").glob("*.py")
                  if p.name != "limits.py")
    for lim in limits.LIMITS:                      # nobody else in the app reads them from the environment
        assert not re.search(r"(environ\b.{0,8}|getenv\(|env_int\()\s*[\"']" + lim.env, src), lim.env


def test_limits_reach_the_app(monkeypatch):
    from lyricdemo.ui import launch_kwargs, queue_kwargs

    monkeypatch.setenv("LYRICDEMO_MAX_UPLOAD_MB", "3")
    monkeypatch.setenv("LYRICDEMO_QUEUE_SIZE", "17")
    monkeypatch.setenv("LYRICDEMO_MAX_SESSIONS", "33")
    assert launch_kwargs()["max_file_size"] == 3 * 2**20 and queue_kwargs()["max_size"] == 17
    assert launch_kwargs()["state_session_capacity"] == 33


# ----------------------------------------------------------------------------- sessions end, files go
def test_idle_sessions_are_closed_with_a_note_and_their_files_deleted(session, monkeypatch):
    drain(tab_train.train(session, **{**QUICK, "max_steps": 2}))
    zip_path = Path(session.models["session:1"].zip_path)
    work = session.workdir()
    assert zip_path.is_file()
    busy = Session()
    busy.upload = session.upload
    gen = tab_train.train(busy, **{**QUICK, "max_steps": 0, "max_seconds": 60, "eval_every": 1000})
    next(gen)
    fresh = Session()
    fresh.upload = session.upload
    fresh.touch()
    monkeypatch.setenv("LYRICDEMO_SESSION_IDLE_MINUTES", "1")
    import time

    session.last_used = busy.last_used = time.monotonic() - 3600
    reap_idle_sessions()
    assert not session.models and not work.exists() and session.upload is None
    assert busy.runs and busy.runs[-1].running                             # a training keeps its session
    assert fresh.upload is not None                                        # a recent one stays
    with pytest.raises(LyricdemoError, match="idle for more than 1 minute"):
        registry.get(session, "session:1")
    gen.close()
    busy.close()
    fresh.close()


def test_sessions_register_themselves_and_clean_up_when_collected():
    import copy

    from lyricdemo.ui import session as session_mod

    s = copy.deepcopy(Session())                     # what Gradio does once per browser tab / client
    assert s in session_mod._LIVE and session_mod._REAPER is not None and session_mod._REAPER.is_alive()
    work = s.workdir()
    (work / "x").write_text("1")
    del s
    gc.collect()
    assert not work.exists()


def test_evicting_an_uploaded_model_deletes_its_files(tmp_path, trained_zip, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_SESSION_MODELS", "1")
    f = tmp_path / "m.zip"
    f.write_bytes(trained_zip)
    s = Session()
    first = tab_generate.load_upload(s, str(f))[0]["value"]
    home = Path(s.models[first].zip_path).parent
    _, _, note = tab_generate.load_upload(s, str(f))
    assert list(s.models) == ["session:2"] and not home.exists() and "Removed" in note
    s.close()


def test_the_reaper_forgets_gradios_closed_sessions():
    """Gradio keeps a closed page's session (a copy of every component's config) until 10,000 exist;
    the reaper forgets it once it is closed and idle as long as the limit, running its State's
    delete callback -- and keeps open sessions and recently used closed ones."""
    import datetime

    from gradio.state_holder import StateHolder

    from lyricdemo.ui.session import forget_closed_sessions

    deleted = []
    with gr.Blocks() as demo:
        st = gr.State("x", delete_callback=deleted.append)
        gr.Textbox()
    holder = StateHolder()
    holder.set_blocks(demo)
    for sid in ("closed-old", "closed-new", "open-old"):
        holder[sid][st._id] = f"value of {sid}"
    holder.session_data["closed-old"].is_closed = holder.session_data["closed-new"].is_closed = True
    long_ago = datetime.datetime.now() - datetime.timedelta(minutes=61)
    holder.time_last_used["closed-old"] = holder.time_last_used["open-old"] = long_ago
    assert forget_closed_sessions(holder, idle_seconds=3600) == 1
    assert set(holder.session_data) == {"closed-new", "open-old"}
    assert "closed-old" not in holder.time_last_used
    assert deleted == ["value of closed-old"]
    assert forget_closed_sessions(holder, idle_seconds=3600) == 0           # nothing more to forget
