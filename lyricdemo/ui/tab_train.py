"""Tab 2 — Train live / 实时训练.

Every knob of the Trainer, presets that fill them in one click, Start and Stop, and a
chart that streams train and validation perplexity (log scale) beside the n-gram
baselines while earlier runs of the session stay on it for comparison.

How a run flows::

    Start --> train(): check every knob --> Dataset (cached) --> Trainer
          --> session.start_run()  (the run is in the session *before* training starts)
          --> for event in trainer.run(): record it; yield to the page at most 4x a second
              and at every evaluation (building a figure costs ~10 ms; training never waits)
          --> finally: session.finish_run()  -- also when Stop or a closed tab closes the generator
          --> Done: the checkpoint is saved and zipped; the model joins the pickers of tabs 3 and 4.

    Stop  --> cancels the train event (Gradio closes the generator at its next yield) and runs
              stop(): the trainer is asked to stop, the run's end is awaited, its model saved.

The rooms beside this one: ``train_loop.py`` (the streaming loop and ``give_way``),
``train_view.py`` (what the page shows of a run), ``train_follow.py`` (following a run by its
share link, and the place in the queue while a run waits for a training slot).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import gradio as gr

from .. import plots
from ..corpora import EMBEDDED
from ..corpus import CLEANERS
from ..data import DataConfig, toy_dataset
from ..errors import LyricdemoError
from ..fields import ConfigError
from ..models import BIDIRECTIONAL_WARNING, ModelConfig
from ..models.lm import KIND_NAMES
from ..presets import PRESETS, apply, apply_for_corpus
from ..tokenizers import NEWLINE_MODES, TOKENIZERS
from ..train import OPTIMIZERS, TrainConfig, Trainer, new_model
from ..vocab import UNKNOWN_WORDS
from . import limits, registry, resources, train_follow
from .labels import T, kw, label
from .session import Session
from .train_loop import stream
from .train_view import X_AXES, chart, picker, run_info, status_markdown
from .validate import choice, labelled, real, user_errors
from .wording import bilingual

DATA_SOURCES = ("d2l", "tang", "upload", "toy")
INPUTS = ("one-hot", "embedding")
MAX_OUTPUT_ELEMENTS = 40_000_000   # batch x steps x vocabulary: the logits of one batch (~160 MB float32)
MAX_PARAMETERS = 30_000_000
TOY_SECONDS = 30

# The knobs, in the order /train takes them (after the session).
KNOBS = ("data", "tokenizer", "clean", "newline", "min_freq", "max_tokens", "unknown_words",
         "kind", "impl", "input_kind", "embed_dim", "hidden_size", "num_layers", "dropout", "dropout_embed",
         "bidirectional", "sampling", "optimizer", "log10_lr", "weight_decay", "soft_targets", "clip", "clip_theta",
         "batch_size",
         "num_steps", "max_steps", "max_seconds", "eval_every", "keep_best", "seed", "init_from")
RANDOM_START = ("random weights / 随机初始化", "")      # init_from's first choice: no model to start from

PRESET_NOTES = {
    "classroom": "The default recipe (GRU 256, 128-d embedding, AdamW with weight decay 1) with lighter dropout "
                 "(0.1/0.3) and learning rate 5e-3, for 300 steps, evaluated every 25: a step budget, so a busy "
                 "server makes it slower, not worse. On the lyrics half of each target is the bigram's distribution "
                 "(soft targets): it ends about 4% below a well-smoothed bigram on held-out songs (179 vs 186); on the "
                 "Tang poems 32% below theirs (bench/RESULTS.md). / 默认配方（较轻的丢弃率、学习率 5e-3）训练 300 步，"
                 "每 25 步评估一次：服务器忙时只会更慢，不会更差。歌词上一半目标取自二元模型（软目标），最终比平滑良好的"
                 "二元模型低约 4%；在唐诗上低 32%。",
    "d2l": "Seed 000's settings: first 10,000 characters, one-hot input, GRU 256, SGD lr 1, sequential sampling. "
           "Watch the validation perplexity climb while the training one falls: the model recites. / "
           "d2l 原设置：注意验证困惑度会上升——模型在背歌词。",
    "toy": "Seed 002: learn hello → ohlol with 4 hidden units; every step is visible. / "
           "玩具任务：4 个隐藏单元学会 hello → ohlol。",
}


# ----------------------------------------------------------------------------- knobs <-> config fields
# The one table between this tab's knobs and the config fields (tests/test_config_fields.py checks it against
# the fields, both ways).  A knob named like a field sets that field, and its value, bounds and message are the
# field's.  The others:
#   data        no field: a built-in corpus, the upload of tab 1, or the toy task (the corpus is the data's source)
#   input_kind  one-hot is embed_dim = 0; "embedding" takes embed_dim from its slider (at least 1)
#   dropout     one knob, two fields: dropout_out, and dropout_rnn too when there are two layers or more
#   log10_lr    lr = 10 ** log10_lr, in [-5, 2]: one slider over seven decades
#   max_seconds the field, within 1 .. LYRICDEMO_MAX_TRAIN_SECONDS (a shared server has no "no limit": a preset's
#               0 shows the cap, and the toy's TOY_SECONDS)
#   eval_every  the field; a preset's 0 (once per epoch) shows 25, the slider starting at 1
#   init_from   no field: a model of the pickers (a registry key) whose weights and architecture start the run
#               (lyricdemo/transfer.py); "" is random weights, what every preset sets
# The fields without a knob take the classroom preset's values (the app's default).
KNOB_FIELDS = {
    "tokenizer": ("data", "tokenizer"), "clean": ("data", "clean"), "newline": ("data", "newline"),
    "min_freq": ("data", "min_freq"), "max_tokens": ("data", "max_tokens"),
    "unknown_words": ("data", "unknown_words"),
    "kind": ("model", "kind"), "impl": ("model", "impl"), "embed_dim": ("model", "embed_dim"),
    "hidden_size": ("model", "hidden_size"), "num_layers": ("model", "num_layers"),
    "dropout_embed": ("model", "dropout_embed"), "bidirectional": ("model", "bidirectional"),
    "sampling": ("train", "sampling"), "optimizer": ("train", "optimizer"), "weight_decay": ("train", "weight_decay"),
    "soft_targets": ("train", "soft_targets"),
    "clip": ("train", "clip"), "clip_theta": ("train", "clip_theta"), "batch_size": ("train", "batch_size"),
    "num_steps": ("train", "num_steps"), "max_steps": ("train", "max_steps"), "max_seconds": ("train", "max_seconds"),
    "eval_every": ("train", "eval_every"), "keep_best": ("train", "keep_best"), "seed": ("train", "seed"),
    # one knob, more than one field, or a field through a conversion (see above)
    "input_kind": ("model", "embed_dim"), "dropout": ("model", "dropout_out", "dropout_rnn"),
    "log10_lr": ("train", "lr"),
}
# The label (ui/labels.CONTROLS) of the knob that sets a field, where its key is not the field's name.
FIELD_LABELS = {"hidden_size": "hidden", "num_layers": "layers", "dropout_out": "dropout", "dropout_rnn": "dropout",
                "lr": "log_lr"}
# The sliders' ranges, each within its field's bounds (the server accepts the field's whole range).
SLIDERS = {"min_freq": (1, 50), "embed_dim": (1, 512), "hidden_size": (1, 1024), "num_layers": (1, 4),
           "dropout": (0, 0.8), "dropout_embed": (0, 0.8), "log10_lr": (-5, 2), "weight_decay": (0, 10),
           "soft_targets": (0, 0.9),
           "clip_theta": (0.01, 100), "batch_size": (1, 512), "num_steps": (1, 200), "eval_every": (1, 500)}
EMBED_SIZE = 128       # the embedding slider's value while the input is one-hot


def knob_values(whole: dict[str, dict], data: str) -> dict:
    """The knobs showing ``whole`` (``presets.apply``'s field values) on ``data``: the table above, read forwards."""
    m, t = whole["model"], whole["train"]
    v = {knob: whole[where[0]][where[1]] for knob, where in KNOB_FIELDS.items() if len(where) == 2}
    v.update(data=data, input_kind="embedding" if m["embed_dim"] else "one-hot",
             embed_dim=m["embed_dim"] or EMBED_SIZE, dropout=max(m["dropout_out"], m["dropout_rnn"]),
             log10_lr=round(math.log10(t["lr"]), 2), eval_every=t["eval_every"] or 25, init_from="")
    return {k: v[k] for k in KNOBS}


def default_values() -> dict:
    """The knobs' starting values: the classroom preset on the corpus in use (d2l lyrics, else Tang poems)."""
    return preset_values("classroom")


def preset_values(name: str) -> dict:
    """Knob values of a preset (``presets.apply``: everything it does not set takes the field's default),
    on the corpus in use, with the time budget within the app's cap."""
    source = "toy" if "toy" in PRESETS[name] else resources.corpus_in_use().key
    v = knob_values(apply_for_corpus(name, source), source)
    v["max_seconds"] = min(v["max_seconds"] or TOY_SECONDS, limits.max_train_seconds())
    return v


def apply_preset(name: str):
    v = preset_values(name)
    return (*[v[k] for k in KNOBS], f"**{PRESETS[name]['label']}** — {PRESET_NOTES.get(name, '')}")


# ----------------------------------------------------------------------------- configs from knobs
def build_configs(session: Session, data, tokenizer, clean, newline, min_freq, max_tokens, unknown_words, kind, impl,
                  input_kind, embed_dim, hidden_size, num_layers, dropout, dropout_embed, bidirectional, sampling, optimizer,
                  log10_lr, weight_decay, soft_targets, clip, clip_theta, batch_size, num_steps, max_steps, max_seconds,
                  eval_every, keep_best, seed, init_from=""):
    """Check every knob and make (dataset, raw, corpus_text, ModelConfig, TrainConfig). Raises LyricdemoError.

    The knobs named like fields are checked by the configs themselves; here only what the table above adds.
    ``init_from``: the ModelConfig takes that model's architecture (``starting_point`` checks it)."""
    knobs = dict(locals())
    data = choice("data", data, DATA_SOURCES)
    input_kind = choice("input", input_kind, INPUTS)
    if input_kind == "embedding" and not isinstance(embed_dim, bool) and embed_dim == 0:
        raise LyricdemoError(f"{label('embed_dim')}: an embedding needs at least 1 dimension; got 0.")
    lr = 10 ** real("log_lr", log10_lr, -5.0, 2.0)
    max_seconds = real("max_seconds", max_seconds, 1.0, float(limits.max_train_seconds()))
    base = apply("classroom")                       # the fields without a knob
    parts = {part: dict(base[part]) for part in ("data", "model", "train")}
    for knob, where in KNOB_FIELDS.items():
        if len(where) == 2 and knob not in ("input_kind", "log10_lr"):
            parts[where[0]][where[1]] = knobs[knob]
    layers_ok = isinstance(num_layers, int) and not isinstance(num_layers, bool)
    parts["model"].update(embed_dim=embed_dim if input_kind == "embedding" else 0, dropout_out=dropout,
                          dropout_rnn=dropout if layers_ok and num_layers > 1 else 0.0)
    parts["train"].update(lr=float(f"{lr:.4g}"), max_seconds=max_seconds)
    try:
        if data == "toy":
            ds, raw = toy_dataset(), None
            corpus_text = ds.tokenizer.detokenize(ds.train_tokens)
            parts["train"].update(sample_every=1)
        else:
            cfg = DataConfig(**parts["data"])
            if data in ("d2l", "tang"):
                raw = resources.builtin_corpus(data)
            elif session.upload is not None:
                raw = session.upload
            else:
                raise LyricdemoError("No uploaded corpus in this session: upload a file in tab 1 (and press Analyze), "
                                     "or choose a built-in corpus or the toy task. / 请先在第 1 页上传语料。")
            ModelConfig(vocab_size=2, **parts["model"])              # the knobs' faults before the data's work
            TrainConfig(**parts["train"])
            ds = resources.dataset(raw, cfg)
            corpus_text = None
            if data != "d2l":                       # d2l's 分开 / 不分开 mean nothing to another corpus
                firsts = list(EMBEDDED[data]["prefixes"][:2]) if data in EMBEDDED else \
                    [ln[:2] for ln in ds.train_lines if ln.strip()][:2]
                parts["train"].update(sample_prefixes=tuple(firsts) or ("",))
        V = len(ds.vocab)
        tcfg = TrainConfig(**parts["train"])
        out_elems = tcfg.batch_size * tcfg.num_steps * V
        if out_elems > MAX_OUTPUT_ELEMENTS:
            raise LyricdemoError(
                f"One batch would need {out_elems * 4 / 2**20:,.0f} MB for its {V:,}-token output layer "
                f"(batch {tcfg.batch_size} × {tcfg.num_steps} steps × {V:,}); lower the batch size or "
                "the time steps. / 批量太大：请减小批量大小或时间步数。")
        mcfg = ModelConfig(vocab_size=V, **parts["model"])
    except ConfigError as e:
        raise labelled(e, FIELD_LABELS) from None
    if init_from != "":
        mcfg = starting_point(session, init_from, ds, mcfg)[1]
    return ds, raw, corpus_text, mcfg, tcfg


def start_choices(session: Session | None) -> list[tuple[str, str]]:
    """"Start from"'s list: random weights, then every model of the pickers (those trained in this session too)."""
    return [RANDOM_START, *registry.choices(session)]


def refresh_start(session: Session, current):
    """"Start from" taking focus: its list again when the session's models changed since the page last got it
    (re-drawing an open list under the pointer could swallow a click, so an unchanged one is left alone)."""
    choices = start_choices(session)
    keys = tuple(k for _, k in choices)
    if keys == (session.start_keys or tuple(k for _, k in start_choices(None))):
        return gr.skip()
    session.start_keys = keys
    return gr.update(choices=choices, value=current if current in keys else "")


def starting_point(session: Session, key, ds, mcfg: ModelConfig):
    """(the model ``key`` names, ``mcfg`` with its architecture): fine-tuning from a model of the pickers.  Raises
    LyricdemoError where it cannot start this run."""
    from ..transfer import starting_config

    if not isinstance(key, str):
        raise LyricdemoError(f"{label('init_from')}: choose a model of the list, or random weights.")
    if ds.train_targets is not None:
        raise LyricdemoError("The toy task starts from random weights. / 玩具任务只能随机初始化。")
    src = registry.get(session, key)
    ckpt = src.checkpoint
    if ckpt.data_config.tokenizer != ds.config.tokenizer:
        raise LyricdemoError(f"{src.label} reads {ckpt.data_config.tokenizer} tokens and this run "
                             f"{ds.config.tokenizer} tokens: choose the same tokenizer to start from it. / "
                             "分词方式不同，无法从该模型开始。")
    return src, starting_config(ckpt.model, ckpt.vocab, mcfg, ds.vocab)


def describe(mcfg: ModelConfig, ds) -> str:
    parts = [f"{KIND_NAMES[mcfg.kind]} {mcfg.num_layers}×{mcfg.hidden_size}",
             ds.config.tokenizer if ds.train_targets is None else "toy"]
    if mcfg.bidirectional:
        parts.append("bi")
    if mcfg.impl == "scratch":
        parts.append("scratch")
    if not mcfg.embed_dim:
        parts.append("one-hot")
    return " ".join(parts)


# ----------------------------------------------------------------------------- the endpoint
_E = knob_values(apply_for_corpus("classroom", "d2l"), "d2l")   # /train's defaults: the page's, on the lyrics


@user_errors
def train(session: Session, data=_E["data"], tokenizer=_E["tokenizer"], clean=_E["clean"], newline=_E["newline"],
          min_freq=_E["min_freq"], max_tokens=_E["max_tokens"], unknown_words=_E["unknown_words"], kind=_E["kind"],
          impl=_E["impl"],
          input_kind=_E["input_kind"], embed_dim=_E["embed_dim"], hidden_size=_E["hidden_size"],
          num_layers=_E["num_layers"], dropout=_E["dropout"], dropout_embed=_E["dropout_embed"],
          bidirectional=_E["bidirectional"], sampling=_E["sampling"], optimizer=_E["optimizer"],
          log10_lr=_E["log10_lr"], weight_decay=_E["weight_decay"], soft_targets=_E["soft_targets"], clip=_E["clip"],
          clip_theta=_E["clip_theta"],
          batch_size=_E["batch_size"], num_steps=_E["num_steps"], max_steps=_E["max_steps"],
          max_seconds=_E["max_seconds"], eval_every=_E["eval_every"], keep_best=_E["keep_best"], seed=_E["seed"],
          init_from=_E["init_from"], x_axis="step"):
    """Train a model and stream its progress: (status, chart, grad-norm chart, samples, warnings, run JSON,
    checkpoint download, generate-tab picker, inside-tab picker)."""
    session.touch()
    x_axis = choice("x_axis", x_axis, X_AXES)
    ds, raw, corpus_text, mcfg, tcfg = build_configs(
        session, data, tokenizer, clean, newline, min_freq, max_tokens, unknown_words, kind, impl, input_kind, embed_dim,
        hidden_size, num_layers, dropout, dropout_embed, bidirectional, sampling, optimizer, log10_lr,
        weight_decay, soft_targets, clip, clip_theta, batch_size, num_steps, max_steps, max_seconds, eval_every,
        keep_best, seed,
        init_from)
    model = new_model(mcfg, seed=tcfg.seed)
    started = ""
    if init_from != "":
        started = fine_tune(session, init_from, ds, model, {"kind": kind, "hidden_size": hidden_size,
                                                           "num_layers": num_layers})
    if model.num_parameters() > MAX_PARAMETERS:
        raise LyricdemoError(f"This model has {model.num_parameters():,} parameters; the app trains at most "
                             f"{MAX_PARAMETERS:,}. Use fewer units or layers. / 模型太大。")
    bl = resources.baselines(raw, ds.config) if raw is not None else None
    trainer = Trainer(model, ds, tcfg, baselines=bl)
    run = session.start_run(trainer, ds, raw, corpus_text, describe(mcfg, ds) + (" ← fine-tuned" if started else ""),
                            tcfg.clip_theta if tcfg.clip else None)
    run.started_from = started
    yield from stream(session, run, trainer, x_axis)


def fine_tune(session: Session, key: str, ds, model, knobs: dict) -> str:
    """Copy the weights of the model ``key`` names into ``model`` (rows moved token by token); the line that
    says so, naming the ``knobs`` (field -> the knob's value) whose values the source's architecture replaced.
    ``build_configs`` has checked the model already (``starting_point``)."""
    from ..transfer import transfer

    src = registry.get(session, key)
    moved = transfer(src.checkpoint.model, src.checkpoint.vocab, model, ds.vocab)
    replaced = [f"{f} {v} → {getattr(model.config, f)}" for f, v in knobs.items() if v != getattr(model.config, f)]
    return (f"↳ Started from **{src.label}**: {moved.line().replace('<unk>', '`<unk>`')}"
            + (f" · its architecture, not the knobs' ({', '.join(replaced)}) / 结构沿用原模型" if replaced else ""))


@user_errors
def stop(session: Session, x_axis="step"):
    """Stop this session's training (the Stop button also cancels the streaming event) and hand over
    the model: (status, chart, run JSON, download, generate-tab picker, inside-tab picker)."""
    session.touch()
    x_axis = x_axis if isinstance(x_axis, str) and x_axis in X_AXES else "step"
    run = session.latest_run()
    skip = gr.skip()
    if run is None:
        return ("Nothing is training. / 当前没有训练。", skip, {}, skip, skip, skip)
    if run.running:
        trainer = run.trainer
        if trainer is not None:
            trainer.stop()           # ends the run within one step, even if nobody closes the generator
        if not run.finished.wait(timeout=30):
            return ("Stopping … / 正在停止 …", skip, run_info(run), skip, skip, skip)
    entry = session.model_for_run(run)
    download = str(entry.ensure_saved(session.workdir())) if entry is not None else skip
    return (status_markdown(run), chart(session, x_axis), run_info(run), download,
            picker(session, run.model_key), picker(session, run.model_key))


def redraw(session: Session, x_axis="step"):
    return chart(session, x_axis if x_axis in X_AXES else "step")


def clear(session: Session, x_axis="step"):
    session.clear_chart()
    return redraw(session, x_axis)


def bidirectional_lesson(on) -> dict:
    return gr.update(value=bilingual(BIDIRECTIONAL_WARNING) if on is True else "", visible=on is True)


# ----------------------------------------------------------------------------- layout
PRESET_ORDER = ("classroom", "d2l", "toy")


def preset_buttons(active: str | None) -> list:
    """The preset buttons' look: the active one filled (a projector shows which recipe is on)."""
    return [gr.update(variant="primary" if n == active else "secondary") for n in PRESET_ORDER]


# long: the page laid out top to bottom, one widget a line; it reads like the page
def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    """The room sees Start/Stop, the status, preset, model kind, tokenizer, time budget and the whole
    chart in the first screen (1280×720); every other knob folds into "All settings / 全部参数".
    On a phone: Start, the status, then the chart, then the knobs (CSS order, widgets.CSS)."""
    v = default_values()
    cap = limits.max_train_seconds()
    c = {}
    active = "classroom"                      # default_values(): the classroom preset on the corpus in use
    with gr.Row(elem_id="train-row"):
        with gr.Column(scale=2, min_width=320, elem_id="train-knobs"):
            with gr.Row(elem_classes=["ld-buttons"], elem_id="train-buttons"):
                start = gr.Button(T["start"], variant="primary", elem_id="train-start")
                stop_btn = gr.Button(T["stop"], variant="stop", elem_id="train-stop")
            status = gr.Markdown(status_markdown(None), label="Status / 状态", show_label=False, elem_id="train-status")
            with gr.Row(elem_classes=["ld-buttons", "ld-presets"], elem_id="train-presets"):
                preset_btns = {name: gr.Button(PRESETS[name]["label"], size="sm", elem_id=f"preset-{name}",
                                               variant="primary" if name == active else "secondary")
                               for name in PRESET_ORDER}
            preset_note = gr.Markdown(f"**{PRESETS['classroom']['label']}** — {PRESET_NOTES['classroom']}",
                                      elem_id="preset-note", elem_classes=["ld-note"])
            c["kind"] = gr.Radio([("RNN", "rnn"), ("GRU", "gru"), ("LSTM", "lstm")], value=v["kind"],
                                 elem_id="train-kind", **kw("kind"))
            c["tokenizer"] = gr.Radio(list(TOKENIZERS), value=v["tokenizer"], elem_id="train-tokenizer",
                                      **kw("tokenizer"))
            c["max_seconds"] = gr.Slider(1, cap, value=v["max_seconds"], step=1, elem_id="train-seconds",
                                         **kw("max_seconds"))
            with gr.Accordion("All settings / 全部参数", open=False, elem_id="train-all"):
                c["data"] = gr.Radio([("d2l lyrics / 周杰伦歌词", "d2l"), (EMBEDDED["tang"]["label"], "tang"),
                                      ("uploaded in tab 1 / 第 1 页上传", "upload"),
                                      ("toy hello→ohlol / 玩具任务", "toy")], value=v["data"], elem_id="train-data",
                                     **kw("data"))
                with gr.Group():
                    c["clean"] = gr.Radio(list(CLEANERS), value=v["clean"], **kw("clean"))
                    c["newline"] = gr.Radio(list(NEWLINE_MODES), value=v["newline"], **kw("newline"))
                    c["min_freq"] = gr.Slider(*SLIDERS["min_freq"], value=v["min_freq"], step=1,
                                              **kw("min_freq"))
                    c["max_tokens"] = gr.Number(value=v["max_tokens"], precision=0, minimum=0, **kw("max_tokens"))
                    c["unknown_words"] = gr.Radio(list(UNKNOWN_WORDS), value=v["unknown_words"],
                                                  elem_id="train-unknown", **kw("unknown_words"))
                with gr.Group():
                    c["init_from"] = gr.Dropdown(start_choices(None), value=v["init_from"], elem_id="train-init-from",
                                                 **kw("init_from"))
                    c["impl"] = gr.Radio([("torch.nn", "torch"), ("scratch / 从零实现", "scratch")], value=v["impl"],
                                         **kw("impl"))
                    c["input_kind"] = gr.Radio([("one-hot / 独热", "one-hot"), ("embedding / 嵌入", "embedding")],
                                               value=v["input_kind"], **kw("input"))
                    c["embed_dim"] = gr.Slider(*SLIDERS["embed_dim"], value=v["embed_dim"], step=1,
                                               **kw("embed_dim"))
                    c["hidden_size"] = gr.Slider(*SLIDERS["hidden_size"], value=v["hidden_size"], step=1,
                                                 elem_id="train-hidden",
                                                 **kw("hidden"))
                    c["num_layers"] = gr.Slider(*SLIDERS["num_layers"], value=v["num_layers"], step=1,
                                                **kw("layers"))
                    c["dropout"] = gr.Slider(*SLIDERS["dropout"], value=v["dropout"], step=0.05, **kw("dropout"))
                    c["dropout_embed"] = gr.Slider(*SLIDERS["dropout_embed"], value=v["dropout_embed"], step=0.05,
                                                   **kw("dropout_embed"))
                    c["bidirectional"] = gr.Checkbox(value=v["bidirectional"], elem_id="train-bidirectional",
                                                     **kw("bidirectional"))
                lesson = gr.Markdown(visible=False, elem_id="train-bi-lesson")
                with gr.Group():
                    c["sampling"] = gr.Radio([("random / 随机采样", "random"),
                                              ("sequential / 顺序分区", "sequential")],
                                             value=v["sampling"], **kw("sampling"))
                    c["optimizer"] = gr.Radio(list(OPTIMIZERS), value=v["optimizer"], **kw("optimizer"))
                    c["log10_lr"] = gr.Slider(*SLIDERS["log10_lr"], value=v["log10_lr"], step=0.05,
                                              elem_id="train-lr",
                                              **kw("log_lr"))
                    lr_md = gr.Markdown(f"learning rate / 学习率 = **{10 ** v['log10_lr']:.2g}**",
                                        elem_id="train-lr-value")
                    c["weight_decay"] = gr.Slider(*SLIDERS["weight_decay"], value=v["weight_decay"], step=0.05,
                                                  elem_id="train-wd",
                                                  **kw("weight_decay"))
                    c["soft_targets"] = gr.Slider(*SLIDERS["soft_targets"], value=v["soft_targets"], step=0.05,
                                                  elem_id="train-soft", **kw("soft_targets"))
                    c["clip"] = gr.Checkbox(value=v["clip"], **kw("clip"))
                    c["clip_theta"] = gr.Slider(*SLIDERS["clip_theta"], value=v["clip_theta"], step=0.01,
                                                **kw("clip_theta"))
                    c["batch_size"] = gr.Slider(*SLIDERS["batch_size"], value=v["batch_size"], step=1,
                                                **kw("batch_size"))
                    c["num_steps"] = gr.Slider(*SLIDERS["num_steps"], value=v["num_steps"], step=1,
                                               **kw("num_steps"))
                    c["max_steps"] = gr.Number(value=v["max_steps"], precision=0, minimum=0,
                                               elem_id="train-max-steps", **kw("max_steps"))
                    c["eval_every"] = gr.Slider(*SLIDERS["eval_every"], value=v["eval_every"], step=1,
                                                elem_id="train-eval-every",
                                                **kw("eval_every"))
                    c["keep_best"] = gr.Checkbox(value=v["keep_best"], **kw("keep_best"))
                    c["seed"] = gr.Number(value=v["seed"], precision=0, minimum=0, **kw("seed"))
        with gr.Column(scale=3, min_width=300, elem_id="train-main"):
            plot = gr.Plot(value=plots.training_chart([], None), label="Perplexity / 困惑度", show_label=False,
                           elem_id="train-chart")
            with gr.Row():
                x_axis = gr.Radio([("steps / 步数", "step"), ("seconds / 秒", "seconds")], value="step",
                                  scale=3, elem_id="train-x-axis", **kw("x_axis"))
                clear_btn = gr.Button(T["clear"], size="sm", scale=1, elem_id="train-clear")
            grad_plot = gr.Plot(label="Gradient norm / 梯度范数", show_label=False, elem_id="train-grad")
            samples = gr.Textbox(label="Latest samples (greedy) / 最新样例（贪心解码）", lines=3, interactive=False,
                                 elem_id="train-samples")
            warn = gr.Markdown(label="Warnings / 提示", show_label=False, elem_id="train-warnings")
            # -- following and the queue (issue 14) -------------------------------------------------
            queue_md = gr.Markdown(visible=False, elem_id="train-queue")
            follow_box = gr.Textbox(visible=False, label="run id", elem_id="train-follow-id")
            follow_btn = gr.Button(visible=False, elem_id="train-follow-go")
            # -- end of following ---------------------------------------------------------------------
            download = gr.File(label=T["download"], interactive=False, height=90, elem_id="train-download")
            with gr.Accordion("Run as JSON / 训练记录（JSON）", open=False):
                info = gr.JSON(label="Run / 训练记录", elem_id="train-json")

    knobs = [c[k] for k in KNOBS]
    buttons = [preset_btns[n] for n in PRESET_ORDER]
    for name, btn in preset_btns.items():
        btn.click(lambda n=name: (*apply_preset(n), *preset_buttons(n)), None, [*knobs, preset_note, *buttons],
                  api_visibility="private", queue=False)
    c["init_from"].focus(refresh_start, [session, c["init_from"]], c["init_from"], api_visibility="private",
                         queue=False)
    c["bidirectional"].change(bidirectional_lesson, c["bidirectional"], lesson, api_visibility="private", queue=False)
    c["log10_lr"].change(None, c["log10_lr"], lr_md,
                         js="(v) => `learning rate / 学习率 = **${Number(Math.pow(10, v).toPrecision(2))}**`")
    x_axis.change(redraw, [session, x_axis], plot, api_visibility="private", queue=False)
    clear_btn.click(clear, [session, x_axis], plot, api_visibility="private", queue=False)
    return SimpleNamespace(knobs=c, start=start, stop=stop_btn, status=status, plot=plot, grad_plot=grad_plot,
                           samples=samples, warn=warn, download=download, info=info, x_axis=x_axis,
                           presets=preset_btns, preset_note=preset_note, lesson=lesson, demo=demo,
                           queue_md=queue_md, follow_box=follow_box, follow_btn=follow_btn)


def wire(ui: SimpleNamespace, session: gr.State, pickers: list) -> None:
    """Start/Stop, wired once the pickers of the other tabs exist (a finished run updates them)."""
    inputs = [session, *[ui.knobs[k] for k in KNOBS], ui.x_axis]
    outputs = [ui.status, ui.plot, ui.grad_plot, ui.samples, ui.warn, ui.info, ui.download, *pickers]
    train_event = ui.start.click(train, inputs, outputs, api_name="train",
                                 concurrency_limit=limits.max_training(), concurrency_id="train",
                                 # "full" on the status line only: the queue position ("queue: 2/3") shows
                                 # there while the chart updates without a spinner over it
                                 show_progress="full", show_progress_on=[ui.status],
                                 time_limit=limits.max_train_seconds() + 120,   # a safety net; the budget rules
                                 preprocess=False)      # train() checks every raw value itself (validate.py)
    ui.stop.click(stop, [session, ui.x_axis], [ui.status, ui.plot, ui.info, ui.download, *pickers],
                  cancels=[train_event], api_name="stop", concurrency_limit=None, preprocess=False)
    train_follow.wire_follow(ui, session, pickers)
