"""Tab 3 — Generate / 生成歌词.

    prefix --prepare_prefix--> ids (unknown tokens shown, with the reason) --stream--> text, token by token
           --> memorization meter (copied spans, longest copy) and the per-step probability view

``/generate`` streams the text (at most ~20 page updates a second) and ends with the
meter and the charts; ``/step_view`` redraws the per-step view of the session's last
generation without generating again; ``/load_checkpoint`` adds a checkpoint zip the user
brings (one downloaded from tab 2) to the session's models -- checked by the library,
never unpickled.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import gradio as gr

from .. import plots
from ..errors import LyricdemoError
from ..generate import MAX_PREFIX_CHARS, STRATEGIES, UNKNOWN_MODES, DecodeConfig, max_length, stream
from ..memory import MemoryLM, card_memory_config
from ..models import BIDIRECTIONAL_WARNING
from . import limits, registry
from .labels import T, kw
from .labels import info as help_text
from .labels import label as label_text
from .session import Session
from .validate import checked_file, choice, flag, real, text, upload_path, user_errors, whole
from .widgets import esc, memorization_html, prefix_html

STREAM_INTERVAL = 0.05
UI_MAX_LENGTH = 500


def _decode_config(length, strategy, temperature, top_k, top_p, repetition_penalty, beam_width, seed, unknown):
    return DecodeConfig(
        strategy=choice("strategy", strategy, STRATEGIES),
        length=whole("length", length, 1, max_length()),
        temperature=real("temperature", temperature, 0.0, 100.0),
        top_k=whole("top_k", top_k, 0, 1_000_000),
        top_p=real("top_p", top_p, 0.0, 1.0, lo_open=True),
        repetition_penalty=real("repetition_penalty", repetition_penalty, 1.0, 10.0),
        beam_width=whole("beam_width", beam_width, 1, 64),
        seed=whole("gen_seed", seed, 0, 2**63 - 1),
        unknown=choice("unknown", unknown, UNKNOWN_MODES),
        alternatives=10,
    )


def model_info(session: Session, model: str | None) -> str:
    """One paragraph about the chosen model (and the bidirectional lesson when it applies)."""
    if not registry.choices(session):
        return T["no_model"]
    if not model:
        return "Choose a model. / 请选择模型。"
    try:
        entry = registry.get(session, model)
    except Exception as e:                       # a broken checkpoint: say so, do not crash the page
        return f"⚠ {esc(str(e))}"
    ck = entry.checkpoint
    meter = ("the memorization meter compares with its training text" if entry.raw is not None or
             entry.corpus_text is not None else
             "its training corpus is not here, so the memorization meter is off")
    md = (f"**{esc(entry.label)}** — {esc(ck.model.describe())}; {ck.data_config.tokenizer} tokens, "
          f"vocabulary {len(ck.vocab):,}; {meter}. / 模型信息。")
    if ck.model.config.bidirectional:
        md += "\n\n⚠ " + BIDIRECTIONAL_WARNING
    return md


def _step_view(gen, step: int):
    steps = gen.steps
    if not steps:
        return plots.alternatives_chart([], "", 0), plots.entropy_chart([], [], [])
    i = min(max(step, 1), len(steps)) - 1
    s = steps[i]
    alt = plots.alternatives_chart(s.alternatives, s.token, i, s.entropy_bits)
    ent = plots.entropy_chart([x.token for x in steps], [x.entropy_bits for x in steps], [x.prob for x in steps], i)
    return alt, ent


def _with_memory(ck, memory: bool):
    """The checkpoint's model, or the model with song memory (the settings its card measured)."""
    if not memory:
        return ck.model
    try:
        return MemoryLM(ck.model, card_memory_config(ck.meta, ck.name))
    except LyricdemoError:
        raise LyricdemoError("Song memory needs settings measured on the model card; the shipped models have "
                             "them (python -m lyricdemo card measures a checkpoint). / 歌曲记忆需要模型卡上测得的"
                             "设置：内置模型都有。") from None


