"""Simple mode, the web app's first screen (issue 30): a gallery style and an example photo by one tap each,
Strength (the style weight on a log scale) and a size named by what it gives, from the server's capabilities;
a big result with zoom to 100 % and pan; and the keyboard-only path. Real TorchServe behind the real front;
jobs are tiny (at most 128 px, a few iterations) through the Advanced fields."""

from __future__ import annotations

import math
import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from deploy.nginx_render import Nginx
from tests.e2e.test_webapp import ROOT, browser, expect_ready, open_app, record_posts, set_params
from tests.e2e.test_webapp_ux import DESKTOP, PHONE, axe_violations

__all__ = ["browser"]

pytestmark = pytest.mark.e2e

# Ready / running / finished screenshots at both widths (SIMPLE_MODE_SHOTS names another folder).
SHOTS = Path(os.environ.get("SIMPLE_MODE_SHOTS") or ROOT / "test-artifacts" / "simple-mode")

# Holds the job's answer after its first snapshot line until window.__releaseStream() (the server's real
# lines, only later): the running state stays on screen however fast the tiny job is.
HOLD_AFTER_FIRST_SNAPSHOT = """() => {
  const before = window.fetch;
  let open = false;
  const waiting = [];
  window.__releaseStream = () => { open = true; waiting.splice(0).forEach((go) => go()); };
  window.fetch = async (url, init = {}) => {
    const response = await before(url, init);
    if (!(init.body instanceof FormData) || !response.body) return response;
    const decoder = new TextDecoder();
    let text = "";
    let held = false;
    const body = response.body.pipeThrough(new TransformStream({
      async transform(chunk, out) {
        if (held && !open) await new Promise((go) => waiting.push(go));
        out.enqueue(chunk);
        text += decoder.decode(chunk, { stream: true });
        held = held || /"event":\\s*"snapshot"/.test(text.slice(0, text.lastIndexOf("\\n") + 1));
      },
    }));
    return new Response(body, { status: response.status, headers: response.headers });
  };
}"""


def capabilities(front: Nginx) -> dict:
    return httpx.get(f"{front.url}/capabilities", timeout=30).json()


