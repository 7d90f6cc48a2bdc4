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

import math
import os
import time
from dataclasses import replace
from types import SimpleNamespace

import gradio as gr

from .. import plots
from ..batching import BatchedStream, Waiting, batchable
from ..errors import LyricdemoError
from ..fields import ConfigError
from ..generate import DecodeConfig, stream
from ..reading import MAX_PREFIX_CHARS, UNKNOWN_MODES
from ..memory import MemoryConfig, MemoryLM, card_memory_config
from ..mixture import NGramMix
from ..models import BIDIRECTIONAL_WARNING
from ..ngram import STANDING_WORDS, standing
from . import limits, links, registry, resources
from .labels import T, kw
from .labels import info as help_text
from .labels import label as label_text
from .session import Session
from .validate import checked_file, flag, labelled, text, upload_path, user_errors, whole
from .widgets import esc, mark_stale, memorization_html, prefix_html, scroll_on_phone
from .wording import bilingual, generation_summary, memorization_summary

STREAM_INTERVAL = 0.05
STREAMS_AT_FULL_RATE = 4          # beyond this many live generations, each stream updates less often
UI_MAX_LENGTH = 500
ALTERNATIVES = 50             # kept per step: the step view finds the chosen token's rank up to here
# Default decoding, chosen by measurement (bench/bench_decoding.py, bench/RESULTS.md "Decoding").
DEFAULT_DECODING = {"strategy": "sample", "temperature": 0.8, "top_k": 0, "top_p": 0.9, "repetition_penalty": 1.0}


def _decode_config(length, strategy, temperature, top_k, top_p, repetition_penalty, beam_width, seed, unknown):
    """The knobs as a ``DecodeConfig``: it checks every value; its message comes under the knob's label."""
    try:
        return DecodeConfig(strategy=strategy, length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=repetition_penalty, beam_width=beam_width, seed=seed, unknown=unknown,
                            alternatives=ALTERNATIVES)
    except ConfigError as e:
        raise labelled(e, {"seed": "gen_seed"}) from None


UNIT_NAMES = {"char": ("per character", "每字"), "word": ("per word", "每词")}


def perplexity_text(value: float, tokenizer: str, baselines: dict | None = None) -> str:
    """A perplexity with its unit (a word model's 78 and a char model's 189 are not alike) and, when the
    model's own n-gram baselines are known, the unit-free ratio to its bigram (modified Kneser-Ney) and
    whether that is below it, level with it or worse."""
    en, zh = UNIT_NAMES.get(tokenizer, (f"per {tokenizer} token", "每词元"))
    out = f"validation perplexity {value:.1f} {en} / 验证困惑度 {value:.1f}（{zh}）"
    bigram = (baselines or {}).get("bigram")
    if isinstance(bigram, (int, float)) and bigram > 0:
        en, zh = STANDING_WORDS[standing(value, bigram)]
        out += (f"; {value / bigram:.2f}× its bigram baseline ({bigram:.1f}), comparable across units: {en} / "
                f"是同单位二元模型的 {value / bigram:.2f} 倍：{zh}")
    return out


