"""Numbers as a reader and a JSON file can take them: one rule each, used everywhere.

* perplexity from a mean negative log-likelihood in nats, ``inf`` (not an ``OverflowError``)
  for a diverged model: ``exp(x)`` overflows a float above x = 709.78;
* JSON has no NaN or infinity: they become ``null`` (a gap in a chart, "–" in a table).
"""

from __future__ import annotations

import math

import numpy as np

EXP_MAX = 709.0                   # math.exp overflows a float just above 709.78


def perplexity_of(mean_nll: float) -> float:
    """exp(mean NLL in nats); ``inf`` when that overflows (a diverged model's text)."""
    return math.exp(mean_nll) if mean_nll < EXP_MAX else math.inf


def json_safe(obj):
    """The same structure with every non-finite float (a diverged run's perplexity) as None;
    tuples become lists, as JSON writes them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def rounded(a, digits: int) -> list | float | None:
    """A number or an array as (nested lists of) floats rounded to ``digits`` decimals; NaN/inf -> None."""
    r = np.round(np.asarray(a, dtype=np.float64), digits)
    if np.isfinite(r).all():
        return r.tolist()
    if r.ndim == 0:
        return None
    obj = r.astype(object)
    obj[~np.isfinite(r)] = None
    return obj.tolist()
