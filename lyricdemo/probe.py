"""What the visualizer shows: the hidden state of a model while it reads a text.

    text --prepare_prefix--> tokens, ids --scratch twin, forward_with_gates--> h per layer (T, D*H)

The fused ``torch.nn`` layers a model trains with do not expose their states step by
step, so the text is read by the model's scratch twin (``model.with_impl("scratch")``):
the same weights, the cells written out.  ``h[t]`` is the state *after* reading token
``t``; for a bidirectional layer the backward half is joined on the right, as in the
layer's output.

This first version returns the hidden states only; gates, saliency and projections
come later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import LyricdemoError
from .generate import UnknownToken, prepare_prefix
from .tokenizers import Tokenizer
from .vocab import Vocab

MAX_PROBE_TOKENS = 2000


@dataclass
class HiddenStates:
    """The hidden states of every layer while reading ``tokens``.

    ``layers[k]`` is a float32 array ``(T, D*H)``: row t is layer k's state after token t.
    ``unknown`` lists the tokens the vocabulary lacks (read as ``<unk>``).
    """

    text: str
    tokens: list[str]
    ids: list[int]
    layers: list[np.ndarray] = field(repr=False)
    kind: str = "gru"
    num_directions: int = 1
    unknown: tuple[UnknownToken, ...] = ()
    truncated: bool = False

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def width(self) -> int:
        """Units per layer as the heatmap shows them: D*H."""
        return int(self.layers[0].shape[1]) if self.layers else 0

    def unit(self, layer: int, unit: int) -> np.ndarray:
        """Activation (T,) of one unit of one layer along the text."""
        if not 0 <= layer < self.num_layers:
            raise LyricdemoError(f"layer must be from 0 to {self.num_layers - 1}; got {layer}.")
        if not 0 <= unit < self.width:
            raise LyricdemoError(f"unit must be from 0 to {self.width - 1}; got {unit}.")
        return self.layers[layer][:, unit]

    def most_active_units(self, layer: int, k: int = 5) -> list[int]:
        """The k units whose activation varies most along the text (the interesting ones to look at)."""
        var = self.layers[layer].var(axis=0)
        return [int(i) for i in np.argsort(-var, kind="stable")[:k]]


def hidden_states(model, vocab: Vocab, tokenizer: Tokenizer | str, text: str,
                  max_tokens: int = MAX_PROBE_TOKENS) -> HiddenStates:
    """Read ``text`` with ``model`` (an ``RNNLM``) and return the hidden state of every layer.

    The text is tokenized as the model's training text was (``generate.prepare_prefix``:
    line breaks become the model's line-break token, unknown tokens become ``<unk>`` and
    are listed).  Longer texts are cut to the first ``max_tokens`` tokens.
    """
    if not isinstance(text, str) or not text.strip():
        raise LyricdemoError("请输入要读的文本 / Type a text for the model to read.")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_PROBE_TOKENS:
        raise LyricdemoError(f"max_tokens must be a whole number from 1 to {MAX_PROBE_TOKENS}; got {max_tokens!r}.")
    if not hasattr(model, "with_impl") or not hasattr(model, "config"):
        raise LyricdemoError("The visualizer needs a recurrent model (RNN, GRU or LSTM), not an n-gram model.")
    report = prepare_prefix(text, vocab, tokenizer, unknown="unk")
    tokens, ids = list(report.tokens), list(report.ids)
    truncated = len(ids) > max_tokens
    if truncated:
        tokens, ids = tokens[:max_tokens], ids[:max_tokens]
    twin = model.with_impl("scratch")
    twin.eval()
    with torch.inference_mode():
        x = torch.tensor([ids], dtype=torch.long, device=twin.device)          # (1, T)
        _, _, gates = twin.forward_with_gates(x)
        h = gates["h"][:, :, 0].float().cpu()                                   # (L, D, T, H)
    layers = [torch.cat(list(h[k]), dim=-1).numpy() for k in range(h.shape[0])]   # each (T, D*H)
    unknown = tuple(u for u in report.unknown if u.start < sum(len(t) for t in tokens)) if truncated else report.unknown
    return HiddenStates(text=text, tokens=tokens, ids=ids, layers=layers, kind=model.config.kind,
                        num_directions=model.config.num_directions, unknown=unknown, truncated=truncated)
