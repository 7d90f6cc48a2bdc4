"""Training as a generator of events.

``Trainer(model, dataset, config).run()`` yields typed records — ``Started``,
``Baselines``, ``Progress``, ``Evaluation``, ``Sample``, ``TrainWarning``, ``Done``,
``Failed`` — and does nothing else: no printing, no plotting.  The CLI prints them,
the app streams them into a chart, the tests assert on them.

What it does, per step (seed 000's ``train_epoch``, made honest and stoppable)::

    state <- fresh zeros (random sampling)  |  previous state, detached (sequential)
    loss, state <- model.loss(X, Y, state)     (soft targets: soft_targets.py's loss; its cross-entropy reported)
    backward; grad norm (before clipping) -> clip to theta (optional) -> optimizer step

Every ``eval_every`` steps it measures the validation perplexity on held-out lines
(and, for comparison, the perplexity of an equally long slice of the *training*
text in eval mode: when that one nears 1 while validation climbs, the model is
reciting its training lyrics).  Between steps validation is read as pieces side by
side; the kept weights are measured once more at the end (``train_eval.py``).

Stopping: a budget in epochs, steps and/or seconds; early stopping on validation
perplexity (patience in evaluations); ``stop()`` or closing the generator (the app's
Stop button) — the loop checks between steps, so it ends within one step.  With
``keep_best`` the model ends with the weights of its best validation perplexity.
A NaN/inf loss or gradient ends the run with ``Failed`` and the last good weights: those of the last
evaluation whose weights and perplexities were finite (the start, before any).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import torch

from .batches import SAMPLING, batch_iter, num_batches
from .data import Dataset
from .errors import LyricdemoError
from .fields import ConfigError, field, from_dict, to_dict, validate
from .evaluation import EVAL_STREAMS, perplexity  # noqa: F401 -- train.perplexity, as before
from .train_eval import Evaluating
from .models.state import detach_state
from . import train_resume
from .train_events import (  # noqa: F401 -- the events are part of this module's interface (train.Progress, ...)
    Baselines, Done, Evaluation, Event, Failed, Progress, Sample, Started, TrainWarning, diverged)

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train.  Validated on construction; stored in every checkpoint."""

    sampling: str = field("sequential", choices=SAMPLING, help=(
        "random: independent windows, fresh state per batch; sequential: consecutive windows, state carried / "
        "随机采样：每批重置状态；顺序分区：状态跨批传递"))
    batch_size: int = field(32, lo=1, hi=4096, help="Sequences per optimizer step / 每步训练的序列条数")
    num_steps: int = field(35, lo=1, hi=2048, help="T: tokens per sequence, the truncated BPTT length / "
                                                   "每条序列的词元数（截断反向传播长度）")
    optimizer: str = field("adamw", choices=OPTIMIZERS, help="The optimizer / 优化器")
    lr: float = field(3e-3, lo=0.0, lo_open=True, hi=1000.0, help="Learning rate / 学习率")
    weight_decay: float = field(1.0, lo=0.0, hi=10.0, help="Pulls every weight toward zero at each step / 权重衰减")
    lr_schedule: str = field("constant", choices=SCHEDULES, help="constant, or cosine to 5% of lr over the budget / "
                                                                "学习率不变，或按余弦降到 5%")
    clip: bool = field(True, help="Clip the global gradient norm / 裁剪梯度范数")
    clip_theta: float = field(1.0, lo=0.0, lo_open=True, hi=1e6, help="Clipping threshold θ / 裁剪阈值 θ")
    epochs: float = field(0.0, lo=0.0, hi=1e6, help="Budget in epochs (0 = none) / 训练轮数预算（0 为不限）")
    max_steps: int = field(0, lo=0, hi=10**9, help="Budget in optimizer steps (0 = none) / 训练步数预算（0 为不限）")
    max_seconds: float = field(180.0, lo=0.0, hi=7 * 24 * 3600, help="Budget in seconds (0 = none) / "
                                                                      "时间预算，秒（0 为不限）")
    eval_every: int = field(50, lo=0, hi=10**9, help="Steps between evaluations (0: once per epoch) / 每隔几步评估")
    eval_sample: int = field(0, lo=0, hi=10**12, help=(
        "Validation tokens measured between steps, the first N (0: all); the full set at the end / "
        "训练中评估的验证词元数（前 N 个，0 为全部）；结束时评估全部"))
    early_stopping: int = field(6, lo=0, hi=10**6, help="Stop after N evaluations without gain (0: off) / "
                                                       "连续 N 次评估没有改进就停止（0 为关闭）")
    keep_best: bool = field(True, help="End with the weights of the best validation perplexity / 保留最佳权重")
    seed: int = field(0, lo=0, hi=2**32 - 1, help="Same seed, same run / 随机种子")
    sample_prefixes: tuple[str, ...] = field(("分开", "不分开"), items=8, help="Prefixes of the samples shown at "
                                                                          "evaluations / 评估时生成样例的前缀")
    sample_length: int = field(50, lo=0, hi=2000, help="Tokens per sample / 样例长度（词元）")
    sample_every: int = field(1, lo=0, hi=10**6, help="Evaluations between samples (0: only at the end) / "
                                                     "每隔几次评估生成样例")
    device: str = field("auto", choices=("auto", "cpu", "cuda"), help="Where to train / 训练设备")
    soft_targets: float = field(0.0, lo=0.0, hi=0.9, help=(
        "Share of each target given to the Kneser-Ney bigram's distribution after the current token (0: the "
        "next token only; lyricdemo/soft_targets.py) / 训练目标中二元模型分布所占的比例（0 为只用下一个词元）"))

    def __post_init__(self):
        validate(self)
        if not (self.epochs or self.max_steps or self.max_seconds):
            raise ConfigError("Give a budget: epochs, max_steps or max_seconds (all are 0).", "max_seconds")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for, but no CUDA device is available.", "device")

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return from_dict(cls, d)


