"""Following a run in a real browser: Debian's Chromium driven by Playwright, two separate sessions.

Page A starts a run and shows its share link; page B opens that link, lands on tab 2 and sees
the same chart grow, with no Stop (nor Start) while it follows; A stops the run, and B gets
its model in the pickers of tabs 3 and 4 (and its Start/Stop back, for runs of its own).
"""

from __future__ import annotations

import re

import pytest

from lyricdemo.ui.labels import T
from playwright.sync_api import Browser, expect

from conftest import start_app, stop_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def slow_url(tmp_path_factory, checkpoints_dir):
    """A server of its own that updates pages every 2 s: two headless pages redrawing two charts 4 times a
    second fall behind without end on a 2-core machine that five people share (measured: 20-60 s per look)."""
    tmp = tmp_path_factory.mktemp("follow-app")
    url, proc, log, _ = start_app(tmp, "follow-app", {"LYRICDEMO_CHECKPOINTS": str(checkpoints_dir),
                                                      "LYRICDEMO_UI_INTERVAL": "2", "LYRICDEMO_FOLLOW_INTERVAL": "2"})
    try:
        yield url
    finally:
        stop_app(proc, log)

CHART_SIZES = """(minDistinct) => {
    const d = document.querySelector('#train-chart .js-plotly-plot');
    let n = 0;
    if (d && d.data) for (const t of d.data) n += (t.y && t.y.length) || 0;
    window.__sizes = window.__sizes || new Set();
    if (n) window.__sizes.add(n);
    return window.__sizes.size >= minDistinct;
}"""


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_a_second_page_follows_the_run_and_gets_its_model(browser: Browser, slow_url: str):
    app_url = slow_url
    errors: list[str] = []
    a_ctx, b_ctx = browser.new_context(viewport={"width": 1400, "height": 900}), \
        browser.new_context(viewport={"width": 1280, "height": 720})     # the follower: a projector-sized page
    a, b = a_ctx.new_page(), b_ctx.new_page()
    for p in (a, b):
        p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # -- A: a run that lasts until it is stopped ------------------------------------------
        a.goto(app_url)
        a.get_by_role("tab", name=T["tab_train"], exact=True).click()
        a.locator("#preset-classroom").click()
        a.locator("#train-all").get_by_text("All settings / 全部参数", exact=True).click()   # the folded knobs
        expect(a.locator("#train-hidden input[type=number]")).to_have_value("256")
        set_number(a, "train-hidden", 32)                                 # small and quick
        set_number(a, "train-seconds", 240)
        set_number(a, "train-eval-every", 5)
        a.locator("#train-start").click()
        href, target = a.wait_for_function(
            "() => { const l = document.querySelector('#train-share-link');"
            " return l && [l.getAttribute('href'), l.getAttribute('target')]; }", timeout=90_000).json_value()
        assert target == "_blank"                                # the owner's page (and run) stays
        rid = re.search(r"follow=([A-Za-z0-9_-]+)", href).group(1)

        # -- B: opens the link, follows -----------------------------------------------------
        b.goto(f"{app_url.rstrip('/')}/?follow={rid}")
        status = b.locator("#train-status")
        expect(status).to_contain_text("Following a run", timeout=60_000)
        expect(b.locator("#train-stop")).to_be_hidden()
        expect(b.locator("#train-start")).to_be_hidden()
        # the chart grows (a busy machine starves a headless page: generous time, two sizes suffice)
        b.wait_for_function(CHART_SIZES, arg=2, polling=250, timeout=180_000)
        sizes = b.evaluate("() => [...window.__sizes]")
        assert sizes[-1] > sizes[0], sizes
        expect(status).to_contain_text("tokens/s")
        expect(b.locator("#train-samples textarea")).to_have_value(re.compile(r"step \d+"), timeout=60_000)

        # -- A stops; B gets the model --------------------------------------------------------
        a.locator("#train-stop").dispatch_event("click")    # (a real click waits for a stable box; the chart redraws under it)
        expect(a.locator("#train-status")).to_contain_text(re.compile("stopped|early stopping|budget"), timeout=60_000)
        expect(status).to_contain_text("your pickers", timeout=60_000)
        expect(b.locator("#train-start")).to_be_visible(timeout=15_000)        # now B may train its own
        b.get_by_role("tab", name=T["tab_generate"], exact=True).click()
        expect(b.locator("#gen-model input")).to_have_value(re.compile(r"^followed · #1"), timeout=15_000)
        b.get_by_role("tab", name=T["tab_inside"], exact=True).click()
        expect(b.locator("#probe-model input")).to_have_value(re.compile(r"^followed · #1"), timeout=15_000)
        # A's own picker names it as its own
        a.get_by_role("tab", name=T["tab_generate"], exact=True).click()
        expect(a.locator("#gen-model input")).to_have_value(re.compile(r"^trained here · #1"), timeout=15_000)

        # -- a link to a run that is not here says so ------------------------------------------
        b.goto(f"{app_url.rstrip('/')}/?follow={'Z' * 22}")
        expect(b.locator("#train-status")).to_contain_text("not on this server", timeout=30_000)
        expect(b.locator("#train-start")).to_be_visible(timeout=15_000)
    finally:
        a_ctx.close()
        b_ctx.close()
    assert not errors, errors
