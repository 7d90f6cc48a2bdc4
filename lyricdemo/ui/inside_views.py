"""The look-inside tab's HTML views: the text shaded token by token -- by one unit (Karpathy's view),
by saliency (Distill's connectivity view), by what the song memory drew on -- and the units ranked at
a selection."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..probe import Probe, Saliency
from .widgets import esc

RANKED = 8                    # units listed per direction by "find units that fire here"


def _rdbu(x: float) -> str:
    """x in [-1, 1] -> blue (negative), white, red (positive)."""
    x = max(-1.0, min(1.0, x))
    if x >= 0:
        return f"rgb(255,{int(255 - 160 * x)},{int(255 - 170 * x)})"
    return f"rgb({int(255 + 170 * x)},{int(255 + 120 * x)},255)"


def _orange(x: float) -> str:
    """x in [0, 1] -> white to orange (saliency)."""
    x = max(0.0, min(1.0, x))
    return f"rgb(255,{int(255 - 130 * x)},{int(255 - 255 * x)})"


def shaded_html(tokens, values, colour, titles, marks=(), current: int | None = None, dim_after: int | None = None) -> str:
    """The text with each token's background shaded (``colour(value)``); ``marks`` underlined,
    ``current`` boxed, tokens after ``dim_after`` greyed (what a one-directional model has not read)."""
    marks = set(int(m) for m in marks)
    spans = []
    for t, (tok, v) in enumerate(zip(tokens, values)):
        shown = "↵" if tok == "\n" else esc(plots.show_token(tok) if tok.isspace() else tok)
        style = f"background:{colour(v)};padding:1px 1px;border-radius:2px;"
        if t in marks:
            style += "text-decoration:underline 2px #d55e00;text-underline-offset:3px;"
        if t == current:
            style += "outline:2px solid #000;"
        if dim_after is not None and t > dim_after:
            style += "color:#aaa;"
        spans.append(f'<span style="{style}" title="{esc(titles[t])}">{shown}</span>' + ("<br>" if tok == "\n" else ""))
    return f'<div style="font-size:1.15em;line-height:1.9">{"".join(spans)}</div>'


def unit_html(p: Probe, k: int, u: int, marks=()) -> str:
    """Karpathy's view: the text coloured by one unit's activation after each token."""
    v = p.values(k, "h")[:, u]
    lim = float(np.abs(v).max(initial=0.0)) or 1.0
    titles = [f"{t}:{plots.show_token(tok)} h={x:+.3f}" for t, (tok, x) in enumerate(zip(p.tokens, v.tolist()))]
    body = shaded_html(p.tokens, [x / lim for x in v], _rdbu, titles, marks)
    return (body + f'<div class="ld-note" style="color:#555">Layer {k + 1}, unit {u}: '
            f'<span style="background:{_rdbu(-1)}">&nbsp;negative / 负&nbsp;</span> '
            f'<span style="background:{_rdbu(1)}">&nbsp;positive / 正&nbsp;</span> (max |h| = {lim:.2f})'
            + ("; <u style=\"text-decoration-color:#d55e00\">underlined</u> = selected / 下划线：选中的位置"
               if len(marks) else "") + ". Hover a character for its value. / 悬停查看数值。</div>")


_TD = "padding:1px 8px;border:none;border-bottom:1px solid #eee;"


def ranking_html(p: Probe, scores: np.ndarray, sel: np.ndarray, how: str) -> str:
    """The units that go up (and down) at the selected positions, with their scores."""
    up = np.argsort(-scores, kind="stable")[:RANKED]
    down = np.argsort(scores, kind="stable")[:RANKED]

    def rows(idx, sign):
        out = []
        for u in idx:
            s = float(scores[u])
            w = int(min(abs(s), 1.0) * 80)
            col = "#b2182b" if s > 0 else "#2166ac"
            out.append(f"<tr><td style='{_TD}text-align:right'><b>unit {int(u)}</b></td>"
                       f"<td style='{_TD}font-family:monospace'>{s:+.3f}</td><td style='{_TD}width:90px'>"
                       f"<div style='width:{w}px;height:10px;background:{col}'></div></td></tr>")
        return "".join(out)

    tab = "style='border-collapse:collapse;margin:0;font-size:0.92em;width:auto'"
    table = ("<div style='display:flex;gap:32px;flex-wrap:wrap'>"
             f"<table {tab}><tr><th colspan=3 style='{_TD}'>up here / 在这里升高</th></tr>{rows(up, 1)}</table>"
             f"<table {tab}><tr><th colspan=3 style='{_TD}'>down here / 在这里降低</th></tr>{rows(down, -1)}</table>"
             "</div>")
    shown = ", ".join(f"{t}:{esc(plots.show_token(p.tokens[t]))}" for t in sel[:12]) + (" …" if sel.size > 12 else "")
    return (f"<div class='ld-note'><b>{sel.size}</b> selected position(s) ({esc(how)}): {shown}</div>{table}"
            "<div class='ld-note' style='color:#555'>score = mean activation at the selected positions − mean "
            "elsewhere (h lies in −1…1); “Find” also moves the unit slider to the top unit. / 得分 = 选中位置的"
            "平均激活 − 其他位置的平均激活。</div>")


def saliency_html(tokens, s: Saliency) -> str:
    """Distill's connectivity view: the text shaded by how much each token drove one prediction."""
    shares = s.shares
    titles = [f"{t}:{plots.show_token(tok)} saliency {x:.3f}" for t, (tok, x) in enumerate(zip(tokens, shares))]
    body = shaded_html(tokens, shares, _orange, titles, current=s.position,
                       dim_after=None if s.reads_future else s.position)
    what = (f"the next token “{esc(plots.show_token(s.target))}” (p = {np.exp(s.logprob):.3f})" if s.in_text else
            f"its own top choice “{esc(plots.show_token(s.target))}” (the text ends here)")
    future = (" This model is bidirectional: the characters <i>after</i> the box are shaded too — it reads the "
              "answer. / 双向模型：方框之后的字也有颜色，它偷看了答案。" if s.reads_future else "")
    return (f"<div class='ld-note'>After reading position <b>{s.position}</b> (boxed), the model predicts {what}. "
            f"Darker = that input changed the prediction more (‖∂ log p / ∂ input‖, scaled to the largest)."
            f"{future} / 颜色越深，这个输入对预测的影响越大。</div>{body}")


