"""The Trainer: events, clipping, state carrying, divergence, stopping, resume, learning."""

from __future__ import annotations

import math
import time

import pytest
import torch

from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.train import Trainer, TrainConfig, new_model, perplexity

LYRIC = "月光洒在小河上\n风吹过我的窗\n你在远方唱\n星星一闪一闪亮\n我想你在远方\n"


@pytest.fixture(scope="module")
def ds():
    raw = read_corpus_bytes((LYRIC * 30).encode(), "tiny.txt")
    return load_dataset(DataConfig(min_freq=1, val_fraction=0.1), raw=raw)


def model_for(ds, **kw):
    cfg = dict(vocab_size=len(ds.vocab), kind="gru", embed_dim=16, hidden_size=32)
    cfg.update(kw)
    return new_model(ModelConfig(**cfg), seed=0)


def cfg(**kw):
    base = dict(batch_size=4, num_steps=8, max_seconds=0, max_steps=20, eval_every=10, sample_length=6)
    base.update(kw)
    return TrainConfig(**base)


def test_events_in_order(ds):
    events = list(Trainer(model_for(ds), ds, cfg()).run())
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[1] == "baselines" and kinds[-1] == "done"
    assert kinds.count("progress") == 20 and kinds.count("evaluation") == 2
    progress = [e for e in events if e.kind == "progress"]
    assert [p.step for p in progress] == list(range(1, 21))
    assert all(p.tokens_per_s > 0 and p.grad_norm > 0 and p.eta is not None for p in progress)
    ev = [e for e in events if e.kind == "evaluation"][-1]
    assert ev.val_ppl > 1 and ev.train_eval_ppl > 1 and ev.best_val_ppl <= ev.val_ppl
    samples = [e for e in events if e.kind == "sample"]
    assert {s.prefix for s in samples} == {"分开", "不分开"}
    assert events[-1].reason == "steps" and events[-1].step == 20
    assert set(events[1].perplexities) == {"unigram", "bigram", "trigram"}


def test_clipping_bounds_the_global_gradient_norm(ds):
    tr = Trainer(model_for(ds), ds, cfg(clip_theta=0.01, max_steps=3, sample_length=0))
    norms = [e.grad_norm for e in tr.run() if e.kind == "progress"]
    assert min(norms) > 0.01                                    # reported: the norm before clipping
    grads = [p.grad for p in tr.model.parameters() if p.grad is not None]
    after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert after <= 0.01 * (1 + 1e-4)                          # what the optimizer used: clipped


def test_clipping_off_leaves_gradients(ds):
    tr = Trainer(model_for(ds), ds, cfg(clip=False, clip_theta=0.01, max_steps=2, sample_length=0))
    norms = [e.grad_norm for e in tr.run() if e.kind == "progress"]
    grads = [p.grad for p in tr.model.parameters() if p.grad is not None]
    after = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    assert after == pytest.approx(norms[-1], rel=1e-4) and after > 0.01


class Recorder:
    """Wraps model.loss to see the state each step starts from."""

    def __init__(self, model):
        self.inputs, self.outputs = [], []
        self.inner = model.loss
        model.loss = self

    def __call__(self, ids, targets, state=None):
        if torch.is_grad_enabled():
            self.inputs.append(state)
        loss, out = self.inner(ids, targets, state)
        if torch.is_grad_enabled():
            self.outputs.append(out)
        return loss, out


def test_sequential_sampling_carries_and_detaches_the_state(ds):
    model = model_for(ds)
    rec = Recorder(model)
    list(Trainer(model, ds, cfg(sampling="sequential", max_steps=3, sample_length=0)).run())
    assert torch.count_nonzero(rec.inputs[0]) == 0             # the epoch starts from zeros
    for prev_out, nxt_in in zip(rec.outputs, rec.inputs[1:]):
        assert torch.equal(nxt_in, prev_out.detach())           # carried ...
        assert nxt_in.grad_fn is None and not nxt_in.requires_grad  # ... and cut from the old graph
        assert prev_out.grad_fn is not None


def test_each_epoch_starts_from_zeros(ds):
    """Sequential sampling carries the state within an epoch, never across: a state carried on into the next
    epoch's randomly shifted windows (never reset) collapsed the lyrics' recipe after ~750 steps in scratch loops
    that skipped this (seeds 0 and 1; with the reset, no collapse: the closing note of 2026-12-03)."""
    model = model_for(ds)
    rec = Recorder(model)
    tr = Trainer(model, ds, cfg(sampling="sequential", max_steps=1, sample_length=0))
    bpe = tr.batches_per_epoch()
    rec.inputs.clear()
    list(Trainer(model, ds, cfg(sampling="sequential", max_steps=2 * bpe + 1, sample_length=0)).run())
    starts = {0, bpe, 2 * bpe}
    assert len(rec.inputs) == 2 * bpe + 1
    for i, state in enumerate(rec.inputs):
        assert (torch.count_nonzero(state) == 0) == (i in starts), i


def test_random_sampling_resets_the_state(ds):
    model = model_for(ds, kind="lstm")
    rec = Recorder(model)
    list(Trainer(model, ds, cfg(sampling="random", max_steps=3, sample_length=0)).run())
    for h, c in rec.inputs:
        assert torch.count_nonzero(h) == 0 and torch.count_nonzero(c) == 0


