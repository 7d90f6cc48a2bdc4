"""Pure functions: plain data (numbers, lists, arrays) -> a plotly ``Figure``.

Nothing here knows about Gradio, models or files; the UI computes the data with
the library and hands it over.  Every figure is built without plotly's per-property
validation (``_validate=False``): the training chart is rebuilt several times a
second while a model trains, and validation would cost more than the rest of the
work together.  The tests rebuild every figure *with* validation, so a typo in a
property name still fails loudly.

Numbers are rounded (``_r``) before they go into a figure: the JSON that travels to
the browser on every update is then about half as long.

One module per tab (``corpus``, ``training``, ``generation``, ``inside``) over ``base``;
every figure is reachable here as before (``from lyricdemo import plots; plots.training_chart``).
"""

import plotly.graph_objects as go  # noqa: F401  (plots.go.Figure in type hints)

from ..vocab import show_token  # noqa: F401
from .base import (BASELINE_DASH, DIVERGING, FONT, FONT_MIN, LOG_AXIS, NARROW_PX, NGRAM_NAMES, PALETTE,
                   TEMPLATE, WRAP_TITLE, _r, decimate, log_spaced)  # noqa: F401
from .corpus import coverage_chart, top_tokens_chart, zipf_chart  # noqa: F401
from .training import RunCurves, TRAINING_HEIGHT, grad_norm_chart, spread_labels, training_chart  # noqa: F401
from .generation import alternatives_chart, entropy_chart, unit_trace_chart  # noqa: F401
from .inside import (CompareRow, PROBABILITY_SCALE, SALIENCY_SCALE, SEQUENTIAL, VIEW_TOKENS, compare_chart,
                     connectivity_chart, figures_page, position_labels, prediction_strip, saliency_chart,
                     saturation_chart, text_grid_chart, trajectory_chart, units_heatmap)  # noqa: F401
