"""A training run saved to be continued exactly (``python -m lyricdemo train --resume``): the
optimizer's state, the best and last weights, the carried hidden state, the step and epoch, and
both random generators -- tensors for safetensors, the rest JSON (never a pickle).  Used through
``Trainer.state_for_resume`` / ``Trainer.restore_for_resume``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import LyricdemoError


def state_of(trainer) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, JSON-safe dict) that let ``restore`` continue ``trainer``'s run exactly."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    opt = trainer.optimizer.state_dict()
    for pid, st in opt["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous()
    if trainer.best_state is not None:
        for k, v in trainer.best_state.items():
            tensors[f"best.{k}"] = v.detach().cpu().contiguous()
    last = trainer.last_state if trainer.last_state is not None else trainer.model.state_dict()
    for k, v in last.items():
        if not (trainer.model.config.tie_weights and k == "decoder.weight"):
            tensors[f"last.{k}"] = v.detach().cpu().contiguous()
    carried = trainer.carried
    if carried is not None:
        parts = carried if isinstance(carried, tuple) else (carried,)
        for i, t in enumerate(parts):
            tensors[f"carried.{i}"] = t.detach().cpu().contiguous()
    meta = {
        "step": trainer.step, "epoch": trainer.epoch, "batch_in_epoch": trainer.batch_in_epoch,
        "epoch_seed": trainer._epoch_seed,
        "rng_state": _rng_state_to_json(trainer.rng.getstate()),
        "best_val_ppl": trainer.best_val_ppl, "best_read": trainer.best_read, "bad_evals": trainer.bad_evals,
        "train_seconds": trainer.train_seconds, "tokens_seen": trainer.tokens_seen,
        "history": trainer.history,
        "optimizer": {"param_groups": opt["param_groups"],
                      "scalars": {str(pid): {k: v for k, v in st.items() if not isinstance(v, torch.Tensor)}
                                  for pid, st in opt["state"].items()}},
        "carried_parts": 0 if carried is None else (len(carried) if isinstance(carried, tuple) else 1),
        "carried_tuple": isinstance(carried, tuple),
    }
    return tensors, meta

def restore(trainer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Put ``trainer`` back where ``state_of`` found its run: step, optimizer, weights, RNGs."""
    try:
        trainer.step, trainer.epoch = int(meta["step"]), int(meta["epoch"])
        trainer.batch_in_epoch = int(meta["batch_in_epoch"])
        trainer._epoch_seed = meta["epoch_seed"]
        trainer.rng.setstate(_rng_state_from_json(meta["rng_state"]))
        trainer.best_val_ppl, trainer.bad_evals = meta["best_val_ppl"], int(meta["bad_evals"])
        trainer.best_read = meta.get("best_read", trainer.best_val_ppl)   # saved before it was kept apart
        trainer.train_seconds, trainer.tokens_seen = float(meta["train_seconds"]), int(meta["tokens_seen"])
        trainer.history = list(meta["history"])
        state = {}
        for pid, scalars in meta["optimizer"]["scalars"].items():
            state[int(pid)] = dict(scalars)
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, pid, name = k.split(".", 2)
                state.setdefault(int(pid), {})[name] = v.to(trainer.device)
        trainer.optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        trainer.best_state = best or None
        last = {k[5:]: v.to(trainer.device) for k, v in tensors.items() if k.startswith("last.")}
        if last:                                   # the weights the run stopped with, not the best
            with torch.no_grad():
                trainer.model.load_state_dict(last, strict=not trainer.model.config.tie_weights)
        parts = [tensors[f"carried.{i}"].to(trainer.device) for i in range(int(meta["carried_parts"]))]
        trainer.carried = (tuple(parts) if meta["carried_tuple"] else parts[0]) if parts else None
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise LyricdemoError(f"The saved training state cannot be resumed ({e!r}).") from None
    trainer._last_good = [p.detach().clone() for p in trainer.model.parameters()]


def _rng_state_to_json(state) -> list | None:
    if state is None:
        return None
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_state_from_json(data: Sequence | None):
    if data is None:
        return None
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
