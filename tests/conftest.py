"""Shared test setup.

Nothing here touches the internet: Gradio analytics and the Hugging Face hub are
switched off before anything imports them, and downloads are tested against a
local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("LYRICDEMO_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache"))

from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "jaychou_lyrics.txt.zip"


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The real d2l corpus in data/; tests that need it are skipped where it is absent."""
    if not CORPUS.is_file():
        pytest.skip("the d2l corpus is not in data/ (see data/README.md)")
    return CORPUS


@pytest.fixture
def small_text() -> str:
    """A tiny made-up lyric, written by the tests (never corpus text)."""
    return "\n".join([
        "月光洒在小河上",
        "风吹过我的窗",
        "月光洒在小河上",
        "你在远方唱",
        "hello world 123",
        "星星一闪一闪亮",
        "风吹过我的窗",
        "我想你在远方",
        "夜很长 路很长",
        "明天会更亮",
    ]) + "\n"
