"""Minibatches over one long stream of token ids, with the semantics of seed 000.

Both iterators yield ``(X, Y)`` of shape ``(B, T)`` (batch-first), where ``Y`` is
``X`` shifted one token to the left: the model reads ``X[:, t]`` and must predict
``Y[:, t]``.

Random sampling (``seq_data_iter_random``) cuts the stream, after a random offset,
into subsequences of T tokens and deals them out in random order, so neighbouring
rows of a batch and consecutive batches are unrelated; the hidden state is reset
for every batch::

    stream  |off| s0 | s1 | s2 | s3 | s4 | s5 | ...      (each s_i is T tokens)
    batch 0 = [s4, s1]   batch 1 = [s0, s5]   ...          (B = 2, shuffled)

Sequential partitioning (``seq_data_iter_sequential``) lays the stream out as B
rows and walks along them T columns at a time, so row b of batch k+1 continues
row b of batch k and the hidden state can be carried across batches (detached)::

    row 0: | a0 a1 a2 | a3 a4 a5 | ...
    row 1: | b0 b1 b2 | b3 b4 b5 | ...
             batch 0    batch 1           (T = 3)

A windowed ``Dataset`` (seed 004's ``LyricsDataset``) is not needed: with batch 1
it is random sampling without the offset, and it is slower.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch

from .errors import LyricdemoError

SAMPLING = ("random", "sequential")


def _as_tensor(corpus: Sequence[int] | torch.Tensor) -> torch.Tensor:
    if isinstance(corpus, torch.Tensor):
        return corpus.long().flatten()
    return torch.tensor(list(corpus), dtype=torch.long)


def _check(batch_size: int, num_steps: int) -> None:
    for name, v in (("batch size", batch_size), ("number of steps", num_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise LyricdemoError(f"The {name} must be a whole number >= 1; got {v!r}.")


def _too_short(n: int, batch_size: int, num_steps: int) -> LyricdemoError:
    need = batch_size * num_steps + 1
    return LyricdemoError(
        f"The training text has {n} tokens; one batch of {batch_size} x {num_steps} steps needs "
        f"at least {need}. Use a smaller batch size or fewer steps, or more text."
    )


def num_batches(n_tokens: int, batch_size: int, num_steps: int, sampling: str) -> int:
    """How many batches one epoch has at the shortest offset (an upper bound)."""
    if sampling == "random":
        return ((n_tokens - 1) // num_steps) // batch_size
    return ((n_tokens - 1) // batch_size) // num_steps


def _checked(corpus, batch_size: int, num_steps: int, sampling: str) -> torch.Tensor:
    """The corpus as a long tensor, once the sizes are whole numbers and it holds one batch at least."""
    _check(batch_size, num_steps)
    data = _as_tensor(corpus)
    if num_batches(len(data), batch_size, num_steps, sampling) < 1:
        raise _too_short(len(data), batch_size, num_steps)
    return data


def _offset(rng: random.Random, hi: int, n_tokens: int, batch_size: int, num_steps: int, sampling: str) -> int:
    """A random start in 0..hi, or 0 when the corpus is just long enough: skip the offset rather than
    yield nothing."""
    offset = rng.randint(0, hi)
    return offset if num_batches(n_tokens - offset, batch_size, num_steps, sampling) >= 1 else 0


def seq_data_iter_random(corpus: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int,
                         rng: random.Random | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random sampling: disjoint subsequences on a grid ``offset + k*T``, shuffled (see ``batch_iter``)."""
    return batch_iter(corpus, batch_size, num_steps, "random", rng)


def _random_batches(data: torch.Tensor, batch_size: int, num_steps: int, rng: random.Random):
    data = data[_offset(rng, num_steps - 1, len(data), batch_size, num_steps, "random"):]
    num_subseqs = (len(data) - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    rng.shuffle(starts)
    steps = torch.arange(num_steps)
    for i in range(0, (num_subseqs // batch_size) * batch_size, batch_size):
        idx = torch.tensor(starts[i:i + batch_size]).unsqueeze(1) + steps  # (B, T) positions
        yield data[idx], data[idx + 1]


def seq_data_iter_sequential(corpus: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int,
                             rng: random.Random | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential partitioning: B contiguous rows, walked T columns at a time (see ``batch_iter``)."""
    return batch_iter(corpus, batch_size, num_steps, "sequential", rng)


def _sequential_batches(data: torch.Tensor, batch_size: int, num_steps: int, rng: random.Random):
    offset = _offset(rng, num_steps, len(data), batch_size, num_steps, "sequential")
    n = ((len(data) - offset - 1) // batch_size) * batch_size
    xs = data[offset:offset + n].reshape(batch_size, -1)
    ys = data[offset + 1:offset + 1 + n].reshape(batch_size, -1)
    for i in range(0, (xs.shape[1] // num_steps) * num_steps, num_steps):
        yield xs[:, i:i + num_steps], ys[:, i:i + num_steps]


def batch_iter(corpus: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int, sampling: str = "random",
               rng: random.Random | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of batches with the named sampling (``random`` or ``sequential``).

    Checks its arguments at once (not at the first ``next``)."""
    make = {"random": _random_batches, "sequential": _sequential_batches}.get(sampling)
    if make is None:
        raise LyricdemoError(f"Unknown sampling {sampling!r}; choose 'random' or 'sequential'.")
    return make(_checked(corpus, batch_size, num_steps, sampling), batch_size, num_steps, rng or random.Random())
