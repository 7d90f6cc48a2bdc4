"""The model picker: shipped checkpoints (shared, loaded lazily) plus this session's models
and the models of the runs it followed (shared read-only, see ``runs.py``).

Keys are ``"shipped:<folder>"``, ``"session:<run number>"`` and ``"follow:<run id>"``; the pickers show labels
and send keys, and every endpoint that takes a model checks the key here (the API can
send anything).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checkpoint import Checkpoint
from ..corpus import RawText
from ..errors import LyricdemoError
from ..novelty import CorpusIndex
from . import resources, runs
from .labels import T, kw
from .session import Session
from .validate import show


@dataclass
class ModelEntry:
    key: str
    label: str
    checkpoint: Checkpoint
    raw: RawText | None = None          # the corpus the model saw, when it is here
    corpus_text: str | None = None      # or its literal training text (the toy task)

    def corpus_index(self) -> CorpusIndex | None:
        """The memorization index of the model's training text, or None when that text is not here."""
        if self.corpus_text is not None:
            return CorpusIndex(self.corpus_text)
        if self.raw is None:
            return None
        return resources.corpus_index(self.raw, self.checkpoint.data_config)


def choices(session: Session | None) -> list[tuple[str, str]]:
    """(label, key) of every model this session can use: shipped first, then the followed runs', then its
    own (newest last)."""
    out = [(m.label, m.key) for m in resources.shipped_models()]
    if session is not None:
        session.touch()
        out += [(followed_label(m.label), f"follow:{rid}") for rid, m in session.followed_models()]
        out += [(m.label, m.key) for m in list(session.models.values())]
    return out


def picker(elem_prefix: str):
    """The model dropdown and its refresh button, in one row (inside a ``gr.Blocks``): elem ids
    ``<prefix>-model`` and ``<prefix>-refresh``."""
    import gradio as gr

    with gr.Row():
        model = gr.Dropdown(choices=choices(None), value=default_key(None), scale=4, allow_custom_value=True,
                            elem_id=f"{elem_prefix}-model", **kw("model"))
        refresh = gr.Button("↻", scale=0, min_width=48, elem_id=f"{elem_prefix}-refresh")
    return model, refresh


def followed_label(label: str) -> str:
    """A followed run's model, named as such ("trained here" is the owner's view)."""
    return "followed · " + label.removeprefix("trained here · ")


def default_key(session: Session | None, current: str | None = None) -> str | None:
    """Keep the current choice when it still exists; else the newest session model, else the first shipped."""
    keys = [k for _, k in choices(session)]
    if current in keys:
        return current
    if session is not None and session.models:
        return next(reversed(session.models))
    if session is not None and (followed := session.followed_models()):
        return f"follow:{followed[-1][0]}"
    return keys[0] if keys else None


def get(session: Session | None, key) -> ModelEntry:
    """The model behind a picker key, ready to use (shipped weights are loaded on first use)."""
    if session is not None:
        session.touch()
    if not isinstance(key, str) or not key:
        raise LyricdemoError(T["no_model"] if not choices(session) else
                             "Choose a model first. / 请先选择一个模型。")
    if key.startswith("session:") and session is not None and key in session.models:
        m = session.models[key]
        raw = m.raw
        if raw is None and m.corpus_text is None:          # an uploaded checkpoint: is its corpus here?
            raw = resources.corpus_for(m.checkpoint.meta.get("corpus", {}),
                                       [session.upload] if session.upload is not None else [])
        return ModelEntry(key=m.key, label=m.label, checkpoint=m.checkpoint, raw=raw, corpus_text=m.corpus_text)
    if key.startswith("follow:"):             # the link is the permission: anyone with it may use the model
        m = runs.model_of(key.removeprefix("follow:"))
        return ModelEntry(key=key, label=followed_label(m.label), checkpoint=m.checkpoint, raw=m.raw,
                          corpus_text=m.corpus_text)
    if key.startswith("shipped:"):
        for s in resources.shipped_models():
            if s.key == key:
                ckpt = resources.load_shipped(s.folder)
                raws = [session.upload] if session is not None and session.upload is not None else []
                return ModelEntry(key=key, label=s.label, checkpoint=ckpt,
                                  raw=resources.corpus_for(ckpt.meta.get("corpus", {}), raws))
    known = ", ".join(k for _, k in choices(session)) or "none"
    hint = ""
    if key.startswith("session:"):
        hint = " Models trained in a session exist only in that session. / 训练的模型只属于当时的会话。"
        if session is not None and session.expired_note:
            hint = " " + session.expired_note
    raise LyricdemoError(f"Unknown model {show(key)}; available: {known}.{hint}")
