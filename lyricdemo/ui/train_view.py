"""What the train tab shows of a run: the status line, the charts, the samples, the warnings and the
run as JSON -- built from a ``TrainingRun`` for its owner (``tab_train``) and for its followers
(``train_follow``) alike."""

from __future__ import annotations

import math

import gradio as gr

from .. import plots
from ..ngram import standing
from ..train import Done, Failed
from . import limits, registry, runs
from .session import Session
from .training_run import TrainingRun

X_AXES = ("step", "seconds")


def fmt_s(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def _ppl(x) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:,.1f}"


def verdict(best_val: float | None, baselines: dict | None) -> str:
    """The end of every run in one line: did it beat the bigram (modified Kneser-Ney) on held-out lines,
    and by how much; within 2% of it is "level", not a win (``ngram.standing``)."""
    bigram = (baselines or {}).get("bigram")
    if best_val is None or not math.isfinite(best_val) or not bigram:
        return ""
    where = standing(best_val, bigram)
    if where == "below":
        pct = 100 * (1 - best_val / bigram)
        return (f"✓ **beats the bigram by {pct:.0f}%** (best validation {best_val:,.1f} vs bigram {bigram:,.1f}) / "
                f"**比二元模型低 {pct:.0f}%**")
    if where == "level":
        return (f"≈ **level with the bigram** ({best_val:,.1f} vs {bigram:,.1f}): not below it, train longer / "
                f"**与二元模型持平**（{best_val:,.1f} 对 {bigram:,.1f}）：请训练更久")
    return (f"✗ **not yet below the bigram** ({best_val:,.1f} vs {bigram:,.1f}): train longer / "
            f"**还没有低于二元模型**（{best_val:,.1f} 对 {bigram:,.1f}）：请训练更久")


def memorization_gap(train_ppl: float | None, val_ppl: float | None) -> str:
    """Train vs validation perplexity on equally long texts: how far the model has started to recite."""
    if train_ppl is None or val_ppl is None or not (math.isfinite(train_ppl) and math.isfinite(val_ppl)) \
            or train_ppl <= 0:
        return ""
    r = val_ppl / train_ppl
    state = ("not memorizing: both fall together / 未背诵：两者一起下降" if r < 1.3 else
             "starting to memorize / 开始背歌词" if r < 2 else
             "memorizing its training lyrics / 在背训练歌词")
    return (f"memorization gap / 记忆差距: train {train_ppl:,.1f} vs validation {val_ppl:,.1f} (×{r:.2f}) — "
            f"{state}")


def status_markdown(run: TrainingRun | None, follower: bool = False) -> str:
    """One or two lines: where the run is, how fast, how good, and what it means (and how to share it)."""
    if run is None:
        n = limits.max_training()
        return ("Ready. Pick a preset or set the knobs, then press **Start**. At most "
                f"{n} run{'s' if n > 1 else ''} train at once on this server; when all are busy yours waits in the "
                "queue and its position shows here. / 选择预设或调整参数，然后点击“开始训练”；服务器同时最多训练 "
                f"{n} 个模型，其余的排队（此处显示排队位置）。")
    p, ev, out = run.progress, run.last_eval, run.outcome
    lines = []
    if isinstance(out, Done):
        why = {"budget": "time budget reached / 到达时间预算", "steps": "step budget reached / 到达步数上限",
               "epochs": "epochs done / 轮数完成", "early_stopping": "early stopping / 提前停止",
               "stopped": "stopped / 已停止"}.get(out.reason, out.reason)
        lines.append(f"✓ **{run.label}: {why}** after {out.step:,} steps / 步 ({out.epoch:.2f} epochs / 轮, "
                     f"{fmt_s(out.elapsed)}) · **{out.tokens_per_s:,.0f} tokens/s / 词元每秒** · "
                     f"best validation perplexity / 最佳验证困惑度 **{_ppl(out.best_val_ppl)}**{_kept_note(run)} · "
                     f"weights kept / 保留的权重: {out.kept}")
        lines.append(verdict(out.best_val_ppl, run.baselines)
                     or "No validation text: no verdict against the bigram. / 没有验证文本，无法与二元模型比较。")
    elif isinstance(out, Failed):
        lines.append(f"✗ **{run.label}: {out.message}**")
    elif not run.running:
        lines.append(f"■ **{run.label}: stopped / 已停止** after {run.progress.step if p else 0:,} steps / 步")
        if ev is not None:
            lines.append(verdict(ev.best_val_ppl, run.baselines))
        lines = [x for x in lines if x]
    elif p is None:
        lines.append(f"… **{run.label}**: preparing (n-gram baselines, first batch) … / 准备中 …")
    else:
        lines.append(f"▶ **{run.label}** · step / 步 **{p.step:,}** · epoch / 轮 {p.epoch:.2f} · loss {p.loss:.3f} · "
                     f"**{p.tokens_per_s:,.0f} tokens/s / 词元每秒** · ‖g‖ {p.grad_norm:.2f} · lr {p.lr:.2g} · "
                     f"elapsed / 已用 {fmt_s(p.elapsed)} · ETA / 剩余 {fmt_s(p.eta)}")
    lines += [run.started_from] if run.started_from else []         # fine-tuning: where it started
    if ev is not None:
        bl = run.baselines or {}
        ref = " · ".join(f"{k} {v:,.0f}" for k, v in bl.items())
        lines.append(f"perplexity / 困惑度: train / 训练 {_ppl(ev.train_ppl)} · validation / 验证 "
                     f"**{_ppl(ev.val_ppl)}** (best / 最佳 {_ppl(ev.best_val_ppl)})"
                     + (f" · n-gram baselines / n 元基线: {ref}" if ref else ""))
        te, vp = ev.train_eval_ppl, ev.val_ppl
        gap = memorization_gap(te, vp) if out is not None else ""
        if gap:
            lines.append(gap)
        if te is not None and vp is not None and te < 3 and vp > 2 * te:
            lines.append(f"⚠ Training perplexity {te:.2f} vs validation {vp:.1f}: the model is **reciting its "
                         "training lyrics**, not learning to write (see the memorization meter in tab 3). / "
                         "训练困惑度接近 1 而验证困惑度很高：模型在背歌词。")
    if follower:
        lines.insert(0, "👁 **Following a run: you see it live; only its owner can stop it.** / "
                        "**正在关注他人的训练：实时观看，只有训练者本人可以停止。**")
        if not run.running:
            lines.append("The run's model is now in your pickers of tabs 3 and 4 (read-only, shared). / "
                         "该模型已加入你第 3、4 页的模型列表（只读、共享）。" if run.model_key else
                         "The run ended before its first step: no model. / 训练在第一步之前结束，没有模型。")
    elif run.model_key and not run.running:
        lines.append(f"The model is now in the pickers of tabs 3 and 4 (`{run.model_key}`). / 模型已加入第 3、4 页的模型列表。")
    return "\n\n".join(x for x in (*lines, share_markdown(run)) if x)


