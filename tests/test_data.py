"""The data pipeline (DataConfig -> Dataset) and the statistics built on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.stats import compare_tokenizers, corpus_stats, coverage_curve, coverage_marks, ngram_freqs


@pytest.fixture
def raw(small_text):
    return read_corpus_bytes(small_text.encode(), "small.txt")


def test_split_vocab_and_ids(raw):
    ds = load_dataset(DataConfig(clean="none", min_freq=1, val_fraction=0.2), raw=raw)
    assert len(ds.train_lines) == 8 and ds.val_lines == ["夜很长 路很长", "明天会更亮"]
    assert ds.train_tokens[-1] == "\n" and ds.train_tokens.count("\n") == 8
    assert ds.vocab.decode(ds.train_ids.tolist()) == "\n".join(ds.train_lines) + "\n"
    # validation characters never seen in training are <unk>
    unseen = [t for t in ds.val_tokens if t not in set(ds.train_tokens)]
    assert unseen and ds.val_unk_rate == pytest.approx(len(unseen) / len(ds.val_tokens))


def test_config_validation():
    for bad in (dict(clean="x"), dict(tokenizer="bpe"), dict(newline="crlf"), dict(min_freq=0),
                dict(min_freq=2.5), dict(val_fraction=0.9), dict(val_fraction=float("nan")),
                dict(max_tokens=-1), dict(reserved_tokens=("<foo>",))):
        with pytest.raises(LyricdemoError):
            DataConfig(**bad)
    cfg = DataConfig(reserved_tokens=["<pad>"], max_tokens=100)
    assert DataConfig.from_dict(cfg.to_dict()) == cfg


def test_max_tokens_truncates_training_only(raw):
    ds = load_dataset(DataConfig(clean="none", max_tokens=10), raw=raw)
    assert len(ds.train_ids) == 10 and len(ds.val_ids) > 0


def test_text_that_cleaning_empties_is_refused():
    raw = read_corpus_bytes("★☆\n♪♫\n".encode(), "symbols.txt")
    with pytest.raises(LyricdemoError, match="no text left"):
        load_dataset(DataConfig(clean="lyrics"), raw=raw)


def test_stats_on_small_text(raw):
    ds = load_dataset(DataConfig(clean="none", min_freq=2, val_fraction=0.2), raw=raw)
    s = corpus_stats(ds)
    assert s.tokens == len(ds.train_tokens) and s.vocab_size == len(ds.vocab)
    assert s.singletons == sum(1 for _, f in ds.vocab.token_freqs if f == 1)
    assert s.top_tokens[0] == ("\n", 8)
    assert s.zipf[1][0] == 8 and s.zipf[1] == sorted(s.zipf[1], reverse=True)
    assert sum(s.zipf[2]) == s.tokens - 1 and sum(s.zipf[3]) == s.tokens - 2
    assert s.line_lengths == [len(line) for line in ds.train_lines]
    assert s.coverage[-1][1] == pytest.approx(1.0)
    assert s.to_dict()["zipf"]["1"] == s.zipf[1]


def test_coverage_and_ngram_freqs():
    freqs = [50, 30, 10, 5, 5]
    assert coverage_marks(freqs, (0.5, 0.8, 0.9, 0.99)) == {0.5: 1, 0.8: 2, 0.9: 3, 0.99: 5}
    assert coverage_curve(freqs)[:2] == [(1, 0.5), (2, 0.8)]
    assert ngram_freqs(list("abab"), 2) == [2, 1]


def test_char_and_word_side_by_side(raw):
    both = compare_tokenizers(raw, DataConfig(clean="none", min_freq=1))
    assert set(both) == {"char", "word"}
    assert both["word"].tokens < both["char"].tokens           # words are longer than characters
    assert both["word"].mean_token_chars > 1.0 == both["char"].mean_token_chars


def test_cli_inspect(tmp_path, small_text):
    f = tmp_path / "s.txt"
    f.write_text(small_text, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "lyricdemo", "inspect", "--file", str(f), "--clean", "none",
                          "--min-freq", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "vocabulary size (min_freq=1)" in out.stdout and "validation <unk> rate" in out.stdout


def test_cli_reports_bad_input_without_traceback(tmp_path):
    f = tmp_path / "g.txt"
    f.write_bytes("月光洒在小河上".encode("gbk"))
    out = subprocess.run([sys.executable, "-m", "lyricdemo", "inspect", "--file", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not UTF-8" in out.stderr and "Traceback" not in out.stderr
