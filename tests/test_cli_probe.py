"""``python -m lyricdemo probe``: JSON data and a standalone HTML page, through a real subprocess, on a
tiny checkpoint made here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lyricdemo.checkpoint import save_checkpoint
from lyricdemo.data import DataConfig, load_dataset
from lyricdemo.models import ModelConfig
from lyricdemo.train import new_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("probe-cli")
    text = root / "lyric.txt"
    text.write_text("月光洒在小河上\n风吹过我的窗\n我想你在远方\n" * 3, encoding="utf-8")
    ds = load_dataset(DataConfig(source=str(text), val_fraction=0.2, min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), kind="lstm", embed_dim=8, hidden_size=12, num_layers=2),
                      seed=0)
    return save_checkpoint(root / "tiny-lstm", model, ds.vocab, ds.config)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "lyricdemo", "probe", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_json_export(checkpoint, tmp_path):
    out = tmp_path / "probe.json"
    r = run("--checkpoint", str(checkpoint), "--text", "月光\\n风吹过龘", "--out", str(out), "--position", "2",
            "--connectivity")
    assert r.returncode == 0, r.stderr
    assert "read 7 tokens" in r.stdout and "wrote" in r.stdout and "unknown" in r.stdout
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["tokens"] == ["月", "光", "\n", "风", "吹", "过", "龘"] and d["model"]["kind"] == "lstm"
    assert len(d["states"]["h"]) == 2 and len(d["states"]["c"][1]) == 7 and len(d["gates"]["f"][0][0]) == 12
    assert d["saliency"]["position"] == 2 and d["saliency"]["shares"][3:] == [0.0] * 4
    assert len(d["connectivity"]["matrix"]) == 7 and d["predictions"]["next_logprob_bits"][-1] is None


def test_html_export_works_offline(checkpoint, tmp_path):
    out = tmp_path / "page.html"
    r = run("--checkpoint", str(checkpoint), "--text", "月光洒在小河上\\n风吹过我的窗\\n我想你", "--out", str(out),
            "--select-by", "token", "--select", "我", "--layer", "1")
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot") >= 7                       # every view is a plot
    assert html.count("window.PlotlyConfig") == 1 and re.search(r"plotly\.js v\d", html)   # plotly.js inlined, once
    assert not re.search(r"<script[^>]+src=\"https?://", html)   # no CDN: it opens from a file, offline
    assert out.stat().st_size < 8_000_000
    assert "Units that fire at token 我" in html


def test_refuses_bad_arguments_with_a_message(checkpoint, tmp_path, capsys):
    """In-process (the same ``main`` the subprocess runs): a message and exit code 2, never a traceback."""
    from lyricdemo.__main__ import main

    for args, says in ((["--text", "月光", "--out", str(tmp_path / "x.png")], ".json"),
                       (["--text", "月" * 2001, "--out", str(tmp_path / "x.json")], "at most 2,000"),
                       (["--text", "月光", "--out", str(tmp_path / "x.json"), "--position", "5"], "saliency position"),
                       (["--text-file", str(tmp_path / "none.txt"), "--out", str(tmp_path / "x.json")], "Cannot read")):
        assert main(["probe", "--checkpoint", str(checkpoint), *args]) == 2
        assert says in capsys.readouterr().err
    assert main(["probe", "--checkpoint", str(tmp_path / "nope"), "--text", "月", "--out", str(tmp_path / "x.json")]) == 2
    assert "No checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
