"""corpora/README.md's lesson for the visualizer: a unit of the shipped tang-gru counts the characters of a line.
Its figures are what ``corpora/tang_line_units.py`` prints; recomputed here so the README stays true when the
model is rebuilt (which unit learns to count depends on the run)."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from lyricdemo.checkpoint import load_checkpoint
from lyricdemo.corpora import EMBEDDED
from lyricdemo.corpus import read_corpus_file
from lyricdemo.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location("tang_line_units", ROOT / "corpora" / "tang_line_units.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_counting_unit_the_readme_names_is_the_shipped_models():
    s = script()
    ck = load_checkpoint(ROOT / "checkpoints" / "tang-gru")
    ds = load_dataset(replace(ck.data_config, source=None), raw=read_corpus_file(EMBEDDED["tang"]["path"]))
    h, pos, width = s.read_poems(ck.model, ck, s.held_out_poems(ds))
    scored = pos >= 0
    r = s.correlations(h[scored], pos[scored].astype(float))
    unit = int(np.argmax(np.abs(r)))
    readme = (ROOT / "corpora" / "README.md").read_text(encoding="utf-8")
    sign = "+" if r[unit] > 0 else "−"
    assert f"| all held-out characters | unit {unit} {sign}{abs(r[unit]):.2f}," in readme
    assert re.search(rf"In tab 4, colour a poem by unit {unit} \(layer 1\)", readme)
    assert abs(r[unit]) > 0.8                              # it counts: far above the untrained network's 0.27
    five = [float(np.sign(r[unit]) * h[(pos == p) & (width == 5), unit].mean()) for p in range(5)]
    assert all(a < b for a, b in zip(five, five[1:]))      # it climbs through a five-character line (or falls)
