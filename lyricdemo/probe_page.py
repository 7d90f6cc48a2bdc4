"""The probe, presented: its notes in both languages and a standalone HTML page of its views.

``probe.py`` computes (arrays, plain facts); this module says what they mean to a reader and
lays the figures of ``plots`` out on one page.  The CLI (``python -m lyricdemo probe``) and
the app's export (tab 4) both use it.
"""

from __future__ import annotations

from html import escape

import numpy as np

from . import plots
from .activations import SATURATION, unit_order, unit_scores
from .probe import Connectivity, Probe

# What each recorded gate or state is, as the views name it (ScratchRNN's names).
GATE_NAMES = {"r": "reset / 重置门", "z": "update / 更新门", "n": "candidate / 候选状态",
              "i": "input / 输入门", "f": "forget / 遗忘门", "g": "candidate / 候选记忆", "o": "output / 输出门",
              "h": "hidden state / 隐状态", "c": "memory cell / 记忆单元"}


def probe_notes(p: Probe) -> list[str]:
    """What a reader of these numbers must know (bidirectional, unknown tokens, truncation)."""
    out = []
    if p.bidirectional:
        H = p.hidden_size
        out.append(f"Bidirectional: units 0–{H - 1} read forwards, {H}–{2 * H - 1} backwards. The backward "
                   "half reads the future (the tokens after t), so its predictions peek at the answer. / "
                   f"双向模型：单元 0–{H - 1} 正向读，{H}–{2 * H - 1} 反向读；反向的一半读到了之后的字，等于偷看答案。")
    if p.unknown:
        shown = ", ".join(repr(u.token) for u in p.unknown[:10])
        out.append(f"{len(p.unknown)} unknown token(s) read as <unk>: {shown}. / 未知词元按 <unk> 读入。")
    if p.truncated:
        out.append(f"Only the first {len(p.tokens):,} tokens were read. / 只读了前 {len(p.tokens):,} 个词元。")
    return out


def probe_html(p: Probe, layer: int = -1, unit: int | None = None, select_by: str = "line starts",
               select_value: str = "", title: str | None = None, connectivity: Connectivity | None = None) -> str:
    """A standalone HTML page of the views (plotly.js inlined: it works offline), for slides and
    handouts: units over time, the text coloured by one unit, the units that fire at a selection,
    gate saturation, the prediction strip, the saliency of one position, the trajectory."""
    k = p.layer(layer % p.num_layers if isinstance(layer, int) and not isinstance(layer, bool) else layer)
    h = p.values(k, "h")
    sel = p.positions(select_by, select_value) if select_by else np.zeros(0, dtype=np.int64)
    scores = unit_scores(h, sel) if 0 < sel.size < len(p.tokens) else None
    order = unit_order(h, "selection", sel) if scores is not None else unit_order(h, "variance")
    u = int(order[0]) if unit is None else p.check_unit(unit)
    kind = p.kind.upper()
    head = (f"<p>{escape(kind)} · {p.num_layers} layer(s) × {p.hidden_size} units"
            f"{' × 2 directions' if p.bidirectional else ''} · {len(p.tokens)} tokens"
            + (f" · mean surprisal {p.surprisal_bits():.2f} bits/token" if p.surprisal_bits() is not None
               else "") + "</p>" + "".join(f"<p>{escape(n)}</p>" for n in probe_notes(p)))
    sections: list[tuple[str, object]] = [
        (f"Units over time, layer {k + 1} / 第 {k + 1} 层单元",
         plots.units_heatmap(h, p.tokens, order, selected=sel.tolist(), unit=u,
                             title=f"h, layer {k + 1}, units sorted by {'selection' if scores is not None else 'variance'}")),
        (f"The text coloured by unit {u} / 按第 {u} 号单元着色",
         plots.text_grid_chart(p.tokens, h[:, u], f"unit {u}, layer {k + 1}", marks=sel.tolist())),
    ]
    if scores is not None:
        top = np.argsort(-scores, kind="stable")[:8]
        low = np.argsort(scores, kind="stable")[:8]
        rows = "".join(f"<tr><td>{int(a)}</td><td>{scores[a]:+.3f}</td><td>{int(b)}</td><td>{scores[b]:+.3f}</td></tr>"
                       for a, b in zip(top, low))
        sections.append((f"Units that fire at {select_by} {escape(select_value)} ({sel.size} positions) / 在选中位置激活的单元",
                         "<table><tr><th>up here / 升高</th><th>score</th><th>down here / 降低</th><th>score</th></tr>"
                         f"{rows}</table><p>score = mean at the selected positions − mean elsewhere.</p>"))
    sections += [
        ("Gate saturation / 门饱和度", plots.saturation_chart(p.saturation(), GATE_NAMES, *SATURATION)),
        ("Predictions / 预测", plots.prediction_strip(p.tokens, p.top_tokens, p.top_probs,
                                                    p.entropy_bits, p.next_logprob_bits.tolist())),
    ]
    if p.saliency is not None:
        s = p.saliency
        sections.append((f"Connectivity of position {s.position} / 第 {s.position} 个位置的连接性",
                         plots.saliency_chart(p.tokens, s.shares, s.position, s.target, s.in_text,
                                              s.reads_future)))
        sections.append(("", plots.text_grid_chart(p.tokens, s.shares, "saliency, shaded / 显著性着色",
                                                   diverging=False, marks=[s.position])))
    if connectivity is not None:
        sections.append(("Connectivity matrix / 连接性矩阵",
                         plots.connectivity_chart(connectivity.shares, connectivity.tokens, connectivity.targets)))
    if p.projection is not None:
        sections.append((f"State trajectory, layer {k + 1} / 状态轨迹",
                         plots.trajectory_chart(p.projection[k], p.tokens, p.explained[k])))
    return plots.figures_page(title or f"lyricdemo · inside a {kind} / 模型内部", sections, head)
