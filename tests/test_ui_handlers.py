"""The UI's handlers as plain functions (no server): input checks, sessions, the Stop path, the
model picker, the corpus-absent path, HTML escaping."""

from __future__ import annotations

import inspect
import math
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from conftest import make_tiny_checkpoints, make_zip
from lyricdemo import corpus as corpus_mod
from lyricdemo.checkpoint import load_checkpoint, unpack_checkpoint
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.errors import LyricdemoError
from lyricdemo.reading import prepare_prefix
from lyricdemo.models import ModelConfig
from lyricdemo.presets import DEFAULT, PRESETS, apply, apply_for_corpus
from lyricdemo.ui import build_app, limits, registry, resources, tab_generate, tab_inside, tab_train, tab_vocab, validate
from lyricdemo.ui.session import Session
from lyricdemo.ui.training_run import BoundedCurve
from lyricdemo.ui.widgets import markdown_table, prefix_html, tokens_html
from lyricdemo.ui import wording
from lyricdemo.ui.wording import bilingual
from lyricdemo.vocab import Vocab

QUICK = dict(data="upload", min_freq=1, hidden_size=16, embed_dim=8, batch_size=2, num_steps=4, eval_every=3,
             max_seconds=30)


@pytest.fixture
def session(small_text) -> Session:
    s = Session()
    s.upload = read_corpus_bytes(small_text.encode(), "small.txt")
    yield s
    s.close()


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(["月光洒在小河上", "风吹过我的窗", "我想你在远方"] * 4) + "\n", encoding="utf-8")
    root = make_tiny_checkpoints(tmp_path / "ckpts", text)
    monkeypatch.setenv("LYRICDEMO_CHECKPOINTS", str(root))
    return root


def run_to_end(gen) -> list:
    return list(gen)


def train_quick(session, **kw):
    return run_to_end(tab_train.train(session, **{**QUICK, **kw}))


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [None, True, "3", 2.5, float("nan"), float("inf"), 10**12, -1, [3]])
def test_whole_refuses_what_is_not_a_whole_number_in_range(bad):
    with pytest.raises(LyricdemoError, match="Hidden size"):
        validate.whole("hidden", bad, 1, 1024)


def test_whole_and_real_accept_slider_values():
    assert validate.whole("hidden", 32.0, 1, 1024) == 32
    assert validate.real("dropout", 0, 0.0, 0.8) == 0.0
    for bad in (float("nan"), float("-inf"), "0.1", None, False, 0.9):
        with pytest.raises(LyricdemoError, match="Dropout"):
            validate.real("dropout", bad, 0.0, 0.8)
    with pytest.raises(LyricdemoError):
        validate.real("top_p", 0.0, 0.0, 1.0, lo_open=True)


def test_choice_text_subset_and_flag():
    assert validate.choice("kind", "gru", ("rnn", "gru")) == "gru"
    for bad in ("GRU", None, 1):
        with pytest.raises(LyricdemoError, match="Model"):
            validate.choice("kind", bad, ("rnn", "gru"))
    assert validate.text("prefix", None, 10) == ""
    with pytest.raises(LyricdemoError, match="too long"):
        validate.text("prefix", "x" * 11, 10)
    with pytest.raises(LyricdemoError):
        validate.text("prefix", 5, 10)
    assert validate.subset("reserved", ["<eos>", "<pad>"], ("<pad>", "<bos>", "<eos>")) == ("<pad>", "<eos>")
    with pytest.raises(LyricdemoError):
        validate.subset("reserved", "<pad>", ("<pad>",))
    with pytest.raises(LyricdemoError):
        validate.flag("clip", "yes")


