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
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from .errors import LyricdemoError
from .numbers import perplexity_of

MATCH_BUCKETS = (0, 1, 2, 3, 4, 6, 9, 13, 20)   # lower edges of the longest-match buckets (0: no match)
MAX_MATCH = 64                                  # match lengths are counted up to this
COMPONENTS = ("model", "continuous", "copy")
WINDOWS = (500, 1000, 2000)                     # the grid choose_memory searches (bench_memory.py
BETAS = (1.0, 2.0)                              # prints how each point did on the tuning slice)
THETAS = (20.0,)
DYNAMIC_LRS = (0.0,)                            # dynamic evaluation's SGD rates choose_memory tries by default:
DYNAMIC_LR_GRID = (0.1, 0.3, 1.0)               # none, since on the training slice the caches alone win
                                                # (bench_memory.py tries this grid and prints it)
DYNAMIC_SEGMENT = 20                            # tokens read between two updates


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


def _copy_weights(match: np.ndarray, beta: float) -> np.ndarray:
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


def _unit(x: np.ndarray) -> np.ndarray:
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
            key = _unit(np.asarray(feature, dtype=np.float32).reshape(1, -1))
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
        copy = _copy_weights(match, self.config.beta) if longest else None
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


# ----------------------------------------------------------------------------- evaluation and tuning
@dataclass
class Components:
    """Per predicted position t (the target is ids[t + 1]): the probability of the target under
    the model, under the continuous cache for each theta, under the copy cache for each beta,
    and the longest match.  A cache with nothing to say holds the model's probability."""

    model: np.ndarray          # (N,)
    continuous: np.ndarray     # (N, len(thetas))
    copy: np.ndarray           # (N, len(betas))
    longest: np.ndarray        # (N,) int
    thetas: tuple
    betas: tuple
    window: int


def model_outputs(model, ids: torch.Tensor, chunk: int = 512, dynamic_lr: float = 0.0,
                  segment: int = DYNAMIC_SEGMENT) -> tuple[np.ndarray, np.ndarray | None]:
    """(log-probability of each next token (N,), features (N + 1, F) or None) for ids (N + 1,),
    read left to right from a zero state, in eval mode.

    ``dynamic_lr > 0``: dynamic evaluation (Krause et al., "Dynamic Evaluation of Neural
    Sequence Models", 2018) -- a *copy* of the model reads ``segment`` tokens, is scored
    on them, then takes one SGD step on exactly those tokens before reading on.  Each
    prediction therefore uses weights that have learnt from the text before it, never
    from the text it predicts; the model passed in is not changed."""
    if getattr(model, "bidirectional", False):
        raise LyricdemoError("A bidirectional model reads the future; song memory needs a left-to-right model.")
    ids = torch.as_tensor(ids).long()
    if len(ids) < 2:
        raise LyricdemoError("At least two tokens are needed to measure perplexity.")
    if not hasattr(model, "features"):
        return np.asarray(model.log_probs(ids), dtype=np.float64), None      # NGramLM
    if dynamic_lr:
        return _dynamic_outputs(model, ids, dynamic_lr, segment)
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            state, lps, feats = None, [], []
            dev = next(model.parameters()).device
            for i in range(0, len(ids), chunk):
                x = ids[i:i + chunk].to(dev).unsqueeze(0)          # (1, t)
                y, state = model.features(x, state)                # (1, t, F)
                lp = model.log_probs_of(y)[0].float().cpu()        # (t, V)
                tgt = ids[i + 1:i + 1 + chunk]
                lps.append(lp[: len(tgt)].gather(1, tgt[:, None]).squeeze(1).double().numpy())
                feats.append(y[0].float().cpu().numpy())
    finally:
        model.train(was)
    return np.concatenate(lps), np.concatenate(feats)


