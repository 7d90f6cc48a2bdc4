"""Things every session reads and nobody changes: the corpus, prepared datasets and their
statistics, n-gram baselines, memorization indexes and shipped checkpoints (the limits
read from the environment are in ``limits.py``).

Each is made once and kept in a small LRU cache keyed by *content* (a corpus's sha256
and the data settings), so two students who analyse the same corpus share one copy,
and memory stays bounded.  Cached objects are treated as read-only: models are used in
eval mode under ``torch.inference_mode`` and datasets are only read by the Trainer.
Per-user things (uploads, trained models) are never here; they live in ``Session``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..batching import BatchPool
from ..decode_process import ProcessPool
from ..checkpoint import SHIPPED_DIR, Checkpoint, list_checkpoints, load_checkpoint
from ..corpus import RawText, have_default_corpus, read_corpus_file
from ..data import DataConfig, Dataset, load_dataset
from ..errors import LyricdemoError
from ..models.lm import KIND_NAMES
from ..novelty import CorpusIndex
from .. import sources
from ..sources import CorpusSource
from ..stats import CorpusStats, compare_tokenizers, corpus_stats
from .limits import decode_process, generate_batch, generate_waiting, max_generating, max_upload_bytes, model_cache_size


# ----------------------------------------------------------------------------- where the shipped models are
def checkpoints_dir() -> Path:
    """``LYRICDEMO_CHECKPOINTS``, else the repository's ``checkpoints/``."""
    env = os.environ.get("LYRICDEMO_CHECKPOINTS", "").strip()
    return Path(env) if env else SHIPPED_DIR


# ----------------------------------------------------------------------------- shared decoding
_POOL_LOCK = threading.Lock()
_POOL: dict[str, Any] = {}


def batch_pool():
    """The server's one pool for /generate's continuous batching (``lyricdemo/batching.py``), made at
    first use with the limits then in force (LYRICDEMO_GENERATE_BATCH / _WAITING): a ``ProcessPool``
    whose decoder process it starts now (``lyricdemo/decode_process.py``) when
    LYRICDEMO_DECODE_PROCESS is 1, else the server's own ``BatchPool``."""
    with _POOL_LOCK:
        if "pool" not in _POOL:
            pool = BatchPool(max_rows=generate_batch(), max_waiting=generate_waiting())
            if decode_process():
                pool = ProcessPool(pool, checkpoints_dir())
                pool.start()
            _POOL["pool"] = pool
        return _POOL["pool"]


def students_generating() -> bool:
    """True while /generate has rows decoding or requests waiting in the shared batch: a training
    then gives way between its steps (``train_loop.give_way``)."""
    with _POOL_LOCK:
        pool = _POOL.get("pool")
    return pool is not None and any(st["rows"] or st["waiting"] or st["joining"] for st in pool.stats())


def solo_slots() -> threading.BoundedSemaphore:
    """Slots for generations that cannot share a batch (beam search): LYRICDEMO_MAX_GENERATING."""
    with _POOL_LOCK:
        if "solo" not in _POOL:
            _POOL["solo"] = threading.BoundedSemaphore(max_generating())
        return _POOL["solo"]


# ----------------------------------------------------------------------------- a tiny LRU
class LRU:
    """A thread-safe least-recently-used cache of made-once values."""

    def __init__(self, maxsize: int | Callable[[], int]):
        self._maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key, make: Callable[[], Any]):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()                       # outside the lock: a slow make never blocks other keys
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    @property
    def maxsize(self) -> int:
        return self._maxsize() if callable(self._maxsize) else self._maxsize

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_RAW = LRU(3)
_DATASETS = LRU(8)
_STATS = LRU(16)
_COMPARE = LRU(4)
_BASELINES = LRU(16)
_NGRAMS = LRU(4)                 # trigrams to mix with a model (~10 MB each on the lyrics)
_INDEXES = LRU(4)
_CHECKPOINTS = LRU(model_cache_size)


def clear_caches() -> None:
    """Forget every made-once value (the tests' fresh start; ``bench/bench_registry.py``'s cold figure)."""
    for c in (_RAW, _DATASETS, _STATS, _COMPARE, _BASELINES, _NGRAMS, _INDEXES, _CHECKPOINTS):
        c.clear()
    _SHIPPED.clear()


# ----------------------------------------------------------------------------- corpus and data
def corpus_available() -> bool:
    """Is the d2l corpus in data/ now (checked on every call: a file copied in is seen at once)?"""
    return have_default_corpus()


def corpus_in_use() -> CorpusSource:
    """The d2l lyrics when they are in data/, else the embedded Tang poems (``sources.corpus_in_use``)."""
    return sources.corpus_in_use()


def builtin_corpus(key: str) -> RawText:
    """A built-in corpus's text ("d2l" or "tang"), read once per file version; a missing d2l file is a
    clear message (with the background download's state)."""
    path = sources.builtin_source(key).path
    st = path.stat()
    return _RAW.get_or_make((str(path), st.st_mtime_ns, st.st_size),
                            lambda: read_corpus_file(path, max_bytes=max(max_upload_bytes(), st.st_size)))


def _key(raw: RawText, config: DataConfig) -> tuple:
    return raw.sha256 or raw.name, replace(config, source=None)     # DataConfig is frozen: hashable