@user_errors
def generate(session: Session, model: str = "", prefix: str = "分开", length: float = 100, strategy: str = "sample",
             temperature: float = 1.0, top_k: float = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
             beam_width: float = 4, seed: float = 0, unknown: str = "unk", memory: bool = False):
    """Stream generated text: (text, prefix report, memorization meter, step slider, top-k chart,
    entropy chart, result JSON).  ``memory``: song memory over the prefix and the text so far."""
    prefix = text("prefix", prefix, MAX_PREFIX_CHARS)
    cfg = _decode_config(length, strategy, temperature, top_k, top_p, repetition_penalty, beam_width, seed, unknown)
    memory = flag("song_memory", memory)
    entry = registry.get(session, model)
    ck = entry.checkpoint
    s = stream(_with_memory(ck, memory), ck.vocab, ck.tokenizer, prefix, cfg)   # checks the prefix (strict refuses)
    report_html = prefix_html(s.prefix, ck.vocab)
    skip = gr.skip()
    waiting = '<div class="ld-note">generating … / 生成中 …</div>'
    yield (prefix, report_html, waiting, skip, skip, skip, skip)
    pieces, last = [], time.monotonic()
    try:
        for step in s:
            if step.candidate:
                continue
            pieces.append(step.token)
            now = time.monotonic()
            if now - last >= STREAM_INTERVAL:
                last = now
                yield (prefix + ck.tokenizer.detokenize(pieces), skip, skip, skip, skip, skip, skip)
        gen = s.result()
    finally:
        s.close()
    index = entry.corpus_index()
    report = index.check(gen.text) if index is not None else None
    session.generation = (gen, report)
    meter = memorization_html(gen.text, len(gen.prefix.prefix), report,
                              "this model's training corpus is not on this machine")
    alt, ent = _step_view(gen, 1)
    info = {
        "model": entry.key, "text": gen.text, "continuation": gen.continuation, "strategy": gen.strategy,
        "seed": gen.seed, "tokens": len(gen.steps), "tokens_per_s": round(gen.tokens_per_s, 1),
        "time_to_first_token_s": round(gen.time_to_first_token_s, 4),
        "unknown": [{"token": u.token, "start": u.start, "end": u.end} for u in gen.prefix.unknown],
        "notes": list(gen.notes), "summary": gen.summary(), "song_memory": memory,
        "memorization": None if report is None else {
            "longest_length": report.longest_length, "copied_share": report.copied_share,
            "ngram_share": {str(k): v for k, v in report.ngram_share.items()}, "summary": report.summary(),
            "spans": [[a, b] for a, b in report.highlight_ranges()]},
    }
    slider = gr.update(maximum=max(len(gen.steps), 1), value=1)
    yield (gen.text, report_html, meter, slider, alt, ent, info)


@user_errors
def step_view(session: Session, step: float = 1):
    """The top-k alternatives and entropy at one step of the session's last generation."""
    session.touch()
    if session.generation is None:
        raise LyricdemoError("Generate a text first. / 请先生成文本。")
    gen, _ = session.generation
    i = whole("step", step, 1, max(len(gen.steps), 1))
    return _step_view(gen, i)


@user_errors
def load_upload(session: Session, checkpoint=None):
    """Add an uploaded checkpoint zip to this session's models: (generate-tab picker, inside-tab picker,
    a note on what was loaded)."""
    session.touch()
    path = upload_path("checkpoint_upload", checkpoint)
    if path is None:
        raise LyricdemoError("Choose a checkpoint .zip to upload (one downloaded from tab 2). / "
                             "请选择一个检查点 .zip 文件。")
    cap = limits.max_upload_bytes()
    try:
        size = os.path.getsize(path) if os.path.isfile(path) else -1
    except OSError:
        size = -1
    if size < 0:
        raise LyricdemoError("The uploaded file is gone; upload it again. / 文件已不存在，请重新上传。")
    if size > cap:
        raise LyricdemoError(f"The checkpoint is {size / 2**20:.1f} MB; the limit is {cap / 2**20:.0f} MB. / 文件太大。")
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    name = os.path.basename(path)
    try:
        entry = session.add_checkpoint(data, name, max_bytes=2 * cap)
    except LyricdemoError as e:
        raise LyricdemoError(f"{name!r} was not loaded: {e} / 检查点无法加载。") from None
    notes = session.pop_notes()
    pick = gr.update(choices=registry.choices(session), value=entry.key)
    md = (f"✓ Loaded **{esc(entry.label)}** (`{entry.key}`): {esc(entry.checkpoint.model.describe())}, "
          f"vocabulary {len(entry.checkpoint.vocab):,}. / 已加载检查点。"
          + "".join(f"\n\n⚠ {esc(n)}" for n in notes))
    return pick, pick, md


