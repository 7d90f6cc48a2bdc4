"""Decoding: from a prefix to new text, one token at a time -- the fast path.

Read ``lyricdemo/decode_reference.py`` first: greedy and sampling in thirty lines over the
model's forward.  This module computes the same tokens for the same seed
(``tests/test_decode_reference.py``), faster, and adds beam search, several candidates, a
repetition penalty, batched rows and a report of every step.

The flow of one generation::

    prefix --prepare_prefix--> ids --warm-up (one forward over the prefix)--> state, logits
           --> step: logits -> processors -> choose a token -> forward(token) -> ... (length times)

Seed 000's ``predict_ch`` fed the prefix one character at a time ("预热期", the
warm-up) and then took the argmax at every step.  Here the warm-up is one forward
call over the whole prefix (the recurrence is the same, the call overhead is not),
and the choice of the next token is one of three strategies:

- ``greedy``: the most likely token (seed 000, seed 004);
- ``sample``: draw from the distribution, reshaped by temperature, top-k, top-p
  (nucleus) and a repetition penalty, with a seeded ``torch.Generator`` so a seed
  gives the same text every time and never touches the global RNG;
- ``beam``: keep the ``beam_width`` best partial texts, scored by their total
  log-probability divided by ``length ** length_norm``.

The processors, in the order they act on the logits of one step::

    logits -> repetition penalty -> mask <unk>/<pad>/<bos> -> / temperature -> top-k -> top-p -> softmax -> draw

Every model answers the same two calls (makemore's rule, see ``NGramLM.forward``)::

    model.init_state(batch_size) -> state
    model(ids (B, T) long, state) -> (logits (B, T, V), state)

and nothing else of the model is needed, so one decoder serves the scratch cells,
their ``torch.nn`` twins and the n-gram baselines.  A model may also offer
``stepper()`` (``RNNLM`` does): a fast path that computes the same numbers one
token at a time without the per-call overhead of the fused ``nn.GRU`` at batch 1
(``lyricdemo/models/stepper.py``); generate uses it when it is there.

What every step reports (``Step``) is read from the model's *raw* distribution,
``softmax(logits)`` over the whole vocabulary before any penalty, mask, temperature
or filter: the probability of the chosen token, the top alternatives and the
entropy say what the model believes, not what the decoding knobs made of it.  The
probability under the reshaped distribution that sampling drew from is
``Step.decode_prob``.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .errors import LyricdemoError
from .models.state import index_state
from .reading import UNKNOWN_MODES, PrefixReport, as_tokenizer, prepare_prefix
from .tokenizers import Tokenizer
from .vocab import UNK, Vocab

STRATEGIES = ("greedy", "sample", "beam")
MAX_LENGTH = 2000                 # new tokens per generation; LYRICDEMO_MAX_LENGTH overrides it
MAX_LENGTH_ENV = "LYRICDEMO_MAX_LENGTH"
GREEDY_BELOW = 1e-4               # a temperature below this is greedy decoding
EOS = "<eos>"
NEVER_EMITTED = (UNK, "<pad>", "<bos>")
LN2 = math.log(2.0)


def max_length() -> int:
    """The largest ``length`` a ``DecodeConfig`` accepts: ``$LYRICDEMO_MAX_LENGTH``, else 2000.

    Read at each call (not cached in a global), so a deployment can lower it without
    a code change and tests can set it with ``monkeypatch.setenv``."""
    raw = os.environ.get(MAX_LENGTH_ENV)
    if raw is None or not raw.strip():
        return MAX_LENGTH
    try:
        value = int(raw)
    except ValueError:
        raise LyricdemoError(f"{MAX_LENGTH_ENV} must be a whole number; got {raw!r}.") from None
    if not 1 <= value <= 1_000_000:
        raise LyricdemoError(f"{MAX_LENGTH_ENV} must be between 1 and 1,000,000; got {value}.")
    return value


# ----------------------------------------------------------------------------- config
def _whole(name: str, value: Any, lo: int, hi: int) -> int:
    """A whole number in [lo, hi].  Integral floats (a UI slider's ``50.0``) are accepted."""
    if isinstance(value, bool):
        raise LyricdemoError(f"{name} must be a whole number; got {value!r}.")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        try:
            if hasattr(value, "__index__"):        # numpy integers
                value = int(value.__index__())
            else:
                raise TypeError
        except TypeError:
            raise LyricdemoError(f"{name} must be a whole number from {lo:,} to {hi:,}; got {value!r}.") from None
    if not lo <= value <= hi:
        raise LyricdemoError(f"{name} must be a whole number from {lo:,} to {hi:,}; got {value!r}.")
    return value


def _real(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite real number in [lo, hi] (or (lo, hi] when ``lo_open``)."""
    if isinstance(value, bool):
        raise LyricdemoError(f"{name} must be a number; got {value!r}.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise LyricdemoError(f"{name} must be a number; got {value!r}.") from None
    interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if not math.isfinite(x):
        raise LyricdemoError(f"{name} must be a finite number in {interval}; got {value!r}.")
    if x < lo or (lo_open and x == lo) or x > hi:
        raise LyricdemoError(f"{name} must be in {interval}; got {value!r}.")
    return x


@dataclass(frozen=True)
class DecodeConfig:
    """How to choose the new tokens.  The CLI and the UI both build one; every field
    is checked here, so a bad value fails with a message naming it, before any work.

    ``temperature``, ``top_k`` and ``top_p`` act only when sampling; the repetition
    penalty acts in every strategy (it changes the scores greedy and beam rank by).
    """

    strategy: str = "sample"          # greedy | sample | beam
    length: int = 100                 # new tokens, 1 .. max_length()
    temperature: float = 1.0          # 0 <= T <= 100; T < 1e-4 is greedy
    top_k: int = 0                    # keep the k most likely tokens; 0 = off
    top_p: float = 1.0                # keep the smallest set with mass >= p; 1 = off
    repetition_penalty: float = 1.0   # >= 1; CTRL-style, on tokens already in the text; 1 = off
    beam_width: int = 4               # 1 .. 64
    length_norm: float = 1.0          # beam score = log-prob / length ** alpha; 1 = mean log-prob
    num_candidates: int = 1           # beam: best n beams; sample: n independent samples (1 .. 16)
    seed: int | None = 0              # None: a fresh seed, reported in Generation.seed
    unknown: str = "unk"              # unk: map unknown prefix tokens to <unk>; strict: refuse
    alternatives: int = 5             # top-k alternatives reported per step (0 .. 50)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise LyricdemoError(f"strategy must be one of {STRATEGIES}; got {self.strategy!r}.")
        if self.unknown not in UNKNOWN_MODES:
            raise LyricdemoError(f"unknown must be one of {UNKNOWN_MODES}; got {self.unknown!r}.")
        fixed = {
            "length": _whole("length", self.length, 1, max_length()),
            "temperature": _real("temperature", self.temperature, 0.0, 100.0),
            "top_k": _whole("top_k", self.top_k, 0, 1_000_000),
            "top_p": _real("top_p", self.top_p, 0.0, 1.0, lo_open=True),
            "repetition_penalty": _real("repetition_penalty", self.repetition_penalty, 1.0, 10.0),
            "beam_width": _whole("beam_width", self.beam_width, 1, 64),
            "length_norm": _real("length_norm", self.length_norm, 0.0, 5.0),
            "num_candidates": _whole("num_candidates", self.num_candidates, 1, 16),
            "alternatives": _whole("alternatives", self.alternatives, 0, 50),
            "seed": None if self.seed is None else _whole("seed", self.seed, 0, 2**64 - 1),
        }
        for k, v in fixed.items():
            object.__setattr__(self, k, v)

    @property
    def effective_strategy(self) -> str:
        """``greedy`` when sampling at a temperature below 1e-4 (the limit T -> 0 is the argmax)."""
        if self.strategy == "sample" and self.temperature < GREEDY_BELOW:
            return "greedy"
        return self.strategy

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DecodeConfig:
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise LyricdemoError(f"Unknown decoding option(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}.")
        return cls(**d)


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Step:
    """One new token and what the model thought when it chose it.

    ``prob``, ``log_prob``, ``alternatives`` and ``entropy`` come from the model's raw
    distribution ``softmax(logits)`` over the whole vocabulary (no penalty, mask,
    temperature or filter; ``<unk>`` may appear among the alternatives although it is
    never emitted).  ``decode_prob`` is the token's probability under the reshaped
    distribution that sampling drew from; 1.0 for greedy, None for beam search.
    """

    position: int                                  # 0-based, within its candidate's continuation
    token: str
    id: int
    prob: float
    log_prob: float
    entropy: float                                 # nats
    alternatives: tuple[tuple[str, float], ...]    # the most likely tokens, most likely first
    decode_prob: float | None = None
    candidate: int = 0                             # which candidate this step belongs to

    @property
    def entropy_bits(self) -> float:
        return self.entropy / LN2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["alternatives"] = [list(a) for a in self.alternatives]
        d["entropy_bits"] = self.entropy_bits
        return d


@dataclass(frozen=True)
class Candidate:
    """One finished continuation.

    ``log_prob`` is the model's raw log-probability of its tokens (and of ``<eos>``
    when that ended it); ``mean_log_prob`` divides by that count.  ``score`` ranked it:
    the mean log-prob for samples, ``log_prob / length ** length_norm`` for beams.
    ``index`` is its number in the stream (``Step.candidate``).
    """

    continuation: str
    ids: tuple[int, ...]
    log_prob: float
    mean_log_prob: float
    score: float
    stop_reason: str                               # "length" | "eos"
    steps: tuple[Step, ...] = field(repr=False)
    index: int = 0

    @property
    def perplexity(self) -> float:
        nll = -self.mean_log_prob
        return math.exp(nll) if nll < 709.0 else math.inf     # a diverged model's text: no OverflowError

    def to_dict(self) -> dict:
        return {
            "continuation": self.continuation, "ids": list(self.ids), "log_prob": self.log_prob,
            "mean_log_prob": self.mean_log_prob, "perplexity": self.perplexity, "score": self.score,
            "stop_reason": self.stop_reason, "index": self.index,
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class Generation:
    """The result of one call: the best candidate's text and steps, every candidate, timings.

    Times count only the decoder's own work (warm-up included), not the time a
    consumer of ``stream`` spent between tokens.
    """

    prefix: PrefixReport
    text: str                                      # prefix + best continuation
    continuation: str                              # the best continuation alone
    steps: tuple[Step, ...] = field(repr=False)    # the best candidate's steps
    candidates: tuple[Candidate, ...] = field(repr=False)   # best first
    config: DecodeConfig = field(repr=False)
    strategy: str = "sample"                       # the strategy that ran (see effective_strategy)
    seed: int | None = None                        # the seed sampling used (None for greedy/beam)
    time_to_first_token_s: float = 0.0
    elapsed_s: float = 0.0
    tokens_per_s: float = 0.0                      # decoding positions / elapsed_s (warm-up included)
    notes: tuple[str, ...] = ()

    @property
    def chars_per_s(self) -> float:
        return len(self.continuation) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        best = self.candidates[0]
        return (f"{self.strategy}: {len(best.ids)} tokens / 词元, mean log-prob / 平均对数概率 "
                f"{best.mean_log_prob:.3f} (ppl {best.perplexity:.2f}), {self.tokens_per_s:.0f} tokens/s, "
                f"first token / 首词元 {self.time_to_first_token_s * 1000:.1f} ms")

    def to_dict(self) -> dict:
        return {
            "text": self.text, "continuation": self.continuation, "strategy": self.strategy, "seed": self.seed,
            "prefix": self.prefix.to_dict(), "config": self.config.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "time_to_first_token_s": self.time_to_first_token_s, "elapsed_s": self.elapsed_s,
            "tokens_per_s": self.tokens_per_s, "chars_per_s": self.chars_per_s, "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------- tensor helpers
def _device(model: Any) -> torch.device:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")


def _penalize(logits: torch.Tensor, present: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's repetition penalty (Keskar et al. 2019): a token already in the text gets its
    logit divided by ``penalty`` when positive, multiplied when negative -- both lower it."""
    return torch.where(present, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (ties at the k-th are kept too); (B, V) -> (B, V)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]                 # (B, 1)
    return logits.masked_fill(logits < kth, -math.inf)


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose probability mass is at least ``p``; (B, V) -> (B, V).

    A token is dropped when the tokens ranked above it already hold mass >= p, so the
    kept mass is >= p and dropping the last kept token would go below p.
    """
    if p >= 1.0:
        return logits
    probs, order = F.softmax(logits, dim=-1).sort(dim=-1, descending=True)   # (B, V)
    before = probs.cumsum(dim=-1) - probs                                     # mass ranked above
    drop_sorted = before >= p
    drop_sorted[..., 0] = False
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, -math.inf)


def _check_logits(logits: torch.Tensor) -> None:
    """A diverged model (NaN/inf weights) must stop with a reason, not crash while sampling.

    One reduction: a row's max is NaN if the row has a NaN, +inf if it has +inf, and
    -inf if every logit is -inf; otherwise it is finite."""
    if not bool(torch.isfinite(logits.amax(dim=-1)).all()):
        raise LyricdemoError("模型输出了 NaN/inf / The model's outputs are NaN or infinite (did training "
                             "diverge?); it cannot generate text.")


def _belief(raw: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entropy (B,) in nats and the k most likely tokens of raw log-probabilities (B, V):
    their ids (B, k) and log-probabilities (B, k), most likely first.

    The entropy is one fused dot product ``-sum(p * log p)``: at batch 1 the number of
    calls per step is the cost that matters (measured 29 us against 36 us, ``bench/bench_decode_tricks.py``).  It is NaN when a log-probability is
    -inf (``0 * -inf``) and when the logits themselves were NaN/inf (softmax spreads
    a NaN over the row), so a finite entropy also vouches for the logits; ``_settle``
    looks closer only when it is not."""
    entropy = torch.linalg.vecdot(raw.exp(), raw).neg_()             # (B,)
    if k:
        top_lp, top_i = raw.topk(min(k, raw.shape[-1]), dim=-1)      # (B, k)
    else:
        top_lp = top_i = raw.new_zeros(raw.shape[0], 0)
    return entropy, top_i, top_lp


def _top_choice(ids: list[int], log_probs: list[float], forbidden: set[int]) -> int | None:
    """Greedy's choice read off the top of the list (``_belief``'s ids and log-probs of one
    row, most likely first): the position of the first token that may be emitted, or
    None when the list cannot decide and the full argmax must.

    It decides exactly as ``argmax`` over the masked logits would: log_softmax keeps
    the order of the logits (it subtracts one constant), so a token whose log-prob is
    strictly above the next one's is the unique maximum among the allowed tokens.  A
    tie (argmax takes the lowest id, topk's order among equals is not defined) or the
    list running out gives None."""
    for j, i in enumerate(ids):
        if i in forbidden:
            continue
        if j + 1 >= len(ids) or log_probs[j + 1] == log_probs[j]:
            return None
        return j
    return None


def _settle(logits: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """The entropy (B,) when ``_belief``'s was not finite: check the logits, then count 0 * log 0 as 0.

    Non-finite logits (a diverged model) raise, as ``_check_logits`` explains; finite
    logits with a -inf among them (a token the model rules out) are fine."""
    _check_logits(logits)
    return -(raw.exp() * raw.nan_to_num(neginf=0.0)).sum(dim=-1)      # (B,)


def _draw(probs: torch.Tensor, u01: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (B, V), by inverting the cumulative distribution at the
    uniform draws ``u01`` (B, 1) float64 (from the generation's seeded generator: ``_uniform``).

    Same law as ``torch.multinomial`` and faster for one draw (measured 143 us against 288 us at V = 2,597,
    ``bench/bench_decode_tricks.py``); ``decode_reference.decode`` draws the same way.  The sum
    runs in float64 and ``u`` stays strictly below the total, so the token found is
    always one of positive probability (a filtered token is never drawn)."""
    cdf = probs.double().cumsum(dim=-1)                                # (B, V)
    total = cdf[:, -1:]
    u = u01 * total
    u = torch.minimum(u, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, u, right=True).squeeze(1)         # (B,)


def _uniform(rows: int, gen: torch.Generator) -> torch.Tensor:
    """(rows, 1) float64 uniform draws in [0, 1) from ``gen``: what ``_draw`` inverts."""
    return torch.rand((rows, 1), generator=gen, dtype=torch.float64, device=gen.device)


def _top_stable(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest values of a 1-D tensor, largest first, ties to the lower
    index -- exactly ``sort(descending, stable)[:k]`` (so beam width 1 is ``argmax``), but
    sorting only the values that tie with or beat the k-th largest."""
    k = min(k, x.numel())
    kth = x.topk(k).values[-1]
    cand = (x >= kth).nonzero().squeeze(1)                             # ascending indices
    return cand[x[cand].sort(descending=True, stable=True).indices[:k]]


# ----------------------------------------------------------------------------- one step's choice
class _Chooser:
    """Greedy's and sampling's choice of the next token for the B rows of one generation.

    It holds what the choice depends on besides the logits -- the decoding options,
    the seeded ``torch.Generator``, the tokens already in the text (for the repetition
    penalty) -- and what it chose so far (ids, steps, ``<eos>``).  ``choose`` takes
    one step's logits and returns the tokens to feed next and the ``Step`` records;
    the forward pass that makes the logits is not its business.

    ``choose_together`` makes the choice for several generations at once, over their
    rows stacked in one (N, V) tensor: a shared batch (``lyricdemo/batching.py``).  A
    generation alone is the same function with one chooser, so alone and batched run
    the same operations on the same rows: every one of them acts on each row on its
    own (softmax, top-k, cumulative sums, ``searchsorted``; a per-row temperature is
    the same division), and the same logits and seed give the same tokens.
    """

    def __init__(self, stream: GenerationStream, vocab_size: int):
        cfg, dev = stream.config, stream._dev
        self.stream, self.config = stream, cfg
        self.greedy = cfg.effective_strategy == "greedy"
        self.rows = B = 1 if self.greedy else cfg.num_candidates
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(stream._seed)
        self.forbidden = torch.tensor(stream._forbidden_ids, dtype=torch.long, device=dev)
        self.present = None
        if cfg.repetition_penalty != 1.0:
            self.present = torch.zeros(B, vocab_size, dtype=torch.bool, device=dev)   # (B, V) tokens in the text
            if not stream.prefix.line_start:
                self.present[:, list(stream.prefix.ids)] = True
        # greedy without a penalty reads its choice off the top of the list (see _top_choice):
        # no masked copy, no argmax, no gather; measured 4.9 us against 77 us (bench/bench_decode_tricks.py)
        self.shortcut = self.greedy and self.present is None
        self.forbidden_set = set(stream._forbidden_ids)
        self.k_top = max(cfg.alternatives, len(self.forbidden_set) + 1) if self.shortcut else cfg.alternatives
        self.ids: list[list[int]] = [[] for _ in range(B)]
        self.steps: list[list[Step]] = [[] for _ in range(B)]
        self.eos_logp: list[float | None] = [None] * B
        self.done = [False] * B
        self.t = 0                                                            # positions decoded so far
        self._u: torch.Tensor | None = None                                   # this position's draws, once drawn

    @property
    def finished(self) -> bool:
        """Every row ended (``<eos>``) or the requested length is reached."""
        return self.t >= self.config.length or all(self.done)

    def choose(self, logits: torch.Tensor) -> tuple[torch.Tensor, list[Step]]:
        """One position: logits (B, V) float -> (the chosen ids (B,) to feed next, the new steps).

        Runs under the caller's ``torch.inference_mode``."""
        out = choose_together([self], logits)[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def draws(self) -> torch.Tensor:
        """This position's uniform draws (rows, 1), drawn once: a retry of the same position
        (``choose_together`` after a failure elsewhere) reuses them."""
        if self._u is None:
            self._u = _uniform(self.rows, self.gen)
        return self._u

    def commit(self, chosen: list[int], tok_logp: list[float], dprob: list[float], entropy: list[float],
               top_i: list[list[int]], top_lp: list[list[float]], nxt: torch.Tensor) -> list[Step]:
        """Record this position's choice (rows' values as lists) and return its new steps.  The
        steps are built before anything changes, so a failure leaves the chooser as it was."""
        k_alt, eos, idx_to_token = self.config.alternatives, self.stream._eos, self.stream.vocab.idx_to_token
        t, out, ends = self.t, [], []
        for b in range(self.rows):
            if self.done[b]:
                continue
            i = chosen[b]
            if i == eos:
                ends.append(b)
                continue
            out.append(Step(position=t, token=idx_to_token[i], id=i, prob=math.exp(tok_logp[b]),
                            log_prob=tok_logp[b], entropy=entropy[b],
                            alternatives=tuple((idx_to_token[a], math.exp(lp))
                                               for a, lp in zip(top_i[b][:k_alt], top_lp[b][:k_alt])),
                            decode_prob=dprob[b], candidate=b))
        for b in ends:
            self.done[b], self.eos_logp[b] = True, tok_logp[b]
        for step in out:
            self.ids[step.candidate].append(step.id)
            self.steps[step.candidate].append(step)
        if self.present is not None:                                          # the text now holds them
            self.present.scatter_(1, nxt.view(-1, 1), True)
        self.t, self._u = t + 1, None
        return out

    def candidates(self) -> list[Candidate]:
        """The rows' continuations, best (highest mean log-prob) first."""
        cands = [self.stream._make_candidate(b, self.ids[b], self.steps[b], self.eos_logp[b], None)
                 for b in range(self.rows)]
        return sorted(cands, key=lambda c: -c.mean_log_prob)                 # stable: ties keep sample order


def _rows_where(spans: list[tuple[int, int]], keep: list[bool], device) -> torch.Tensor:
    """The row indices (long) of the spans whose ``keep`` is True."""
    return torch.tensor([r for (a, b), k in zip(spans, keep) if k for r in range(a, b)], dtype=torch.long,
                        device=device)


def choose_together(choosers: list[_Chooser], logits: torch.Tensor) -> list:
    """One position for several generations of one model at once: ``logits`` (N, V) float holds
    their rows in order (``choosers[0].rows`` first).  Returns, per chooser, ``(ids (B,), steps)``
    or the exception that chooser met; a failure of the shared work is retried chooser by
    chooser, so it ends only the generations it belongs to.

    The processors act as ``GenerationStream``'s docstring says, each on the rows it
    concerns: the repetition penalty on the rows that ask for it, top-k and top-p on the
    rows of each value asked, the temperature as a per-row divisor (exactly a division by
    it).  Runs under the caller's ``torch.inference_mode``."""
    spans, start = [], 0
    for c in choosers:
        spans.append((start, start + c.rows))
        start += c.rows
    try:
        return _choose_rows(choosers, spans, logits)
    except Exception:                                                         # noqa: BLE001 -- isolate it
        if len(choosers) == 1:
            raise
    out = []
    for c, (a, b) in zip(choosers, spans):
        try:
            out.append(_choose_rows([c], [(0, c.rows)], logits[a:b])[0])
        except Exception as e:                                                # noqa: BLE001 -- its own
            out.append(e)
    return out


def _choose_rows(choosers: list[_Chooser], spans: list[tuple[int, int]], logits: torch.Tensor) -> list:
    dev = logits.device
    raw = F.log_softmax(logits, dim=-1)                                       # (N, V) the model's belief
    entropy_t, top_i_t, top_lp_t = _belief(raw, max(c.k_top for c in choosers))   # (N,), (N, k), (N, k)
    entropy = entropy_t.tolist()
    if not all(map(math.isfinite, entropy)):                                  # NaN/inf logits raise here
        entropy = _settle(logits, raw).tolist()
    top_i, top_lp = top_i_t.tolist(), top_lp_t.tolist()
    picks: list[int | None] = []                                              # greedy read off the top list
    for c, (a, _) in zip(choosers, spans):
        picks.append(_top_choice(top_i[a][:c.k_top], top_lp[a][:c.k_top], c.forbidden_set)
                     if c.shortcut else None)
    nxt = chosen = tok_logp = dprob = None
    if any(j is None for j in picks):
        work = logits.index_fill(1, choosers[0].forbidden, -math.inf)         # same vocab, same specials
        for c, (a, b) in zip(choosers, spans):
            if c.present is not None:
                work[a:b] = _penalize(work[a:b], c.present, c.config.repetition_penalty)
        sampling = [not c.greedy for c in choosers]
        if any(c.greedy for c in choosers):
            nxt = work.argmax(dim=-1)                                         # (N,) greedy rows keep it
        else:
            nxt = torch.empty(work.shape[0], dtype=torch.long, device=dev)
        probs = None
        if any(sampling):
            temps = [c.config.temperature for c in choosers]
            if any(t != 1.0 for t, s in zip(temps, sampling) if s):
                div = torch.tensor([temps[i] if sampling[i] else 1.0 for i, (a, b) in enumerate(spans)
                                    for _ in range(a, b)], dtype=work.dtype, device=dev)
                work = work / div[:, None]
            for attr, fn in (("top_k", _top_k), ("top_p", _top_p)):
                for value in {getattr(c.config, attr) for c, s in zip(choosers, sampling) if s}:
                    if _filter_is_off(attr, value, work.shape[-1]):
                        continue
                    rows = _rows_where(spans, [s and getattr(c.config, attr) == value
                                               for c, s in zip(choosers, sampling)], dev)
                    work[rows] = fn(work[rows], value)
            probs = F.softmax(work, dim=-1)                                   # (N, V)
            rows = _rows_where(spans, sampling, dev)
            u01 = torch.cat([c.draws() for c, s in zip(choosers, sampling) if s])
            nxt[rows] = _draw(probs[rows], u01)
        tok_logp = raw.gather(1, nxt.view(-1, 1)).view(-1).tolist()
        dprob = (probs.gather(1, nxt.view(-1, 1)).view(-1).tolist() if probs is not None else None)
        chosen = nxt.tolist()
    out = []
    for k, (c, (a, b)) in enumerate(zip(choosers, spans)):
        try:
            j = picks[k]
            if j is not None:
                c_nxt = top_i_t[a:b, j]                                       # (1,)
                args = [top_i[a][j]], [top_lp[a][j]], [1.0]
            else:
                c_nxt = nxt[a:b]
                args = chosen[a:b], tok_logp[a:b], [1.0] * c.rows if c.greedy else dprob[a:b]
            out.append((c_nxt, c.commit(*args, entropy[a:b], top_i[a:b], top_lp[a:b], c_nxt)))
        except Exception as e:                                                # noqa: BLE001 -- its own
            out.append(e)
    return out


def _filter_is_off(attr: str, value: float, vocab_size: int) -> bool:
    """True when top-k ``value`` or top-p ``value`` keeps every token (``_top_k``/``_top_p`` return the input)."""
    return (value <= 0 or value >= vocab_size) if attr == "top_k" else value >= 1.0


# ----------------------------------------------------------------------------- streaming
class GenerationStream(Iterator[Step]):
    """An iterator of ``Step`` records; ``result()`` gives the ``Generation`` at the end.

    Greedy and sampling yield each token as soon as it is chosen.  With
    ``num_candidates = n > 1`` the n samples advance together, and each position
    yields one step per unfinished sample, tagged ``Step.candidate`` (0 .. n-1)::

        (pos 0, cand 0), (pos 0, cand 1), ..., (pos 1, cand 0), (pos 1, cand 1), ...

    Beam search cannot stream honestly: until the search ends, any partial beam may
    still fall out of the beam, so a token shown early could be taken back.  It
    therefore runs the whole search first (its time to first token is the search
    time) and then yields the steps of the finished candidates in the same
    interleaved order, ``Step.candidate`` being the rank (0 = best).

    The model is put in eval mode while the stream runs and restored when it ends or
    is closed; each step runs under ``torch.inference_mode`` (only while the stream
    works, never while it is paused at a ``yield``).
    """

    def __init__(self, model: Any, vocab: Vocab, tokenizer: Tokenizer | str, prefix: str | None = "",
                 config: DecodeConfig | None = None):
        config = DecodeConfig() if config is None else config
        if not isinstance(config, DecodeConfig):
            raise LyricdemoError(f"config must be a DecodeConfig; got {type(config).__name__}.")
        self.model, self.vocab, self.config = model, vocab, config
        self.tokenizer = as_tokenizer(tokenizer)
        self.prefix = prepare_prefix(prefix, vocab, self.tokenizer, config.unknown)
        self._forbidden_ids = [vocab[t] for t in NEVER_EMITTED if t in vocab]
        if len(self._forbidden_ids) >= len(vocab) - (EOS in vocab):
            raise LyricdemoError("The vocabulary has no token that can be generated (only special tokens).")
        self._eos = vocab[EOS] if EOS in vocab else None
        self._result: Generation | None = None
        self._busy = 0.0                     # seconds of the decoder's own work
        self._first: float | None = None
        self._positions = 0
        self._step = None                    # how a token is fed after the warm-up (_choose_path)
        self._gen = self._run()

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> Step:
        return next(self._gen)

    def close(self) -> None:
        """Stop early: restores the model's mode; ``result()`` is then unavailable."""
        self._gen.close()

    def result(self) -> Generation:
        """Run to the end (if not already there) and return the ``Generation``."""
        for _ in self:
            pass
        if self._result is None:
            raise LyricdemoError("The generation was stopped before it finished.")
        return self._result

    # -- the driver ------------------------------------------------------------------
    def _run(self) -> Iterator[Step]:
        model = self.model
        was_training = model.training if isinstance(model, nn.Module) else None
        if was_training:
            model.eval()
        try:
            t = time.perf_counter()
            if self.config.effective_strategy == "beam":
                inner = self._beam()
            else:
                inner = self._sample()
            candidates: list[Candidate] | None = None
            while True:
                try:
                    step = next(inner)
                except StopIteration as stop:
                    candidates = stop.value
                    break
                now = time.perf_counter()
                self._busy += now - t
                if self._first is None:
                    self._first = self._busy
                yield step
                t = time.perf_counter()
            self._busy += time.perf_counter() - t
            self._result = self._finish(candidates)
        finally:
            if was_training:
                model.train(True)

    def _finish(self, candidates: list[Candidate]) -> Generation:
        cfg = self.config
        strategy = cfg.effective_strategy
        notes = []
        if cfg.strategy == "sample" and strategy == "greedy":
            notes.append(f"A temperature below {GREEDY_BELOW:g} is greedy decoding. / "
                         f"温度低于 {GREEDY_BELOW:g}，按贪心解码。")
        if strategy == "greedy" and cfg.num_candidates > 1:
            notes.append("Greedy decoding has exactly one candidate. / 贪心解码只有一个结果。")
        if strategy == "beam" and len(candidates) < cfg.num_candidates:
            notes.append(f"Beam search found {len(candidates)} candidate(s) (at most beam_width = "
                         f"{cfg.beam_width}). / 束搜索只给出 {len(candidates)} 个候选。")
        best = candidates[0]
        busy = self._busy
        return Generation(
            prefix=self.prefix, text=self.prefix.prefix + best.continuation, continuation=best.continuation,
            steps=best.steps, candidates=tuple(candidates), config=cfg, strategy=strategy,
            seed=self._seed if strategy == "sample" else None,
            time_to_first_token_s=self._first if self._first is not None else busy, elapsed_s=busy,
            tokens_per_s=self._positions / busy if busy > 0 else 0.0,
            notes=tuple(notes) + self.prefix.warnings,
        )

    def _warm_up(self) -> tuple[torch.Tensor, Any]:
        """One forward over the whole prefix: the state after it and the logits (1, V) of the next token.

        Also picks how the following tokens are fed (``self._step``, see ``_choose_path``)."""
        ids = torch.tensor([self.prefix.ids], dtype=torch.long, device=self._dev)     # (1, T0)
        prefill, self._step = self._choose_path()
        logits, state = prefill(ids, self.model.init_state(1))                      # (1, V)
        if logits.dim() != 2 or logits.shape[-1] != len(self.vocab):
            raise LyricdemoError(f"The model predicts {logits.shape[-1]} tokens but the vocabulary has "
                                 f"{len(self.vocab)}: they do not belong together.")
        logits = logits.float()
        _check_logits(logits)
        return logits, state

    def _choose_path(self):
        """``(prefill, step)`` for this model::

            prefill(ids (1, T0), state) -> (logits (1, V) after the last prefix token, state)
            step(ids (B,), state)       -> (logits (B, V), state)

        A model that offers ``stepper()`` (``RNNLM``) gets its fast path: the prefix in
        one call of the fused recurrent module with only the last position decoded, then
        one token at a time through a ``Stepper`` -- the same numbers as its forward at a
        fraction of the per-call cost that dominates batch-1 decoding (see
        ``lyricdemo/models/stepper.py``).  Any other model (the n-gram baselines, a
        test's tiny module) answers the plain ``model(ids (B, T), state)``.  The ids
        of later steps come from the model's own distribution and are not checked again
        by the fast path."""
        model = self.model
        if hasattr(model, "stepper"):
            # measured: 375 us a step against 2,622 us for model(ids[:, None]) (bench/bench_decode_tricks.py)
            stepper = model.stepper()
            return stepper.prefill, stepper.step

        def prefill(ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            out, state = model(ids, state)                                   # (1, T0, V)
            if out.dim() != 3:
                raise LyricdemoError(f"The model's forward must return logits (batch, time, vocab); "
                                     f"got shape {tuple(out.shape)}.")
            return out[:, -1], state

        def step(ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            out, state = model(ids.view(-1, 1), state)                       # (B, 1, V)
            return out[:, -1], state

        return prefill, step

    def _make_candidate(self, index: int, ids: list[int], steps: list[Step], eos_logp: float | None,
                        score: float | None) -> Candidate:
        log_prob = sum(s.log_prob for s in steps) + (eos_logp or 0.0)
        n = max(len(steps) + (eos_logp is not None), 1)
        mean = log_prob / n
        return Candidate(
            continuation=self.tokenizer.detokenize(self.vocab.idx_to_token[i] for i in ids), ids=tuple(ids),
            log_prob=log_prob, mean_log_prob=mean, score=mean if score is None else score,
            stop_reason="eos" if eos_logp is not None else "length", steps=tuple(steps), index=index)

    # -- greedy and sampling ---------------------------------------------------------
    def start_sampling(self) -> tuple[torch.Tensor, Any, _Chooser]:
        """Greedy or sampling up to the first choice: the seed drawn, the warm-up over the
        prefix, the rows copied for ``num_candidates`` samples.

        Returns ``(logits (B, V), state, chooser)``: the chooser picks each step's tokens
        from the logits of its B rows (see ``_Chooser``); feeding them back is the
        caller's business.  ``_sample`` feeds them one stream at a time; the batcher
        (``lyricdemo/batching.py``) feeds many streams' rows in one forward pass, and
        both therefore decode with exactly the same code."""
        if self.config.effective_strategy == "beam":
            raise LyricdemoError("Beam search does not sample; use stream() for it.")
        self._dev = dev = _device(self.model)
        # a fresh seed comes from the OS (not torch's or Python's global RNG), small enough to read out
        self._seed = self.config.seed if self.config.seed is not None else secrets.randbelow(2**31)
        with torch.inference_mode():
            logits, state = self._warm_up()                                   # (1, V)
            chooser = _Chooser(self, logits.shape[-1])
            if chooser.rows > 1:
                rows = torch.zeros(chooser.rows, dtype=torch.long, device=dev)
                state, logits = index_state(state, rows), logits.expand(chooser.rows, logits.shape[-1])
        return logits, state, chooser

    def _sample(self) -> Iterator[Step]:
        logits, state, chooser = self.start_sampling()
        step_fn = self._step
        nxt = None
        while not chooser.finished:
            with torch.inference_mode():
                if nxt is not None:                                           # feed last round's tokens
                    logits, state = step_fn(nxt, state)                       # (B, V); checked by choose
                    logits = logits.float()
                nxt, steps = chooser.choose(logits)
            self._positions += 1
            yield from steps
        return chooser.candidates()

    # -- beam search -----------------------------------------------------------------
    def _beam(self) -> Iterator[Step]:
        """Beam search, then a replay of the finished candidates' steps (see the class docstring).

        Each beam row is a partial text with a total score (its search log-probability);
        rows are ranked by ``score / length ** alpha``.  A row that emitted ``<eos>`` is
        finished: it stays in the beam unchanged (its one continuation is itself) and
        keeps competing with longer rows by its normalised score.  The history keeps,
        per step and row, the parent row, the token and what the model believed; the
        candidates are read back from it at the end.
        """
        cfg, vocab = self.config, self.vocab
        W, alpha, k_alt, eos = cfg.beam_width, cfg.length_norm, cfg.alternatives, self._eos
        penalty = cfg.repetition_penalty
        self._dev = dev = _device(self.model)
        self._seed = None
        hist: list[tuple[torch.Tensor, ...]] = []
        with torch.inference_mode():
            forbidden = torch.tensor(self._forbidden_ids, dtype=torch.long, device=dev)
            logits, state = self._warm_up()                                   # (1, V)
            V = logits.shape[-1]
            rows0 = torch.zeros(W, dtype=torch.long, device=dev)
            state, logits = index_state(state, rows0), logits.expand(W, V)    # W copies of the prefix
            score = torch.full((W,), -math.inf, device=dev)
            score[0] = 0.0                                                     # only row 0 is live at first
            length = torch.zeros(W, device=dev)
            finished = torch.zeros(W, dtype=torch.bool, device=dev)
            arange = torch.arange(W, device=dev)
            present = None
            if penalty != 1.0:
                present = torch.zeros(W, V, dtype=torch.bool, device=dev)
                if not self.prefix.line_start:
                    present[:, list(self.prefix.ids)] = True

            step_fn = self._step
            for t in range(cfg.length):
                raw = F.log_softmax(logits, dim=-1)                            # (W, V)
                entropy, alt_i, alt_lp = _belief(raw, k_alt)                   # (W,), (W, k), (W, k)
                if not math.isfinite(float(entropy.sum())):                    # NaN/inf logits raise here
                    entropy = _settle(logits, raw)
                search = raw if present is None else F.log_softmax(_penalize(logits, present, penalty), dim=-1)
                total = score[:, None] + search.index_fill(1, forbidden, -math.inf)   # (W, V)
                new_len = torch.full((W,), float(t + 1), device=dev)
                if eos is not None and bool(finished.any()):
                    total[finished] = -math.inf
                    total[finished, eos] = score[finished]                     # a finished row stays as it is
                    new_len = torch.where(finished, length, new_len)
                key = total / new_len[:, None] ** alpha if alpha else total
                # among equal keys the lower row, then the lower token id, wins (as argmax)
                top = _top_stable(key.flatten(), W)                                  # (W,)
                parent, tok = top // V, top % V
                stay = finished[parent]
                ends = tok == (-1 if eos is None else eos)
                kind = torch.where(stay, 2, torch.where(ends, 1, 0))           # 0 token, 1 <eos>, 2 stay
                hist.append((parent, tok, kind, raw[parent, tok], entropy[parent], alt_i[parent], alt_lp[parent]))
                score = total.flatten()[top]
                length = new_len[parent]
                finished = stay | (kind == 1)
                self._positions += 1
                if bool((finished | ~torch.isfinite(score)).all()) or t == cfg.length - 1:
                    break
                state = index_state(state, parent)
                if present is not None:
                    present = present[parent]
                    present[arange, tok] = True
                logits, state = step_fn(tok, state)                            # (W, V); checked next round
                logits = logits.float()

            live = torch.isfinite(score)
            final_key = torch.where(live, score / length.clamp(min=1) ** alpha, -math.inf)
            ranked = final_key.sort(descending=True, stable=True).indices[: int(live.sum())]
            ranked = ranked[: cfg.num_candidates].tolist()
            final_key = final_key.tolist()
            H = [torch.stack(cols).tolist() for cols in zip(*hist)]            # each (T, W) or (T, W, k)

        parents, toks, kinds, logps, ents, alt_is, alt_lps = H
        cands: list[Candidate] = []
        for rank, row in enumerate(ranked):
            rev: list[tuple[int, int]] = []                                    # (t, row at t), last first
            r = row
            for t in range(len(parents) - 1, -1, -1):
                rev.append((t, r))
                r = parents[t][r]
            ids, steps, eos_logp = [], [], None
            for t, r in reversed(rev):
                if kinds[t][r] == 1:
                    eos_logp = logps[t][r]
                elif kinds[t][r] == 0:
                    i = toks[t][r]
                    ids.append(i)
                    steps.append(Step(position=len(steps), token=vocab.idx_to_token[i], id=i,
                                      prob=math.exp(logps[t][r]), log_prob=logps[t][r], entropy=ents[t][r],
                                      alternatives=tuple((vocab.idx_to_token[a], math.exp(lp))
                                                         for a, lp in zip(alt_is[t][r], alt_lps[t][r])),
                                      decode_prob=None, candidate=rank))
            cands.append(self._make_candidate(rank, ids, steps, eos_logp, final_key[row]))

        longest = max((len(c.steps) for c in cands), default=0)
        for pos in range(longest):
            for c in cands:
                if pos < len(c.steps):
                    yield c.steps[pos]
        return cands


def stream(model: Any, vocab: Vocab, tokenizer: Tokenizer | str, prefix: str | None = "",
           config: DecodeConfig | None = None) -> GenerationStream:
    """Generate token by token: iterate for ``Step`` records, then call ``.result()``.

    The prefix is checked at once (a ``LyricdemoError`` is raised here, not at the
    first ``next``).  See ``GenerationStream`` for what greedy, sampling and beam
    search yield.
    """
    return GenerationStream(model, vocab, tokenizer, prefix, config)


def generate(model: Any, vocab: Vocab, tokenizer: Tokenizer | str, prefix: str | None = "",
             config: DecodeConfig | None = None) -> Generation:
    """Generate all at once: the ``Generation`` with text, candidates, steps and timings."""
    return stream(model, vocab, tokenizer, prefix, config).result()
