"""Tab 1 — Tokenize & vocabulary / 分词与词表.

    corpus (data/ or upload) --clean--> lines --tokenizer--> tokens --min_freq--> Vocab

Handlers are plain functions (tested without a server): widget values in, library
calls, components out.  ``/tokenize`` is the tab's endpoint; ``/lookup`` answers
token <-> id questions about the vocabulary the last ``/tokenize`` of the session built.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import plots
from .. import sources
from ..corpora import EMBEDDED
from ..corpus import CLEANERS, read_corpus_file
from ..data import DataConfig
from ..errors import LyricdemoError
from ..fields import ConfigError
from ..stats import RawStats
from ..tokenizers import NEWLINE_MODES, TOKENIZERS, tokenize_lines
from ..vocab import RESERVED_CHOICES, UNK, UNKNOWN_WORDS, token_from_glyph
from . import limits, resources
from .labels import T, kw
from .session import Session
from .validate import checked_file, choice, labelled, subset, text, upload_path, user_errors, whole
from .widgets import esc, mark_stale, markdown_table, scroll_on_phone, tokens_html

SOURCES = ("d2l", "tang", "upload")
SHOW_LINES = 8


def _load_raw(session: Session, source: str, upload):
    """The corpus text the user chose; an upload is read (size-capped, UTF-8 checked) and kept in the session."""
    if source in ("d2l", "tang"):
        return resources.builtin_corpus(source)
    path = upload_path("upload", upload)
    if path:
        raw = read_corpus_file(path, max_bytes=limits.max_upload_bytes())
        session.upload = raw
        return raw
    if session.upload is not None:
        return session.upload
    raise LyricdemoError("Upload a UTF-8 text file first (or choose a built-in corpus). / 请先上传一个 UTF-8 文本文件。")


def data_config(clean, tokenizer, newline, min_freq, reserved, unknown_words="chars") -> DataConfig:
    """The knobs as a ``DataConfig``: it checks every value; its message comes under the knob's label.
    The reserved tokens, a checkbox group, come in the order of their choices, once each."""
    try:
        return DataConfig(clean=clean, tokenizer=tokenizer, newline=newline, min_freq=min_freq,
                          reserved_tokens=subset("reserved", reserved, RESERVED_CHOICES),
                          unknown_words=unknown_words)
    except ConfigError as e:
        raise labelled(e, {"reserved_tokens": "reserved"}) from None


def _pct(x: float) -> str:
    return f"{x:.2%}"


@user_errors
def tokenize(session: Session, source: str = "d2l", upload: str | None = None, clean: str = "d2l",
             tokenizer: str = "char", newline: str = "token", min_freq: float = 2, reserved: list | None = None,
             top_n: float = 30, first_line: float = 1, unknown_words: str = "chars"):
    """Corpus statistics: summary, tokenized lines, top-N, Zipf, coverage, rare tokens, char vs word."""
    session.touch()
    source = choice("source", source, SOURCES)
    cfg = data_config(clean, tokenizer, newline, min_freq, reserved or [], unknown_words)
    top_n = whole("top_n", top_n, 1, 100)
    first = whole("first_line", first_line, 1, 10_000_000)
    raw = _load_raw(session, source, upload)
    ds = resources.dataset(raw, cfg)
    st = resources.stats(raw, cfg)
    rs = RawStats.of(raw)
    session.analyzed = ds
    if first > max(len(ds.train_lines), 1):
        raise LyricdemoError(f"The training text has {len(ds.train_lines):,} lines; "
                             f"'Show lines from' must be at most that. / 起始行超出范围。")
    shown = ds.train_lines[first - 1:first - 1 + SHOW_LINES]
    view = tokens_html([ds.vocab.spell(line) for line in tokenize_lines(shown, ds.tokenizer, cfg.newline)],
                       ds.vocab, first)
    rare = [[plots.show_token(t), f, ds.vocab[t] if t in ds.vocab else UNK] for t, f in st.rare_tokens[-30:]]
    rare.reverse()
    cmp = resources.compare(raw, cfg)
    summary = markdown_table(_summary_rows(raw, rs, st, cfg), ("quantity / 项目", "value / 数值"))
    return (_notice(source, raw, cfg), summary, view, plots.top_tokens_chart(st.top_tokens[:top_n]), plots.zipf_chart(st.zipf),
            plots.coverage_chart(st.coverage, st.coverage_marks), rare, _compare_rows(cmp, cfg),
            _stats_json(raw, rs, st, cfg, cmp, top_n))


def _summary_rows(raw, rs: RawStats, st, cfg) -> list[list[str]]:
    """The corpus summary table: (quantity, value) rows."""
    marks = "  ".join(f"{int(m * 100)}% → {k:,}" for m, k in st.coverage_marks.items())
    return [
        ["file / 文件", f"{raw.name} ({raw.size_bytes:,} bytes, sha256 {raw.sha256[:12]}…)"],
        ["lines / 行数", f"{rs.lines:,} raw → {st.train_lines:,} train + {st.val_lines:,} validation"],
        ["characters / 字符数", f"{rs.chars:,} ({rs.distinct_chars:,} distinct / 不同)"],
        ["training tokens / 训练词元数", f"{st.tokens:,} (mean {st.mean_token_chars:.2f} chars/token)"],
        ["distinct tokens / 不同词元", f"{st.types:,}"],
        [f"vocabulary size / 词表大小 (min_freq={cfg.min_freq})",
         f"{st.vocab_size:,} (incl. {UNK}{', ' + ', '.join(cfg.reserved_tokens) if cfg.reserved_tokens else ''})"],
        ["seen once / 只出现一次", f"{st.singletons:,} ({st.singletons / max(st.types, 1):.0%} of distinct tokens)"],
        ["validation <unk> rate / 验证集 <unk> 比例", f"{_pct(st.val_unk_rate)} of {st.val_tokens:,} tokens"],
        *([["validation words spelled / 验证集中拆成单字的词",
            f"{st.val_spelled:,} of {st.val_words:,} words ({_pct(st.val_spelled_rate)}): not in the vocabulary, "
            f"each read as its characters / 不在词表中，逐字读入"]]
          if cfg.tokenizer != "char" and cfg.unknown_words == "chars" else []),
        ["coverage / 覆盖率 (share → top-k types)", marks],
    ]


def _compare_rows(cmp: dict, cfg) -> list[list[str]]:
    """Characters against words on the same text: (quantity, char, word) rows."""
    c, w = cmp["char"], cmp["word"]
    return [
        ["training tokens / 训练词元数", f"{c.tokens:,}", f"{w.tokens:,}"],
        ["distinct tokens / 不同词元", f"{c.types:,}", f"{w.types:,}"],
        [f"vocabulary (min_freq={cfg.min_freq}) / 词表大小", f"{c.vocab_size:,}", f"{w.vocab_size:,}"],
        ["seen once / 只出现一次", f"{c.singletons:,} ({c.singletons / max(c.types, 1):.0%})",
         f"{w.singletons:,} ({w.singletons / max(w.types, 1):.0%})"],
        ["validation <unk> rate / 验证 <unk>", _pct(c.val_unk_rate), _pct(w.val_unk_rate)],
        ["validation words spelled / 拆成单字的验证词", "–",
         f"{w.val_spelled:,} ({_pct(w.val_spelled_rate)})" if w.unknown_words == "chars" else
         "– (unknown_words = unk)"],
        ["chars per token / 每词元字数", f"{c.mean_token_chars:.2f}", f"{w.mean_token_chars:.2f}"],
        ["types for 90% coverage / 覆盖 90% 所需词元", f"{c.coverage_marks.get(0.9, 0):,}",
         f"{w.coverage_marks.get(0.9, 0):,}"],
    ]


def _notice(source: str, raw, cfg) -> str:
    """Where the text comes from and how it was read, above the statistics."""
    origin = (f"{esc(sources.builtin_source(source).describe())}<br>" if source in ("d2l", "tang") else
              f"uploaded by you / 你上传的文件: ")
    download = sources.download_status()
    if download.state in ("running", "failed") and source != "d2l":   # why the d2l lyrics are not here (yet)
        origin += f"⚠ {esc(download.sentence())}<br>"
    return (f"{origin}**{esc(raw.name)}** · clean = `{cfg.clean}` · tokenizer = `{cfg.tokenizer}` · "
            f"line break = `{cfg.newline}` · the vocabulary is built from the training lines only "
            f"(the last 10% of lines are held out for validation). / 词表只用训练部分（最后 10% 的行留作验证）。")


def _stats_json(raw, rs: RawStats, st, cfg, cmp: dict, top_n: int) -> dict:
    """The statistics as JSON (for API users and the tab's JSON view)."""
    return {
        "corpus": raw.name, "sha256": raw.sha256, "raw_lines": rs.lines, "raw_chars": rs.chars,
        "config": cfg.to_dict(), "train_lines": st.train_lines, "val_lines": st.val_lines, "tokens": st.tokens,
        "types": st.types, "vocab_size": st.vocab_size, "singletons": st.singletons, "val_tokens": st.val_tokens,
        "val_unk_rate": st.val_unk_rate, "mean_token_chars": st.mean_token_chars,
        "val_words": st.val_words, "val_spelled": st.val_spelled, "val_spelled_rate": st.val_spelled_rate,
        "coverage_marks": {str(k): v for k, v in st.coverage_marks.items()},
        "top_tokens": [[t, f] for t, f in st.top_tokens[:top_n]],
        "zipf_top": {str(n): f[:10] for n, f in st.zipf.items()},
        "char_vs_word": {name: {"tokens": s.tokens, "types": s.types, "vocab_size": s.vocab_size,
                                "val_unk_rate": s.val_unk_rate, "val_spelled": s.val_spelled}
                         for name, s in cmp.items()},
    }


def on_load(session: Session, source, upload, clean, tokenizer, newline, min_freq, reserved, top_n, first_line,
            unknown_words="chars"):
    """The first view: the corpus in use now (the d2l lyrics when they are in data/, else the Tang poems),
    analysed; the source picker follows it, so a corpus that arrived while the app ran is chosen."""
    if source != "upload":
        source = resources.corpus_in_use().key
    try:
        return (gr.update(value=source),
                *tokenize(session, source, upload, clean, tokenizer, newline, min_freq, reserved, top_n, first_line,
                          unknown_words))
    except gr.Error as e:
        return (gr.skip(), f"⚠ {esc(str(e))}") + (gr.skip(),) * 8


@user_errors
def lookup(session: Session, query: str = ""):
    """Token -> id (and count), or id -> token, in the vocabulary of the session's last /tokenize."""
    session.touch()
    q = text("lookup", query, 200, allow_empty=False)
    ds = session.analyzed
    if ds is None:
        raise LyricdemoError("Press Analyze first: the lookup uses the vocabulary built there. / 请先点击“分析”。")
    v = ds.vocab
    s = q.strip()
    if s.lstrip("-").isdigit():
        i = int(s)
        if not 0 <= i < len(v):
            raise LyricdemoError(f"Ids run from 0 to {len(v) - 1}; got {i}. / 编号超出范围。")
        tok = v.to_tokens(i)
        return (f"id **{i}** → token **`{esc(plots.show_token(tok))}`** · seen {v.freq(tok):,}× in training / "
                f"训练中出现 {v.freq(tok):,} 次")
    tok = token_from_glyph(s)
    if tok == s and q.isspace():
        tok = q                                  # a space typed as itself
    if tok in v:
        return (f"token **`{esc(plots.show_token(tok))}`** → id **{v[tok]}** · seen {v.freq(tok):,}× in training "
                f"(rank {v[tok] - len(v.reserved_tokens)} by frequency) / 训练中出现 {v.freq(tok):,} 次")
    if v.spelled([tok])[0]:
        parts = ", ".join(f"`{esc(plots.show_token(ch))}` → {v[ch]}" for ch in tok[:20]) + (" …" if len(tok) > 20 else "")
        return (f"**`{esc(plots.show_token(tok))}`** is not a word of the vocabulary (seen fewer than "
                f"min_freq={v.min_freq} times in training): it is spelled as its characters: {parts} "
                f"(id 0 = {esc(UNK)}). / 不是词表中的词，按单字读入。")
    n = v.freq(tok)
    why = (f"seen only {n}× in training, below min_freq={v.min_freq} / 训练中只出现 {n} 次" if n else
           "never seen in the training text / 训练文本中从未出现")
    unk = esc(UNK)            # "<unk>" unescaped is an HTML tag: the page would drop it (and the Chinese after it)
    return (f"token **`{esc(plots.show_token(tok))}`** is not in the vocabulary ({why}): it is read as "
            f"**{unk}** = id 0. / 不在词表中，按 {unk}（编号 0）处理。")


# long: the layout is written top to bottom as the page shows it, then the wiring of its events; cut
# into pieces it would no longer read as the page.
def build(demo: gr.Blocks, session: gr.State) -> SimpleNamespace:
    """Corpus, tokenizer and Analyze on the left, the tokenized lines (the lesson's picture) and the
    summary on the right, both in the first screen; the other knobs in "All settings / 全部参数"."""
    in_use = resources.corpus_in_use().key
    with gr.Row(elem_id="vocab-row"):
        with gr.Column(scale=1, min_width=300, elem_id="vocab-controls"):
            source = gr.Radio([("d2l Jay Chou lyrics / 周杰伦歌词", "d2l"), (EMBEDDED["tang"]["label"], "tang"),
                               ("uploaded file / 上传文件", "upload")],
                              value=in_use, elem_id="vocab-source", **kw("source"))
            tokenizer = gr.Radio(list(TOKENIZERS), value="char", elem_id="vocab-tokenizer", **kw("tokenizer"))
            analyze = gr.Button(T["analyze"], variant="primary", elem_id="vocab-analyze")
            with gr.Accordion("Your own text / 上传文本", open=False, elem_id="vocab-upload-box"):
                upload = checked_file(gr.File(file_types=[".txt", ".zip"], type="filepath", elem_id="vocab-upload",
                                              height=110, **kw("upload")), "upload")
            with gr.Accordion("All settings / 全部参数", open=False, elem_id="vocab-all"):
                clean = gr.Radio(list(CLEANERS), value="d2l", elem_id="vocab-clean", **kw("clean"))
                newline = gr.Radio(list(NEWLINE_MODES), value="token", elem_id="vocab-newline", **kw("newline"))
                min_freq = gr.Slider(1, 50, value=2, step=1, elem_id="vocab-min-freq", **kw("min_freq"))
                unknown_words = gr.Radio(list(UNKNOWN_WORDS), value="chars", elem_id="vocab-unknown", **kw("unknown_words"))
                reserved = gr.CheckboxGroup(list(RESERVED_CHOICES), value=[], elem_id="vocab-reserved",
                                            **kw("reserved"))
                with gr.Row():
                    top_n = gr.Slider(5, 100, value=30, step=1, elem_id="vocab-top-n", **kw("top_n"))
                    first_line = gr.Number(value=1, precision=0, minimum=1, elem_id="vocab-first-line",
                                           **kw("first_line"))
            with gr.Row():
                query = gr.Textbox(scale=3, elem_id="vocab-lookup", **kw("lookup"))
                lookup_btn = gr.Button(T["lookup_btn"], scale=1, elem_id="vocab-lookup-btn")
            lookup_out = gr.Markdown(label="Lookup / 查询结果", show_label=False, elem_id="vocab-lookup-out")
        with gr.Column(scale=2, elem_id="vocab-main"):
            notice = gr.Markdown("", label="Notice / 说明", show_label=False, elem_id="vocab-notice",
                                 elem_classes=["ld-note"])
            view = gr.HTML(label="Tokenized lines / 分词结果", elem_id="vocab-tokens")
            summary = gr.Markdown(label="Summary / 概要", show_label=False, elem_id="vocab-summary")
    with gr.Row():
        top_plot = gr.Plot(label="Top tokens / 高频词元", show_label=False, elem_id="vocab-top")
    with gr.Row():
        zipf_plot = gr.Plot(label="Zipf", show_label=False, elem_id="vocab-zipf")
        coverage_plot = gr.Plot(label="Coverage / 覆盖率", show_label=False, elem_id="vocab-coverage")
    with gr.Row():
        rare = gr.Dataframe(headers=["token / 词元", "count / 次数", "id / 编号"], interactive=False,
                            label="Rare tokens (rarest first) / 低频词元", elem_id="vocab-rare", max_height=320)
        compare = gr.Dataframe(headers=["", "char / 字", "word / 词 (jieba)"], interactive=False, wrap=True,
                               label="Characters vs. words / 字与词的对比", elem_id="vocab-compare")
    with gr.Accordion("Statistics as JSON / 统计数据（JSON）", open=False):
        stats_json = gr.JSON(label="Statistics / 统计", elem_id="vocab-json")

    inputs = [session, source, upload, clean, tokenizer, newline, min_freq, reserved, top_n, first_line, unknown_words]
    outputs = [notice, summary, view, top_plot, zipf_plot, coverage_plot, rare, compare, stats_json]
    # preprocess=False: the handlers check every raw value themselves (validate.py), so a string
    # sent to a slider gets a message naming the slider instead of Gradio's blank "Error"
    mark_stale(analyze.click(tokenize, inputs, outputs, api_name="tokenize", concurrency_limit=2,
                             concurrency_id="cpu", preprocess=False), "vocab-main")
    scroll_on_phone(analyze, "vocab-main")
    upload.upload(lambda: gr.update(value="upload"), None, source, api_visibility="private", queue=False)
    demo.load(on_load, inputs, [source, *outputs], api_visibility="private")
    lookup_btn.click(lookup, [session, query], lookup_out, api_name="lookup", preprocess=False)
    query.submit(lookup, [session, query], lookup_out, api_visibility="private", preprocess=False)
    return SimpleNamespace(source=source, upload=upload, analyze=analyze, summary=summary, view=view,
                           top_plot=top_plot, zipf_plot=zipf_plot, coverage_plot=coverage_plot, rare=rare,
                           compare=compare, query=query, lookup_out=lookup_out, notice=notice)

