"""Starting from another model's weights (``lyricdemo/transfer.py``, ``train --init-from``): rows indexed by token
move by token, new tokens start from the source's <unk>, the rest is copied, a mismatch is a clear error."""

from __future__ import annotations

import pytest
import torch

from lyricdemo.__main__ import main
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.train import new_model
from lyricdemo.transfer import starting_config, transfer
from lyricdemo.vocab import Vocab

pytestmark = pytest.mark.usefixtures("keep_threads")

SOURCE_TEXT = list("我爱你我想你你在哪里风吹过我的窗")
TARGET_TEXT = list("你在远方我在窗前月光")          # 远 方 前 月 光: unknown to the source
SMALL = ["--embed", "8", "--hidden", "16", "--batch", "4", "--steps", "8", "--min-freq", "1", "--minutes", "0",
         "--eval-every", "5", "--sample-length", "5", "--quiet", "--max-steps", "3", "--adaptive"]


def pair(embed_dim=8, **target):
    sv, tv = Vocab(SOURCE_TEXT), Vocab(TARGET_TEXT)
    s = new_model(ModelConfig(vocab_size=len(sv), embed_dim=embed_dim, hidden_size=12), seed=1)
    t = new_model(ModelConfig(vocab_size=len(tv), embed_dim=embed_dim, hidden_size=12, dropout_out=0.3, **target),
                  seed=2)
    return s, sv, t, tv


@pytest.mark.parametrize("embed_dim", [8, 0])
def test_rows_move_by_token_new_tokens_start_from_unk_and_the_recurrent_weights_are_copied(embed_dim):
    s, sv, t, tv = pair(embed_dim)
    moved = transfer(s, sv, t, tv)
    src, dst = s.state_dict(), t.state_dict()
    new = [tok for tok in tv.idx_to_token if tok not in sv.token_to_idx]
    assert sorted(new) == sorted("远方前月光") and moved.shared == len(tv) - 5 and moved.vocab == len(tv)
    if embed_dim:
        rows = ("embedding.weight", 0), ("decoder.weight", 0), ("decoder.bias", 0)
    else:                                                           # one-hot input: a column of W_ih per token
        rows = ("rnn.weight_ih_l0", 1), ("decoder.weight", 0), ("decoder.bias", 0)
    for name, dim in rows:
        for tok in tv.idx_to_token:
            i = sv.token_to_idx.get(tok, sv.unk)                    # a new token: the source's <unk>
            assert torch.equal(dst[name].select(dim, tv.token_to_idx[tok]), src[name].select(dim, i)), (name, tok)
    assert torch.equal(dst["rnn.weight_hh_l0"], src["rnn.weight_hh_l0"])
    assert t.config.dropout_out == 0.3                              # the target keeps its own regularization


def test_on_tokens_both_know_the_fine_tuned_model_starts_out_predicting_as_its_source():
    sv = Vocab(SOURCE_TEXT)
    tv = Vocab(list("我你在风窗"))                                    # every token known to the source
    s = new_model(ModelConfig(vocab_size=len(sv), embed_dim=8, hidden_size=12), seed=1).eval()
    t = new_model(ModelConfig(vocab_size=len(tv), embed_dim=8, hidden_size=12), seed=2).eval()
    transfer(s, sv, t, tv)
    text = list("我在风窗你")
    with torch.no_grad():
        ls, _ = s(torch.tensor([sv.encode(text)]))
        lt, _ = t(torch.tensor([tv.encode(text)]))
    assert torch.allclose(lt, ls[..., sv.encode(tv.idx_to_token)], atol=1e-6)


def test_a_different_architecture_is_a_clear_error():
    s, sv, _, tv = pair()
    wider = new_model(ModelConfig(vocab_size=len(tv), embed_dim=8, hidden_size=24), seed=2)
    with pytest.raises(LyricdemoError, match="hidden_size 12 against 24"):
        transfer(s, sv, wider, tv)
    lstm = new_model(ModelConfig(vocab_size=len(tv), embed_dim=8, hidden_size=12, kind="lstm"), seed=2)
    with pytest.raises(LyricdemoError, match="kind 'gru' against 'lstm'"):
        transfer(s, sv, lstm, tv)
    adaptive = new_model(ModelConfig(vocab_size=len(tv), embed_dim=8, hidden_size=12, adaptive_cutoffs=(4,)), seed=2)
    with pytest.raises(LyricdemoError, match=r"adaptive_cutoffs \(\) against \(4,\)"):
        transfer(s, sv, adaptive, tv)               # a full softmax's rows move by token into a full softmax only


