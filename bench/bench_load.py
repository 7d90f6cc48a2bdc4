"""Load test: a classroom on one server.  40 students work while 2 trainings run.

    python bench/bench_load.py [--students 40] [--chars 200] [--rounds 3] [--models char-gru]
                               [--actions tokenize,follow,generate,probe] [--follow-seconds 10]
                               [--torch-threads 1] [--generating 2] [--train-seconds 120] [--repo PATH]

What it does, against ``python app.py`` on 127.0.0.1 (a subprocess on a free port, through
``gradio_client`` as an API user would):

1. two ``/train`` runs start (the classroom model on the d2l corpus, or the toy task when the
   corpus is absent) and are left running: the first is the teacher's, whose share id the
   students follow; the second is a student's own;
2. ``--students`` clients, each in its own thread with its own session, do the classroom's
   student actions in order: ``ACTIONS`` lists them, one function each -- ``tokenize`` (what the
   page computes on arrival: tab 1's analysis), ``follow`` (the teacher's run for
   ``--follow-seconds``: time to the first view), ``generate`` (``--chars`` characters
   ``--rounds`` times in a row from a shipped model -- ``--models`` names them, spread over the
   students; the repository's ``checkpoints/`` when it holds any, else classroom-sized GRUs made
   here in a temp dir), ``probe`` (tab 4 on 100 characters);
3. meanwhile one more student asks to train: with ``LYRICDEMO_MAX_TRAINING=2`` it must wait in
   the queue (its status says ``IN_QUEUE`` and its position), not fail; one running
   training is then cancelled and the third starts in the freed slot.

Printed, per endpoint: requests, errors, client time-outs (an ``httpx`` time-out anywhere in
the error, or no answer in ``--deadline`` seconds), time to the first streamed character (the first
view for ``/follow``) and whole-request time (p50/p95/max), throughput; then the server's peak
memory (VmHWM from /proc), the trainings' tokens/s while all this ran, what the third training
saw, and the 1-minute load average before, during (max sampled) and after -- the machine is
shared: compare runs taken at similar load.  ``--torch-threads`` and ``--generating`` set
LYRICDEMO_TORCH_THREADS and LYRICDEMO_MAX_GENERATING on the server; ``--repo`` runs the app
of another checkout (e.g. an export of main, for a before/after comparison in the same
conditions).

To add a student action: write ``action_x(ctx, client, i)`` that returns a list of ``Record`` and
add it to ``ACTIONS``; ``--actions`` picks them.
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
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO, children, machine

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


def children_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of the server's child processes together, in MB."""
    total = {"VmRSS": 0, "VmHWM": 0}
    for c in children(pid):
        try:
            for k, v in proc_status(c).items():
                total[k] += v
        except OSError:
            pass
    return total


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


def start_app(env_extra: dict, repo: Path = REPO) -> tuple[subprocess.Popen, str, Path]:
    import httpx

    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-load-", suffix=".log")[1])
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "PYTHONUNBUFFERED": "1", **env_extra}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=repo, env=env, stdout=open(log, "w"),
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


# ----------------------------------------------------------------------------- student actions
@dataclass
class Record:
    """One request of one student: which endpoint, how long, how it ended."""

    endpoint: str
    total_s: float | None = None           # submit -> the last output (None when it failed)
    first_s: float | None = None           # submit -> the first output with new text (streaming endpoints)
    chars: int = 0
    server_first_s: float | None = None    # the server's own count: its submit -> the first token decoded
    error: str | None = None
    timed_out: bool = False


@dataclass
class Context:
    """What every student action may use: the server, the models, the options."""

    url: str
    keys: list[str]                         # shipped model keys the students use (spread over them)
    args: argparse.Namespace
    extra: dict = field(default_factory=dict)


def _is_timeout(e: BaseException) -> bool:
    """An httpx time-out (or Python's) anywhere in the exception's chain or text."""
    seen = 0
    while e is not None and seen < 10:
        name = type(e).__name__
        if "Timeout" in name or "timed out" in str(e).lower():
            return True
        e, seen = (e.__cause__ or e.__context__), seen + 1
    return False


POLL_S = 0.05          # how often a student looks at its streaming job (first-character times are this coarse)


