"""The embedded Tang-poem corpus (corpora/): its data card's figures are what the library computes
from the committed file, the file has the shape its card and its build script promise, and the
build script's pieces do what they say on small poems written here."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

from lyricdemo.corpus import read_corpus_file
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.stats import RawStats, corpus_stats
from lyricdemo.ui.wording import bilingual

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
ZIP = CORPORA / "tang_poems.txt.zip"
CARD = CORPORA / "README.md"
LINE = re.compile(r"^([\u4e00-\u9fff]{5}，[\u4e00-\u9fff]{5}|[\u4e00-\u9fff]{7}，[\u4e00-\u9fff]{7})[。？！]$")


def load_builder():
    spec = importlib.util.spec_from_file_location("build_tang", CORPORA / "build_tang.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


build_tang = load_builder()


@pytest.fixture(scope="module")
def raw():
    return read_corpus_file(ZIP)


def card_rows() -> dict[str, str]:
    """The two-column table of the card's "Figures" section."""
    section = CARD.read_text(encoding="utf-8").split("\n## Figures\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| (.+?) \| (.+?) \|$", line)
        if m and m.group(1) not in ("figure", "---"):
            rows[m.group(1)] = m.group(2)
    return rows


def poems_of(text: str) -> list[list[str]]:
    return [block.split("\n") for block in text.strip("\n").split("\n\n")]


