"""``python -m lyricdemo evaluate`` and ``card``: perplexity and bits per character beside the n-grams,
with and without song memory; the card re-measured without touching the weights; ``generate --memory``."""

from __future__ import annotations

import json
import re

import pytest
import torch

from lyricdemo.__main__ import main
from lyricdemo.checkpoint import load_checkpoint

from test_cli_generate import make_checkpoint


pytestmark = pytest.mark.usefixtures("keep_threads")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("eval"))[0]


def test_evaluate_prints_ppl_and_bits_per_char_beside_the_ngrams(tiny, capsys):
    assert main(["evaluate", "--checkpoint", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "bits/char" in out and "ppl per char" in out
    for name in ("tiny", "unigram", "bigram", "trigram"):
        row = re.search(rf"^{name}\s+([\d.]+)\s+([\d.]+)$", out, re.M)
        assert row, (name, out)
        ppl, bpc = map(float, row.groups())
        assert 2 ** bpc == pytest.approx(ppl, abs=0.06)           # a char model: one token, one character
    assert "song memory" not in out
    assert re.search(r"^tiny against the bigram: [\d.]+x, (below|level with|worse than) the bigram / ", out, re.M)


def test_evaluate_with_memory_and_the_card(tiny, capsys):
    weights = (tiny / "model.safetensors").read_bytes()
    assert main(["evaluate", "--checkpoint", str(tiny), "--memory"]) == 0
    out = capsys.readouterr().out
    assert "song memory, tuned on the last" in out and "with memory / bigram with memory" in out
    assert re.search(r"^bigram\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+window", out, re.M)
    # the model again with dynamic evaluation too: a rate chosen on the slice, or none helped there
    assert re.search(r"^tiny \+ dynamic eval\s+([\d.]+\s+[\d.]+\s+[\d.]+\s+window.*dynamic lr|no dynamic-evaluation "
                     r"rate helped)", out, re.M), out

    assert main(["card", "--checkpoint", str(tiny)]) == 0
    assert "bits/char" in capsys.readouterr().out
    assert (tiny / "model.safetensors").read_bytes() == weights              # the card never touches the weights
    meta = json.loads((tiny / "checkpoint.json").read_text(encoding="utf-8"))
    card = meta["card"]
    assert set(card["bits"]) == {"model", "unigram", "bigram", "trigram"}
    assert card["memory"]["model"]["val_ppl_memory"] > 1 and card["memory"]["bigram"]["config"]["continuous"] is False
    dyn = card["memory"]["model_dynamic"]             # with dynamic evaluation too, chosen on the same slice
    assert dyn["config"]["dynamic_lr"] in (0.0, 0.1, 0.3, 1.0) and dyn["tuning_ppl_memory"] <= \
        card["memory"]["model"]["tuning_ppl_memory"]
    if not dyn["config"]["dynamic_lr"]:
        assert dyn == card["memory"]["model"]
    md = (tiny / "README.md").read_text(encoding="utf-8")
    assert "bits per character" in md and "with song memory" in md and "with dynamic evaluation too" in md
    load_checkpoint(tiny)                                                    # still a valid checkpoint

    # --baselines-only: the model's song memory kept as stored, the n-grams (with memory) measured again
    card = json.loads((tiny / "checkpoint.json").read_text(encoding="utf-8"))["card"]     # a copy to compare
    kept = dict(card["memory"]["model"], val_ppl_memory=12.345)
    meta["card"]["memory"]["model"] = kept
    meta["card"]["baselines"]["bigram"] = 1.0
    (tiny / "checkpoint.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    assert main(["card", "--checkpoint", str(tiny), "--baselines-only"]) == 0
    assert "with song memory 12.35" in capsys.readouterr().out
    again = json.loads((tiny / "checkpoint.json").read_text(encoding="utf-8"))["card"]
    assert again["memory"]["model"] == kept and again["baselines"] == card["baselines"]
    assert again["memory"]["model_dynamic"] == card["memory"]["model_dynamic"]
    assert again["memory"]["bigram"] == card["memory"]["bigram"] and again["val_ppl"] == card["val_ppl"]
    assert (tiny / "model.safetensors").read_bytes() == weights
    meta["card"]["memory"]["model"] = card["memory"]["model"]             # put the measured figures back
    (tiny / "checkpoint.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    assert main(["card", "--checkpoint", str(tiny)]) == 0
    capsys.readouterr()

    # the stored settings are used (no --retune): the same figure as on the card
    assert main(["evaluate", "--checkpoint", str(tiny), "--memory"]) == 0
    out = capsys.readouterr().out
    assert "settings stored on the model card" in out
    row = re.search(r"^tiny\s+([\d.]+)\s+([\d.]+)", out.split("song memory")[1], re.M)
    assert float(row.group(2)) == pytest.approx(card["memory"]["model"]["val_ppl_memory"], abs=0.06)

    assert main(["generate", "--checkpoint", str(tiny), "--memory", "--length", "15", "--prefix", "月光"]) == 0
    assert "+ song memory" in capsys.readouterr().out


def test_generate_with_memory_needs_the_card_settings(tmp_path, capsys):
    path, _ = make_checkpoint(tmp_path, "bare")
    assert main(["generate", "--checkpoint", str(path), "--memory", "--length", "5"]) == 2
    assert "python -m lyricdemo card" in capsys.readouterr().err


def test_evaluate_without_the_corpus_says_why(tmp_path, capsys):
    path, text = make_checkpoint(tmp_path, "gone")
    text.unlink()
    assert main(["evaluate", "--checkpoint", str(path)]) == 2
    assert "is not here" in capsys.readouterr().err