def stream_call(client, endpoint: str, shown: str, deadline: float, **kwargs) -> Record:
    """Submit one streaming call; time its first output whose text is longer than ``shown`` (what the
    request itself shows first, e.g. its prefix) and its end."""
    rec = Record(endpoint)
    t0 = time.perf_counter()
    try:
        job = client.submit(**kwargs, api_name=endpoint)
        while not job.done():
            if rec.first_s is None:
                outs = job.outputs()
                if any(isinstance(o[0], str) and len(o[0]) > len(shown) for o in outs):
                    rec.first_s = time.perf_counter() - t0
            if time.perf_counter() - t0 > deadline:
                job.cancel()
                rec.error, rec.timed_out = f"no answer in {deadline:.0f} s", True
                return rec
            time.sleep(POLL_S)
        out = job.result()
        rec.total_s = time.perf_counter() - t0
        if rec.first_s is None:              # it ended between two looks
            rec.first_s = rec.total_s
        info = out[6] if isinstance(out[6], dict) else {}
        rec.chars = len(info.get("continuation", ""))
        rec.server_first_s = info.get("time_to_first_token_s")
    except Exception as e:  # noqa: BLE001 -- counted and shown
        rec.error, rec.timed_out = f"{type(e).__name__}: {str(e)[:160]}", _is_timeout(e)
    return rec


def connect(Client, url: str, tries: int = 5):
    """A gradio_client ``Client``, retried on a time-out (a busy server may answer /config late)."""
    for k in range(tries):
        try:
            # plain http on 127.0.0.1: nothing to verify, and gradio_client makes a new httpx client for
            # each request, each loading the CA bundle (~40 ms of the cores the server needs; py-spy, 2026-12-02)
            return Client(url, verbose=False, ssl_verify=False)
        except Exception as e:  # noqa: BLE001
            if k == tries - 1 or not _is_timeout(e):
                raise
            print(f"(a client's /config timed out; retrying: {type(e).__name__})")


def action_generate(ctx: Context, client, i: int) -> list[Record]:
    """Generate ``--chars`` characters ``--rounds`` times in a row (sampling, the student's own seeds),
    from the student's shipped model."""
    key = ctx.keys[i % len(ctx.keys)]
    return [stream_call(client, "/generate", "分开", ctx.args.deadline, model=key, prefix="分开",
                        length=ctx.args.chars, strategy="sample", seed=i * 100 + r)
            for r in range(ctx.args.rounds)]


def timed_call(client, endpoint: str, deadline: float, **kwargs) -> Record:
    """One call that answers once (no stream): its whole time is also its first answer's."""
    rec = Record(endpoint)
    t0 = time.perf_counter()
    try:
        job = client.submit(**kwargs, api_name=endpoint)
        while not job.done():
            if time.perf_counter() - t0 > deadline:
                job.cancel()
                rec.error, rec.timed_out = f"no answer in {deadline:.0f} s", True
                return rec
            time.sleep(0.02)
        job.result()
        rec.total_s = rec.first_s = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 -- counted and shown
        rec.error, rec.timed_out = f"{type(e).__name__}: {str(e)[:160]}", _is_timeout(e)
    return rec


def action_tokenize(ctx: Context, client, i: int) -> list[Record]:
    """What the page computes on arrival: tab 1's analysis of the corpus in use, with its defaults."""
    return [timed_call(client, "/tokenize", ctx.args.deadline)]


def action_follow(ctx: Context, client, i: int) -> list[Record]:
    """Follow the teacher's run (its share link's id) for ``--follow-seconds``: time to the first view
    (status and chart), then the updates keep coming until the student moves on (cancels)."""
    rec = Record("/follow")
    t0 = time.perf_counter()
    try:
        job = client.submit(run_id=ctx.extra["follow_id"], api_name="/follow")
        while time.perf_counter() - t0 < ctx.args.follow_seconds:
            if rec.first_s is None and job.outputs():
                rec.first_s = time.perf_counter() - t0
            if job.done():
                job.result()               # a run that ended: its last view came; an error raises here
                break
            if time.perf_counter() - t0 > ctx.args.deadline:
                break
            time.sleep(0.05)
        rec.chars = len(job.outputs())     # updates received
        if rec.first_s is None:
            rec.error, rec.timed_out = f"no view in {time.perf_counter() - t0:.0f} s", True
        else:
            rec.total_s = time.perf_counter() - t0
        job.cancel()
    except Exception as e:  # noqa: BLE001 -- counted and shown
        rec.error, rec.timed_out = f"{type(e).__name__}: {str(e)[:160]}", _is_timeout(e)
    return [rec]