def test_env_limits(monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_SESSION_MODELS", "2")
    assert limits.max_session_models() == 2
    monkeypatch.setenv("LYRICDEMO_MAX_TRAIN_SECONDS", "many")
    with pytest.raises(LyricdemoError, match="LYRICDEMO_MAX_TRAIN_SECONDS"):
        limits.max_train_seconds()


def test_user_errors_become_gr_errors_for_functions_and_generators():
    @validate.user_errors
    def f(x):
        raise LyricdemoError("bad x")

    @validate.user_errors
    def g(x):
        yield 1
        raise LyricdemoError("bad y")

    with pytest.raises(gr.Error, match="bad x"):
        f(1)
    it = g(1)
    assert next(it) == 1
    with pytest.raises(gr.Error, match="bad y"):
        next(it)
    assert list(inspect.signature(g).parameters) == ["x"]          # Gradio reads the API names from here


# ----------------------------------------------------------------------------- tab 2: knobs
def test_knobs_match_the_train_endpoint():
    params = list(inspect.signature(tab_train.train).parameters)
    assert params == ["session", *tab_train.KNOBS, "x_axis"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_makes_valid_configs(name, session):
    v = tab_train.preset_values(name)
    if v["data"] == "d2l" and not resources.corpus_available():
        pytest.skip("needs the corpus")
    ds, raw, text, mcfg, tcfg = tab_train.build_configs(session, **v)
    assert tcfg.max_seconds <= limits.max_train_seconds()
    if name == "toy":
        assert ds.train_targets is not None and mcfg.hidden_size == 4 and tcfg.max_steps == 15 and text == "hello"
    if name == "d2l":
        assert mcfg.embed_dim == 0 and tcfg.optimizer == "sgd" and math.isclose(tcfg.lr, 1.0) and not tcfg.keep_best
        assert tcfg.weight_decay == 0 and mcfg.dropout_out == 0 and mcfg.dropout_embed == 0   # nothing of the recipe
    if name == "classroom":       # the default recipe, lighter for 300 steps, with what the corpus in use adds
        whole = apply_for_corpus("classroom", v["data"])
        recipe = apply(DEFAULT)
        assert (tcfg.optimizer, tcfg.weight_decay, tcfg.sampling) == (recipe["train"]["optimizer"],
                                                                      recipe["train"]["weight_decay"],
                                                                      recipe["train"]["sampling"])
        assert (mcfg.dropout_embed, mcfg.dropout_out, mcfg.adaptive_cutoffs) == (0.1, 0.3, ())
        assert math.isclose(tcfg.lr, 5e-3, rel_tol=0.01)            # through the log10 slider
        assert tcfg.soft_targets == whole["train"]["soft_targets"] == (0.5 if v["data"] == "d2l" else 0.0)
    assert len(tab_train.apply_preset(name)) == len(tab_train.KNOBS) + 1


def test_the_train_tab_reads_rare_words_as_the_learner_chooses(session):
    v = tab_train.preset_values("classroom") | {"data": "tang", "tokenizer": "word"}
    spelled = tab_train.build_configs(session, **(v | {"unknown_words": "chars"}))[0]
    unk = tab_train.build_configs(session, **(v | {"unknown_words": "unk"}))[0]
    assert (spelled.config.unknown_words, unk.config.unknown_words) == ("chars", "unk")
    assert len(spelled.vocab) > len(unk.vocab)               # the rare words' characters join the vocabulary
    share = [float((ds.val_ids == ds.vocab.unk).float().mean()) for ds in (spelled, unk)]
    assert share[0] < share[1]
    with pytest.raises(LyricdemoError, match="unknown"):
        tab_train.build_configs(session, **(v | {"unknown_words": "guess"}))


def test_build_configs_refuses_bad_knobs(session, monkeypatch):
    base = tab_train.preset_values("classroom") | {"data": "upload", "min_freq": 1}
    for change, match in [({"data": "wiki"}, "Training data"), ({"log10_lr": float("nan")}, "Learning rate"),
                          ({"hidden_size": 0}, "Hidden size"), ({"num_layers": 9}, "Layers"),
                          ({"max_seconds": 10_000}, "Time budget"), ({"batch_size": 2.5}, "Batch size"),
                          ({"clip": "on"}, "Clip"), ({"seed": -3}, "Seed"), ({"kind": "transformer"}, "Model")]:
        with pytest.raises(LyricdemoError, match=match):
            tab_train.build_configs(session, **(base | change))
    with pytest.raises(LyricdemoError, match="No uploaded corpus"):
        tab_train.build_configs(Session(), **base)
    monkeypatch.setenv("LYRICDEMO_MAX_TRAIN_SECONDS", "10")
    with pytest.raises(LyricdemoError, match="Time budget"):
        tab_train.build_configs(session, **(base | {"max_seconds": 11}))


@pytest.mark.corpus
def test_the_output_layer_memory_guard(session, corpus_path):
    v = tab_train.preset_values("classroom") | {"data": "d2l", "batch_size": 512, "num_steps": 200}
    with pytest.raises(LyricdemoError, match="output layer"):
        tab_train.build_configs(session, **v)


# ----------------------------------------------------------------------------- tab 2: runs
def test_a_finished_run_streams_registers_and_saves(session):
    outs = train_quick(session, max_steps=6)
    assert len(outs) >= 3
    status, fig, grad, samples, warn, info, download, pick_gen, pick_inside = outs[-1]
    assert info["state"] == "done" and info["step"] == 6 and info["model"] == "session:1"
    assert "✓" in status and "session:1" in status
    assert pick_gen["value"] == "session:1"
    assert "trained here · #1" in dict((key, label) for label, key in pick_gen["choices"])["session:1"]
    with zipfile.ZipFile(download) as z:
        assert {"checkpoint.json", "model.safetensors"} <= {n.split("/")[-1] for n in z.namelist()}
    ck = load_checkpoint(unpack_checkpoint(open(download, "rb").read(), session.workdir()))
    assert ck.meta["metrics"]["steps"] == 6 and len(ck.vocab) == len(session.models["session:1"].checkpoint.vocab)
    assert session.models["session:1"].trainer is None                     # optimizer state let go


def test_closing_the_stream_still_registers_the_model(session):
    """The Stop button (and a closed tab) close the generator: the model must still join the session."""
    gen = tab_train.train(session, **{**QUICK, "max_steps": 0, "max_seconds": 60, "eval_every": 1000})
    for _ in range(4):
        next(gen)
    run = session.latest_run()
    assert run.running and run.trainer is not None
    gen.close()
    assert not run.running and run.model_key == "session:1"
    entry = session.models["session:1"]
    assert "stopped" in entry.label and not entry.checkpoint.model.training
    out = list(tab_generate.generate(session, "session:1", "月光", 5, "greedy"))[-1]
    assert out[0].startswith("月光")
    status, fig, info, download, pick, _ = tab_train.stop(session)          # what the Stop click shows next
    assert "stopped" in status and str(download).endswith(".zip") and info["state"] == "stopped"


def test_stop_asks_a_running_trainer_to_stop(session):
    gen = tab_train.train(session, **{**QUICK, "max_steps": 0, "max_seconds": 60, "eval_every": 1000})
    next(gen)
    next(gen)
    session.latest_run().trainer.stop()
    outs = list(gen)
    assert outs[-1][5]["state"] == "stopped" and outs[-1][5]["outcome"]["reason"] == "stopped"
    assert tab_train.stop(Session())[0].startswith("Nothing is training")


def test_session_keeps_at_most_n_models(session, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_MAX_SESSION_MODELS", "2")
    zips = []
    for _ in range(3):
        zips.append(train_quick(session, max_steps=2)[-1][6])
    assert list(session.models) == ["session:2", "session:3"]
    assert not __import__("os").path.exists(zips[0])                        # the evicted model's files are gone
    notes = train_quick(session, max_steps=2)[-1][4]
    assert "Removed" in notes


def test_bounded_curve_thins_itself():
    c = BoundedCurve(cap=100)
    for i in range(10_000):
        c.add(i, i / 10, float(i))
    assert len(c.xs) <= 101 and c.xs[0] == 0 and c.xs == sorted(c.xs)


def test_divergence_is_reported_not_crashed(session):
    outs = train_quick(session, optimizer="sgd", log10_lr=1.0, clip=False, max_steps=12, eval_every=4)
    info = outs[-1][5]
    assert info["state"] in ("failed", "done")                # a tiny model may survive lr 10; it must not crash
    if info["state"] == "failed":
        assert "diverged" in outs[-1][0]


# ----------------------------------------------------------------------------- tab 1
def test_tokenize_an_upload_and_look_up(session, tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("月光洒在小河上\n风吹过我的窗\n月光洒在小河上\n我想你<script>\n", encoding="utf-8")
    out = tab_vocab.tokenize(session, "upload", str(f), "none", "char", "token", 1, ["<eos>"], 10, 1)
    notice, summary, view, top, zipf, cov, rare, compare, stats = out
    assert stats["corpus"] == "mine.txt" and stats["config"]["reserved_tokens"] == ["<eos>"]
    assert "<script>" not in view and "&lt;" in view                       # user text is escaped
    assert "&lt;unk&gt;" in summary
    assert "→ id" in tab_vocab.lookup(session, "月")
    assert "id **0**" in tab_vocab.lookup(session, "0") or "<unk>" in tab_vocab.lookup(session, "0")
    assert "not in the vocabulary" in tab_vocab.lookup(session, "龘")
    assert "→ id" in tab_vocab.lookup(session, "\\n")
    with pytest.raises(gr.Error, match="Ids run"):
        tab_vocab.lookup(session, "99999")
    with pytest.raises(gr.Error, match="Analyze"):
        tab_vocab.lookup(Session(), "月")
    with pytest.raises(gr.Error, match="Show lines from"):
        tab_vocab.tokenize(session, "upload", str(f), "none", "char", "token", 1, [], 10, 99)


def test_tokenize_refuses_bad_files_and_values(session, tmp_path):
    png = tmp_path / "x.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(gr.Error, match="PNG"):
        tab_vocab.tokenize(session, "upload", str(png))
    with pytest.raises(gr.Error, match="Minimum frequency"):
        tab_vocab.tokenize(session, "upload", None, min_freq=float("nan"))
    with pytest.raises(gr.Error, match="Reserved"):
        tab_vocab.tokenize(session, "upload", None, reserved=["<mask>"])
    with pytest.raises(gr.Error, match="Upload"):
        tab_vocab.tokenize(Session(), "upload", None)


def test_without_the_corpus_every_tab_uses_the_tang_poems(session, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(corpus_mod, "DATA_DIR", empty)
    assert not resources.corpus_available() and resources.corpus_in_use().key == "tang"
    out = tab_vocab.on_load(Session(), "d2l", None, "d2l", "char", "token", 2, [], 30, 1)
    assert out[0]["value"] == "tang" and "Tang poems" in out[1] and "embedded" in out[1]
    assert out[-1]["corpus"] == "tang_poems.txt.zip"
    with pytest.raises(gr.Error, match="data/"):
        tab_vocab.tokenize(Session(), "d2l")
    v = tab_train.default_values()
    assert v["data"] == "tang" and v == tab_train.preset_values("classroom")
    ds, raw, _, mcfg, tcfg = tab_train.build_configs(Session(), **v)
    assert raw.name == "tang_poems.txt.zip" and mcfg.vocab_size == len(ds.vocab) > 1000
    assert tcfg.sample_prefixes[0] == "床前"
    outs = list(tab_train.train(Session(), **tab_train.preset_values("toy")))
    assert outs[-1][5]["state"] == "done" and outs[-1][5]["step"] == 15
    build_app()                                                              # the page builds without a corpus
    (empty / corpus_mod.D2L_CORPUS_NAME).write_bytes(make_zip({"j.txt": ("窗外的麻雀\n在电线杆上多嘴\n" * 20).encode()}))
    out = tab_vocab.on_load(Session(), "tang", None, "d2l", "char", "token", 1, [], 30, 1)
    assert out[0]["value"] == "d2l" and out[-1]["corpus"] == corpus_mod.D2L_CORPUS_NAME   # no restart


def test_a_run_can_start_from_a_model_of_the_pickers(session, shipped):
    """"Start from / 起点": the run takes the model's architecture and weights (rows moved token by token) and
    says so; what cannot start a run is a clear message."""
    import torch

    src = registry.get(session, "shipped:tiny-gru").checkpoint.model
    assert [k for _, k in tab_train.start_choices(session)][:2] == ["", "shipped:tiny-gru"]
    v = tab_train.preset_values("classroom") | QUICK | {"init_from": "shipped:tiny-gru"}
    mcfg = tab_train.build_configs(session, **v)[3]
    assert (mcfg.kind, mcfg.hidden_size, mcfg.num_layers, mcfg.embed_dim, mcfg.adaptive_cutoffs) == ("gru", 24, 2, 16, ())
    outs = train_quick(session, init_from="shipped:tiny-gru", max_steps=2)
    status = outs[-1][0]
    assert "Started from **shipped · tiny-gru" in status and "hidden_size 16 → 24" in status
    assert "`<unk>`" in status                          # markdown would hide a bare <unk> as a tag
    assert "fine-tuned" in outs[-1][5]["label"]
    tuned = session.models["session:1"].checkpoint.model.state_dict()
    fresh = tab_train.new_model(mcfg, seed=0).state_dict()
    w = "rnn.weight_hh_l1"                               # two Adam steps move a weight by ~2 x lr at most
    assert (tuned[w] - src.state_dict()[w]).abs().max() < 0.02 < (fresh[w] - src.state_dict()[w]).abs().max()
    assert len(tab_train.start_choices(session)) == 5   # random, three shipped, and the run's model
    update = tab_train.refresh_start(session, "shipped:tiny-gru")       # the list as the page gets it on focus
    assert [k for _, k in update["choices"]][-1] == "session:1" and update["value"] == "shipped:tiny-gru"
    assert tab_train.refresh_start(session, "session:1") == gr.skip()      # unchanged since: left alone
    assert tab_train.refresh_start(Session(), "") == gr.skip()             # only the shipped models, as built
    for change, says in (({"init_from": "shipped:nope"}, "Unknown model"), ({"init_from": 3}, "Start from"),
                         ({"init_from": "shipped:tiny-gru", "tokenizer": "word"}, "reads char tokens")):
        with pytest.raises(LyricdemoError, match=says):
            tab_train.build_configs(session, **(v | change))
    with pytest.raises(LyricdemoError, match="toy task"):
        tab_train.build_configs(session, **(tab_train.preset_values("toy") | {"init_from": "shipped:tiny-gru"}))
    assert torch.equal(src.state_dict()[w], registry.get(session, "shipped:tiny-gru").checkpoint.model.state_dict()[w])


# ----------------------------------------------------------------------------- tabs 3 and 4, the picker
def test_registry_lists_shipped_and_session_models(session, shipped):
    keys = [k for _, k in registry.choices(session)]
    assert keys == ["shipped:tiny-gru", "shipped:tiny-lstm", "shipped:tiny-rnn"]
    assert registry.default_key(session) == "shipped:tiny-gru"
    train_quick(session, max_steps=2)
    assert registry.default_key(session) == "session:1"
    assert registry.default_key(session, "shipped:tiny-rnn") == "shipped:tiny-rnn"
    a = registry.get(session, "shipped:tiny-lstm").checkpoint
    assert a is registry.get(session, "shipped:tiny-lstm").checkpoint       # loaded once, shared
    for bad in ("shipped:nope", "session:9", "", None, 3):
        with pytest.raises(LyricdemoError):
            registry.get(session, bad)
    with pytest.raises(LyricdemoError, match="only in that session"):
        registry.get(Session(), "session:1")


def test_generate_streams_highlights_unknowns_and_measures_copies(session, shipped):
    outs = list(tab_generate.generate(session, "shipped:tiny-gru", "月光龘", 40, "sample", seed=1))
    assert len(outs) >= 2
    text, report, meter, step, alt, ent, info = outs[-1]
    assert text.startswith("月光龘") and info["tokens"] == 40
    assert "<mark" in report and "never seen" in report and info["unknown"][0]["token"] == "龘"
    assert "unavailable" in meter or "Longest verbatim copy" in meter
    alt2, ent2 = tab_generate.step_view(session, 3)
    assert "Step 3" in alt2.layout.title.text
    with pytest.raises(gr.Error, match="strict"):
        list(tab_generate.generate(session, "shipped:tiny-gru", "龘", 5, "greedy", unknown="strict"))
    with pytest.raises(gr.Error, match="Temperature"):
        list(tab_generate.generate(session, "shipped:tiny-gru", "月", 5, "sample", temperature=float("inf")))
    with pytest.raises(gr.Error, match="Length"):
        list(tab_generate.generate(session, "shipped:tiny-gru", "月", 10**9))
    with pytest.raises(gr.Error, match="Generate a text first"):
        tab_generate.step_view(Session(), 1)
    beam = list(tab_generate.generate(session, "shipped:tiny-lstm", "", 8, "beam", beam_width=3))[-1]
    assert beam[6]["strategy"] == "beam"



def test_the_app_words_the_core_notes_in_both_languages(session, shipped):
    """The core's notes are plain English with a code; the app shows them as "English / 中文"."""
    info = list(tab_generate.generate(session, "shipped:tiny-gru", "月", 5, "sample", temperature=0.0))[-1][-1]
    assert "A temperature below 0.0001 is greedy decoding. / 温度低于 0.0001，按贪心解码。" in info["notes"]
    assert info["summary"].startswith("greedy: 5 tokens / 词元, mean log-prob / 平均对数概率 ")
    assert "tokens/s, first token / 首词元 " in info["summary"]
    info = list(tab_generate.generate(session, "shipped:tiny-gru", "月龘", 5, "greedy"))[-1][-1]
    assert info["notes"][0].endswith("were replaced by <unk>: '龘' at 1. / 前缀中有 1 个词表外的词元，已替换为 <unk>。")
    with pytest.raises(gr.Error, match=r"\(strict mode\): '龘' at 1\. / 前缀中有 1 个词表外的词元（严格模式）。"):
        list(tab_generate.generate(session, "shipped:tiny-gru", "月龘", 5, "greedy", unknown="strict"))


def test_wording_gives_a_coded_message_its_chinese_half():
    bi, drop = ModelConfig(vocab_size=5, hidden_size=4, bidirectional=True, dropout_rnn=0.2).warnings()
    assert bilingual(bi).startswith(bi + "\n这是一个双向模型：") and "分开始开始开始" in bilingual(bi)
    assert bilingual(drop) == f"{drop} / dropout_rnn 只作用于层与层之间，单层模型中不起作用。"
    assert bilingual("A plain message.") == "A plain message."                   # no code: shown as it is



def test_every_worded_code_is_one_the_core_uses():
    """A stale entry in ui/wording.ZH (a code the core no longer emits) is caught here."""
    root = Path(corpus_mod.__file__).parent
    core = "".join(f.read_text(encoding="utf-8") for f in root.rglob("*.py") if "ui" not in f.relative_to(root).parts)
    assert [code for code in wording.ZH if f'"{code}"' not in core] == []
    assert wording.PARAGRAPH <= wording.ZH.keys()


def test_memorization_meter_on_a_session_model(session):
    train_quick(session, max_steps=3)
    text = list(tab_generate.generate(session, "session:1", "月光洒在小河上\n风吹过我的窗", 5, "greedy"))[-1]
    meter = text[2]
    assert "Longest verbatim copy" in meter and "<mark" in meter                # the prefix itself is a copy


def test_probe_handler(session, shipped):
    out = tab_inside.probe(session, "shipped:tiny-gru", "月光\n风", 2, 5)
    summary, heat, colored, trace, data, layer, unit = out[:7]
    assert data["shape"] == [4, 24] and data["layer"] == 2 and len(data["activations"]) == 4
    assert layer["maximum"] == 2 and unit["maximum"] == 23 and "<span" in colored
    assert out[12]["maximum"] == 3 and out[12]["value"] == 2                     # saliency position: the last in-text one
    one = tab_inside.probe(session, "shipped:tiny-rnn", "月光", 1, 0)
    assert one[5]["interactive"] is False and one[5]["visible"] is False      # one layer: the control hides
    assert out[5]["visible"] is True
    top = out[1].layout.yaxis                                                 # the top units, every id drawn
    assert len(out[1].data[0].y) == tab_inside.HEATMAP_UNITS and top.showticklabels
    assert out[1].data[0].y[0].startswith("unit ") and list(top.tickvals) == list(out[1].data[0].y)
    every = tab_inside.probe(session, "shipped:tiny-gru", "月光\n风", 2, 5, "variance", "line starts", "", True)
    assert len(every[1].data[0].y) == 24 and every[1].layout.yaxis.showticklabels     # all units, on request,
    assert list(every[1].layout.yaxis.tickvals) == list(every[1].data[0].y)            # every id drawn
    heat, _, data = tab_inside.units_view(session, "shipped:tiny-gru", "月光\n风", 1, "mean", "line starts", "", True)
    assert len(heat.data[0].y) == 24 and len(data["order"]) == 24
    with pytest.raises(gr.Error, match="All units"):
        tab_inside.probe(session, "shipped:tiny-gru", "月光", 1, 0, "variance", "line starts", "", "yes")
    with pytest.raises(gr.Error, match="Layer"):
        tab_inside.probe(session, "shipped:tiny-rnn", "月光", 2, 0)
    with pytest.raises(gr.Error, match="Unit"):
        tab_inside.probe(session, "shipped:tiny-gru", "月光", 1, 24)
    with pytest.raises(gr.Error):
        tab_inside.probe(session, "shipped:tiny-gru", "", 1, 0)
    with pytest.raises(gr.Error, match="Sort units"):
        tab_inside.probe(session, "shipped:tiny-gru", "月光", 1, 0, "loudness")
    long = tab_inside.probe(session, "shipped:tiny-gru", "月光" * 600, 1, 0)
    assert long[4]["truncated"] and "first 1,000 tokens" in long[0]


def test_model_info_and_the_empty_registry(session, tmp_path, monkeypatch):
    monkeypatch.setenv("LYRICDEMO_CHECKPOINTS", str(tmp_path / "none"))
    assert "No model yet" in tab_generate.model_info(Session(), None)
    with pytest.raises(LyricdemoError, match="No model yet"):
        registry.get(Session(), None)


# ----------------------------------------------------------------------------- widgets
def test_html_views_escape_user_text():
    v = Vocab(list("ab<"))
    html = tokens_html([["a", "<", "x", "\n"]], v)
    assert "&lt;" in html and "<script" not in html and "never seen" in html
    rep = prefix_html(prepare_prefix("a<script>", v, "char"), v)
    assert "<script>" not in rep and "&lt;" in rep and "<mark" in rep
    assert "| a \\| b |" in markdown_table([("a | b", "<x>")]) and "&lt;x&gt;" in markdown_table([("a", "<x>")])


def test_chart_keeps_earlier_runs_switches_axis_and_clears(session):
    train_quick(session, max_steps=3, kind="rnn")
    train_quick(session, max_steps=3, kind="lstm")
    fig = tab_train.redraw(session, "step")
    names = " ".join(t.name for t in fig.data)
    assert "#1 RNN" in names and "#2 LSTM" in names                         # runs raced on one chart
    assert "seconds" in tab_train.redraw(session, "seconds").layout.xaxis.title.text
    assert "step" in tab_train.redraw(session, "nonsense").layout.xaxis.title.text
    assert not tab_train.clear(session, "step").data and session.runs == []
    assert list(session.models) == ["session:1", "session:2"]               # clearing the chart keeps the models
    lesson = tab_train.bidirectional_lesson(True)
    assert lesson["visible"] and "bidirectional" in lesson["value"] and "这是一个双向模型" in lesson["value"]
    assert tab_train.bidirectional_lesson(False)["visible"] is False
