"""The song-memory switch of tab 3 and the bits-per-character picker label (handlers, no server)."""

from __future__ import annotations

import gradio as gr
import pytest

from lyricdemo.__main__ import main
from lyricdemo.corpus import read_corpus_bytes
from lyricdemo.ui import resources, tab_generate
from lyricdemo.ui.session import Session

from test_cli_generate import make_checkpoint


@pytest.fixture
def shipped(tmp_path, monkeypatch, small_text):
    root = tmp_path / "ckpts"
    root.mkdir()
    make_checkpoint(root, "tiny-gru")                  # on a text the test writes: its card is quick to measure
    monkeypatch.setenv("LYRICDEMO_CHECKPOINTS", str(root))
    resources.clear_caches()
    s = Session()
    s.upload = read_corpus_bytes(small_text.encode(), "small.txt")
    yield root, s
    s.close()
    resources.clear_caches()


def test_the_switch_needs_card_settings_then_generates_with_memory(shipped):
    root, s = shipped
    with pytest.raises(gr.Error, match="Song memory needs settings measured on the model card"):
        list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 10, "greedy", memory=True))
    with pytest.raises(gr.Error, match="Song memory"):
        list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 10, "greedy", memory="yes"))
    assert main(["card", "--checkpoint", str(root / "tiny-gru")]) == 0
    resources.clear_caches()
    plain = list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "greedy"))[-1]
    mem = list(tab_generate.generate(s, "shipped:tiny-gru", "月光", 12, "greedy", memory=True))[-1]
    assert mem[6]["song_memory"] is True and plain[6]["song_memory"] is False and mem[6]["tokens"] == 12
    label = next(m.label for m in resources.shipped_models() if m.key == "shipped:tiny-gru")
    assert "/ char" in label and "bits/char" in label


def test_label_gives_the_unit_and_bits_per_char():
    meta = {"model": {"kind": "gru", "num_layers": 1, "hidden_size": 256}, "data": {"tokenizer": "word"},
            "card": {"val_ppl": 77.7, "bits": {"model": {"bits_per_char": 4.123}}}}
    label = resources.shipped_label("word-gru", meta)
    assert "val ppl 78 / word" in label and "4.12 bits/char" in label
    assert "bits/char" not in resources.shipped_label("x", {"model": {"kind": "gru"}, "card": {"val_ppl": 9.0}})


def test_tab4_shows_what_the_memory_drew_on(shipped):
    from lyricdemo.ui import tab_inside

    root, s = shipped
    text = "月光洒在小河上\n风吹过我的窗\n月光洒在小河上"
    with pytest.raises(gr.Error, match="model card"):
        tab_inside.memory_view(s, "shipped:tiny-gru", text, 18)
    assert main(["card", "--checkpoint", str(root / "tiny-gru"), "--no-memory"]) == 0
    resources.clear_caches()
    with pytest.raises(gr.Error, match="model card"):                     # measured without memory: still none
        tab_inside.memory_view(s, "shipped:tiny-gru", text, 18)
    assert main(["card", "--checkpoint", str(root / "tiny-gru")]) == 0
    resources.clear_caches()
    html, data = tab_inside.memory_view(s, "shipped:tiny-gru", text, 18)  # after 月光洒在小河上\n风吹过我的窗\n月光洒在
    assert data["position"] == 18 and data["target"] == "小" and data["sources"]
    assert data["sources"][0]["position"] == 3 and data["longest_match"] >= 4  # the first 月光洒在, followed by 小
    assert "with song memory" in html and "outline" in html
    with pytest.raises(gr.Error, match="Position"):
        tab_inside.memory_view(s, "shipped:tiny-gru", text, 500)
