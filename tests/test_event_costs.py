"""Gradio's per-session and per-event costs removed by lyricdemo/ui/event_costs.py: what Gradio reads
from a session is what its own code would have given."""

import importlib.util

import pytest
from gradio import state_holder

from lyricdemo.ui import build_app, event_costs


@pytest.fixture(scope="module")
def demo():
    app = build_app()            # installs the patch
    app.queue()
    return app


def _gradio_session(demo):
    event_costs.uninstall()
    try:
        return state_holder.SessionState(demo)
    finally:
        event_costs.install()


def test_a_lazy_session_has_gradio_s_attributes_and_the_same_configs_in_the_same_order(demo):
    ours, theirs = state_holder.SessionState(demo), _gradio_session(demo)
    assert type(ours.config_values) is event_costs.LazyConfigs
    assert type(theirs.config_values) is dict
    assert vars(ours).keys() == vars(theirs).keys()          # Gradio added nothing the patch leaves out
    assert len(ours.config_values) == len(theirs.config_values) > 100
    assert list(ours.config_values) == list(theirs.config_values)
    assert dict(ours.config_values.items()) == theirs.config_values
    assert list(ours.components) == list(theirs.components)


def test_reading_one_block_computes_only_that_one_and_writes_stay_per_session(demo):
    a, b = state_holder.SessionState(demo), state_holder.SessionState(demo)
    key = next(k for k in a.blocks_config.blocks if k in a.config_values and "props" in
               _gradio_session(demo).config_values[k])
    assert dict.__len__(a.config_values) == 0
    a._update_value_in_config(key, "分开")                    # what Gradio does at each event's inputs and outputs
    assert dict.__len__(a.config_values) == 0                 # ... kept until the copy is needed
    assert a.config_values[key]["props"]["value"] == "分开"
    assert dict.__len__(a.config_values) == 1
    a._update_value_in_config(key, "开不了口")                 # a made copy is written at once, as Gradio does
    assert a.config_values[key]["props"]["value"] == "开不了口"
    assert b.config_values[key]["props"].get("value") != "分开"   # another session's copy is its own
    assert key in a.config_values and -1 not in a.config_values and a.config_values.get(-1) is None
    with pytest.raises(KeyError):
        a.config_values[-1]


def test_values_written_before_a_deep_link_are_in_it_as_gradio_writes_them(demo):
    ours, theirs = state_holder.SessionState(demo), _gradio_session(demo)
    keys = [k for k, c in theirs.config_values.items() if "props" in c][:5]
    for i, k in enumerate(keys):
        for s in (ours, theirs):
            s._update_value_in_config(k, f"v{i}")
    assert dict(ours.config_values.items()) == theirs.config_values
    assert [ours.config_values[k]["props"]["value"] for k in keys] == ["v0", "v1", "v2", "v3", "v4"]


def test_a_missing_matplotlib_fails_at_once_without_searching_the_path(monkeypatch):
    if importlib.util.find_spec("matplotlib") is not None and "matplotlib" not in __import__("sys").modules:
        pytest.skip("matplotlib is installed here: the patch leaves it alone")
    event_costs.install()
    searched = []
    monkeypatch.setattr("importlib.machinery.PathFinder.find_spec",
                        classmethod(lambda cls, name, *a, **k: searched.append(name)))
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    assert searched == []
