"""Numbers from environment variables: read at each call (a deployment or a test changes them
without a restart) and checked, so that a wrong one stops with its own name."""

from __future__ import annotations

import math
import os

from .errors import LyricdemoError


def env_number(name: str, default, lo: float, hi: float, *, whole: bool = True, lo_open: bool = False):
    """``$name`` as an int (``whole``) or a float in [lo, hi] (``lo_open``: above ``lo``), else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise LyricdemoError(f"{name} must be {'a whole number' if whole else 'a number'}; got {raw!r}.") from None
    above = value > lo if lo_open else value >= lo
    if not (math.isfinite(value) and above and value <= hi):
        low = f"above {lo:,}" if lo_open else f"from {lo:,}"
        raise LyricdemoError(f"{name} must be {low} to {hi:,}; got {raw!r}.")
    return value