def mixture_text(card: dict) -> str:
    """The card's figure for the model mixed with its trigram (``mixture.py``), against its bigram and against
    the model alone (a strong model can lose by it); "" without one."""
    mix, bigram, alone = card.get("mixture"), (card.get("baselines") or {}).get("bigram"), card.get("val_ppl")
    if not mix or not isinstance(bigram, (int, float)) or not isinstance(alone, (int, float)):
        return ""
    en, zh = STANDING_WORDS[standing(mix["val_ppl"], bigram)]
    ratio, v = mix["val_ppl"] / bigram, mix["val_ppl"]
    if v < alone:
        why_en, why_zh = "better than the model alone: the network and the counts err differently", "比模型单独更好：两者错的地方不同"
    else:
        why_en, why_zh = "no better than the model alone: the counts add nothing it lacks", "不比模型单独好：计数没有补上它缺的"
    out = (f" Mixed half and half with its trigram: {v:.1f}, {ratio:.2f}× the bigram, {en}; {why_en} / "
           f"与三元模型各半混合：{v:.1f}，是二元模型的 {ratio:.2f} 倍，{zh}；{why_zh}。")
    if isinstance(mix.get("val_ppl_memory"), (int, float)):
        out += (f" With song memory too: {mix['val_ppl_memory']:.1f} / 再加歌曲记忆：{mix['val_ppl_memory']:.1f}。")
    return out


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
    tok = ck.data_config.tokenizer
    meter = ("the memorization meter compares with its training text / 照抄检测对照它的训练文本"
             if entry.raw is not None or entry.corpus_text is not None else
             "its training corpus is not here, so the memorization meter is off / 训练语料不在本机，照抄检测关闭")
    card = ck.meta.get("card") or {}
    best = card.get("val_ppl", ck.metrics.get("best_val_ppl"))
    ppl = (perplexity_text(best, tok, card.get("baselines") or ck.metrics.get("baselines")) + "; "
           if isinstance(best, (int, float)) else "")
    md = (f"**{esc(entry.label)}** — {esc(ck.model.describe())}; {tok} tokens / {'字' if tok == 'char' else '词'}"
          f"级词元, vocabulary / 词表 {len(ck.vocab):,}; {ppl}{meter}.{mixture_text(card)}")
    if ck.model.config.bidirectional:
        md += "\n\n⚠ " + bilingual(BIDIRECTIONAL_WARNING)
    return md


def continuation_report(index, gen):
    """The memorization report of the continuation alone: the user's prefix is not the model's copy
    (a 14-character lyric typed as the prefix must not read as "copies some lines")."""
    return index.check(gen.continuation) if index is not None else None


def _step_view(gen, step: int):
    steps = gen.steps
    if not steps:
        return plots.alternatives_chart([], "", 0), plots.entropy_chart([], [], [])
    i = min(max(step, 1), len(steps)) - 1
    s = steps[i]
    alt = plots.alternatives_chart(s.alternatives, s.token, i, s.entropy_bits, chosen_prob=s.prob)
    ent = plots.entropy_chart([x.token for x in steps], [x.entropy_bits for x in steps], [x.prob for x in steps], i)
    return alt, ent


def _waiting_note(position: int, eta_s: float | None) -> str:
    eta = f", about {math.ceil(eta_s)} s" if eta_s is not None and eta_s >= 1 else ""
    eta_zh = f"，约 {math.ceil(eta_s)} 秒" if eta_s is not None and eta_s >= 1 else ""
    return (f'<div class="ld-note">in the queue: position {position}{eta} / '
            f'排队中：第 {position} 位{eta_zh}</div>')


def _stream_batched(s: BatchedStream, prefix: str, tokenizer):
    """The text as it grows, from a request in a shared batch: its queue position while it waits,
    the first characters as soon as they come, then one update per ``_interval()``.  Between
    updates the thread sleeps instead of waking for every token: forty streams waking at every
    step of the shared loop would keep the server's event loop from the interpreter lock."""
    skip, pieces = gr.skip(), []
    while not s.ended:
        fresh = False
        for ev in s.next_events(timeout=1.0 if not pieces else 0.0):
            if isinstance(ev, Waiting):
                yield (skip, skip, _waiting_note(ev.position, ev.eta_s), skip, skip, skip, skip)
            elif not ev.candidate:
                pieces.append(ev.token)
                fresh = True
        if fresh:
            yield (prefix + tokenizer.detokenize(pieces), skip, skip, skip, skip, skip, skip)
        if pieces and not s.ended:
            s.wait_end(_interval())


