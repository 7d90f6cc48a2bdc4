"""``python -m lyricdemo generate``: text, unknown characters, the memorization meter, errors.

A tiny checkpoint is made in a temp folder from a text the tests write; two
subprocess runs prove the real command line (exit codes, no traceback), the rest
call ``main()`` in-process, which is much faster.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lyricdemo.__main__ import main
from lyricdemo.checkpoint import save_checkpoint
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.models import ModelConfig, build_model

REPO = Path(__file__).resolve().parents[1]
LINES = ["月光洒在小河上", "风吹过我的窗", "你在远方唱", "星星一闪一闪亮", "我想你在远方", "明天会更亮"]


def make_checkpoint(root, name="tiny"):
    """A GRU (embedding 8, hidden 16) over a made-up text in ``root``: (checkpoint folder, text file)."""
    text_file = root / f"{name}.txt"
    text_file.write_text("\n".join(LINES * 4) + "\n", encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(text_file), min_freq=1, val_fraction=0.1))
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16))
    path = save_checkpoint(root / name, model, ds.vocab, ds.config,
                           corpus={"name": ds.raw.name, "sha256": ds.corpus_sha256})
    return path, text_file


pytestmark = pytest.mark.usefixtures("keep_threads")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("cli"))[0]


def run(*args):
    return subprocess.run([sys.executable, "-m", "lyricdemo", "generate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_the_command_prints_the_text_and_the_memorization_summary(tiny):
    r = run("--checkpoint", str(tiny), "--prefix", "月光", "--length", "20", "--strategy", "greedy")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "model: tiny: GRU 1x16" in out
    text = out.split("\n\n")[1].strip("\n")
    assert text.startswith("月光") and len(text) > 2
    assert "greedy: 20" in out
    assert "memorization of the generated text (the prefix not counted) against its training text" in out
    assert "longest verbatim copy" in out
    assert "Traceback" not in r.stderr


def test_strict_refuses_unknown_characters_with_a_message_not_a_traceback(tiny):
    r = run("--checkpoint", str(tiny), "--prefix", "月光😀", "--strict")
    assert r.returncode == 2
    assert r.stderr.startswith("error:") and "😀" in r.stderr and "strict" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_unknown_characters_are_reported(tiny, capsys):
    assert main(["generate", "--checkpoint", str(tiny), "--prefix", "月😀光", "--length", "5"]) == 0
    out = capsys.readouterr().out
    assert "unknown:" in out and "'😀' at 1" in out and "<unk>" in out
    assert "月😀光" in out


def test_several_candidates_are_numbered_each_with_its_meter(tiny, capsys):
    assert main(["generate", "--checkpoint", str(tiny), "--prefix", "风", "--length", "8", "--strategy", "beam",
                 "--beam-width", "3", "--candidates", "2"]) == 0
    out = capsys.readouterr().out
    assert "[1] (mean log-prob" in out and "[2] (mean log-prob" in out and "[3]" not in out
    meter = out.split("memorization of the generated text")[1]
    assert meter.count("longest verbatim copy") == 2 and "[1] " in meter and "[2] " in meter


def test_sampling_options_and_a_fresh_seed(tiny, capsys):
    args = ["generate", "--checkpoint", str(tiny), "--prefix", "星", "--length", "10", "--strategy", "sample",
            "--temperature", "0.7", "--top-k", "5", "--top-p", "0.9", "--repetition-penalty", "1.2"]
    assert main([*args, "--seed", "3", "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2
    first = capsys.readouterr().out
    assert main([*args, "--seed", "3"]) == 0
    assert capsys.readouterr().out.split("\n\n")[1] == first.split("\n\n")[1]      # same seed, same text
    assert main([*args, "--seed", "random"]) == 0
    assert ", seed " in capsys.readouterr().out


def test_a_bare_name_is_looked_up_under_checkpoints(tiny, monkeypatch, capsys):
    import lyricdemo.checkpoint

    monkeypatch.setattr(lyricdemo.checkpoint, "SHIPPED_DIR", tiny.parent)
    assert main(["generate", "--checkpoint", tiny.name, "--length", "3", "--strategy", "greedy"]) == 0
    assert "model: tiny" in capsys.readouterr().out
    assert main(["generate", "--checkpoint", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No checkpoint folder at 'no-such-model'") and "tiny" in err


def test_the_meter_says_why_it_is_unavailable(tmp_path, capsys):
    path, text_file = make_checkpoint(tmp_path, "moved")
    text_file.write_text("另一个文本\n", encoding="utf-8")                     # not the text it was trained on
    assert main(["generate", "--checkpoint", str(path), "--length", "3"]) == 0
    out = capsys.readouterr().out
    assert "memorization meter unavailable" in out and "not the file this model was trained on" in out
    text_file.unlink()
    assert main(["generate", "--checkpoint", str(path), "--length", "3"]) == 0
    assert "is not here" in capsys.readouterr().out


def test_bad_values_are_messages(tiny, tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tiny), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(tiny), "--length", "0"]) == 2
    assert "length" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(tiny), "--top-p", "1.5"]) == 2
    assert "top_p" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    (broken / "model.safetensors").write_bytes(b"\x80\x04 not weights")
    assert main(["generate", "--checkpoint", str(broken)]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_a_bidirectional_checkpoint_generates_with_the_warning(tmp_path, capsys):
    text_file = tmp_path / "bi.txt"
    text_file.write_text("\n".join(LINES * 4) + "\n", encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(text_file), min_freq=1))
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=len(ds.vocab), embed_dim=8, hidden_size=16, bidirectional=True))
    path = save_checkpoint(tmp_path / "bi", model, ds.vocab, ds.config,
                           corpus={"name": ds.raw.name, "sha256": ds.corpus_sha256})
    assert main(["generate", "--checkpoint", str(path), "--prefix", "月", "--length", "6", "--strategy", "greedy"]) == 0
    out = capsys.readouterr().out
    assert "note: This model is bidirectional" in out and "longest verbatim copy" in out
