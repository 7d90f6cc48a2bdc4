"""A word vocabulary's character fallback (DataConfig.unknown_words): a word below min_freq is spelled as its
characters, the text still joins back, old checkpoints read rare words as <unk>, and every reader spells alike."""

from __future__ import annotations

import json
import shutil

import pytest

from lyricdemo.checkpoint import META, load_checkpoint, save_checkpoint
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.fields import ConfigError
from lyricdemo.models import ModelConfig
from lyricdemo.reading import prepare_prefix, read_text
from lyricdemo.stats import corpus_stats
from lyricdemo.train import new_model
from lyricdemo.vocab import UNK, Vocab

WORDS = ["我们", "爱", "你", "\n", "我们", "爱", "你", "\n", "哈哈", "\n", "月光", "\n"]


def test_a_rare_word_is_spelled_and_a_rare_character_is_unk():
    v = Vocab(WORDS, min_freq=2, unknown_words="chars")
    assert "我们" in v and "哈哈" not in v and "哈" in v           # 哈 seen twice, inside the one 哈哈
    assert "月光" not in v and "月" not in v and "光" not in v      # each seen once: spelled, then <unk>
    assert "我" in v and "们" in v and v.freq("我") == 0           # only inside 我们: known, never read alone
    assert v.spell(["我们", "哈哈", "月光", "爱"]) == ["我们", "哈", "哈", "月", "光", "爱"]
    assert v.spelled(["我们", "哈哈", "爱", "\n"]) == [False, True, False, False]
    assert v.encode(v.spell(["月光"])) == [v.unk, v.unk]
    # token_freqs count the stream as the model reads it: 哈哈 counts for its characters
    assert dict(v.token_freqs)["哈"] == 2 and "哈哈" not in dict(v.token_freqs)


def test_unk_mode_is_the_old_vocabulary():
    old = Vocab(WORDS, min_freq=2)
    assert old.unknown_words == "unk" and old.spell(["哈哈", "月光"]) == ["哈哈", "月光"]
    assert old.idx_to_token == [UNK, "\n", "你", "我们", "爱"]
    assert not any(old.spelled(["哈哈"]))


def test_for_characters_both_modes_are_the_same(small_text):
    chars = list(small_text * 2) + ["罕"]
    a, b = Vocab(chars, min_freq=2, unknown_words="chars"), Vocab(chars, min_freq=2, unknown_words="unk")
    assert a.idx_to_token == b.idx_to_token and a.token_freqs == b.token_freqs and "罕" not in a
    assert a.spell(chars) == chars
    ca = load_dataset(DataConfig(), raw=read_corpus_bytes(small_text.encode(), "s.txt"))
    cb = load_dataset(DataConfig(unknown_words="unk"), raw=read_corpus_bytes(small_text.encode(), "s.txt"))
    assert ca.vocab.idx_to_token == cb.vocab.idx_to_token and ca.val_ids.tolist() == cb.val_ids.tolist()


def test_the_spelled_stream_joins_back_to_the_text_with_jieba(small_text):
    raw = read_corpus_bytes((small_text * 3 + "蝴蝶飞过金色的麦田\n哈密瓜和蝌蚪\n").encode(), "s.txt")
    ds = load_dataset(DataConfig(tokenizer="word", val_fraction=0.1), raw=raw)
    assert ds.config.unknown_words == "chars"
    for lines, tokens in ((ds.train_lines, ds.train_tokens), (ds.val_lines, ds.val_tokens)):
        assert "".join(tokens) == "".join(line + "\n" for line in lines)
        assert len(tokens) == (len(ds.train_ids) if tokens is ds.train_tokens else len(ds.val_ids))
    assert all(t in ds.vocab or len(t) == 1 for t in ds.val_tokens)    # only single characters may be <unk>
    assert ds.val_spelled >= 1 and ds.val_words < len(ds.val_tokens)
    old = load_dataset(DataConfig(tokenizer="word", val_fraction=0.1, unknown_words="unk"), raw=raw)
    def unk_chars(d):
        return sum(len(t) for t, i in zip(d.val_tokens, d.val_ids.tolist()) if i == d.vocab.unk)
    assert unk_chars(ds) < unk_chars(old)         # a spelled word's known characters are predicted
    st = corpus_stats(ds)
    assert (st.unknown_words, st.val_words, st.val_spelled) == ("chars", ds.val_words, ds.val_spelled)
    assert st.val_spelled_rate == pytest.approx(ds.val_spelled / ds.val_words)


def test_the_field_is_checked():
    with pytest.raises(ConfigError, match="unknown_words must be one of 'chars', 'unk'"):
        DataConfig(unknown_words="drop")
    with pytest.raises(LyricdemoError, match="unknown_words"):
        Vocab(["a"], unknown_words="chars ")
    d = Vocab(WORDS, min_freq=2, unknown_words="chars").to_dict()
    assert Vocab.from_dict(d).unknown_words == "chars" and Vocab.from_dict(d) == Vocab(WORDS, 2, unknown_words="chars")
    with pytest.raises(LyricdemoError, match="unknown_words must be one of"):
        Vocab.from_dict({**d, "unknown_words": "maybe"})
    d.pop("unknown_words")
    assert Vocab.from_dict(d).unknown_words == "unk"               # saved before the fallback


