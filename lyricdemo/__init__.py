"""lyricdemo: recurrent language models (RNN, GRU, LSTM) you can open up.

The library is pure Python + PyTorch; the Gradio app in ``lyricdemo.ui`` is a thin
view over it.  Data flows one way::

    text -> clean -> tokens -> Vocab -> ids -> batches -> model -> logits, state
"""

__version__ = "0.1.0"
