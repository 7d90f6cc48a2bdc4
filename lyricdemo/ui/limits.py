"""Every limit of the app, read from the environment in this one place.

A classroom of forty opens the same Space at once; each limit below keeps one thing
bounded (memory, CPU, waiting time) however many come.  The CPU limits follow the
machine (``cpu_cores()``: ``CPU_CORES``, which Hugging Face Spaces set, else the cores
this process may run on): one training per core (at most 8), as many generation
slots, and one torch thread per operation unless the cores outnumber the trainings.
On a 2-core, 16 GB Space that is two trainings, two generation slots, one thread each.

Each value is read at call time (never cached in a global), so a deployment changes
it with an environment variable and tests with ``monkeypatch.setenv``.  A value that
is not a whole number in range stops the app at startup with a message naming it.

The README's "Limits" table lists them all (a test checks it does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..cores import machine_cores
from ..errors import LyricdemoError
from ..generate import MAX_LENGTH, MAX_LENGTH_ENV
from ..environment import env_number
from ..generate import max_length as _library_max_length


def cpu_cores() -> int:
    """The cores this app may use (``cores.machine_cores``: ``CPU_CORES``, set on Hugging Face Spaces
    -- a wrong value is an error at startup -- else the cores this process may run on)."""
    return machine_cores()


def _default_training() -> int:
    return min(cpu_cores(), 8)


def _default_threads() -> int:
    return max(1, cpu_cores() // _default_training())


@dataclass(frozen=True)
class Limit:
    env: str
    default_value: int | Callable[[], int]     # a number, or a rule over the machine's cores
    lo: int
    hi: int
    bounds: str          # what it bounds, one line for the README
    rule: str = ""       # how the default follows the machine, for the README ("" when it is fixed)

    @property
    def default(self) -> int:
        return self.default_value() if callable(self.default_value) else self.default_value


LIMITS: tuple[Limit, ...] = (
    Limit("LYRICDEMO_MAX_UPLOAD_MB", 20, 1, 1024,
          "size of an upload (corpus or checkpoint zip), in MB: larger ones are refused before they are read "
          "(HTTP 413); a corpus zip may not unpack to more, a checkpoint zip's files to twice that"),
    Limit("LYRICDEMO_MAX_TRAIN_SECONDS", 300, 5, 24 * 3600,
          "the time budget one training run may ask for, in seconds (the slider's maximum)"),
    Limit("LYRICDEMO_MAX_TRAINING", _default_training, 1, 64,
          "training runs at the same time, over all users; more wait in the queue and see their position",
          "cores, at most 8"),
    Limit("LYRICDEMO_MAX_GENERATING", cpu_cores, 1, 64,
          "work that cannot share a batch, at the same time: hidden-state probes, and generations by beam search "
          "or from a model still training (they share the cores with training); greedy and sampled generations "
          "share their model's batch instead (the next two rows)",
          "cores"),
    Limit("LYRICDEMO_GENERATE_BATCH", 64, 1, 1024,
          "greedy or sampled generations one model decodes together, one forward pass per step for all of them "
          "(continuous batching: a request joins and leaves between steps)"),
    Limit("LYRICDEMO_GENERATE_WAITING", 64, 0, 100_000,
          "generations waiting for room in a full batch, all models together (each sees its position and an "
          "estimated wait); beyond it a new one is refused at once: 'the queue is full, try again in ~N s'"),
    Limit("LYRICDEMO_DECODE_PROCESS", lambda: int(cpu_cores() >= 2), 0, 1,
          "1: the shared batches of shipped models decode in a process of their own beside the server, which "
          "keeps them from waiting on the server's interpreter lock (lyricdemo/decode_process.py); 0: in the "
          "server",
          "1 with 2 cores or more, else 0"),
    Limit("LYRICDEMO_QUEUE_SIZE", 256, 1, 100_000,
          "events waiting in the queue, all users together (opening the page queues a few per user); "
          "beyond it: 'Queue is full, try again'"),
    Limit(MAX_LENGTH_ENV, MAX_LENGTH, 1, 1_000_000,
          "tokens one generation may ask for (the slider shows up to 500); also obeyed by the CLI"),
    Limit("LYRICDEMO_MAX_SESSION_MODELS", 4, 1, 64,
          "trained or uploaded models one user keeps; the oldest is evicted (its files deleted) with a note"),
    Limit("LYRICDEMO_SESSION_IDLE_MINUTES", 60, 1, 7 * 24 * 60,
          "minutes a session may sit idle before its models, runs and files are deleted (a running training "
          "keeps it alive); also the age at which uploaded and downloadable files are deleted"),
    Limit("LYRICDEMO_MAX_SESSIONS", 200, 10, 100_000,
          "open pages (sessions) the server keeps, used or not; beyond it the least recently used one is "
          "forgotten (its trained models go). A closed page's session is forgotten once idle as long as "
          "LYRICDEMO_SESSION_IDLE_MINUTES"),
    Limit("LYRICDEMO_FOLLOW_RUNS", 8, 1, 256,
          "finished runs kept for their followers (their charts and models, shared read-only), each for as long as "
          "an idle session lasts; the oldest go first"),
    Limit("LYRICDEMO_MODEL_CACHE", 6, 1, 256,
          "shipped checkpoints kept loaded in memory, shared read-only by every user (least recently used go)"),
    Limit("LYRICDEMO_TORCH_THREADS", _default_threads, 1, 256,
          "threads each torch operation may use; 1 keeps concurrent requests from oversubscribing the cores",
          "cores ÷ training slots, at least 1"),
)
_BY_ENV = {lim.env: lim for lim in LIMITS}


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number setting from the environment (a clear error if it is wrong)."""
    return env_number(name, default, lo, hi)


