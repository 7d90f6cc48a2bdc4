"""Checkpoints: exact round trip, exact resume, and every malformed file refused."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from lyricdemo.checkpoint import (META, RESUME, WEIGHTS, list_checkpoints, load_checkpoint, pack_checkpoint,
                                  resume_trainer, save_checkpoint, save_from_training, unpack_checkpoint)
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.errors import LyricdemoError
from lyricdemo.models import ModelConfig
from lyricdemo.train import Trainer, TrainConfig, new_model

LYRIC = "月光洒在小河上\n风吹过我的窗\n你在远方唱\n星星一闪一闪亮\n我想你在远方\n"


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DataConfig(min_freq=1), raw=read_corpus_bytes((LYRIC * 30).encode(), "tiny.txt"))


def tcfg(**kw):
    base = dict(batch_size=4, num_steps=8, max_seconds=0, max_steps=12, eval_every=5, sample_length=0,
                sampling="sequential")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def saved(ds, tmp_path_factory):
    m = new_model(ModelConfig(vocab_size=len(ds.vocab), kind="lstm", embed_dim=16, hidden_size=24, num_layers=2,
                              tie_weights=True, dropout_out=0.2), 0)
    tr = Trainer(m, ds, tcfg())
    list(tr.run())
    path = save_from_training(tmp_path_factory.mktemp("ck") / "lstm", tr, ds, resume=True, card="# card")
    return path, tr


@pytest.fixture
def copy(saved, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(saved[0], dst)
    return dst


def test_round_trip_is_exact(saved, ds):
    path, tr = saved
    ck = load_checkpoint(path)
    assert not ck.model.training and ck.model.device.type == "cpu"
    assert ck.vocab == ds.vocab and ck.data_config == ds.config and ck.train_config == tr.config
    assert ck.model.config == tr.model.config
    for (k, a), (_, b) in zip(sorted(ck.model.state_dict().items()), sorted(tr.model.state_dict().items())):
        assert torch.equal(a, b), k
    assert ck.model.decoder.weight is ck.model.embedding.weight          # still tied
    assert ck.meta["corpus"]["sha256"] == ds.corpus_sha256
    assert ck.metrics["best_val_ppl"] == tr.best_val_ppl and len(ck.metrics["history"]) == len(tr.history)
    assert (path / "README.md").read_text() == "# card"
    assert list_checkpoints(path.parent)[0][0] == path


def test_float16_weights(ds, tmp_path):
    m = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), 0)
    p = save_checkpoint(tmp_path / "h", m, ds.vocab, ds.config, dtype="float16")
    ck = load_checkpoint(p)
    for k, v in m.state_dict().items():
        assert torch.allclose(ck.model.state_dict()[k], v, atol=1e-3)


def test_resume_reproduces_the_uninterrupted_run(ds, tmp_path):
    def fresh():
        return new_model(ModelConfig(vocab_size=len(ds.vocab), kind="gru", embed_dim=16, hidden_size=24,
                                     dropout_embed=0.2, dropout_out=0.3), 0)

    whole = Trainer(fresh(), ds, tcfg(max_steps=30, early_stopping=0))
    full = [e.loss for e in whole.run() if e.kind == "progress"]
    first = Trainer(fresh(), ds, tcfg(max_steps=12))
    part1 = [e.loss for e in first.run() if e.kind == "progress"]
    path = save_from_training(tmp_path / "r", first, ds, resume=True)
    second = resume_trainer(path, ds, tcfg(max_steps=30))
    assert (second.best_read, second.best_val_ppl) == (first.best_read, first.best_val_ppl)   # compared as before
    part2 = [e.loss for e in second.run() if e.kind == "progress"]
    assert part1 + part2 == full


def test_resume_needs_the_training_state(ds, tmp_path):
    m = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), 0)
    p = save_checkpoint(tmp_path / "n", m, ds.vocab, ds.config)
    with pytest.raises(LyricdemoError, match="cannot be resumed"):
        resume_trainer(p, ds)


# ------------------------------------------------------------------ refusals
def test_truncated_weights(copy):
    w = copy / WEIGHTS
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(LyricdemoError, match="checksum"):
        load_checkpoint(copy)
    meta = json.loads((copy / META).read_text())
    meta["weights"]["sha256"] = None                       # even without the checksum: refused
    (copy / META).write_text(json.dumps(meta))
    with pytest.raises(LyricdemoError, match="not a valid safetensors"):
        load_checkpoint(copy)


def _edit_meta(folder: Path, fn) -> None:
    meta = json.loads((folder / META).read_text())
    fn(meta)
    (folder / META).write_text(json.dumps(meta))


def test_json_that_does_not_match_the_weights(copy):
    _edit_meta(copy, lambda m: m["model"].update(hidden_size=32))
    with pytest.raises(LyricdemoError, match="shape"):
        load_checkpoint(copy)


def test_vocab_of_the_wrong_size(copy):
    _edit_meta(copy, lambda m: m["vocab"]["idx_to_token"].append("新"))
    with pytest.raises(LyricdemoError, match="vocabulary has"):
        load_checkpoint(copy)


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.update(format="something"), "not a lyricdemo checkpoint"),
    (lambda m: m.update(format_version=99), "format 99"),
    (lambda m: m["model"].update(kind="transformer"), "kind must be one of"),
    (lambda m: m["model"].update(num_layers=-1), "num_layers"),
    (lambda m: m.pop("vocab"), "lacks or garbles"),
    (lambda m: m["vocab"].update(idx_to_token=["a"]), "malformed"),
])
def test_bad_descriptions(copy, edit, words):
    _edit_meta(copy, edit)
    with pytest.raises(LyricdemoError, match=words):
        load_checkpoint(copy)


def test_not_json_and_missing_files(copy):
    (copy / META).write_text("{not json")
    with pytest.raises(LyricdemoError, match="not valid JSON"):
        load_checkpoint(copy)
    (copy / META).unlink()
    with pytest.raises(LyricdemoError, match="missing"):
        load_checkpoint(copy)
    with pytest.raises(LyricdemoError, match="No checkpoint folder"):
        load_checkpoint(copy / "nope")


class Boom:
    """Unpickling this would create a file: the proof that nothing was unpickled."""

    marker = None

    def __reduce__(self):
        return (Path.touch, (Boom.marker,))


def test_a_pickle_renamed_as_weights_is_never_unpickled(copy, tmp_path):
    Boom.marker = tmp_path / "pwned"
    blob = pickle.dumps({"embedding.weight": Boom()}, protocol=4)
    (copy / WEIGHTS).write_bytes(blob)
    _edit_meta(copy, lambda m: m["weights"].update(sha256=None))
    with pytest.raises(LyricdemoError, match="pickle"):
        load_checkpoint(copy)
    torch.save({"w": torch.zeros(2)}, copy / WEIGHTS)          # torch.save: a zip with a pickle inside
    with pytest.raises(LyricdemoError, match="never unpickles"):
        load_checkpoint(copy)
    assert not Boom.marker.exists()


def test_inf_weights_and_extra_tensors(copy):
    tensors = {}
    from safetensors.torch import load_file
    tensors = load_file(copy / WEIGHTS)
    tensors["embedding.weight"][0, 0] = float("inf")
    save_file(tensors, copy / WEIGHTS)
    _edit_meta(copy, lambda m: m["weights"].update(sha256=None))
    with pytest.raises(LyricdemoError, match="inf or NaN"):
        load_checkpoint(copy)
    tensors["embedding.weight"][0, 0] = 0.0
    tensors["evil"] = torch.zeros(1)
    save_file(tensors, copy / WEIGHTS)
    with pytest.raises(LyricdemoError, match="unexpected"):
        load_checkpoint(copy)


def test_pack_and_unpack(saved, tmp_path):
    data = pack_checkpoint(saved[0])
    folder = unpack_checkpoint(data, tmp_path)
    assert load_checkpoint(folder).vocab == load_checkpoint(saved[0]).vocab
    with pytest.raises(LyricdemoError, match="pickle"):
        unpack_checkpoint(pickle.dumps([1, 2]), tmp_path)
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model/data.pkl", b"\x80\x04")
    with pytest.raises(LyricdemoError, match="never unpickles"):
        unpack_checkpoint(buf.getvalue(), tmp_path)


def test_writes_are_atomic(ds, tmp_path, monkeypatch):
    m = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), 0)
    p = save_checkpoint(tmp_path / "a", m, ds.vocab, ds.config)
    before = {f.name: f.read_bytes() for f in p.iterdir()}
    import lyricdemo.checkpoint as ck

    def broken_fsync(fd):
        raise OSError("disk full")
    monkeypatch.setattr(ck.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "a", new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=8), 1),
                        ds.vocab, ds.config)
    assert {f.name: f.read_bytes() for f in p.iterdir()} == before       # the old checkpoint is intact
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a"]           # no temp litter


def test_a_damaged_archive_is_refused_and_leaves_nothing_behind(saved, tmp_path):
    data = bytearray(pack_checkpoint(saved[0]))
    start = data.index(b'"format"')                  # inside checkpoint.json: its CRC no longer matches
    data[start:start + 8] = b"XXXXXXXX"
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(LyricdemoError, match="damaged or truncated"):
        unpack_checkpoint(bytes(data), dest)
    assert list(dest.iterdir()) == []


def test_a_garbled_weights_record_and_a_huge_model_description(copy):
    _edit_meta(copy, lambda m: m.update(weights="model.safetensors"))
    with pytest.raises(LyricdemoError, match="lacks or garbles"):
        load_checkpoint(copy)
    _edit_meta(copy, lambda m: m.update(weights={"file": WEIGHTS, "sha256": None}))
    # ~22 GB of float32 parameters described beside a few KB of weights: refused on a shapes-only
    # skeleton, before anything is allocated (building it would exhaust the machine's memory)
    _edit_meta(copy, lambda m: m["model"].update(hidden_size=4096, num_layers=8, bidirectional=True, embed_dim=4096))
    with pytest.raises(LyricdemoError, match="do not match the model config"):
        load_checkpoint(copy)


def test_the_model_card_names_the_output_layer_the_config_has():
    from lyricdemo.card import _output_layer

    base = {"vocab_size": 2053, "embed_dim": 128, "hidden_size": 256}
    assert _output_layer({**base, "adaptive_cutoffs": [500, 1200]}).startswith("adaptive softmax (clusters at 500 / 1200")
    assert _output_layer({**base, "tie_weights": True}) == "tied to the embedding (through a projection)"
    assert _output_layer(base) == "linear over the vocabulary"


def test_the_description_gives_the_cards_figure_before_trainings(copy):
    """The card measures the stored weights on validation read as one stream (the figure its bits per character
    give); a run that sampled validation measured it at its end as pieces: the description takes the card's."""
    best = load_checkpoint(copy).metrics["best_val_ppl"]
    assert f"validation perplexity {best:.1f}" in load_checkpoint(copy).describe()        # no card: training's
    _edit_meta(copy, lambda m: m.update(card={"val_ppl": 101.03, "bits": {"model": {"bits_per_char": 6.659}}}))
    assert "validation perplexity 101.0 (6.659 bits per character)" in load_checkpoint(copy).describe()
