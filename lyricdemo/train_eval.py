"""The trainer's evaluations: how validation is read between steps, and once more at the end.

Between steps, validation is read as up to ``EVAL_STREAMS`` pieces side by side, each at least ``PIECE``
targets long (a batch: several times faster on a CPU than one stream; each piece starts from a zero state),
on a fixed sample of it when ``eval_sample`` asks for one.  Those figures choose the kept weights and draw
the curve.  At the end the kept weights are measured once more on the whole set: as one stream, the figure ``evaluate`` and
the cards give -- or, after a sample (a large set), as pieces again.  The time budget keeps room for
that last read (``final_reserve``), at the speed measured for it: the first evaluation also reads the
whole set as one stream once, timed.  A training slice is read beside validation, always as pieces:
it only shows the reciting, no weights are chosen by it.
"""

from __future__ import annotations

import time

import torch

from .evaluation import EVAL_STREAMS, perplexity, pieces
from .numbers import perplexity_of
from .train_events import Evaluation

# validation targets in the shortest piece read between steps: a precaution, not a measured bound (each piece
# starts without context); the lyrics' 8,014 tokens and an 8,192-token sample still make 16 pieces, and a set
# under 1,000 tokens (大雅's 915), where a batch saves little, stays one stream
PIECE = 500


class Evaluating:
    """Mixed into ``Trainer``: its evaluations (see the module docstring)."""

    def _val_sample(self, full: bool) -> torch.Tensor:
        """The validation ids measured: all of them at the end (``full``) or with ``eval_sample`` 0, else
        the first ``eval_sample`` (a fixed sample: every evaluation reads the same tokens)."""
        ids, n = self.dataset.val_ids, self.config.eval_sample
        return ids if full or not n or n >= len(ids) else ids[:n]

    @property
    def sampled(self) -> bool:
        """Evaluations between steps read a sample of the validation set, not all of it."""
        n = self.config.eval_sample
        return bool(n) and n < len(self.dataset.val_ids) and not self.pair_mode

    @property
    def ends_on_one_stream(self) -> bool:
        """The whole validation set is read as pieces between steps, and as one stream at the end."""
        return not self.pair_mode and not self.sampled and self._val_streams(len(self.dataset.val_ids)) > 1

    @staticmethod
    def _val_streams(tokens: int) -> int:
        """Pieces the validation tokens are read as between steps: up to EVAL_STREAMS, each >= PIECE targets."""
        return pieces(tokens - 1, EVAL_STREAMS, PIECE)

    @property
    def measured_again(self) -> bool:
        """The kept weights are measured once more at the end: the reads between steps differ from it."""
        return self.sampled or self.ends_on_one_stream

    def _read_validation(self, ids: torch.Tensor, full: bool) -> float | None:
        if len(ids) < 2:
            return None
        one_stream = full and not self.sampled
        val = perplexity(self.model, ids, streams=1 if one_stream else self._val_streams(len(ids)))
        if not full and self.ends_on_one_stream and not self.stream_tokens:
            t0 = time.perf_counter()                  # once: the speed of the last read, for final_reserve
            perplexity(self.model, ids, streams=1)
            self.stream_seconds, self.stream_tokens = time.perf_counter() - t0, len(ids)
        return val

    def _evaluate(self, running_nll: float, running_n: int, elapsed: float, full: bool = False) -> Evaluation:
        """Measure validation and a training slice as long; between steps (``full`` False) as pieces, on the
        sample if any, and it tracks the best weights; at the end (``full``) the kept weights, whole set."""
        ds = self.dataset
        t0 = time.perf_counter()
        val_ids = self._val_sample(full)
        val = self._read_validation(val_ids, full)
        if self.pair_mode:
            train_eval = self._pair_perplexity()
        else:
            n = self._train_slice(len(val_ids))
            train_eval = perplexity(self.model, ds.train_ids[:n], streams=EVAL_STREAMS) if len(ds.train_ids) >= 2 else None
        spent = time.perf_counter() - t0
        if not self.pair_mode:
            self.eval_seconds += spent                # all of it; the one-stream read's share is stream_seconds
            self.eval_tokens += len(val_ids) + min(self._train_slice(len(val_ids)), len(ds.train_ids))
        self._track_best(val, full)
        if running_n:
            train_ppl = perplexity_of(running_nll / running_n)
        else:       # the final evaluation after the last one between steps: no batches since, the last figure
            train_ppl = self.history[-1]["train_ppl"] if self.history else float("nan")
        ev = Evaluation(step=self.step, epoch=self._epoch_float(), train_ppl=train_ppl,
                        train_eval_ppl=train_eval, val_ppl=val, best_val_ppl=self.best_val_ppl,
                        elapsed=elapsed + (spent if full else 0.0), val_tokens=len(val_ids),
                        full=len(val_ids) == len(ds.val_ids), kept=full)
        self.history.append(ev.to_dict())
        return ev

    def _track_best(self, val: float | None, full: bool) -> None:
        """Between steps: keep the weights of the best figure read so far (``best_read``), count the evaluations
        without gain.  At the end: the kept weights' figure on the whole set becomes the run's best."""
        if full:
            if val is not None and self.best_state is not None:
                self.best_val_ppl = val
        elif val is not None and (self.best_read is None or val < self.best_read):
            self.best_read = self.best_val_ppl = val
            self.bad_evals = 0
            if self.config.keep_best:
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        elif val is not None:
            self.bad_evals += 1

    def _train_slice(self, val_measured: int) -> int:
        """Training tokens measured beside ``val_measured`` validation tokens: as many (at least 512), or
        with a validation sample the sample's length, at the end too."""
        return max(self.config.eval_sample if self.sampled else val_measured, 512)

    def final_reserve(self) -> float:
        """Seconds kept at the end of a time budget for the last evaluation, on the whole validation set, at
        the speed measured for its reads so far with a 25% margin; 0 before any."""
        if not self.eval_tokens:
            return 0.0
        n = len(self.dataset.val_ids)
        per_token = (self.eval_seconds - self.stream_seconds) / self.eval_tokens       # read as pieces
        val_rate = self.stream_seconds / self.stream_tokens if self.stream_tokens else per_token
        return 1.25 * (val_rate * n + per_token * min(self._train_slice(n), len(self.dataset.train_ids)))

    @torch.inference_mode()
    def _pair_perplexity(self) -> float:
        was = self.model.training
        self.model.eval()
        X, Y = self.dataset.train_ids.unsqueeze(0), self.dataset.train_targets.unsqueeze(0)
        loss, _ = self.model.loss(X.to(self.device), Y.to(self.device))
        self.model.train(was)
        return perplexity_of(float(loss))
