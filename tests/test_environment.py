"""``environment.env_number``: one reader for every number the environment sets (the app's limits,
``LYRICDEMO_MAX_LENGTH``, the CLI's ``LYRICDEMO_MAX_TRAIN_SECONDS`` cap)."""

from __future__ import annotations

import pytest

from lyricdemo.environment import env_number
from lyricdemo.errors import LyricdemoError


@pytest.mark.parametrize("raw, kw, expected", [
    (None, {}, 7), ("  ", {}, 7), ("12", {}, 12), ("3", {}, 3), ("3.5", {"whole": False}, 3.5),
])
def test_reads_or_defaults(monkeypatch, raw, kw, expected):
    if raw is None:
        monkeypatch.delenv("LD_TEST_NUMBER", raising=False)
    else:
        monkeypatch.setenv("LD_TEST_NUMBER", raw)
    assert env_number("LD_TEST_NUMBER", 7, 3, 12, **kw) == expected


@pytest.mark.parametrize("raw, kw, match", [
    ("lots", {}, "whole number"), ("2.5", {}, "whole number"), ("13", {}, "from 3 to 12"), ("2", {}, "from 3"),
    ("nan", {"whole": False}, "from 3"), ("inf", {"whole": False}, "to 12"), ("3", {"lo_open": True}, "above 3"),
])
def test_a_wrong_value_names_itself(monkeypatch, raw, kw, match):
    monkeypatch.setenv("LD_TEST_NUMBER", raw)
    with pytest.raises(LyricdemoError, match=f"LD_TEST_NUMBER must be .*{match}"):
        env_number("LD_TEST_NUMBER", 7, 3, 12, **kw)