# ----------------------------------------------------------------------------- trainer
def new_model(config, seed: int = 0):
    """Build a model from a ``ModelConfig`` with a seeded initialisation (reproducible)."""
    from .models import build_model

    torch.manual_seed(seed)
    return build_model(config)


class Trainer(Evaluating):
    """Trains ``model`` on ``dataset`` under ``config``; see the module docstring (and train_eval's)."""

    def __init__(self, model, dataset: Dataset, config: TrainConfig = TrainConfig(),
                 baselines: dict | None = None):
        if model.config.vocab_size != len(dataset.vocab):
            raise LyricdemoError(f"The model expects a vocabulary of {model.config.vocab_size} tokens, "
                                 f"the data has {len(dataset.vocab)}.")
        self.model, self.dataset, self.config = model, dataset, config
        self.device = config.resolved_device()
        self.model.to(self.device)
        self.baselines = baselines
        self.step = 0
        self.epoch = 0                   # completed epochs
        self.batch_in_epoch = 0          # batches done in the current epoch
        self.history: list[dict] = []    # evaluation records (as dicts), for checkpoints and charts
        self.best_val_ppl: float | None = None   # the run's best (at the end: the kept weights' final figure)
        self.best_read: float | None = None      # the best figure read between steps, which the next must beat
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_evals = 0
        self.train_seconds = 0.0         # time spent in training steps (throughput excludes evaluation)
        self.eval_seconds = 0.0          # time spent in evaluations, and the tokens they read: ...
        self.eval_tokens = 0             # ... read as pieces: the final one's cost is foreseen from them ...
        self.stream_seconds, self.stream_tokens = 0.0, 0   # ... and from one timed read as one stream
        self.tokens_seen = 0
        self.carried = None              # the hidden state carried across batches (sequential sampling)
        self.last_state: dict[str, torch.Tensor] | None = None  # the last weights, once best ones replaced them
        self._stop = False
        self._epoch_seed: int | None = None  # seeds the current epoch's batch order
        torch.manual_seed(config.seed)
        self.rng = random.Random(config.seed)
        self.optimizer = self._make_optimizer()
        self._last_good = [p.detach().clone() for p in model.parameters()]
        self.teacher = None              # soft targets' cross-fitted bigrams (built before the first step)

    # -- setup ---------------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        c, params = self.config, list(self.model.parameters())
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay)
        # Adam's update as one fused kernel, not ~10 small operations per tensor: 3.6 against 30.7 ms an update
        # of the default recipe's weights on one busy thread (bench/RESULTS.md, "Training speed")
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=c.lr, weight_decay=c.weight_decay, fused=fused or None)

    @property
    def pair_mode(self) -> bool:
        """The toy task (seed 002): one fixed input sequence and its target sequence."""
        return getattr(self.dataset, "train_targets", None) is not None

    def batches_per_epoch(self) -> int:
        if self.pair_mode:
            return 1
        c = self.config
        return num_batches(len(self.dataset.train_ids), c.batch_size, c.num_steps, c.sampling)

    def stop(self) -> None:
        """Ask the run to end after the current step (thread-safe enough: one flag)."""
        self._stop = True

    def _epoch_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """(X, Y, positions of Y in the training text: with soft targets, else None) per step."""
        if self.pair_mode:
            return iter([(self.dataset.train_ids.unsqueeze(0), self.dataset.train_targets.unsqueeze(0), None)])
        c, ids = self.config, self.dataset.train_ids
        if self._epoch_seed is None:
            self._epoch_seed = self.rng.getrandbits(63)
        rng = random.Random(self._epoch_seed)
        if c.soft_targets:                           # the same windows, read as positions (soft_targets.py)
            it = ((ids[Xp], ids[Yp], Yp) for Xp, Yp in
                  batch_iter(torch.arange(len(ids)), c.batch_size, c.num_steps, c.sampling, rng))
        else:
            it = ((X, Y, None) for X, Y in batch_iter(ids, c.batch_size, c.num_steps, c.sampling, rng))
        for _ in range(self.batch_in_epoch):         # resuming mid-epoch: skip what was done
            next(it, None)
        return it

    def _lr_at(self, progress: float) -> float:
        c = self.config
        if c.lr_schedule == "cosine":
            return c.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        return c.lr

    def _progress(self, elapsed: float) -> float:
        """Share of the budget used (the tightest of the budgets), for schedule and ETA."""
        c, bpe = self.config, max(self.batches_per_epoch(), 1)
        parts = []
        if c.max_seconds:
            parts.append(elapsed / c.max_seconds)
        if c.max_steps:
            parts.append(self.step / c.max_steps)
        if c.epochs:
            parts.append((self.epoch + self.batch_in_epoch / bpe) / c.epochs)
        return max(parts) if parts else 0.0

    def _budget_reason(self, elapsed: float) -> str | None:
        c = self.config
        if c.max_steps and self.step >= c.max_steps:
            return "steps"
        if c.epochs and self.epoch + self.batch_in_epoch / max(self.batches_per_epoch(), 1) >= c.epochs - 1e-9:
            return "epochs"
        if c.max_seconds and elapsed + self.final_reserve() >= c.max_seconds:
            return "budget"
        return None

    # -- one step ---------------------------------------------------------------------------
    def _train_step(self, X: torch.Tensor, Y: torch.Tensor, lr: float,
                    positions: torch.Tensor | None = None) -> tuple[float, float]:
        """One optimizer step; returns (loss, grad norm before clipping).  Raises
        FloatingPointError on a non-finite loss or gradient (weights untouched).  With soft targets the loss is
        soft_targets.py's (``positions``: where Y lies in the training text)."""
        c, model = self.config, self.model
        X, Y = X.to(self.device), Y.to(self.device)
        if c.sampling == "random" or self.carried is None or self.pair_mode:
            state = model.init_state(X.shape[0], self.device)
        else:
            state = detach_state(self.carried)       # keep the state, cut the graph (truncated BPTT)
        if positions is not None:        # the loss learned from; the cross-entropy on the next token reported
            loss, nll, state = self.teacher.loss(model, X, Y, positions, c.soft_targets, state)
        else:
            loss, state = model.loss(X, Y, state)
            nll = loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in model.parameters() if p.grad is not None]
        # one pass computes the norm; with clipping off max_norm=inf only measures it
        norm = float(torch.nn.utils.clip_grad_norm_(params, c.clip_theta if c.clip else float("inf")))
        loss_v = nll.item()
        if not (math.isfinite(loss.item()) and math.isfinite(norm)):
            raise FloatingPointError(f"loss {loss_v}, gradient norm {norm}")
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.optimizer.step()
        self.carried = state
        return loss_v, norm

    def _keep_good(self) -> None:
        """Remember the weights just evaluated (finite weights, finite perplexities) as the last good ones.
        Once per evaluation, not per step: every weight copied at every step was a share of each step's time."""
        with torch.no_grad():
            for keep, p in zip(self._last_good, self.model.parameters()):
                keep.copy_(p)

    def _restore_last_good(self) -> None:
        with torch.no_grad():
            for keep, p in zip(self._last_good, self.model.parameters()):
                p.copy_(keep)

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def _epoch_float(self) -> float:
        return self.epoch + self.batch_in_epoch / max(self.batches_per_epoch(), 1)

    def samples(self) -> list[Sample]:
        """Greedy continuations of the sample prefixes (as d2l's predict_ch)."""
        if self.pair_mode:
            with torch.inference_mode():
                was = self.model.training
                self.model.eval()
                logits, _ = self.model(self.dataset.train_ids.unsqueeze(0).to(self.device))
                self.model.train(was)
            text = self.dataset.vocab.decode(logits.argmax(-1)[0].tolist())
            return [Sample(step=self.step, prefix=self.dataset.tokenizer.detokenize(self.dataset.train_tokens),
                           text=text)]
        c = self.config
        if not c.sample_length:
            return []
        from .generate import DecodeConfig, generate

        out = []
        for prefix in c.sample_prefixes:
            g = generate(self.model, self.dataset.vocab, self.dataset.tokenizer, prefix,
                         DecodeConfig(strategy="greedy", length=c.sample_length))
            out.append(Sample(step=self.step, prefix=prefix, text=g.text))
        return out

    # -- the loop ------------------------------------------------------------------------
    # The training loop, read in one sitting (budget, step, evaluation, stopping), as seed 000's
    # train_epoch was; its parts that are not the loop itself are the methods after it.
    def run(self) -> Iterator[Event]:
        """Train until a budget, early stopping, ``stop()`` or ``close()``; yield events."""
        c, model = self.config, self.model
        bpe = yield from self._opening()
        model.train()
        t_start = time.perf_counter() - self.train_seconds   # resumed runs continue the clock
        eval_every = c.eval_every or bpe
        running_nll, running_n = 0.0, 0
        finished = False
        try:
            while True:
                for X, Y, P in self._epoch_batches():
                    elapsed = time.perf_counter() - t_start
                    reason = "stopped" if self._stop else self._budget_reason(elapsed)
                    if reason:
                        break
                    lr = self._lr_at(self._progress(elapsed))
                    t0 = time.perf_counter()
                    try:
                        loss, norm = self._train_step(X, Y, lr, P)
                    except FloatingPointError as e:
                        self._restore_last_good()
                        finished = True
                        yield diverged(self.config, str(e), self.step + 1)
                        return
                    self._count_step(X.numel(), time.perf_counter() - t0)
                    running_nll, running_n = running_nll + loss * X.numel(), running_n + X.numel()
                    elapsed = time.perf_counter() - t_start
                    tps = self.tokens_seen / max(self.train_seconds, 1e-9)
                    yield Progress(step=self.step, epoch=self._epoch_float(), loss=loss, lr=lr, grad_norm=norm,
                                   tokens_per_s=tps, elapsed=elapsed, eta=self._eta(elapsed))
                    if self.step % eval_every == 0:
                        outcome = yield from self._evaluation_point(running_nll, running_n, t_start)
                        running_nll, running_n = 0.0, 0
                        if isinstance(outcome, Failed):
                            finished = True
                            yield outcome
                            return
                        if outcome:
                            reason = outcome
                            break
                else:
                    self._next_epoch()               # the epoch ran out of batches
                    continue
                break
            if running_n:                             # a last evaluation for the steps since the last one
                yield self._evaluate(running_nll, running_n, time.perf_counter() - t_start)
            kept = self._finish()
            if self.measured_again:                   # the kept weights on the whole validation set
                yield self._evaluate(float("nan"), 0, time.perf_counter() - t_start, full=True)
            finished = True
            yield from self.samples()
            yield self._done(reason, kept, time.perf_counter() - t_start)
        finally:
            if not finished:           # closed from outside (the Stop button): still a usable model
                self._finish()
            model.eval()

    def _opening(self) -> Generator[Event, None, int]:
        """The events before the first step (``Started``, the config's warnings, the baselines); returns the
        number of batches per epoch.  Raises a clear error, before any event, if the text is too short."""
        c, ds, model = self.config, self.dataset, self.model
        bpe = self.batches_per_epoch()
        if not self.pair_mode:
            batch_iter(ds.train_ids, c.batch_size, c.num_steps, c.sampling)   # size check, at once
        yield Started(model=model.describe(), parameters=model.num_parameters(), device=str(self.device),
                      train_tokens=len(ds.train_ids), val_tokens=len(ds.val_ids), batches_per_epoch=bpe)
        for message in model.config.warnings():
            yield TrainWarning(message=message)
        if self.baselines is None and not self.pair_mode and len(ds.val_ids) >= 2:
            from .ngram import baseline_perplexities

            self.baselines = baseline_perplexities(ds.train_ids, ds.val_ids, len(ds.vocab))
        if self.baselines:
            yield Baselines(perplexities=dict(self.baselines))
        if c.soft_targets and not self.pair_mode:
            from .soft_targets import BigramTeacher

            self.teacher = BigramTeacher(ds.train_ids, len(ds.vocab))
        return bpe

    def _count_step(self, tokens: int, seconds: float) -> None:
        """One optimizer step of ``tokens`` tokens done in ``seconds``."""
        self.train_seconds += seconds
        self.step += 1
        self.batch_in_epoch += 1
        self.tokens_seen += tokens

    def _next_epoch(self) -> None:
        if self.batch_in_epoch == 0:     # never spin on an epoch without batches
            raise LyricdemoError("The training text gives no full batch; use a smaller batch or fewer steps.")
        self.epoch += 1
        self.batch_in_epoch = 0
        self._epoch_seed = None
        self.carried = None              # sequential: a new epoch starts from zeros

    def _evaluation_point(self, nll: float, n: int,
                          t_start: float) -> Generator[Event, None, Failed | str | None]:
        """Evaluate (and sample) after ``n`` training tokens of total loss ``nll``; yields the evaluation and
        samples.  Returns the ``Failed`` event (not yet yielded) of weights or perplexities gone non-finite,
        the last good weights restored; ``"early_stopping"`` when patience ran out; else None."""
        c = self.config
        if not self._weights_finite():
            self._restore_last_good()
            return diverged(self.config, "weights became inf/NaN", self.step)
        ev = self._evaluate(nll, n, time.perf_counter() - t_start)
        yield ev
        if not all(math.isfinite(v) for v in (ev.val_ppl, ev.train_eval_ppl) if v is not None):
            self._restore_last_good()
            return diverged(self.config, "perplexity overflowed", self.step)
        self._keep_good()
        if c.sample_every and (len(self.history) % c.sample_every == 0):
            yield from self.samples()
        if c.early_stopping and self.bad_evals >= c.early_stopping:
            return "early_stopping"
        return None

    def _done(self, reason: str, kept: str, elapsed: float) -> Done:
        final = self.history[-1]["val_ppl"] if self.history else None
        return Done(reason=reason, step=self.step, epoch=self._epoch_float(), elapsed=elapsed,
                    tokens_per_s=self.tokens_seen / max(self.train_seconds, 1e-9),
                    best_val_ppl=self.best_val_ppl, final_val_ppl=final, kept=kept)

    def _finish(self) -> str:
        """Hand over the best weights (``keep_best``); the last ones stay kept for a resume."""
        if self.config.keep_best and self.best_state is not None:
            self.last_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.model.load_state_dict(self.best_state)
            return "best"
        return "last"

    def _eta(self, elapsed: float) -> float | None:
        p = self._progress(elapsed)
        if p <= 0:
            return None
        return max(elapsed / p - elapsed, 0.0)

    # -- resume (train_resume.py) ------------------------------------------------------------
    def state_for_resume(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-safe dict) that let ``restore_for_resume`` continue this run exactly."""
        return train_resume.state_of(self)

    def restore_for_resume(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        train_resume.restore(self, tensors, meta)