def test_divergence_ends_with_an_explanation_and_the_last_good_weights(ds):
    model = model_for(ds, kind="rnn")
    tr = Trainer(model, ds, cfg(optimizer="sgd", lr=1000, clip=False, max_steps=50, eval_every=1,
                                sample_length=0))
    events = list(tr.run())
    failed = events[-1]
    assert failed.kind == "failed", [e.kind for e in events][-5:]
    assert "clipping is off" in failed.message and "learning rate" in failed.message
    assert f"at step {failed.step} (" in failed.message          # the step the event names, not the one after
    assert failed.message.code == "diverged" and failed.message.isascii()       # plain English; the app words it
    assert all(torch.isfinite(p).all() for p in model.parameters())
    x = ds.val_ids[:20]
    assert math.isfinite(perplexity(model, x))                  # still a usable model


def test_a_diverged_run_goes_back_to_the_weights_of_its_last_finite_evaluation(ds):
    model = model_for(ds, kind="rnn")
    tr = Trainer(model, ds, cfg(optimizer="sgd", lr=3, clip=False, max_steps=50, eval_every=2,
                                sample_length=0))
    evaluated = None
    for e in tr.run():
        if e.kind == "evaluation" and math.isfinite(e.val_ppl) and all(torch.isfinite(p).all()
                                                                         for p in model.parameters()):
            evaluated = {k: v.clone() for k, v in model.state_dict().items()}
    assert e.kind == "failed" and evaluated is not None
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in evaluated.items())


def test_stop_by_closing_the_generator_is_prompt_and_leaves_a_usable_model(ds):
    model = model_for(ds)
    tr = Trainer(model, ds, cfg(max_steps=0, max_seconds=600, eval_every=5))
    run = tr.run()
    for e in run:
        if e.kind == "evaluation":
            break
    t0 = time.perf_counter()
    run.close()
    assert time.perf_counter() - t0 < 1.0
    assert not model.training
    assert math.isfinite(perplexity(model, ds.val_ids))


def test_stop_flag(ds):
    tr = Trainer(model_for(ds), ds, cfg(max_steps=0, max_seconds=600, sample_length=0))
    events = []
    for e in tr.run():
        events.append(e)
        if e.kind == "progress" and e.step == 3:
            tr.stop()
    assert events[-1].kind == "done" and events[-1].reason == "stopped" and events[-1].step == 3


def test_early_stopping_keeps_the_best_weights(ds):
    tr = Trainer(model_for(ds, hidden_size=64), ds, cfg(lr=0.05, max_steps=400, eval_every=5, early_stopping=2,
                                                         sample_length=0))
    events = list(tr.run())
    done = events[-1]
    assert done.reason == "early_stopping" and done.kept == "best"
    assert perplexity(tr.model, ds.val_ids) == pytest.approx(done.best_val_ppl, rel=1e-5)


def test_a_tiny_corpus_is_learned_within_seconds(ds):
    tr = Trainer(model_for(ds, hidden_size=64), ds, cfg(lr=0.01, max_steps=150, eval_every=50, sample_length=0))
    events = list(tr.run())
    unigram = next(e for e in events if e.kind == "baselines").perplexities["unigram"]
    final = [e for e in events if e.kind == "evaluation"][-1]
    assert final.train_eval_ppl < unigram / 5, (final.train_eval_ppl, unigram)


def test_bidirectional_is_flagged(ds):
    events = list(Trainer(model_for(ds, bidirectional=True), ds, cfg(max_steps=1, sample_length=0)).run())
    warnings = [e.message for e in events if e.kind == "warning"]
    assert any("bidirectional" in w for w in warnings)


def test_seeds_reproduce(ds):
    def losses(seed):
        m = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=16, hidden_size=32, dropout_out=0.3), seed)
        return [e.loss for e in Trainer(m, ds, cfg(seed=seed, max_steps=6, sample_length=0)).run()
                if e.kind == "progress"]
    assert losses(1) == losses(1) != losses(2)


def test_config_validation():
    for bad in [dict(sampling="shuffle"), dict(optimizer="lbfgs"), dict(lr=0), dict(lr=float("nan")),
                dict(lr=-1), dict(batch_size=0), dict(batch_size=10**7), dict(num_steps=2.5),
                dict(max_seconds=0, max_steps=0, epochs=0), dict(clip_theta=0), dict(clip="yes"),
                dict(device="tpu"), dict(sample_prefixes="分开"), dict(max_seconds=float("inf"))]:
        with pytest.raises(LyricdemoError):
            TrainConfig(**bad)
    c = TrainConfig(sample_prefixes=["a"])
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_text_too_short_for_the_batch_is_a_clear_error(ds):
    tr = Trainer(model_for(ds), ds, cfg(batch_size=512, num_steps=64))
    with pytest.raises(LyricdemoError, match="needs at least"):
        next(tr.run())


def test_vocab_mismatch(ds):
    with pytest.raises(LyricdemoError, match="vocabulary"):
        Trainer(new_model(ModelConfig(vocab_size=5), 0), ds)
