"""One step's choice: from the logits of a position to the next token, for greedy and sampling.

    logits -> repetition penalty -> mask <unk>/<pad>/<bos> -> / temperature -> top-k -> top-p -> softmax -> draw

``decode_reference.py`` writes this in a dozen lines for one row; here the same processors act
on the B rows of one generation (``Chooser``), or on the rows of several generations stacked in
one tensor (``choose_together``: the shared batch of ``batching.py``), with the same operations
on every row, so alone and batched give the same tokens.  Each step is also reported (``Step``):
what the model believed (its raw distribution), not what the knobs made of it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from .decode_records import Alternatives, Candidate, Step
from .errors import LyricdemoError

if TYPE_CHECKING:                       # annotations only: generate.py imports this module
    from .generate import GenerationStream


# ----------------------------------------------------------------------------- the processors
def penalize(logits: torch.Tensor, present: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's repetition penalty (Keskar et al. 2019): a token already in the text gets its
    logit divided by ``penalty`` when positive, multiplied when negative -- both lower it."""
    return torch.where(present, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (ties at the k-th are kept too); (B, V) -> (B, V)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]                 # (B, 1)
    return logits.masked_fill(logits < kth, -math.inf)


NUCLEUS_HEAD = 256     # most rows' nucleus lies in the top 256 of 2,053 characters: topk + a few sorts beat sorting every row

def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose probability mass is at least ``p``; (B, V) -> (B, V).

    A token is dropped when the tokens ranked above it already hold mass >= p, so the
    kept mass is >= p and dropping the last kept token would go below p.  The ranking is
    read off the top ``NUCLEUS_HEAD`` tokens of each row (``topk``), and only a row whose
    head holds less than ``p`` is sorted whole: every token outside a head holding >= p has
    at least that mass ranked above it, so it is dropped either way.
    """
    if p >= 1.0:
        return logits
    probs = F.softmax(logits, dim=-1)                                         # (B, V)
    top, order = probs.topk(min(NUCLEUS_HEAD, probs.shape[-1]), dim=-1)      # (B, h) most likely first
    keep = _keep_ranked(probs, top, order, p)
    wide = (top.sum(dim=-1) < p).nonzero().squeeze(1)                         # nucleus wider than the head
    if wide.numel():
        rows = probs[wide]
        ranked, ranks = rows.sort(dim=-1, descending=True)
        keep[wide] = _keep_ranked(rows, ranked, ranks, p)
    return logits.masked_fill(~keep, -math.inf)


def _keep_ranked(probs, ranked, order, p):
    """(B, V) bool: the tokens of ``order`` (most likely first, probabilities ``ranked``)
    with less than ``p`` mass ranked above them (the first always)."""
    keep_sorted = (ranked.cumsum(dim=-1) - ranked) < p
    keep_sorted[..., 0] = True
    return torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, order, keep_sorted)


def check_logits(logits: torch.Tensor) -> None:
    """A diverged model (NaN/inf weights) must stop with a reason, not crash while sampling.

    One reduction: a row's max is NaN if the row has a NaN, +inf if it has +inf, and
    -inf if every logit is -inf; otherwise it is finite."""
    if not bool(torch.isfinite(logits.amax(dim=-1)).all()):
        raise LyricdemoError("The model's outputs are NaN or infinite (did training diverge?); it cannot "
                             "generate text.", code="nan_outputs")


def belief(raw: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entropy (B,) in nats and the k most likely tokens of raw log-probabilities (B, V):
    their ids (B, k) and log-probabilities (B, k), most likely first.

    The entropy is one fused dot product ``-sum(p * log p)``: at batch 1 the number of
    calls per step is the cost that matters (measured 29 us against 36 us,
    ``bench/bench_decode_tricks.py``).  It is NaN when a log-probability is -inf
    (``0 * -inf``) and when the logits themselves were NaN/inf (softmax spreads a NaN
    over the row), so a finite entropy also vouches for the logits; ``settle_entropy``
    looks closer only when it is not."""
    entropy = torch.linalg.vecdot(raw.exp(), raw).neg_()             # (B,)
    if k:
        top_lp, top_i = raw.topk(min(k, raw.shape[-1]), dim=-1)      # (B, k)
    else:
        top_lp = top_i = raw.new_zeros(raw.shape[0], 0)
    return entropy, top_i, top_lp


def top_choice(ids: list[int], log_probs: list[float], forbidden: set[int]) -> int | None:
    """Greedy's choice read off the top of the list (``belief``'s ids and log-probs of one
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


def settle_entropy(logits: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """The entropy (B,) when ``belief``'s was not finite: check the logits, then count 0 * log 0 as 0.

    Non-finite logits (a diverged model) raise, as ``check_logits`` explains; finite
    logits with a -inf among them (a token the model rules out) are fine."""
    check_logits(logits)
    return -(raw.exp() * raw.nan_to_num(neginf=0.0)).sum(dim=-1)      # (B,)


def draw(probs: torch.Tensor, u01: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (B, V), by inverting the cumulative distribution at the
    uniform draws ``u01`` (B, 1) float64 (from the generation's seeded generator: ``uniform_draws``).

    Same law as ``torch.multinomial`` and faster for one draw (measured 143 us against 288 us
    at V = 2,597, ``bench/bench_decode_tricks.py``); ``decode_reference.decode`` draws the same
    way.  The sum runs in float64 and ``u`` stays strictly below the total, so the token found
    is always one of positive probability (a filtered token is never drawn)."""
    cdf = probs.double().cumsum(dim=-1)                                # (B, V)
    total = cdf[:, -1:]
    u = u01 * total
    u = torch.minimum(u, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, u, right=True).squeeze(1)         # (B,)


