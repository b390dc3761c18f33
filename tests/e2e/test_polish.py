"""Rough edges a new user found, in a real headless Chromium through the real nginx front:
non-images refused at pick time, no "waiting" after a failure, field errors above the sticky bar and
checked/cleared as the user types, labels in messages, Enter moves focus to Cancel, "Use these
settings" brings back blend and regions, the paint note never moves the canvas, phone touch targets,
JSON answers for every API path. Jobs are faked in the page (test_webapp_ux helpers) except where
the real front answers. Screenshots of every state at both sizes go to test-artifacts/polish-*.png.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from serving.request import Limits

from tests.e2e.test_paint import paint_images, stroke
from tests.e2e.test_webapp import browser, expect_ready, images, landscape, open_settings, set_params
from tests.e2e.test_webapp_ux import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    PUSHED_STREAM,
    axe_violations,
    done_line,
    open_app,
    pick,
    run_faked,
    snapshot_line,
)

__all__ = ["browser", "images", "open_app", "paint_images"]  # fixtures and the page fixture's open_app

pytestmark = pytest.mark.e2e

NOT_SUPPORTED = "format not supported (this browser cannot read it as an image; PNG or JPEG always work)"
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"]  # type: ignore[index]
    page.screenshot(path=str(ARTIFACTS / f"polish-{name}-{width}.png"))


@pytest.fixture(scope="module")
def not_an_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text file renamed .jpg: the browser calls it image/jpeg by its name."""
    path = tmp_path_factory.mktemp("not-an-image") / "notes.jpg"
    path.write_text("this is not an image, whatever its name says\n")
    return path


def below_the_bar(page: Page, testid: str) -> float:
    """How far the element's bottom lies below the top of the sticky Start/Cancel bar (<= 0: above it)."""
    return page.evaluate("""(id) => {
        const el = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
        const bar = document.querySelector('.actions').getBoundingClientRect();
        return el.bottom - Math.min(bar.top, innerHeight);
    }""", testid)


# -- 1. non-images ---------------------------------------------------------------------------------


def test_a_non_image_is_refused_at_pick_time_as_content_and_as_style(page: Page, images: dict[str, Path], not_an_image: Path) -> None:
    page.get_by_test_id("content-input").set_input_files(images["content"])
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    kept = page.get_by_test_id("content-preview").get_attribute("src")

    page.get_by_test_id("content-input").set_input_files(not_an_image)
    expect(page.get_by_test_id("content-error")).to_have_text(f"Content image: notes.jpg: {NOT_SUPPORTED}")
    # Refused, not taken: the photo picked before stays.
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    assert page.get_by_test_id("content-preview").get_attribute("src") == kept
    expect(page.locator("#content-hint")).not_to_contain_text("notes.jpg")

    page.get_by_test_id("style-input").set_input_files(not_an_image)
    expect(page.get_by_test_id("style-error")).to_have_text(f"Style image: notes.jpg: {NOT_SUPPORTED}")
    expect(page.get_by_test_id("style-item-1")).to_have_count(0)
    # A real image is still taken, and clears the message.
    page.get_by_test_id("style-input").set_input_files(images["style"])
    expect(page.get_by_test_id("style-item-1")).to_be_visible()
    expect(page.get_by_test_id("style-error")).to_have_text("")


def test_any_image_this_browser_decodes_is_taken_avif_too(page: Page, tmp_path: Path) -> None:
    """The server reads AVIF, and the app re-encodes every picked image anyway: what the browser decodes is
    taken (as content and as style), shown, and sent as PNG."""
    avif = tmp_path / "photo.avif"
    landscape(96, 64).save(avif, "AVIF")
    page.get_by_test_id("content-input").set_input_files(avif)
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    expect(page.get_by_test_id("content-error")).to_have_text("")
    assert page.get_by_test_id("content-preview").evaluate("img => img.complete && img.naturalWidth") == 96
    page.get_by_test_id("style-input").set_input_files(avif)
    expect(page.get_by_test_id("style-item-1")).to_be_visible()
    expect(page.get_by_test_id("style-error")).to_have_text("")


