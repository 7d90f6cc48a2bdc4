"""A model mixed with an n-gram (lyricdemo/mixture.py): a distribution, no peeking, the same figures on
every path, by hand on a tiny case, and on the shipped cards."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lyricdemo.bits import measure
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.generate import DecodeConfig, generate
from lyricdemo.mixture import NGramMix, mixed_with_ngram
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import NGramLM
from lyricdemo.train import new_model
from lyricdemo.vocab import Vocab

V = 12
REPO = Path(__file__).resolve().parents[1]


def _model() -> torch.nn.Module:
    return new_model(ModelConfig(vocab_size=V, kind="gru", embed_dim=8, hidden_size=16), seed=1).eval()


def _ids(seed: int, n: int) -> torch.Tensor:
    return torch.tensor(np.random.default_rng(seed).integers(0, V, n))


def test_the_mixture_is_a_distribution_and_its_two_paths_agree():
    mix = mixed_with_ngram(_model(), _ids(0, 300), V)
    ids = _ids(1, 60)
    lp, _ = mix(ids[:-1].unsqueeze(0))
    np.testing.assert_allclose(lp.exp().sum(-1).numpy(), 1.0, rtol=1e-5)
    by_forward = lp[0].gather(1, ids[1:, None]).squeeze(1).double().numpy()
    np.testing.assert_allclose(mix.log_probs(ids), by_forward, rtol=1e-4, atol=1e-5)


def test_each_part_counts_by_its_weight_computed_by_hand():
    model, gram = _model(), NGramLM(2, V).fit(_ids(0, 300))
    ids = _ids(2, 40)
    with torch.inference_mode():
        p_model = torch.softmax(model(ids[:-1].unsqueeze(0), model.init_state(1))[0][0].float(), -1)
    p_model = p_model.gather(1, ids[1:, None]).squeeze(1).double().numpy()
    p_gram = np.exp(gram.log_probs(ids))
    for w in (0.2, 0.5, 0.9):
        np.testing.assert_allclose(np.exp(NGramMix(model, gram, w).log_probs(ids)), w * p_model + (1 - w) * p_gram,
                                   rtol=1e-5)


def test_changing_future_text_never_changes_a_past_prediction():
    mix = mixed_with_ngram(_model(), _ids(0, 300), V, order=3)
    a = _ids(3, 120)
    b, cut = a.clone(), 70
    b[cut:] = (a[cut:] + 1) % V
    la, lb = mix.log_probs(a), mix.log_probs(b)
    np.testing.assert_array_equal(la[:cut - 1], lb[:cut - 1])      # targets 1..cut-1 read ids[..cut-2] at most
    assert not np.array_equal(la[cut - 1:], lb[cut - 1:])


def test_bad_mixtures_are_refused_in_words():
    gram = NGramLM(2, V).fit(_ids(0, 50))
    for w in (0.0, 1.0, 1.5):
        with pytest.raises(LyricdemoError, match="strictly between 0 and 1"):
            NGramMix(_model(), gram, w)
    with pytest.raises(LyricdemoError, match="one vocabulary"):
        NGramMix(_model(), NGramLM(2, V + 1).fit(_ids(0, 50)), 0.5)
    with pytest.raises(LyricdemoError, match="bidirectional"):
        NGramMix(new_model(ModelConfig(vocab_size=V, hidden_size=8, bidirectional=True)), gram)


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
def test_generate_from_the_mixture(strategy):
    vocab = Vocab(list("abcdefghijk"))
    model = new_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=16), seed=0)
    mix = mixed_with_ngram(model, torch.tensor(vocab[list("abcabcabdabcabc" * 5)]), len(vocab))
    g = generate(mix, vocab, "char", "abc", DecodeConfig(strategy=strategy, length=20, seed=0, beam_width=3))
    assert len(g.continuation) == 20 and all(0 < s.prob <= 1 for s in g.steps)


@pytest.mark.parametrize("name", ["char-gru", "char-lstm", "char-rnn"])
def test_the_shipped_char_models_mixed_with_their_trigram_beat_both_parts(name):
    """The cards' figures (python -m lyricdemo card): a network level with the bigram or a little below it alone,
    yet mixed half and half with the trigram well below the bigram and the trigram -- they err differently."""
    card = json.loads((REPO / "checkpoints" / name / "checkpoint.json").read_text(encoding="utf-8"))["card"]
    mix, base = card["mixture"], card["baselines"]
    assert (mix["order"], mix["weight"]) == (3, 0.5)
    assert mix["val_ppl"] < 0.9 * min(base["trigram"], card["val_ppl"])
    assert mix["val_ppl"] / base["bigram"] <= 0.87, mix
    assert mix["bits_per_char"] == pytest.approx(math.log2(mix["val_ppl"]), rel=1e-6)
    # with song memory over the mixture (the copy cache), below the model and the bigram given the same memory (the
    # char GRU: 23.7 against 24.9 and 26.1; 5% below both before its soft targets taught it part of the counts)
    mem = card["memory"]
    assert mix["val_ppl_memory"] < min(mem["model"]["val_ppl_memory"], mem["bigram"]["val_ppl_memory"]) * 0.97
    assert mix["memory_config"]["continuous"] is False


def test_bits_of_the_mixture_on_a_real_split(small_text, tmp_path):
    f = tmp_path / "lyrics.txt"
    f.write_text(small_text * 4, encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(f), val_fraction=0.3, min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16), seed=0).eval()
    mix = mixed_with_ngram(model, ds.train_ids, len(ds.vocab))
    b = measure(mix, ds)
    assert b.tokens == len(ds.val_ids) - 1
    assert b.bits == pytest.approx(-mix.log_probs(ds.val_ids).sum() / math.log(2), rel=1e-6)


def test_the_model_info_says_whether_the_mixture_beats_the_model_alone():
    from lyricdemo.ui.tab_generate import mixture_text

    card = {"val_ppl": 188.6, "baselines": {"bigram": 186.4}, "mixture": {"val_ppl": 146.4, "order": 3, "weight": 0.5}}
    assert "0.79× the bigram, below the bigram; better than the model alone" in mixture_text(card)
    strong = {"val_ppl": 114.7, "baselines": {"bigram": 201.8}, "mixture": {"val_ppl": 119.5, "order": 3, "weight": 0.5}}
    assert "no better than the model alone" in mixture_text(strong) and "不比模型单独好" in mixture_text(strong)
    assert mixture_text({"val_ppl": 1.0}) == ""


# ----------------------------------------------------------------------------- tab 3's switch (handlers, no server)
from test_ui_memory import shipped  # noqa: E402,F401  -- the fixture: a tiny shipped checkpoint and its corpus


def test_tab3_generates_from_the_mixture_and_says_so(shipped):  # noqa: F811
    import gradio as gr

    from lyricdemo.__main__ import main
    from lyricdemo.corpus import read_corpus_bytes
    from lyricdemo.ui import resources, tab_generate

    root, s = shipped
    with pytest.raises(gr.Error, match="needs the model's training text"):   # this session's upload is another text
        list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "greedy", mix=True))
    s.upload = read_corpus_bytes((root / "tiny-gru.txt").read_bytes(), "tiny-gru.txt")     # its own text, here
    plain = list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "sample", seed=3))[-1][6]
    mixed = list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "sample", seed=3, mix=True))[-1][6]
    assert (plain["mixed_with_trigram"], mixed["mixed_with_trigram"]) == (False, True)
    assert mixed["tokens"] == 12
    with pytest.raises(gr.Error, match="Mix in the trigram"):
        list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "greedy", mix="yes"))
    assert main(["card", "--checkpoint", str(root / "tiny-gru")]) == 0      # memory settings and the mixture figure
    resources.clear_caches()
    both = list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "greedy", memory=True, mix=True))[-1][6]
    assert both["song_memory"] and both["mixed_with_trigram"]
    assert "Mixed half and half with its trigram" in tab_generate.model_info(s, "shipped:tiny-gru")
