"""An output left as it is costs nothing: Gradio's ``gr.skip()`` without its price on every streamed update.

A streaming handler (training, following a run, generating) yields a value for each of its outputs
and ``gr.skip()`` -- a bare ``{"__type__": "update"}`` -- for those it leaves alone.  Gradio 6.31
handles a bare skip like any update: it builds a new component from the old one's constructor
arguments and recomputes its config (``Blocks.postprocess_data``), only to send
``{"__type__": "update"}``.  Measured on this 2-core machine: 30 ms to postprocess one update with
six skips, 3 ms with six values -- and the event loop holds the interpreter lock meanwhile, so
forty streams (a class following one run, forty generations) spent most of the server's time
rebuilding components nobody changed (profile of ``bench/bench_load.py``: 79% of the lock held by
the event loop, most of it in ``config_for_block``).

``install()`` wraps ``Blocks.postprocess_data``: the bare skips of outputs that are not ``gr.State``
get the answer Gradio gave for that output's first bare skip (``{"__type__": "update"}``, and for
``gr.HTML`` the same with an empty ``props``), remembered per output; everything else goes through
Gradio's own code.
``tests/test_fast_skip.py`` checks, output by output, that the answer is the unpatched method's.
"""

from __future__ import annotations

import copy

from gradio.blocks import Blocks

_BARE = {"__type__": "update"}
_answers: dict[tuple, dict] = {}      # (app, output id, its class) -> Gradio's answer to a bare skip


def _is_bare_skip(value) -> bool:
    return type(value) is dict and value == _BARE


def _key(app, block) -> tuple:
    return id(app), block._id, type(block).__name__


async def _postprocess_data(self, block_fn, predictions, state):
    outputs = list(block_fn.outputs)
    if (not isinstance(predictions, (list, tuple)) or block_fn.batch or len(outputs) < 2
            or len(predictions) != len(outputs) or getattr(block_fn, "is_validator_function", False)):
        return await _original(self, block_fn, predictions, state)
    keep = [i for i, (block, p) in enumerate(zip(outputs, predictions))
            if not (_is_bare_skip(p) and not getattr(block, "stateful", False)
                    and _key(self, block) in _answers)]
    if len(keep) == len(outputs):
        some, preds = block_fn, predictions
    else:
        some, preds = copy.copy(block_fn), [predictions[i] for i in keep]
        some.outputs = [outputs[i] for i in keep]
    out: list = [copy.deepcopy(_answers.get(_key(self, block))) for block in outputs]
    if len(keep) == 1:
        preds = preds[0]                      # Gradio wraps a single output's value itself
    done = await _original(self, some, preds, state) if keep else []
    for i, v in zip(keep, done):
        out[i] = v
        if _is_bare_skip(predictions[i]) and not getattr(outputs[i], "stateful", False):
            _answers[_key(self, outputs[i])] = copy.deepcopy(v)
    return out


_original = Blocks.postprocess_data


def install() -> None:
    """Idempotent: the app calls it when it builds its Blocks."""
    if Blocks.postprocess_data is not _postprocess_data:
        Blocks.postprocess_data = _postprocess_data