def test_a_drop_beside_the_drop_zones_keeps_the_page(page: Page, images: dict[str, Path]) -> None:
    """A file dropped just outside a drop zone would make the browser open it in place of the app."""
    page.get_by_test_id("content-input").set_input_files(images["content"])
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    url = page.url
    for target in ("h1", "#params-basic", ".output"):
        prevented = page.evaluate("""(selector) => {
            const data = new DataTransfer();
            data.items.add(new File(["x"], "stray.jpg", { type: "image/jpeg" }));
            const el = document.querySelector(selector);
            const over = new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: data });
            const drop = new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: data });
            el.dispatchEvent(over);
            el.dispatchEvent(drop);
            return [over.defaultPrevented, drop.defaultPrevented];
        }""", target)
        assert prevented == [True, True], target  # not prevented: the browser would navigate to the file
    expect(page.get_by_test_id("status")).to_contain_text("Drop photos on the Content image or Style images box")
    assert page.url == url
    expect(page.get_by_test_id("content-preview")).to_be_visible()


def test_leaving_while_a_job_runs_asks_first(page: Page, images: dict[str, Path]) -> None:
    asks_before = page.evaluate("() => { const e = new Event('beforeunload', { cancelable: true }); dispatchEvent(e); return e.defaultPrevented; }")
    assert asks_before is False, "ready: leaving is not held up"
    pick(page, images)
    page.evaluate(PUSHED_STREAM)
    page.get_by_test_id("start").click()
    page.wait_for_function("() => window.__job.push")
    expect(page.locator("#app")).to_have_attribute("data-state", "running")
    asks = page.evaluate("() => { const e = new Event('beforeunload', { cancelable: true }); dispatchEvent(e); return e.defaultPrevented; }")
    assert asks is True
    page.get_by_test_id("cancel").click()
    expect_ready(page, "cancelled")


# -- 2, 5. after a 400 -----------------------------------------------------------------------------


@VIEWPORTS
def test_after_a_400_the_result_says_failed_and_the_message_shows_the_label(browser: Browser, frontend_url: str,
                                                                             images: dict[str, Path], viewport: tuple[int, int]) -> None:
    page = open_app(browser, frontend_url, size=viewport)
    try:
        pick(page, images)
        page.route("**/predictions/style_transfer", lambda route: route.fulfill(
            status=400, headers={"Content-Type": "application/json"},
            body=json.dumps({"code": 400, "type": "InvalidInput", "message": "style_weight: must be finite"})))
        page.get_by_test_id("start").click()
        expect_ready(page, "error")
        expect(page.get_by_test_id("status")).to_contain_text("Failed")
        caption = page.get_by_test_id("current-caption")
        expect(caption).not_to_contain_text("Waiting")
        expect(caption).to_have_text("No result: the run failed before the first snapshot (see the message under Start).")
        expect(page.get_by_test_id("progress-text")).to_have_text("Failed")
        # The app shows the field's label; the API's message named the field.
        expect(page.get_by_test_id("error-style_weight")).to_have_text("Style weight: must be finite")
        expect(page.locator("#param-style_weight")).to_be_focused()
        assert below_the_bar(page, "error-style_weight") <= 0
        expect(page.get_by_test_id("loss-figure")).to_be_hidden()  # nothing to chart
        expect(page.get_by_test_id("download-gif")).to_be_hidden()
        shot(page, "error")
        assert axe_violations(page) == []
    finally:
        page.context.close()


# -- 3, 4. field errors: above the bar, checked on leaving, cleared when fixed -------------------------