def memory_html(tr) -> str:
    """The text with the earlier tokens the song memory voted for shaded by their share, the
    current position boxed, the text after it greyed (not read), and one sentence of numbers."""
    shares = np.zeros(len(tr.tokens))
    titles = [f"{i}: {t!r}" for i, t in enumerate(tr.tokens)]
    for s in tr.sources:
        j = s["position"] + 1                       # the token that followed the earlier match
        shares[j] = s["share"]
        titles[j] += f" · {s['share']:.0%} of the memory's vote ({s['cache']} cache, match {s['match']} tokens)"
    top = max(shares.max(), 1e-12)
    body = shaded_html(tr.tokens, shares / top, _orange, titles, current=tr.position, dim_after=tr.position)
    if tr.target is None:
        what = "The text ends here; the memory's sources are for the most likely next token."
    else:
        tgt = "↵" if tr.target == "\n" else tr.target
        what = (f"The next token is <b>{esc(tgt)}</b>: the model alone gives it <b>{tr.model_prob:.1%}</b>, "
                f"with song memory <b>{tr.memory_prob:.1%}</b>. / 模型本身给它 {tr.model_prob:.1%}，"
                f"加上歌曲记忆 {tr.memory_prob:.1%}。")
    if tr.sources:
        where = (f"It remembered {len(tr.sources)} earlier place(s) (shaded; the longest match is "
                 f"{tr.longest_match} token(s)). / 它记起了前文 {len(tr.sources)} 处（橙色）。")
    else:
        where = "Nothing earlier in the text voted for it. / 前文中没有可用的记忆。"
    return f"<div class='ld-note'>After reading position <b>{tr.position}</b> (boxed): {what} {where}</div>{body}"