def _stream_alone(s, prefix: str, tokenizer):
    """Beam search or song memory, alone: wait for a slot (saying so), then stream its steps."""
    skip, slots = gr.skip(), resources.solo_slots()
    while not slots.acquire(timeout=1.0):
        yield (skip, skip, '<div class="ld-note">waiting for a free slot … / 等待空闲名额 …</div>', skip, skip, skip,
               skip)
    try:
        pieces, last = [], time.monotonic()
        for step in s:
            if step.candidate:
                continue
            pieces.append(step.token)
            now = time.monotonic()
            if now - last >= STREAM_INTERVAL:
                last = now
                yield (prefix + tokenizer.detokenize(pieces), skip, skip, skip, skip, skip, skip)
        s.result()
    finally:
        slots.release()


def _interval() -> float:
    """Seconds between two page updates of one stream: 0.05 s for a few users, longer when many
    stream at once, so the server sends a bounded number of updates a second (about 80, whatever
    the class size: 0.5 s per stream for forty)."""
    live = sum(st["rows"] for st in resources.batch_pool().stats())
    return STREAM_INTERVAL * max(1.0, live / STREAMS_AT_FULL_RATE)


def _decoding_model(entry, memory: bool, mix: bool):
    """The checkpoint's model; mixed half and half with its training text's trigram (``mixture.py``);
    with song memory (the settings its card measured) over either."""
    ck = entry.checkpoint
    model = ck.model
    if mix:
        if entry.raw is None:
            raise LyricdemoError("Mixing in the trigram needs the model's training text, which is not on this "
                                 "machine. / 混合三元模型需要模型的训练文本，本机没有。")
        model = NGramMix(model, resources.trigram(entry.raw, ck.data_config))
    if not memory:
        return model
    stored = ((ck.meta.get("card") or {}).get("mixture") or {}).get("memory_config")
    if mix and stored:                         # the settings the card tuned for the mixture itself
        return MemoryLM(model, replace(MemoryConfig.from_dict(stored), dynamic_lr=0.0), vocab_size=len(ck.vocab))
    try:
        return MemoryLM(model, card_memory_config(ck.meta, ck.name), vocab_size=len(ck.vocab))
    except LyricdemoError:
        raise LyricdemoError("Song memory needs settings measured on the model card; the shipped models have "
                             "them (python -m lyricdemo card measures a checkpoint). / 歌曲记忆需要模型卡上测得的"
                             "设置：内置模型都有。") from None


