"""lyricdemo: recurrent language models (RNN, GRU, LSTM) you can open up.

The library is pure Python + PyTorch; the Gradio app in ``lyricdemo.ui`` is a thin
view over it.  Data flows one way::

    text -> clean -> tokens -> Vocab -> ids -> batches -> model -> logits, state
"""

import os

# OpenMP threads that finish a parallel region spin-wait for the next one by default.
# On a small shared machine (a 2-core Space, a classroom server running two trainings,
# CI) a spinning thread steals the core another process needs, and measured training
# throughput fell from ~10k to ~0.6k tokens/s.  Passive waiting keeps it near ~10k.
# It only takes effect if torch is imported after lyricdemo (app.py, the CLI, tests do).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
