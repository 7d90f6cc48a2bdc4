"""What the commands that read a checkpoint share: finding it, rebuilding the data it was trained
on (only from the very same file), and the torch threads of this process."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LyricdemoError

CHECKPOINT_HELP = "a checkpoint folder, or the name of one under checkpoints/ (e.g. char-gru)"


def add_checkpoint_command(sub, name: str, func, help: str) -> argparse.ArgumentParser:
    """The subparser of a command that reads a checkpoint: ``--checkpoint`` first, ``func`` runs it."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.set_defaults(func=func)
    return p


def resolve_checkpoint(name: str):
    """A folder as given, else a bare name under the repository's ``checkpoints/``."""
    from ..checkpoint import SHIPPED_DIR, list_checkpoints

    path = Path(name)
    if path.is_dir():
        return path
    if path.name == name and (SHIPPED_DIR / name).is_dir():
        return SHIPPED_DIR / name
    shipped = [folder.name for folder, _ in list_checkpoints(SHIPPED_DIR)]
    known = f" Checkpoints in {SHIPPED_DIR}: {', '.join(shipped)}." if shipped else ""
    raise LyricdemoError(f"No checkpoint folder at {name!r} (nor {SHIPPED_DIR / path.name}).{known}")


def checkpoint_dataset(ckpt):
    """The dataset a checkpoint was trained on (its DataConfig over its corpus file), or a
    ``LyricdemoError`` saying why it cannot be had.

    The checkpoint records the sha256 of the corpus file it saw; the data is rebuilt from
    the file only when that file is here with the same sha256, so no figure is ever
    measured against a different text than the model's."""
    from dataclasses import replace

    from ..corpus import default_corpus_path
    from ..data import DataConfig, load_dataset, load_raw
    from ..sources import source_with_sha256

    sha = (ckpt.meta.get("corpus") or {}).get("sha256")
    if not sha:
        raise LyricdemoError("the checkpoint does not record which corpus it was trained on")
    cfg: DataConfig = ckpt.data_config
    if not cfg.source:                       # trained on a built-in corpus: the one with its checksum
        builtin = source_with_sha256(sha)
        cfg = replace(cfg, source=str(builtin.path if builtin else default_corpus_path()))
    path = Path(cfg.source)
    if not path.is_file():
        hint = " (python -m lyricdemo fetch gets the d2l corpus)" if path == default_corpus_path() else ""
        raise LyricdemoError(f"its training corpus {str(path)!r} is not here{hint}")
    try:
        raw = load_raw(cfg)
    except LyricdemoError as e:
        raise LyricdemoError(f"its training corpus cannot be read: {e}") from None
    if raw.sha256 != sha:
        raise LyricdemoError(f"{str(path)!r} is not the file this model was trained on "
                             f"(sha256 {raw.sha256[:12]}..., the checkpoint says {sha[:12]}...)")
    return load_dataset(cfg, raw=raw)


def training_text(ckpt) -> tuple[str | None, str]:
    """(the checkpoint's training text, a description) or (None, why it cannot be had)."""
    try:
        ds = checkpoint_dataset(ckpt)
    except LyricdemoError as e:
        return None, str(e)
    text = ds.train_text
    return text, f"its training text ({ds.raw.name}, {len(text):,} chars)"


def set_threads(n: int) -> None:
    """torch threads for this process only (the CLI is its own app)."""
    import torch

    if not 1 <= n <= 256:
        raise LyricdemoError(f"--threads must be a whole number from 1 to 256; got {n}.")
    torch.set_num_threads(n)