def share_markdown(run: TrainingRun) -> str:
    """The run's follow link while the registry keeps it (it opens in a new tab: leaving this page
    would end the owner's run)."""
    if not run.follow_id or runs.get(run.follow_id) is None:
        return ""
    rid = run.follow_id
    return (f'Share / 分享: <a href="?follow={rid}" target="_blank" rel="noopener" id="train-share-link">'
            f"this page with <code>?follow={rid}</code></a> — anyone with the link watches this run live and gets "
            "its model when it ends. / 任何人打开此链接都能实时观看，结束后可使用该模型。")


def samples_text(run: TrainingRun | None) -> str:
    if run is None or not run.samples:
        return ""
    step = run.progress.step if run.progress else 0
    return f"step {step}:\n" + "\n".join(f"{p or '∅'} → {t}" for p, t in run.samples.items())


def chart(session: Session, x_axis: str = "step") -> "plots.go.Figure":
    runs = session.chart_runs()
    current = runs[-1] if runs else None
    return plots.training_chart([r.chart_curves() for r in runs], current.baselines if current else None,
                                x="seconds" if x_axis == "seconds" else "step")


def grad_chart(run: TrainingRun | None):
    if run is None:
        return plots.grad_norm_chart([], [], None)
    return plots.grad_norm_chart(run.grad.xs, run.grad.ys, run.clip_theta)


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def run_info(run: TrainingRun | None) -> dict:
    """The run as JSON (for API users and the page's JSON view)."""
    if run is None:
        return {}
    p, ev, out = run.progress, run.last_eval, run.outcome
    state = ("running" if run.running else "failed" if isinstance(out, Failed) else
             "done" if isinstance(out, Done) and out.reason != "stopped" else "stopped")
    return _finite({
        "run": run.number, "label": run.label, "state": state,
        "step": p.step if p else 0, "epoch": p.epoch if p else 0.0, "loss": p.loss if p else None,
        "tokens_per_s": p.tokens_per_s if p else None, "grad_norm": p.grad_norm if p else None,
        "eta_s": p.eta if p else None, "elapsed_s": p.elapsed if p else None,
        "evaluations": len(run.curves.eval_steps),
        "train_ppl": ev.train_ppl if ev else None, "val_ppl": ev.val_ppl if ev else None,
        "best_val_ppl": ev.best_val_ppl if ev else None, "baselines": run.baselines,
        "samples": dict(run.samples), "warnings": list(run.warnings),
        "outcome": out.to_dict() if out is not None else None, "model": run.model_key, "follow": run.follow_id,
        "ui_seconds": round(run.ui_seconds, 3), "updates": run.updates,
        "gave_way_s": round(run.gave_way_s, 3),
        "parameters": run.started.parameters if run.started else None,
        "device": run.started.device if run.started else None,
    })


def warnings_markdown(run: TrainingRun | None, notes: list[str] = ()) -> str:
    msgs = list(run.warnings if run else []) + list(notes)
    return "\n\n".join(f"⚠ {m}" for m in msgs)


def picker(session: Session, select: str | None):
    return gr.update(choices=registry.choices(session), value=registry.default_key(session, select))


def _kept_note(run) -> str:
    """Where the best figure comes from when the kept weights were measured again at the end."""
    ev, out = run.last_eval, run.outcome
    if ev is None or not ev.kept or out.kept != "best":
        return ""
    return " (the kept weights, the whole validation set / 保留的权重，全部验证集)"
