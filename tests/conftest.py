"""Shared test setup.

Nothing here touches the internet: Gradio analytics and the Hugging Face hub are
switched off before anything imports them, and downloads are tested against a
local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import zipfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # app server + tests share 2 cores (see app.py)
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("LYRICDEMO_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache"))

from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
# LYRICDEMO_DATA_DIR=<an empty folder> runs the suite as on a machine without the corpus (.ci/run does both)
DATA_DIR = Path(os.environ.get("LYRICDEMO_DATA_DIR") or REPO / "data")
CORPUS = DATA_DIR / "jaychou_lyrics.txt.zip"


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tiny models (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    a second thread only adds waiting, and on a busy 2-core machine stalls of tens of ms per LSTM call.
    Restored after the module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def keep_threads():
    """The CLI sets the process's torch threads (--threads, default 1): give them back after each test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def finish_job(job, timeout: float = 60.0) -> list:
    """Wait for a gradio_client job and return every output it yielded (re-raises its AppError / QueueError)."""
    import time

    deadline = time.monotonic() + timeout
    while not job.done():
        assert time.monotonic() < deadline, "job did not finish in time"
        time.sleep(0.05)
    job.result()
    return list(job.outputs())


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


# ----------------------------------------------------------------------------- the app (added with the app issue)
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

APP_STARTUP: dict[str, float] = {}     # server name -> seconds from `python app.py` to the first HTTP 200


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tiny_checkpoints(root: Path, text_file: Path | None = None) -> Path:
    """Three tiny, untrained checkpoints (RNN, GRU, LSTM) written with the library, standing in for the
    shipped ones: on the d2l corpus when it is here (so the memorization meter has its corpus), else on
    ``text_file``."""
    from lyricdemo.checkpoint import save_checkpoint
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.models import ModelConfig
    from lyricdemo.train import new_model

    cfg = DataConfig() if CORPUS.is_file() else DataConfig(source=str(text_file), val_fraction=0.2, min_freq=1)
    ds = load_dataset(cfg)
    for kind, layers in (("rnn", 1), ("gru", 2), ("lstm", 1)):
        model = new_model(ModelConfig(vocab_size=len(ds.vocab), kind=kind, embed_dim=16, hidden_size=24,
                                      num_layers=layers), seed=0)
        save_checkpoint(root / f"tiny-{kind}", model, ds.vocab, ds.config,
                        corpus={"name": ds.raw.name, "sha256": ds.corpus_sha256},
                        metrics={"best_val_ppl": float(len(ds.vocab))})
    return root


TINY_LYRIC = "\n".join(["月光洒在小河上", "风吹过我的窗", "你在远方唱", "星星一闪一闪亮", "我想你在远方",
                        "夜很长 路很长", "明天会更亮", "我们一起去看海",
                        "说好分开 又说不分开"] * 3) + "\n"      # the prefixes the tests type: 分开, 不分开


@pytest.fixture(scope="session")
def checkpoints_dir(tmp_path_factory) -> Path:
    """Where the test server finds its "shipped" models: tiny ones made here, or the repository's real
    ones with LYRICDEMO_TEST_SHIPPED=1 (the same tests must pass with both)."""
    if os.environ.get("LYRICDEMO_TEST_SHIPPED") == "1":
        return REPO / "checkpoints"
    root = tmp_path_factory.mktemp("shipped")
    text = root.parent / "tiny-lyric.txt"
    text.write_text(TINY_LYRIC, encoding="utf-8")
    return make_tiny_checkpoints(root, text)


def start_app(tmp: Path, name: str, extra_env: dict | None = None, timeout: float = 240.0):
    """Start ``python app.py`` on a free loopback port; returns (url, process, log path)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_TEMP_DIR": str(tmp / "gradio-cache"), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    env.pop("GRADIO_SHARE", None)
    log_path = tmp / f"{name}.log"
    log = open(log_path, "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    import httpx

    while True:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"app exited early ({proc.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() - t0 > timeout:
            proc.kill()
            log.close()
            raise RuntimeError(f"app not up after {timeout:.0f} s:\n{log_path.read_text()}")
        time.sleep(0.1)
    APP_STARTUP[name] = time.monotonic() - t0
    print(f"\n[{name}] python app.py -> first HTTP 200 in {APP_STARTUP[name]:.2f} s at {url}")
    return url, proc, log, log_path


def stop_app(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, checkpoints_dir):
    """ONE app server per test session, shared by the gradio_client and the browser tests."""
    tmp = tmp_path_factory.mktemp("app")
    url, proc, log, _ = start_app(tmp, "app", {"LYRICDEMO_CHECKPOINTS": str(checkpoints_dir),
                                               "LYRICDEMO_MAX_TRAINING": "2",
                                               "LYRICDEMO_MAX_SESSION_MODELS": "4"})
    try:
        yield url
    finally:
        stop_app(proc, log)


# ------------------------------------------------------------ browser (pytest-playwright + Debian's Chromium)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded one (no `playwright install`)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}, "locale": "zh-CN"}


def make_zip(files: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    """A zip archive of ``{name: bytes}`` in memory (odd names, bombs and pickles included)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()
