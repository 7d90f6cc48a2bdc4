"""Recurrent language models: torch.nn and scratch cells behind one interface.

    from lyricdemo.models import ModelConfig, build_model
    model = build_model(ModelConfig(vocab_size=len(vocab), kind="lstm", embed_dim=128))
    logits, state = model(ids)                   # ids (B, T) -> logits (B, T, V)
    step_logits, state = model.stepper().step(logits[:, -1].argmax(-1), state)   # one more token, fast: (B, V)
    twin = model.with_impl("scratch")            # same weights, gates exposed
    logits, state, gates = twin.forward_with_gates(ids)
"""

from .lm import BIDIRECTIONAL_WARNING, IMPLS, ModelConfig, RNNLM, build_model
from .scratch import CELL_KINDS, ScratchRNN
from .stepper import Stepper
from .state import cat_states, detach_state, index_state, map_state, narrow_state, state_to

__all__ = [
    "BIDIRECTIONAL_WARNING", "CELL_KINDS", "IMPLS", "ModelConfig", "RNNLM", "ScratchRNN", "Stepper", "build_model",
    "cat_states", "detach_state", "index_state", "map_state", "narrow_state", "state_to",
]
