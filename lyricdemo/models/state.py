"""Recurrent state of any shape, handled by one set of recursive helpers.

Every model answers ``forward(ids, state) -> (logits, state)``, but the states differ:

    nn.RNN / nn.GRU (and ScratchRNN)   tensor            (L*D, B, H)
    nn.LSTM         (and ScratchRNN)   tuple (h, c)      each (L*D, B, H)
    NGramLM                            list of B rows    each a tuple of token ids

Rather than an ``isinstance(model, LSTM)`` branch in every trainer and decoder, the
helpers here walk the structure (word_language_model's ``repackage_hidden``):

* a **tensor** carries the batch in dim 1 (torch's ``(L*D, B, H)`` layout), or in dim 0
  when it is 2-D (``(B, H)``: one layer written without its layer axis) -- ``batch_dim``;
* a **tuple** that holds tensors is a fixed structure, like LSTM's ``(h, c)``:
  each member carries the whole batch, so the helpers recurse into every member;
* a **list** (or a tuple with no tensors inside) is a batch of rows, one item per
  row, like the n-gram state: selecting rows selects items;
* ``None`` (no state yet) and anything else (ints, strings) pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

State = Any  # torch.Tensor | tuple[State, ...] | list[State] | None


def _has_tensor(state: State) -> bool:
    if isinstance(state, torch.Tensor):
        return True
    if isinstance(state, (tuple, list)):
        return any(_has_tensor(s) for s in state)
    return False


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor in ``state``, keeping the structure (tuple stays tuple)."""
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, tuple):
        return tuple(map_state(fn, s) for s in state)
    if isinstance(state, list):
        return [map_state(fn, s) for s in state]
    return state


def detach_state(state: State) -> State:
    """Cut the autograd history of a state, so that carrying it into the next batch
    (sequential partitioning) does not backpropagate through every earlier batch."""
    return map_state(torch.Tensor.detach, state)


def state_to(state: State, device: torch.device | str) -> State:
    """Move every tensor of a state to ``device`` (a no-op for the n-gram state)."""
    return map_state(lambda t: t.to(device), state)


def _row_list(idx: int | Sequence[int] | torch.Tensor) -> list[int]:
    if isinstance(idx, torch.Tensor):
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        return [int(i) for i in idx.flatten().tolist()]
    if isinstance(idx, int):
        return [idx]
    return [int(i) for i in idx]


def batch_dim(t: torch.Tensor) -> int:
    """The batch dimension of a state tensor: 1 for ``(L*D, B, H)``, 0 for a 2-D ``(B, H)``."""
    return 1 if t.dim() >= 3 else 0


def index_state(state: State, idx: int | Sequence[int] | torch.Tensor) -> State:
    """Select or reorder the batch rows of a state: row ``b`` of the result is row
    ``idx[b]`` of ``state``.  ``idx`` is a 1-D index tensor, a boolean mask, a list
    of ints, or one int (which keeps the batch dimension, of size 1).  Repeating an
    index copies a row, which is how a beam search expands one prefix into k beams.

    Tensors are indexed along their ``batch_dim``; an index tensor is used as it is
    (no copy to the host, so no CUDA sync)."""
    if isinstance(state, torch.Tensor):
        if isinstance(idx, torch.Tensor):
            idx = idx.to(state.device).flatten()                     # a mask works too
        else:
            idx = torch.tensor(_row_list(idx), dtype=torch.long, device=state.device)
        return state[:, idx] if batch_dim(state) == 1 else state[idx]     # (L*D, B', H) or (B', H)
    if isinstance(state, list) or (isinstance(state, tuple) and not _has_tensor(state)):
        return type(state)(state[i] for i in _row_list(idx))
    if isinstance(state, tuple):
        return tuple(index_state(s, idx) for s in state)
    return state


def cat_states(states: list[State]) -> State:
    """Join states of the same structure along their batch dimension (the rows of the first, then the
    second's, ...): the inverse of ``narrow_state``."""
    first = states[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        return torch.cat(states, dim=batch_dim(first))
    if isinstance(first, list) or (isinstance(first, tuple) and not _has_tensor(first)):
        return type(first)(row for s in states for row in s)
    if isinstance(first, tuple):
        return tuple(cat_states(list(parts)) for parts in zip(*states))
    raise TypeError(f"Cannot batch a model state of type {type(first).__name__}.")


def narrow_state(state: State, start: int, n: int) -> State:
    """Rows ``start .. start+n`` of a batched state (a view for tensors)."""
    if isinstance(state, torch.Tensor):
        return state.narrow(batch_dim(state), start, n)
    if isinstance(state, list) or (isinstance(state, tuple) and not _has_tensor(state)):
        return state[start:start + n]
    if isinstance(state, tuple):
        return tuple(narrow_state(s, start, n) for s in state)
    return state
