"""The default recipe sized to the corpus: one rule, here, and nowhere else.

``python -m lyricdemo train`` without flags reads its training text, then asks ``adapt`` how to train on
it.  The rule reads two numbers of the data -- the training tokens ``N`` and the vocabulary ``V`` -- and one
of the machine: how many times the time budget lets the model read the training text,

    passes = seconds x tokens_per_s / N          (tokens_per_s: the default GRU's speed on 2 cores, ~15k/s)

Many passes (a small corpus, d2l's lyrics: ~48) mean the model would recite its training text: it gets
today's heavy regularization (dropout 0.3/0.6, weight decay 1.0, ``presets.DEFAULT``) and the full softmax:
early stopping ends such a run long before its budget, so the full softmax's slower steps cost nothing and
its held-out perplexity is 8% lower (the lyrics: 188.6 against 206.1 with the adaptive softmax, seed 0;
bench/RESULTS.md), and, unless the corpus is so small that its budget is shortened (below), two
regularizers of AWD-LSTM: weight drop on the recurrent matrices and locked dropout (the lyrics: 184.5
against 189.0, the mean of seeds 0-2; on 大雅, 7.6k training tokens, they cost 2.5%), and the bigram's soft
targets: ``SOFT_TARGETS`` of each training target is the Kneser-Ney bigram's distribution after the current
token (``soft_targets.py``; the lyrics 171.8 against 185.4, seed 0; on the Tang poems, 18 passes, they cost 10-20%).
Few passes (a
1 MB text: ~3) mean it never sees a line twice: it gets light regularization (dropout 0.05/0.1, weight
decay 0.1) and, from ``LARGE`` training tokens, steps of 256 rows of 9 tokens instead of 32 of 35: the hidden state
is still carried from batch to batch (sequential sampling), so the model reads as far back as before and only
the gradient stops sooner, while the recurrent product, 256 rows at a time, runs faster on a CPU (1 MB of
English: 1.32x the tokens per second of 64 x 35; 5 MB of 全唐诗: 1.23x and 3.8% lower perplexity; the 148k training
characters of the Tang poems: 1.28-1.64x and 1.1-1.4% lower than 32 x 35, seeds 0 and 1).  A corpus
the budget reads at most ``LIGHT_PASSES`` times gets a wider GRU, 384 (the English text: 1.554 and 1.550 nats
per character, seeds 0 and 1, against 1.566 for 256).  In between, the
regularization follows log(passes) in a straight line.  A run with fewer than ``HEAVY_PASSES`` passes uses
its whole budget (early stopping ends the heavy ones long before): its learning rate falls along a cosine to
5% at the end of the budget (on 1 MB of English, 1.583 against 1.642 nats per character for a constant
rate, the same run otherwise: bench/RESULTS.md); the heavy ones keep a constant rate.  A corpus so small
that the budget would read it more than ``MAX_PASSES`` times gets a shorter budget (never under a minute).
A model started from pretrained weights (``train --init-from``, ``lyricdemo/transfer.py``) is sized the
same way, at ``FINE_TUNE_LR`` of the learning rate: fine-tuning refines what pretraining learned.

Evaluation: a validation set longer than ``EVAL_SAMPLE`` tokens is measured between steps on a fixed
sample (its first ``EVAL_SAMPLE`` tokens, read as a batch), every ``eval_every`` steps, chosen so that the
steps between two evaluations train on at least ``TRAIN_PER_EVAL`` times the tokens one evaluation reads
(about 5% of the time); the whole set is measured once, at the end, inside the budget.  A smaller one
(the lyrics') is measured whole every 50 steps, as 16 pieces side by side, and once more at the end as one
stream (``train_eval``).

Every value the rule returns is a field of ``DataConfig``, ``ModelConfig`` or ``TrainConfig`` (the
parts of ``presets.apply``); ``Recipe.reasons`` says why, in one line each, and the CLI prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

REFERENCE_TOKENS_PER_S = 15_000   # the default GRU 256 on 2 busy cores (issue 16: ~15.6k tokens/s)
HEAVY_PASSES = 30.0               # at least this many passes: today's lyrics recipe (the lyrics get ~48)
LIGHT_PASSES = 3.0                # at most this many: the lightest regularization
MAX_PASSES = 150.0                # more than this: a shorter budget, ...
MIN_SECONDS = 60.0                # ... but never under a minute
EVAL_SAMPLE = 8_192               # validation tokens measured between steps (the lyrics' 8,014 are all of them)
WEIGHT_DROP = 0.5                 # heavy corpora: W_hh's weight drop, with locked dropout (the lyrics 189.0 -> 184.5,
                                  # seeds 0-2; 大雅, whose budget is shortened, 57.7 -> 59.2: not there)
TRAIN_PER_EVAL = 20.0             # training tokens per evaluated token between two sampled evaluations
LARGE = 100_000                   # training tokens from which a step is WIDE_ROWS rows of WIDE_STEPS tokens (the
                                  # Tang poems, 148k: 101.8 / 103.3 against 103.3 / 104.5 for 32 x 35, seeds 0 / 1)
WIDE_ROWS, WIDE_STEPS = 256, 9    # (about the tokens of 64 x 35, in a faster layout; bench/RESULTS.md)
STEP_TOKENS = 32 * 35             # the tokens of a step the base learning rate (3e-3) was chosen for
SOFT_TARGETS = 0.3                # heavy corpora: this share of each target is the bigram's distribution (the lyrics
                                  # 171.8 against 185.4, seed 0; 大雅 55.3 against 57.3; the Tang poems, 18 passes,
                                  # 122.9 against 102.0: the network is far ahead of the bigram; soft_targets.py)
FINE_TUNE_LR = 1 / 3              # a model started from pretrained weights (--init-from) learns at this share of
                                  # the rate (the lyrics from 10 min of reviews: 148.7 against 157.7 at the full rate)

# (heavy, light) ends of each regularization knob
DROPOUT_EMBED = (0.3, 0.05)
DROPOUT_OUT = (0.6, 0.1)
WEIGHT_DECAY = (1.0, 0.1)


@dataclass(frozen=True)
class Recipe:
    """What ``adapt`` chose: config overrides by part (``data``, ``model``, ``train``) and why."""

    data: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    passes: float = 0.0
    reasons: tuple[str, ...] = ()

    def parts(self) -> dict[str, dict]:
        return {"data": dict(self.data), "model": dict(self.model), "train": dict(self.train)}

    def flat(self) -> dict:
        """Every override in the fields' names (the CLI's flag destinations)."""
        return {**self.data, **self.model, **self.train}


def heaviness(passes: float) -> float:
    """0 (light) .. 1 (heavy): where ``passes`` lies between ``LIGHT_PASSES`` and ``HEAVY_PASSES``, in log."""
    if passes <= LIGHT_PASSES:
        return 0.0
    if passes >= HEAVY_PASSES:
        return 1.0
    return math.log(passes / LIGHT_PASSES) / math.log(HEAVY_PASSES / LIGHT_PASSES)


def _between(ends: tuple[float, float], h: float, log: bool = False) -> float:
    heavy, light = ends
    if log:
        return round(math.exp(math.log(light) + h * (math.log(heavy) - math.log(light))), 2)
    return round(light + h * (heavy - light), 2)


def adapt(train_tokens: int, vocab_size: int, val_tokens: int = 0, seconds: float = 180.0,
          tokens_per_s: float = REFERENCE_TOKENS_PER_S, fine_tune: bool = False) -> Recipe:
    """The recipe for ``train_tokens`` training tokens of a ``vocab_size`` vocabulary (``val_tokens``
    held out) under a budget of ``seconds``; ``fine_tune``: the model starts from pretrained weights.
    See the module docstring for the rule."""
    if train_tokens < 1 or vocab_size < 2:
        raise ValueError("adapt needs at least one training token and two vocabulary entries")
    shorter = _shorter_budget(train_tokens, seconds, tokens_per_s)
    reasons = [shorter[1]] if shorter else []
    seconds = shorter[0] if shorter else seconds
    passes = seconds * tokens_per_s / train_tokens
    h = heaviness(passes)
    whole_budget = passes < HEAVY_PASSES         # no early stopping ends it: the rate can anneal over the budget
    hidden, batch, steps, lr, shape_reasons = _shape(train_tokens, passes)
    model = {
        "hidden_size": hidden,
        "dropout_embed": _between(DROPOUT_EMBED, h),
        "dropout_out": _between(DROPOUT_OUT, h),
    }
    train = {
        "max_seconds": round(seconds, 1),
        "weight_decay": _between(WEIGHT_DECAY, h, log=True),
        "batch_size": batch,
        "num_steps": steps,
        "lr": lr,
        "lr_schedule": "cosine" if whole_budget else "constant",
    }
    reasons.append(f"~{passes:.1f} passes over {train_tokens:,} training tokens in {seconds:.0f} s: "
                   f"regularization {h:.2f} of the way from light to heavy -> dropout {model['dropout_embed']:g}/"
                   f"{model['dropout_out']:g}, weight decay {train['weight_decay']:g} / "
                   f"按可读遍数调节正则化强度")
    if not whole_budget:
        reasons += _heavy(model, train, awd=not shorter)
    else:
        reasons.append(f"fewer than {HEAVY_PASSES:.0f} passes: the run uses its whole budget, so the learning "
                       f"rate falls along a cosine to 5% at its end / 遍数不多，学习率按余弦在预算内降到 5%")
    reasons += shape_reasons
    if fine_tune:
        reasons.append(_fine_tuned(train))
    evaluation, why = _evaluation(val_tokens, batch * steps)
    train.update(evaluation)
    reasons.append(why)
    data = {}
    if vocab_size > 6_000:
        data["min_freq"] = 3
        reasons.append(f"{vocab_size:,} distinct tokens: the rarest (seen < 3 times) become <unk> / "
                       "词表很大：出现少于 3 次的词元记为 <unk>")
    return Recipe(data=data, model=model, train=train, passes=passes, reasons=tuple(reasons))


def _heavy(model: dict, train: dict, awd: bool) -> list[str]:
    """A corpus read at least ``HEAVY_PASSES`` times (early stopping ends its run): the full softmax, the bigram's
    soft targets and, with ``awd`` (not a corpus so small its budget is shortened), AWD-LSTM's two dropouts
    (``model`` and ``train`` changed); why."""
    model["adaptive_cutoffs"] = ()               # early stopping ends it: the slower, better softmax is free
    train["soft_targets"] = SOFT_TARGETS         # read so often that each pair seen is learned as all there is
    reasons = [f"at least {HEAVY_PASSES:.0f} passes: early stopping ends the run long before its budget, so it "
               f"takes the full softmax (slower steps, lower perplexity) / 遍数多、早停远早于预算：用完整 softmax",
               f"so many passes, each pair seen is learned as all there is: {SOFT_TARGETS:g} of each target is the "
               f"Kneser-Ney bigram's distribution after the current token (soft targets, lyricdemo/soft_targets.py) "
               f"/ 遍数多：训练目标的 {SOFT_TARGETS:g} 取自二元模型的分布（软目标）"]
    if awd:                                      # many passes, not a tiny corpus: AWD-LSTM's two dropouts
        model.update(dropout_hh=WEIGHT_DROP, locked_dropout=True)
        reasons.append(f"so many passes memorize: AWD-LSTM's weight drop {WEIGHT_DROP:g} on the recurrent matrices "
                       f"and locked (variational) dropout (not on a corpus so small its budget is shortened) / "
                       f"遍数多易背诵：循环矩阵权重丢弃 {WEIGHT_DROP:g}，变分丢弃（极小语料除外）")
    return reasons


def _fine_tuned(train: dict) -> str:
    """A model started from pretrained weights: ``FINE_TUNE_LR`` of the learning rate (``train`` changed); why."""
    lr = train["lr"]
    train["lr"] = round(lr * FINE_TUNE_LR, 5)
    return (f"starting from pretrained weights: learning rate {train['lr']:g}, {FINE_TUNE_LR:.2g} of {lr:g}, so "
            f"fine-tuning refines what was learned instead of overwriting it / 从预训练权重开始：学习率降为三分之一")


def _shape(train_tokens: int, passes: float) -> tuple[int, int, int, float, list[str]]:
    """(GRU width, rows, tokens per row, learning rate, why) for a corpus of ``train_tokens`` read ``passes`` times."""
    reasons, large = [], train_tokens >= LARGE
    batch, steps = (WIDE_ROWS, WIDE_STEPS) if large else (32, 35)
    lr = round(3e-3 * math.sqrt(batch * steps / STEP_TOKENS), 5)
    if large:
        reasons.append(f"{train_tokens:,} training tokens >= {LARGE:,}: steps of {batch} rows x {steps} tokens (the "
                       f"state still carried from batch to batch; faster on a CPU than 32 x 35), learning rate "
                       f"{lr:g} (scaled by the square root of the tokens per step) / 语料较大：每步 {batch} 行 "
                       f"x {steps} 个词元（状态照样跨批传递），学习率随每步词元数调整")
    hidden = 384 if passes <= LIGHT_PASSES else 256
    if hidden > 256:
        reasons.append(f"at most {LIGHT_PASSES:.0f} passes: nothing is read often enough to memorize, so a wider GRU, "
                       f"{hidden} / 遍数很少：加宽 GRU 到 {hidden}")
    return hidden, batch, steps, lr, reasons


def _shorter_budget(train_tokens: int, seconds: float, tokens_per_s: float) -> tuple[float, str] | None:
    """A corpus so small that ``seconds`` would read it more than ``MAX_PASSES`` times: the shorter budget (never
    under ``MIN_SECONDS``) and why; None for any other."""
    passes = seconds * tokens_per_s / train_tokens
    shorter = max(MIN_SECONDS, MAX_PASSES * train_tokens / tokens_per_s)
    if passes <= MAX_PASSES or shorter >= seconds:
        return None
    return shorter, (f"time {shorter:.0f} s: {seconds:.0f} s would read the {train_tokens:,} training tokens "
                     f"{passes:.0f} times; {MAX_PASSES:.0f} passes are enough / 语料很小，缩短训练时间")


def _evaluation(val_tokens: int, step_tokens: int) -> tuple[dict, str]:
    """How often, and on how much of the validation set, the run is evaluated between steps; and why."""
    if val_tokens > EVAL_SAMPLE:
        # between evaluations: the validation sample and an equally long training slice are read (a batch of
        # trainer.EVAL_STREAMS pieces, at about the training's speed per token): >= 20x as many are trained
        every = max(50, math.ceil(TRAIN_PER_EVAL * 2 * EVAL_SAMPLE / step_tokens))
        return {"eval_sample": EVAL_SAMPLE, "eval_every": every}, (
            f"evaluate {EVAL_SAMPLE:,} of the {val_tokens:,} validation tokens every {every} steps, all of them at "
            f"the end / 训练中每 {every} 步评估验证样本，结束时评估全部")
    # a small validation set: all of it every 50 steps, as the lyrics always were
    return {"eval_every": 50}, f"evaluate all {val_tokens:,} validation tokens every 50 steps / 每 50 步评估全部验证集"