def value(env: str) -> int:
    """The current value of the limit named ``env`` (its default when the variable is unset)."""
    lim = _BY_ENV[env]
    return env_int(lim.env, lim.default, lim.lo, lim.hi)


def check_all() -> dict[str, int]:
    """Every limit's value; raises ``LyricdemoError`` at startup for the first one that is wrong."""
    cpu_cores()
    return {lim.env: value(lim.env) for lim in LIMITS}


# ----------------------------------------------------------------------------- named readers
def max_upload_bytes() -> int:
    return value("LYRICDEMO_MAX_UPLOAD_MB") * 1024 * 1024


def max_train_seconds() -> int:
    return value("LYRICDEMO_MAX_TRAIN_SECONDS")


def max_training() -> int:
    return value("LYRICDEMO_MAX_TRAINING")


def max_generating() -> int:
    return value("LYRICDEMO_MAX_GENERATING")


def generate_batch() -> int:
    return value("LYRICDEMO_GENERATE_BATCH")


def generate_waiting() -> int:
    return value("LYRICDEMO_GENERATE_WAITING")


def decode_process() -> bool:
    return bool(value("LYRICDEMO_DECODE_PROCESS"))


def generate_concurrency() -> int:
    """Gradio's concurrency limit for /generate: a full batch, those waiting for room, and the
    unbatched ones (beam search) -- a generation costs a thread that mostly waits, not a core."""
    return generate_batch() + generate_waiting() + max_generating()


def queue_size() -> int:
    return value("LYRICDEMO_QUEUE_SIZE")


def max_length() -> int:
    """Read by the library (``generate.max_length``: ``DecodeConfig`` checks it, the CLI obeys it)."""
    return _library_max_length()


def max_sessions() -> int:
    return value("LYRICDEMO_MAX_SESSIONS")


def max_session_models() -> int:
    return value("LYRICDEMO_MAX_SESSION_MODELS")


def session_idle_seconds() -> int:
    return value("LYRICDEMO_SESSION_IDLE_MINUTES") * 60


def follow_runs() -> int:
    return value("LYRICDEMO_FOLLOW_RUNS")


def model_cache_size() -> int:
    return value("LYRICDEMO_MODEL_CACHE")


def torch_threads() -> int:
    return value("LYRICDEMO_TORCH_THREADS")