@VIEWPORTS
def test_the_focused_fields_error_is_above_the_sticky_bar_and_clears_when_fixed(browser: Browser, frontend_url: str,
                                                                                images: dict[str, Path], viewport: tuple[int, int]) -> None:
    page = open_app(browser, frontend_url, size=viewport)
    try:
        pick(page, images)
        set_params(page, size="99999")
        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_test_id("start").click()
        error = page.get_by_test_id("error-size")
        # the server's own words, with its own limit (serving.request.Limits)
        expect(error).to_have_text(f"Size: must be between 16 and {Limits().max_size}, got 99999")
        expect(page.locator("#param-size")).to_be_focused()
        expect(error).to_be_in_viewport()
        assert below_the_bar(page, "error-size") <= 0, "the error line is under the Start/Cancel bar"
        # Corrected: the message goes at once, with the invalid mark.
        page.keyboard.press("Control+A")
        page.keyboard.type("256")
        expect(error).to_have_text("")
        expect(page.locator("#param-size")).not_to_have_attribute("aria-invalid", "true")

        # A field is checked when it loses focus, before any Start.
        page.locator("#param-tv_weight").fill("-1")
        page.keyboard.press("Tab")
        expect(page.get_by_test_id("error-tv_weight")).to_have_text("TV weight: must be between 0 and 1e6, got -1")
        expect(page.locator("#param-tv_weight")).to_have_attribute("aria-invalid", "true")
        page.locator("#param-tv_weight").fill("5")
        expect(page.get_by_test_id("error-tv_weight")).to_have_text("")
    finally:
        page.context.close()


# -- 13. Enter in a field -----------------------------------------------------------------------------


def test_start_by_enter_in_a_field_moves_focus_to_cancel(page: Page, images: dict[str, Path]) -> None:
    pick(page, images)
    page.evaluate(PUSHED_STREAM)
    open_settings(page)  # the fields are folded under Advanced settings
    page.locator("#param-iterations").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__job.push")
    expect(page.get_by_test_id("cancel")).to_be_focused()
    page.keyboard.press("Enter")  # one key cancels, as after Start by button
    expect_ready(page, "cancelled")
    expect(page.get_by_test_id("start")).to_be_focused()


# -- 9, 10. history: blend and regions ---------------------------------------------------------------


def set_slider(page: Page, testid: str, value: int) -> None:
    page.get_by_test_id(testid).evaluate(
        "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input', { bubbles: true })); }", value)


def test_use_these_settings_brings_back_blend_and_regions_and_says_so(page: Page, images: dict[str, Path]) -> None:
    pick(page, images, styles=2)
    # Each style item carries its file name; the sliders are the shares.
    expect(page.get_by_test_id("style-item-1")).to_contain_text("style.png")
    expect(page.get_by_test_id("style-item-2")).to_contain_text("style-2.png")
    set_slider(page, "blend-1", 70)
    outputs = page.locator("#style-list output")
    expect(outputs).to_have_text(["70 %", "30 %"])
    expect(page.get_by_test_id("blend-2")).to_have_value("30")
    page.locator("#paint > summary").click()
    expect(page.get_by_test_id("paint-canvas")).to_be_visible()
    page.get_by_test_id("paint-canvas").scroll_into_view_if_needed()  # the mouse paints only on screen
    stroke(page, [(10, 10), (30, 30)])
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "1")
    set_params(page, iterations="12")
    run_faked(page, [snapshot_line(6), done_line()])

    card = page.get_by_test_id("history-run").first
    expect(card).to_contain_text("blend 70 % / 30 %")
    expect(card).to_contain_text("regions painted for style 1")

    # Change everything, then bring the run back.
    set_slider(page, "blend-1", 50)
    expect(outputs).to_have_text(["50 %", "50 %"])
    page.get_by_test_id("paint-clear-all").click()
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "")
    set_params(page, iterations="40")
    card.get_by_role("button", name="Use these settings: run 1").click()
    expect(page.locator("#param-iterations")).to_have_value("12")
    expect(outputs).to_have_text(["70 %", "30 %"])
    expect(page.get_by_test_id("blend-1")).to_have_value("70")
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "1")
    expect(page.get_by_test_id("status")).to_have_text("Settings of run 1 restored (with its blend and painted regions).")
    # Restoring is one undo step.
    page.get_by_test_id("paint-undo").click()
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "")

    # With another number of styles the blend cannot come back: said, not silently dropped.
    page.get_by_test_id("remove-style-2").click()
    card.get_by_role("button", name="Use these settings: run 1").click()
    expect(page.get_by_test_id("status")).to_contain_text("Its blend did not fit the current images and was left as is.")