@pytest.mark.parametrize("target_words", [40, 8])
def test_between_vocabularies_an_adaptive_softmax_starts_afresh_and_the_rest_moves(target_words):
    """Its rows are grouped by frequency rank, which differs between corpora: the new model's output layer keeps its
    random start (the source's cutoffs where they fit the new vocabulary, else the full softmax); the embedding rows
    move by token and the recurrent weights are copied, as for a full softmax."""
    big = Vocab([f"{i}" for i in range(40)] * 2)
    other = Vocab([f"{i}" for i in range(1, target_words + 1)] * 2 + ["new"] * 2)
    source = new_model(ModelConfig(vocab_size=len(big), embed_dim=8, hidden_size=16, adaptive_cutoffs=(10,)), seed=1)
    cfg = starting_config(source, big, ModelConfig(vocab_size=len(other), embed_dim=4, hidden_size=32), other)
    assert (cfg.embed_dim, cfg.hidden_size) == (8, 16)
    assert cfg.adaptive_cutoffs == ((10,) if target_words == 40 else ())     # 10 does not fit 10 tokens
    target = new_model(cfg, seed=2)
    start = {k: v.clone() for k, v in target.state_dict().items()}
    moved = transfer(source, big, target, other)
    assert moved.fresh_output and "the output layer starts from random weights" in moved.line()
    # <unk> and the numbers the source knew (0-39): not "new", nor "40"
    assert moved.shared == {40: 40, 8: 9}[target_words] and moved.vocab == len(other)
    after, src = target.state_dict(), source.state_dict()
    output = [k for k in after if k.startswith(("adaptive.", "decoder."))]
    assert output and all(torch.equal(after[k], start[k]) for k in output)
    assert torch.equal(after["rnn.weight_hh_l0"], src["rnn.weight_hh_l0"])
    for tok in other.idx_to_token:
        i = big.token_to_idx.get(tok, big.unk)
        assert torch.equal(after["embedding.weight"][other.token_to_idx[tok]], src["embedding.weight"][i]), tok
    assert len(target(torch.tensor([[1, 2]]))[0][0, -1]) == len(other)          # it predicts the new vocabulary


def test_the_same_vocabulary_copies_every_weight_an_adaptive_softmax_included():
    v = Vocab([f"{i}" for i in range(40)] * 2)
    cfg = ModelConfig(vocab_size=len(v), embed_dim=8, hidden_size=16, adaptive_cutoffs=(10,))
    s, t = new_model(cfg, seed=1).eval(), new_model(cfg, seed=2).eval()
    moved = transfer(s, v, t, Vocab([f"{i}" for i in range(40)] * 2))
    assert moved.shared == len(v) and moved.tensors == len(s.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(s.state_dict().values(), t.state_dict().values()))


def test_the_train_command_fine_tunes_a_checkpoint_trained_on_another_text(tmp_path, capsys):
    (tmp_path / "a.txt").write_text(("".join(SOURCE_TEXT) + "\n") * 20, encoding="utf-8")
    (tmp_path / "b.txt").write_text(("".join(TARGET_TEXT) + "\n") * 20, encoding="utf-8")
    assert main(["train", "--file", str(tmp_path / "a.txt"), *SMALL, "--out", str(tmp_path / "pre")]) == 0
    capsys.readouterr()
    assert main(["train", "--file", str(tmp_path / "b.txt"), *SMALL, "--init-from", str(tmp_path / "pre"),
                 "--hidden", "16", "--out", str(tmp_path / "fine")]) == 0
    out = capsys.readouterr().out
    assert "starting from" in out and "start from its <unk>" in out and "a.txt" in out
    pre, fine = load_checkpoint(tmp_path / "pre"), load_checkpoint(tmp_path / "fine")
    assert fine.model.config.hidden_size == pre.model.config.hidden_size == 16
    assert "远" in fine.vocab.token_to_idx and "--init-from" in fine.meta["command"]
    # without architecture flags: the recipe's sizes give way to the source's, and the output says which
    bare = [a for i, a in enumerate(SMALL) if a not in ("--embed", "--hidden") and SMALL[i - 1] not in ("--embed", "--hidden")]
    assert main(["train", "--file", str(tmp_path / "b.txt"), *bare, "--init-from", str(tmp_path / "pre"),
                 "--out", str(tmp_path / "bare")]) == 0
    assert "its architecture replaces the recipe's" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "bare").model.config.hidden_size == 16
    # an explicit flag that contradicts the source's architecture: a message, nothing trained
    assert main(["train", "--file", str(tmp_path / "b.txt"), *SMALL, "--init-from", str(tmp_path / "pre"),
                 "--hidden", "32"]) == 2
    assert "hidden_size 32" in capsys.readouterr().err


def test_the_train_command_starts_the_output_layer_afresh_from_an_adaptive_softmax(tmp_path, capsys):
    """A source with an adaptive softmax fine-tunes on another text: the output says its output layer starts from
    random weights, and the new model keeps the source's cutoffs where they fit its vocabulary."""
    (tmp_path / "a.txt").write_text(("".join(SOURCE_TEXT) + "\n") * 20, encoding="utf-8")
    (tmp_path / "b.txt").write_text(("".join(TARGET_TEXT) + "\n") * 20, encoding="utf-8")
    full = SMALL.index("--adaptive")
    adaptive = [*SMALL[:full], "--adaptive", "6", *SMALL[full + 1:]]
    assert main(["train", "--file", str(tmp_path / "a.txt"), *adaptive, "--out", str(tmp_path / "pre")]) == 0
    capsys.readouterr()
    assert main(["train", "--file", str(tmp_path / "b.txt"), *SMALL[:full], *SMALL[full + 1:], "--init-from",
                 str(tmp_path / "pre"), "--out", str(tmp_path / "fine")]) == 0
    assert "the output layer starts from random weights" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "fine").model.config.adaptive_cutoffs == (6,)
