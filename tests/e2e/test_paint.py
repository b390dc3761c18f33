"""Paint mode in a real headless Chromium: regions painted with the pointer over the content
preview are sent as `mask` / `mask_2` and steer where each style goes on the real TorchServe.

The run is tiny (64x48, 24 iterations, random-init weights): enough for the styles' colours to show
in their regions, which is what the test reads back from the final image's pixels in the page.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_webapp import ROOT, browser, expect_ready, open_app, record_posts, set_params
from tests.e2e.test_webapp_ux import axe_violations

__all__ = ["browser"]  # module fixture shared with test_webapp.py

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts"
W, H = 64, 48  # the content; its preview (and so the painted masks) is the same size: previews never upscale


@pytest.fixture(scope="module")
def paint_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Grey content (seeded noise around mid-grey: real ImageNet features barely move a flat image, whose
    activations are almost only biases), red-stripes and blue-dots styles, and a ready mask (white left
    half, transparent right)."""
    folder = tmp_path_factory.mktemp("paint-images")
    rng = random.Random(0)
    grey = Image.frombytes("L", (W, H), bytes(rng.randrange(80, 177) for _ in range(W * H)))
    grey.convert("RGB").save(folder / "content.png")
    red = Image.new("RGB", (48, 48), (200, 30, 30))
    draw = ImageDraw.Draw(red)
    for x in range(-48, 48, 8):
        draw.line([(x, 0), (x + 48, 48)], fill=(250, 160, 120), width=3)
    red.save(folder / "red.png")
    blue = Image.new("RGB", (48, 48), (25, 40, 160))
    draw = ImageDraw.Draw(blue)
    for x in range(3, 48, 10):
        for y in range(3, 48, 10):
            draw.ellipse([x, y, x + 5, y + 5], fill=(150, 200, 255))
    blue.save(folder / "blue.png")
    mask = Image.new("RGBA", (32, 24), (0, 0, 0, 0))
    ImageDraw.Draw(mask).rectangle([0, 0, 15, 23], fill=(255, 255, 255, 255))
    mask.save(folder / "left-mask.png")
    return {name: folder / f"{name}.png" for name in ("content", "red", "blue", "left-mask")}


def pick_and_open(page: Page, paint_images: dict[str, Path]) -> None:
    expect(page.get_by_test_id("paint-canvas")).to_be_hidden()  # folded away until used
    page.get_by_test_id("content-input").set_input_files(paint_images["content"])
    page.get_by_test_id("style-input").set_input_files([paint_images["red"], paint_images["blue"]])
    expect(page.get_by_test_id("style-item-2")).to_be_visible()
    page.locator("#paint > summary").click()
    expect(page.get_by_test_id("paint-canvas")).to_be_visible()
    expect(page.get_by_test_id("paint-style-2")).to_be_visible()
    expect(page.get_by_test_id("paint-style-1")).to_be_checked()


def stroke(page: Page, points: list[tuple[float, float]]) -> None:
    """One pointer stroke through points given in content pixels (mouse down, moves, up)."""
    box = page.get_by_test_id("paint-canvas").bounding_box()
    assert box is not None

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x / W * box["width"], box["y"] + y / H * box["height"]

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(*p), steps=4)
    page.mouse.up()


def fill_half(page: Page, left: bool) -> None:
    """Zigzag over one half with a brush of radius 6 px (10 % of 64), staying 6 px away from the middle."""
    x0, x1 = (2, 26) if left else (38, 62)
    points = []
    for i, y in enumerate(range(0, H + 1, 5)):
        points += [(x0, y), (x1, y)] if i % 2 == 0 else [(x1, y), (x0, y)]
    stroke(page, points)


def painted(page: Page) -> str:
    return page.get_by_test_id("paint").get_attribute("data-painted") or ""


def canvas_rgba(page: Page, testid: str, x: int, y: int) -> list[int]:
    return page.get_by_test_id(testid).evaluate("(c, [x, y]) => [...c.getContext('2d').getImageData(x, y, 1, 1).data]", [x, y])