def test_prefix_and_probe_read_a_rare_word_as_its_characters():
    v = Vocab(WORDS, min_freq=2, unknown_words="chars")
    tok = _Fixed()
    r = prepare_prefix("我们哈哈\n月光", v, tok)
    assert r.tokens == ("我们", "哈", "哈", "\n", "月", "光")
    assert r.ids == (v["我们"], v["哈"], v["哈"], v["\n"], 0, 0)
    assert [(u.token, u.start, u.end) for u in r.unknown] == [("月", 5, 6), ("光", 6, 7)]
    t = read_text(v, tok, "哈哈我们")
    assert t.tokens == ("哈", "哈", "我们")
    old = Vocab(WORDS, min_freq=2)
    assert prepare_prefix("我们哈哈", old, tok).tokens == ("我们", "哈哈")


class _Fixed:
    """Words by longest match in a fixed list (jieba's choices are not the point here)."""

    name = "word"

    def tokenize(self, line):
        out, i = [], 0
        while i < len(line):
            w = next((w for w in ("我们", "哈哈", "月光") if line.startswith(w, i)), line[i])
            out.append(w)
            i += len(w)
        return out

    def detokenize(self, tokens):
        return "".join(tokens)


@pytest.fixture(scope="module")
def word_checkpoint(tmp_path_factory):
    v = Vocab(WORDS, min_freq=2, unknown_words="chars")
    model = new_model(ModelConfig(vocab_size=len(v), embed_dim=4, hidden_size=4), seed=0)
    path = tmp_path_factory.mktemp("ck") / "w"
    save_checkpoint(path, model, v, DataConfig(tokenizer="word"))
    return path


def test_the_mode_is_carried_in_the_checkpoint(word_checkpoint):
    ck = load_checkpoint(word_checkpoint)
    assert ck.data_config.unknown_words == "chars" and ck.vocab.unknown_words == "chars"
    assert ck.vocab.spell(["哈哈"]) == ["哈", "哈"]


def test_old_style_metadata_loads_as_unk(word_checkpoint, tmp_path):
    dst = tmp_path / "old"
    shutil.copytree(word_checkpoint, dst)
    meta = json.loads((dst / META).read_text(encoding="utf-8"))
    del meta["data"]["unknown_words"], meta["vocab"]["unknown_words"]
    (dst / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    ck = load_checkpoint(dst)
    assert ck.data_config.unknown_words == "unk" and ck.vocab.unknown_words == "unk"
    assert ck.vocab.spell(["哈哈"]) == ["哈哈"] and ck.vocab.encode(["哈哈"]) == [0]


def test_a_vocabulary_that_disagrees_with_its_data_is_refused(word_checkpoint, tmp_path):
    v = Vocab(WORDS, min_freq=2)                                    # "unk"
    model = new_model(ModelConfig(vocab_size=len(v), embed_dim=4, hidden_size=4), seed=0)
    with pytest.raises(LyricdemoError, match="reads unknown words as 'unk' but the data config says 'chars'"):
        save_checkpoint(tmp_path / "bad", model, v, DataConfig(tokenizer="word"))
    save_checkpoint(tmp_path / "chars-ok", model, v, DataConfig())  # a char model: the two modes are the same
    dst = tmp_path / "edited"
    shutil.copytree(word_checkpoint, dst)
    meta = json.loads((dst / META).read_text(encoding="utf-8"))
    meta["data"]["unknown_words"] = "unk"
    (dst / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LyricdemoError, match="reads unknown words as 'chars'"):
        load_checkpoint(dst)


def test_tab_one_counts_the_spelled_words_and_looks_them_up(small_text):
    from lyricdemo.ui import tab_vocab
    from lyricdemo.ui.session import Session

    s = Session()
    s.upload = read_corpus_bytes((small_text * 3 + "蝴蝶飞过金色的麦田\n哈密瓜和蝌蚪\n").encode(), "s.txt")
    out = tab_vocab.tokenize(s, "upload", None, "d2l", "word", "token", 2, [], 10, 1, "chars")
    ds = s.analyzed
    assert ds.config.unknown_words == "chars" and ds.val_spelled > 0
    assert f"{ds.val_spelled:,} of {ds.val_words:,} words" in out[1]
    assert out[8]["val_spelled"] == ds.val_spelled and out[8]["config"]["unknown_words"] == "chars"
    words = _val_words(ds)
    word = next(w for w, sp in zip(words, ds.vocab.spelled(words)) if sp)
    assert "spelled as its characters" in tab_vocab.lookup(s, word)
    out = tab_vocab.tokenize(s, "upload", None, "d2l", "word", "token", 2, [], 10, 1, "unk")
    assert "words spelled" not in out[1] and s.analyzed.val_spelled == 0


def _val_words(ds):
    from lyricdemo.tokenizers import flatten, tokenize_lines

    return flatten(tokenize_lines(ds.val_lines, ds.tokenizer, ds.config.newline))


def test_the_picker_says_token_for_a_model_that_spells():
    from lyricdemo.ui import resources

    meta = {"model": {"kind": "gru", "num_layers": 1, "hidden_size": 256},
            "data": {"tokenizer": "word", "unknown_words": "chars"},
            "card": {"val_ppl": 613.8, "bits": {"model": {"bits_per_char": 7.875}}}}
    label = resources.shipped_label("word-gru", meta)
    assert "val ppl 614 / token" in label and "7.88 bits/char" in label
