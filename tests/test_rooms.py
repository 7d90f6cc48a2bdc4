"""Smaller rooms (issue 15, step 5): no library module over 500 lines and no function over 60 lines,
unless a ``# long: <reason>`` comment says why -- for a module on or above its first line, for a
function on its ``def`` line (or its first decorator's) or on the comment lines just above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lyricdemo"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

def _says_why(lines: list[str], first: int) -> bool:
    """A ``# long:`` comment with a reason on line ``first`` (1-based) or on the comment lines just above it."""
    if "# long:" in lines[first - 1] and lines[first - 1].split("# long:", 1)[1].strip():
        return True
    i = first - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        if lines[i].lstrip().startswith("# long:") and lines[i].split("# long:", 1)[1].strip():
            return True
        i -= 1
    return False


def too_long(source: str) -> list[str]:
    """What in ``source`` is too long without saying why: 'module (N lines)' and 'name (N lines, line L)'."""
    lines = source.splitlines()
    out = []
    if len(lines) > MAX_MODULE_LINES and not any(
            line.startswith("# long:") and line[7:].strip() for line in lines[:next(
                (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), len(lines))]):
        out.append(f"module ({len(lines)} lines)")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > MAX_FUNCTION_LINES and not _says_why(lines, first):
                out.append(f"{node.name} ({length} lines, line {first})")
    return out


def _modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", _modules())
def test_no_room_is_too_long_without_saying_why(module):
    assert too_long((PACKAGE / module).read_text(encoding="utf-8")) == []


def _function(name: str, lines: int, comment: str = "") -> str:
    """A function of ``lines`` lines (def to return), after an optional comment line."""
    return (f"{comment}\n" if comment else "") + f"def {name}():\n" + "    x = 1\n" * (lines - 2) + "    return x\n"


def test_the_check_finds_a_long_function_and_a_long_module():
    assert too_long(_function("fits", 60)) == []
    assert too_long(_function("long", 61)) == ["long (61 lines, line 1)"]
    nested = "def outer():\n" + "".join("    " + line + "\n" for line in _function("inner", 61).splitlines())
    assert "inner (61 lines, line 2)" in too_long(nested)
    module = "x = 1\n" * 501
    assert too_long(module) == ["module (501 lines)"]
    assert too_long("x = 1\n" * 500) == []
    assert too_long("# long: one table, read top to bottom\n" + module) == []
    assert too_long('"""doc"""\n# long: too late, after the docstring\n' + module) == ["module (503 lines)"]


def test_a_long_comment_must_give_a_reason_and_sit_on_or_above_the_def():
    assert too_long(_function("long", 61, "# long: the page, top to bottom")) == []
    assert too_long(_function("long", 61, "# long:")) == ["long (61 lines, line 2)"]
    assert too_long(_function("long", 61).replace("def long():", "def long():  # long: a reason")) == []
    decorated = "@decorator\n" + _function("long", 61)
    assert too_long(decorated) == ["long (62 lines, line 1)"]
    assert too_long("# long: a reason\n" + decorated) == []
    inside = _function("long", 61).replace("    x = 1\n", "    # long: too late\n", 1)
    assert too_long(inside) == ["long (61 lines, line 1)"]