def half_means(page: Page) -> dict[str, list[float]]:
    """Mean RGB of the left and right halves of the image shown as the result, read in the page."""
    return page.evaluate("""() => {
        const img = document.getElementById('current-image');
        const c = Object.assign(document.createElement('canvas'), { width: img.naturalWidth, height: img.naturalHeight });
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const { data } = ctx.getImageData(0, 0, c.width, c.height);
        const sums = { left: [0, 0, 0, 0], right: [0, 0, 0, 0] };
        for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
            if (Math.abs(x + 0.5 - c.width / 2) < c.width / 8) continue; // the soft seam belongs to neither
            const s = x < c.width / 2 ? sums.left : sums.right, i = (y * c.width + x) * 4;
            s[0] += data[i]; s[1] += data[i + 1]; s[2] += data[i + 2]; s[3] += 1;
        }
        const mean = (s) => s.slice(0, 3).map((v) => v / s[3]);
        return { left: mean(sums.left), right: mean(sums.right), size: [c.width, c.height] };
    }""")


def test_painted_halves_steer_the_two_styles(page: Page, paint_images: dict[str, Path]) -> None:
    pick_and_open(page, paint_images)
    page.get_by_test_id("brush-size").fill("10")
    fill_half(page, left=True)
    page.get_by_test_id("paint-style-2").check()
    fill_half(page, left=False)
    assert painted(page) == "1,2"
    # The regions show in each style's colour (red #e53935 for style 1, blue #1e88e5 for style 2).
    left, right = canvas_rgba(page, "paint-canvas", 8, 24), canvas_rgba(page, "paint-canvas", 56, 24)
    assert left[0] > left[2] and left[3] > 0, left
    assert right[2] > right[0] and right[3] > 0, right
    # The style list shows the same colours.
    colours = page.locator(".style-item").evaluate_all("els => els.map(e => e.style.getPropertyValue('--style-colour'))")
    assert colours == ["#e53935", "#1e88e5"], colours
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "paint-open-1280.png"), full_page=True)

    set_params(page, size="64", iterations="24", snapshot_every="8")
    # Gram: this test reads each half's mean colour, and on a grey 64 px picture Gram moves colour most (in process,
    # real VGG16: red half R 160 against 88, blue half B 191 against 132; the default neighbour 152/123 and 138/117)
    page.select_option("#param-style_loss", "gram")
    record_posts(page)
    page.get_by_test_id("start").click()
    expect_ready(page, "done")

    fields = page.evaluate("window.__posts")[0]["fields"]
    assert fields["style_loss"] == "gram", fields
    assert {"mask", "mask_2"} <= set(fields) and "mask_3" not in fields, fields
    assert fields["mask"]["type"] == "image/png", fields["mask"]
    # Masks and content are uploaded at the same size: the output's.
    assert fields["mask"]["wh"] == fields["mask_2"]["wh"] == fields["content"]["wh"] == [64, 48], fields

    page.wait_for_function("() => { const i = document.getElementById('current-image'); return i.complete && i.naturalWidth > 0; }")
    means = half_means(page)
    assert means["size"] == [64, 48], means
    (lr, _, lb), (rr, _, rb) = means["left"], means["right"]
    # Grey content: the red style's region turns redder, the blue style's bluer.
    assert lr > rr + 30, means
    assert rb > lb + 30, means

    # The regions can be laid over the live image.
    overlay = page.get_by_test_id("regions-overlay")
    expect(overlay).to_be_hidden()
    page.get_by_test_id("show-regions").check()
    expect(overlay).to_be_visible()
    assert canvas_rgba(page, "regions-overlay", 8, 24)[0] > canvas_rgba(page, "regions-overlay", 8, 24)[2]
    page.screenshot(path=str(ARTIFACTS / "paint-done-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "paint-done-390.png"), full_page=True)


def test_fill_clear_undo_erase_and_a_ready_mask(page: Page, paint_images: dict[str, Path]) -> None:
    pick_and_open(page, paint_images)
    expect(page.get_by_test_id("paint-undo")).to_be_disabled()
    page.get_by_test_id("brush-size").fill("5")
    stroke(page, [(10, 10), (14, 12)])
    assert painted(page) == "1"
    page.get_by_test_id("paint-style-2").check()
    page.get_by_test_id("paint-fill").click()
    assert painted(page) == "1,2"
    assert canvas_rgba(page, "paint-canvas", 60, 44)[2] > 150  # the rest went to style 2 (blue)
    assert canvas_rgba(page, "paint-canvas", 11, 10)[0] > 150  # style 1's stroke kept its pixels (red)

    page.get_by_test_id("paint-clear").click()  # clears the chosen style only
    assert painted(page) == "1"
    page.get_by_test_id("paint-undo").click()
    assert painted(page) == "1,2"
    # Keyboard: the buttons are reachable, and Ctrl+Z undoes inside the panel.
    page.get_by_test_id("paint-clear-all").focus()
    page.keyboard.press("Enter")
    assert painted(page) == ""
    page.keyboard.press("Control+z")
    assert painted(page) == "1,2"

    # Erase style 2 everywhere with a big brush: only style 1 is left.
    page.get_by_test_id("brush-erase").check()
    page.get_by_test_id("brush-size").fill("25")
    stroke(page, [(0, 0), (64, 0), (64, 16), (0, 16), (0, 32), (64, 32), (64, 48), (0, 48)])
    assert painted(page) == "1"

    # A ready mask image for style 2 (white left half, transparent right = not there) replaces its paint.
    page.get_by_test_id("mask-input-2").set_input_files(paint_images["left-mask"])
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "1,2")
    assert canvas_rgba(page, "paint-canvas", 4, 40)[2] > 150 and canvas_rgba(page, "paint-canvas", 60, 40)[3] == 0

    # Removing a style removes its region; the other keeps its paint and colour.
    page.get_by_test_id("remove-style-1").click()
    expect(page.get_by_test_id("paint")).to_have_attribute("data-painted", "1")
    page.get_by_test_id("paint-clear-all").click()
    page.get_by_test_id("brush-paint").check()
    stroke(page, [(30, 20), (34, 24)])
    assert painted(page) == "1"
    assert canvas_rgba(page, "paint-canvas", 32, 22)[2] > 150  # still the blue of the style that was style 2
    page.screenshot(path=str(ARTIFACTS / "paint-tools-1280.png"), full_page=True)
    assert axe_violations(page) == []  # the open painter, its labelled controls and the style items


def test_a_400_naming_mask_2_shows_at_style_2(page: Page, paint_images: dict[str, Path]) -> None:
    # Styles first, then the content: the painter made for the content paints the chosen style.
    page.get_by_test_id("style-input").set_input_files([paint_images["red"], paint_images["blue"]])
    expect(page.get_by_test_id("style-item-2")).to_be_visible()
    page.locator("#paint > summary").click()
    expect(page.get_by_test_id("paint-note")).to_contain_text("Choose a content image")
    page.get_by_test_id("paint-style-2").check()
    page.get_by_test_id("content-input").set_input_files(paint_images["content"])
    expect(page.get_by_test_id("paint-canvas")).to_be_visible()
    page.get_by_test_id("paint-fill").click()
    assert painted(page) == "2"
    message = "mask_2: not an image (use PNG, JPEG or WebP)"
    page.route("**/predictions/style_transfer", lambda route: route.fulfill(
        status=400, body=json.dumps({"code": 400, "message": message}), headers={"Content-Type": "application/json"}))
    record_posts(page)
    page.get_by_test_id("start").click()
    expect_ready(page, "error")
    fields = set(page.evaluate("window.__posts")[0]["fields"])
    assert "mask_2" in fields and "mask" not in fields, fields  # only the style with paint sends a mask
    expect(page.get_by_test_id("error-style_2")).to_have_text("Region mask for style 2: not an image (use PNG, JPEG or WebP)")
    expect(page.get_by_test_id("mask-input-2")).to_be_focused()


def test_paint_mode_on_a_phone(browser: Browser, frontend_url: str, paint_images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url, 390, 844)
    try:
        pick_and_open(page, paint_images)
        box = page.get_by_test_id("paint-canvas").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert box["width"] > 200, box  # wide enough to paint with a finger
        # No control of the panel sticks out of the screen.
        overflow = page.locator("#paint button, #paint input").evaluate_all(
            "els => els.filter(e => { const r = e.getBoundingClientRect(); return r.right > innerWidth + 1; }).map(e => e.id || e.dataset.testid)")
        assert overflow == [], overflow
        page.get_by_test_id("paint-fill").click()
        assert painted(page) == "1"
        page.screenshot(path=str(ARTIFACTS / "paint-open-390.png"), full_page=True)
        assert page.page_errors == [], page.page_errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
