"""One-click settings for the app and the CLI (``--preset``): plain data, and ``apply`` to make one whole.

A preset is a partial config in the fields' own names: keyword arguments for
``DataConfig``, ``ModelConfig`` (without ``vocab_size``, which comes from the data) and
``TrainConfig``, over the fields' defaults (not over another preset).  ``apply`` gives
the whole of it; the CLI (``--preset``) and the app (its preset buttons) both read that.

``DEFAULT`` is the recipe ``python -m lyricdemo train`` uses when no flag says
otherwise and the one ``bench/bench_quality.py`` measures: the regularization that
took a char GRU from 0.88x to 0.71x the single-discount Kneser-Ney bigram on held-out
songs -- level with the modified-KN bigram at best (see ``bench/RESULTS.md`` for what
else was tried). The shipped checkpoints use it with the full softmax.

- ``classroom``: the default recipe (full softmax) with lighter dropout (0.1/0.3) and a higher
  learning rate (5e-3) for 300 steps, evaluated every 25; on the d2l lyrics (``CLASSROOM_FOR``)
  half of each target is the bigram's distribution (soft targets).  On the lyrics 3-4% below the
  modified-KN bigram (7% above it before), on the Tang poems 32% below it, on 1 MB of English 40%
  below it (bench/RESULTS.md, "The classroom preset").
- ``d2l``: seed 000's settings — the first 10,000 characters, one-hot input, GRU
  256, SGD with learning rate 1, clipping at 1, batch 32, 35 steps, no dropout —
  so students reproduce the textbook's falling curve, then see its validation
  perplexity climb: the model is reciting its training lyrics.
- ``toy``: seed 002's RNNCell example: "hello" -> "ohlol", one-hot, 4 hidden units,
  Adam 0.1, fifteen steps, every step visible.
"""

from __future__ import annotations

# The training half of the default recipe is TrainConfig's own defaults, and its data half DataConfig's;
# ModelConfig's defaults are d2l's model, so the recipe names what it changes there.
DEFAULT: dict[str, dict] = {
    "label": "Default recipe / 默认配方",
    "data": {},
    "model": {"embed_dim": 128, "dropout_embed": 0.3, "dropout_out": 0.6, "adaptive_cutoffs": (500, 1200)},
    "train": {},
}
# The same with the full softmax: ~8% lower held-out perplexity, ~1.4x slower to train (bench/RESULTS.md).
# The shipped checkpoints use it; the app's knobs have no adaptive softmax, so "classroom" does too.
FULL_SOFTMAX = {k: v for k, v in DEFAULT["model"].items() if k != "adaptive_cutoffs"}

PRESETS: dict[str, dict] = {
    "classroom": {
        "label": "Classroom quick / 课堂快速",
        "data": dict(DEFAULT["data"]),
        # 300 steps are too few to memorize: lighter dropout and a higher rate than the default recipe (found on
        # the Tang poems; at 300 steps 1 MB of English 7.5 against 8.2, the lyrics as before: 201.7 / 197.8
        # against 200.3 / 200.1, seeds 0 / 1)
        "model": dict(FULL_SOFTMAX, dropout_embed=0.1, dropout_out=0.3),
        # a step budget, not a time budget: the result no longer depends on how busy the machine is, only the
        # time does (bench/bench_classroom.py: two of these at once on 2 cores, bench/RESULTS.md);
        # 300 steps = 6 epochs of the lyrics, 12 evaluations; max_seconds is only a safety net
        "train": dict(DEFAULT["train"], lr=5e-3, max_steps=300, max_seconds=300, eval_every=25, early_stopping=0),
    },
    "d2l": {
        "label": "d2l faithful / 忠于 d2l",
        "data": {"newline": "space", "min_freq": 1, "max_tokens": 10_000},
        "model": {"embed_dim": 0},
        "train": {"optimizer": "sgd", "lr": 1.0, "weight_decay": 0.0, "max_seconds": 120, "eval_every": 25,
                  "early_stopping": 0, "keep_best": False},
    },
    "toy": {
        "label": "Toy hello→ohlol / 玩具示例",
        "toy": {"inputs": "hello", "targets": "ohlol"},
        "model": {"kind": "rnn", "embed_dim": 0, "hidden_size": 4},
        "train": {"sampling": "random", "batch_size": 1, "num_steps": 5, "optimizer": "adam", "lr": 0.1,
                  "weight_decay": 0.0, "max_steps": 15, "max_seconds": 0, "eval_every": 1, "early_stopping": 0,
                  "sample_every": 1, "keep_best": False},
    },
}
# The classroom preset's overrides for a corpus that is not embedded (an embedded one names its own:
# corpora.EMBEDDED[name]["classroom"]).  The d2l lyrics: 300 steps read their 56k training characters 6 times,
# and half of each target from the bigram takes the run below the bigram (at 300 steps 178.6 / 180.3 against
# 201.7 / 197.8 without, seeds 0 / 1; the bigram 186.4).  Not for the others: on the Tang poems (2.3 passes) it
# cost 136.9 -> 166.8, on 1 MB of English (0.3 passes) 7.5 -> 9.0 -- the network is far ahead of their bigram.
CLASSROOM_FOR: dict[str, dict] = {"d2l": {"train": {"soft_targets": 0.5}}}
PARTS = ("data", "model", "train")


def apply(preset: str | dict) -> dict[str, dict]:
    """A preset (a name in ``PRESETS``, or ``DEFAULT`` or another such dict) made whole: for each part,
    the config's field defaults with the preset's values over them, in the fields' names.  A key that is
    no field of its config is refused, naming it.  ``vocab_size`` is left out (it comes from the data)."""
    from .data import DataConfig
    from .errors import LyricdemoError
    from .fields import defaults
    from .models import ModelConfig
    from .train import TrainConfig

    if isinstance(preset, str):
        if preset not in PRESETS:
            raise LyricdemoError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
        preset = PRESETS[preset]
    out = {}
    for part, cls in zip(PARTS, (DataConfig, ModelConfig, TrainConfig)):
        base = defaults(cls)
        unknown = sorted(set(preset.get(part, {})) - set(base))
        if unknown:
            raise LyricdemoError(f"The preset {preset.get('label', '')!r} sets {unknown}, not fields of {cls.__name__}.")
        out[part] = {**base, **preset.get(part, {})}
    return out


def apply_for_corpus(preset: str, source: str) -> dict[str, dict]:
    """``apply(preset)`` as the app uses it on the corpus ``source``: the classroom preset takes the
    overrides of that corpus (``CLASSROOM_FOR[source]``, or those an embedded corpus names,
    ``corpora.EMBEDDED[source]["classroom"]``: what makes the quick run beat that corpus's bigram); every
    other preset and corpus, ``apply`` itself."""
    from .corpora import EMBEDDED

    whole = apply(preset)
    if preset == "classroom":
        over = CLASSROOM_FOR.get(source) or EMBEDDED.get(source, {}).get("classroom", {})
        for part, values in over.items():
            whole[part].update(values)
    return whole
