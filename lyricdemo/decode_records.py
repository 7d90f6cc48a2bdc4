"""What decoding reports: a ``Step`` per new token, a ``Candidate`` per finished continuation,
the ``Generation`` of one call (``generate.py`` makes them; the CLI, the app and the tests read them).

Plain frozen records with ``to_dict`` for JSON; they hold numbers and text, no tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .numbers import perplexity_of

if TYPE_CHECKING:                       # annotations only: generate.py imports this module
    from .generate import DecodeConfig
    from .reading import PrefixReport

LN2 = math.log(2.0)


class Alternatives(Sequence):
    """A step's most likely tokens with their probabilities, ``((token, prob), ...)`` most likely
    first -- built the first time it is read.  A class's shared batch makes forty steps at every
    position and most are never looked at: building each one's ten pairs at once took 22% of the
    server's interpreter lock with forty students generating (py-spy, ``bench/bench_load.py``).
    Reads, compares and hashes as the tuple it stands for."""

    __slots__ = ("_names", "_ids", "_log_probs", "_pairs")

    def __init__(self, names: Sequence[str], ids: Sequence[int], log_probs: Sequence[float]):
        self._names, self._ids, self._log_probs, self._pairs = names, ids, log_probs, None

    def pairs(self) -> tuple[tuple[str, float], ...]:
        if self._pairs is None:
            self._pairs = tuple((self._names[a], math.exp(lp)) for a, lp in zip(self._ids, self._log_probs))
        return self._pairs

    def __getitem__(self, i):
        return self.pairs()[i]

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self):
        return iter(self.pairs())

    def __eq__(self, other) -> bool:
        if isinstance(other, Alternatives):
            other = other.pairs()
        return isinstance(other, tuple) and self.pairs() == other

    def __hash__(self) -> int:
        return hash(self.pairs())

    def __repr__(self) -> str:
        return repr(self.pairs())

    def __deepcopy__(self, memo) -> Alternatives:      # immutable: asdict() may share it
        return self


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
    alternatives: Sequence[tuple[str, float]]     # the most likely tokens, most likely first (Alternatives)
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
        return perplexity_of(-self.mean_log_prob)            # a diverged model's text: inf, no OverflowError

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
    notes: tuple[str, ...] = ()                    # plain English ``Note``s (ui/wording.py: both languages)

    @property
    def chars_per_s(self) -> float:
        return len(self.continuation) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self, words: dict[str, str] | None = None) -> str:
        """One line: strategy, length, mean log-prob, speed -- in plain English, or with ``words`` for
        its labels (``tokens``, ``mean``, ``first``: ui/wording.py gives them in both languages)."""
        w = {"tokens": "tokens", "mean": "mean log-prob", "first": "first token", **(words or {})}
        best = self.candidates[0]
        return (f"{self.strategy}: {len(best.ids)} {w['tokens']}, {w['mean']} {best.mean_log_prob:.3f} "
                f"(ppl {best.perplexity:.2f}), {self.tokens_per_s:.0f} tokens/s, "
                f"{w['first']} {self.time_to_first_token_s * 1000:.1f} ms")

    def to_dict(self) -> dict:
        return {
            "text": self.text, "continuation": self.continuation, "strategy": self.strategy, "seed": self.seed,
            "prefix": self.prefix.to_dict(), "config": self.config.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "time_to_first_token_s": self.time_to_first_token_s, "elapsed_s": self.elapsed_s,
            "tokens_per_s": self.tokens_per_s, "chars_per_s": self.chars_per_s, "notes": list(self.notes),
        }
