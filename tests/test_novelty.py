"""The memorization meter against brute force, on texts the tests make up."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyricdemo.errors import LyricdemoError
from lyricdemo.novelty import (DEFAULT_THRESHOLD, THRESHOLD_WORDS, CorpusIndex, MemorizationReport, check_memorization,
                             copy_threshold)
from lyricdemo.ui.wording import bilingual, memorization_summary

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]          # 400 common-block characters


def made_up_corpus(seed: int = 0, lines: int = 200) -> str:
    """Random 'lyrics' over 400 CJK characters, one line of 5..12 characters at a time."""
    rng = random.Random(seed)
    return "".join("".join(rng.choices(CJK, k=rng.randint(5, 12))) + "\n" for _ in range(lines))


def brute_ms(text: str, corpus: str) -> list[int]:
    out = []
    for i in range(len(text)):
        n = 0
        while n <= i and text[i - n:i + 1] in corpus:
            n += 1
        out.append(n)
    return out


def brute_share(text: str, corpus: str, n: int) -> float | None:
    grams = [text[i:i + n] for i in range(len(text) - n + 1)]
    if not grams:
        return None
    known = {corpus[i:i + n] for i in range(len(corpus) - n + 1)}
    return sum(g in known for g in grams) / len(grams)


def test_finds_a_planted_copy():
    corpus = made_up_corpus(1)
    index = CorpusIndex(corpus)
    start = 1234
    planted = corpus[start:start + 30]
    text = "abcdefghij" + planted + "klmnopqrst"                  # Latin letters never occur in the corpus
    r = index.check(text)
    assert r.longest_length == 30
    assert (r.longest.start, r.longest.end) == (10, 40) and r.longest.text == planted
    assert r.longest.corpus_start == corpus.find(planted)
    assert corpus[r.longest.corpus_start:r.longest.corpus_end] == planted
    assert r.longest.corpus_line == corpus.count("\n", 0, r.longest.corpus_start) + 1
    assert [(s.start, s.end) for s in r.spans] == [(10, 40)] and r.highlight_ranges() == [(10, 40)]
    assert r.copied_chars == 30 and r.copied_share == pytest.approx(30 / 50)


def test_a_character_shuffled_text_has_no_long_copy():
    corpus = made_up_corpus(2)
    chars = list(corpus[:2000])
    random.Random(3).shuffle(chars)
    r = CorpusIndex(corpus).check("".join(chars))
    assert r.longest_length < 8 and r.spans == () and r.copied_chars == 0
    assert r.ngram_share[4] < 0.05 and r.ngram_share[8] == 0.0


def test_two_copies_and_their_union():
    corpus = "今天天气很好我们一起去公园\n明天下雨我们留在家里看书\n"
    text = "天气很好我们一起去" + "家里看书" + "月亮"
    r = CorpusIndex(corpus).check(text, threshold=4)
    assert [(s.text, s.corpus_line) for s in r.spans] == [("天气很好我们一起去", 1), ("家里看书", 2)]
    assert r.copied_chars == 13 and r.highlight_ranges() == [(0, 13)]


def test_overlapping_spans_merge_for_highlighting():
    corpus = "ABCDE\nCDEFG\n"
    r = CorpusIndex(corpus).check("ABCDEFG", threshold=3)
    assert [s.text for s in r.spans] == ["ABCDE", "CDEFG"]      # maximal, overlapping, never nested
    assert r.highlight_ranges() == [(0, 7)] and r.copied_chars == 7


def test_matching_statistics_by_hand():
    index = CorpusIndex("我想你在远方\n")
    assert index.matching_statistics("我想你在远方啊")[0] == [1, 2, 3, 4, 5, 6, 0]
    assert "想你" in index and "你想" not in index and "" in index


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="abc", max_size=40), st.text(alphabet="abcd", max_size=30), st.integers(1, 6))
def test_agrees_with_brute_force(corpus, text, threshold):
    r = CorpusIndex(corpus).check(text, threshold=threshold, ngram_sizes=(1, 2, 4, 8))
    ms = brute_ms(text, corpus)
    assert list(r.matching) == ms
    for n in (1, 2, 4, 8):
        expected = brute_share(text, corpus, n)
        assert r.ngram_share[n] == (pytest.approx(expected) if expected is not None else None)
    if text:
        assert r.longest_length == max(ms)
        L = r.longest
        assert text[L.start:L.end] == L.text == corpus[L.corpus_start:L.corpus_end]
    # the spans are exactly the maximal copies of >= threshold characters
    maximal = []
    for i in range(len(text)):
        for j in range(i + threshold, len(text) + 1):
            sub = text[i:j]
            if sub in corpus and not (i > 0 and text[i - 1:j] in corpus) and not (j < len(text)
                                                                                and text[i:j + 1] in corpus):
                maximal.append((i, j))
    assert [(s.start, s.end) for s in r.spans] == maximal
    for s in r.spans:
        assert corpus[s.corpus_start:s.corpus_end] == s.text == text[s.start:s.end]
    covered = {k for s in r.spans for k in range(s.start, s.end)}
    assert r.copied_chars == len(covered)


def test_report_is_plain_data():
    r = check_memorization("我想你在远方啊", "我想你在远方\n")
    assert isinstance(r, MemorizationReport)
    d = json.loads(json.dumps(r.to_dict(), ensure_ascii=False))
    assert d["longest_length"] == 6 and d["ngram_share"]["4"] == 0.75 and d["ngram_share"]["8"] is None
    s = r.summary()
    assert "\n" not in s and "6" in s and "longest" in s and not any("\u4e00" <= c <= "\u9fff" for c in s)  # plain English
    bi = memorization_summary(r)                               # the app's wording: English / 中文 for each part
    assert bi.startswith("longest verbatim copy: 6 chars (corpus line 1) / 最长照抄 6 字; 4-grams in corpus / ")
    assert "\n" not in bi and "见于语料: 75%" in bi and bi.endswith("% of the text).")
    assert memorization_summary(CorpusIndex("你好").check("")) == "The text is empty. / 文本为空。"


def test_empty_inputs():
    empty = CorpusIndex("").check("你好")
    assert empty.longest_length == 0 and empty.spans == () and empty.ngram_share[4] is None
    r = CorpusIndex("你好").check("")
    assert r.longest is None and r.copied_share == 0.0 and r.summary()


@pytest.mark.parametrize("bad", [dict(threshold=0), dict(threshold=True), dict(ngram_sizes=(0,)),
                                 dict(ngram_sizes=(4.5,))])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(LyricdemoError):
        CorpusIndex("你好").check("你好", **bad)


def test_bad_inputs_are_refused():
    with pytest.raises(LyricdemoError, match="text"):
        CorpusIndex(b"bytes")
    with pytest.raises(LyricdemoError, match="text"):
        CorpusIndex("你好").check(None)
    with pytest.raises(LyricdemoError, match="at most") as info:
        CorpusIndex("x" * 11, max_chars=10)
    assert bilingual(info.value) == ("The corpus has 11 characters; the memorization meter indexes at most 10. / "
                                     "语料太大，无法检查照抄。")


# ----------------------------------------------------------------------------- the threshold adapts to the script
ENGLISH = ("Now is the winter of our discontent made glorious summer by this sun of York\n"
           "and all the clouds that lowered upon our house in the deep bosom of the ocean buried\n") * 20


def test_the_copy_threshold_follows_the_script():
    assert copy_threshold("月光洒在小河上\n风吹过我的窗\n" * 50) == DEFAULT_THRESHOLD == 8
    words = ENGLISH.split()
    per_word = sum(map(len, words)) / len(words) + 1
    assert copy_threshold(ENGLISH) == round(THRESHOLD_WORDS * per_word) > 20
    assert CorpusIndex(ENGLISH).threshold == copy_threshold(ENGLISH)
    assert copy_threshold("") == DEFAULT_THRESHOLD


def test_a_few_common_english_words_are_no_copy_but_a_line_is():
    idx = CorpusIndex(ENGLISH)
    few = "and all the clouds went home"                 # 'and all the clouds ' (19 chars) is in the corpus
    assert check_memorization(few, ENGLISH, threshold=8).spans           # the old fixed threshold flagged it
    assert not idx.check(few).spans and idx.check(few).threshold == idx.threshold
    line = "I said: Now is the winter of our discontent made glorious summer, friend"
    report = idx.check(line)
    assert [s.text for s in report.spans] == ["Now is the winter of our discontent made glorious summer"]
    assert idx.check(few, threshold=8).spans                              # an explicit threshold still wins
