# long: lines 2-46 are the decoding lesson (the docstring); the code is one GenerationStream, three strategies
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
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .decode_choice import Chooser, belief, check_logits, penalize, settle_entropy
from .decode_records import Candidate, Generation, Step
from .environment import env_number
from .errors import LyricdemoError, Note
from .fields import field as setting  # dataclasses.field keeps its name below
from .fields import from_dict, to_dict, validate
from .models.state import index_state
from .reading import UNKNOWN_MODES, as_tokenizer, prepare_prefix
from .tokenizers import Tokenizer
from .vocab import UNK, Vocab

STRATEGIES = ("greedy", "sample", "beam")
MAX_LENGTH = 2000                 # new tokens per generation; LYRICDEMO_MAX_LENGTH overrides it
MAX_LENGTH_ENV = "LYRICDEMO_MAX_LENGTH"
GREEDY_BELOW = 1e-4               # a temperature below this is greedy decoding
EOS = "<eos>"
NEVER_EMITTED = (UNK, "<pad>", "<bos>")


def max_length() -> int:
    """The largest ``length`` a ``DecodeConfig`` accepts: ``$LYRICDEMO_MAX_LENGTH``, else 2000.

    Read at each call (not cached in a global), so a deployment can lower it without
    a code change and tests can set it with ``monkeypatch.setenv``."""
    return env_number(MAX_LENGTH_ENV, MAX_LENGTH, 1, 1_000_000)


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class DecodeConfig:
    """How to choose the new tokens.  The CLI and the UI both build one; every field
    is checked here, so a bad value fails with a message naming it, before any work.

    ``temperature``, ``top_k`` and ``top_p`` act only when sampling; the repetition
    penalty acts in every strategy (it changes the scores greedy and beam rank by).
    """

    strategy: str = setting("sample", choices=STRATEGIES, help="greedy: the most likely token; sample: draw; "
                          "beam: keep the best partial texts / 贪心、采样或束搜索")
    length: int = setting(100, lo=1, hi=max_length, help="New tokens, up to $LYRICDEMO_MAX_LENGTH (2000) / 生成长度")
    temperature: float = setting(1.0, lo=0.0, hi=100.0, help="Sampling: < 1 sharper, > 1 flatter; below 1e-4 greedy / "
                                                         "温度：小于 1 更保守，大于 1 更随机")
    top_k: int = setting(0, lo=0, hi=1_000_000, help="Sampling: keep the k most likely tokens (0 = off) / 只在前 k 个中抽")
    top_p: float = setting(1.0, lo=0.0, lo_open=True, hi=1.0, help="Sampling: keep the smallest set with mass p "
                                                               "(1 = off) / 累计概率 p 内抽取")
    repetition_penalty: float = setting(1.0, lo=1.0, hi=10.0, help="Lowers tokens already in the text (1 = off) / "
                                                               "降低已出现词元（1 为关闭）")
    beam_width: int = setting(4, lo=1, hi=64, help="Beam search: partial texts kept / 束宽")
    length_norm: float = setting(1.0, lo=0.0, hi=5.0, help="Beam score = log-prob / length ** alpha / 束搜索长度归一化")
    num_candidates: int = setting(1, lo=1, hi=16, help="Beam: best n beams; sample: n samples / 候选条数")
    seed: int | None = setting(0, lo=0, hi=2**64 - 1, help="The same seed gives the same text; none: a fresh one / "
                                                       "随机种子")
    unknown: str = setting("unk", choices=UNKNOWN_MODES, help="Unknown prefix tokens: read as <unk>, or refuse / "
                                                            "未知字符：当作 <unk> 或拒绝")
    alternatives: int = setting(5, lo=0, hi=50, help="Top alternatives reported per step / 每步报告的候选数")

    def __post_init__(self):
        validate(self)

    @property
    def effective_strategy(self) -> str:
        """``greedy`` when sampling at a temperature below 1e-4 (the limit T -> 0 is the argmax)."""
        if self.strategy == "sample" and self.temperature < GREEDY_BELOW:
            return "greedy"
        return self.strategy

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DecodeConfig:
        return from_dict(cls, d)


# ----------------------------------------------------------------------------- streaming
def _device(model: Any) -> torch.device:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device("cpu")


def _beam_ranking(score: torch.Tensor, length: torch.Tensor, alpha: float, n: int) -> tuple[list[int], list[float]]:
    """The ``n`` best live rows by ``score / length ** alpha`` (best first; ties: the lower row) and every
    row's key (-inf for a dead row)."""
    live = torch.isfinite(score)
    final_key = torch.where(live, score / length.clamp(min=1) ** alpha, -math.inf)
    ranked = final_key.sort(descending=True, stable=True).indices[: int(live.sum())]
    return ranked[:n].tolist(), final_key.tolist()


