"""A reload keeps what the tab had (issue 30, rough edge 4): the picked pictures with their blend, the
panel's settings and "Your results", whose cards name their paintings with a thumbnail. A new tab
starts empty (the inputs belong to their tab). Downloads are named <photo>-<styles>-<size> and come as PNG
or JPEG (rough edge 10). Real headless Chromium through the real front; a tiny job (48 px)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_webapp import browser, expect_ready, images, open_app, set_params
from tests.e2e.test_webapp_ux import ARTIFACTS

__all__ = ["browser", "images", "open_app"]

pytestmark = pytest.mark.e2e
SHOTS = Path(os.environ.get("STYLE_JOBS_SHOTS", str(ARTIFACTS)))


def expect_inputs(page: Page) -> None:
    """The pictures (the content, two styles at 75 / 25 %) and the settings of the run below."""
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    expect(page.get_by_test_id("content-preview")).to_have_attribute("alt", "Content image preview (content.jpg)")
    expect(page.get_by_test_id("style-item-2")).to_be_visible()
    expect(page.locator('[data-testid="style-item-1"] output')).to_have_text("75 %")
    expect(page.locator('[data-testid="style-item-2"] output')).to_have_text("25 %")
    expect(page.locator("#param-size")).to_have_value("48")
    expect(page.locator("#param-iterations")).to_have_value("8")


def test_a_reload_keeps_pictures_settings_and_runs(browser: Browser, images: dict[str, Path], frontend_url: str) -> None:
    page = open_app(browser, frontend_url)
    try:
        page.get_by_test_id("content-input").set_input_files(images["content"])
        page.get_by_test_id("style-input").set_input_files([images["style"], images["style_2"]])
        expect(page.get_by_test_id("style-item-2")).to_be_visible()
        page.get_by_test_id("blend-2").fill("25")
        page.get_by_test_id("blend-2").dispatch_event("change")
        set_params(page, size="48", iterations="8", snapshot_every="2")
        expect_inputs(page)
        page.get_by_test_id("start").click()
        expect_ready(page, "done")

        # Downloads by name: <photo>-<styles>-<size>, PNG and JPEG of the same picture; the GIF has every frame.
        with page.expect_download() as info:
            page.get_by_test_id("download-png").click()
        assert info.value.suggested_filename == "content-style+style-2-48.png"
        png = Image.open(info.value.path())
        with page.expect_download() as info:
            page.get_by_test_id("download-jpeg").click()
        assert info.value.suggested_filename == "content-style+style-2-48.jpg"
        jpeg = Image.open(info.value.path())
        assert (png.format, jpeg.format) == ("PNG", "JPEG") and jpeg.size == png.size == (36, 48)
        frames = page.get_by_test_id("filmstrip-item").count()
        with page.expect_download() as info:
            page.get_by_test_id("download-gif").click()
        assert info.value.suggested_filename == "content-style+style-2-48.gif"
        assert Image.open(info.value.path()).n_frames == frames >= 3  # every snapshot (every 2nd iteration) and the final

        # The history card names its paintings, each with its thumbnail.
        card = page.get_by_test_id("history-run")
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("history-styles").locator("li")).to_have_text(["style", "style-2"])
        expect(card).not_to_contain_text("style images")

        page.reload()
        expect(page.locator("#param-size")).to_be_attached()
        expect_inputs(page)
        expect(page.get_by_test_id("history-run")).to_have_count(1)
        card = page.get_by_test_id("history-run")
        expect(card.locator("h3")).to_have_text("Run 1")
        expect(card.get_by_test_id("history-styles").locator("li")).to_have_text(["style", "style-2"])
        for img in card.locator("img").all():  # the result and both paintings, from IndexedDB
            assert img.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "reloaded-1280.png"))

        # The restored inputs run again as they are; the run after the reload numbers on.
        page.get_by_test_id("start").click()
        expect_ready(page, "done")
        expect(page.get_by_test_id("history-run")).to_have_count(2)
        expect(page.get_by_test_id("history-run").first.locator("h3")).to_have_text("Run 2")

        # Another tab of the same browser starts empty: the inputs are this tab's.
        other = page.context.new_page()
        other.goto(frontend_url)
        expect(other.locator("#param-size")).to_be_attached()
        expect(other.get_by_test_id("content-preview")).to_be_hidden()
        expect(other.get_by_test_id("history-run")).to_have_count(0)
        assert page.page_errors == [], page.page_errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
