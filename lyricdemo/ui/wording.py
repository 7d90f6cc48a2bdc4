"""The app's wording of what the core says: plain English in, "English / 中文" out.

The core's notes and errors are plain, factual English; those the app shows carry a
``code`` and their numbers (``errors.Note``, ``LyricdemoError(code=...)``).  ``ZH``
holds the Chinese half of each code, so the core carries no UI copy and nothing
here parses English.  A message without a code (or with one not in the table) is
shown as it is.
"""

from __future__ import annotations

from typing import Any

# code -> the Chinese half, a ``str.format`` template over the message's ``data``
ZH: dict[str, str] = {
    # -- a generation's notes and errors (generate.py, decode_choice.py) -------------------------
    "greedy_below": "温度低于 {threshold:g}，按贪心解码。",
    "greedy_one_candidate": "贪心解码只有一个结果。",
    "beam_fewer": "束搜索只给出 {found} 个候选。",
    "nan_outputs": "模型输出了 NaN/inf，无法生成文本。",
    # -- sharing a batch (batching.py) -------------------------------------------------------------
    "queue_full": "生成队列已满，请稍后再试。",
    "queue_full_retry": "生成队列已满，约 {seconds} 秒后再试。",
    "generation_stopped": "生成已停止。",
    "batch_loop_stopped": "生成循环已停止。",
    "not_batchable": "此请求不能批量生成。",
    "batch_too_many": "候选数超过批量上限。",
    # -- selecting positions of a text (activations.py) ----------------------------------------------
    "no_line_break": "文本中没有换行。",
    "select_token_empty": "请输入要选择的字或词，例如“我”。",
    "token_not_in_text": "文本中没有“{token}”。",
    "positions_empty": "请输入位置，例如 0, 5, 9-12。",
    "position_format": "位置格式不对。",
    "no_selection": "没有选中任何位置。",
    "all_selected": "所有位置都被选中了，无从比较。",
    "sort_needs_selection": "按选择排序需要先选位置。",
    # -- reading a prefix or a text as the model reads it (reading.py, probe.py) ---------------------
    "start_at_unk": "词表没有换行符，从 <unk> 开始。",
    "line_breaks_as_spaces": "换行按本模型的训练方式写成空格。",
    "unknown_as_unk": "前缀中有 {count} 个词表外的词元，已替换为 <unk>。",
    "unknown_strict": "前缀中有 {count} 个词表外的词元（严格模式）。",
    "prefix_too_long": "前缀太长。",
    "empty_text": "请输入要读的文本。",
    "text_too_long": "文本太长。",
    "connectivity_too_long": "完整矩阵只适用于 {limit} 个词元以内的文本。",
    # -- corpora (corpus.py, sources.py, corpora.py) ---------------------------------------------------
    "corpus_missing": "未找到周杰伦歌词语料：请把 jaychou_lyrics.txt.zip 放入 data/ 目录，或上传任意 UTF-8 文本。",
    "unknown_embedded_corpus": "没有名为 {name!r} 的内置语料。",
    # -- the memorization meter (novelty.py) ---------------------------------------------------------
    "corpus_too_large": "语料太大，无法检查照抄。",
    # -- a model's configuration (models/lm.py) -----------------------------------------------------
    "bidirectional": ("这是一个双向模型：反向的那一半会读到每个位置之后的字，"
                      "也就是它要预测的字本身。所以训练困惑度会降到约 1，却没有学会写歌词，"
                      "生成的文本会退化（d2l 的双向 GRU 输出“分开始开始开始……”）。"
                      "它用来说明语言模型为什么只能往回看，不适合用来生成。"),
    "dropout_rnn_one_layer": "dropout_rnn 只作用于层与层之间，单层模型中不起作用。",
    # -- training (train.py) -------------------------------------------------------------------------
    "diverged": "训练发散（梯度爆炸）：请打开梯度裁剪或调低学习率；模型保留了最后一组正常的参数。",
}

# codes whose Chinese half is a paragraph of its own (a long lesson), not " / " after the English
PARAGRAPH: frozenset[str] = frozenset({"bidirectional"})


def bilingual(message: Any) -> str:
    """A ``Note``, a ``LyricdemoError`` or a plain string, as the app shows it: "English / 中文"."""
    text = str(message)
    code = getattr(message, "code", None)
    zh = ZH.get(code) if code is not None else None
    if zh is None:
        return text
    return text + ("\n" if code in PARAGRAPH else " / ") + zh.format(**getattr(message, "data", {}))


def generation_summary(gen) -> str:
    """``Generation.summary()`` in both languages: strategy, length, mean log-prob, speed."""
    return gen.summary({"tokens": "tokens / 词元", "mean": "mean log-prob / 平均对数概率", "first": "first token / 首词元"})


def memorization_summary(report) -> str:
    """``MemorizationReport.summary()`` in both languages: the longest copy, n-grams found, copies."""
    L = report.longest
    if L is None:
        return "The text is empty. / 文本为空。"
    parts = [f"longest verbatim copy: {L.length} chars" + (f" (corpus line {L.corpus_line})" if L.length else "")
             + f" / 最长照抄 {L.length} 字"]
    parts += [f"{n}-grams in corpus / {n}-gram 见于语料: {share:.0%}" for n, share in sorted(report.ngram_share.items())
              if share is not None]
    parts.append(f"copies of ≥{report.threshold} chars / ≥{report.threshold} 字的照抄: {len(report.spans)} "
                 f"({report.copied_share:.0%} of the text)")
    return "; ".join(parts) + "."


def repetition_summary(loop) -> str:
    """``Repetition.summary()`` in both languages."""
    if loop.kind == "line":
        return f"{loop.summary()} / 同一行重复 {loop.count} 次"
    return f"{loop.summary()} / “{loop.shown}” 连续重复 {loop.count} 次"


def corpus_header(src) -> str:
    """A ``sources.CorpusSource`` in a few words for the page header: what, how big, built in or from data/."""
    where = ("built in; no d2l lyrics on this server / 内置；本服务器没有周杰伦歌词" if src.key != "d2l" else
             "downloaded / 已下载" if src.origin.startswith("downloaded") else "data/")
    return f"{src.label} ({src.size()}, {where})"
