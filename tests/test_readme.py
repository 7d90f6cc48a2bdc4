"""The README is executed: every runnable block in it, on a fresh machine (no d2l corpus, no network).

- the ``gradio_client`` example, unchanged but for the address, against a live ``python app.py``
  whose data/ is empty (the corpus in use is then the embedded Tang poems);
- each ``python -m lyricdemo ...`` line of "Command line", in order, in a scratch folder
  (``[...]`` marks optional flags and is dropped; training budgets are capped by
  ``LYRICDEMO_MAX_TRAIN_SECONDS``, which the CLI obeys like the app; ``fetch`` talks to a
  127.0.0.1 server standing in for the corpus host);
- each benchmark command: the script exists, compiles, parses ``--help`` where it takes
  flags, and its stated prerequisite (the d2l reference in ../shared/bench) is named right.

- the Space block: its ``--dry-run`` line (the other needs an account and the network; its code path is
  tested with a stand-in Hub in test_publish.py).

The two commands of "Two commands" are what ``.ci/run`` runs; they are not run again here.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import py_compile
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, start_app, stop_app
from test_corpus import _Server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[tuple[str, str]]:
    """(the heading above it, the code) of every fenced block in ``lang``."""
    out, heading = [], ""
    lines = README.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == f"```{lang}":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            out.append((heading, "\n".join(lines[i + 1:j])))
            i = j
        i += 1
    return out


def commands(code: str) -> list[str]:
    """Shell lines of a block: continuations joined, comments and ``[optional]`` parts dropped."""
    out, cur = [], ""
    for line in code.splitlines():
        line = re.sub(r"\s+#.*$", "", line) if not line.lstrip().startswith("#") else ""
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        cur = re.sub(r"\[[^\]]*\]", "", cur).strip()
        if cur:
            out.append(cur)
        cur = ""
    return out


def test_the_readme_has_what_this_file_runs():
    heads = [h for h, _ in blocks("bash")]
    assert heads.count("Two commands") == 2 and "Command line" in heads and "Benchmarks" in heads
    assert "A Hugging Face Space" in heads
    assert len(blocks("python")) == 1


def test_the_api_example_runs_on_a_fresh_machine(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    url, proc, log, log_path = start_app(tmp_path, "app-readme", {"LYRICDEMO_DATA_DIR": str(empty)})
    try:
        (_, code), = blocks("python")
        assert 'Client("http://127.0.0.1:7860/")' in code
        scope: dict = {}
        exec(compile(code.replace("http://127.0.0.1:7860/", url), "README.md", "exec"), scope)   # noqa: S102
        assert scope["stats"]["corpus"] == "tang_poems.txt.zip"                 # the embedded corpus, by default
        assert scope["stats"]["config"]["tokenizer"] == "word"
        assert scope["key"].startswith("session:")                               # the model the example trained
        assert scope["text"].startswith("分开") and len(scope["text"]) > 10
    finally:
        stop_app(proc, log)
    assert "Traceback" not in log_path.read_text()


@pytest.fixture
def corpus_host():
    """A 127.0.0.1 stand-in for the corpus host: the real zip when it is here, else bytes that fail
    the checksum (so ``fetch`` is seen refusing them)."""
    real = CORPUS
    payload = real.read_bytes() if real.is_file() else b"PK\x03\x04 not the corpus"
    server = _Server({"/jaychou_lyrics.txt.zip": payload})
    server.real = real.is_file()
    yield server
    server.close()


def test_every_command_line_example_runs(tmp_path, corpus_host):
    (_, code), = [b for b in blocks("bash") if b[0] == "Command line"]
    lines = commands(code)
    assert len(lines) >= 8 and all(c.startswith("python -m lyricdemo ") for c in lines), lines
    env = {**os.environ, "PYTHONPATH": str(REPO), "LYRICDEMO_MAX_TRAIN_SECONDS": "3",
           "LYRICDEMO_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1",
           "LYRICDEMO_CORPUS_URLS": corpus_host.url + "/jaychou_lyrics.txt.zip"}

    def run(chain: list[str]) -> None:
        for line in chain:
            argv = shlex.split(line)
            r = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=300)
            out = r.stdout + r.stderr
            assert "Traceback" not in out, f"{line}\n{out}"
            if argv[3] == "fetch" and not corpus_host.real:
                assert r.returncode != 0 and "checksum mismatch" in out, out
                continue
            assert r.returncode == 0, f"{line}\n{out}"
            if argv[3] == "train" and "--resume" in argv:
                assert "resuming checkpoints/my-lstm" in out and "saved            checkpoints/my-lstm" in out, out

    # In the README's order, except that after the corpus is fetched the lines about checkpoints/my-lstm (which
    # follow one another) run beside the others: two one-thread processes at once on two cores.
    head = [c for c in lines if shlex.split(c)[3] in ("inspect", "fetch")]
    mine = [c for c in lines if c not in head and "my-lstm" in c]
    rest = [c for c in lines if c not in head and c not in mine]
    assert len(mine) >= 2 and rest
    run(head)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(run, mine), pool.submit(run, rest)]:
            done.result()
    assert (tmp_path / "checkpoints" / "my-lstm" / "resume.safetensors").is_file()
    assert (tmp_path / "probe.html").stat().st_size > 1000
    assert corpus_host.hits == ["/jaychou_lyrics.txt.zip"]
    if corpus_host.real:                                    # fetched into the scratch data/, checksum checked
        digest = hashlib.sha256((tmp_path / "data" / "jaychou_lyrics.txt.zip").read_bytes()).hexdigest()
        assert digest == "182180582bd7811aa93f4eb954f9a8d7990177044c374b16bd9304132d2dc39c"


def test_every_benchmark_command_is_there_with_its_prerequisites():
    (_, code), = [b for b in blocks("bash") if b[0] == "Benchmarks"]
    lines = commands(code)
    assert lines and all(c.startswith(".venv/bin/python bench/") for c in lines), lines
    assert ".venv" in README and "tests/run.sh" in README                 # where .venv/bin/python comes from
    assert "../shared/bench/d2l_reference.py" in README
    def help_of(line: str) -> None:
        script = REPO / shlex.split(line)[1]
        py_compile.compile(str(script), doraise=True)
        text = script.read_text(encoding="utf-8")
        if "argparse" in text:
            r = subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0 and "usage" in r.stdout, f"{line}\n{r.stdout}{r.stderr}"

    with concurrent.futures.ThreadPoolExecutor(2) as pool:                 # two scripts at once, on two cores
        for done in [pool.submit(help_of, line) for line in lines]:
            done.result()


def test_the_space_dry_run_runs():
    (_, code), = [b for b in blocks("bash") if b[0] == "A Hugging Face Space"]
    lines = commands(code)
    assert len(lines) == 2 and "--dry-run" in lines[0] and "--dry-run" not in lines[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, *shlex.split(lines[0])[1:]], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "through LFS" in r.stdout and "nothing uploaded" in r.stdout, r.stdout + r.stderr
