"""Safe checkpoints: weights in safetensors, everything else in JSON, nothing pickled.

A checkpoint is a folder::

    checkpoints/char-gru/
        model.safetensors    the weights (float32, or float16 to halve the size)
        checkpoint.json      model/data/train configs, vocab, metrics, corpus sha256,
                             library version, the sha256 of model.safetensors
        resume.safetensors   (optional) optimizer state, RNG state, best weights: exact resume
        README.md            (optional) the model card

Loading checks everything before a single weight is used: the JSON format and
configs, the vocabulary against the model's size, the weights file's checksum,
every tensor's name, shape and dtype against the model the config describes.  A
file that is broken, mismatched, truncated, or a pickle in disguise is refused with
a message that says what is wrong.  ``torch.load`` is never called.

Writes are atomic: the folder is written next to its destination under a temporary
name and renamed into place, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from . import __version__
from .data import DataConfig, Dataset
from .errors import LyricdemoError
from .models import ModelConfig, RNNLM, build_model
from .numbers import json_safe
from .tokenizers import Tokenizer, get_tokenizer
from .train import TrainConfig, Trainer
from .vocab import Vocab

FORMAT = "lyricdemo-checkpoint"
FORMAT_VERSION = 1
WEIGHTS, META, RESUME, CARD = "model.safetensors", "checkpoint.json", "resume.safetensors", "README.md"
REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIR = REPO_ROOT / "checkpoints"
MAX_META_BYTES = 64 * 1024 * 1024
MAX_WEIGHTS_BYTES = 1024 * 1024 * 1024


@dataclass
class Checkpoint:
    """A loaded checkpoint: a ready model (CPU, eval mode) and what it needs to speak."""

    name: str
    model: RNNLM
    vocab: Vocab
    data_config: DataConfig
    train_config: TrainConfig | None
    meta: dict = field(repr=False)
    path: Path | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        return get_tokenizer(self.data_config.tokenizer)

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    def describe(self) -> str:
        card = self.meta.get("card") or {}
        # the card's figure (the stored weights, validation read as one stream: the one its bits per character
        # give) before training's own (a run that sampled validation measured it at the end as pieces)
        best = card.get("val_ppl")
        if not isinstance(best, (int, float)):
            best = self.metrics.get("best_val_ppl")
        ppl = f", validation perplexity {best:.1f}" if isinstance(best, (int, float)) else ""
        bpc = ((card.get("bits") or {}).get("model") or {}).get("bits_per_char")
        if isinstance(bpc, (int, float)):
            ppl += f" ({bpc:.3f} bits per character)"       # the figure that compares char and word models
        spelled = ", rare words spelled" if self.data_config.tokenizer != "char" and \
            self.data_config.unknown_words == "chars" else ""
        return f"{self.name}: {self.model.describe()}, {self.data_config.tokenizer} tokens{spelled}{ppl}"


# ----------------------------------------------------------------------------- saving
def _weights_dict(model: RNNLM, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The state dict without the tied decoder weight (it *is* the embedding matrix)."""
    sd = model.state_dict()
    if model.config.tie_weights:
        sd.pop("decoder.weight", None)
    return {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in sd.items()}