def card_figures(raw) -> dict[str, str]:
    """Each row of the card's table, computed from the file by the library's own readers."""
    r = RawStats.of(raw)
    s1 = corpus_stats(load_dataset(DataConfig(source=str(ZIP), clean="d2l", min_freq=1), raw=raw))
    ds = load_dataset(DataConfig(source=str(ZIP), clean="d2l", min_freq=2), raw=raw)
    s2 = corpus_stats(ds)
    poems = poems_of(raw.text)
    widths = [(len(p[0]) - 2) // 2 for p in poems]        # "床前明月光，疑是地上霜。": two halves and two marks
    return {
        "file": r.name,
        "size (bytes, zipped)": f"{r.size_bytes:,}",
        "sha256": r.sha256,
        "lines (blank lines between poems included)": f"{r.lines:,}",
        "characters (line breaks not counted)": f"{r.chars:,}",
        "distinct characters": f"{r.distinct_chars:,}",
        "poems": f"{len(poems):,}",
        "quatrains / octaves": f"{sum(len(p) == 2 for p in poems):,} / {sum(len(p) == 4 for p in poems):,}",
        "poems of five- / seven-character lines": f"{widths.count(5):,} / {widths.count(7):,}",
        "training lines (last 10% held out)": f"{s1.train_lines:,}",
        "validation lines": f"{s1.val_lines:,}",
        "training tokens (char, clean=d2l, newline=token)": f"{s1.tokens:,}",
        "validation tokens": f"{s1.val_tokens:,}",
        "vocabulary size (char, clean=d2l, min_freq=1, incl. `<unk>`)": f"{s1.vocab_size:,}",
        "vocabulary size (char, clean=d2l, min_freq=2, incl. `<unk>`)": f"{s2.vocab_size:,}",
        "validation `<unk>` rate (char, clean=d2l, min_freq=2)": f"{s2.val_unk_rate:.2%}",
    }


def test_card_matches_the_file(raw):
    assert card_rows() == card_figures(raw)


def test_every_poem_is_a_regulated_quatrain_or_octave_without_repeats(raw):
    text = raw.text
    assert text.endswith("\n") and not text.endswith("\n\n") and "\n\n\n" not in text and not text.startswith("\n")
    poems = poems_of(text)
    for poem in poems:
        assert len(poem) in (2, 4), poem
        assert all(LINE.match(line) for line in poem), poem
        assert len({len(line) for line in poem}) == 1, poem          # one width per poem
    bodies = ["\n".join(p) for p in poems]
    assert len(set(bodies)) == len(bodies)
    assert len({p[0] for p in poems}) == len(poems)                 # no two poems open alike


def test_cleaning_keeps_the_poems_punctuation(raw):
    """``d2l`` deletes ASCII punctuation only; the poems' ，。？！ are full-width and stay (``lyrics`` would
    drop the blank lines between poems)."""
    ds = load_dataset(DataConfig(source=str(ZIP), clean="d2l"), raw=raw)
    assert ds.train_lines + ds.val_lines == raw.lines()
    assert {"，", "。", "\n"} <= set(ds.vocab.idx_to_token)


def test_the_anthology_comes_first_so_famous_openings_are_trained_on(raw):
    ds = load_dataset(DataConfig(source=str(ZIP)), raw=raw)
    train = "\n".join(ds.train_lines)
    for prefix in ("床前", "春眠", "白日依山尽"):
        assert prefix in train
        assert all(ch in ds.vocab.token_to_idx for ch in prefix)


def test_the_zip_is_one_member_with_a_fixed_date():
    with zipfile.ZipFile(ZIP) as zf:
        (info,) = zf.infolist()
    assert info.filename == build_tang.MEMBER and info.date_time == build_tang.ZIP_DATE
    assert ZIP.stat().st_size < 1_000_000


def test_writing_the_text_again_gives_the_same_bytes(raw, tmp_path):
    """The build is deterministic: the committed zip is exactly what the builder writes for its text."""
    out = tmp_path / "again.zip"
    build_tang.zip_bytes_to(out, raw.text)
    assert out.read_bytes() == ZIP.read_bytes()


# ----------------------------------------------------------------------------- the builder on small poems
def test_regulated_couplets_accepts_quatrains_and_octaves_only():
    five = ["山高月色明，", "水远风声细。", "孤舟夜未眠，", "一灯照江树。"]
    assert build_tang.regulated_couplets(five) == ("山高月色明，水远风声细。", "孤舟夜未眠，一灯照江树。")
    seven = ["春江水暖柳生烟，野渡无人舟自横。"] * 4
    assert len(build_tang.regulated_couplets(seven)) == 4
    assert build_tang.regulated_couplets(five[:2]) is None                   # one couplet
    assert build_tang.regulated_couplets(five + five[:2]) is None            # three couplets
    assert build_tang.regulated_couplets(["山高月色明，", "水远风声细细。", "孤舟夜未眠，一灯照江树。"]) is None
    assert build_tang.regulated_couplets(["山高月色明，水远风声细。", "孤舟夜未眠，一灯[照]江树。"]) is None
    assert build_tang.regulated_couplets(["山高月色，水远风声。", "孤舟夜未，一灯照江。"]) is None   # four


def test_select_takes_the_anthology_then_a_fixed_shuffle_of_its_poets_without_repeats():
    P = build_tang.Poem
    a = [P("甲", "一", ("山高月色明，水远风声细。", "孤舟夜未眠，一灯照江树。")),
         P("甲", "一", ("山高月色明，水远风声细。", "孤舟夜未眠，一灯照江树。"))]          # printed twice
    c = [P("甲", f"诗{i}", (f"{'春夏秋冬东'[i]}风吹柳绿，细雨落花红。", "远客何时返，孤城独倚栏。"))
         for i in range(5)]
    c += [P("乙", "别", ("江南多少寺，楼台烟雨中。", "何人知此意，独坐对青峰。")),    # not the anthology's poet
          P("甲", "句", ("落日照大旗，马鸣风萧萧。", "平沙万里远，明月照边城。"))]    # a fragment
    chosen, counts = build_tang.select(a, c, max_chars=24 * 3)
    assert chosen[0] is a[0] and len(chosen) == 3 and counts["duplicates"] == 1
    assert all(p.author == "甲" for p in chosen)
    rest = sorted(c[:5], key=build_tang.shuffle_key)
    assert chosen[1:] == rest[:2]
    chosen, counts = build_tang.select(a, c, max_chars=10_000)
    assert len(chosen) == 6 and counts["fragments"] == 1
    text = build_tang.render(chosen[:2])
    assert text == "\n".join(chosen[0].couplets) + "\n\n" + "\n".join(chosen[1].couplets) + "\n"


# ----------------------------------------------------------------------------- lyricdemo.corpora describes it
def test_the_description_points_at_the_files_and_its_settings_are_valid(raw):
    from lyricdemo.corpora import EMBEDDED, embedded_corpus
    from lyricdemo.errors import LyricdemoError
    from lyricdemo.models import ModelConfig
    from lyricdemo.presets import PRESETS
    from lyricdemo.train import TrainConfig

    d = embedded_corpus("tang")
    assert d is EMBEDDED["tang"] and d["path"] == ZIP and d["card"] == CARD
    assert " / " in d["label"] and " / " in d["source"]
    cfg = DataConfig(source=str(d["path"]), **d["data"])
    ds = load_dataset(cfg, raw=raw)
    for prefix in d["prefixes"]:                                   # every suggested prefix starts a trained poem
        assert all(ch in ds.vocab.token_to_idx for ch in prefix)
        assert any(line.startswith(prefix) for line in ds.train_lines)
    classroom, over = PRESETS["classroom"], d["classroom"]
    assert set(over) <= {"data", "model", "train"}
    TrainConfig(**{**classroom["train"], **over.get("train", {})})
    ModelConfig(vocab_size=len(ds.vocab), **{**classroom["model"], **over.get("model", {})})
    ck = CORPORA.parent / "checkpoints" / d["checkpoint"]
    meta = json.loads((ck / "checkpoint.json").read_text(encoding="utf-8"))
    assert meta["corpus"]["sha256"] == raw.sha256                 # the shipped model saw exactly this file
    with pytest.raises(LyricdemoError, match="tang") as info:
        embedded_corpus("song")
    assert bilingual(info.value) == "Unknown embedded corpus 'song'; choose one of ['tang']. / 没有名为 'song' 的内置语料。"
