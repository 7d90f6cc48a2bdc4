"""``python -m lyricdemo train``: the default recipe, presets, a saved checkpoint with its model card,
and bad values as messages.  In-process through ``main()`` on a text the test writes (fast); one
subprocess run proves the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lyricdemo.__main__ import main, parse_args
from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.presets import DEFAULT, PRESETS
from lyricdemo.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]
LINES = ["月光洒在小河上", "风吹过我的窗", "你在远方唱", "星星一闪一闪亮", "我想你在远方", "明天会更亮"]
SMALL = ["--embed", "8", "--hidden", "16", "--batch", "4", "--steps", "8", "--min-freq", "1", "--minutes", "0",
         "--eval-every", "5", "--sample-length", "5", "--quiet"]


pytestmark = pytest.mark.usefixtures("keep_threads")


@pytest.fixture
def text_file(tmp_path):
    f = tmp_path / "lyrics.txt"
    f.write_text("\n".join(LINES * 6) + "\n", encoding="utf-8")
    return f


def parsed(*argv):
    return parse_args(["train", *argv])


def test_without_flags_the_command_trains_the_default_recipe():
    a = parsed()
    m = DEFAULT["model"]
    assert (a.kind, a.embed_dim, a.hidden_size, a.num_layers, a.dropout_embed, a.dropout_out) == (
        "gru", m["embed_dim"], 256, 1, m["dropout_embed"], m["dropout_out"])
    t = TrainConfig()                                       # the recipe's training half is TrainConfig's defaults
    assert (a.sampling, a.optimizer, a.lr, a.weight_decay, a.early_stopping, a.eval_every) == (
        t.sampling, t.optimizer, t.lr, t.weight_decay, t.early_stopping, t.eval_every)
    assert a.max_seconds == t.max_seconds and a.clip and a.keep_best


def test_a_preset_sets_every_value_and_explicit_flags_win():
    a = parsed("--preset", "d2l")
    assert (a.embed_dim, a.optimizer, a.lr, a.newline, a.max_tokens, a.min_freq) == (0, "sgd", 1.0, "space", 10_000, 1)
    assert a.dropout_out == 0.0 and a.weight_decay == 0.0 and a.early_stopping == 0 and not a.keep_best
    assert a.max_seconds == 120                                     # --minutes 2
    b = parsed("--preset", "d2l", "--lr", "0.5", "--hidden", "64", "--minutes", "1.5", "--keep-last", "--no-clip")
    assert (b.lr, b.hidden_size, b.embed_dim, b.max_seconds, b.keep_best, b.clip) == (0.5, 64, 0, 90, False, False)
    c = parsed("--preset", "classroom")
    assert c.max_seconds == PRESETS["classroom"]["train"]["max_seconds"] and c.weight_decay == TrainConfig().weight_decay
    assert parsed("--prefix", "月", "--prefix", "风").sample_prefixes == ["月", "风"]     # given prefixes replace the two


def test_train_saves_a_checkpoint_with_its_card(text_file, tmp_path, capsys):
    out = tmp_path / "ck"
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "20", "--model", "lstm", "--seed", "3",
                 "--out", str(out), "--card", "--fp16"]) == 0
    printed = capsys.readouterr().out
    assert "validation ppl" in printed and "bigram" in printed and "tokens/s" in printed and "model card" in printed
    ck = load_checkpoint(out)
    assert ck.model.config.kind == "lstm" and ck.model.config.hidden_size == 16
    meta = json.loads((out / "checkpoint.json").read_text(encoding="utf-8"))
    assert meta["weights"]["dtype"] == "float16"
    assert meta["command"].startswith("python -m lyricdemo train ") and "--seed 3" in meta["command"]
    card = meta["card"]
    assert card["val_ppl"] > 1 and set(card["baselines"]) >= {"unigram", "bigram", "trigram"}
    assert card["memorization"]["text_length"] > 0
    md = (out / "README.md").read_text(encoding="utf-8")
    assert f"**{card['val_ppl']:.1f}**" in md and meta["command"] in md and "against the bigram" in md


def test_the_default_adaptive_softmax_gives_way_on_a_small_vocabulary_but_an_explicit_one_does_not(
        text_file, tmp_path, capsys):
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--out", str(tmp_path / "a"),
                 "--fixed-recipe"]) == 0
    assert "using the full softmax" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "a").model.config.adaptive_cutoffs == ()
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--out", str(tmp_path / "s")]) == 0
    assert "it takes the full softmax" in capsys.readouterr().out        # sized: a tiny corpus is read many times
    assert load_checkpoint(tmp_path / "s").model.config.adaptive_cutoffs == ()
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--adaptive", "500"]) == 2
    assert "adaptive cutoff" in capsys.readouterr().err
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--adaptive", "10",
                 "--out", str(tmp_path / "b")]) == 0
    assert load_checkpoint(tmp_path / "b").model.config.adaptive_cutoffs == (10,)
    assert parsed("--adaptive").adaptive_cutoffs == []                       # no numbers: the full softmax


def test_bad_values_are_messages_not_tracebacks(text_file, capsys):
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--hidden", "0"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "0"]) == 2      # no budget at all
    assert "error:" in capsys.readouterr().err


def test_the_real_command_line(text_file, tmp_path):
    r = subprocess.run([sys.executable, "-m", "lyricdemo", "train", "--file", str(text_file), *SMALL,
                        "--max-steps", "6", "--preset", "d2l", "--max-tokens", "0", "--out", str(tmp_path / "d")],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "sgd" in json.dumps(json.loads((tmp_path / "d" / "checkpoint.json").read_text(encoding="utf-8"))["train"])


def test_a_training_takes_its_share_of_the_cores_and_says_so(text_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LYRICDEMO_CLAIMS_DIR", str(tmp_path / "claims"))
    monkeypatch.setenv("CPU_CORES", "2")
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2"]) == 0
    assert "threads: 2 (all 2 cores: no other training on this machine)" in capsys.readouterr().out
    assert torch.get_num_threads() == 2
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])        # another training
    try:
        (tmp_path / "claims" / f"{other.pid}-0.json").write_text(
            json.dumps({"pid": other.pid, "threads": 1, "what": "train"}))
        assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2"]) == 0
        out = capsys.readouterr().out
        assert f"threads: 1 (2 cores shared with 1 other training: pid {other.pid})" in out, out
        assert torch.get_num_threads() == 1
    finally:
        other.kill()
        other.wait()
    assert [p.name for p in (tmp_path / "claims").iterdir()] == [f"{other.pid}-0.json"]     # its own claim: gone
    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2", "--threads", "1"]) == 0
    assert "threads: 1 (--threads)" in capsys.readouterr().out


def test_the_summary_gives_the_model_mixed_with_its_trigram(text_file, tmp_path, capsys, monkeypatch):
    """The last lines of a run: the model alone against the bigram, then mixed half and half with the trigram
    of its training text -- the figure computed here by hand from the two parts' log-probabilities."""
    import math

    import numpy as np

    from lyricdemo.cli import cmd_train
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.memory_tuning import model_outputs
    from lyricdemo.models import ModelConfig
    from lyricdemo.ngram import NGramLM
    from lyricdemo.train import new_model

    assert main(["train", "--file", str(text_file), *SMALL, "--max-steps", "2"]) == 0
    assert "  + trigram        " in capsys.readouterr().out
    ds = load_dataset(DataConfig(source=str(text_file), min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16), seed=0).eval()
    cmd_train._print_mixture(model, ds, 10.0)
    line = capsys.readouterr().out
    net, _ = model_outputs(model, ds.val_ids)
    tri = NGramLM(3, len(ds.vocab)).fit(ds.train_ids).log_probs(ds.val_ids)
    by_hand = math.exp(-np.mean(np.logaddexp(net + math.log(0.5), tri + math.log(0.5))))
    assert f"+ trigram        {by_hand:.2f} (validation" in line and f"{by_hand / 10:.2f}x" in line, (line, by_hand)
    monkeypatch.setattr(cmd_train, "MIX_IN_SUMMARY_TOKENS", len(ds.train_ids) - 1)   # a large text: a pointer
    cmd_train._print_mixture(model, ds, 10.0)
    assert "python -m lyricdemo evaluate" in capsys.readouterr().out
