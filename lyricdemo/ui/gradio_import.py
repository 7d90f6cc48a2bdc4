"""Import gradio without its stub writer: 3 of the app's ~10 s start.

Every ``import gradio`` (6.x) re-parses the source of each of its ~80 component classes with
``ast`` and rewrites their ``.pyi`` type stubs inside site-packages
(``gradio.component_meta.create_or_modify_pyi``, called by the components' metaclass). The stubs
are for type checkers only; nothing at run time reads them. Measured on this 2-core machine:
``import gradio`` 5.6 s, of which that function 3.7 s under ``cProfile``; 2.5-3.0 s without it.

``install()`` puts a finder first on ``sys.meta_path`` that lets ``gradio.component_meta`` load
as usual and then replaces that one function with a no-op (the metaclass looks the name up at
each class creation, so every component class made afterwards skips it). The finder removes
itself once it has done so. When gradio is already imported it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

TARGET = "gradio.component_meta"


def skip_stubs(*_args, **_kwargs) -> None:
    """Stands in for ``create_or_modify_pyi``: type stubs are not written at run time."""


class _SkipStubs(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if hasattr(module, "create_or_modify_pyi"):
                module.create_or_modify_pyi = skip_stubs
            uninstall()

        spec.loader.exec_module = exec_module
        return spec


def install() -> bool:
    """Before the first ``import gradio``; returns whether the finder was put in place."""
    if TARGET in sys.modules or any(isinstance(f, _SkipStubs) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _SkipStubs())
    return True


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _SkipStubs)]