@user_errors
def generate(session: Session, model: str = "", prefix: str = "分开", length: float = 100, strategy: str = "sample",
             temperature: float = 1.0, top_k: float = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
             beam_width: float = 4, seed: float = 0, unknown: str = "unk", memory: bool = False,
             mix: bool = False):
    """Stream generated text: (text, prefix report, memorization meter, step slider, top-k chart,
    entropy chart, result JSON).  ``memory``: song memory over the prefix and the text so far;
    ``mix``: the model mixed half and half with its training text's trigram."""
    prefix = text("prefix", prefix, MAX_PREFIX_CHARS)
    cfg = _decode_config(length, strategy, temperature, top_k, top_p, repetition_penalty, beam_width, seed, unknown)
    memory, mix = flag("song_memory", memory), flag("mix_trigram", mix)
    entry = registry.get(session, model)
    ck = entry.checkpoint
    skip = gr.skip()
    if not memory and not mix and batchable(ck.model, cfg):   # shares its model's batch; refused at once when full
        s = resources.batch_pool().submit(ck.model, ck.vocab, ck.tokenizer, prefix, cfg, path=ck.path)
    else:                      # beam search, song memory, the trigram: alone, in one of LYRICDEMO_MAX_GENERATING slots
        s = stream(_decoding_model(entry, memory, mix), ck.vocab, ck.tokenizer, prefix, cfg)   # checks the prefix
    report_html = prefix_html(s.prefix, ck.vocab)
    yield (prefix, report_html, '<div class="ld-note">generating … / 生成中 …</div>', skip, skip, skip, skip)
    try:
        if isinstance(s, BatchedStream):
            yield from _stream_batched(s, prefix, ck.tokenizer)
        else:
            yield from _stream_alone(s, prefix, ck.tokenizer)
        gen = s.result()
    finally:
        s.close()
    index = entry.corpus_index()
    report = continuation_report(index, gen)
    session.generation = (gen, report)
    meter = memorization_html(gen.text, len(gen.prefix.prefix), report,
                              "this model's training corpus is not on this machine")
    alt, ent = _step_view(gen, 1)
    info = {
        "model": entry.key, "text": gen.text, "continuation": gen.continuation, "strategy": gen.strategy,
        "seed": gen.seed, "tokens": len(gen.steps), "tokens_per_s": round(gen.tokens_per_s, 1),
        "time_to_first_token_s": round(gen.time_to_first_token_s, 4),
        "unknown": [{"token": u.token, "start": u.start, "end": u.end} for u in gen.prefix.unknown],
        "notes": [bilingual(n) for n in gen.notes], "summary": generation_summary(gen), "song_memory": memory,
        "mixed_with_trigram": mix,
        "memorization": None if report is None else {
            "longest_length": report.longest_length, "copied_share": report.copied_share,
            "ngram_share": {str(k): v for k, v in report.ngram_share.items()}, "summary": memorization_summary(report),
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


def first_text(session: Session, *args):
    """On arrival: a text from the default model and settings, so the tab opens on a result
    (nothing when no model is installed: the model note says what to do)."""
    if not registry.choices(session):
        yield (gr.skip(),) * 7
        return
    yield from generate(session, *args)


# long: the layout is written top to bottom as the page shows it, then the wiring of its events; cut
# into pieces it would no longer read as the page.
def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    """Model, prefix, decoding and Generate on the left; the text (once, 18 px, copies highlighted),
    then the per-step views on the right: both in the first screen at 1280×720."""
    d = DEFAULT_DECODING
    with gr.Row(elem_id="gen-row"):
        with gr.Column(scale=2, min_width=320, elem_id="gen-controls"):
            model, refresh = registry.picker("gen")
            prefix = gr.Textbox(value="分开", lines=1, max_lines=4, elem_id="gen-prefix", **kw("prefix"))
            strategy = gr.Radio([("greedy / 贪心", "greedy"), ("sample / 采样", "sample"), ("beam / 束搜索", "beam")],
                                value=d["strategy"], elem_id="gen-strategy", **kw("strategy"))
            go = gr.Button(T["generate"], variant="primary", elem_id="gen-go")
            with gr.Accordion("Decoding options / 解码选项", open=False, elem_id="gen-options"):
                length = gr.Slider(1, min(UI_MAX_LENGTH, limits.max_length()), value=min(100, limits.max_length()),
                                   step=1, elem_id="gen-length", **kw("length"))
                temperature = gr.Slider(0, 3, value=d["temperature"], step=0.05, elem_id="gen-temperature",
                                        **kw("temperature"))
                with gr.Row():
                    top_k = gr.Slider(0, 100, value=d["top_k"], step=1, elem_id="gen-top-k", **kw("top_k"))
                    top_p = gr.Slider(0.05, 1.0, value=d["top_p"], step=0.05, elem_id="gen-top-p", **kw("top_p"))
                with gr.Row():
                    rep = gr.Slider(1.0, 3.0, value=d["repetition_penalty"], step=0.05, elem_id="gen-rep",
                                    **kw("repetition_penalty"))
                    beam = gr.Slider(1, 16, value=4, step=1, elem_id="gen-beam", **kw("beam_width"))
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, minimum=0, elem_id="gen-seed", **kw("gen_seed"))
                    unknown = gr.Radio(list(UNKNOWN_MODES), value="unk", elem_id="gen-unknown", **kw("unknown"))
                with gr.Row():
                    song_memory = gr.Checkbox(value=False, elem_id="gen-memory", **kw("song_memory"))
                    mix = gr.Checkbox(value=False, elem_id="gen-mix", **kw("mix_trigram"))
            with gr.Row(equal_height=True):
                link_btn = gr.Button("Copy link / 复制链接", size="sm", scale=1, elem_id="gen-link-btn")
                link = gr.Textbox(show_label=False, scale=3, max_lines=1, interactive=False, buttons=["copy"],
                                  placeholder="the link to this text and its settings / 这段文字及其设置的链接",
                                  elem_id="gen-link")
            about = gr.Markdown(label="About the model / 模型信息", show_label=False, elem_id="gen-model-info",
                                elem_classes=["ld-note"])
            with gr.Accordion("Load a checkpoint / 加载检查点", open=False):
                ckpt_upload = checked_file(gr.File(file_types=[".zip"], type="filepath", height=90,
                                                   elem_id="gen-ckpt-upload", label=label_text("checkpoint_upload")),
                                           "checkpoint_upload")
                ckpt_note = gr.Markdown(help_text("checkpoint_upload"), elem_id="gen-ckpt-note", elem_classes=["ld-note"])
        with gr.Column(scale=3, min_width=300, elem_id="gen-main"):
            meter = gr.HTML(label="Generated text and memorization meter / 生成的歌词与照抄检测", elem_id="gen-meter")
            out = gr.Textbox(label="Generated text / 生成的歌词", lines=4, max_lines=12, interactive=False,
                             elem_id="gen-out", buttons=["copy"])
            report = gr.HTML(label="Prefix as the model reads it / 模型读到的前缀", elem_id="gen-prefix-report")
            with gr.Row():
                step = gr.Slider(1, UI_MAX_LENGTH, value=1, step=1, scale=1, elem_id="gen-step", **kw("step"))
                alt_plot = gr.Plot(label="Top-10 alternatives / 前 10 个候选", show_label=False, scale=2,
                                   elem_id="gen-alternatives")
            ent_plot = gr.Plot(label="Entropy / 熵", show_label=False, elem_id="gen-entropy")
    with gr.Accordion("Result as JSON / 结果（JSON）", open=False):
        info = gr.JSON(label="Result / 结果", elem_id="gen-json")
    with gr.Accordion("Available models / 可用模型", open=False):
        models_json = gr.JSON(label="Models / 模型列表", elem_id="gen-models-json")

    ins = [session, model, prefix, length, strategy, temperature, top_k, top_p, rep, beam, seed, unknown,
           song_memory, mix]
    outs = [out, report, meter, step, alt_plot, ent_plot, info]
    ev = go.click(generate, ins, outs, api_name="generate",
                  concurrency_limit=limits.generate_concurrency(), show_progress="minimal",
                  preprocess=False)        # generate() checks every raw value itself (validate.py)
    mark_stale(ev, "gen-main")
    scroll_on_phone(go, "gen-main")
    # the first text is drawn on page load by links.wire, after a lesson link has set the knobs; it joins
    # the same shared batch as /generate (batching.py), so it takes no slot of the solo work
    first = (first_text, ins, outs, dict(concurrency_limit=limits.generate_concurrency(),
                                         show_progress="hidden", preprocess=False))
    # .input: the user's drags and typed numbers (not generate()'s own reset); the last one wins
    step.input(step_view, [session, step], [alt_plot, ent_plot], api_name="step_view", trigger_mode="always_last",
               preprocess=False)
    model.change(model_info, [session, model], about, api_visibility="private", queue=False)
    demo.load(model_info, [session, model], about, api_visibility="private")
    links.copy_link(link_btn, link, "generate", model, {"prefix": prefix, "strategy": strategy,
                                                        "temperature": temperature, "top_p": top_p, "top_k": top_k,
                                                        "seed": seed})
    return SimpleNamespace(
        first=first, link=link, link_btn=link_btn, model=model, refresh=refresh, about=about,
        ckpt_upload=ckpt_upload, ckpt_note=ckpt_note, prefix=prefix, length=length, go=go, out=out,
        temperature=temperature, top_k=top_k, top_p=top_p, rep=rep, beam=beam, seed=seed, unknown=unknown,
        report=report, meter=meter, step=step, alt_plot=alt_plot, ent_plot=ent_plot, info=info,
        models_json=models_json, strategy=strategy, song_memory=song_memory)
