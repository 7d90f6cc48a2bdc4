"""Song memory: no peeking, the incremental memory equals the evaluation path, fair tuning, generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lyricdemo import memory as M
from lyricdemo import memory_tuning as MT
from lyricdemo.errors import LyricdemoError
from lyricdemo.generate import DecodeConfig, generate
from lyricdemo.models import ModelConfig
from lyricdemo.ngram import NGramLM
from lyricdemo.train import new_model
from lyricdemo.vocab import Vocab

V = 12


def _model(kind: str = "gru") -> torch.nn.Module:
    return new_model(ModelConfig(vocab_size=V, kind=kind, embed_dim=8, hidden_size=16), seed=1).eval()


def _song(seed: int = 0, n: int = 160) -> torch.Tensor:
    """A made-up 'song' of ids: a random verse and a chorus that comes back."""
    rng = np.random.default_rng(seed)
    chorus = rng.integers(1, V, 12).tolist()
    out: list[int] = []
    while len(out) < n:
        out += rng.integers(1, V, 9).tolist() + chorus
    return torch.tensor(out[:n])


def _config(**kw) -> M.MemoryConfig:
    rows = tuple((0.5, 0.2, 0.3) if b else (0.7, 0.3, 0.0) for b in M.MATCH_BUCKETS)
    return M.MemoryConfig(**{"window": 50, "beta": 1.0, "theta": 10.0, "weights": rows, **kw})


@pytest.mark.parametrize("dynamic_lr", [0.0, 0.5])
@pytest.mark.parametrize("model_kind", ["gru", "lstm", "bigram"])
def test_changing_future_text_never_changes_a_past_prediction(model_kind, dynamic_lr):
    model = NGramLM(2, V).fit(_song(5, 300)) if model_kind == "bigram" else _model(model_kind)
    a = _song(0)
    cut = 97                                          # targets 1..cut are predicted from ids[0..cut-1]
    b = a.clone()
    b[cut:] = torch.tensor(np.random.default_rng(9).integers(0, V, len(a) - cut))
    assert not torch.equal(a[cut:], b[cut:])
    cfg = _config(dynamic_lr=dynamic_lr, continuous=model_kind != "bigram")
    plain_a, mem_a = MT.memory_log_probs(model, a, cfg)
    plain_b, mem_b = MT.memory_log_probs(model, b, cfg)
    # prediction t is of ids[t + 1]: those of targets before the cut read only ids[..cut-1]
    np.testing.assert_array_equal(mem_a[:cut - 1], mem_b[:cut - 1])
    np.testing.assert_array_equal(plain_a[:cut - 1], plain_b[:cut - 1])
    assert not np.array_equal(mem_a[cut - 1:], mem_b[cut - 1:])   # and the later ones did change


def test_the_memory_learns_the_chorus():
    model = _model()
    song = _song(3, 400)
    plain, mem = MT.memory_log_probs(model, song, _config())
    assert mem.mean() > plain.mean() + 0.5           # a random model knows nothing; the memory knows the chorus


def test_the_incremental_memory_equals_the_evaluation_path():
    """SongMemory (generation, the app) and components/mixed_log_probs (evaluation) agree."""
    model, song, cfg = _model(), _song(1, 120), _config(window=40)
    _, mixed = MT.memory_log_probs(model, song, cfg)
    with torch.inference_mode():
        y, _ = model.features(song[None], None)                  # (1, T, F)
        probs = model.log_probs_of(y)[0].exp().double().numpy()  # (T, V)
    mem = M.SongMemory(cfg, V)
    for t in range(len(song) - 1):
        mem.read(int(song[t]), y[0, t].numpy())
        p = mem.mix(probs[t])
        assert p.sum() == pytest.approx(1.0, abs=1e-6)
        assert np.log(p[int(song[t + 1])]) == pytest.approx(mixed[t], abs=1e-5)


@pytest.mark.parametrize("window", [3, 40, 1000])
@pytest.mark.parametrize("cache", ["copy", "continuous"])
def test_the_whole_text_path_equals_the_incremental_memory_past_the_longest_match(window, cache, monkeypatch):
    """components() measures every position against its whole window at once (blocks of positions,
    the matches found along diagonals); SongMemory reads token by token.  A 70-token chorus makes
    matches longer than MAX_MATCH, and 600 tokens span several blocks."""
    rng = np.random.default_rng(4)
    chorus = rng.integers(1, V, M.MAX_MATCH + 6).tolist()
    ids: list[int] = []
    while len(ids) < 600:
        ids += rng.integers(1, V, 25).tolist() + chorus
    song = torch.tensor(ids[:600])
    only = (0.1, 0.0, 0.9) if cache == "copy" else (0.1, 0.9, 0.0)
    cfg = M.MemoryConfig(window=window, beta=2.0, theta=20.0, weights=tuple(only for _ in M.MATCH_BUCKETS))
    model = _model()
    monkeypatch.setattr(MT, "BLOCK", 64)                       # several blocks of positions, each with a window
    _, mixed = MT.memory_log_probs(model, song, cfg)
    with torch.inference_mode():
        y, _ = model.features(song[None], None)
        probs = model.log_probs_of(y)[0].exp().double().numpy()
    mem = M.SongMemory(cfg, V)
    for t in range(len(song) - 1):
        mem.read(int(song[t]), y[0, t].numpy())
        p = mem.mix(probs[t])
        assert np.log(p[int(song[t + 1])]) == pytest.approx(mixed[t], abs=1e-5), t   # float32 model, cosines
    if window > len(chorus) + 25:                                # the chorus came back whole: matched up to the cap
        assert MT.components(song.numpy(), np.zeros(len(song) - 1), None, window).longest.max() == M.MAX_MATCH


def test_trimming_keeps_the_window_exact():
    """The incremental memory trims old positions; what lies in the window is unchanged."""
    song = _song(2, 200)
    cfg = _config(window=10, continuous=False)
    model = NGramLM(1, V).fit(song)
    _, mixed = MT.memory_log_probs(model, song, cfg)
    mem, uniform = M.SongMemory(cfg, V), np.full(V, 1 / V)
    probs = np.exp(model.log_probs(song))
    for t in range(len(song) - 1):
        mem.read(int(song[t]))
        p = mem.mix(model.prob_vector(()))
        assert np.log(p[int(song[t + 1])]) == pytest.approx(mixed[t], abs=1e-9)
    assert len(mem.ids) <= 2 * (cfg.window + 1) and probs.shape == (len(song) - 1,) and uniform.sum() > 0


def test_sources_name_the_earlier_positions_that_voted():
    song = _song(4, 60).tolist()
    mem = M.SongMemory(_config(window=100, continuous=False), V)
    for tok in song[:-1]:
        mem.read(tok)
    src = mem.sources(song[-1])
    assert src and all(song[s["position"] + 1] == song[-1] for s in src)
    assert src[0]["match"] >= 3 and src[0]["cache"] == "copy"
    assert [s["share"] for s in src] == sorted((s["share"] for s in src), reverse=True)


def test_fit_weights_rows_are_distributions_and_favour_the_better_cache():
    rng = np.random.default_rng(0)
    n = 2000
    longest = rng.integers(0, 12, n)
    pm = np.full(n, 0.1)
    pk = np.where(longest > 3, 0.9, 0.01)
    lam = MT.fit_weights(pm, None, pk, longest)
    assert np.allclose(lam.sum(1), 1.0) and (lam >= 0).all()
    assert lam[0, 2] == 0 and (lam[:, 1] == 0).all()             # no match: no copy; no features: no continuous
    assert lam[M.bucket_of(9), 2] > 0.9 > lam[M.bucket_of(1), 2]


def test_choose_memory_tunes_on_the_slice_it_is_given():
    model, song = _model(), _song(6, 300)
    ch = MT.choose_memory(model, song, dynamic_lrs=(0.0, 0.3), windows=(20, 80), betas=(1.0,), thetas=(10.0,))
    assert len(ch.tried) == 4 and ch.tuning_ppl == min(t["ppl"] for t in ch.tried)
    assert ch.tuning_ppl < ch.plain_ppl
    again = MT.perplexities(model, song, ch.config)[1]            # the chosen config, measured again
    assert again == pytest.approx(ch.tuning_ppl, rel=1e-6)


def test_dynamic_evaluation_is_kept_only_where_it_helps_on_the_slice(monkeypatch):
    """choose_dynamic (the cards' and evaluate --memory's figure with dynamic evaluation too) searches its rates
    against the choice without them, on the same slice: an untrained model learns the song and keeps a rate; a
    rate that wrecks the weights is dropped; a count model, with no weights to adapt, keeps the choice without."""
    model, song = _model(), _song(6, 300)
    before = [p.detach().clone() for p in model.parameters()]
    without = MT.choose_memory(model, song)
    assert without.config.dynamic_lr == 0.0
    monkeypatch.setattr(MT, "DYNAMIC_LR_GRID", (0.3, 1.0))
    dyn = MT.choose_dynamic(model, song, without)
    assert dyn.config.dynamic_lr in (0.3, 1.0) and dyn.tuning_ppl < without.tuning_ppl
    assert dyn.plain_ppl == without.plain_ppl
    assert MT.perplexities(model, song, dyn.config)[1] == pytest.approx(dyn.tuning_ppl, rel=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))     # a copy learned, not the model
    monkeypatch.setattr(MT, "DYNAMIC_LR_GRID", (1000.0,))
    assert MT.choose_dynamic(model, song, without) is without
    bigram = NGramLM(2, V).fit(_song(8, 300))
    plain = MT.choose_memory(bigram, song)
    assert MT.choose_dynamic(bigram, song, plain) is plain


def test_ngram_models_get_the_copy_cache():
    song = _song(7, 300)
    bigram = NGramLM(2, V).fit(_song(8, 300))
    ch = MT.choose_memory(bigram, song, windows=(50,), betas=(1.0,))
    assert not ch.config.continuous and ch.config.dynamic_lr == 0.0
    plain, mem = MT.perplexities(bigram, song, ch.config)
    assert mem < plain


def test_config_checks_and_round_trip():
    cfg = _config(dynamic_lr=0.3)
    assert M.MemoryConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(LyricdemoError, match="window"):
        M.MemoryConfig(window=0)
    with pytest.raises(LyricdemoError, match="summing to 1"):
        M.MemoryConfig(weights=tuple((0.5, 0.5, 0.5) for _ in M.MATCH_BUCKETS))
    with pytest.raises(LyricdemoError, match="bidirectional"):
        M.MemoryLM(new_model(ModelConfig(vocab_size=V, hidden_size=8, bidirectional=True)), cfg)


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
def test_generate_with_memory(strategy):
    vocab = Vocab(list("abcdefghijk"))
    model = new_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=16), seed=0)
    lm = M.MemoryLM(model, _config(window=30))
    cfg = DecodeConfig(strategy=strategy, length=30, seed=0, beam_width=3, num_candidates=2)
    g = generate(lm, vocab, "char", "abcabcabc", cfg)
    assert len(g.continuation) == 30
    for s in g.steps:                                  # the steps report the distribution with memory
        assert 0 < s.prob <= 1
    plain = generate(model, vocab, "char", "abcabcabc", cfg)
    assert plain.steps[0].prob != pytest.approx(g.steps[0].prob)


def test_trace_names_the_chorus_and_reads_nothing_after_the_position():
    model, song = _model(), _song(4, 80)
    tokens = [chr(0x4e00 + int(i)) for i in song]
    cfg = _config(window=100)
    at = 2 * 21 + 15                                  # inside the third chorus (verse 9 + chorus 12 = 21 ids)
    tr = M.trace(model, song.tolist(), tokens, at, cfg)
    assert tr.target == tokens[at + 1] and 0 < tr.model_prob < tr.memory_prob <= 1
    assert tr.sources and all(int(song[s["position"] + 1]) == int(song[at + 1]) for s in tr.sources)
    assert tr.longest_match >= 6
    changed = song.clone()
    changed[at + 2:] = (changed[at + 2:] + 1) % V
    again = M.trace(model, changed.tolist(), tokens, at, cfg)
    assert again.memory_prob == tr.memory_prob and again.sources == tr.sources
    assert M.trace(model, song.tolist(), tokens, len(song) - 1, cfg).target is None
    with pytest.raises(LyricdemoError, match="position"):
        M.trace(model, song.tolist(), tokens, len(song), cfg)


@pytest.mark.parametrize("name", ["char-gru", "char-lstm", "char-rnn", "word-gru"])
def test_the_shipped_cards_carry_bits_and_song_memory(name):
    """The figures measured on each shipped card (python -m lyricdemo card): the goal of <= 35 with memory
    for the char models, and where each model with memory stands against the modified-KN bigram given the
    same memory (the caches: GRU 0.95x, LSTM 0.98x, RNN 0.99x, word GRU 0.98x; with dynamic evaluation too, the
    char GRU 0.92x) -- issue 16's goal of <= 0.70x is not met (bench/RESULTS.md, "Song memory")."""
    import json
    from pathlib import Path

    card = json.loads((Path(__file__).resolve().parents[1] / "checkpoints" / name / "checkpoint.json")
                      .read_text(encoding="utf-8"))["card"]
    mem, bits = card["memory"], card["bits"]
    assert mem["model"]["val_ppl"] == pytest.approx(card["val_ppl"], rel=1e-6)
    ratio = mem["model"]["val_ppl_memory"] / mem["bigram"]["val_ppl_memory"]
    assert ratio <= {"char-gru": 0.96, "char-lstm": 0.98, "char-rnn": 1.0, "word-gru": 0.99}[name], ratio
    assert mem["bigram"]["val_ppl_memory"] < mem["bigram"]["val_ppl"] / 5     # the copy cache: most of the gain
    assert mem["bigram"]["config"]["continuous"] is False and mem["bigram"]["config"]["dynamic_lr"] == 0.0
    dyn = mem["model_dynamic"]                           # with dynamic evaluation too, its rate chosen on the slice
    assert dyn["tuning_ppl_memory"] <= mem["model"]["tuning_ppl_memory"]
    assert dyn["config"]["dynamic_lr"] in (0.0,) + MT.DYNAMIC_LR_GRID and dyn["val_ppl"] == mem["model"]["val_ppl"]
    if name == "char-gru":       # issue 16: <= 0.13x the plain bigram with memory (24.1 against 186.4: 0.129x)
        assert dyn["config"]["dynamic_lr"] > 0 and dyn["val_ppl_memory"] <= 0.13 * card["baselines"]["bigram"]
        assert dyn["val_ppl_memory"] / mem["bigram"]["val_ppl_memory"] <= 0.93        # 0.923x; the goal, 0.70x, not met
    if name.startswith("char"):
        assert mem["model"]["val_ppl_memory"] <= 35
        assert bits["model"]["bits_per_char"] == pytest.approx(np.log2(card["val_ppl"]), rel=1e-6)
    assert set(bits) == {"model", "unigram", "bigram", "trigram"}


def test_generation_with_memory_runs_the_model_in_eval_mode():
    vocab = Vocab(list("abcdefghijk"))
    model = new_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, hidden_size=16, dropout_out=0.5), seed=0)
    model.train()
    lm = M.MemoryLM(model, _config(window=30))
    a = generate(lm, vocab, "char", "abc", DecodeConfig(strategy="greedy", length=10)).continuation
    b = generate(lm, vocab, "char", "abc", DecodeConfig(strategy="greedy", length=10)).continuation
    assert a == b and model.training                      # no dropout while generating; the mode given back
