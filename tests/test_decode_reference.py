"""The fast decoder (generate.generate: Stepper, top-list shortcut, inverse-CDF draw) gives the
same tokens as the thirty-line reference (decode_reference.decode) for the same seed."""

from __future__ import annotations

import pytest
import torch

from lyricdemo.decode_reference import decode
from lyricdemo.generate import DecodeConfig, generate
from lyricdemo.models import ModelConfig, build_model
from lyricdemo.reading import prepare_prefix
from lyricdemo.tokenizers import CharTokenizer, flatten, tokenize_lines
from lyricdemo.vocab import Vocab

LINES = ["月光洒在小河上", "风吹过我的窗", "你在远方唱", "星星一闪一闪亮", "我想你在远方", "明天会更亮"]
CHAR = CharTokenizer()
VOCAB = Vocab(flatten(tokenize_lines(LINES, CHAR)) + ["\n"] * 6, reserved_tokens=["<eos>"])

# (kind, layers, embed_dim, tied): one-hot as d2l, embeddings, two layers, a tied LSTM
MODELS = [("gru", 1, 0, False), ("lstm", 2, 8, False), ("rnn", 1, 8, False), ("lstm", 1, 16, True)]
SETTINGS = [dict(strategy="greedy"),
            dict(strategy="sample", temperature=1.0),
            dict(strategy="sample", temperature=0.8, top_p=0.9),
            dict(strategy="sample", temperature=1.3, top_k=5),
            dict(strategy="sample", temperature=0.7, top_k=8, top_p=0.8)]


pytestmark = pytest.mark.usefixtures("one_thread")


def model_of(kind, layers, embed, tied, seed=0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(vocab_size=len(VOCAB), kind=kind, num_layers=layers, embed_dim=embed,
                                    hidden_size=16, tie_weights=tied))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)                      # peaked distributions: greedy and sampling differ visibly
    return model.eval()


@pytest.mark.parametrize("spec", MODELS, ids=lambda s: f"{s[0]}{s[1]}-e{s[2]}{'-tied' if s[3] else ''}")
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_fast_decoder_matches_the_reference(spec, setting):
    model = model_of(*spec)
    for prefix, seed in (("月光", 0), ("", 7), ("风吹\n我", 12345)):
        cfg = DecodeConfig(length=40, seed=seed, **setting)
        fast = generate(model, VOCAB, CHAR, prefix, cfg)
        ids = list(prepare_prefix(prefix, VOCAB, CHAR).ids)
        ref = decode(model, VOCAB, ids, 40, greedy=setting["strategy"] == "greedy",
                     temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, seed=seed)
        assert list(fast.candidates[0].ids) == ref, (prefix, seed)


def test_seeds_matter_and_the_reference_never_writes_specials():
    model = model_of("gru", 1, 0, False)
    a = decode(model, VOCAB, [VOCAB["月"]], 60, greedy=False, seed=1)
    b = decode(model, VOCAB, [VOCAB["月"]], 60, greedy=False, seed=2)
    assert a != b
    assert not {VOCAB["<unk>"], VOCAB["<eos>"]} & set(a + b)
