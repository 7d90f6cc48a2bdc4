"""The app in a real browser: Debian's Chromium driven by Playwright (pytest-playwright), headless.

One walk through the four tabs, on the server the API tests use: every tab renders; a short
training run updates the chart at least three times and Stop stops it; a prefix generates
text; an unknown character is flagged; the visualizer draws its heatmap and every other default view,
follows a change of unit and shows the connectivity of a chosen position.  Each tab is saved
as a screenshot, and no request may leave 127.0.0.1.

Screenshots go to .cache/screenshots/ (git-ignored), or to tests/screenshots/ -- the ones the
README shows -- with LYRICDEMO_UPDATE_SCREENSHOTS=1, or wherever LYRICDEMO_SHOT_DIR says.
LYRICDEMO_SHOWCASE_SECONDS=45 trains the classroom model that long before Stop, so that the
screenshots show a model that has learned something (the test itself needs only seconds).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lyricdemo.ui.labels import T

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SHOTS = Path(os.environ.get("LYRICDEMO_SHOT_DIR") or (
    HERE / "screenshots" if os.environ.get("LYRICDEMO_UPDATE_SCREENSHOTS") == "1" else HERE.parent / ".cache" / "screenshots"))

# Remembers every distinct number of points the training chart has drawn: proof it re-rendered.
CHART_UPDATES = """(minDistinct) => {
    const d = document.querySelector('#train-chart .js-plotly-plot');
    let n = 0;
    if (d && d.data) for (const t of d.data) n += (t.y && t.y.length) || 0;
    window.__chartSizes = window.__chartSizes || new Set();
    if (n) window.__chartSizes.add(n);
    return window.__chartSizes.size >= minDistinct;
}"""
CHART_POINTS = """() => { const d = document.querySelector('#train-chart .js-plotly-plot');
    let n = 0; if (d && d.data) for (const t of d.data) n += (t.y && t.y.length) || 0; return n; }"""
VALIDATION_POINTS = """(n) => { const d = document.querySelector('#train-chart .js-plotly-plot');
    return !!d && !!d.data && d.data.some(t => (t.name || '').includes('validation') && t.y.length >= n); }"""
SHOWCASE = float(os.environ.get("LYRICDEMO_SHOWCASE_SECONDS", "0") or 0)
HEATMAP = """() => { const d = document.querySelector('#probe-heatmap .js-plotly-plot');
    return !!d && !!d._fullData && d._fullData.length > 0 && d._fullData[0].type === 'heatmap'
           && d._fullData[0].z.length > 0 && d._fullData[0].z[0].length > 0; }"""


def tab(page: Page, key: str) -> None:
    page.get_by_role("tab", name=T[key], exact=True).click()


def set_number(page: Page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)                     # let Plotly finish its transition
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_the_four_tabs(page: Page, app_url: str):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    outside: list[str] = []
    base = app_url.rstrip("/")
    page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith(("data:", "blob:"))
            else outside.append(r.url))

    # -- 1 tokenize & vocabulary ------------------------------------------------------
    page.goto(app_url)
    expect(page.get_by_role("tab", name=T["tab_vocab"], exact=True)).to_be_visible()
    corpus = "Corpus: the d2l" in page.locator("#ld-header").inner_text()
    if corpus:
        page.wait_for_function("() => !!document.querySelector('#vocab-zipf .js-plotly-plot')", timeout=30_000)
        expect(page.locator("#vocab-summary")).to_contain_text("vocabulary size")
        assert page.locator("#vocab-tokens span[title^='id ']").count() > 20       # token boxes with ids
        page.locator("#vocab-lookup textarea").fill("爱")
        page.locator("#vocab-lookup-btn").click()
        expect(page.locator("#vocab-lookup-out")).to_contain_text("→ id", timeout=15_000)
    else:
        expect(page.locator("#vocab-notice")).to_contain_text("jaychou_lyrics.txt.zip")
    shot(page, "1-tokenize.png")

    # -- 2 train live: streams, then Stop ------------------------------------------------
    tab(page, "tab_train")
    hidden = page.locator("#train-hidden input[type=number]")
    page.locator("#preset-toy").click()                                   # presets fill the knobs
    expect(hidden).to_have_value("4")
    expect(page.locator("#preset-note")).to_contain_text("hello")
    page.locator("#preset-classroom").click()
    expect(hidden).to_have_value("256")
    page.locator("#train-bidirectional input").check()                    # the lesson of seed 003
    expect(page.locator("#train-bi-lesson")).to_contain_text("bidirectional")
    page.locator("#train-bidirectional input").uncheck()
    expect(page.locator("#train-bi-lesson")).to_be_hidden()
    if not SHOWCASE:
        set_number(page, "train-hidden", 64)                                  # small and quick
    set_number(page, "train-seconds", 120)
    page.get_by_text("More / 更多", exact=True).click()
    set_number(page, "train-eval-every", 25 if SHOWCASE else 5)
    status = page.locator("#train-status")
    page.locator("#train-start").click()
    expect(status).to_contain_text("tokens/s", timeout=60_000)
    page.wait_for_function(CHART_UPDATES, arg=3, polling=50, timeout=60_000)
    page.wait_for_function(VALIDATION_POINTS, arg=2, timeout=60_000)      # two evaluations drawn
    time.sleep(SHOWCASE)
    sizes = page.evaluate("() => [...window.__chartSizes].sort((a, b) => a - b)")
    assert len(sizes) >= 3, sizes
    page.locator("#train-stop").click()
    expect(status).to_contain_text("stopped", timeout=30_000)
    n = page.evaluate(CHART_POINTS)
    time.sleep(1.5)
    assert page.evaluate(CHART_POINTS) == n                                # nothing moves after Stop
    assert "step" in status.inner_text()
    expect(page.locator("#train-download")).to_contain_text(".zip", timeout=15_000)
    shot(page, "2-train.png")

    # -- 3 generate: text streams in; the unknown character is flagged ------------------------
    tab(page, "tab_generate")
    expect(page.locator("#gen-model")).to_be_visible()
    page.locator("#gen-prefix textarea").fill("分开龘")
    set_number(page, "gen-length", 40)
    page.locator("#gen-go").click()
    out = page.locator("#gen-out textarea")
    expect(out).to_have_value(re.compile(r"^分开龘.+", re.S), timeout=30_000)
    flagged = page.locator("#gen-prefix-report mark")
    expect(flagged).to_have_text("龘", timeout=15_000)
    assert "<unk>" in (flagged.get_attribute("title") or "")
    expect(page.locator("#gen-meter")).to_contain_text(re.compile("Longest verbatim copy|unavailable"),
                                                       timeout=15_000)
    page.wait_for_function("() => !!document.querySelector('#gen-entropy .js-plotly-plot')", timeout=15_000)
    set_number(page, "gen-step", 3)                                         # open up step 3
    page.wait_for_function("() => { const d = document.querySelector('#gen-alternatives .js-plotly-plot');"
                           " return !!d && d.layout.title.text.startsWith('Step 3'); }", timeout=15_000)
    shot(page, "3-generate.png")

    # -- 4 look inside ----------------------------------------------------------------------
    tab(page, "tab_inside")
    page.locator("#probe-go").click()
    page.wait_for_function(HEATMAP, timeout=30_000)
    expect(page.locator("#probe-summary")).to_contain_text("units", timeout=15_000)
    assert page.locator("#probe-colored span[title]").count() >= 5
    for view in ("strip", "saliency-chart", "saturation", "trajectory"):                 # every default view drew
        page.wait_for_function(f"() => !!document.querySelector('#probe-{view} .js-plotly-plot')", timeout=15_000)
    set_number(page, "probe-unit", 7)                                                     # another unit
    expect(page.locator("#probe-colored")).to_contain_text("unit 7", timeout=15_000)
    set_number(page, "probe-position", 4)                                                 # connectivity of position 4
    expect(page.locator("#probe-saliency")).to_contain_text("position 4", timeout=15_000)
    assert page.locator("#probe-saliency span[style*='outline']").count() == 1           # the position, boxed
    shot(page, "4-look-inside.png")

    assert not outside, f"the page tried to reach the internet: {outside}"
    assert not errors, errors
