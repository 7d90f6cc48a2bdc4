"""Soak: the classroom mix on repeat; does the server give back what it takes?

    python bench/soak.py [--minutes 20] [--students 8] [--idle-minutes 1]

Against ``python app.py`` on 127.0.0.1 (a subprocess with its own temp folders). Each round, a
teacher starts a run (a small GRU, ~20 s) and every student, each a fresh ``gradio_client``
session as a new page would be: opens the page's default call (``/tokenize``), follows the
teacher's run to its end, generates 200 characters three times with a shipped model, probes 100
characters once, and uses the teacher's model; two students also train a model of their own.
Rounds go on for ``--minutes``; then nobody calls for ``--idle-minutes`` + the reaper's period,
and what is left is measured.  ``LYRICDEMO_SESSION_IDLE_MINUTES`` is set to ``--idle-minutes``
so that sessions, runs and files are reclaimed within the soak.

Printed: the server's RSS after the first round (warm-up) and at the end (growth in %), its
peak, its thread count after warm-up and at the end, session folders and files and Gradio's
cached files at their peak and after the idle wait, whether the first round's run is still
followable (it must say it ended), errors, and the load average (the machine is shared).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from common import arguments
from server import Server, loadavg, shipped_key

PROBE_TEXT = ("分开\n" * 50)[:100]
TEACHER = dict(data="d2l", hidden_size=64, embed_dim=32, max_seconds=20, eval_every=10, api_name="/train")
OWN = dict(data="d2l", hidden_size=32, embed_dim=16, max_seconds=15, eval_every=10, api_name="/train")


def student(url: str, rid: str, key: str, trains: bool, errors: list) -> None:
    from gradio_client import Client

    try:
        c = Client(url, verbose=False)
        c.predict(api_name="/tokenize")
        c.submit(run_id=rid, api_name="/follow").result()
        c.predict(model=f"follow:{rid}", prefix="我", length=20, api_name="/generate")   # the class model, first
        for i in range(3):
            c.predict(model=key, prefix="分开", length=200, seed=i, api_name="/generate")
        c.predict(model=key, text=PROBE_TEXT, api_name="/probe")
        if trains:
            c.submit(**OWN).result()
    except Exception as e:                  # noqa: BLE001 -- counted and shown, the soak goes on
        errors.append(f"{type(e).__name__}: {str(e)[:160]}")


def one_round(server: Server, students: int, key: str, errors: list) -> str:
    from gradio_client import Client

    teacher = Client(server.url, verbose=False)
    job = teacher.submit(**TEACHER)
    while not job.outputs():
        if job.done():
            job.result()
        time.sleep(0.1)
    rid = job.outputs()[-1][5]["follow"]
    threads = [threading.Thread(target=student, args=(server.url, rid, key, i < 2, errors)) for i in range(students)]
    for t in threads:
        t.start()
    job.result()
    for t in threads:
        t.join()
    return rid


def main() -> None:
    args = arguments(__doc__, minutes=20.0, students=8, idle_minutes=1)
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with tempfile.TemporaryDirectory(prefix="lyricdemo-soak-") as root:
        server = Server(Path(root), {"LYRICDEMO_SESSION_IDLE_MINUTES": str(args.idle_minutes)})
        print(f"server up in {server.start():.1f} s · load average {loadavg()}")
        errors: list[str] = []
        try:
            key = shipped_key(Client(server.url, verbose=False))
            t0 = time.monotonic()
            first = one_round(server, args.students, key, errors)
            warm = {**server.status(), **server.files()}
            print(f"warm-up round: {time.monotonic() - t0:.0f} s · {warm} · load {loadavg()}", flush=True)
            peak_files = dict(server.files())
            rounds = 1
            while time.monotonic() - t0 < args.minutes * 60:
                one_round(server, args.students, key, errors)
                rounds += 1
                now = {**server.status(), **server.files()}
                peak_files = {k: max(peak_files[k], now[k]) for k in peak_files}
                print(f"round {rounds} at {(time.monotonic() - t0) / 60:.1f} min: {now} · errors {len(errors)} · "
                      f"load {loadavg()}", flush=True)
            busy_end = server.status()
            wait = args.idle_minutes * 60 + 30
            print(f"idle for {wait} s (sessions idle {args.idle_minutes} min are reaped) …", flush=True)
            time.sleep(wait)
            end = {**server.status(), **server.files()}
            try:
                Client(server.url, verbose=False).predict(run_id=first, api_name="/follow")
                followable = "still followable (NOT reclaimed)"
            except AppError as e:
                followable = f"reclaimed: {str(e)[:90]}…"
            print(f"\n{rounds} rounds of {args.students} students in {(time.monotonic() - t0 - wait) / 60:.1f} min"
                  f" · errors: {len(errors)}")
            for e in errors[:10]:
                print("  ", e)
            growth = 100 * (busy_end["VmRSS"] - warm["VmRSS"]) / warm["VmRSS"]
            print(f"RSS after warm-up {warm['VmRSS']} MB · at the end of the rounds {busy_end['VmRSS']} MB "
                  f"({growth:+.1f}%) · after the idle wait {end['VmRSS']} MB · peak {end['VmHWM']} MB")
            print(f"threads after warm-up {warm['Threads']} · at the end {busy_end['Threads']} · idle {end['Threads']}")
            print(f"the decoder process's RSS after warm-up {warm['ChildRSS']} MB · at the end of the rounds "
                  f"{busy_end['ChildRSS']} MB · after the idle wait {end['ChildRSS']} MB")
            print(f"session folders / files / Gradio cached files: peak {peak_files['session_dirs']} / "
                  f"{peak_files['session_files']} / {peak_files['gradio_cache_files']} · after the idle wait "
                  f"{end['session_dirs']} / {end['session_files']} / {end['gradio_cache_files']}")
            print(f"the first round's run: {followable}")
            print(f"load average at the end: {loadavg()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
