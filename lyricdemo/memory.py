"""Song memory: a cache over the text already read, on top of any trained model.

A chorus comes back within the same song.  A model trained once cannot know *this*
song, but the text it has read so far can: when the last few characters were seen
before, what followed them then is a good guess now.  Two caches look back over the
last ``window`` positions of the text read so far (never ahead), each giving a
distribution over the next token:

* **copy cache** (longest match, as in PPM compression): every earlier position j whose
  text ends like the text now (``x[j-L+1..j] == x[t-L+1..t]``, L characters in common)
  votes for the token that followed it, ``x[j+1]``, with weight ``exp(beta * L)``, so
  the longest matches dominate::

      ... 不 分 开 | 我 ... 不 分 开 | ?        the earlier 不分开 matches 3 tokens:
                  ^ x[j+1] = 我                 p_copy(我) is large

* **continuous cache** (Grave et al., "Improving Neural Language Models with a
  Continuous Cache", 2017): position j votes for ``x[j+1]`` with weight
  ``exp(theta * cos(h_t, h_j))``, h being the model's features (``RNNLM.features``):
  positions where the model was "in the same state" as now.  Only neural models have
  it; the n-gram baselines get the copy cache alone.

The model's own distribution and the two caches are mixed::

    p(w) = l_model * p_model(w) + l_cont * p_cont(w) + l_copy * p_copy(w)

with weights ``l`` that depend on how long the longest match is (a 9-token match is
more trustworthy than a 1-token one): one row of weights per match-length bucket
(``MATCH_BUCKETS``).  A cache with nothing to say (no earlier position, no match)
falls back to the model's distribution.

**No peeking.** Position t sees only ``x[0..t]`` and the features computed from them
(the model reads left to right; a bidirectional model is refused).  The weights, the
window, ``beta`` and ``theta`` are chosen on a slice of the *training* text
(``choose_memory``), never on the validation text the figures are reported on.

This module holds the caches as a generator uses them, token by token (``SongMemory``,
``MemoryLM``); ``memory_tuning.py`` reads a whole text at once to measure and tune them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from .errors import LyricdemoError

MATCH_BUCKETS = (0, 1, 2, 3, 4, 6, 9, 13, 20)   # lower edges of the longest-match buckets (0: no match)
MAX_MATCH = 64                                  # match lengths are counted up to this


def bucket_of(match: int | np.ndarray) -> int | np.ndarray:
    """The bucket index of a longest-match length (0 for no match)."""
    return np.searchsorted(MATCH_BUCKETS, match, side="right") - 1


@dataclass(frozen=True)
class MemoryConfig:
    """How the song memory looks back and how much it is trusted.  Stored in a model card."""

    window: int = 2000                   # earlier positions remembered
    beta: float = 1.0                    # copy cache: weight exp(beta * match length)
    theta: float = 20.0                  # continuous cache: weight exp(theta * cosine similarity)
    continuous: bool = True              # False: the copy cache only (n-gram models have no features)
    dynamic_lr: float = 0.0              # > 0: dynamic evaluation at this SGD rate (evaluation only)
    # one row (model, continuous, copy) per MATCH_BUCKETS entry, each summing to 1
    weights: tuple[tuple[float, float, float], ...] = field(
        default_factory=lambda: tuple((0.6, 0.2, 0.2) for _ in MATCH_BUCKETS))

    def __post_init__(self):
        if isinstance(self.window, bool) or not isinstance(self.window, int) or not 1 <= self.window <= 100_000:
            raise LyricdemoError(f"The memory window must be a whole number from 1 to 100,000; got {self.window!r}.")
        for name in ("beta", "theta", "dynamic_lr"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1000:
                raise LyricdemoError(f"The memory's {name} must be between 0 and 1000; got {v!r}.")
        w = np.asarray(self.weights, dtype=np.float64)
        if w.shape != (len(MATCH_BUCKETS), 3) or not np.isfinite(w).all() or (w < 0).any() \
                or not np.allclose(w.sum(1), 1.0, atol=1e-6):
            raise LyricdemoError(f"The memory weights must be {len(MATCH_BUCKETS)} rows of 3 non-negative "
                                 "numbers, each row summing to 1.")
        object.__setattr__(self, "weights", tuple(tuple(float(x) for x in row) for row in w))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["weights"] = [list(r) for r in self.weights]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MemoryConfig:
        if not isinstance(d, dict):
            raise LyricdemoError("A memory config must be a JSON object.")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "weights" in known:
            known["weights"] = tuple(tuple(r) for r in known["weights"])
        return cls(**known)


# ----------------------------------------------------------------------------- the two caches
def next_matches(ids: np.ndarray, matches: np.ndarray, token: int) -> np.ndarray:
    """Longest-match lengths after reading ``token``.

    ``ids`` are the t tokens read before it, ``matches[j]`` (j < t-1) how many tokens the text
    ending at j has in common with the text ending at t-1.  The result, for j < t: the text
    ending at j against the text ending at the new token -- one more than the previous match
    one position back when ``ids[j] == token``, else 0."""
    shifted = np.concatenate(([0], matches))[: len(ids)]            # matches[j-1], 0 for j = 0
    return np.where(ids == token, np.minimum(shifted + 1, MAX_MATCH), 0).astype(np.int32)


def copy_weights(match: np.ndarray, beta: float) -> np.ndarray:
    """Vote of each earlier position: exp(beta * (L - longest)) where it matches, else 0."""
    if not len(match):
        return np.zeros(0)
    m = match.max()
    if m == 0:
        return np.zeros(len(match))
    return np.where(match > 0, np.exp(beta * (match - m)), 0.0)


def _cont_weights(keys: np.ndarray, key: np.ndarray, theta: float) -> np.ndarray:
    """Vote of each earlier position: exp(theta * (cos(h_t, h_j) - 1)) (unit vectors: cos <= 1)."""
    return np.exp(theta * (keys @ key - 1.0))


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- the incremental memory
class SongMemory:
    """The memory of one text as it is read, token by token (generation, the app's tab 4).

    ``read(token, feature)`` appends a position; ``mix(model_probs)`` gives the next-token
    distribution of the model with memory; ``sources()`` the earlier positions it drew on.
    Nothing but what was read is ever stored, so it cannot peek."""

    def __init__(self, config: MemoryConfig, vocab_size: int):
        self.config, self.vocab_size = config, vocab_size
        self.ids = np.zeros(0, dtype=np.int64)          # tokens read (the last window + 1 of them)
        self.keys: np.ndarray | None = None              # (n, F) unit features, when the model has them
        self.matches = np.zeros(0, dtype=np.int32)       # (n - 1,) longest match of each earlier position
        self.offset = 0                                  # position of ids[0] in the whole text

    def copy(self) -> SongMemory:
        other = SongMemory(self.config, self.vocab_size)
        other.ids, other.matches, other.offset = self.ids.copy(), self.matches.copy(), self.offset
        other.keys = None if self.keys is None else self.keys.copy()
        return other

    def __len__(self) -> int:
        return self.offset + len(self.ids)

    def read(self, token: int, feature: np.ndarray | None = None) -> None:
        """Remember one more token (and the model's feature vector after reading it)."""
        self.matches = next_matches(self.ids, self.matches, int(token))
        self.ids = np.append(self.ids, np.int64(token))
        if feature is not None and self.config.continuous:
            key = unit_rows(np.asarray(feature, dtype=np.float32).reshape(1, -1))
            self.keys = key if self.keys is None else np.concatenate([self.keys, key])
        keep = self.config.window + 1
        if len(self.ids) > 2 * keep:                     # trim now and then, not every step
            cut = len(self.ids) - keep
            self.ids, self.matches, self.offset = self.ids[cut:], self.matches[cut:], self.offset + cut
            if self.keys is not None:
                self.keys = self.keys[cut:]

    def _votes(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int]:
        """(next tokens of the earlier positions in the window, copy votes, continuous votes, longest match)."""
        n = len(self.ids)
        lo = max(0, n - 1 - self.config.window)
        nxt = self.ids[lo + 1:n]                                        # what followed each position j
        match = self.matches[lo:n - 1]
        longest = int(match.max()) if len(match) else 0
        copy = copy_weights(match, self.config.beta) if longest else None
        cont = None
        if self.keys is not None and len(nxt) and len(self.keys) == n:
            cont = _cont_weights(self.keys[lo:n - 1], self.keys[n - 1], self.config.theta)
        return nxt, copy, cont, longest

    def weights(self, longest: int) -> np.ndarray:
        return np.asarray(self.config.weights[int(bucket_of(longest))])

    def mix(self, model_probs: np.ndarray) -> np.ndarray:
        """The next-token distribution (V,) with memory, from the model's own (V,)."""
        p = np.asarray(model_probs, dtype=np.float64)
        nxt, copy, cont, longest = self._votes()
        lam = self.weights(longest)
        out = lam[0] * p
        for k, votes in ((1, cont), (2, copy)):
            if votes is None or votes.sum() <= 0:
                out = out + lam[k] * p                                  # nothing to say: the model's
            else:
                out = out + lam[k] * np.bincount(nxt, weights=votes, minlength=self.vocab_size) / votes.sum()
        return out

    def sources(self, token: int | None = None, top: int = 8) -> list[dict]:
        """The earlier positions that voted (for ``token``, if given), strongest first: each
        ``{"position", "next", "share", "match", "cache"}``, ``share`` being its part of the
        memory's probability of the next token (weights included)."""
        nxt, copy, cont, longest = self._votes()
        lam = self.weights(longest)
        lo = len(self.ids) - 1 - len(nxt)
        share = np.zeros(len(nxt))
        if copy is not None and copy.sum() > 0:
            share += lam[2] * copy / copy.sum()
        if cont is not None and cont.sum() > 0:
            share += lam[1] * cont / cont.sum()
        if token is not None:
            share = np.where(nxt == token, share, 0.0)
        match = self.matches[lo:lo + len(nxt)]
        order = np.argsort(-share, kind="stable")[:top]
        return [{"position": int(self.offset + lo + j), "next": int(nxt[j]), "share": float(share[j]),
                 "match": int(match[j]),
                 "cache": "copy" if match[j] > 0 and copy is not None else "continuous"}
                for j in order if share[j] > 0]


# ----------------------------------------------------------------------------- a model with memory
class MemoryLM:
    """A model plus song memory, answering the calls every model answers (``init_state``,
    ``forward(ids, state) -> (log-probabilities, state)``), so ``generate`` serves it as it is.

    The state is ``(the model's state, [one SongMemory per row])``; a row that a beam search
    copied is copied before it reads on, so rows never share a memory."""

    def __init__(self, model, config: MemoryConfig, vocab_size: int | None = None):
        if getattr(model, "bidirectional", False):
            raise LyricdemoError("A bidirectional model reads the future, so a memory of the text read so far "
                                 "means nothing for it.")
        self.model, self.config = model, config
        self.vocab_size = vocab_size or model.config.vocab_size
        self.has_features = hasattr(model, "features") and config.continuous

    @property
    def training(self) -> bool:
        """The wrapped model's mode: ``generate`` puts it in eval mode (no dropout) while it runs."""
        return bool(getattr(self.model, "training", False))

    def eval(self):
        if hasattr(self.model, "eval"):
            self.model.eval()
        return self

    def train(self, mode: bool = True):
        if hasattr(self.model, "train"):
            self.model.train(mode)
        return self

    def parameters(self):
        return self.model.parameters() if hasattr(self.model, "parameters") else iter(())

    def init_state(self, batch_size: int = 1):
        return (self.model.init_state(batch_size), [SongMemory(self.config, self.vocab_size)
                                                    for _ in range(batch_size)])

    def _model_step(self, ids: torch.Tensor, state):
        """(log-probs (B, T, V), features (B, T, F) or None, state) of the plain model."""
        if self.has_features:
            y, state = self.model.features(ids, state)
            return self.model.log_probs_of(y), y, state
        out, state = self.model(ids, state)
        return torch.log_softmax(out.float(), dim=-1), None, state

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, state=None):
        ids = torch.as_tensor(ids).long()
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        B, T = ids.shape
        inner, rows = state if state is not None else self.init_state(B)
        logp, feats, inner = self._model_step(ids, inner)
        seen, fresh = set(), []
        for m in rows:                                   # a row duplicated by a beam gets its own copy
            fresh.append(m.copy() if id(m) in seen else m)
            seen.add(id(m))
        probs = logp.exp().double().cpu().numpy()       # (B, T, V)
        f = feats.float().cpu().numpy() if feats is not None else None
        out = np.empty_like(probs)
        for b in range(B):
            for t in range(T):
                fresh[b].read(int(ids[b, t]), None if f is None else f[b, t])
                out[b, t] = fresh[b].mix(probs[b, t])
        return torch.from_numpy(np.log(np.maximum(out, 1e-300))).float(), (inner, fresh)

    __call__ = forward


def card_memory_config(meta: dict, name: str = "this model") -> MemoryConfig:
    """The song-memory settings measured on a checkpoint's model card, for generation: the
    caches only (dynamic evaluation changes weights, which a shared model must not do)."""
    stored = ((meta.get("card") or {}).get("memory") or {}).get("model")
    if not stored:
        raise LyricdemoError(f"The model card of {name} has no song-memory settings; "
                             f"python -m lyricdemo card --checkpoint {name} measures them.")
    return replace(MemoryConfig.from_dict(stored["config"]), dynamic_lr=0.0)



# ----------------------------------------------------------------------------- what the memory drew on
@dataclass
class MemoryTrace:
    """One prediction with and without song memory, and the earlier positions the memory drew on."""

    tokens: tuple[str, ...]      # the text as read
    position: int                # the prediction made after reading tokens[position]
    target: str | None           # the token that follows in the text (None at the end)
    model_prob: float | None     # p(target) by the model alone
    memory_prob: float | None    # p(target) with song memory
    longest_match: int           # tokens the text ending here shares with its best earlier match
    sources: list[dict]          # SongMemory.sources(target): position, next, share, match, cache

    def to_dict(self) -> dict:
        return asdict(self)


def trace(model, ids: Sequence[int], tokens: Sequence[str], position: int, config: MemoryConfig,
          top: int = 8) -> MemoryTrace:
    """Read ``ids`` up to ``position`` with song memory and say which earlier positions it drew
    on to predict the next token.  Nothing after ``position`` is read (the target is only named)."""
    if not 0 <= position < len(ids):
        raise LyricdemoError(f"The position must be from 0 to {len(ids) - 1}; got {position}.")
    lm = MemoryLM(model, replace(config, dynamic_lr=0.0))
    head = torch.tensor([list(ids[:position + 1])])
    logp, (_, rows) = lm.forward(head)
    mem = rows[0]
    target = int(ids[position + 1]) if position + 1 < len(ids) else None
    with torch.inference_mode():
        raw, _, _ = lm._model_step(head, None)                            # the model alone, same reading
    _, _, _, longest = mem._votes()
    return MemoryTrace(
        tokens=tuple(tokens), position=position,
        target=tokens[position + 1] if target is not None else None,
        model_prob=float(raw[0, -1, target].exp()) if target is not None else None,
        memory_prob=float(logp[0, -1, target].exp()) if target is not None else None,
        longest_match=longest, sources=mem.sources(target, top=top))