# -- 11. paint note --------------------------------------------------------------------------------


@VIEWPORTS
def test_the_paint_note_never_moves_the_canvas(browser: Browser, frontend_url: str, images: dict[str, Path],
                                              viewport: tuple[int, int]) -> None:
    page = open_app(browser, frontend_url, size=viewport)
    try:
        pick(page, images, styles=2)
        page.locator("#paint > summary").click()
        canvas = page.get_by_test_id("paint-canvas")
        expect(canvas).to_be_visible()
        canvas.scroll_into_view_if_needed()
        note = page.get_by_test_id("paint-note")
        before = canvas.bounding_box()
        note_before = note.bounding_box()
        stroke(page, [(8, 8), (20, 20)])
        expect(note).to_contain_text("Regions painted for style 1")
        after = canvas.bounding_box()
        assert before is not None and after is not None and note_before is not None
        assert note.bounding_box()["height"] > 0  # type: ignore[index]
        assert abs(after["y"] - before["y"]) < 0.5, (before, after, note_before, note.bounding_box())
        shot(page, "paint-open")
        assert axe_violations(page) == []
    finally:
        page.context.close()


# -- 12. touch targets -------------------------------------------------------------------------------


def test_phone_touch_targets_are_at_least_24_px(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url, size=PHONE)
    try:
        pick(page, images, styles=2)
        page.locator("#paint > summary").click()
        run_faked(page, [snapshot_line(4), snapshot_line(8), done_line()])
        selectors = [".thumb-download", "input[type=range]", ".mask-pick", "input[type=checkbox]", "input[type=radio]",
                     ".history button", "#download-gif", "#download-png", "#download-jpeg"]
        small = page.evaluate("""(selectors) => selectors.flatMap((sel) => [...document.querySelectorAll(sel)]
            .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
            .map((el) => { const r = el.getBoundingClientRect(); return [sel, el.id || el.className, Math.round(r.width), Math.round(r.height)]; })
            .filter(([, , w, h]) => w < 24 || h < 24))""", selectors)
        assert small == [], small
        counted = page.evaluate("(s) => s.map((sel) => document.querySelectorAll(sel).length)", selectors)
        assert all(n > 0 for n in counted[:5]), dict(zip(selectors, counted, strict=True))  # the check saw each kind
        # 44 px where the layout has room: the per-snapshot downloads and the sliders.
        heights = page.eval_on_selector_all(".thumb-download, #style-list input[type=range]",
                                            "els => els.map((e) => e.getBoundingClientRect().height)")
        assert heights and min(heights) >= 44, heights
    finally:
        page.context.close()


# -- 15. loss chart, and the finished state at both sizes ---------------------------------------------


@VIEWPORTS
def test_finished_run_shows_a_labelled_chart_with_stage_marks(browser: Browser, frontend_url: str, images: dict[str, Path],
                                                             viewport: tuple[int, int]) -> None:
    page = open_app(browser, frontend_url, size=viewport)
    try:
        pick(page, images, styles=2)
        expect(page.get_by_test_id("loss-figure")).to_be_hidden()  # no empty chart box before a run
        expect(page.get_by_test_id("download-gif")).to_be_hidden()
        shot(page, "ready")
        page.evaluate(PUSHED_STREAM)
        page.get_by_test_id("start").click()
        page.wait_for_function("() => window.__job.push")
        for i, stage in ((2, 1), (4, 1), (6, 2), (8, 2)):
            line = json.loads(snapshot_line(i))
            # The loss jumps when a stage starts at a larger size.
            line.update(stage=stage, stages=2, losses={"total": (1000.0 if stage == 2 else 100.0) / i})
            page.evaluate("l => window.__job.push(l)", json.dumps(line))
        expect(page.get_by_test_id("loss-figure")).to_be_visible()
        expect(page.get_by_test_id("loss-stage")).to_have_count(1)
        expect(page.locator("#loss-stage-key")).to_be_visible()
        expect(page.get_by_test_id("loss-legend")).to_contain_text("log scale")
        labels = page.locator("#loss-axes text").all_text_contents()
        assert "iteration" in labels and "2" in labels and "8" in labels and "stage 2" in labels, labels
        assert any(label in labels for label in ("10", "100")), labels
        shot(page, "running")
        page.evaluate("l => window.__job.push(l)", done_line())
        expect_ready(page, "done")
        expect(page.get_by_test_id("download-gif")).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "finished")
        assert axe_violations(page) == []
    finally:
        page.context.close()