def save_checkpoint(path: str | os.PathLike, model: RNNLM, vocab: Vocab, data_config: DataConfig, *,
                    corpus: dict | None = None, train_config: TrainConfig | None = None,
                    trainer: Trainer | None = None, metrics: dict | None = None, card: str | None = None,
                    dtype: str = "float32", resume: bool = False, extra: dict | None = None) -> Path:
    """Write a checkpoint folder at ``path`` (atomically; an existing one is replaced).

    ``corpus`` is ``{"name": ..., "sha256": ...}`` of the text the model saw.  With a
    ``trainer`` its history and training state are included (``resume=True`` adds the
    optimizer and RNG state for an exact resume)."""
    if dtype not in ("float32", "float16"):
        raise LyricdemoError(f"Weights are stored as float32 or float16; got {dtype!r}.")
    if len(vocab) != model.config.vocab_size:
        raise LyricdemoError(f"The vocabulary has {len(vocab)} tokens but the model expects {model.config.vocab_size}.")
    _check_unknown_words(vocab, data_config)
    path = Path(path)
    weights = st_save(_weights_dict(model, getattr(torch, dtype)), metadata={"format": FORMAT})
    m = dict(metrics or {})
    resume_blob = None
    if trainer is not None:
        m.setdefault("history", trainer.history)
        m.setdefault("best_val_ppl", trainer.best_val_ppl)
        m.setdefault("steps", trainer.step)
        m.setdefault("parameters", trainer.model.num_parameters())
        m.setdefault("train_seconds", round(trainer.train_seconds, 3))
        m.setdefault("tokens_per_s", round(trainer.tokens_seen / max(trainer.train_seconds, 1e-9), 1))
        if trainer.baselines:
            m.setdefault("baselines", trainer.baselines)
        train_config = train_config or trainer.config
        if resume:
            tensors, state = trainer.state_for_resume()
            resume_blob = st_save(tensors, metadata={"format": FORMAT})
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "name": path.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": model.config.to_dict(),
        "data": data_config.to_dict(),
        "train": train_config.to_dict() if train_config else None,
        "vocab": vocab.to_dict(),
        "corpus": corpus or {},
        "metrics": m,
        "weights": {"file": WEIGHTS, "sha256": hashlib.sha256(weights).hexdigest(), "dtype": dtype,
                    "bytes": len(weights)},
        "resume": None,
        **(extra or {}),
    }
    if resume_blob is not None:
        meta["resume"] = {"file": RESUME, "sha256": hashlib.sha256(resume_blob).hexdigest(), "state": state}
    files = {WEIGHTS: weights, META: json.dumps(json_safe(meta), ensure_ascii=False, indent=1,
                                                allow_nan=False).encode()}
    if resume_blob is not None:
        files[RESUME] = resume_blob
    if card:
        files[CARD] = card.encode()
    _write_folder_atomically(path, files)
    return path


