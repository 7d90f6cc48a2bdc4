"""Reading, checking, cleaning, splitting and downloading a corpus."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from lyricdemo.corpus import (clean_d2l, clean_lines, clean_lyrics, clean_none, decode_text, fetch_corpus,
                              guess_encoding, read_corpus_bytes, read_corpus_file, split_lines, text_lines)
from lyricdemo.errors import LyricdemoError


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------ reading
def test_txt_and_zip_read_the_same_text(tmp_path, small_text):
    (tmp_path / "a.txt").write_text(small_text, encoding="utf-8")
    (tmp_path / "a.zip").write_bytes(_zip({"lyrics.txt": small_text.encode()}))
    a, b = read_corpus_file(tmp_path / "a.txt"), read_corpus_file(tmp_path / "a.zip")
    assert a.text == b.text == small_text
    assert a.lines() == small_text.splitlines()


def test_bom_and_crlf_are_normalised():
    assert decode_text("\ufeff一\r\n二\r三\n".encode()) == "一\n二\n三\n"


def test_real_corpus_zip_reads(corpus_path):
    raw = read_corpus_file(corpus_path)
    assert raw.sha256 == "182180582bd7811aa93f4eb954f9a8d7990177044c374b16bd9304132d2dc39c"
    assert raw.lines()[0] == "想要有直升机"


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n\n  ", "only whitespace"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
    (b"abc\x00\x00\x01def", "NUL"),
    (bytes(range(1, 9)) * 50, "control characters"),
    (b"\x80\x04\x95" + bytes(20), "pickle"),
    ("月光".encode("utf-16"), "UTF-16"),
])
def test_bad_bytes_are_refused_with_a_reason(data, words):
    with pytest.raises(LyricdemoError, match=words):
        read_corpus_bytes(data, "x.txt")


def test_gbk_is_refused_naming_offset_and_encoding():
    data = "abc月光洒在小河上，风吹过我的窗。我想你在远方。".encode("gbk")
    with pytest.raises(LyricdemoError) as e:
        read_corpus_bytes(data, "gbk.txt")
    msg = str(e.value)
    assert "offset 3" in msg and "GBK" in msg and "iconv" in msg


def test_big5_is_recognised():
    data = "我們說過的話，你還記得嗎？這是我們的愛。".encode("big5")
    assert guess_encoding(data) == "big5"
    with pytest.raises(LyricdemoError, match="Big5"):
        read_corpus_bytes(data, "big5.txt")


def test_size_limit_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # a sparse 100 MB file: refused from its size alone
        f.seek(100 * 1024 * 1024 - 1)
        f.write(b"\n")
    with pytest.raises(LyricdemoError, match="limit is 20.0 MB"):
        read_corpus_file(big)
    with pytest.raises(LyricdemoError, match="limit"):
        read_corpus_bytes("一二三四五".encode(), "x.txt", max_bytes=10)


@pytest.mark.parametrize("members, words", [
    ({}, "holds no file"),
    ({"a.txt": b"one", "b.txt": b"two"}, "holds 2 files"),
])
def test_zip_must_hold_exactly_one_text_file(members, words):
    with pytest.raises(LyricdemoError, match=words):
        read_corpus_bytes(_zip(members), "x.zip")


def test_zip_ignores_macos_metadata():
    raw = read_corpus_bytes(_zip({"__MACOSX/._a.txt": b"\x00\x05", "a.txt": "歌词".encode()}), "x.zip")
    assert raw.text == "歌词"


def test_zip_bomb_is_refused_without_unpacking():
    bomb = _zip({"a.txt": b"a" * (25 * 1024 * 1024)})  # 25 MB of 'a' packs into ~25 KB
    assert len(bomb) < 100_000
    with pytest.raises(LyricdemoError, match="unpacks to"):
        read_corpus_bytes(bomb, "bomb.zip")


def test_broken_zip_and_missing_file(tmp_path):
    with pytest.raises(LyricdemoError, match="not a readable zip"):
        read_corpus_bytes(b"PK\x03\x04garbage", "x.zip")
    with pytest.raises(LyricdemoError, match="No such file"):
        read_corpus_file(tmp_path / "nope.txt")


def test_text_lines_splits_on_newline_only():
    assert text_lines("a\x0cb\nc\n") == ["a\x0cb", "c"]
    assert text_lines("a\n\nb") == ["a", "", "b"]


# ------------------------------------------------------------------ cleaning
def test_clean_none_keeps_everything():
    assert clean_none(["a (b)!", ""]) == ["a (b)!", ""]


def test_clean_d2l_removes_the_seed_filter_list():
    assert clean_d2l(["你好(笑)!", "a-b.c~", "“引号”\t制表", "中文，标点。保留"]) == [
        "你好笑", "abc", "引号制表", "中文，标点。保留"]


def test_clean_lyrics_as_seed_004():
    lines = ["〖韩语Rap译文〗我爱你", "  hello   world  ", "a", "", "我爱你", "★☆彩虹☆★", "全角\u3000空格", "Yo!? ok,"]
    assert clean_lyrics(lines) == ["我爱你", "hello world", "彩虹", "全角 空格", "Yo!? ok,"]


def test_unknown_preset_is_refused():
    with pytest.raises(LyricdemoError, match="Unknown cleaning preset"):
        clean_lines(["a"], "fancy")


# ------------------------------------------------------------------ split
def test_split_holds_out_the_last_block():
    lines = [f"line {i}" for i in range(20)]
    train, val = split_lines(lines, 0.1)
    assert train == lines[:18] and val == lines[18:]
    assert split_lines(lines, 0.0) == (lines, [])
    assert split_lines(lines[:7], 0.1) == (lines[:6], lines[6:7])  # ceil: at least one line held out


def test_split_refuses_impossible_fractions():
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(LyricdemoError):
            split_lines(["a", "b"], bad)
    with pytest.raises(LyricdemoError, match="too few"):
        split_lines(["a"], 0.5)


# ------------------------------------------------------------------ download (local server only)
class _Server:
    def __init__(self, files: dict[str, bytes]):
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    payload = _zip({"lyrics.txt": "测试歌词\n".encode()})
    s = _Server({"/good.zip": payload, "/bad.zip": payload + b"x"})
    s.payload, s.sha = payload, hashlib.sha256(payload).hexdigest()
    yield s
    s.close()


def test_fetch_verifies_checksum_and_caches(server, tmp_path):
    dest = tmp_path / "c.zip"
    got = fetch_corpus([server.url + "/missing.zip", server.url + "/good.zip"], server.sha, dest)
    assert got == dest and dest.read_bytes() == server.payload
    assert server.hits == ["/missing.zip", "/good.zip"]
    fetch_corpus([server.url + "/good.zip"], server.sha, dest)  # cached: no new request
    assert len(server.hits) == 2
    assert read_corpus_file(dest).text == "测试歌词\n"


def test_fetch_wrong_checksum_is_an_error_and_writes_nothing(server, tmp_path):
    dest = tmp_path / "c.zip"
    with pytest.raises(LyricdemoError, match="checksum mismatch"):
        fetch_corpus([server.url + "/bad.zip"], server.sha, dest)
    assert not dest.exists() and not list(tmp_path.iterdir())