def dataset(raw: RawText, config: DataConfig) -> Dataset:
    """``load_dataset(config, raw)``, cached by the text's sha256 and the settings."""
    config = replace(config, source=None)
    return _DATASETS.get_or_make(_key(raw, config), lambda: load_dataset(config, raw=raw))


def stats(raw: RawText, config: DataConfig) -> CorpusStats:
    return _STATS.get_or_make(_key(raw, config), lambda: corpus_stats(dataset(raw, config), top=100, rare=60))


def compare(raw: RawText, config: DataConfig) -> dict[str, CorpusStats]:
    return _COMPARE.get_or_make(_key(raw, replace(config, tokenizer="char")),
                                lambda: compare_tokenizers(raw, replace(config, source=None)))


def baselines(raw: RawText, config: DataConfig) -> dict[str, float] | None:
    """The n-gram baselines' validation perplexities (what the Trainer would compute, once)."""
    from ..ngram import baseline_perplexities

    def make():
        ds = dataset(raw, config)
        if len(ds.val_ids) < 2:
            return None
        return baseline_perplexities(ds.train_ids, ds.val_ids, len(ds.vocab))
    return _BASELINES.get_or_make(_key(raw, config), make)


def trigram(raw: RawText, config: DataConfig):
    """The trigram of the training ids of ``dataset(raw, config)`` (``mixture.py`` mixes it with a model), once."""
    from ..mixture import MIX_ORDER
    from ..ngram import NGramLM

    def make():
        ds = dataset(raw, config)
        return NGramLM(MIX_ORDER, len(ds.vocab)).fit(ds.train_ids)
    return _NGRAMS.get_or_make(_key(raw, config), make)


def corpus_index(raw: RawText, config: DataConfig) -> CorpusIndex:
    """The memorization index of the *training* text this data config makes of ``raw``."""
    return _INDEXES.get_or_make(_key(raw, config), lambda: CorpusIndex(dataset(raw, config).train_text))


# ----------------------------------------------------------------------------- shipped models
@dataclass(frozen=True)
class ShippedModel:
    key: str            # "shipped:<folder>"
    label: str
    folder: Path
    meta: dict


_SHIPPED: dict[str, tuple] = {}          # "list" -> (stamp of the folder, [ShippedModel])


def _shipped_stamp(root: Path) -> tuple | None:
    """What changes when a checkpoint is added, removed or rewritten: names and JSON modification times."""
    try:
        return (str(root), tuple(sorted((p.name, (p / "checkpoint.json").stat().st_mtime_ns)
                                        for p in root.iterdir() if (p / "checkpoint.json").is_file())))
    except OSError:
        return None


def shipped_models() -> list[ShippedModel]:
    """The readable checkpoints in ``checkpoints_dir()`` (their JSON only; weights load lazily).

    Every endpoint asks (the model picker, each probe): the JSON files (vocabularies, histories) are
    parsed again only when one changes -- parsing all four took ~1 s of a 16-line probe on a busy machine."""
    root = checkpoints_dir()
    stamp = _shipped_stamp(root)
    hit = _SHIPPED.get("list")
    if stamp is not None and hit is not None and hit[0] == stamp:
        return list(hit[1])
    out = []
    for folder, meta in list_checkpoints(root):
        out.append(ShippedModel(key=f"shipped:{folder.name}", label=shipped_label(folder.name, meta),
                                folder=folder, meta=meta))
    _SHIPPED["list"] = (stamp, out)
    return list(out)


def shipped_label(name: str, meta: dict) -> str:
    m = meta.get("model", {}) or {}
    d = meta.get("data", {}) or {}
    kind = KIND_NAMES.get(m.get("kind"), str(m.get("kind", "?")).upper())
    card = meta.get("card") or {}
    best = card.get("val_ppl", (meta.get("metrics") or {}).get("best_val_ppl"))
    unit = ("char" if d.get("tokenizer", "char") == "char" else
            "token" if d.get("unknown_words") == "chars" else "word")     # words, and the characters of rare ones
    ppl = f", val ppl {best:.0f} / {unit}" if isinstance(best, (int, float)) else ""
    bpc = ((card.get("bits") or {}).get("model") or {}).get("bits_per_char")
    if isinstance(bpc, (int, float)):
        ppl += f", {bpc:.2f} bits/char"          # the figure that compares char and word models
    return (f"shipped · {name} — {kind} {m.get('num_layers', 1)}×{m.get('hidden_size', '?')}, "
            f"{d.get('tokenizer', 'char')}{ppl}")


def load_shipped(folder: Path) -> Checkpoint:
    """A shipped checkpoint, loaded once (LRU) and shared read-only by every session."""
    meta_file = folder / "checkpoint.json"
    try:
        stamp = meta_file.stat().st_mtime_ns
    except OSError:
        raise LyricdemoError(f"The checkpoint {folder.name!r} is gone.") from None
    return _CHECKPOINTS.get_or_make((str(folder), stamp), lambda: load_checkpoint(folder))


def corpus_for(meta_corpus: dict, session_raws: list[RawText]) -> RawText | None:
    """The text a checkpoint was trained on, when it is here: the d2l corpus or a session upload."""
    sha = (meta_corpus or {}).get("sha256")
    if not sha:
        return None
    for raw in session_raws:
        if raw.sha256 == sha:
            return raw
    src = sources.source_with_sha256(sha)
    if src is None:
        return None
    try:
        return builtin_corpus(src.key)
    except (LyricdemoError, OSError):
        return None