def _write_folder_atomically(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_from_training(path: str | os.PathLike, trainer: Trainer, dataset: Dataset, **kw) -> Path:
    """Shortcut: save the trainer's model with the dataset's vocab, configs and corpus hash."""
    return save_checkpoint(path, trainer.model, dataset.vocab, dataset.config, trainer=trainer,
                           corpus={"name": dataset.raw.name, "sha256": dataset.corpus_sha256}, **kw)


# ----------------------------------------------------------------------------- loading
def _looks_like_pickle(head: bytes) -> str | None:
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (torch.save writes pickles inside zips)"
    return None


def _safetensors_shaped(data: bytes) -> bool:
    """A u64 header length, then a JSON object that fits in the file."""
    if len(data) < 10:
        return False
    n = int.from_bytes(data[:8], "little")
    return data[8:9] == b"{" and 8 + n <= len(data)


def _read_meta(folder: Path) -> dict:
    f = folder / META
    if not f.is_file():
        raise LyricdemoError(f"{folder.name!r} is not a checkpoint: {META} is missing.")
    if f.stat().st_size > MAX_META_BYTES:
        raise LyricdemoError(f"{META} in {folder.name!r} is implausibly large.")
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LyricdemoError(f"{META} in {folder.name!r} is not valid JSON ({e}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise LyricdemoError(f"{META} in {folder.name!r} is not a lyricdemo checkpoint description.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LyricdemoError(f"{folder.name!r} has checkpoint format {meta.get('format_version')!r}; "
                             f"this version of lyricdemo reads format {FORMAT_VERSION}.")
    return meta


def _read_tensors(file: Path, expected_sha: str | None, what: str) -> dict[str, torch.Tensor]:
    if not file.is_file():
        raise LyricdemoError(f"{what}: {file.name} is missing.")
    size = file.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise LyricdemoError(f"{what}: {file.name} is {size / 2**20:.0f} MB, more than any lyricdemo model.")
    data = file.read_bytes()
    kind = None if _safetensors_shaped(data) else _looks_like_pickle(data[:8])
    if kind:
        raise LyricdemoError(f"{what}: {file.name} is {kind}, not safetensors. lyricdemo never unpickles files "
                             "(a pickle can run code); convert the weights to safetensors.")
    if expected_sha and hashlib.sha256(data).hexdigest() != expected_sha:
        raise LyricdemoError(f"{what}: {file.name} does not match the checksum in {META} "
                             "(truncated, corrupted, or from another checkpoint).")
    try:
        return st_load(data)          # from the bytes that were checksummed, not a second read
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
        raise LyricdemoError(f"{what}: {file.name} is not a valid safetensors file ({e}).") from None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load and check a checkpoint folder; the model comes back on the CPU in eval mode."""
    folder = Path(path)
    if not folder.is_dir():
        raise LyricdemoError(f"No checkpoint folder at {str(path)!r}.")
    meta = _read_meta(folder)
    try:
        model_cfg = ModelConfig.from_dict(meta["model"])
        # saved before the character fallback for unknown words: a rare word was <unk>
        data = meta["data"]
        data_cfg = DataConfig.from_dict({"unknown_words": "unk", **data} if isinstance(data, dict) else data)
        train_cfg = TrainConfig.from_dict(meta["train"]) if meta.get("train") else None
        vocab = Vocab.from_dict(meta["vocab"])
        weights_info = meta["weights"]
        if not isinstance(weights_info, dict):
            raise TypeError("'weights' (not an object)")
    except LyricdemoError as e:
        raise LyricdemoError(f"{folder.name!r}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise LyricdemoError(f"{folder.name!r}: {META} lacks or garbles {e}.") from None
    _check_unknown_words(vocab, data_cfg, f"{folder.name!r}: ")
    if len(vocab) != model_cfg.vocab_size:
        raise LyricdemoError(f"{folder.name!r}: the vocabulary has {len(vocab)} tokens but the model config "
                             f"says {model_cfg.vocab_size}.")
    tensors = _read_tensors(folder / WEIGHTS, weights_info.get("sha256"), folder.name)
    # Check the weights against a skeleton on the "meta" device (shapes, no memory) *before*
    # building the model: a description of a huge model next to small weights is refused
    # without allocating what it describes.
    with torch.device("meta"), _NoInit():
        skeleton = build_model(model_cfg)
    check_weights(skeleton, tensors, folder.name)
    with torch.random.fork_rng(devices=[]):
        model = build_model(model_cfg)
    _copy_weights(model, tensors, folder.name)
    model.eval()
    return Checkpoint(name=meta.get("name", folder.name), model=model, vocab=vocab, data_config=data_cfg,
                      train_config=train_cfg, meta=meta, path=folder)


class _NoInit(TorchFunctionMode):
    """Skips the initializers (``nn.init.normal_`` and the like) while a skeleton is built on the
    "meta" device: it has no values to initialize, and a meta-device ``normal_`` runs through
    torch's Python decompositions, whose first use imports sympy and ``torch._dynamo`` -- measured
    1.3-2.4 s and ~800 modules at the first checkpoint load of a process, for nothing."""

    SKIPPED = frozenset({"normal_", "uniform_", "zero_", "zeros_", "ones_", "fill_", "constant_", "orthogonal_",
                         "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.SKIPPED:
            return args[0] if args else kwargs.get("tensor", kwargs.get("self"))
        return func(*args, **kwargs)


def _check_unknown_words(vocab: Vocab, data_config: DataConfig, where: str = "") -> None:
    """A word model's vocabulary reads rare words the way its data config says (for characters the two
    ways are the same, so a char model passes either way)."""
    if data_config.tokenizer != "char" and vocab.unknown_words != data_config.unknown_words:
        raise LyricdemoError(f"{where}the vocabulary reads unknown words as {vocab.unknown_words!r} but the data "
                             f"config says {data_config.unknown_words!r}: build the vocabulary with the data config "
                             "(data.load_dataset).")


def check_weights(model: RNNLM, tensors: dict[str, torch.Tensor], what: str = "checkpoint") -> None:
    """Refuse ``tensors`` unless their names, shapes and dtypes are exactly what ``model`` needs
    and every value is finite.  Reads only shapes from ``model``, so it may live on "meta"."""
    expected = model.state_dict()
    if model.config.tie_weights:
        expected.pop("decoder.weight", None)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise LyricdemoError(f"{what}: the weights do not match the model config "
                             f"(missing {missing[:4]}, unexpected {unexpected[:4]}).")
    for k, v in expected.items():
        t = tensors[k]
        if tuple(t.shape) != tuple(v.shape):
            raise LyricdemoError(f"{what}: {k} has shape {tuple(t.shape)}, the model config needs {tuple(v.shape)}.")
        if t.dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64) and v.is_floating_point():
            raise LyricdemoError(f"{what}: {k} has dtype {t.dtype}; weights must be floating point.")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise LyricdemoError(f"{what}: {k} contains inf or NaN.")


def _copy_weights(model: RNNLM, tensors: dict[str, torch.Tensor], what: str) -> None:
    """Copy tensors already passed by ``check_weights`` into ``model`` (as float32)."""
    with torch.no_grad():
        result = model.load_state_dict({k: t.to(torch.float32) for k, t in tensors.items()}, strict=False)
    allowed = {"decoder.weight"} if model.config.tie_weights else set()
    if set(result.missing_keys) - allowed or result.unexpected_keys:
        raise LyricdemoError(f"{what}: the weights do not fit the model ({result}).")


def resume_trainer(path: str | os.PathLike, dataset: Dataset, config: TrainConfig | None = None) -> Trainer:
    """A Trainer that continues the run saved at ``path`` exactly where it stopped."""
    ckpt = load_checkpoint(path)
    resume = ckpt.meta.get("resume")
    if not resume:
        raise LyricdemoError(f"{ckpt.name!r} was saved without its training state; it cannot be resumed.")
    if ckpt.vocab != dataset.vocab:
        raise LyricdemoError(f"{ckpt.name!r} was trained with another vocabulary than this data gives.")
    sha = ckpt.meta.get("corpus", {}).get("sha256")
    if sha and sha != dataset.corpus_sha256:
        raise LyricdemoError(f"{ckpt.name!r} was trained on another corpus (sha256 {sha[:12]}...).")
    tensors = _read_tensors(Path(path) / RESUME, resume.get("sha256"), ckpt.name)
    model = ckpt.model
    model.train()
    # the baselines are measured again (a second): the stored ones may predate modified Kneser-Ney
    trainer = Trainer(model, dataset, config or ckpt.train_config or TrainConfig())
    trainer.restore_for_resume(tensors, resume["state"])
    return trainer


# ----------------------------------------------------------------------------- many checkpoints
def list_checkpoints(root: str | os.PathLike = SHIPPED_DIR) -> list[tuple[Path, dict]]:
    """(folder, JSON description) of every readable checkpoint under ``root``, by name."""
    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            out.append((folder, _read_meta(folder)))
        except LyricdemoError:
            continue
    return out


def pack_checkpoint(path: str | os.PathLike) -> bytes:
    """The checkpoint folder as a zip (for a download button)."""
    folder = Path(path)
    _read_meta(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in (META, WEIGHTS, RESUME, CARD):
            if (folder / name).is_file():
                z.write(folder / name, f"{folder.name}/{name}")
    return buf.getvalue()


def unpack_checkpoint(data: bytes, dest: str | os.PathLike, max_bytes: int = 256 * 2**20) -> Path:
    """Unpack a zip made by ``pack_checkpoint`` into a new folder under ``dest`` and
    return its path (then ``load_checkpoint`` it).  Only the known file names are
    taken; paths inside the zip are never trusted."""
    kind = _looks_like_pickle(data[:8])
    if kind and not data.startswith(b"PK"):
        raise LyricdemoError(f"This file is {kind}, not a lyricdemo checkpoint; it will not be opened.")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise LyricdemoError(f"Not a checkpoint archive ({e}).") from None
    wanted = {}
    for info in infos:
        base = Path(info.filename).name
        if base in (META, WEIGHTS, RESUME, CARD) and not info.is_dir():
            if info.file_size > max_bytes:
                raise LyricdemoError(f"{base} in the archive is too large ({info.file_size / 2**20:.0f} MB).")
            if base in wanted:
                raise LyricdemoError(f"The archive holds {base} twice ({wanted[base].filename!r} and "
                                     f"{info.filename!r}); a checkpoint archive holds one checkpoint.")
            wanted[base] = info
        elif base.endswith((".pkl", ".pt", ".pth", ".bin")) or base == "data.pkl":
            raise LyricdemoError(f"The archive holds {info.filename!r}, a PyTorch pickle; lyricdemo never "
                                 "unpickles files. Only safetensors + JSON checkpoints are accepted.")
    if META not in wanted or WEIGHTS not in wanted:
        raise LyricdemoError(f"A checkpoint archive must hold {META} and {WEIGHTS}.")
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=dest))
    try:
        for base, info in wanted.items():
            try:
                with z.open(info) as src:        # the declared size can lie: read at most max_bytes + 1
                    payload = src.read(max_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError,
                    zlib.error) as e:
                raise LyricdemoError(f"Cannot unpack {base} from the archive ({e or type(e).__name__}): "
                                     "the file is damaged or truncated.") from None
            if len(payload) > max_bytes:
                raise LyricdemoError(f"{base} unpacks to more than {max_bytes / 2**20:.0f} MB.")
            (folder / base).write_bytes(payload)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)      # nothing half-unpacked stays behind
        raise
    return folder
