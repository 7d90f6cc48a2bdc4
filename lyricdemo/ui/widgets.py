"""Small pieces shared by the tabs: HTML views of tokens and texts, picker updates, CSS.

Every text that reaches HTML here is escaped: uploads and prefixes come from users.
Styles are inline so the HTML reads the same through the API as on the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..reading import PrefixReport
from ..novelty import MemorizationReport, repetition
from ..plots import NARROW_PX, show_token
from ..vocab import Vocab
from .wording import memorization_summary, repetition_summary

# A phone: the page's narrow layout (the CSS below and ``scroll_on_phone``'s script ask the same query).
PHONE_MEDIA = "(max-width: 640px)"

CSS = """
/* The room first: a projector at 1280x720 shows each tab's action and result without scrolling, and
   everything reads from the back (help text contrast >= 4.5:1, generated text 18 px); a phone at
   390x844 gets the tabs in one bar and the result before the knobs. */
.gradio-container {--block-info-text-color: #4b5563; --body-text-color-subdued: #4b5563;
                   --block-label-text-color: #374151; --block-title-text-color: #374151}
.dark .gradio-container, .gradio-container.dark {--block-info-text-color: #c4c8cf;
                   --body-text-color-subdued: #c4c8cf; --block-label-text-color: #d9dce1}
.ld-note {font-size: 0.95em}
#ld-title h1 {font-size: 1.45rem; margin: 0}
#ld-title, #ld-header {margin: 0 !important; padding: 0 !important}
#ld-header {font-size: 0.8rem; line-height: 1.3}
#ld-header p {margin: 0 0 2px 0}
#train-status, #gen-prefix-report, #gen-meter {min-height: 2.5em}
#train-status {font-size: 0.95em; line-height: 1.4}
#train-status p {margin: 0 0 4px 0}
#preset-note {font-size: 0.85em; line-height: 1.35}
.ld-buttons button {min-width: 9em}
.ld-presets button {min-width: 0; white-space: normal}
/* a long model name in a dropdown ends in … before the arrow instead of running under it */
input[role=combobox] {padding-right: 22px; text-overflow: ellipsis}
#gen-out textarea {font-size: 18px !important; line-height: 1.6 !important}
.ld-gen-text {font-size: 18px; line-height: 1.8; white-space: pre-wrap}
/* the text is shown once: the plain textbox while it streams, the highlighted view once it is done */
.gradio-container:has(#gen-meter .ld-gen-done) #gen-out {display: none}
.ld-gen-text {max-height: calc(10 * 1.8 * 18px); overflow-y: auto}   /* whole lines: 10, no sliver of an 11th */
/* a failed request leaves the previous result: marked, never passed off as the answer */
.ld-stale {opacity: 0.45; position: relative}
.ld-stale::before {content: "⚠ The last request failed: this is the previous result / 上次请求失败：这是之前的结果";
                   display: block; color: #a50e0e; font-weight: 600; opacity: 1}
/* "Projector / 投影" (header, or ?projector=1): larger still, for the back of a room; charts scale their
   fonts in the page (FIT_JS) */
#ld-projector {position: absolute; top: 4px; right: 8px; width: auto !important; min-width: 0; z-index: 5;
               background: transparent}
body.ld-projector .gradio-container {--text-xs: 14px; --text-sm: 16px; --text-md: 18px; --text-lg: 20px;
                                     --text-xl: 24px; --text-xxl: 28px}
body.ld-projector .ld-gen-text, body.ld-projector #gen-out textarea {font-size: 26px !important}
body.ld-projector .ld-gen-text {max-height: calc(7 * 1.8 * 26px) !important}      /* 7 whole lines */
body.ld-projector #ld-tabs button[role=tab] {font-size: 1.3rem}
/* the knobs' labels, the accordions' titles and what is typed too (the large buttons are bold 16 px
   already); the one-line help under each label is left to the teacher's voice (too small for the room;
   its room goes to the larger text) */
body.ld-projector .gradio-container {--block-label-text-size: 16px; --block-title-text-size: 18px;
                                     --checkbox-label-text-size: 16px; --input-text-size: 20px;
                                     --button-medium-text-size: 16px; --section-header-text-size: 16px}
body.ld-projector .info-text {display: none}
/* a phone: Start and the status, then the chart, then the knobs */
@media """ + PHONE_MEDIA + """ {
  #train-knobs {display: contents}
  #train-row {flex-direction: column}
  /* what is moved below the result is never the scroll anchor: Chrome picks the anchor in the page's source
     order, where these come first, and a result that grows (a longer summary) would push itself off the top */
  #train-knobs > * {order: 4; overflow-anchor: none}
  #train-buttons {order: 1; overflow-anchor: auto}
  #train-status {order: 2; overflow-anchor: auto}
  #train-main {order: 3}
  /* tabs 1, 3 and 4 likewise: what the main button reads and the button, then its result, then the rest
     (settings and lookup; decoding options, model card; the unit knobs). Tab 1's upload stays by Analyze. */
  #vocab-controls, #gen-controls, #probe-controls {display: contents}
  #vocab-row, #gen-row, #probe-row {flex-direction: column}
  #vocab-controls > *, #gen-controls > *, #probe-controls > * {order: 3; overflow-anchor: none}
  #vocab-controls > :is(#vocab-source, :has(#vocab-source), #vocab-tokenizer, :has(#vocab-tokenizer), #vocab-analyze,
                     #vocab-upload-box),
  #gen-controls > :is(:has(#gen-model), #gen-prefix, :has(#gen-prefix), #gen-strategy, :has(#gen-strategy), #gen-go),
  #probe-controls > :is(:has(#probe-model), #probe-text, :has(#probe-text), #probe-go) {order: 1; overflow-anchor: auto}
  #probe-controls > :is(#probe-summary, :has(#probe-summary)), #vocab-main, #gen-main, #probe-main {
    order: 2; overflow-anchor: auto}
  .ld-buttons button {min-width: 0}
  #ld-projector {display: none}        /* a phone is no projector, and the box would sit on the title */
  #ld-title h1 {font-size: 1.2rem}
}
"""

def wire_projector(demo, box) -> None:
    """The header's "Projector / 投影" box: ticked by ?projector=1 on load, it toggles the page's
    projector class (larger text, tab labels and chart fonts; no server round trip)."""
    demo.load(None, None, box, js="() => new URLSearchParams(location.search).get('projector') === '1'",
              api_visibility="private", queue=False)
    box.change(None, box, None, js="(on) => { document.body.classList.toggle('ld-projector', !!on); }",
               api_visibility="private", queue=False)


def mark_stale(event, *elem_ids: str) -> None:
    """When ``event`` fails, its old result stays on screen: grey it out and say so (page-side, no server
    round trip); the next success clears the mark."""
    ids = __import__("json").dumps(list(elem_ids))
    event.failure(None, None, None, js=f"() => {{ for (const i of {ids}) "
                                       "document.getElementById(i)?.classList.add('ld-stale'); }")
    event.success(None, None, None, js=f"() => {{ for (const i of {ids}) "
                                       "document.getElementById(i)?.classList.remove('ld-stale'); }")


def scroll_on_phone(button, target_id: str) -> None:
    """On a phone (``PHONE_MEDIA``: the page's narrow layout) a press of ``button`` brings ``target_id`` -- the
    result it updates -- into view when it lies below the screen's upper half (page-side, no round trip)."""
    js = (f"() => {{ const el = document.getElementById('{target_id}'); "
          f"if (el && matchMedia('{PHONE_MEDIA}').matches && el.getBoundingClientRect().top > window.innerHeight / 2) "
          "el.scrollIntoView({block: 'start'}); }")
    button.click(None, None, None, js=js, queue=False, api_visibility="private")


# Charts along the text open on a window of positions that fits their width (a phone shows ~8 strip
# columns, a projector ~35): the server does not know the screen, so the page narrows the window
# (pan to see the rest; ``layout.meta.fit_at``: a position the window keeps in view).  Plotly.js is
# global once Gradio has loaded its plot chunk.
#
# The same loop fits every chart's top to its width: a title wider than the chart is wrapped (at
# spaces, else between characters), and the top margin grows to hold the title's lines, a legend
# drawn above the plot and -- on a narrow chart (a phone), where Plotly shows its toolbar at all
# times -- the toolbar's own row above the title, so that nothing is drawn over the title.  A figure
# may carry ``layout.meta.narrow`` (plots.NARROW_PX): layout changes for a narrow chart (gate panels
# stacked instead of side by side).  A narrow chart keeps the plot area the server drew: what the grown top, a
# wrapped legend or Plotly's resize took from it is added to its height (the server's height travels in
# ``layout.meta.height``, plots._figure).
# With the projector switch on (``body.ld-projector``: the header's checkbox or ?projector=1) every
# figure's fonts are scaled up by 1.3 first.
FIT_PX = {"probe-strip": 34, "probe-heatmap": 18, "probe-saliency-chart": 18, "probe-trace": 18}
FIT_JS = """
() => {
  const MIN_PX = %s, NARROW = %d, BAR = 32, PROJECTOR = 1.3;
  const ctx = document.createElement("canvas").getContext("2d");
  const px = (s, font) => { ctx.font = font; return ctx.measureText(s.replace(/<[^>]+>/g, "")).width; };
  const wrap = (text, font, avail) => {
    const out = [];
    for (const line of String(text).split(/<br\\s*\\/?>/i)) {
      if (px(line, font) <= avail) { out.push(line); continue; }
      const words = line.split(/(?<=\\s)/).flatMap(w => px(w, font) > avail ? [...w] : [w]);
      let cur = "";
      for (const w of words) {
        if (cur.trim() && px(cur + w, font) > avail) { out.push(cur.trimEnd()); cur = w.trimStart(); }
        else cur += w;
      }
      if (cur.trim()) out.push(cur.trimEnd());
    }
    return out;
  };
  // The height this loop gives a chart is remembered (layout.meta.height: the server's, plots._figure).
  // Plotly freezes the width when a height is set: it is left to the page (autosize), so that a chart
  // still follows its column (a scrollbar that comes, a phone turned).
  const relayout = (gd, up) => {
    if (up.height) { gd.__ldHeight = up.height; Object.assign(up, {autosize: true, width: null}); }
    window.Plotly.relayout(gd, up);
  };
  const fitTop = (gd) => {
    const L = gd._fullLayout, lay = gd.layout;
    if (!L || !lay || !L.width || !L.title || !L._size) return;
    if (lay !== gd.__ldLayout) {                 // a new figure from the server: remember it as drawn
      const t = lay.title;
      const height = lay.height || (lay.meta && lay.meta.height);   // Gradio's resize may have dropped it
      gd.__ldLayout = lay; gd.__ldWidth = 0; gd.__ldHeight = height;
      gd.__ldOrig = {text: t === undefined ? "" : (typeof t === "string" ? t : (t.text || "")),
                     top: L.margin.t, bottom: L.margin.b, height: height};
    }
    // Plotly's resize -- Gradio calls it right after drawing each new figure, and the page calls it when it
    // reflows -- drops a fixed height (when no width is set) and keeps the pixels the chart had then: with
    // the top margin grown here, the plot area got squeezed (the strip's rows overprinted on a phone)
    if (gd.__ldHeight && !lay.height) { relayout(gd, {height: gd.__ldHeight}); return; }
    const narrow = L.width < NARROW, o = gd.__ldOrig, pad = narrow ? BAR : 2;
    const leg = gd.querySelector(".legend"), above = L.showlegend && leg && L.legend.y >= 1;
    if (gd.__ldWidth !== L.width) {              // first pass: wrap the title, apply the narrow layout
      gd.__ldWidth = L.width; gd.__ldTries = 0; gd.__ldGrown = 0;
      const hint = (narrow && lay.meta && lay.meta.narrow) || {};
      const top0 = hint["margin.t"] ?? o.top, height0 = hint.height ?? o.height;
      gd.__ldPlotH = height0 ? height0 - top0 - (hint["margin.b"] ?? o.bottom) : 0;   // the plot area as drawn
      const fs = L.title.font.size, font = `${fs}px ${L.title.font.family}`;
      const lines = o.text ? wrap(o.text, font, L.width - 16) : [];
      const wrapped = lines.join("<br>");
      const need = Math.ceil(pad + lines.length * fs * 1.3 + (above ? leg.getBoundingClientRect().height : 0) + 8);
      if (!narrow && wrapped === o.text && need <= top0) return;
      const top = Math.max(top0, need), up = {...hint, "margin.t": top};
      if (height0) up.height = height0 + (top - top0);
      const h = up.height || L.height;
      if (o.text) Object.assign(up, {"title.text": wrapped, "title.yref": "container", "title.yanchor": "middle",
                                     "title.y": 1 - (pad + lines.length * fs * 0.65) / h});
      relayout(gd, up);
      return;
    }
    // a narrow fixed-height chart keeps the plot area the server gave it: whatever else took room from it
    // (a legend or axis labels that wrapped and pushed the margins out) is added to the height instead.
    // (A wide one was laid out for its width by the server: it keeps its height, the first screen's.)
    const lack = gd.__ldPlotH - L._size.h;
    if (narrow && gd.__ldPlotH && lay.height && lack > 1 && (gd.__ldGrown || 0) < 4) {
      gd.__ldGrown = (gd.__ldGrown || 0) + 1;
      relayout(gd, {height: L.height + Math.ceil(lack)});
      return;
    }
    // later passes (a few): measure where the title landed and move it or grow the top until it clears
    // the toolbar row above it and the legend (or the plot) below it
    const tt = gd.querySelector(".g-gtitle");
    if (!o.text || !tt || (gd.__ldTries || 0) >= 4) return;
    const g = gd.getBoundingClientRect(), r = tt.getBoundingClientRect();
    if (!r.height) return;
    let below = (above ? leg.getBoundingClientRect().top : g.top + L._size.t) - g.top;
    for (const a of gd.querySelectorAll("svg text")) {   // what reaches above the plot: gate names, a top tick
      if (tt.contains(a) || (leg && leg.contains(a))) continue;
      const ar = a.getBoundingClientRect();
      if (ar.height && ar.top - g.top < L._size.t) below = Math.min(below, ar.top - g.top);
    }
    const shift = Math.max(0, pad - (r.top - g.top));
    const grow = Math.max(0, r.bottom - g.top + shift + 8 - below);
    if (shift < 1 && grow < 1) { gd.__ldTries = 99; return; }
    gd.__ldTries = (gd.__ldTries || 0) + 1;
    // Plotly places a title's lines a constant offset away from its y: keep that offset, move by ``shift``
    const h = L.height + Math.ceil(grow), mid = (r.top + r.bottom) / 2 - g.top;
    // (a title Plotly placed itself, y "auto", sits in the middle of the top margin: reading "auto" as a
    // number gave a title.y of NaN -- back to "auto" -- and one more pass each time)
    const y0 = typeof L.title.y === "number" ? L.title.y : 1 - L.margin.t / 2 / L.height;
    const off = L.title.yref === "container" ? mid - (1 - y0) * L.height : 0;
    const up = {"margin.t": L.margin.t + Math.ceil(grow), "title.yref": "container", "title.yanchor": "middle",
                "title.y": 1 - (mid + shift - off) / h};
    if (gd.layout.height) up.height = h;
    relayout(gd, up);
  };
  // the projector switch: every font size a figure names (layout, and the traces' text) times PROJECTOR
  const scaleFonts = (gd, f) => {
    const up = {}, walk = (o, path) => {
      if (!o || typeof o !== "object") return;
      if (Array.isArray(o)) { o.forEach((v, i) => walk(v, `${path}[${i}]`)); return; }
      for (const [k, v] of Object.entries(o)) {
        const p = path ? `${path}.${k}` : k;
        if (/font$/i.test(k) && v && typeof v.size === "number") up[`${p}.size`] = Math.round(v.size * f * 10) / 10;
        else if (k !== "template" && k !== "meta") walk(v, p);
      }
    };
    walk(gd.layout, "");
    up["font.size"] = Math.round(((gd.layout.font && gd.layout.font.size) || 12) * f * 10) / 10;
    const sizes = gd.data.map(t => t.textfont && typeof t.textfont.size === "number" ? t.textfont.size * f : null);
    const traces = sizes.map((v, i) => v === null ? -1 : i).filter(i => i >= 0);
    if (traces.length) window.Plotly.restyle(gd, {"textfont.size": traces.map(i => sizes[i])}, traces);
    window.Plotly.relayout(gd, up);
  };
  const projector = () => document.body.classList.contains("ld-projector");
  if (new URLSearchParams(location.search).get("projector") === "1") document.body.classList.add("ld-projector");
  // Gradio 6.31 draws every new figure twice: its Plot component first hands the new value to the chart on
  // screen (Plotly.react), then -- keyed on the value -- replaces that chart by a new one, which draws it
  // again.  Each draw is put off until the page's update is done (a microtask: before any paint or other
  // script sees the page), and a chart that has left the page by then is not drawn at all: half of the
  // drawing after tab 4's probe.  The latest figure of a chart is the one drawn.  Gradio's resize right
  // after it follows the draw, except for a figure of a fixed height: the draw already fits it to its
  // column's width (autosize), and the resize would drop the height -- one more full redraw below to
  // give it back.
  //
  // Tab 4 draws six charts per text; a chart of it that is not on screen (below the first screen, a tab
  // not shown) is drawn when it comes into view (an IntersectionObserver, half a screen ahead), not on
  // every new text: the page's share of a probe was ~6 full draws and their fitting, now the one or two
  // charts on screen.  While it waits, it keeps the room of its height (the page does not jump), and the
  // figure it will draw is always the latest.
  const LAZY = (gd) => !!gd.closest('[id^="probe-"]');
  const onScreen = (gd) => {
    if (!gd.offsetParent) return false;
    const r = gd.getBoundingClientRect(), m = innerHeight / 2;
    return r.bottom > -m && r.top < innerHeight + m && r.right > 0 && r.left < innerWidth;
  };
  const drawOnce = (P) => {
    if (!P || P.__ldOnce) return;
    P.__ldOnce = true;
    const react = P.react, resize = P.Plots.resize;
    const draw = (gd) => {
      const a = gd.__ldNext, again = gd.__ldResize;
      gd.__ldNext = gd.__ldResize = null;
      gd.__ldWaiting = false; gd.style.minHeight = "";
      if (!a || !gd.isConnected) return;
      const fixed = a[1] && a[1].height;
      Promise.resolve(react.call(P, gd, ...a))
        .then(() => { if (again && !fixed && gd.isConnected) return resize.call(P.Plots, gd); })
        .catch(() => {});
    };
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) { seen.unobserve(e.target); draw(e.target); }
    }, {rootMargin: "50%% 0px"});
    P.react = function (gd, ...args) {
      if (!gd || !gd.isConnected) return react.call(P, gd, ...args);
      const queued = !!gd.__ldNext;
      gd.__ldNext = args;
      if (!queued && !gd.__ldWaiting) queueMicrotask(() => {
        if (!gd.isConnected) { gd.__ldNext = null; return; }
        if (!LAZY(gd) || onScreen(gd)) { draw(gd); return; }
        const lay = gd.__ldNext[1] || {}, h = lay.height || (lay.meta && lay.meta.height) || 450;
        gd.__ldWaiting = true;
        if (!gd.data) gd.style.minHeight = `${h}px`;
        seen.observe(gd);
      });
      return Promise.resolve(gd);
    };
    P.Plots.resize = function (gd, ...args) {
      if (gd && gd.__ldNext) { gd.__ldResize = true; return Promise.resolve(gd); }
      return resize.call(this, gd, ...args);
    };
  };
  if (window.Plotly) drawOnce(window.Plotly);
  else {                                    // Gradio loads Plotly with the first chart: catch it as it arrives
    let plotly;
    Object.defineProperty(window, "Plotly", {configurable: true, get: () => plotly,
                                             set: (v) => { plotly = v; drawOnce(v); }});
  }
  setInterval(() => {
    if (!window.Plotly) return;
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (!gd.offsetParent || !gd.layout || !gd.data) continue;
      if (gd.__ldScaledLayout !== gd.layout) { gd.__ldScaledLayout = gd.layout; gd.__ldScale = 1; }
      const want = projector() ? PROJECTOR : 1;
      if (gd.__ldScale !== want) {            // fonts first; the top is fitted again on the next pass
        scaleFonts(gd, want / gd.__ldScale); gd.__ldScale = want; gd.__ldWidth = 0; continue;
      }
      fitTop(gd);
    }
    for (const [id, px] of Object.entries(MIN_PX)) {
      const gd = document.querySelector(`#${id} .js-plotly-plot`);
      const L = gd && gd._fullLayout;
      if (!L || !L.xaxis || !L._size || !L.xaxis.range) continue;
      if (L.xaxis.type !== "category" && !(L.xaxis.type === "linear" && L.xaxis.tickmode === "array")) continue;
      const [a, b] = L.xaxis.range, fit = Math.max(4, Math.floor(L._size.w / px));
      if (b - a <= fit + 0.01) continue;
      const at = gd.layout.meta && gd.layout.meta.fit_at;          // a position the window must show
      const end = at === undefined ? a + fit : Math.max(a + fit, Math.min(b, at + 3.5));
      window.Plotly.relayout(gd, {"xaxis.range": [end - fit, end]});
    }
  }, 700);
}
""" % (__import__("json").dumps(FIT_PX), NARROW_PX)

_TOK = ("display:inline-block;margin:1px 1px;padding:0 3px;border:1px solid #9aa5b1;border-radius:3px;"
        "line-height:1.5;white-space:pre;")
_BG = ("#eef4fb", "#fdf3e1")
_UNK = "background:#fde2e1;border-color:#d93025;color:#a50e0e;font-weight:600;"
_BOX = "font-size:1.05em;line-height:1.9;"


def esc(s: str) -> str:
    return html.escape(s, quote=True)


def _unknown_reason(token: str, vocab: Vocab) -> str:
    n = vocab.freq(token)
    if n:
        return (f"seen {n}× in training, fewer than min_freq={vocab.min_freq}: read as <unk> / "
                f"训练中只出现 {n} 次，少于最小词频 {vocab.min_freq}，按 <unk> 处理")
    return "never seen in training: read as <unk> / 训练文本中从未出现，按 <unk> 处理"


def tokens_html(lines: Sequence[Sequence[str]], vocab: Vocab, first_line: int = 1) -> str:
    """Tokenized lines with every token in its own box (hover: id and count); unknown tokens red."""
    rows = []
    for n, toks in enumerate(lines, first_line):
        spans = []
        for i, t in enumerate(toks):
            if t in vocab:
                title = f"id {vocab[t]} · count {vocab.freq(t)}"
                style = _TOK + f"background:{_BG[i % 2]};"
                shown = show_token(t)
            else:
                title = _unknown_reason(t, vocab)
                style = _TOK + _UNK
                shown = show_token(t)
            spans.append(f'<span style="{style}" title="{esc(title)}">{esc(shown)}</span>')
        rows.append(f'<div><span style="color:#6b7280;font-size:0.8em;display:inline-block;width:3.2em">{n}</span>'
                    f'{"".join(spans)}</div>')
    legend = ('<div style="color:#4b5563;font-size:0.85em;margin-top:4px">Each box is one token; hover for its id. '
              '↵ = line break, ␣ = space, ⬚ = full-width space; <span style="color:#a50e0e">red = &lt;unk&gt;</span>. / '
              '每个方框是一个词元，悬停查看编号；红色表示 &lt;unk&gt;。</div>')
    return f'<div style="{_BOX}">{"".join(rows)}{legend}</div>'


def prefix_html(report: PrefixReport, vocab: Vocab) -> str:
    """The prefix as the model reads it: unknown tokens highlighted red, with the reason."""
    if not report.prefix:
        return ('<div class="ld-note">Empty prefix: the model starts at the beginning of a line. / '
                '前缀为空：从新的一行开始写。</div>')
    text = report.prefix
    marks = sorted((u.start, u.end, u.token) for u in report.unknown)
    out, pos = [], 0
    for start, end, tok in marks:
        out.append(esc(text[pos:start]))
        out.append(f'<mark style="{_UNK}padding:0 2px;border:1px solid #d93025;border-radius:3px" '
                   f'title="{esc(_unknown_reason(tok, vocab))}">{esc(show_token(tok))}</mark>')
        pos = end
    out.append(esc(text[pos:]))
    body = f'<div style="{_BOX}white-space:pre-wrap">{"".join(out)}</div>'
    if not report.unknown:
        return body + ('<div class="ld-note" style="color:#137333">✓ Every prefix token is in the vocabulary. / '
                       '前缀中的词元都在词表里。</div>')
    items = "".join(f"<li><b>{esc(show_token(u.token))}</b> (position {u.start}): "
                    f"{esc(_unknown_reason(u.token, vocab))}</li>" for u in report.unknown[:20])
    more = len(report.unknown) - 20
    if more > 0:
        items += f"<li>… {more} more</li>"
    return (body + f'<div class="ld-note" style="color:#a50e0e">⚠ {len(report.unknown)} unknown token(s) — '
            f'the model cannot tell them apart. / {len(report.unknown)} 个未知词元：模型无法区分它们。'
            f'<ul style="margin:2px 0 0 1.2em">{items}</ul></div>')


def _text_html(text: str, prefix_len: int, ranges: Sequence[tuple[int, int]] = ()) -> str:
    """The text once, at reading size: the prefix underlined, ``ranges`` highlighted."""
    out, pos = [], 0

    def piece(a: int, b: int, mark: bool) -> str:
        parts = []
        for i in range(a, b):                 # the prefix is underlined, copies highlighted
            ch = text[i]
            shown = "↵<br>" if ch == "\n" else esc(ch)
            if i < prefix_len:
                shown = f'<u style="text-decoration-color:#888">{shown}</u>'
            parts.append(shown)
        s = "".join(parts)
        return f'<mark style="background:#ffe08a;padding:0">{s}</mark>' if mark else s

    for a, b in ranges:
        out.append(piece(pos, a, False))
        out.append(piece(a, b, True))
        pos = b
    out.append(piece(pos, len(text), False))
    return f'<div class="ld-gen-text">{"".join(out)}</div>'


def memorization_html(text: str, prefix_len: int, report: MemorizationReport | None,
                      missing_reason: str = "") -> str:
    """The generated text, shown once (class ``ld-gen-done`` hides the streaming textbox), with the
    spans copied verbatim from the training text highlighted and repetition loops flagged.

    ``report`` may cover the whole text or only its continuation (the last ``report.text_length``
    characters): the user's own prefix is no copy of the model's, so the meter should not count it."""
    loop = repetition(text[prefix_len:])
    loop_line = (f'<div style="margin:4px 0;color:#a50e0e;font-weight:600">⟳ {esc(repetition_summary(loop))}</div>'
                 if loop else "")
    if report is None:
        return (f'<div class="ld-gen-done">{loop_line}{_text_html(text, prefix_len)}'
                f'<div class="ld-note">Memorization meter unavailable: {esc(missing_reason)} / '
                f'无法计算照抄程度。</div></div>')
    offset = max(len(text) - report.text_length, 0)
    ranges = [(a + offset, b + offset) for a, b in report.highlight_ranges()]
    L = report.longest_length
    level = ("#137333", "mostly new / 基本是新写的") if L < report.threshold else \
        ("#b06000", "copies some lines / 部分照抄") if report.copied_share < 0.5 else \
        ("#a50e0e", "mostly recited from the corpus / 大部分是背出来的")
    if loop and L < report.threshold:
        level = ("#a50e0e", "new, but stuck in a loop / 是新写的，但陷入重复")
    what = "of the continuation / 续写部分" if offset else "of the text / 全文"
    meter = (f'<div style="margin:4px 0"><b>Longest verbatim copy / 最长照抄：{L}</b> chars · '
             f'copied {what} {report.copied_share:.0%} · '
             f'<span style="color:{level[0]};font-weight:600">{level[1]}</span></div>')
    return (f'<div class="ld-gen-done">{meter}{loop_line}{_text_html(text, prefix_len, ranges)}'
            f'<div class="ld-note" style="color:#4b5563">{esc(memorization_summary(report))} '
            f'<mark style="background:#ffe08a">Highlighted</mark> = at least {report.threshold} characters found '
            f'verbatim in the training text; underlined = your prefix (not counted). / '
            f'高亮：与训练文本完全相同的片段；下划线：前缀（不计入）。</div></div>')


def markdown_table(rows: Sequence[tuple[str, str]], head: tuple[str, str] = ("", "")) -> str:
    """A two-column Markdown table (values escaped for Markdown's pipe)."""
    def cell(s: str) -> str:
        return html.escape(str(s), quote=False).replace("|", "\\|").replace("\n", " ")
    lines = [f"| {cell(head[0])} | {cell(head[1])} |", "|---|---|"]
    lines += [f"| {cell(a)} | {cell(b)} |" for a, b in rows]
    return "\n".join(lines)