def _top_stable(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest values of a 1-D tensor, largest first, ties to the lower
    index -- exactly ``sort(descending, stable)[:k]`` (so beam width 1 is ``argmax``), but
    sorting only the values that tie with or beat the k-th largest."""
    k = min(k, x.numel())
    kth = x.topk(k).values[-1]
    cand = (x >= kth).nonzero().squeeze(1)                             # ascending indices
    return cand[x[cand].sort(descending=True, stable=True).indices[:k]]


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
        self.forbidden_ids = [vocab[t] for t in NEVER_EMITTED if t in vocab]
        if len(self.forbidden_ids) >= len(vocab) - (EOS in vocab):
            raise LyricdemoError("The vocabulary has no token that can be generated (only special tokens).")
        self.eos_id = vocab[EOS] if EOS in vocab else None
        self.device = _device(model)
        self.seed: int | None = None         # drawn when sampling starts (start_sampling)
        self._result: Generation | None = None
        self._busy = 0.0                     # seconds of the decoder's own work
        self._first: float | None = None
        self._positions = 0
        self._step = None                    # how a token is fed after the warm-up (choose_path)
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
            raise LyricdemoError("The generation was stopped before it finished.", code="generation_stopped")
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

    # -- for a batcher that runs this stream's rows in a shared batch (batching.py) ----
    def count_position(self, since_start_s: float) -> None:
        """One more position decoded; the first one also fixes the time to first token."""
        self._positions += 1
        if self._first is None:
            self._first = since_start_s

    def finish(self, candidates: list[Candidate], busy_s: float, positions: int | None = None) -> Generation:
        """End the stream with these candidates after ``busy_s`` seconds (``positions`` decoded, when
        another process counted them): its ``Generation``."""
        self._busy = busy_s
        if positions is not None:
            self._positions = positions
        self._result = self._finish(candidates)
        return self._result

    @property
    def generation(self) -> Generation | None:
        """The ``Generation`` once the stream finished, else None."""
        return self._result

    def _finish(self, candidates: list[Candidate]) -> Generation:
        cfg = self.config
        strategy = cfg.effective_strategy
        notes = []
        if cfg.strategy == "sample" and strategy == "greedy":
            notes.append(Note(f"A temperature below {GREEDY_BELOW:g} is greedy decoding.", "greedy_below",
                              threshold=GREEDY_BELOW))
        if strategy == "greedy" and cfg.num_candidates > 1:
            notes.append(Note("Greedy decoding has exactly one candidate.", "greedy_one_candidate"))
        if strategy == "beam" and len(candidates) < cfg.num_candidates:
            notes.append(Note(f"Beam search found {len(candidates)} candidate(s) (at most beam_width = "
                              f"{cfg.beam_width}).", "beam_fewer", found=len(candidates), beam_width=cfg.beam_width))
        best = candidates[0]
        busy = self._busy
        return Generation(
            prefix=self.prefix, text=self.prefix.prefix + best.continuation, continuation=best.continuation,
            steps=best.steps, candidates=tuple(candidates), config=cfg, strategy=strategy,
            seed=self.seed if strategy == "sample" else None,
            time_to_first_token_s=self._first if self._first is not None else busy, elapsed_s=busy,
            tokens_per_s=self._positions / busy if busy > 0 else 0.0,
            notes=tuple(notes) + self.prefix.warnings,
        )

    def _warm_up(self) -> tuple[torch.Tensor, Any]:
        """One forward over the whole prefix: the state after it and the logits (1, V) of the next token.

        Also picks how the following tokens are fed (``self._step``, see ``choose_path``)."""
        ids = torch.tensor([self.prefix.ids], dtype=torch.long, device=self.device)     # (1, T0)
        prefill, self._step = self.choose_path()
        logits, state = prefill(ids, self.model.init_state(1))                      # (1, V)
        if logits.dim() != 2 or logits.shape[-1] != len(self.vocab):
            raise LyricdemoError(f"The model predicts {logits.shape[-1]} tokens but the vocabulary has "
                                 f"{len(self.vocab)}: they do not belong together.")
        logits = logits.float()
        check_logits(logits)
        return logits, state

    def choose_path(self):
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

    def tokens_present(self, rows: int, vocab_size: int) -> torch.Tensor | None:
        """(rows, V) bool: the tokens already in the text (the prefix's, unless it is only the line-start
        context), which the repetition penalty lowers; None when there is no penalty."""
        if self.config.repetition_penalty == 1.0:
            return None
        present = torch.zeros(rows, vocab_size, dtype=torch.bool, device=self.device)
        if not self.prefix.line_start:
            present[:, list(self.prefix.ids)] = True
        return present

    def make_candidate(self, index: int, ids: list[int], steps: list[Step], eos_logp: float | None,
                        score: float | None) -> Candidate:
        log_prob = sum(s.log_prob for s in steps) + (eos_logp or 0.0)
        n = max(len(steps) + (eos_logp is not None), 1)
        mean = log_prob / n
        return Candidate(
            continuation=self.tokenizer.detokenize(self.vocab.idx_to_token[i] for i in ids), ids=tuple(ids),
            log_prob=log_prob, mean_log_prob=mean, score=mean if score is None else score,
            stop_reason="eos" if eos_logp is not None else "length", steps=tuple(steps), index=index)

    # -- greedy and sampling ---------------------------------------------------------
    def start_sampling(self) -> tuple[torch.Tensor, Any, Chooser]:
        """Greedy or sampling up to the first choice: the seed drawn, the warm-up over the
        prefix, the rows copied for ``num_candidates`` samples.

        Returns ``(logits (B, V), state, chooser)``: the chooser picks each step's tokens
        from the logits of its B rows (see ``Chooser``); feeding them back is the
        caller's business.  ``_sample`` feeds them one stream at a time; the batcher
        (``lyricdemo/batching.py``) feeds many streams' rows in one forward pass, and
        both therefore decode with exactly the same code."""
        if self.config.effective_strategy == "beam":
            raise LyricdemoError("Beam search does not sample; use stream() for it.")
        dev = self.device
        # a fresh seed comes from the OS (not torch's or Python's global RNG), small enough to read out
        self.seed = self.config.seed if self.config.seed is not None else secrets.randbelow(2**31)
        with torch.inference_mode():
            logits, state = self._warm_up()                                   # (1, V)
            chooser = Chooser(self, logits.shape[-1])
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
        candidates are read back from it at the end (``_beam_candidates``).
        """
        ranked, final_key, history = self._beam_search()
        cands = self._beam_candidates(ranked, final_key, history)
        longest = max((len(c.steps) for c in cands), default=0)
        for pos in range(longest):
            for c in cands:
                if pos < len(c.steps):
                    yield c.steps[pos]
        return cands

    def _beam_search(self) -> tuple[list[int], list[float], list[list]]:
        """The search: (the best rows, best first; every row's final key; the history as lists,
        one per field -- parent, token, kind, log-prob, entropy, alternatives' ids and log-probs --
        each (T, W) or (T, W, k))."""
        cfg = self.config
        W, alpha, k_alt, eos = cfg.beam_width, cfg.length_norm, cfg.alternatives, self.eos_id
        penalty = cfg.repetition_penalty
        dev = self.device
        self.seed = None
        hist: list[tuple[torch.Tensor, ...]] = []
        with torch.inference_mode():
            forbidden = torch.tensor(self.forbidden_ids, dtype=torch.long, device=dev)
            state, logits, score, length, finished = self._beam_start(W)
            V = logits.shape[-1]
            arange = torch.arange(W, device=dev)
            present = self.tokens_present(W, V)                               # (W, V) or None
            step_fn = self._step
            for t in range(cfg.length):
                raw = F.log_softmax(logits, dim=-1)                            # (W, V)
                entropy, alt_i, alt_lp = belief(raw, k_alt)                   # (W,), (W, k), (W, k)
                if not math.isfinite(float(entropy.sum())):                    # NaN/inf logits raise here
                    entropy = settle_entropy(logits, raw)
                search = raw if present is None else F.log_softmax(penalize(logits, present, penalty), dim=-1)
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

            ranked, final_key = _beam_ranking(score, length, alpha, cfg.num_candidates)
            return ranked, final_key, [torch.stack(cols).tolist() for cols in zip(*hist)]

    def _beam_start(self, W: int) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prefix read once and copied W times: (state, logits (W, V), score, length, finished), only
        row 0 live (the copies score -inf, so the first round picks W distinct tokens after the prefix)."""
        logits, state = self._warm_up()                                       # (1, V)
        dev = self.device
        state = index_state(state, torch.zeros(W, dtype=torch.long, device=dev))
        score = torch.full((W,), -math.inf, device=dev)
        score[0] = 0.0
        length, finished = torch.zeros(W, device=dev), torch.zeros(W, dtype=torch.bool, device=dev)
        return state, logits.expand(W, logits.shape[-1]), score, length, finished

    def _beam_candidates(self, ranked: list[int], final_key: list[float], history: list[list]) -> list[Candidate]:
        """Each ranked row's continuation, read back through its parents from the last step."""
        vocab = self.vocab
        parents, toks, kinds, logps, ents, alt_is, alt_lps = history
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
            cands.append(self.make_candidate(rank, ids, steps, eos_logp, final_key[row]))
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
