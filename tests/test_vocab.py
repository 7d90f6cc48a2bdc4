"""Vocab: ids, <unk>, min_freq, determinism, JSON round trip; tokenizers."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyricdemo.errors import LyricdemoError
from lyricdemo.tokenizers import get_tokenizer, tokenize_lines
from lyricdemo.vocab import Vocab


def test_layout_unk_reserved_then_by_frequency():
    v = Vocab(list("baccc"), reserved_tokens=["<pad>", "<bos>"])
    assert v.idx_to_token == ["<unk>", "<pad>", "<bos>", "c", "a", "b"]  # tie a/b: Unicode order
    assert v.unk == 0 and v["zzz"] == 0 and v[["c", "q"]] == [3, 0]
    assert v.token_freqs == [("c", 3), ("a", 1), ("b", 1)]


def test_order_does_not_depend_on_input_order():
    tokens = list("月光洒在小河上月光风吹过窗风")
    shuffled = tokens[:]
    random.Random(1).shuffle(shuffled)
    assert Vocab(tokens).idx_to_token == Vocab(shuffled).idx_to_token


def test_min_freq_drops_exactly_the_rare_tokens():
    tokens = list("aaabbc")
    assert Vocab(tokens, min_freq=2).idx_to_token == ["<unk>", "a", "b"]
    assert Vocab(tokens, min_freq=3).idx_to_token == ["<unk>", "a"]
    v = Vocab(tokens, min_freq=2)
    assert v.encode(list("abc")) == [1, 2, 0]           # c is rare -> <unk>
    assert ("c", 1) in v.token_freqs                    # but still counted


def test_nested_token_lists_are_flattened():
    assert Vocab([["a", "b"], ["b"]]).idx_to_token == ["<unk>", "b", "a"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_min_freq(bad):
    with pytest.raises(LyricdemoError):
        Vocab(["a"], min_freq=bad)


def test_bad_reserved():
    with pytest.raises(LyricdemoError):
        Vocab(["a"], reserved_tokens=["<unk>"])
    with pytest.raises(LyricdemoError):
        Vocab(["a"], reserved_tokens=["<pad>", "<pad>"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=60), st.integers(1, 3))
def test_encode_decode_round_trip_on_in_vocab_text(tokens, min_freq):
    v = Vocab(tokens, min_freq=min_freq)
    kept = [t for t in tokens if t in v]
    assert v.decode(v.encode(kept)) == "".join(kept)
    assert v.to_tokens(v.encode(kept)) == kept
    assert all(i == 0 for t, i in zip(tokens, v.encode(tokens)) if t not in v)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=2), max_size=40), st.integers(1, 3))
def test_json_round_trip_is_exact(tokens, min_freq):
    v = Vocab(tokens, min_freq=min_freq, reserved_tokens=["<eos>"])
    w = Vocab.from_json(v.to_json())
    assert w == v and w.token_to_idx == v.token_to_idx and w.token_freqs == v.token_freqs


def test_decode_refuses_out_of_range_ids():
    with pytest.raises(LyricdemoError, match="outside the vocabulary"):
        Vocab(["a"]).decode([5])


@pytest.mark.parametrize("doc", [
    "not json", json.dumps({"idx_to_token": ["a"], "token_freqs": [], "min_freq": 1}),
    json.dumps({"idx_to_token": ["<unk>", "a", "a"], "token_freqs": [], "min_freq": 1}),
    json.dumps({"token_freqs": []}),
])
def test_malformed_json_is_refused(doc):
    with pytest.raises(LyricdemoError):
        Vocab.from_json(doc)


def test_unknown_positions():
    v = Vocab(list("你好"))
    assert v.unknown_positions(list("你们好😀")) == [1, 3]


# ------------------------------------------------------------------ tokenizers
def test_char_tokenizer_and_line_breaks():
    tok = get_tokenizer("char")
    assert tokenize_lines(["你好", "ab"], tok, "token") == [["你", "好", "\n"], ["a", "b", "\n"]]
    assert tokenize_lines(["你好"], tok, "space") == [["你", "好", " "]]
    with pytest.raises(LyricdemoError):
        tokenize_lines(["a"], tok, "crlf")


def test_word_tokens_join_back_into_the_line():
    tok = get_tokenizer("word")
    for line in ["我想就这样牵着你的手不放开", "hello  world 你好", "　全角　空格", "a"]:
        words = tok.tokenize(line)
        assert tok.detokenize(words) == line
    assert len(tok.tokenize("我想就这样牵着你的手不放开")) < 13   # words, not characters


def test_unknown_tokenizer():
    with pytest.raises(LyricdemoError, match="Unknown tokenizer"):
        get_tokenizer("bpe")
