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
    # -- reading a prefix or a text as the model reads it (reading.py, probe.py) ---------------------
    "start_at_unk": "词表没有换行符，从 <unk> 开始。",
    "line_breaks_as_spaces": "换行按本模型的训练方式写成空格。",
    "unknown_as_unk": "前缀中有 {count} 个词表外的词元，已替换为 <unk>。",
    "unknown_strict": "前缀中有 {count} 个词表外的词元（严格模式）。",
    "prefix_too_long": "前缀太长。",
    "empty_text": "请输入要读的文本。",
    "text_too_long": "文本太长。",
    "connectivity_too_long": "完整矩阵只适用于 {limit} 个词元以内的文本。",
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
    best = gen.candidates[0]
    return (f"{gen.strategy}: {len(best.ids)} tokens / 词元, mean log-prob / 平均对数概率 "
            f"{best.mean_log_prob:.3f} (ppl {best.perplexity:.2f}), {gen.tokens_per_s:.0f} tokens/s, "
            f"first token / 首词元 {gen.time_to_first_token_s * 1000:.1f} ms")
