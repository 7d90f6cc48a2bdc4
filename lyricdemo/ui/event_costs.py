"""Two prices Gradio 6.31 pays on its event loop, which the whole server waits for, removed.

The event loop holds the interpreter lock while it handles a request, so what it spends there
every handler thread and every decoding step waits for.  ``py-spy record --gil`` on the server
of ``bench/bench_load.py --actions generate`` (40 students, 2 trainings; 2026-12-02) found two
costs that buy nothing here:

* **A new session copies the config of every block** (``SessionState.__init__`` calls
  ``config_for_block`` for each of the app's ~240 blocks: 50 ms on a quiet machine, 14% of the
  lock in that profile, all of it while forty students open the page at once).  The copies
  serve Gradio's deep links and the blocks a handler replaces; ``install()`` makes them lazy:
  each block's copy is made the first time it is read or replaced, and all of them when the
  whole set is iterated (a deep link), so what Gradio reads is what it read before.  The value
  Gradio writes into a copy at every event's inputs and outputs (``_update_value_in_config``)
  waits with it: it is set in the copy when the copy is made.
* **Every event imports matplotlib twice** (``route_utils.call_process_api`` wraps each call in
  ``utils.MatplotlibBackendMananger``, which ``import matplotlib``s on entry and exit).  The app
  does not install matplotlib, so each attempt searched ``sys.path`` again: 7% of the lock.
  ``install()`` records the miss in ``sys.modules`` (``None``: the standard "not importable"
  mark), so the import fails at once; it does nothing when matplotlib is installed.

``tests/test_event_costs.py`` compares a patched session with Gradio's own, block by block.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from copy import copy

from gradio import state_holder

_original_init = state_holder.SessionState.__init__
_original_update_value = state_holder.SessionState._update_value_in_config


class LazyConfigs(dict):
    """``SessionState.config_values``: a block's config is computed when first read; iterating
    computes the rest first, in the blocks' order."""

    def __init__(self, blocks_config, ids):
        super().__init__()
        self._blocks_config = blocks_config
        self._order = dict.fromkeys(ids)          # the blocks' order (a dict: an ordered set)
        self._pending = set(self._order)
        self._in_order = True                     # the dict's own order is the blocks' order
        self._values: dict = {}                   # values written before the copy was made

    def defer_value(self, key, value) -> bool:
        """Gradio's ``_update_value_in_config`` for a copy not made yet: kept for when it is."""
        if key not in self._pending:
            return False
        self._values[key] = value
        return True

    def _compute(self, key) -> None:
        self._pending.discard(key)
        self._in_order = False
        config = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        if key in self._values:
            value = self._values.pop(key)
            if "props" in config:
                config["props"]["value"] = value
        dict.__setitem__(self, key, config)

    def _complete(self) -> None:
        """Every copy made, stored in the blocks' order (done once: later calls find nothing to do)."""
        if self._in_order and not self._pending:
            return
        for key in [k for k in self._order if k in self._pending]:
            self._compute(key)
        items = [(k, dict.__getitem__(self, k)) for k in self._order if dict.__contains__(self, k)]
        dict.clear(self)
        dict.update(self, items)
        self._in_order = True

    def __missing__(self, key):
        if key not in self._pending:
            raise KeyError(key)
        self._compute(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key) -> bool:
        return key in self._pending or dict.__contains__(self, key)

    def __setitem__(self, key, value) -> None:
        self._pending.discard(key)
        self._values.pop(key, None)
        self._order.setdefault(key)
        self._in_order = False
        dict.__setitem__(self, key, value)

    def __delitem__(self, key) -> None:
        self._values.pop(key, None)
        if key in self._pending:
            self._pending.discard(key)
        else:
            dict.__delitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._pending)

    def __iter__(self):
        self._complete()
        return dict.__iter__(self)

    def keys(self):
        self._complete()
        return dict.keys(self)

    def values(self):
        self._complete()
        return dict.values(self)

    def items(self):
        self._complete()
        return dict.items(self)

    def __eq__(self, other) -> bool:
        self._complete()
        return dict.__eq__(self, other)

    __hash__ = None


def _lazy_init(self, blocks) -> None:
    self.blocks_config = copy(blocks.default_config)
    self.config_values = LazyConfigs(self.blocks_config, [k for k in self.blocks_config.blocks if k in blocks.blocks])
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def _update_value_in_config(self, key, value) -> None:
    values = self.config_values
    if isinstance(values, LazyConfigs) and values.defer_value(key, value):
        return
    _original_update_value(self, key, value)


def _no_matplotlib() -> bool:
    if "matplotlib" in sys.modules:
        return False
    try:
        return importlib.util.find_spec("matplotlib") is None
    except (ImportError, ValueError):
        return False


def install() -> None:
    """Make new sessions' config copies lazy; let the missing matplotlib fail at once."""
    state_holder.SessionState.__init__ = _lazy_init
    state_holder.SessionState._update_value_in_config = _update_value_in_config
    if _no_matplotlib():
        sys.modules["matplotlib"] = None


def uninstall() -> None:
    """Gradio's own behaviour again (tests)."""
    state_holder.SessionState.__init__ = _original_init
    state_holder.SessionState._update_value_in_config = _original_update_value
    if sys.modules.get("matplotlib", 0) is None:
        del sys.modules["matplotlib"]
