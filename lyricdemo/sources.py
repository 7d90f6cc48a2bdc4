"""Which corpus is in use, and where it came from.

    data/jaychou_lyrics.txt.zip   the d2l lyrics: copied in, fetched by the CLI, or downloaded
                                  once in the background by the app (never committed)
    corpora/tang_poems.txt.zip    the embedded Tang poems (public domain, committed): in use
                                  whenever the d2l file is not in data/

Every answer is read from the disk when it is asked for, so a corpus put into ``data/``
while the app runs is in use from the next request on, without a restart.

The background download is the app's only network access that nobody asked for: one
checksummed fetch of the d2l zip (``corpus.fetch_corpus``), off when ``LYRICDEMO_OFFLINE=1``
or ``HF_HUB_OFFLINE=1``.  It never delays startup, and a failure leaves the embedded corpus
in place with the reason on record (tab 1 shows it).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .corpora import EMBEDDED
from .corpus import D2L_CORPUS_SHA256, D2L_CORPUS_URLS, default_corpus_path, fetch_corpus, missing_corpus_message
from .errors import LyricdemoError

D2L_LABEL = "d2l Jay Chou lyrics / 周杰伦歌词"
URLS_ENV = "LYRICDEMO_CORPUS_URLS"          # space-separated; tests point it at a 127.0.0.1 server
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class CorpusSource:
    """A built-in corpus: ``key`` ("d2l" or an embedded name), its label, file and origin."""

    key: str
    label: str
    path: Path
    origin: str

    def size(self) -> str:
        """The file's size in KB, or "missing"."""
        try:
            return f"{self.path.stat().st_size / 1024:,.0f} KB"
        except OSError:
            return "missing"

    def describe(self) -> str:
        """One line for a header or a terminal: what, how big, from where (the app's page header
        words it shorter: ``ui/wording.corpus_header``)."""
        return f"{self.label} — {self.path.name}, {self.size()}; {self.origin}"


def offline() -> bool:
    """True when the network is off for this app (``LYRICDEMO_OFFLINE`` or ``HF_HUB_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("LYRICDEMO_OFFLINE", "HF_HUB_OFFLINE"))


def corpus_urls() -> tuple[str, ...]:
    raw = os.environ.get(URLS_ENV, "").split()
    return tuple(raw) if raw else D2L_CORPUS_URLS


def embedded_source(name: str = "tang") -> CorpusSource:
    e = EMBEDDED[name]
    return CorpusSource(name, e["label"], Path(e["path"]), "embedded in the repository: " + e["source"])


def d2l_source() -> CorpusSource | None:
    """The d2l lyrics when the file is in data/ (None otherwise)."""
    path = default_corpus_path()
    if not path.is_file():
        return None
    d = _DOWNLOAD
    if d.state == "done" and d.path == path:
        origin = f"downloaded by this server at {time.strftime('%H:%M', time.localtime(d.finished))} from {d.url}"
    else:
        origin = f"in {path.parent.name}/ (copied in, or fetched with `python -m lyricdemo fetch`)"
    return CorpusSource("d2l", D2L_LABEL, path, origin)


def builtin_sources() -> dict[str, CorpusSource]:
    """Every built-in corpus that is here now, the one in use first."""
    out = {}
    d2l = d2l_source()
    if d2l is not None:
        out["d2l"] = d2l
    for name in EMBEDDED:
        out[name] = embedded_source(name)
    return out


def corpus_in_use() -> CorpusSource:
    """The d2l lyrics when they are in data/, else the embedded Tang poems."""
    return d2l_source() or embedded_source("tang")


def builtin_source(key: str) -> CorpusSource:
    """A built-in corpus by key; the d2l one missing is a clear message naming the alternatives."""
    if key == "d2l":
        src = d2l_source()
        if src is None:
            raise LyricdemoError(missing_corpus_message() + " " + download_status().sentence()
                                 + " The embedded Tang poems are always here: choose them instead.",
                                 code="corpus_missing")
        return src
    if key in EMBEDDED:
        return embedded_source(key)
    raise LyricdemoError(f"Unknown corpus {key!r}; choose one of {['d2l', *EMBEDDED]}.")


_SHA: dict[tuple[str, int, int], str] = {}


def source_with_sha256(sha: str) -> CorpusSource | None:
    """The built-in corpus whose file has this sha256 (what a checkpoint records), if it is here."""
    from .corpus import sha256_file

    for src in builtin_sources().values():
        try:
            st = src.path.stat()
        except OSError:
            continue
        key = (str(src.path), st.st_mtime_ns, st.st_size)
        if key not in _SHA:
            _SHA[key] = sha256_file(src.path)
        if _SHA[key] == sha:
            return src
    return None


# ----------------------------------------------------------------------------- the one background download
@dataclass
class Download:
    """The state of the app's background download of the d2l corpus."""

    state: str = "idle"          # idle | off | present | running | done | failed
    message: str = ""
    url: str = ""
    path: Path | None = None
    started: float = 0.0
    finished: float = 0.0

    def sentence(self) -> str:
        """What happened, in plain words (tab 1 and the missing-corpus message show it)."""
        return {
            "idle": "No download was started.",
            "off": "The download is off (LYRICDEMO_OFFLINE or HF_HUB_OFFLINE is set).",
            "present": "The d2l corpus was already in data/.",
            "running": "Downloading the d2l corpus in the background ...",
            "done": f"Downloaded the d2l corpus from {self.url}; it is in use now.",
            "failed": f"The download of the d2l corpus failed: {self.message}",
        }[self.state]


_DOWNLOAD = Download()
_LOCK = threading.Lock()


def reset_download() -> None:
    """Forget the download's state (tests; a new process starts like this)."""
    global _DOWNLOAD
    with _LOCK:
        _DOWNLOAD = Download()


def download_status() -> Download:
    return _DOWNLOAD


def start_download(urls: tuple[str, ...] | None = None, timeout: float = 30.0,
                   sha256: str = D2L_CORPUS_SHA256) -> threading.Thread | None:
    """Fetch the d2l corpus into data/ once, in a background thread (checksummed, written atomically).

    Returns the thread, or None when nothing is to be done: offline, already here, or already
    started in this process.  A wrong checksum or a truncated download is discarded with the reason
    (``download_status()``) and nothing half-written stays in data/; the embedded corpus stays in use."""
    global _DOWNLOAD
    with _LOCK:
        if _DOWNLOAD.state in ("running", "done"):
            return None
        if offline():
            _DOWNLOAD = Download(state="off")
            return None
        if default_corpus_path().is_file():
            _DOWNLOAD = Download(state="present")
            return None
        urls = tuple(urls or corpus_urls())
        _DOWNLOAD = Download(state="running", started=time.time())

    def work():
        global _DOWNLOAD
        problems = []
        for url in urls:                    # one at a time, to know which one gave the file
            try:
                path = fetch_corpus(urls=(url,), sha256=sha256, timeout=timeout)
            except LyricdemoError as e:
                problems.append(str(e).split("\n", 1)[-1].strip())
                continue
            except Exception as e:          # noqa: BLE001 -- a background fetch must never take the app down
                problems.append(f"{url}: {type(e).__name__}: {e}")
                continue
            _DOWNLOAD = Download(state="done", url=url, path=path, started=_DOWNLOAD.started, finished=time.time())
            return
        _DOWNLOAD = Download(state="failed", message="; ".join(problems), started=_DOWNLOAD.started,
                             finished=time.time())

    t = threading.Thread(target=work, name="lyricdemo-corpus-download", daemon=True)
    t.start()
    return t
