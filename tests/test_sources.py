"""The corpus in use on every machine: the d2l lyrics in data/ when they are there, else the embedded
Tang poems; a file put into data/ is seen without a restart; the one background download is
checksummed, never leaves half a file, says why it failed, and is off when offline."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from lyricdemo import corpus as corpus_mod
from lyricdemo import sources
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.ui.wording import bilingual

from test_corpus import _Server  # noqa: E402  (tests/ is on sys.path: no package)


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("jaychou_lyrics.txt", text.encode())
    return buf.getvalue()


@pytest.fixture
def empty_data(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setattr(corpus_mod, "DATA_DIR", d)
    monkeypatch.delenv("LYRICDEMO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    sources.reset_download()
    yield d
    sources.reset_download()


def test_without_d2l_the_tang_poems_are_in_use_and_a_file_copied_in_is_seen_at_once(empty_data):
    src = sources.corpus_in_use()
    assert src.key == "tang" and src.path.is_file() and "embedded" in src.origin
    ds = load_dataset(DataConfig())                       # source=None: the corpus in use
    assert ds.raw.name == "tang_poems.txt.zip" and len(ds.vocab) > 1000
    with pytest.raises(LyricdemoError, match="Tang poems are always here") as info:
        sources.builtin_source("d2l")
    assert "未找到" not in str(info.value)                     # plain English; the app adds the Chinese half
    assert bilingual(info.value).endswith("choose them instead. / 未找到周杰伦歌词语料：请把 jaychou_lyrics.txt.zip "
                                          "放入 data/ 目录，或上传任意 UTF-8 文本。")
    (empty_data / corpus_mod.D2L_CORPUS_NAME).write_bytes(_zip("窗外的麻雀\n在电线杆上多嘴\n"))
    src = sources.corpus_in_use()                          # no restart, no cache to clear
    assert src.key == "d2l" and "data/" in src.origin
    assert load_dataset(DataConfig()).raw.text.startswith("窗外的麻雀")
    assert list(sources.builtin_sources()) == ["d2l", "tang"]


def test_a_builtin_corpus_is_found_by_the_checksum_a_checkpoint_records(empty_data):
    tang = sources.embedded_source("tang")
    sha = corpus_mod.sha256_file(tang.path)
    assert sources.source_with_sha256(sha).key == "tang"
    assert sources.source_with_sha256("0" * 64) is None


def _wait(thread):
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive()


def test_the_background_download_switches_the_corpus_when_it_arrives(empty_data):
    payload = _zip("窗外的麻雀\n")
    server = _Server({"/c.zip": payload})
    try:
        t = sources.start_download(urls=(server.url + "/missing.zip", server.url + "/c.zip"),
                                   sha256=hashlib.sha256(payload).hexdigest())
        assert sources.start_download() is None            # once per process
        _wait(t)
    finally:
        server.close()
    d = sources.download_status()
    assert d.state == "done" and d.url.endswith("/c.zip"), d
    assert server.hits == ["/missing.zip", "/c.zip"]
    src = sources.corpus_in_use()
    assert src.key == "d2l" and "downloaded by this server" in src.origin
    assert sorted(p.name for p in empty_data.iterdir()) == [corpus_mod.D2L_CORPUS_NAME]


@pytest.mark.parametrize("body, why", [(b"PK\x03\x04truncated", "checksum mismatch"), (None, "404")])
def test_a_bad_download_is_discarded_with_the_reason(empty_data, body, why):
    good = _zip("窗外的麻雀\n")
    server = _Server({"/c.zip": body} if body else {})
    try:
        t = sources.start_download(urls=(server.url + "/c.zip",), sha256=hashlib.sha256(good).hexdigest())
        _wait(t)
    finally:
        server.close()
    d = sources.download_status()
    assert d.state == "failed" and why in d.message, d
    assert why in d.sentence()
    assert list(empty_data.iterdir()) == []                 # nothing half-written
    assert sources.corpus_in_use().key == "tang"            # the embedded corpus stays in use


@pytest.mark.parametrize("var", ["LYRICDEMO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_means_no_request(empty_data, monkeypatch, var):
    server = _Server({})
    monkeypatch.setenv(var, "1")
    try:
        assert sources.start_download(urls=(server.url + "/c.zip",)) is None
    finally:
        server.close()
    assert server.hits == [] and sources.download_status().state == "off"


def test_nothing_is_fetched_when_the_corpus_is_here(empty_data):
    (empty_data / corpus_mod.D2L_CORPUS_NAME).write_bytes(_zip("窗外\n"))
    server = _Server({})
    try:
        assert sources.start_download(urls=(server.url + "/c.zip",)) is None
    finally:
        server.close()
    assert server.hits == [] and sources.download_status().state == "present"


def test_tab_1_says_why_the_download_failed(empty_data, monkeypatch):
    from lyricdemo.ui import tab_vocab
    from lyricdemo.ui.session import Session

    server = _Server({})
    try:
        _wait(sources.start_download(urls=(server.url + "/c.zip",)))
    finally:
        server.close()
    notice = tab_vocab.on_load(Session(), "d2l", None, "d2l", "char", "token", 2, [], 30, 1)[1]
    assert "Tang poems" in notice and "download of the d2l corpus failed" in notice and "404" in notice


def test_the_header_names_the_corpus_in_one_short_line(empty_data):
    from lyricdemo.ui import header_markdown

    line = header_markdown().split("\n\n")[1]
    assert line.startswith("Corpus in use") and "Tang poems" in line and "built in" in line and len(line) < 120, line
    (empty_data / corpus_mod.D2L_CORPUS_NAME).write_bytes(_zip("窗外\n"))
    line = header_markdown().split("\n\n")[1]
    assert "d2l Jay Chou lyrics" in line and "data/" in line, line