PROBE_TEXT = ("分开的时候我的心很痛\n我不能再想你了\n天空很蓝 风吹过我的窗\n月光洒在小河上\n"
              "你在远方唱着那首歌\n星星一闪一闪亮\n夜很长 路很长 明天会更亮\n我想你")[:100]


def action_probe(ctx: Context, client, i: int) -> list[Record]:
    """Tab 4 on 100 characters of lyrics, with the student's shipped model."""
    key = ctx.keys[i % len(ctx.keys)]
    return [timed_call(client, "/probe", ctx.args.deadline, model=key, text=PROBE_TEXT)]


ACTIONS = {"tokenize": action_tokenize, "follow": action_follow, "generate": action_generate,
           "probe": action_probe}


def report(records: list[Record], wall: float) -> None:
    """Per endpoint: counts, errors, time-outs, first-character and whole-request p50/p95/max, throughput."""
    for endpoint in sorted({r.endpoint for r in records}):
        rs = [r for r in records if r.endpoint == endpoint]
        ok = [r for r in rs if r.error is None]
        errs = [r for r in rs if r.error is not None]
        print(f"{endpoint}: {len(rs)} requests, {len(ok)} ok, {len(errs)} errors "
              f"({sum(r.timed_out for r in errs)} client time-outs), {len(ok) / wall:.2f} ok/s, "
              f"{sum(r.chars for r in ok) / wall:,.0f} characters/s")
        for what, xs in (("first character", [r.first_s for r in ok if r.first_s is not None]),
                         ("  of which the server's first token (its own clock, from its submit)",
                          [r.server_first_s for r in ok if r.server_first_s is not None]),
                         ("whole request", [r.total_s for r in ok])):
            if xs:
                print(f"  {what}: p50 {statistics.median(xs):.2f} s, p95 {pct(xs, 0.95):.2f} s, "
                      f"max {max(xs):.2f} s, min {min(xs):.2f} s")
        for e in sorted({r.error for r in errs})[:5]:
            print(f"  error: {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", "--users", dest="students", type=int, default=40)
    ap.add_argument("--chars", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="generations per student, one after the other")
    ap.add_argument("--follow-seconds", type=float, default=10.0, help="how long a student follows the teacher's run")
    ap.add_argument("--actions", default="tokenize,follow,generate,probe", help=f"comma list of student actions: {', '.join(ACTIONS)}")
    ap.add_argument("--models", default="char-gru",
                    help="comma list of shipped model folders the students use, spread over them ('all': every one)")
    ap.add_argument("--deadline", type=float, default=300.0, help="seconds after which a request counts as timed out")
    ap.add_argument("--torch-threads", type=int, default=None, help="LYRICDEMO_TORCH_THREADS on the server")
    ap.add_argument("--generating", type=int, default=None, help="LYRICDEMO_MAX_GENERATING on the server")
    ap.add_argument("--train-seconds", type=int, default=120, help="budget of the two background trainings")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose app.py is served")
    args = ap.parse_args()
    actions = [ACTIONS[a.strip()] for a in args.actions.split(",") if a.strip()]

    from gradio_client import Client
    from gradio_client.utils import Status

    from lyricdemo.checkpoint import list_checkpoints
    from lyricdemo.corpus import default_corpus_path

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    shipped = args.repo / "checkpoints"
    ckpts = shipped if list_checkpoints(shipped) else make_checkpoints(tmp)
    env = {"LYRICDEMO_CHECKPOINTS": str(ckpts), "LYRICDEMO_MAX_TRAINING": "2",
           "LYRICDEMO_MAX_TRAIN_SECONDS": str(max(args.train_seconds, 60)),
           "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    if args.torch_threads:
        env["LYRICDEMO_TORCH_THREADS"] = str(args.torch_threads)
    if args.generating:
        env["LYRICDEMO_MAX_GENERATING"] = str(args.generating)
    load0 = os.getloadavg()
    proc, url, log = start_app(env, args.repo)
    print(f"machine: {machine()}")
    print(f"server: {url} pid {proc.pid}, app of {args.repo}; models from {ckpts}; torch threads "
          f"{env.get('LYRICDEMO_TORCH_THREADS', 'default')}, generating {env.get('LYRICDEMO_MAX_GENERATING', 'default')}")
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    jobs = []
    try:
        base = connect(Client, url)
        listed = [m["key"] for m in base.predict(api_name="/models")[2]]
        wanted = None if args.models == "all" else {f"shipped:{m.strip()}" for m in args.models.split(",")}
        keys = [k for k in listed if k.startswith("shipped:") and (wanted is None or k in wanted)] or listed[:1]
        ctx = Context(url, keys, args)
        for k in keys:                        # a server in use has its models loaded: not the students' cost
            base.predict(model=k, prefix="分开", length=5, strategy="sample", api_name="/generate")
        data = "d2l" if default_corpus_path().is_file() else "toy"
        train_kw = dict(TRAIN, data=data, max_seconds=args.train_seconds) if data == "d2l" else \
            dict(data="toy", max_steps=0, max_seconds=args.train_seconds, eval_every=50)

        # 0. the students open the page (a Client reads the config; retried: setting up is not the load)
        students = [connect(Client, url) for _ in range(args.students)]
        third_client = connect(Client, url)

        # 1. two trainings, left running
        trainers = [connect(Client, url) for _ in range(2)]
        jobs = [c.submit(**train_kw, api_name="/train") for c in trainers]
        for j in jobs:
            t0 = time.monotonic()
            while len(j.outputs()) < 2:
                if j.done() or time.monotonic() - t0 > 120:
                    raise SystemExit(f"a training did not start: {j.status()} {j.exception() if j.done() else ''}")
                time.sleep(0.1)
        info = next((o[5] for o in reversed(jobs[0].outputs()) if isinstance(o[5], dict) and o[5].get("follow")), {})
        ctx.extra["follow_id"] = info.get("follow") or ""
        print(f"2 trainings running ({data}), the first is the teacher's (follow id "
              f"{ctx.extra['follow_id'][:6]}…); memory now {proc_status(proc.pid)}")
        print(f"students: {args.students}, actions: {', '.join(a.__name__ for a in actions)}, models: {', '.join(keys)}")

        # 2. the classroom works; 3. meanwhile a third training asks for a slot
        records: list[Record] = []
        lock = threading.Lock()
        start = threading.Barrier(args.students + 1)

        def student(i: int, c: Client) -> None:
            start.wait()
            for act in actions:
                out = act(ctx, c, i)
                with lock:
                    records.extend(out)

        threads = [threading.Thread(target=student, args=(i, c)) for i, c in enumerate(students)]
        for t in threads:
            t.start()
        mem_peak_during, load_peak = 0, 0.0
        start.wait()
        t_start = time.perf_counter()
        third = third_client.submit(**train_kw, api_name="/train")
        jobs.append(third)
        queue_seen = None
        while any(t.is_alive() for t in threads):
            st = third.status()
            if st.code == Status.IN_QUEUE and queue_seen is None:
                queue_seen = (st.code.name, st.rank, st.queue_size, round(time.perf_counter() - t_start, 1))
            mem_peak_during = max(mem_peak_during, proc_status(proc.pid)["VmRSS"])
            load_peak = max(load_peak, os.getloadavg()[0])
            time.sleep(0.1)
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
        mem, kids = proc_status(proc.pid), children_status(proc.pid)
        load1 = os.getloadavg()
        print()
        print(f"=== {args.students} students × {', '.join(a.__name__ for a in actions)} "
              f"({args.rounds} × {args.chars} characters), with 2 trainings running: {wall:.1f} s ===")
        report(records, wall)
        print(f"trainings meanwhile: {', '.join(f'{x:,.0f}' for x in train_tps) or '?'} tokens/s")
        print(f"third training: while 2 ran it was {queue_seen or third_state.code.name} "
              f"(status, queue position, queue size, seconds after the students started); failed: "
              f"{third_failed}; started {third_wait:.1f} s after one run was cancelled: "
              f"{third_started}")
        print(f"server memory: peak (VmHWM) {mem['VmHWM']} MB, now {mem['VmRSS']} MB, "
              f"max sampled during the load {mem_peak_during} MB; its child processes (the decoder): "
              f"peak {kids['VmHWM']} MB, now {kids['VmRSS']} MB")
        print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
              f"1-minute max sampled during the load {load_peak:.2f}")
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
