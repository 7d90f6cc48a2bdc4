"""Song memory over a whole text at once: measured, and tuned on a slice of the training text.

``memory.py`` says what the caches are and reads token by token; here one pass over a text
records every cache's probability of every next token for a whole grid of settings at once
(``components``), the mixture weights are fitted by EM (``fit_weights``), and
``choose_memory`` keeps the best point of the grid.  Dynamic evaluation (the model learning
from the text it has just read) is measured here too (``model_outputs``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .errors import LyricdemoError
from .memory import MATCH_BUCKETS, MAX_MATCH, MemoryConfig, bucket_of, unit_rows
from .numbers import perplexity_of

WINDOWS = (500, 1000, 2000)                     # the grid choose_memory searches (bench_memory.py
BETAS = (1.0, 2.0)                              # prints how each point did on the tuning slice)
THETAS = (20.0,)
DYNAMIC_LRS = (0.0,)                            # dynamic evaluation's SGD rates choose_memory tries by default: none,
                                                # since the app's shared model keeps its weights (memory.py) ...
DYNAMIC_LR_GRID = (0.1, 0.3, 1.0)               # ... and these for the figure with dynamic evaluation too
                                                # (choose_dynamic: the cards, evaluate --memory, bench_memory.py)
DYNAMIC_SEGMENT = 20                            # tokens read between two updates
BLOCK = 256                                     # positions the continuous cache measures at once
COPY_BLOCK = 2048                               # positions whose matches are gathered at once
RUN_CHUNK = 64                                  # diagonals whose match lengths are found at once


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
               window: int, betas: Sequence[float] = BETAS, thetas: Sequence[float] = THETAS,
               runs: np.ndarray | None = None) -> Components:
    """Read ``ids`` once and record each cache's probability of every next token, for several betas
    and thetas at once (the tuning grid).  Position t's figures come from ids[0..t] and
    features[0..t] only: the numbers ``SongMemory`` gives reading token by token, computed here for
    many positions at once, each against every earlier position in its window (``runs``:
    ``_runs(ids, w)`` for some w >= window, when the caller already has it)."""
    ids = np.asarray(ids, dtype=np.int64)
    N = len(ids) - 1
    pm = np.exp(model_logp)
    runs = _runs(ids, window) if runs is None else runs
    cop, longest = _copy_cache(ids, pm, runs[:window], betas)
    cont = np.repeat(pm[:, None], len(thetas), 1)
    if features is not None:
        keys = unit_rows(features.astype(np.float32))
        for a in range(1, N, BLOCK):                                    # t = 0 has nothing before it
            t = np.arange(a, min(a + BLOCK, N))[:, None]                # (B, 1)
            lo, hi = max(0, a - window), int(t[-1, 0])
            j = np.arange(lo, hi)[None, :]                              # every earlier position of the block, (1, C)
            seen = (j < t) & (j >= t - window)                          # ... in t's window, (B, C)
            hit = seen & (ids[lo + 1:hi + 1][None, :] == ids[t + 1])    # ... whose next token was the target
            sims = keys[a:hi + 1] @ keys[lo:hi].T - np.float32(1)       # cos - 1, (B, C)
            for k, theta in enumerate(thetas):
                w = np.where(seen, np.exp(np.float32(theta) * sims), np.float32(0))
                cont[a:hi + 1, k] = (w * hit).sum(1, dtype=np.float64) / w.sum(1, dtype=np.float64)
    return Components(model=pm, continuous=cont, copy=cop, longest=longest, thetas=tuple(thetas),
                      betas=tuple(betas), window=window)


def _copy_cache(ids: np.ndarray, pm: np.ndarray, runs: np.ndarray, betas: Sequence[float]):
    """(copy-cache probability of each target (N, len(betas)), longest match (N,)): only the earlier
    positions that match at all vote, so only they are visited (``runs``: (window, N + 1))."""
    N = len(ids) - 1
    cop = np.repeat(pm[:, None], len(betas), 1)
    longest = np.zeros(N, dtype=np.int64)
    for a in range(1, N, COPY_BLOCK):
        b = min(a + COPY_BLOCK, N)
        t, back = np.nonzero(runs[:, a:b].T)                            # by position, then distance - 1
        if not len(t):
            continue
        t_abs = t + a
        match = runs[back, t_abs].astype(np.float64)
        hit = ids[t_abs - back] == ids[t_abs + 1]                       # what followed the match = the target
        starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
        rows = t[starts]
        top = np.maximum.reduceat(match, starts)
        longest[rows + a] = top
        top_each = np.repeat(top, np.diff(np.r_[starts, len(t)]))
        for k, beta in enumerate(betas):
            w = np.exp(beta * (match - top_each))
            cop[rows + a, k] = np.bincount(t, w * hit, b - a)[rows] / np.bincount(t, w, b - a)[rows]
    return cop, longest


def _runs(ids: np.ndarray, window: int) -> np.ndarray:
    """(window, len(ids)) match lengths: ``runs[d - 1, t]`` is how many tokens the text ending at t
    has in common with the text ending at t - d (0 where t < d), counted up to ``MAX_MATCH`` -- a run
    of equal tokens along one diagonal, found for ``RUN_CHUNK`` diagonals at once."""
    n = len(ids)
    out = np.zeros((window, n), dtype=np.uint8)
    t = np.arange(n)
    for d0 in range(1, window + 1, RUN_CHUNK):
        d = np.arange(d0, min(d0 + RUN_CHUNK, window + 1))[:, None]         # (c, 1)
        src = t - d                                                          # (c, n): the earlier end
        equal = (src >= 0) & (ids[t] == ids[np.maximum(src, 0)])
        last_unequal = np.maximum.accumulate(np.where(equal, -1, t), axis=1)   # t < d is unequal: never -1
        out[d0 - 1:d0 - 1 + len(d)] = np.minimum(t - last_unequal, MAX_MATCH)
    return out


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


def choose_dynamic(model, tuning_ids: torch.Tensor, without: Choice) -> Choice:
    """The memory with dynamic evaluation too: ``DYNAMIC_LR_GRID`` searched as ``choose_memory`` searches,
    against ``without`` (``choose_memory``'s choice with no dynamic evaluation, on the same slice), whichever did
    better on the tuning slice -- ``without`` itself where no rate helps there, or for a model with no weights to
    adapt (an n-gram)."""
    if not hasattr(model, "features"):
        return without
    dyn = choose_memory(model, tuning_ids, dynamic_lrs=DYNAMIC_LR_GRID)
    if not dyn.tuning_ppl < without.tuning_ppl:          # no better (or not finite: a rate that diverged)
        return without
    return Choice(config=dyn.config, tuning_ppl=dyn.tuning_ppl, plain_ppl=without.plain_ppl,
                  tried=without.tried + dyn.tried)


def _cache_grid(ids, logp, feats, lr, copy, windows, betas, thetas) -> list[tuple[MemoryConfig, float]]:
    """Every (window, beta, theta) of the grid with its EM weights, and its perplexity on ``ids``."""
    out = []
    ths = thetas if feats is not None else (0.0,)
    bts = betas if copy else (0.0,)
    runs = _runs(np.asarray(ids, dtype=np.int64), max(windows))     # the shorter windows read its first rows
    for window in windows:
        c = components(ids, logp, feats, window, bts, ths, runs=runs)
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
