"""Publishing the Space: an allow-list of files (never the d2l corpus, a venv, caches or tests), binary
files through LFS, a dry run that needs no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lyricdemo.errors import LyricdemoError
from lyricdemo.publish import GITATTRIBUTES, publish, space_files

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path):
    files = {
        "app.py": "print()", "README.md": "---\nsdk: gradio\n---\n", "LICENSE": "MIT", "requirements.txt": "torch==2.13.0",
        "pre-requirements.txt": "torch==2.13.0", "requirements-dev.txt": "pytest", "data/README.md": "card",
        "data/jaychou_lyrics.txt.zip": "PK", "data/other.txt": "x", ".venv/bin/python": "x",
        "lyricdemo/__init__.py": "", "lyricdemo/ui/tab.py": "", "lyricdemo/__pycache__/x.pyc": "x",
        "checkpoints/char-gru/model.safetensors": "w", "checkpoints/char-gru/checkpoint.json": "{}",
        "corpora/tang_poems.txt.zip": "PK", "tests/test_x.py": "", "tests/screenshots/1.png": "png",
        "bench/bench_x.py": "", ".cache/x": "x",
    }
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    return tmp_path


def test_a_space_gets_the_app_and_nothing_else(tree):
    got = {f.path: f.lfs for f in space_files(tree)}
    assert got == {
        "LICENSE": False, "README.md": False, "app.py": False, "checkpoints/char-gru/checkpoint.json": False,
        "checkpoints/char-gru/model.safetensors": True, "corpora/tang_poems.txt.zip": True, "data/README.md": False,
        "lyricdemo/__init__.py": False, "lyricdemo/ui/tab.py": False, "pre-requirements.txt": False,
        "requirements.txt": False, "tests/screenshots/1.png": True}


def test_not_a_checkout_is_refused(tmp_path):
    with pytest.raises(LyricdemoError, match="not a lyricdemo checkout"):
        space_files(tmp_path)


def test_publish_creates_the_space_lfs_rules_first_then_the_allowed_files(tree):
    calls = []

    class Api:
        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw))
            return f"https://example.invalid/spaces/{repo_id}"

        def upload_file(self, **kw):
            calls.append(("file", kw["path_in_repo"], kw["path_or_fileobj"]))

        def upload_folder(self, **kw):
            calls.append(("folder", kw["folder_path"], sorted(kw["allow_patterns"])))

    assert publish("me/lyricdemo", tree, api=Api()).endswith("me/lyricdemo")
    assert calls[0] == ("create", "me/lyricdemo", {"repo_type": "space", "space_sdk": "gradio", "private": False,
                                                    "exist_ok": True})
    assert calls[1] == ("file", ".gitattributes", GITATTRIBUTES.encode())
    assert "*.safetensors filter=lfs" in GITATTRIBUTES and "*.zip filter=lfs" in GITATTRIBUTES
    assert calls[2] == ("folder", str(tree), sorted(f.path for f in space_files(tree)))
    with pytest.raises(LyricdemoError, match="USER/NAME"):
        publish("nouser", tree, api=Api())


def test_the_dry_run_of_this_checkout_lists_files_offline():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "lyricdemo", "publish", "--dry-run", "--space", "me/lyricdemo"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    listed = [line.split()[-1] for line in r.stdout.splitlines() if line.startswith(("LFS", "   "))]
    assert {"app.py", "requirements.txt", "pre-requirements.txt", "checkpoints/char-gru/model.safetensors",
            "corpora/tang_poems.txt.zip"} <= set(listed)
    assert not [p for p in listed if p.startswith(("tests/test_", "bench/", ".venv", "data/jaychou"))]
    assert "nothing uploaded to me/lyricdemo" in r.stdout
