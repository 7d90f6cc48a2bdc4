"""A fresh machine and a Hugging Face Space get what the app needs, and only that.

requirements.txt is the run time (a Space installs exactly it); requirements-dev.txt adds the test
tools; pre-requirements.txt gives a Space torch's CPU build.  The README's front matter is the
Space card.  (Whether the pins resolve for the declared Python asks the package index:
``bash tools/check_requirements.sh``, run by hand, never by a test.)
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_TOOLS = {"pytest", "hypothesis", "playwright", "pytest-playwright", "gradio_client", "gradio-client"}


def requirement_lines(name: str) -> list[str]:
    out = []
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def requirement_names(name: str) -> dict[str, str]:
    """{distribution name (normalised): the whole spec} of a requirements file (options skipped)."""
    out = {}
    for line in requirement_lines(name):
        if line.startswith("-"):
            continue
        dist = re.split(r"[<>=!~ ;\[]", line, maxsplit=1)[0]
        out[dist.lower().replace("_", "-")] = line
    return out


def front_matter() -> dict[str, str | list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    block = text[4:text.index("\n---\n", 4)]
    out: dict[str, str | list[str]] = {}
    key = None
    for line in block.splitlines():
        if line.startswith("  - "):
            out.setdefault(key, [])
            out[key].append(line[4:].strip())
        else:
            key, _, value = line.partition(":")
            value = value.strip().strip('"')
            if value:
                out[key] = value
    return out


def test_torch_is_pinned_exactly_and_a_space_gets_the_cpu_build():
    assert requirement_names("requirements.txt")["torch"] == "torch==2.13.0"
    pre = requirement_lines("pre-requirements.txt")
    assert "torch==2.13.0" in pre
    index = [line for line in pre if line.startswith("--index-url")]
    assert index and index[0].rstrip("/").endswith("/whl/cpu"), "a Space must take torch from the CPU wheel index"
    for name in ("requirements-dev.txt",):
        assert "torch" not in requirement_names(name), f"{name} pins torch a second time"


def test_runtime_requirements_hold_no_test_tools_and_dev_adds_them():
    runtime = requirement_names("requirements.txt")
    assert not TEST_TOOLS & set(runtime), f"test tools in requirements.txt: {TEST_TOOLS & set(runtime)}"
    dev = requirement_lines("requirements-dev.txt")
    assert "-r requirements.txt" in dev
    for tool in ("pytest", "hypothesis", "playwright", "pytest-playwright", "gradio-client"):
        assert tool in requirement_names("requirements-dev.txt"), tool
    for spec in runtime.values():
        assert re.search(r"==|>=", spec), f"{spec}: pin or bound every runtime requirement"


def _imported_top_modules(paths) -> set[str]:
    mods = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return mods


def test_every_import_of_the_app_is_installed_by_requirements_txt():
    """The library and app.py import only the standard library, themselves and what requirements.txt
    installs (directly or as a dependency of it: gradio brings gradio_client and huggingface_hub)."""
    files = [REPO / "app.py", *sorted((REPO / "lyricdemo").rglob("*.py"))]
    third_party = {m for m in _imported_top_modules(files)
                   if m not in sys.stdlib_module_names and m not in ("lyricdemo", "__future__")}
    provides = md.packages_distributions()
    runtime = set(requirement_names("requirements.txt"))

    def closure(names: set[str]) -> set[str]:
        seen, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            try:
                reqs = md.requires(name) or []
            except md.PackageNotFoundError:
                continue
            for r in reqs:
                if "extra ==" in r:
                    continue
                todo.append(re.split(r"[<>=!~ ;\[(]", r, maxsplit=1)[0].lower().replace("_", "-"))
        return seen

    installed_by_runtime = closure(runtime)
    for mod in sorted(third_party):
        dists = {d.lower().replace("_", "-") for d in provides.get(mod, [])}
        assert dists, f"{mod} is imported but no installed distribution provides it"
        assert dists & installed_by_runtime, f"{mod} ({dists}) is imported but not installed by requirements.txt"
        assert not dists & {"pytest", "hypothesis", "playwright"}, mod


def test_the_readme_front_matter_is_a_space_card():
    fm = front_matter()
    assert fm["sdk"] == "gradio"
    assert requirement_names("requirements.txt")["gradio"] == f"gradio=={fm['sdk_version']}"
    assert fm["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}", \
        "the tests run on the Python the Space declares"
    assert (REPO / fm["app_file"]).is_file()
    assert 0 < len(fm["short_description"]) <= 60          # the Hub's limit
    assert fm["suggested_hardware"] == "cpu-basic"
    assert fm["license"] == "mit" and (REPO / "LICENSE").is_file()
    assert isinstance(fm["tags"], list) and len(fm["tags"]) >= 3


@pytest.mark.parametrize("env, cores", [("3", 3), ("16", 16)])
def test_limits_follow_the_machine(monkeypatch, env, cores):
    from lyricdemo.ui import limits

    for lim in limits.LIMITS:
        monkeypatch.delenv(lim.env, raising=False)
    monkeypatch.setenv("CPU_CORES", env)
    assert limits.cpu_cores() == cores
    v = limits.check_all()
    assert v["LYRICDEMO_MAX_TRAINING"] == min(cores, 8)
    assert v["LYRICDEMO_MAX_GENERATING"] == cores
    assert v["LYRICDEMO_TORCH_THREADS"] == max(1, cores // min(cores, 8))
    monkeypatch.setenv("LYRICDEMO_MAX_TRAINING", "1")            # an explicit value still wins
    assert limits.max_training() == 1


def test_a_wrong_cpu_cores_is_named(monkeypatch):
    from lyricdemo.errors import LyricdemoError
    from lyricdemo.ui import limits

    monkeypatch.setenv("CPU_CORES", "two")
    with pytest.raises(LyricdemoError, match="CPU_CORES"):
        limits.check_all()
    monkeypatch.delenv("CPU_CORES")
    assert limits.cpu_cores() >= 1
