"""Publish the app as a Hugging Face Space: one command, with a dry run that needs no network.

    python -m lyricdemo publish --space USER/lyricdemo --dry-run   # the files, sizes, which go through LFS
    python -m lyricdemo publish --space USER/lyricdemo             # create (or update) the Space, upload

What a Space needs is an allow-list, not "the folder minus some things": the app, the library, the
shipped checkpoints and the embedded corpus, the runtime requirements (``pre-requirements.txt`` gives
torch's CPU build), the README (its front matter is the Space card; its screenshots ride along) and the
licence.  Never the d2l corpus (``data/`` holds only its data card), a ``.venv``, caches, tests or
benchmarks.  In a git checkout only committed files are candidates, so a stray local file never leaves.

Binary files (weights, zips, images) go through the Hub's large-file storage: the ``.gitattributes``
written first says so, and ``huggingface_hub`` uploads them as LFS objects.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .corpus import REPO_ROOT
from .errors import LyricdemoError

ALLOW = ("app.py", "README.md", "LICENSE", "requirements.txt", "pre-requirements.txt", "data/README.md",
         "lyricdemo/*.py", "lyricdemo/*/*.py", "checkpoints/*/*", "corpora/*", "tests/screenshots/*.png")
NEVER = ("data/*.zip", "data/*.txt", ".venv/*", "*/__pycache__/*", "*.pyc", ".cache/*", ".git/*")
LFS = ("*.safetensors", "*.zip", "*.png")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS)


@dataclass(frozen=True)
class SpaceFile:
    path: str           # relative, with forward slashes
    size: int
    lfs: bool


def _candidates(root: Path) -> list[str]:
    if (root / ".git").exists():
        try:
            out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60)
            return sorted(p for p in out.stdout.decode().split("\0") if p)
        except (OSError, subprocess.SubprocessError):
            pass
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def space_files(root: str | os.PathLike = REPO_ROOT) -> list[SpaceFile]:
    """The files a Space gets, by the allow-list (see the module docstring)."""
    root = Path(root)
    out = []
    for rel in _candidates(root):
        if not any(fnmatch.fnmatch(rel, p) for p in ALLOW) or any(fnmatch.fnmatch(rel, p) for p in NEVER):
            continue
        path = root / rel
        if path.is_file():
            out.append(SpaceFile(rel, path.stat().st_size, any(fnmatch.fnmatch(rel, p) for p in LFS)))
    missing = {"app.py", "requirements.txt", "README.md"} - {f.path for f in out}
    if missing:
        raise LyricdemoError(f"{root} is not a lyricdemo checkout: {sorted(missing)} missing.")
    return out


def describe(files: list[SpaceFile]) -> str:
    lines = [f"{'LFS' if f.lfs else '   '}  {f.size:>10,}  {f.path}" for f in files]
    total, lfs = sum(f.size for f in files), sum(f.size for f in files if f.lfs)
    lines.append(f"{len(files)} files, {total / 2**20:.1f} MB ({lfs / 2**20:.1f} MB through LFS)")
    return "\n".join(lines)


def publish(space: str, root: str | os.PathLike = REPO_ROOT, *, private: bool = False, api=None,
            token: str | None = None) -> str:
    """Create the Space ``space`` ("user/name") if needed and upload the allow-listed files; returns its URL.

    ``api`` is a ``huggingface_hub.HfApi`` (tests pass a stand-in that records the calls)."""
    if space.count("/") != 1 or not all(space.split("/")):
        raise LyricdemoError(f"--space must look like USER/NAME; got {space!r}.")
    files = space_files(root)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    url = api.create_repo(space, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.upload_file(path_or_fileobj=GITATTRIBUTES.encode(), path_in_repo=".gitattributes", repo_id=space,
                    repo_type="space", commit_message="LFS for weights, zips and images")
    api.upload_folder(folder_path=str(root), repo_id=space, repo_type="space",
                      allow_patterns=[f.path for f in files], commit_message="lyricdemo")
    return str(url)
