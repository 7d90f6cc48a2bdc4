"""One declaration per config field: its type, bounds, default and a one-line help.

``DataConfig``, ``ModelConfig``, ``TrainConfig`` and ``DecodeConfig`` declare each field
once, with ``field``::

    hidden_size: int = field(256, lo=1, hi=4096, help="Units per recurrent layer / 每层循环单元数")

The type is the annotation; ``lo``/``hi`` bound a number (``hi`` may be a function read
at each check, e.g. the generation length limit from the environment), ``choices`` a
string, ``items`` the length of a tuple.  Every reader takes the facts from here:

- ``validate(config)`` (each config's ``__post_init__`` calls it) checks every field and
  raises ``ConfigError`` naming the field and its bound; cross-field rules stay in the
  config's own ``__post_init__``, after it;
- ``to_dict``/``from_dict`` turn a config into JSON-ready data and back, refusing a key
  the config does not have (``renamed``/``dropped`` name the old keys a stored file may
  still carry);
- the CLI builds its flags from the fields (``lyricdemo.cli.flags``), the app checks its
  controls against them (``ui/tab_train.py``), and a test checks both.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from typing import Any

from .errors import LyricdemoError

Bound = float | int | Callable[[], float] | None


class ConfigError(LyricdemoError):
    """A config value out of its field's bounds; ``field`` names it (the app shows its label)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def field(default: Any = dataclasses.MISSING, *, help: str, lo: Bound = None, hi: Bound = None,  # noqa: A002
          lo_open: bool = False, choices: tuple | None = None, items: int | None = None) -> Any:
    """A dataclass field carrying its bounds and help (``"English / 中文"``) in its metadata.

    ``lo_open``: the lower bound itself is refused (a learning rate above 0).  For a tuple
    field, ``lo``/``hi``/``choices`` bound each item and ``items`` the number of items."""
    meta = {"help": help, "lo": lo, "hi": hi, "lo_open": lo_open, "choices": choices, "items": items}
    if isinstance(default, (list, dict, set)):
        raise TypeError("a mutable default; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def _bound(b: Bound):
    return b() if callable(b) else b


def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def describe_bounds(f: dataclasses.Field) -> str:
    """The allowed values of a field in words: "a whole number from 1 to 4,096", "one of 'rnn', 'gru'"."""
    m, tp = f.metadata, _hints(f)[0]
    if m.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in m["choices"])
    if tp is bool:
        return "True or False"
    if tp is str:
        return "text"
    lo, hi = _bound(m.get("lo")), _bound(m.get("hi"))
    kind = "a whole number" if tp is int else "a finite number"
    if lo is None and hi is None:
        return kind
    if hi is None:
        return f"{kind} {'above' if m.get('lo_open') else '>='} {_num(lo)}"
    if m.get("lo_open"):
        return f"{kind} above {_num(lo)} and at most {_num(hi)}"
    return f"{kind} from {_num(lo)} to {_num(hi)}"


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(f: dataclasses.Field) -> tuple[type, bool, bool]:
    """(base type, may be None, is a tuple of that type) of a field, from its annotation."""
    return f.metadata["_hint"]


def config_fields(cls_or_config) -> tuple[dataclasses.Field, ...]:
    """The fields of a config class, each with its resolved type in ``metadata["_hint"]``."""
    cls = cls_or_config if isinstance(cls_or_config, type) else type(cls_or_config)
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        out = {}
        for f in dataclasses.fields(cls):
            tp, optional, many = hints[f.name], False, False
            args = typing.get_args(tp)
            if type(None) in args:
                optional, tp = True, next(a for a in args if a is not type(None))
            if typing.get_origin(tp) is tuple:
                many, tp = True, typing.get_args(tp)[0]
            meta = dict(f.metadata)
            meta["_hint"] = (tp, optional, many)
            f.metadata = meta        # a plain dict in place of the mapping proxy: read-only in use
            out[f.name] = f
        _HINTS[cls] = out
    return tuple(_HINTS[cls].values())


