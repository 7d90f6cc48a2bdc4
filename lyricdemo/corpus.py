"""Read, check, clean and split a corpus of lyrics (or any UTF-8 text).

Reading never trusts the file: its size is checked before it is read, a zip must
hold exactly one text member (and is read with a size cap, so a zip bomb cannot
fill memory), bytes must be UTF-8, and every refusal is a ``LyricdemoError`` whose
message says what is wrong and what to do.

Cleaning presets are small pure functions ``list[str] -> list[str]`` over lines.
A line is the unit of a lyric: cleaning never joins lines, and how a line break
becomes a token is decided later, by the tokenizer (``newline=``).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import unicodedata
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import LyricdemoError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # 20 MB; LYRICDEMO_MAX_UPLOAD_MB overrides it in the app

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("LYRICDEMO_DATA_DIR", REPO_ROOT / "data"))

# The d2l corpus (Dive into Deep Learning, ch. 6/8): one text file in a zip.
D2L_CORPUS_NAME = "jaychou_lyrics.txt.zip"
D2L_CORPUS_SHA256 = "182180582bd7811aa93f4eb954f9a8d7990177044c374b16bd9304132d2dc39c"
D2L_CORPUS_URLS = (
    "https://raw.githubusercontent.com/d2l-ai/d2l-zh/"
    "89403b9792861d86a0f1735cdd4a3d60c423f5a2/data/jaychou_lyrics.txt.zip",
    "https://raw.githubusercontent.com/ShusenTang/Dive-into-DL-PyTorch/master/data/jaychou_lyrics.txt.zip",
)


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class RawText:
    """Decoded text of a file, with where it came from and the sha256 of its bytes."""

    name: str
    text: str
    sha256: str
    size_bytes: int

    def lines(self) -> list[str]:
        """The lines of the text (a final line break does not start an empty line)."""
        return text_lines(self.text)


def text_lines(text: str) -> list[str]:
    """Split on ``\n`` only (``str.splitlines`` also splits on form feeds, U+2028 ...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def default_corpus_path() -> Path:
    """Where the d2l corpus lives when it is present: ``data/jaychou_lyrics.txt.zip``."""
    return DATA_DIR / D2L_CORPUS_NAME


def have_default_corpus() -> bool:
    return default_corpus_path().is_file()


def missing_corpus_message() -> str:
    """Plain English; raised with ``code="corpus_missing"`` (the app adds the Chinese half)."""
    return (
        f"The d2l Jay Chou corpus is not in {DATA_DIR}/. Copy {D2L_CORPUS_NAME} there "
        "(see data/README.md), run `python -m lyricdemo fetch` when you are online, "
        "or upload any UTF-8 text file."
    )


def read_corpus_file(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> RawText:
    """Read a ``.txt`` file or a ``.zip`` that holds one text file, as UTF-8 text.

    The size is checked before anything is read, so a 100 MB upload is refused at
    once.  Raises ``LyricdemoError`` for a missing, empty, oversized, binary or
    non-UTF-8 file and for a zip with no or several text members.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        if path == default_corpus_path():
            raise LyricdemoError(missing_corpus_message(), code="corpus_missing")
        raise LyricdemoError(f"No such file: {name!r}.")
    size = path.stat().st_size
    _check_size(size, max_bytes, name)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    return read_corpus_bytes(data, name, max_bytes=max_bytes)


def read_corpus_bytes(data: bytes, name: str = "upload", max_bytes: int = DEFAULT_MAX_BYTES) -> RawText:
    """Like ``read_corpus_file`` for bytes already in memory (an upload, a download)."""
    _check_size(len(data), max_bytes, name)
    sha = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        member, payload = _read_zip_member(data, name, max_bytes)
        text = decode_text(payload, f"{name}:{member}")
    else:
        text = decode_text(data, name)
    return RawText(name=name, text=text, sha256=sha, size_bytes=len(data))


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise LyricdemoError(
            f"{name!r} is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.1f} MB. "
            "Lyrics corpora are small: split the file or upload a part of it."
        )
    if size == 0:
        raise LyricdemoError(f"{name!r} is empty: there is no text to learn from.")


def _read_zip_member(data: bytes, name: str, max_bytes: int) -> tuple[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [
            i for i in zf.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith(".")
        ]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise LyricdemoError(f"{name!r} is not a readable zip file ({e}).") from None
    if not infos:
        raise LyricdemoError(f"The zip {name!r} holds no file; it should hold one text file.")
    if len(infos) > 1:
        shown = ", ".join(repr(i.filename) for i in infos[:5]) + (" ..." if len(infos) > 5 else "")
        raise LyricdemoError(
            f"The zip {name!r} holds {len(infos)} files ({shown}); it should hold exactly one "
            "text file. Upload that file on its own."
        )
    info = infos[0]
    if info.file_size > max_bytes:
        raise LyricdemoError(
            f"{info.filename!r} inside {name!r} unpacks to {info.file_size / 2**20:.1f} MB; "
            f"the limit is {max_bytes / 2**20:.1f} MB."
        )
    try:
        with zf.open(info) as f:  # the declared size can lie: read at most max_bytes + 1
            payload = f.read(max_bytes + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
        raise LyricdemoError(f"Cannot unpack {info.filename!r} from {name!r} ({e}).") from None
    if len(payload) > max_bytes:
        raise LyricdemoError(
            f"{info.filename!r} inside {name!r} unpacks to more than {max_bytes / 2**20:.1f} MB "
            "(the zip claims less): refused."
        )
    return info.filename, payload


_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\x7fELF": "a program (ELF)",
    b"\xd0\xcf\x11\xe0": "an MS Office document",
    b"\x80\x04": "a Python pickle",
    b"\x80\x05": "a Python pickle",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}

# Encodings Chinese lyrics are often saved in, tried in this order when UTF-8 fails.
_CANDIDATE_ENCODINGS = ("gb18030", "big5", "utf-16", "shift_jis", "euc_kr")
_COMMON_HANZI = set("的我你是不一了在有人这個这么麼说說爱愛想要们們会會来來天心")


def decode_text(data: bytes, name: str = "text") -> str:
    """Decode bytes as UTF-8 (a BOM is allowed) and normalise line breaks to ``\\n``.

    Refuses binary data and non-UTF-8 text with a message naming the byte offset
    and the encoding the bytes most likely are in (GBK and Big5 are common for
    Chinese lyrics), with the command to convert them.
    """
    if not data:
        raise LyricdemoError(f"{name!r} is empty: there is no text to learn from.")
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise LyricdemoError(f"{name!r} looks like {what}, not text. Upload a UTF-8 .txt file.")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise LyricdemoError(
            f"{name!r} is UTF-16 text. Save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)."
        )
    if b"\x00" in data[:8192]:
        raise LyricdemoError(f"{name!r} contains NUL bytes: it is binary data, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LyricdemoError(_not_utf8_message(data, name, e)) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for ch in text[:100_000] if unicodedata.category(ch) == "Cc" and ch not in "\n\t")
    if controls > max(8, len(text[:100_000]) // 100):
        raise LyricdemoError(f"{name!r} is mostly control characters: it looks binary, not text.")
    if not text.strip():
        raise LyricdemoError(f"{name!r} holds only whitespace: there is no text to learn from.")
    return text


def guess_encoding(data: bytes) -> str | None:
    """The legacy encoding these bytes decode best in (by common-Hanzi share), or None."""
    best, best_score = None, 0.0
    for enc in _CANDIDATE_ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if not text:
            continue
        score = sum(ch in _COMMON_HANZI for ch in text) / len(text)
        printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text) / len(text)
        score += 0.01 * printable
        if score > best_score:
            best, best_score = enc, score
    return best


def _not_utf8_message(data: bytes, name: str, e: UnicodeDecodeError) -> str:
    bad = data[e.start:e.start + 4].hex(" ")
    enc = guess_encoding(data)
    label = {"gb18030": "GBK/GB18030 (Simplified Chinese)", "big5": "Big5 (Traditional Chinese)",
             "utf-16": "UTF-16", "shift_jis": "Shift-JIS (Japanese)", "euc_kr": "EUC-KR (Korean)"}
    hint = (
        f" It looks like {label[enc]}: convert it with `iconv -f {enc.upper()} -t UTF-8 in.txt > out.txt` "
        "or save it as UTF-8 in your editor."
        if enc else " Save it as UTF-8 and upload it again."
    )
    return f"{name!r} is not UTF-8: the bytes at offset {e.start} ({bad}) cannot be decoded.{hint}"


# ----------------------------------------------------------------------------- cleaning
# The filter list of seed 000 (d2l `tokenize`), as the character class it means.
_D2L_FILTER = re.compile("[" + re.escape('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\x97\x96”“') + "]")
# Seed 004: keep CJK, ASCII letters and digits, spaces and a few punctuation marks.
_LYRICS_DROP = re.compile(r"[^\u4e00-\u9fa5 a-zA-Z0-9!?,，。！？]")
_SPACES = re.compile(r" {2,}")


def clean_none(lines: Sequence[str]) -> list[str]:
    """Keep the text as it is (only line breaks were normalised when it was read)."""
    return list(lines)


def clean_d2l(lines: Sequence[str]) -> list[str]:
    """Seed 000: delete ASCII punctuation, tabs and the curly quotes; keep every line."""
    return [_D2L_FILTER.sub("", line) for line in lines]


def clean_lyrics(lines: Sequence[str]) -> list[str]:
    """Seed 004: keep CJK, letters, digits, spaces and ``!?,，。！？``; collapse spaces;
    drop lines of at most one character and repeated lines (the first stays).

    Unlike the seed, a full-width space becomes a space (the seed deleted it and so
    glued phrases together) and runs of spaces collapse to one (the seed deleted them).
    """
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        line = line.replace("〖韩语Rap译文〗", "").replace("\u3000", " ")
        line = _SPACES.sub(" ", _LYRICS_DROP.sub("", line)).strip()
        if len(line) <= 1 or line in seen:
            continue
        seen.add(line)
        out.append(line)
    return out


CLEANERS: dict[str, Callable[[Sequence[str]], list[str]]] = {
    "none": clean_none,
    "d2l": clean_d2l,
    "lyrics": clean_lyrics,
}


def clean_lines(lines: Sequence[str], preset: str = "lyrics") -> list[str]:
    """Apply a cleaning preset by name (``none``, ``d2l`` or ``lyrics``)."""
    try:
        cleaner = CLEANERS[preset]
    except KeyError:
        raise LyricdemoError(f"Unknown cleaning preset {preset!r}; choose one of {sorted(CLEANERS)}.") from None
    return cleaner(lines)


def split_lines(lines: Sequence[str], val_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """Split into (train, validation) by one contiguous block: the last ``val_fraction``
    of the lines are held out, so validation songs are never seen in training.

    ::

        lines:  [ l0 l1 l2 ... l(n-k-1) | l(n-k) ... l(n-1) ]
                  \\______ train ______/   \\__ validation __/     k = ceil(n * val_fraction)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise LyricdemoError(f"The validation fraction must be in [0, 1); got {val_fraction}.")
    n = len(lines)
    k = math.ceil(n * val_fraction - 1e-9)
    if val_fraction > 0 and n - k < 1:
        raise LyricdemoError(f"{n} line(s) are too few to hold out {val_fraction:.0%} for validation.")
    return list(lines[: n - k]), list(lines[n - k:])


# ----------------------------------------------------------------------------- download
def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_corpus(
    urls: Sequence[str] = D2L_CORPUS_URLS,
    sha256: str = D2L_CORPUS_SHA256,
    dest: str | os.PathLike | None = None,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Download the corpus once into ``dest`` (default ``data/jaychou_lyrics.txt.zip``).

    A file already there with the right checksum is kept (the cache).  Each URL is
    tried in turn; the bytes must match ``sha256`` exactly, or the download is an
    error (nothing is written).  The write is atomic: a temp file renamed into place.
    """
    dest = Path(dest) if dest is not None else default_corpus_path()
    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    problems = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (user asked for it)
                data = r.read(max_bytes + 1)
        except (OSError, ValueError) as e:
            problems.append(f"{url}: {e}")
            continue
        if len(data) > max_bytes:
            problems.append(f"{url}: larger than {max_bytes} bytes")
            continue
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            problems.append(f"{url}: checksum mismatch (expected sha256 {sha256[:12]}..., got {got[:12]}...)")
            continue
        atomic_write_bytes(dest, data)
        return dest
    raise LyricdemoError("Could not download the corpus:\n  " + "\n  ".join(problems))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the same folder, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
