"""Server-side checks of every value an endpoint receives.

The API can be called without the UI's sliders (``gradio_client``, ``curl``), so a
handler trusts nothing: a value may be a string, ``None``, NaN, a bool, or a
number far outside the slider's range.  Each helper returns the clean value or
raises ``LyricdemoError`` with a message naming the control (in both languages)
and the allowed range; ``user_errors`` turns that into a ``gr.Error`` the user sees.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Sequence
from typing import Any

from ..errors import LyricdemoError
from .labels import CONTROLS


def _name(key: str) -> str:
    return CONTROLS[key][0] if key in CONTROLS else key


def whole(key: str, value: Any, lo: int, hi: int) -> int:
    """A whole number in [lo, hi]; integral floats (a slider's ``32.0``) are accepted."""
    if isinstance(value, bool) or value is None:
        raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {value!r}.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {value!r}.")
        value = int(value)
    if not isinstance(value, int):
        raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {value!r}.")
    if not lo <= value <= hi:
        raise LyricdemoError(f"{_name(key)} must be from {lo:,} to {hi:,}; got {value:,}.")
    return value


def real(key: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """A finite number in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LyricdemoError(f"{_name(key)} must be a number from {lo:g} to {hi:g}; got {value!r}.")
    x = float(value)
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        side = "above" if lo_open else "from"
        raise LyricdemoError(f"{_name(key)} must be a finite number {side} {lo:g} to {hi:g}; got {value!r}.")
    return x


def choice(key: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise LyricdemoError(f"{_name(key)} must be one of {', '.join(map(str, choices))}; got {value!r}.")
    return value


def flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise LyricdemoError(f"{_name(key)} must be true or false; got {value!r}.")
    return value


def text(key: str, value: Any, max_chars: int, *, allow_empty: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LyricdemoError(f"{_name(key)} must be text; got {type(value).__name__}.")
    if len(value) > max_chars:
        raise LyricdemoError(f"{_name(key)} is too long: {len(value):,} characters (at most {max_chars:,}).")
    if not allow_empty and not value.strip():
        raise LyricdemoError(f"{_name(key)} is empty. / 内容为空。")
    return value


def subset(key: str, value: Any, choices: Sequence[str]) -> tuple[str, ...]:
    """A list of distinct choices (a CheckboxGroup), in the order of ``choices``."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise LyricdemoError(f"{_name(key)} must be a list of {', '.join(choices)}; got {value!r}.")
    bad = [v for v in value if v not in choices]
    if bad:
        raise LyricdemoError(f"{_name(key)} must be among {', '.join(choices)}; got {bad!r}.")
    return tuple(c for c in choices if c in value)


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number setting from the environment (a clear error at startup if it is wrong)."""
    import os

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LyricdemoError(f"{name} must be a whole number; got {raw!r}.") from None
    if not lo <= value <= hi:
        raise LyricdemoError(f"{name} must be from {lo} to {hi}; got {value}.")
    return value


def user_errors(fn):
    """Show a ``LyricdemoError`` as a ``gr.Error`` (a message, never a traceback).

    Works for plain handlers and for generator handlers (closing the wrapper closes
    the wrapped generator, so a cancelled stream still runs its ``finally``)."""
    import gradio as gr

    def convert(e: LyricdemoError) -> gr.Error:
        return gr.Error(str(e), print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except LyricdemoError as e:
                raise convert(e) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LyricdemoError as e:
            raise convert(e) from None
    return wrapper
