"""Load test: a classroom on one server.  20 users generate while 2 trainings run.

    python bench/bench_load.py [--users 20] [--chars 200] [--rounds 3] [--torch-threads 1]
                               [--generating 2] [--train-seconds 120]

What it does, against ``python app.py`` on 127.0.0.1 (a subprocess on a free port, through
``gradio_client`` as an API user would):

1. two ``/train`` runs start (the classroom model on the d2l corpus, or the toy task's big
   brother on a small text when the corpus is absent) and are left running;
2. ``--users`` clients, each in its own thread with its own session, generate ``--chars``
   characters ``--rounds`` times in a row with the shipped model (the repository's
   ``checkpoints/`` when it holds any, else classroom-sized GRUs made here in a temp dir);
3. meanwhile a third user asks to train: with ``LYRICDEMO_MAX_TRAINING=2`` it must wait in
   the queue (its status says ``IN_QUEUE`` and its position), not fail; one running
   training is then cancelled and the third starts in the freed slot.

Printed: requests/s and characters/s, p50/p95/max latency of a generation, errors (the
goal is none), the server's peak memory (VmHWM from /proc), the trainings' tokens/s while
all this runs, what the third training saw, and the 1-minute load average before and after
(the machine is shared: compare runs taken at similar load).  ``--torch-threads`` and
``--generating`` set LYRICDEMO_TORCH_THREADS and LYRICDEMO_MAX_GENERATING on the server.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO, machine

os.environ.setdefault("HF_HUB_OFFLINE", "1")              # gradio_client stays off the network
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TRAIN = dict(tokenizer="char", clean="d2l", newline="token", min_freq=2, max_tokens=0, kind="gru", impl="torch",
             input_kind="embedding", embed_dim=128, hidden_size=256, num_layers=1, dropout=0.3, dropout_embed=0.1,
             bidirectional=False, sampling="random", optimizer="adam", log10_lr=math.log10(0.002), clip=True,
             clip_theta=1.0, batch_size=32, num_steps=35, max_steps=0, eval_every=25, keep_best=True, seed=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) // 1024
    return out


def make_checkpoints(root: Path) -> Path:
    """Untrained classroom-sized models (GRU 256, embedding 128): the compute of the real ones."""
    from lyricdemo.checkpoint import save_checkpoint
    from lyricdemo.corpus import default_corpus_path
    from lyricdemo.data import DataConfig, load_dataset
    from lyricdemo.models import ModelConfig
    from lyricdemo.train import new_model

    if default_corpus_path().is_file():
        ds = load_dataset(DataConfig())
    else:
        text = root / "lyrics.txt"
        text.write_text("\n".join(f"第{i}行 月光洒在小河上 风吹过我的窗" for i in range(400)), encoding="utf-8")
        ds = load_dataset(DataConfig(source=str(text), min_freq=1))
    model = new_model(ModelConfig(vocab_size=len(ds.vocab), kind="gru", embed_dim=128, hidden_size=256), seed=0)
    save_checkpoint(root / "classroom-gru", model, ds.vocab, ds.config,
                    corpus={"name": ds.raw.name, "sha256": ds.corpus_sha256})
    return root


def start_app(env_extra: dict) -> tuple[subprocess.Popen, str, Path]:
    import httpx

    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-load-", suffix=".log")[1])
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "PYTHONUNBUFFERED": "1", **env_extra}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            raise SystemExit(f"the app did not start; see {log}")
        time.sleep(0.1)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--chars", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="generations per user, one after the other")
    ap.add_argument("--torch-threads", type=int, default=None, help="LYRICDEMO_TORCH_THREADS on the server")
    ap.add_argument("--generating", type=int, default=None, help="LYRICDEMO_MAX_GENERATING on the server")
    ap.add_argument("--train-seconds", type=int, default=120, help="budget of the two background trainings")
    args = ap.parse_args()

    from gradio_client import Client
    from gradio_client.utils import Status

    from lyricdemo.corpus import default_corpus_path

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    shipped = REPO / "checkpoints"
    from lyricdemo.checkpoint import list_checkpoints

    ckpts = shipped if list_checkpoints(shipped) else make_checkpoints(tmp)
    env = {"LYRICDEMO_CHECKPOINTS": str(ckpts), "LYRICDEMO_MAX_TRAINING": "2",
           "LYRICDEMO_MAX_TRAIN_SECONDS": str(max(args.train_seconds, 60)),
           "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    if args.torch_threads:
        env["LYRICDEMO_TORCH_THREADS"] = str(args.torch_threads)
    if args.generating:
        env["LYRICDEMO_MAX_GENERATING"] = str(args.generating)
    load0 = os.getloadavg()
    proc, url, log = start_app(env)
    print(f"machine: {machine()}")
    print(f"server: {url} pid {proc.pid}; models from {ckpts}; torch threads "
          f"{env.get('LYRICDEMO_TORCH_THREADS', 'default')}, generating {env.get('LYRICDEMO_MAX_GENERATING', 'default')}")
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    jobs = []
    try:
        base = Client(url, verbose=False)
        key = next(m["key"] for m in base.predict(api_name="/models")[2])
        data = "d2l" if default_corpus_path().is_file() else "toy"
        train_kw = dict(TRAIN, data=data, max_seconds=args.train_seconds) if data == "d2l" else \
            dict(data="toy", max_steps=0, max_seconds=args.train_seconds, eval_every=50)

        # 1. two trainings, left running
        trainers = [Client(url, verbose=False) for _ in range(2)]
        jobs = [c.submit(**train_kw, api_name="/train") for c in trainers]
        for j in jobs:
            t0 = time.monotonic()
            while len(j.outputs()) < 2:
                if j.done() or time.monotonic() - t0 > 120:
                    raise SystemExit(f"a training did not start: {j.status()}")
                time.sleep(0.1)
        print(f"2 trainings running ({data}); memory now {proc_status(proc.pid)}")

        # 2. the classroom generates; 3. meanwhile a third training asks for a slot
        users = [Client(url, verbose=False) for _ in range(args.users)]
        latencies: list[float] = []
        chars: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(args.users + 1)

        def user(i: int, c: Client) -> None:
            start.wait()
            for r in range(args.rounds):
                t0 = time.perf_counter()
                try:
                    out = c.predict(model=key, prefix="分开", length=args.chars, strategy="sample", seed=i * 100 + r,
                                    api_name="/generate")
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                        chars.append(len(out[6]["continuation"]))
                except Exception as e:  # noqa: BLE001 -- counted and shown
                    with lock:
                        errors.append(f"{type(e).__name__}: {str(e)[:120]}")

        threads = [threading.Thread(target=user, args=(i, c)) for i, c in enumerate(users)]
        for t in threads:
            t.start()
        mem_peak_during = 0
        start.wait()
        t_start = time.perf_counter()
        third = Client(url, verbose=False).submit(**train_kw, api_name="/train")
        jobs.append(third)
        queue_seen = None
        while any(t.is_alive() for t in threads):
            st = third.status()
            if st.code == Status.IN_QUEUE and queue_seen is None:
                queue_seen = (st.code.name, st.rank, st.queue_size, round(time.perf_counter() - t_start, 1))
            mem_peak_during = max(mem_peak_during, proc_status(proc.pid)["VmRSS"])
            time.sleep(0.05)
        wall = time.perf_counter() - t_start
        third_state = third.status()
        third_failed = third.done()           # a rejected or failed job is done; a waiting one is not

        # the third one gets a slot as soon as one is freed
        jobs[0].cancel()
        t0 = time.monotonic()
        while len(third.outputs()) < 1 and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        third_started = len(third.outputs()) >= 1
        third_wait = time.monotonic() - t0

        train_tps = []
        for j in jobs[:2]:
            outs = j.outputs()
            if outs and isinstance(outs[-1][5], dict) and outs[-1][5].get("tokens_per_s"):
                train_tps.append(outs[-1][5]["tokens_per_s"])
        mem = proc_status(proc.pid)
        load1 = os.getloadavg()
        n = len(latencies)
        print()
        print(f"=== {args.users} users × {args.rounds} generations of {args.chars} characters, "
              f"with 2 trainings running ===")
        print(f"requests: {n} ok, {len(errors)} errors, in {wall:.1f} s")
        if n:
            print(f"throughput: {n / wall:.2f} requests/s, {sum(chars) / wall:,.0f} characters/s")
            print(f"latency: p50 {statistics.median(latencies):.2f} s, p95 {pct(latencies, 0.95):.2f} s, "
                  f"max {max(latencies):.2f} s, min {min(latencies):.2f} s")
        for e in sorted(set(errors))[:5]:
            print(f"  error: {e}")
        print(f"trainings meanwhile: {', '.join(f'{x:,.0f}' for x in train_tps) or '?'} tokens/s")
        print(f"third training: while 2 ran it was {queue_seen or third_state.code.name} "
              f"(status, queue position, queue size, seconds after the users started); failed: "
              f"{third_failed}; started {third_wait:.1f} s after one run was cancelled: "
              f"{third_started}")
        print(f"server memory: peak (VmHWM) {mem['VmHWM']} MB, now {mem['VmRSS']} MB, "
              f"max sampled during the load {mem_peak_during} MB")
        print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    finally:
        for j in jobs:
            try:
                j.cancel()
            except Exception:  # noqa: BLE001
                pass
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
