"""Build ``corpora/tang_poems.txt.zip``, the embedded Tang-poem corpus, from the
``chinese-poetry`` npm package (MIT).  A build tool: the app never runs it.

    mkdir -p /tmp/cp && cd /tmp/cp && npm pack chinese-poetry@2.0.1 && tar xzf chinese-poetry-2.0.1.tgz
    pip install -r requirements-dev.txt          # opencc-python-reimplemented (Traditional -> Simplified)
    python corpora/build_tang.py /tmp/cp/package

What it keeps, and why (corpora/README.md says it for readers):

- only *regulated* shapes: a quatrain (绝句, 4 lines) or an octave (律诗, 8 lines) whose
  lines all have 5 or all have 7 characters.  One shape gives a small model a structure
  it can learn in minutes (and the visualizer a unit that counts to five or seven);
  the irregular old-style poems (古体, 乐府) of the anthology are left out;
- every regulated poem of 唐诗三百首 (the poems students know: 床前明月光, 春眠不觉晓),
  always in the training part (they come first);
- then regulated poems from 全唐诗 by the same poets, in an order fixed by the sha256
  of each poem's text (a reproducible shuffle: the held-out last 10% of the lines is
  a random sample of poems, not one poet's last book), until ``--chars`` characters;
- fragments (titles 句, 逸句, 断句) are dropped, and so is any poem whose text, or whose
  first couplet, is already in (a variant printed twice, or under two poets).

The text is converted to Simplified characters (OpenCC ``t2s``) so that a student can
type a prefix with an ordinary input method, as for the d2l lyrics.

Format: one couplet per line (``床前明月光，疑是地上霜。``), a blank line between poems,
no titles (a title is not verse: it would blur the line structure the model learns).
The zip's bytes depend only on the package and this script: poems in a fixed order,
one member with a fixed timestamp and permissions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "tang_poems.txt.zip"
MEMBER = "tang_poems.txt"
DEFAULT_CHARS = 150_000
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # the earliest date a zip can hold: no build time in the bytes

HAN = "\u4e00-\u9fff"                      # CJK Unified Ideographs (no extension blocks: fonts lack them)
COUPLET = {n: re.compile(f"^[{HAN}]{{{n}}}，[{HAN}]{{{n}}}[。？！]$") for n in (5, 7)}
SENTENCE = re.compile("[^。？！]*[。？！]")
FRAGMENT_TITLE = re.compile(r"^(句|逸句|断句)(\s|$)")


@dataclass(frozen=True)
class Poem:
    author: str
    title: str
    couplets: tuple[str, ...]     # "床前明月光，疑是地上霜。"

    @property
    def text(self) -> str:
        return "\n".join(self.couplets)

    @property
    def chars(self) -> int:
        return sum(len(c) for c in self.couplets)


def regulated_couplets(paragraphs: list[str]) -> tuple[str, ...] | None:
    """The poem as couplets if it is a 5- or 7-character quatrain or octave, else None.

    The source splits poems into paragraphs irregularly (a couplet, two, a whole poem),
    so the body is joined and cut again at each 。？！.
    """
    body = "".join(p.strip() for p in paragraphs)
    couplets = SENTENCE.findall(body)
    if "".join(couplets) != body or len(couplets) not in (2, 4):     # a quatrain or an octave
        return None
    width = couplets[0].index("，") if "，" in couplets[0] else 0
    pattern = COUPLET.get(width)
    if pattern is None or not all(pattern.match(c) for c in couplets):
        return None
    return tuple(couplets)


def read_poems(path: Path, convert) -> list[Poem]:
    """Regulated poems of one JSON file of the package, converted by ``convert``."""
    out = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        couplets = regulated_couplets([convert(p) for p in item.get("paragraphs", [])])
        if couplets:
            out.append(Poem(convert(item.get("author", "")), convert(item.get("title", "")), couplets))
    return out


def shuffle_key(poem: Poem) -> str:
    """A fixed pseudo-random order: the sha256 of the poem's text."""
    return hashlib.sha256(poem.text.encode("utf-8")).hexdigest()


def select(anthology: list[Poem], complete: list[Poem], max_chars: int) -> tuple[list[Poem], dict]:
    """The anthology's poems, then the complete collection's by the same poets, until ``max_chars``."""
    seen_text: set[str] = set()
    seen_opening: set[str] = set()
    counts = {"anthology": 0, "complete": 0, "duplicates": 0, "fragments": 0}

    def take(poem: Poem) -> bool:
        if FRAGMENT_TITLE.match(poem.title):
            counts["fragments"] += 1
            return False
        if poem.text in seen_text or poem.couplets[0] in seen_opening:
            counts["duplicates"] += 1
            return False
        seen_text.add(poem.text)
        seen_opening.add(poem.couplets[0])
        return True

    chosen = [p for p in anthology if take(p)]
    counts["anthology"] = len(chosen)
    total = sum(p.chars for p in chosen)
    poets = {p.author for p in anthology}
    candidates = sorted((p for p in complete if p.author in poets), key=shuffle_key)
    counts["complete_candidates"] = len(candidates)
    for poem in candidates:
        if total >= max_chars:
            break
        if take(poem):
            chosen.append(poem)
            counts["complete"] += 1
            total += poem.chars
    counts["chars"] = total
    return chosen, counts


def render(poems: list[Poem]) -> str:
    """One couplet per line, a blank line between poems, a final line break."""
    return "\n\n".join(p.text for p in poems) + "\n"


def zip_bytes_to(path: Path, text: str) -> None:
    """One member, fixed timestamp and permissions, so the bytes depend on the text only."""
    info = zipfile.ZipInfo(MEMBER, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(info, text.encode("utf-8"), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package", type=Path, help="the unpacked chinese-poetry npm package (the folder with package.json)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"the zip to write (default {OUT.relative_to(HERE.parent)})")
    ap.add_argument("--chars", type=int, default=DEFAULT_CHARS, help="stop adding poems at this many characters")
    args = ap.parse_args(argv)
    try:
        from opencc import OpenCC
    except ImportError:
        print("needs opencc-python-reimplemented: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    meta = json.loads((args.package / "package.json").read_text(encoding="utf-8"))
    src = args.package / "dist" / "quantangshi"
    convert = OpenCC("t2s").convert
    anthology = read_poems(src / "唐诗三百首.json", convert)
    complete = [p for f in sorted(src.glob("poet.tang.*.json"), key=lambda f: int(f.name.split(".")[2]))
                for p in read_poems(f, convert)]
    poems, counts = select(anthology, complete, args.chars)
    text = render(poems)
    zip_bytes_to(args.out, text)
    print(f"{meta['name']} {meta['version']} ({meta['license']}): {len(anthology)} regulated poems in 唐诗三百首, "
          f"{len(complete):,} in 全唐诗 ({counts['complete_candidates']:,} by the anthology's poets)")
    print(f"kept {counts['anthology']} + {counts['complete']} = {len(poems):,} poems, {counts['chars']:,} characters; "
          f"skipped {counts['duplicates']} duplicates and {counts['fragments']} fragments")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
