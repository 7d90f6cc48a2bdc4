"""The corpora that ship inside the repository, described as plain data.

The d2l lyrics cannot be committed (copyrighted song texts), so a fresh clone, a Space
or an offline laptop would have nothing to learn from.  An embedded corpus fills that
gap: public-domain text committed with its data card, its build script and a model
trained on it.  This module only *describes* them -- where the file is, how to clean
it, which prefix to start generating from, which training settings suit it -- so the
app and the CLI can offer one without knowing its details.

``EMBEDDED["tang"]``: Tang poems (唐诗), built by ``corpora/build_tang.py`` from the
MIT-licensed ``chinese-poetry`` npm package; ``corpora/README.md`` is its data card.
"""

from __future__ import annotations

from .corpus import REPO_ROOT
from .errors import LyricdemoError

CORPORA_DIR = REPO_ROOT / "corpora"

# Every key is plain data (str, dict, tuple):
#   label             what the app shows (English / 中文)
#   path              the file, as read by corpus.read_corpus_file
#   card              its data card
#   source            where the text comes from (one line, for the header and tab 1)
#   prefixes          generation prefixes that begin poems of the corpus (the first is the default)
#   data              DataConfig overrides for this corpus (the cleaning preset that keeps its punctuation)
#   classroom         overrides of presets.PRESETS["classroom"] ({"model": ..., "train": ...}) for this
#                     corpus: what makes the 45-second classroom run beat its bigram (measured: corpora/README.md)
#   checkpoint        the shipped model trained on it (a folder in checkpoints/)
EMBEDDED: dict[str, dict] = {
    "tang": {
        "label": "Tang poems / 唐诗",
        "path": CORPORA_DIR / "tang_poems.txt.zip",
        "card": CORPORA_DIR / "README.md",
        "source": "chinese-poetry 2.0.1 (npm, MIT): 唐诗三百首 + 全唐诗, regulated verse, Simplified / "
                  "唐诗三百首与全唐诗中的近体诗（简体）",
        "prefixes": ("床前", "春眠", "白日"),
        "data": {"clean": "d2l", "tokenizer": "char", "newline": "token", "min_freq": 2},
        # none: the lighter dropout and higher learning rate this corpus needed (corpora/README.md) are the
        # classroom preset's own since 2026-12-03, and the lyrics' soft targets cost it 20% (presets.CLASSROOM_FOR)
        "classroom": {},
        "checkpoint": "tang-gru",
    },
}


def embedded_corpus(name: str) -> dict:
    """The description of an embedded corpus by name (``"tang"``)."""
    try:
        return EMBEDDED[name]
    except KeyError:
        raise LyricdemoError(f"Unknown embedded corpus {name!r}; choose one of {sorted(EMBEDDED)}.",
                             code="unknown_embedded_corpus", name=name) from None

