"""One-click settings for the app and the CLI (``--preset``): plain data, no code.

Each preset gives keyword arguments for ``DataConfig``, ``ModelConfig`` (without
``vocab_size``, which comes from the data) and ``TrainConfig``.

- ``classroom``: visibly converges in under a minute on 2 CPU cores, and is the
  best held-out perplexity we found for that budget.
- ``d2l``: seed 000's settings — the first 10,000 characters, one-hot input, GRU
  256, SGD with learning rate 1, clipping at 1, batch 32, 35 steps, no dropout —
  so students reproduce the textbook's falling curve, then see its validation
  perplexity climb: the model is reciting its training lyrics.
- ``toy``: seed 002's RNNCell example: "hello" -> "ohlol", one-hot, 4 hidden units,
  Adam 0.1, fifteen steps, every step visible.
"""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "classroom": {
        "label": "Classroom quick / 课堂快速",
        "data": {"clean": "d2l", "tokenizer": "char", "newline": "token", "min_freq": 2},
        "model": {"kind": "gru", "embed_dim": 128, "hidden_size": 256, "num_layers": 1,
                  "dropout_embed": 0.1, "dropout_out": 0.3},
        "train": {"sampling": "random", "batch_size": 32, "num_steps": 35, "optimizer": "adam", "lr": 2e-3,
                  "clip": True, "clip_theta": 1.0, "max_seconds": 45, "eval_every": 25},
    },
    "d2l": {
        "label": "d2l faithful / 忠于 d2l",
        "data": {"clean": "d2l", "tokenizer": "char", "newline": "space", "min_freq": 1, "max_tokens": 10_000},
        "model": {"kind": "gru", "embed_dim": 0, "hidden_size": 256, "num_layers": 1},
        "train": {"sampling": "sequential", "batch_size": 32, "num_steps": 35, "optimizer": "sgd", "lr": 1.0,
                  "clip": True, "clip_theta": 1.0, "max_seconds": 120, "eval_every": 25, "keep_best": False},
    },
    "toy": {
        "label": "Toy hello→ohlol / 玩具示例",
        "toy": {"inputs": "hello", "targets": "ohlol"},
        "model": {"kind": "rnn", "embed_dim": 0, "hidden_size": 4, "num_layers": 1},
        "train": {"batch_size": 1, "num_steps": 5, "optimizer": "adam", "lr": 0.1, "max_steps": 15,
                  "max_seconds": 0, "eval_every": 1, "sample_every": 1, "keep_best": False},
    },
}
