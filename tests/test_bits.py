"""Bits per character: computed by hand for a word model on a tiny text, and the same unit for chars."""

from __future__ import annotations

import math

import pytest
import torch

from lyricdemo.bits import bits_per_char, measure
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import NGramLM
from lyricdemo.train import new_model, perplexity


def test_by_hand():
    # three word targets with p = 1/2, 1/4, 1/8 -> 1 + 2 + 3 bits; they cover 2 + 1 + 3 characters
    bpc = bits_per_char([math.log(0.5), math.log(0.25), math.log(0.125)], ["爱你", "\n", "周杰伦"],
                        target_ids=[5, 1, 0])
    assert bpc.bits == pytest.approx(6.0)
    assert bpc.chars == 6 and bpc.tokens == 3
    assert bpc.bits_per_char == pytest.approx(1.0)
    assert bpc.bits_per_token == pytest.approx(2.0)
    assert bpc.unk_char_share == pytest.approx(3 / 6)     # 周杰伦 was <unk>: its 3 characters, not 5


def test_refuses_what_does_not_fit():
    with pytest.raises(LyricdemoError, match="must match"):
        bits_per_char([-1.0], ["a", "b"])
    with pytest.raises(LyricdemoError, match="at most 0"):
        bits_per_char([0.5], ["a"])
    with pytest.raises(LyricdemoError, match="no characters"):
        bits_per_char([-1.0], [""])


def _uniform(vocab_size: int):
    """A word model whose every prediction is uniform: each token costs log2(V) bits."""
    model = new_model(ModelConfig(vocab_size=vocab_size, embed_dim=4, hidden_size=4), seed=0)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
    return model


def test_a_word_model_on_a_tiny_text_by_hand(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text("我爱你\n我爱你\n你爱我\n我想你\n", encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f), tokenizer="word", val_fraction=0.5, min_freq=1, clean="none"))
    V = len(ds.vocab)
    targets = ds.val_tokens[1:]                          # the first token is only read
    chars = sum(len(t) for t in targets)                 # each line break is one character
    assert chars == len("".join(ds.val_lines[:])) + len(ds.val_lines) - len(ds.val_tokens[0])
    got = measure(_uniform(V), ds)
    assert got.tokens == len(targets) and got.chars == chars
    assert got.bits_per_char == pytest.approx(len(targets) * math.log2(V) / chars, rel=1e-5)


def test_for_a_char_model_it_is_log2_of_the_perplexity(small_text, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(small_text, encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f), val_fraction=0.3, min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), seed=0)
    assert measure(model, ds).bits_per_char == pytest.approx(math.log2(perplexity(model, ds.val_ids)), rel=1e-5)
    bigram = NGramLM(2, len(ds.vocab)).fit(ds.train_ids)
    assert measure(bigram, ds).bits_per_char == pytest.approx(math.log2(bigram.perplexity(ds.val_ids)), rel=1e-9)


# ----------------------------------------------------------------------------- spelled words (unknown_words="chars")
class _Words:
    """A stand-in for jieba whose words are known in advance: the longest match in ``WORDS``, else a character."""

    name = "word"
    WORDS = ("我们", "哈哈", "哈密")

    def tokenize(self, line: str) -> list[str]:
        out, i = [], 0
        while i < len(line):
            w = next((w for w in self.WORDS if line.startswith(w, i)), line[i])
            out.append(w)
            i += len(w)
        return out

    def detokenize(self, tokens) -> str:
        return "".join(tokens)


def _fixed(vocab, probs: dict[str, float]):
    """A model that predicts the same distribution at every step: softmax(bias) = ``probs``."""
    assert sum(probs.values()) == pytest.approx(1.0) and set(probs) == set(vocab.idx_to_token)
    model = new_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, hidden_size=4), seed=0)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.copy_(torch.tensor([math.log(probs[t]) for t in vocab.idx_to_token]))
    return model


def _tiny_words(tmp_path, monkeypatch, unknown_words: str):
    monkeypatch.setattr("lyricdemo.data.get_tokenizer", lambda name: _Words())
    f = tmp_path / "tiny.txt"
    f.write_text("我们爱你\n我们爱你\n哈哈\n你哈密我们\n", encoding="utf-8")
    return load_dataset(DataConfig(source=str(f), tokenizer="word", val_fraction=0.25, min_freq=2, clean="none",
                                   unknown_words=unknown_words))


def test_a_word_model_that_spells_unknown_words_by_hand(tmp_path, monkeypatch):
    ds = _tiny_words(tmp_path, monkeypatch, "chars")
    # training words: 我们 2, 爱 2, 你 2, \n 3, 哈哈 1 (below min_freq: spelled 哈 哈); characters seen twice or
    # more anywhere: 我 们 爱 你 哈 \n -- 我 and 们 only inside 我们, so they are in the vocabulary, never read alone
    assert ds.vocab.idx_to_token == ["<unk>", "\n", "你", "哈", "我们", "爱", "们", "我"]
    # validation 你 哈密 我们 \n: 哈密 is not a word of the vocabulary -> 哈 密, and 密 was never seen -> <unk>
    assert ds.val_tokens == ["你", "哈", "密", "我们", "\n"]
    assert ds.val_ids.tolist() == [2, 3, 0, 4, 1]
    assert (ds.val_words, ds.val_spelled) == (4, 1)
    q = {"<unk>": 1 / 8, "\n": 1 / 4, "你": 1 / 8, "哈": 1 / 8, "我们": 1 / 8, "爱": 1 / 16, "们": 1 / 16, "我": 1 / 8}
    got = measure(_fixed(ds.vocab, q), ds)
    # targets 哈 (3 bits, 1 char), <unk> for 密 (3 bits, 1 char), 我们 (3 bits, 2 chars), \n (2 bits, 1 char)
    assert got.bits == pytest.approx(11.0, rel=1e-5)
    assert (got.tokens, got.chars, got.unk_chars) == (4, 5, 1)
    assert got.bits_per_char == pytest.approx(11 / 5, rel=1e-5)


def test_the_same_text_with_unknown_words_as_unk_by_hand(tmp_path, monkeypatch):
    ds = _tiny_words(tmp_path, monkeypatch, "unk")
    assert ds.vocab.idx_to_token == ["<unk>", "\n", "你", "我们", "爱"]
    assert ds.val_tokens == ["你", "哈密", "我们", "\n"] and ds.val_ids.tolist() == [2, 0, 3, 1]
    assert (ds.val_words, ds.val_spelled) == (4, 0)
    got = measure(_fixed(ds.vocab, {"<unk>": 1 / 4, "\n": 1 / 4, "你": 1 / 4, "我们": 1 / 8, "爱": 1 / 8}), ds)
    # <unk> for 哈密 (2 bits, 2 chars), 我们 (3 bits, 2 chars), \n (2 bits, 1 char): the same 5 characters, 2 of
    # them behind one cheap <unk>
    assert got.bits == pytest.approx(7.0, rel=1e-5)
    assert (got.tokens, got.chars, got.unk_chars) == (3, 5, 2)