def uniform_draws(rows: int, gen: torch.Generator) -> torch.Tensor:
    """(rows, 1) float64 uniform draws in [0, 1) from ``gen``: what ``draw`` inverts."""
    return torch.rand((rows, 1), generator=gen, dtype=torch.float64, device=gen.device)


# ----------------------------------------------------------------------------- one step's choice
class Chooser:
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
        cfg, dev = stream.config, stream.device
        self.stream, self.config = stream, cfg
        self.greedy = cfg.effective_strategy == "greedy"
        self.rows = B = 1 if self.greedy else cfg.num_candidates
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(stream.seed)
        self.forbidden = torch.tensor(stream.forbidden_ids, dtype=torch.long, device=dev)
        self.present = stream.tokens_present(B, vocab_size)                  # (B, V) tokens in the text, or None
        # greedy without a penalty reads its choice off the top of the list (see top_choice):
        # no masked copy, no argmax, no gather; measured 4.9 us against 77 us (bench/bench_decode_tricks.py)
        self.shortcut = self.greedy and self.present is None
        self.forbidden_set = set(stream.forbidden_ids)
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
            self._u = uniform_draws(self.rows, self.gen)
        return self._u

    def commit(self, chosen: list[int], tok_logp: list[float], dprob: list[float], entropy: list[float],
               top_i: list[list[int]], top_lp: list[list[float]], nxt: torch.Tensor) -> list[Step]:
        """Record this position's choice (rows' values as lists) and return its new steps.  The
        steps are built before anything changes, so a failure leaves the chooser as it was."""
        k_alt, eos, idx_to_token = self.config.alternatives, self.stream.eos_id, self.stream.vocab.idx_to_token
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
                            alternatives=Alternatives(idx_to_token, top_i[b][:k_alt], top_lp[b][:k_alt]),
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
        cands = [self.stream.make_candidate(b, self.ids[b], self.steps[b], self.eos_logp[b], None)
                 for b in range(self.rows)]
        return sorted(cands, key=lambda c: -c.mean_log_prob)                 # stable: ties keep sample order


def _rows_where(spans: list[tuple[int, int]], keep: list[bool], device) -> torch.Tensor:
    """The row indices (long) of the spans whose ``keep`` is True."""
    return torch.tensor([r for (a, b), k in zip(spans, keep) if k for r in range(a, b)], dtype=torch.long,
                        device=device)


def choose_together(choosers: list[Chooser], logits: torch.Tensor) -> list:
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


def _choose_rows(choosers: list[Chooser], spans: list[tuple[int, int]], logits: torch.Tensor) -> list:
    dev = logits.device
    raw = F.log_softmax(logits, dim=-1)                                       # (N, V) the model's belief
    entropy_t, top_i_t, top_lp_t = belief(raw, max(c.k_top for c in choosers))   # (N,), (N, k), (N, k)
    entropy = entropy_t.tolist()
    if not all(map(math.isfinite, entropy)):                                  # NaN/inf logits raise here
        entropy = settle_entropy(logits, raw).tolist()
    top_i, top_lp = top_i_t.tolist(), top_lp_t.tolist()
    picks: list[int | None] = []                                              # greedy read off the top list
    for c, (a, _) in zip(choosers, spans):
        picks.append(top_choice(top_i[a][:c.k_top], top_lp[a][:c.k_top], c.forbidden_set)
                     if c.shortcut else None)
    nxt = chosen = tok_logp = dprob = None
    if any(j is None for j in picks):
        work = logits.index_fill(1, choosers[0].forbidden, -math.inf)         # same vocab, same specials
        for c, (a, b) in zip(choosers, spans):
            if c.present is not None:
                work[a:b] = penalize(work[a:b], c.present, c.config.repetition_penalty)
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
            for attr, fn in (("top_k", top_k_filter), ("top_p", top_p_filter)):
                for value in {getattr(c.config, attr) for c, s in zip(choosers, sampling) if s}:
                    if _filter_is_off(attr, value, work.shape[-1]):
                        continue
                    rows = _rows_where(spans, [s and getattr(c.config, attr) == value
                                               for c, s in zip(choosers, sampling)], dev)
                    work[rows] = fn(work[rows], value)
            probs = F.softmax(work, dim=-1)                                   # (N, V)
            rows = _rows_where(spans, sampling, dev)
            u01 = torch.cat([c.draws() for c, s in zip(choosers, sampling) if s])
            nxt[rows] = draw(probs[rows], u01)
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
    """True when top-k ``value`` or top-p ``value`` keeps every token (``top_k_filter``/``top_p_filter`` return the input)."""
    return (value <= 0 or value >= vocab_size) if attr == "top_k" else value >= 1.0