def shot(page: Page, state: str, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{state}-{width}.png"))


def image_width(page: Page) -> float:
    return page.get_by_test_id("current-image").evaluate("img => img.getBoundingClientRect().width")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_simple_mode_runs_a_gallery_style_on_an_example_photo_and_shows_it_big(
        browser: Browser, front: Nginx, frontend_url: str, viewport: tuple[int, int]) -> None:
    caps = capabilities(front)
    presets, strength = caps["size_presets"], caps["strength"]
    default = next(p for p in presets if p["default"])
    page = open_app(browser, frontend_url, *viewport)
    try:
        # The server's sizes, each with its estimate; its default (about half a minute here) is chosen.
        for preset in presets:
            choice = page.locator(".size-choice", has=page.get_by_test_id(f"size-{preset['name']}"))
            expect(choice).to_contain_text(preset["label"])
            expect(choice).to_contain_text(f"{preset['size']} px ·")
            expect(choice).to_contain_text("· about")
        expect(page.get_by_test_id(f"size-{default['name']}")).to_be_checked()
        expect(page.locator("#param-size")).to_have_value(str(default["size"]))
        expect(page.locator("#param-iterations")).to_have_value(str(default["iterations"]))
        # Every technical field is folded away; the simple choices are on the first screen.
        expect(page.locator("#param-size")).to_be_hidden()
        expect(page.locator("#param-tv_weight")).to_be_hidden()
        for testid in ("strength", "start", "example-coffee", "gallery-van-gogh_starry-night"):
            expect(page.get_by_test_id(testid)).to_be_visible()

        # One tap each, no file dialog.
        page.get_by_test_id("example-coffee").click()
        page.get_by_test_id("gallery-van-gogh_starry-night").click()
        expect(page.get_by_test_id("content-preview")).to_be_visible()
        expect(page.get_by_test_id("style-item-1")).to_contain_text("The Starry Night")

        # Strength: the middle is the default weight; ten steps up is 10^(span / 10) times more (log scale).
        slider = page.get_by_test_id("strength")
        assert float(page.locator("#param-style_weight").input_value()) == pytest.approx(strength["default"], rel=0.01)
        slider.focus()
        before = int(slider.input_value())
        for _ in range(10):
            page.keyboard.press("ArrowRight")
        expect(slider).to_have_value(str(before + 10))
        weight = float(page.locator("#param-style_weight").input_value())
        expected = strength["min"] * (strength["max"] / strength["min"]) ** ((before + 10) / 100)
        assert weight == pytest.approx(expected, rel=0.01) and weight > strength["default"]
        expect(page.get_by_test_id("strength-value")).to_contain_text(f"style weight {page.locator('#param-style_weight').input_value()}")
        page.get_by_test_id("size-choices").scroll_into_view_if_needed()  # the simple choices are below the pictures
        shot(page, "ready", viewport[0])
        assert axe_violations(page) == []

        # A tiny job through the Advanced fields; the size choice then says "custom".
        set_params(page, size="128", iterations="8", snapshot_every="2")
        expect(page.get_by_test_id("size-note")).to_contain_text("Custom: 128 px")
        for preset in presets:
            expect(page.get_by_test_id(f"size-{preset['name']}")).not_to_be_checked()
        page.locator("#settings > summary").click()  # folded again, as a user would
        record_posts(page)
        page.evaluate(HOLD_AFTER_FIRST_SNAPSHOT)
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("current-image")).to_be_visible(timeout=90_000)
        expect(page.locator("#app")).to_have_attribute("data-state", "running")
        expect(page.get_by_test_id("strength")).to_be_disabled()
        shot(page, "running", viewport[0])
        page.evaluate("window.__releaseStream()")
        expect_ready(page, "done")

        posted = page.evaluate("window.__posts")[-1]["fields"]
        assert float(posted["style_weight"]) == weight, posted  # Strength's weight is what was sent
        assert posted["size"] == "128" and posted["iterations"] == "8"

        # Big: the 128 px result fills the result column (desktop) or the phone's whole screen width.
        current = page.get_by_test_id("current-image")
        expect(current).to_be_in_viewport()
        page.wait_for_function("() => document.getElementById('current-image').naturalWidth === 128")
        width = image_width(page)
        if viewport == DESKTOP:
            assert width >= 480, width
        else:
            assert width >= viewport[0] - 1, width
            left = current.evaluate("img => img.getBoundingClientRect().left")
            assert abs(left) <= 1, left
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than the screen"
        shot(page, "finished", viewport[0])
        assert axe_violations(page) == []

        # Zoom to 100 %: the picture at its own pixels; again: fitted.
        zoom = page.get_by_test_id("zoom")
        zoom.click()
        assert image_width(page) == 128
        zoom.click()
        assert image_width(page) == pytest.approx(width, abs=1)
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_a_picture_larger_than_the_view_pans_by_drag_and_arrow_keys(browser: Browser, frontend_url: str) -> None:
    """viewer.js on the phone's width: a 1000 px picture at 100 % is panned by keyboard and by dragging."""
    page = open_app(browser, frontend_url, *PHONE)
    try:
        current = page.get_by_test_id("current-image")
        # the picture a finished run would show, here an example photo larger than the screen
        current.evaluate("img => { img.src = 'examples/hubble-deep-field.jpg'; img.hidden = false; }")
        page.wait_for_function("() => document.getElementById('current-image').naturalWidth === 1000")
        viewer = page.get_by_test_id("viewer")
        assert image_width(page) <= PHONE[0]  # fitted: no wider than the screen
        page.evaluate("document.getElementById('view-tools').hidden = false")
        page.get_by_test_id("zoom").click()
        expect(viewer).to_have_attribute("tabindex", "0")
        assert image_width(page) == 1000
        page.wait_for_function("() => document.getElementById('viewer').scrollLeft > 0")  # starts centred
        start = viewer.evaluate("v => v.scrollLeft")
        viewer.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.getElementById('viewer').scrollLeft > {start}")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"() => document.getElementById('viewer').scrollLeft < {start}")
        # dragging the picture to the left shows more of its right side
        box = viewer.bounding_box()
        assert box is not None
        before = viewer.evaluate("v => [v.scrollLeft, v.scrollTop]")
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 - 100, box["y"] + box["height"] / 2 - 40, steps=5)
        page.mouse.up()
        after = viewer.evaluate("v => [v.scrollLeft, v.scrollTop]")
        assert after[0] == pytest.approx(before[0] + 100, abs=2) and after[1] == pytest.approx(before[1] + 40, abs=2), (before, after)
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_a_keyboard_only_path_through_simple_mode_starts_a_job(browser: Browser, front: Nginx, frontend_url: str) -> None:
    """Tab, Enter, Space and arrow keys only: an example photo, a style, Strength, a size, Start. The job is
    held unanswered (nothing computed) and cancelled by keyboard; what was sent is checked."""
    caps = capabilities(front)
    preview = caps["size_presets"][0]
    page = open_app(browser, frontend_url, *DESKTOP)
    try:
        page.route("**/predictions/style_transfer", lambda route: None)
        record_posts(page)

        def tab_to(testid: str, limit: int = 60) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate("() => document.activeElement?.dataset.testid") == testid:
                    return
            pytest.fail(f"Tab never reached {testid}")

        tab_to("example-coffee")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("content-preview")).to_be_visible()
        tab_to("gallery-hokusai_great-wave")
        page.keyboard.press("Space")
        expect(page.get_by_test_id("style-item-1")).to_contain_text("The Great Wave")
        tab_to("strength")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        weight = page.locator("#param-style_weight").input_value()
        assert float(weight) < caps["strength"]["default"]
        tab_to(next(f"size-{p['name']}" for p in caps["size_presets"] if p["default"]))  # the checked one takes focus
        page.keyboard.press("ArrowLeft")  # radio arrows: the smaller size
        expect(page.get_by_test_id(f"size-{preview['name']}")).to_be_checked()
        expect(page.locator("#param-size")).to_have_value(str(preview["size"]))
        tab_to("start")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("status")).to_have_text("Waiting for the server…")
        posted = page.evaluate("window.__posts")[-1]["fields"]
        assert posted["style_weight"] == weight and posted["size"] == str(preview["size"]), posted
        assert posted["content"]["type"] == "image/jpeg" and posted["style"]["type"] == "image/jpeg"
        expect(page.get_by_test_id("cancel")).to_be_focused()
        page.keyboard.press("Enter")
        expect_ready(page, "cancelled")
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_strength_is_a_log_scale_over_the_servers_range(front: Nginx) -> None:
    strength = capabilities(front)["strength"]
    assert strength["field"] == "style_weight" and strength["scale"] == "log"
    middle = math.sqrt(strength["min"] * strength["max"])
    assert middle == pytest.approx(strength["default"], rel=1e-6)  # the default sits mid-slider