def _dynamic_outputs(model, ids: torch.Tensor, lr: float, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """``model_outputs`` with dynamic evaluation (see there): score a segment, then learn from it."""
    from .models.state import detach_state

    twin = copy.deepcopy(model).float().eval()                     # eval: no dropout; float: SGD on fp16 stalls
    opt = torch.optim.SGD(twin.parameters(), lr=lr)
    dev = next(twin.parameters()).device
    state, lps, feats = None, [], []
    with torch.inference_mode(False), torch.enable_grad():
        for i in range(0, len(ids), segment):
            x = ids[i:i + segment].to(dev).unsqueeze(0)            # (1, t)
            tgt = ids[i + 1:i + 1 + segment].to(dev)               # (t',), t' = t except at the end
            y, state = twin.features(x, state)                     # (1, t, F)
            feats.append(y[0].detach().float().cpu().numpy())
            if not len(tgt):
                break
            lp = twin.log_probs_of(y[:, : len(tgt)])[0].gather(1, tgt[:, None]).squeeze(1)   # (t',)
            lps.append(lp.detach().double().cpu().numpy())                                     # scored first,
            opt.zero_grad(set_to_none=True)
            (-lp.mean()).backward()                                                            # then learnt
            opt.step()
            state = detach_state(state)
    return np.concatenate(lps), np.concatenate(feats)


def components(ids: torch.Tensor | np.ndarray, model_logp: np.ndarray, features: np.ndarray | None,
               window: int, betas: Sequence[float] = BETAS, thetas: Sequence[float] = THETAS) -> Components:
    """Read ``ids`` once, left to right, and record each cache's probability of every next
    token, for several betas and thetas at once (the tuning grid).  Position t's figures
    come from ids[0..t] and features[0..t] only."""
    ids = np.asarray(ids, dtype=np.int64)
    N = len(ids) - 1
    pm = np.exp(model_logp)
    keys = _unit(features.astype(np.float32)) if features is not None else None
    cont = np.repeat(pm[:, None], len(thetas), 1)
    cop = np.repeat(pm[:, None], len(betas), 1)
    longest = np.zeros(N, dtype=np.int64)
    matches = np.zeros(0, dtype=np.int32)
    for t in range(N):
        matches = next_matches(ids[:t], matches, ids[t])          # (t,) against the text ending at t
        lo = max(0, t - window)
        if t == 0:
            continue
        hit = ids[lo + 1:t + 1] == ids[t + 1]                     # earlier positions whose next was the target
        m = matches[lo:t]
        longest[t] = m.max()
        if longest[t]:
            for k, beta in enumerate(betas):
                w = _copy_weights(m, beta)
                cop[t, k] = w[hit].sum() / w.sum()
        if keys is not None:
            sims = keys[lo:t] @ keys[t] - 1.0
            for k, theta in enumerate(thetas):
                w = np.exp(theta * sims)
                cont[t, k] = w[hit].sum() / w.sum()
    return Components(model=pm, continuous=cont, copy=cop, longest=longest, thetas=tuple(thetas),
                      betas=tuple(betas), window=window)


def mixed_log_probs(c: Components, config: MemoryConfig) -> np.ndarray:
    """log p(target) with memory at each position, for a config whose window, beta and theta
    are in the grid ``c`` was made with."""
    if config.window != c.window:
        raise LyricdemoError(f"These components were read with window {c.window}, not {config.window}.")
    pc = c.continuous[:, c.thetas.index(config.theta)] if config.continuous else c.model
    pk = c.copy[:, c.betas.index(config.beta)]
    lam = np.asarray(config.weights)[bucket_of(c.longest)]            # (N, 3)
    p = lam[:, 0] * c.model + lam[:, 1] * pc + lam[:, 2] * pk
    return np.log(np.maximum(p, 1e-300))


def fit_weights(pm: np.ndarray, pc: np.ndarray | None, pk: np.ndarray | None, longest: np.ndarray,
                iterations: int = 60) -> np.ndarray:
    """Mixture weights per match-length bucket by EM (maximum likelihood of the targets).

    Bucket 0 (no match) gives the copy cache nothing; without ``pc`` (n-gram models, or the
    ablation) the continuous cache gets nothing, without ``pk`` the copy cache nothing."""
    nb = len(MATCH_BUCKETS)
    b = bucket_of(longest)
    P = np.stack([pm, pm if pc is None else pc, pm if pk is None else pk], 1)     # (N, 3)
    allowed = np.ones((nb, 3))
    allowed[0, 2] = 0.0
    if pc is None:
        allowed[:, 1] = 0.0
    if pk is None:
        allowed[:, 2] = 0.0
    lam = allowed / allowed.sum(1, keepdims=True)
    counts = np.bincount(b, minlength=nb).astype(np.float64)
    for _ in range(iterations):
        r = lam[b] * P
        r /= np.maximum(r.sum(1, keepdims=True), 1e-300)
        new = np.stack([np.bincount(b, weights=r[:, k], minlength=nb) for k in range(3)], 1)
        new = np.where(counts[:, None] > 0, new / np.maximum(counts[:, None], 1), lam) * allowed
        lam = new / np.maximum(new.sum(1, keepdims=True), 1e-300)
    return lam


@dataclass
class Choice:
    """What ``choose_memory`` picked and how well each candidate did on the tuning slice."""

    config: MemoryConfig
    tuning_ppl: float          # with the chosen memory, on the slice it was chosen on
    plain_ppl: float           # the model alone on that slice
    tried: list[dict]


def choose_memory(model, tuning_ids: torch.Tensor, *, continuous: bool = True, copy: bool = True,
                  dynamic_lrs: Sequence[float] = DYNAMIC_LRS, windows: Sequence[int] = WINDOWS,
                  betas: Sequence[float] = BETAS, thetas: Sequence[float] = THETAS) -> Choice:
    """The song memory that gives the lowest perplexity on ``tuning_ids`` (a slice of the
    *training* text): every dynamic-evaluation rate, window, beta and theta of the grid,
    each with its bucket weights fitted by EM.  ``continuous``/``copy``/``dynamic_lrs``
    switch parts off for the ablation; an n-gram model has no continuous cache nor
    weights to adapt."""
    neural = hasattr(model, "features")
    lrs = tuple(dynamic_lrs) if neural and dynamic_lrs else (0.0,)
    tried, found, plain = [], None, float("nan")
    for lr in lrs:
        logp, feats = model_outputs(model, tuning_ids, dynamic_lr=lr)
        if lr == 0.0:
            plain = float(np.exp(-logp.mean()))
        use_cont = continuous and feats is not None
        if not use_cont and not copy:                     # dynamic evaluation alone
            cfg = MemoryConfig(window=1, continuous=False, dynamic_lr=lr,
                               weights=tuple((1.0, 0.0, 0.0) for _ in MATCH_BUCKETS))
            candidates = [(cfg, float(np.exp(-logp.mean())))]
        else:
            candidates = _cache_grid(tuning_ids, logp, feats if use_cont else None, lr, copy, windows, betas, thetas)
        for cfg, ppl in candidates:
            tried.append({"dynamic_lr": lr, "window": cfg.window, "beta": cfg.beta, "theta": cfg.theta, "ppl": ppl})
            if found is None or ppl < found[1]:
                found = (cfg, ppl)
    return Choice(config=found[0], tuning_ppl=found[1], plain_ppl=plain, tried=tried)


def _cache_grid(ids, logp, feats, lr, copy, windows, betas, thetas) -> list[tuple[MemoryConfig, float]]:
    """Every (window, beta, theta) of the grid with its EM weights, and its perplexity on ``ids``."""
    out = []
    ths = thetas if feats is not None else (0.0,)
    bts = betas if copy else (0.0,)
    for window in windows:
        c = components(ids, logp, feats, window, bts, ths)
        for beta in bts:
            for theta in ths:
                lam = fit_weights(c.model, c.continuous[:, c.thetas.index(theta)] if feats is not None else None,
                                  c.copy[:, c.betas.index(beta)] if copy else None, c.longest)
                cfg = MemoryConfig(window=window, beta=float(beta), theta=float(theta), continuous=feats is not None,
                                   dynamic_lr=float(lr), weights=tuple(map(tuple, lam)))
                out.append((cfg, float(np.exp(-mixed_log_probs(c, cfg).mean()))))
    return out


def memory_log_probs(model, ids: torch.Tensor, config: MemoryConfig) -> tuple[np.ndarray, np.ndarray]:
    """(log p of each next token without memory, with memory) over ``ids`` read left to right."""
    plain, feats = model_outputs(model, ids)
    logp = plain
    if config.dynamic_lr and hasattr(model, "features"):
        logp, feats = model_outputs(model, ids, dynamic_lr=config.dynamic_lr)
    use = config.continuous and feats is not None
    c = components(ids, logp, feats if use else None, config.window, (config.beta,),
                   (config.theta,) if use else (0.0,))
    cfg = config if use else replace(config, continuous=False, theta=0.0)
    return plain, mixed_log_probs(c, cfg)


def perplexities(model, ids: torch.Tensor, config: MemoryConfig) -> tuple[float, float]:
    """(perplexity without memory, with memory) of ``ids``."""
    plain, mixed = memory_log_probs(model, ids, config)
    return perplexity_of(float(-plain.mean())), perplexity_of(float(-mixed.mean()))


def tuning_slice(train_ids: torch.Tensor, length: int) -> torch.Tensor:
    """The slice of the training text the memory is tuned on: its last ``length`` tokens
    (as long as the validation text; the end of training, the songs nearest it)."""
    length = max(2, min(int(length), len(train_ids)))
    return train_ids[len(train_ids) - length:]


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
