"""Soft targets from the bigram (lyricdemo/soft_targets.py): the cross-fitted bigrams, the loss by hand, the trainer."""

import math

import pytest
import torch
import torch.nn.functional as F

from lyricdemo.errors import LyricdemoError
from lyricdemo.ngram import NGramLM
from lyricdemo.soft_targets import BigramTeacher

SEQ = [1, 2, 3, 1, 2, 4, 1, 2, 3, 0, 4, 4, 1, 3, 2, 1, 2, 3, 0, 1] * 3      # 60 tokens, V = 5


def test_each_folds_bigram_is_the_kneser_ney_bigram_of_the_other_folds():
    t = BigramTeacher(torch.tensor(SEQ), 5, folds=3)
    for k in range(3):
        a, b = len(SEQ) * k // 3, len(SEQ) * (k + 1) // 3
        lm = NGramLM(2, 5).fit(SEQ[:a] + SEQ[b:])
        for v in range(5):
            assert torch.allclose(t.row(v, k).double(), torch.from_numpy(lm.prob_vector((v,))), atol=1e-6)
            assert float(t.row(v, k).sum()) == pytest.approx(1.0, abs=1e-5)
    # a position's fold is the stretch it lies in; the first of each stretch is in it
    assert t.fold_of(torch.tensor([0, 19, 20, 39, 40, 59])).tolist() == [0, 0, 1, 1, 2, 2]


def test_a_token_never_followed_by_anything_in_the_other_folds_backs_off_to_the_unigram():
    seq = [1, 2, 1, 2, 1, 2, 1, 2, 3, 1]                   # 3 is followed only in the last fold
    t = BigramTeacher(torch.tensor(seq), 4, folds=2)
    lm = NGramLM(2, 4).fit(seq[:5])
    assert torch.allclose(t.row(3, 1).double(), torch.from_numpy(lm.prob_vector(())), atol=1e-6)


def test_the_expected_log_probability_and_the_loss_match_a_dense_computation():
    torch.manual_seed(0)
    t = BigramTeacher(torch.tensor(SEQ), 5, folds=3)
    logp = F.log_softmax(torch.randn(2, 4, 5), -1)
    cur = torch.tensor([[1, 2, 3, 0], [4, 4, 1, 3]])
    pos = torch.tensor([[1, 2, 3, 4], [30, 31, 58, 59]])
    got = t.expected(logp, cur, pos)
    for i in range(2):
        for j in range(4):
            q = t.row(int(cur[i, j]), int(t.fold_of(pos[i, j:j + 1])))
            assert float(got[i, j]) == pytest.approx(float((q * logp[i, j]).sum()), abs=1e-5)

    class Fixed(torch.nn.Module):                  # a "model" whose log-probabilities are logp
        def features(self, X, state=None):
            return logp, state

        def logits_of(self, y):
            return y

    Y = torch.tensor([[2, 3, 1, 4], [4, 1, 3, 2]])
    loss, nll, _ = t.loss(Fixed(), cur, Y, pos, 0.3)
    ce = -logp.gather(-1, Y[..., None]).mean()
    assert float(nll) == pytest.approx(float(ce), abs=1e-6)
    assert float(loss) == pytest.approx(0.7 * float(ce) - 0.3 * float(got.mean()), abs=1e-6)
    # share 0 is plain cross-entropy
    assert float(t.loss(Fixed(), cur, Y, pos, 0.0)[0]) == pytest.approx(float(ce), abs=1e-6)


def test_too_short_a_text_is_refused_clearly():
    with pytest.raises(LyricdemoError, match="at least 10 training tokens"):
        BigramTeacher(torch.tensor([1, 2, 3]), 4)


def test_the_trainer_learns_from_soft_targets_and_reports_the_cross_entropy_on_the_next_token():
    from lyricdemo.corpus import read_corpus_bytes
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.models import ModelConfig
    from lyricdemo.train import Trainer, TrainConfig, new_model

    lyric = "月光洒在小河上\n风吹过我的窗\n你在远方唱\n星星一闪一闪亮\n我想你在远方\n"
    ds = load_dataset(DataConfig(min_freq=1, val_fraction=0.1), raw=read_corpus_bytes((lyric * 30).encode(), "t.txt"))

    def run(share):
        m = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=16, hidden_size=32, dropout_out=0.3), 0)
        tr = Trainer(m, ds, TrainConfig(batch_size=4, num_steps=8, max_seconds=0, max_steps=12, eval_every=6,
                                        sample_length=0, soft_targets=share))
        events = list(tr.run())
        return tr, [e.loss for e in events if e.kind == "progress"], events[-1]

    plain, soft = run(0.0), run(0.5)
    assert plain[0].teacher is None and soft[0].teacher is not None
    # the same first batch, weights and dropout: the reported figure is the same cross-entropy ...
    assert soft[1][0] == pytest.approx(plain[1][0], rel=1e-6)
    # ... and the soft targets moved the weights another way
    assert soft[1][1] != pytest.approx(plain[1][1], rel=1e-6)
    assert soft[2].kind == "done" and math.isfinite(soft[2].best_val_ppl)
