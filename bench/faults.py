"""Faults: SIGKILL the server in the middle of a training and of a checkpoint download, restart it.

    python bench/faults.py

Against ``python app.py`` on 127.0.0.1 (a subprocess with its own TMPDIR and Gradio cache, so
everything it writes is in one place to inspect).  Steps and checks, each printed PASS/FAIL:

1. a student trains a small model to the end and downloads its checkpoint zip (kept by the
   script); a second run starts and a follower follows it;
2. SIGKILL while that run trains and while a third client downloads the first zip slowly;
3. the follower's stream ends (it does not hang), the half download is short, and the server's
   decoder process (``lyricdemo/decode_process.py``) exits with it;
4. restart on the same port and folders: the server starts; the killed server's session folders
   are gone (deleted at start) and no ``*.part`` or unreadable zip is left anywhere it writes;
5. the follower asks again with the old link: told the run is not on this server / restarted;
6. the checkpoint downloaded before the kill is intact (its zip reads, the weights' sha256 is the
   one in its JSON) and loads, in the library and on the restarted server (``/load_checkpoint``),
   and generates.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path

import httpx

from common import children
from server import Server, loadavg

RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}{' — ' + detail if detail else ''}", flush=True)


def leftovers(server: Server) -> list[str]:
    """Half-written things anywhere the server writes: .part files, zips that do not read."""
    bad = []
    for base in (server.tmp, server.cache):
        for f in base.rglob("*") if base.is_dir() else []:
            if f.name.endswith(".part"):
                bad.append(str(f))
            elif f.suffix == ".zip" and f.is_file():
                try:
                    with zipfile.ZipFile(f) as z:
                        if z.testzip() is not None:
                            bad.append(str(f))
                except zipfile.BadZipFile:
                    bad.append(str(f))
    return bad


def main() -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from lyricdemo.checkpoint import load_checkpoint, unpack_checkpoint

    print(f"load average {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="lyricdemo-faults-") as root:
        root = Path(root)
        server = Server(root)
        print(f"server up in {server.start():.1f} s")
        try:
            # 1. a finished model, downloaded; a second run, followed
            owner = Client(server.url, verbose=False)
            done = owner.submit(data="d2l", hidden_size=256, embed_dim=128, max_steps=5, eval_every=5,
                                max_seconds=120, api_name="/train")
            done.result()
            served = done.outputs()[-1][6]                     # gradio_client downloaded it here
            kept = root / "downloaded.zip"
            kept.write_bytes(Path(served).read_bytes())
            check("a checkpoint downloaded before the crash", zipfile.is_zipfile(kept), f"{kept.stat().st_size:,} bytes")
            url_path = None
            for f in server.cache.rglob("*.zip"):
                url_path = f
            run = owner.submit(data="d2l", hidden_size=64, embed_dim=32, max_seconds=120, eval_every=10,
                               api_name="/train")
            while not run.outputs() or not run.outputs()[-1][5].get("step"):
                time.sleep(0.1)
            rid = run.outputs()[-1][5]["follow"]
            fan = Client(server.url, verbose=False)
            watch = fan.submit(run_id=rid, api_name="/follow")
            while not watch.outputs():
                time.sleep(0.1)
            old_pid = server.pid
            decoders = children(old_pid)                  # the decoder process (LYRICDEMO_DECODE_PROCESS)

            # 2. a slow download in flight, then SIGKILL mid-training
            got = 0
            with httpx.stream("GET", f"{server.url}gradio_api/file={url_path}", timeout=30) as r:
                chunks = r.iter_bytes(16_384)
                try:
                    got += len(next(chunks))              # the download has begun ...
                    server.kill()                         # ... and the server dies
                    for chunk in chunks:
                        got += len(chunk)
                except httpx.HTTPError:
                    pass
                code = r.status_code
            check("SIGKILL mid-training and mid-download", server.proc.returncode == -9,
                  f"step {run.outputs()[-1][5]['step']} of the run; HTTP {code}, {got:,} of {kept.stat().st_size:,} bytes "
                  "downloaded")

            # 3. the follower is not left hanging
            t0 = time.monotonic()
            while not watch.done() and time.monotonic() - t0 < 60:
                time.sleep(0.2)
            check("the follower's stream ends when the server dies", watch.done(), f"after {time.monotonic() - t0:.1f} s")
            t0 = time.monotonic()
            while any(Path(f"/proc/{c}").exists() for c in decoders) and time.monotonic() - t0 < 30:
                time.sleep(0.1)
            check("the server's decoder process exits with it", bool(decoders) and
                  not any(Path(f"/proc/{c}").exists() for c in decoders),
                  f"{len(decoders)} child process(es), gone after {time.monotonic() - t0:.1f} s")
            stale = sorted(p.name for p in server.tmp.glob(f"lyricdemo-session-{old_pid}-*"))
            print(f"      left by the killed server: {len(stale)} session folder(s), "
                  f"{sum(1 for d in server.tmp.glob('lyricdemo-session-*') for f in d.rglob('*') if f.is_file())} files")

            # 4. restart: starts clean
            up = server.start()
            check("the server restarts", True, f"up in {up:.1f} s")
            gone = not list(server.tmp.glob(f"lyricdemo-session-{old_pid}-*"))
            check("the killed server's session folders are deleted at start", gone and bool(stale),
                  f"{len(stale)} found before the restart")
            bad = leftovers(server)
            check("no half-written file where it writes (TMPDIR, Gradio cache)", not bad, ", ".join(bad[:3]))

            # 5. the follower of the old run is told it ended
            try:
                Client(server.url, verbose=False).predict(run_id=rid, api_name="/follow")
                check("the old run's follower is told it ended", False, "it answered as if the run were here")
            except AppError as e:
                check("the old run's follower is told it ended", "restarted" in str(e), str(e)[:110] + "…")

            # 6. the checkpoint downloaded before is intact and loads
            out = root / "unpacked"
            out.mkdir()
            ckpt = load_checkpoint(unpack_checkpoint(kept.read_bytes(), out))      # checks the sha256 of the weights
            check("the downloaded checkpoint loads in the library", ckpt.model is not None,
                  f"{ckpt.model.num_parameters():,} parameters, sha256 checked")
            c = Client(server.url, verbose=False)
            c.predict(handle_file(str(kept)), api_name="/load_checkpoint")
            key = [m["key"] for m in c.predict(api_name="/models")[2] if m["key"].startswith("session:")][-1]
            text = c.predict(model=key, prefix="分开", length=20, api_name="/generate")[0]
            check("... and on the restarted server, where it generates", text.startswith("分开"), repr(text[:24]))
        finally:
            server.stop()
    failed = [n for n, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed · load average {loadavg()}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