def test_a_chart_of_one_point_keeps_its_labels_apart(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    """One snapshot: its iteration label sits mid-axis, where the axis title once covered it ("iter20tion")."""
    page = open_app(browser, frontend_url)
    try:
        pick(page, images)
        page.evaluate(PUSHED_STREAM)
        page.get_by_test_id("start").click()
        page.wait_for_function("() => window.__job.push")
        line = json.loads(snapshot_line(20, iterations=40))
        line.update(losses={"total": 5.0})
        page.evaluate("l => window.__job.push(l)", json.dumps(line))
        expect(page.get_by_test_id("loss-figure")).to_be_visible()
        expect(page.get_by_test_id("loss-latest")).to_have_count(1)  # a single point draws no line: it shows as a dot
        boxes = page.evaluate("""() => [...document.querySelectorAll('#loss-axes text')].map((t) => {
            const b = t.getBBox(); return { text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height }; })""")
        assert {"20", "iteration"} <= {b["text"] for b in boxes}, boxes
        viewbox = page.evaluate("document.getElementById('loss-chart').viewBox.baseVal.height")
        for i, a in enumerate(boxes):
            assert a["y"] >= 0 and a["y"] + a["h"] <= viewbox + 0.5, f"{a} outside the chart"
            for b in boxes[i + 1:]:
                apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
                assert apart, f"{a} overlaps {b}"
    finally:
        page.context.close()


def test_the_header_is_plain_and_the_pick_hint_goes_once_both_images_are_picked(browser: Browser, frontend_url: str,
                                                                               images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url)
    try:
        caption = page.get_by_test_id("current-caption")
        expect(caption).to_have_text("Pick a content and a style image, then Start.")
        # Which network computes the features is for the curious: under Advanced, not above the form
        # (test_webapp.py reads its text where the server runs real weights).
        assert page.locator("#advanced #server-info #weights-label").count() == 1
        expect(page.get_by_test_id("weights-label")).to_be_hidden()
        assert "Features:" not in page.locator("body").inner_text()
        # The hint says what is still missing, and goes once both are picked.
        page.get_by_test_id("content-input").set_input_files(images["content"])
        expect(caption).to_have_text("Pick a style image, then Start.")
        page.get_by_test_id("style-input").set_input_files([images["style"]])
        expect(page.get_by_test_id("style-item-1")).to_be_visible()
        expect(caption).to_have_text("")
        assert "Pick a" not in page.locator("body").inner_text()
    finally:
        page.context.close()


# -- 7. every answer of the API path is JSON, through the real front ------------------------------------


def test_the_api_answers_json_to_a_wrong_method_and_an_unknown_path(page: Page) -> None:
    answers = page.evaluate("""async () => Promise.all([
        fetch('/predictions/style_transfer'), fetch('/predictions/style_transfer', { method: 'PUT' }), fetch('/predictions/nope'),
        fetch('/ping', { method: 'DELETE' }),
    ].map(async (p) => { const r = await p; return [r.status, r.headers.get('allow'), r.headers.get('content-type'), await r.json()]; }))""")
    (get, put, unknown, ping) = answers
    assert get[:3] == [405, "POST", "application/json"] and get[3]["code"] == 405, get
    assert put[:2] == [405, "POST"], put
    assert unknown[0] == 404 and unknown[2] == "application/json" and unknown[3]["message"].startswith("path: "), unknown
    assert ping[:2] == [405, "GET, HEAD"], ping