def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                model = gr.Dropdown(choices=registry.choices(None), value=registry.default_key(None), scale=4,
                                    allow_custom_value=True, elem_id="gen-model", **kw("model"))
                refresh = gr.Button("↻", scale=0, min_width=48, elem_id="gen-refresh")
            about = gr.Markdown(label="About the model / 模型信息", show_label=False, elem_id="gen-model-info")
            with gr.Accordion("Load a checkpoint / 加载检查点", open=False):
                ckpt_upload = checked_file(gr.File(file_types=[".zip"], type="filepath", height=90,
                                                   elem_id="gen-ckpt-upload", label=label_text("checkpoint_upload")),
                                           "checkpoint_upload")
                ckpt_note = gr.Markdown(help_text("checkpoint_upload"), elem_id="gen-ckpt-note", elem_classes=["ld-note"])
            prefix = gr.Textbox(value="分开", lines=2, elem_id="gen-prefix", **kw("prefix"))
            length = gr.Slider(1, min(UI_MAX_LENGTH, limits.max_length()), value=min(100, limits.max_length()),
                               step=1, elem_id="gen-length", **kw("length"))
            strategy = gr.Radio([("greedy / 贪心", "greedy"), ("sample / 采样", "sample"), ("beam / 束搜索", "beam")],
                                value="sample", elem_id="gen-strategy", **kw("strategy"))
            with gr.Accordion("Decoding options / 解码选项", open=True):
                temperature = gr.Slider(0, 3, value=1.0, step=0.05, elem_id="gen-temperature", **kw("temperature"))
                with gr.Row():
                    top_k = gr.Slider(0, 100, value=0, step=1, **kw("top_k"))
                    top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, **kw("top_p"))
                with gr.Row():
                    rep = gr.Slider(1.0, 3.0, value=1.0, step=0.05, **kw("repetition_penalty"))
                    beam = gr.Slider(1, 16, value=4, step=1, **kw("beam_width"))
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, minimum=0, elem_id="gen-seed", **kw("gen_seed"))
                    unknown = gr.Radio(list(UNKNOWN_MODES), value="unk", **kw("unknown"))
                song_memory = gr.Checkbox(value=False, elem_id="gen-memory", **kw("song_memory"))
            go = gr.Button(T["generate"], variant="primary", elem_id="gen-go")
        with gr.Column(scale=3, min_width=420):
            out = gr.Textbox(label="Generated text / 生成的歌词", lines=8, interactive=False, elem_id="gen-out",
                             buttons=["copy"])
            report = gr.HTML(label="Prefix as the model reads it / 模型读到的前缀", elem_id="gen-prefix-report")
            meter = gr.HTML(label="Memorization meter / 照抄检测", elem_id="gen-meter")
            ent_plot = gr.Plot(label="Entropy / 熵", elem_id="gen-entropy")
            with gr.Row():
                step = gr.Slider(1, UI_MAX_LENGTH, value=1, step=1, scale=1, elem_id="gen-step", **kw("step"))
                alt_plot = gr.Plot(label="Top-10 alternatives / 前 10 个候选", scale=2, elem_id="gen-alternatives")
    with gr.Accordion("Result as JSON / 结果（JSON）", open=False):
        info = gr.JSON(label="Result / 结果", elem_id="gen-json")
    with gr.Accordion("Available models / 可用模型", open=False):
        models_json = gr.JSON(label="Models / 模型列表", elem_id="gen-models-json")

    go.click(generate, [session, model, prefix, length, strategy, temperature, top_k, top_p, rep, beam, seed, unknown,
                        song_memory],
             [out, report, meter, step, alt_plot, ent_plot, info], api_name="generate",
             concurrency_limit=limits.max_generating(), concurrency_id="infer", show_progress="minimal",
             preprocess=False)        # generate() checks every raw value itself (validate.py)
    # .input: the user's drags and typed numbers (not generate()'s own reset); the last one wins
    step.input(step_view, [session, step], [alt_plot, ent_plot], api_name="step_view", trigger_mode="always_last",
               preprocess=False)
    model.change(model_info, [session, model], about, api_visibility="private", queue=False)
    demo.load(model_info, [session, model], about, api_visibility="private")
    return SimpleNamespace(model=model, refresh=refresh, about=about, ckpt_upload=ckpt_upload, ckpt_note=ckpt_note,
                           prefix=prefix,
                           length=length, go=go, out=out,
                           report=report, meter=meter, step=step, alt_plot=alt_plot, ent_plot=ent_plot, info=info,
                           models_json=models_json, strategy=strategy, song_memory=song_memory)
