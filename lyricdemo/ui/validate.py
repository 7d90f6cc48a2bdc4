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
import logging
import math
from collections.abc import Sequence
from typing import Any

from ..errors import LyricdemoError
from ..fields import ConfigError
from .labels import CONTROLS
from .wording import bilingual


def _name(key: str) -> str:
    return CONTROLS[key][0] if key in CONTROLS else key


def labelled(e: ConfigError, aliases: dict[str, str] | None = None) -> LyricdemoError:
    """A config's message under the label of the control that sets the field (``aliases``: field -> control
    key, where the control's key is not the field's name)."""
    key = (aliases or {}).get(e.field, e.field)
    return LyricdemoError(f"{_name(key)}: {e}" if key in CONTROLS else str(e))


def show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never echoes a 30,000-character paste."""
    try:
        r = repr(value)
    except ValueError:                  # an int of more than 4,300 digits has no repr by default
        return f"a whole number of {value.bit_length():,} bits" if isinstance(value, int) else "an unprintable value"
    return r if len(r) <= limit else f"{r[:limit]}… ({len(r):,} characters)"


def whole(key: str, value: Any, lo: int, hi: int) -> int:
    """A whole number in [lo, hi]; integral floats (a slider's ``32.0``) are accepted."""
    if isinstance(value, bool) or value is None:
        raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {show(value)}.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {show(value)}.")
        value = int(value)
    if not isinstance(value, int):
        raise LyricdemoError(f"{_name(key)} must be a whole number from {lo:,} to {hi:,}; got {show(value)}.")
    if not lo <= value <= hi:
        got = f"{value:,}" if abs(value) < 10**30 else show(value)
        raise LyricdemoError(f"{_name(key)} must be from {lo:,} to {hi:,}; got {got}.")
    return value


def real(key: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """A finite number in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LyricdemoError(f"{_name(key)} must be a number from {lo:g} to {hi:g}; got {show(value)}.")
    try:
        x = float(value)
    except OverflowError:               # an int too large for a float is out of range anyway
        x = math.inf
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        side = "above" if lo_open else "from"
        raise LyricdemoError(f"{_name(key)} must be a finite number {side} {lo:g} to {hi:g}; got {show(value)}.")
    return x


def choice(key: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise LyricdemoError(f"{_name(key)} must be one of {', '.join(map(str, choices))}; got {show(value)}.")
    return value


def flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise LyricdemoError(f"{_name(key)} must be true or false; got {show(value)}.")
    return value


def text(key: str, value: Any, max_chars: int, *, allow_empty: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LyricdemoError(f"{_name(key)} must be text; got {type(value).__name__}.")
    if len(value) > max_chars:
        raise LyricdemoError(f"{_name(key)} is too long: {len(value):,} characters (at most {max_chars:,}).")
    _check_unicode(key, value)
    if not allow_empty and not value.strip():
        raise LyricdemoError(f"{_name(key)} is empty. / 内容为空。")
    return value


def _check_unicode(key: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:       # a lone UTF-16 surrogate, which JSON can carry but nothing can show
        raise LyricdemoError(f"{_name(key)} holds a character that is not valid Unicode ({show(value[e.start])} "
                             f"at position {e.start}). / 含有无效字符。") from None


def subset(key: str, value: Any, choices: Sequence[str]) -> tuple[str, ...]:
    """A list of distinct choices (a CheckboxGroup), in the order of ``choices``."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise LyricdemoError(f"{_name(key)} must be a list of {', '.join(choices)}; got {show(value)}.")
    bad = [v for v in value if v not in choices]
    if bad:
        raise LyricdemoError(f"{_name(key)} must be among {', '.join(choices)}; got {show(bad)}.")
    return tuple(c for c in choices if c in value)


def upload_path(key: str, value: Any) -> str | None:
    """The server-side path of an uploaded file, or None when there is none.

    The upload endpoints skip Gradio's preprocessing (they check everything here), so a
    file arrives as Gradio's file record ``{"path": ..., "orig_name": ...}``; in-process
    callers pass a path.  Gradio has already refused paths it did not receive itself."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("path")
    elif not isinstance(value, str) and isinstance(getattr(value, "path", None), str):
        value = value.path
    if not isinstance(value, str) or not value:
        raise LyricdemoError(f"{_name(key)} must be a file (from Python: gradio_client.handle_file(path)); "
                             f"got {show(value)}. / 请上传文件。")
    _check_unicode(key, value)
    return value


def checked_file(component, key: str):
    """Give a ``gr.File`` input a clear message for an API payload that is not a file record
    (a plain path string sent without ``handle_file``, a number ...): Gradio validates that
    record before any handler runs and otherwise answers with a blank "Error"."""
    import gradio as gr
    import pydantic
    from gradio.data_classes import FileData

    name = _name(key)

    class CheckedFileData(FileData):
        model_config = pydantic.ConfigDict(title="FileData")      # the API schema stays Gradio's

        @classmethod
        def model_validate(cls, obj, *args, **kwargs):
            try:
                return super().model_validate(obj, *args, **kwargs)
            except pydantic.ValidationError:
                raise gr.Error(f"{name} must be a file (from Python: gradio_client.handle_file(path)); "
                               f"got {show(obj)}. / 请上传文件。", print_exception=False) from None

    component.data_model = CheckedFileData
    return component


INTERNAL_ERROR = "Internal error"


def user_errors(fn):
    """Show a ``LyricdemoError`` as a ``gr.Error`` (a message, never a traceback), in both languages where
    it carries a ``code`` (``wording.bilingual``).

    Anything else a handler raises is a bug, not the user's fault: its traceback goes to
    the server log and the user reads a short message that starts with ``INTERNAL_ERROR``
    (tests assert it never appears).  Works for plain handlers and for (async) generator handlers
    (closing the wrapper closes the wrapped generator, so a cancelled stream still runs
    its ``finally``; ``GeneratorExit`` is not an ``Exception`` and passes through)."""
    import gradio as gr

    def convert(e: Exception) -> gr.Error:
        if isinstance(e, LyricdemoError):                   # the core's plain English, worded for the app
            return gr.Error(bilingual(e), print_exception=False)
        logging.getLogger("lyricdemo.ui").error("%s failed", fn.__name__, exc_info=e)
        first = (str(e).strip().splitlines() or [""])[0][:200]
        return gr.Error(f"{INTERNAL_ERROR} ({type(e).__name__}{': ' + first if first else ''}). This is a bug in "
                        "lyricdemo, not a problem with your input; the app keeps working. / 服务器内部错误（已记录），"
                        "请重试。", print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:                  # noqa: BLE001 -- see the docstring
                raise convert(e) from None
        return gen_wrapper

    if inspect.isasyncgenfunction(fn):            # a stream that waits without holding a worker thread
        @functools.wraps(fn)
        async def async_gen_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                async for item in gen:
                    yield item
            except gr.Error:
                raise
            except Exception as e:                  # noqa: BLE001 -- see the docstring
                raise convert(e) from None
            finally:
                await gen.aclose()
        return async_gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:                      # noqa: BLE001 -- see the docstring
            raise convert(e) from None
    return wrapper