def _show(v: Any) -> str:
    """``repr(v)`` cut to 60 characters: a message never echoes a long paste."""
    try:
        r = repr(v)
    except ValueError:                  # an int of more than 4,300 digits has no repr by default
        return f"a whole number of {v.bit_length():,} bits" if isinstance(v, int) else "an unprintable value"
    return r if len(r) <= 60 else f"{r[:60]}… ({len(r):,} characters)"


def _check_one(name: str, f: dataclasses.Field, tp: type, v: Any, what: str) -> Any:
    """One value of field ``f`` checked and normalised (an integral float to an int, an int to a float)."""
    m = f.metadata

    def fail(got: Any = v):
        raise ConfigError(f"{what} must be {describe_bounds(f)}; got {_show(got)}.", name)

    if m.get("choices") is not None:
        if not isinstance(v, str) or v not in m["choices"]:
            fail()
        return v
    if tp is bool:
        if not isinstance(v, bool):
            fail()
        return v
    if tp is str:
        if not isinstance(v, str):
            fail()
        return v
    if isinstance(v, bool) or v is None:
        fail()
    if tp is int:
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            v = int(v)                     # a slider's 32.0
        elif not isinstance(v, int):
            if not hasattr(v, "__index__") or isinstance(v, (str, bytes)):
                fail()
            v = int(v.__index__())         # numpy integers
    else:
        if not isinstance(v, (int, float)) and not hasattr(v, "__float__") or isinstance(v, (str, bytes)):
            fail()
        try:
            v = float(v)
        except OverflowError:
            fail()
        if not math.isfinite(v):
            fail()
    lo, hi = _bound(m.get("lo")), _bound(m.get("hi"))
    if lo is not None and (v < lo or (m.get("lo_open") and v == lo)) or hi is not None and v > hi:
        fail(v)
    return v


def validate(config) -> None:
    """Check and normalise every field of ``config`` (a frozen dataclass) against its declaration.

    Raises ``ConfigError`` naming the first bad field, its bound and the value it got."""
    for f in config_fields(config):
        if "help" not in f.metadata:
            continue
        tp, optional, many = _hints(f)
        v = getattr(config, f.name)
        if v is None and optional:
            continue
        if many:
            if isinstance(v, (str, bytes)) or not isinstance(v, (tuple, list)):
                raise ConfigError(f"{f.name} must be a list; got {_show(v)}.", f.name)
            n = f.metadata.get("items")
            if n is not None and len(v) > n:
                raise ConfigError(f"{f.name} must be a list of at most {n} items; got {len(v)}.", f.name)
            v = tuple(_check_one(f.name, f, tp, x, f"Each item of {f.name}") for x in v)
        else:
            v = _check_one(f.name, f, tp, v, f.name)
        object.__setattr__(config, f.name, v)


def defaults(cls) -> dict[str, Any]:
    """Every field's default (fields without one, like ``vocab_size``, are left out)."""
    return {f.name: f.default for f in config_fields(cls) if f.default is not dataclasses.MISSING}


def to_dict(config) -> dict[str, Any]:
    """The config as JSON-ready data: tuples become lists."""
    return {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v for f in config_fields(config)}


def from_dict(cls, d: Any, *, renamed: dict[str, str] | None = None, dropped: tuple[str, ...] = ()):
    """A config from ``to_dict``'s data.  A key the config does not know is refused, naming it, unless it is
    an old name in ``renamed`` (old -> new) or an old key in ``dropped`` (ignored) -- both listed by name."""
    what = cls.__name__
    if not isinstance(d, dict):
        raise LyricdemoError(f"A {what} must be a JSON object; got {type(d).__name__}.")
    names = {f.name for f in config_fields(cls)}
    kw = {}
    for k, v in d.items():
        k = (renamed or {}).get(k, k)
        if k in dropped:
            continue
        if k not in names:
            raise LyricdemoError(f"{what} has no field {k!r}; its fields are {', '.join(sorted(names))}.")
        kw[k] = tuple(v) if isinstance(v, list) else v
    missing = [f.name for f in config_fields(cls) if f.default is dataclasses.MISSING and f.name not in kw]
    if missing:
        raise LyricdemoError(f"The {what} has no {', '.join(missing)}.")
    return cls(**kw)
