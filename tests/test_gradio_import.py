"""The app imports gradio without its run-time stub writer (lyricdemo/ui/gradio_import.py)."""

import subprocess
import sys
import textwrap

import pytest

from lyricdemo.ui import gradio_import


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_the_app_replaces_the_stub_writer_and_leaves_no_finder_behind():
    out = _run("""
        import sys
        import lyricdemo.ui
        import gradio.component_meta as m
        print(m.create_or_modify_pyi.__module__, m.create_or_modify_pyi.__name__)
        print(sum(type(f).__name__ == "_SkipStubs" for f in sys.meta_path))
    """)
    assert out.splitlines() == ["lyricdemo.ui.gradio_import skip_stubs", "0"]


def test_components_made_after_the_import_still_work_and_write_no_stub(tmp_path):
    # a component class defined after the import goes through the metaclass: it must not try to
    # read its own source (there is none for a class made in -c) nor write a .pyi next to it
    out = _run(f"""
        import lyricdemo.ui, gradio as gr, pathlib
        class Shout(gr.Textbox):
            EVENTS = ["change"]
        with gr.Blocks() as demo:
            box = Shout(value="分开")
        print(box.value, hasattr(Shout, "change"), sorted(p.name for p in pathlib.Path({str(tmp_path)!r}).iterdir()))
    """)
    assert out == "分开 True []"


def test_install_does_nothing_once_gradio_is_imported():
    pytest.importorskip("gradio")
    import gradio.component_meta  # noqa: F401  -- already imported by lyricdemo.ui in this process
    assert gradio_import.install() is False
    assert not any(isinstance(f, gradio_import._SkipStubs) for f in sys.meta_path)
