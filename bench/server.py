"""`python app.py` as a subprocess for the soak, fault and cost scripts: start, watch, kill.

What the scripts read of the server comes from outside it, as an operator would see it:
/proc (memory, threads, CPU seconds), its temp folders, and its answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, children

os.environ.setdefault("HF_HUB_OFFLINE", "1")              # gradio_client stays off the network
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One app server on 127.0.0.1 with its own temp folders under ``root`` (TMPDIR and Gradio's cache)."""

    def __init__(self, root: Path, env: dict | None = None, port: int | None = None):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.cache = self.root / "gradio-cache"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 400.0) -> float:
        """Start and wait for the first HTTP 200; returns the seconds it took."""
        import httpx

        self.tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_TEMP_DIR": str(self.cache), "TMPDIR": str(self.tmp), "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("GRADIO_SHARE", None)
        self.log = open(self.root / f"server-{self.port}-{int(time.time())}.log", "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > timeout:
                self.kill()
                raise RuntimeError(f"the server was not up after {timeout:.0f} s")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self) -> dict[str, int]:
        """VmRSS and VmHWM in MB, the thread count, and its child processes' RSS (ChildRSS), from /proc."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) // 1024
            elif key == "Threads":
                out[key] = int(rest)
        out["ChildRSS"] = 0                       # the decoder process (lyricdemo/decode_process.py), in MB
        for c in children(self.pid):
            try:
                rss = [ln for ln in Path(f"/proc/{c}/status").read_text().splitlines() if ln.startswith("VmRSS:")]
                out["ChildRSS"] += int(rss[0].split()[1]) // 1024 if rss else 0
            except OSError:
                pass
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def files(self) -> dict[str, int]:
        """What the server has on disk now: session folders and files in them, Gradio's cached files."""
        sessions = [d for d in self.tmp.glob("lyricdemo-session-*") if d.is_dir()]
        return {"session_dirs": len(sessions),
                "session_files": sum(1 for d in sessions for f in d.rglob("*") if f.is_file()),
                "gradio_cache_files": sum(1 for f in self.cache.rglob("*") if f.is_file()) if self.cache.is_dir() else 0}

    def kill(self) -> None:
        """SIGKILL: no finalizer, no atexit, nothing flushed -- a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def shipped_key(client) -> str:
    """A shipped character model to generate and probe with (the first char model the server lists)."""
    models = client.predict(api_name="/models")[2]
    keys = [m["key"] for m in models if m["key"].startswith("shipped:")]
    if not keys:
        raise SystemExit("no shipped checkpoint: the scripts generate with checkpoints/")
    return next((k for k in keys if "char-gru" in k), keys[0])
