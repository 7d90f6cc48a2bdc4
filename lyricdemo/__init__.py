"""lyricdemo: recurrent language models (RNN, GRU, LSTM) you can open up.

The library is pure Python + PyTorch; the Gradio app in ``lyricdemo.ui`` is a thin
view over it.  Data flows one way::

    text -> clean -> tokens -> Vocab -> ids -> batches -> model -> logits, state
"""

# Threads: the library leaves OpenMP's wait policy alone.  A single process computing on
# its own (the CLI, a benchmark) is fastest that way: measured on 2 cores, 2 threads,
# passive waiting costs ~25% of a GRU's training throughput and ~3x at batch-1 decoding
# (waking a sleeping thread for every small op).  Where several computations share the
# cores -- the app server, the test suite -- app.py and tests/conftest.py set
# OMP_WAIT_POLICY=PASSIVE before torch loads (see bench/RESULTS.md).

__version__ = "0.1.0"
