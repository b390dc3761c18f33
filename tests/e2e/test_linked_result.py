"""A big result answered by link: the done line of a stored picture over 1024 px carries `image_link` instead of
the PNG itself; the web app fetches the link, shows the full picture and offers its downloads, and says so
plainly when the link cannot be fetched. The stream is faked (the app's side of the contract; the server's side
is tests/integration), the front and the app are real."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e.test_webapp import browser, images
from tests.e2e.test_webapp_ux import fulfil_ndjson, image_b64, open_app, pick, run_faked, snapshot_line

__all__ = ["browser", "images"]

pytestmark = pytest.mark.e2e
BIG = (1100, 820)  # over the 1024 px a done line carries inline
LINK = "/results/0123456789abcdef0123456789abcdef/final.png"


def linked_done_line() -> str:
    return json.dumps({"event": "done", "iteration": 12, "iterations": 12, "stage": 1, "stages": 1, "size": list(BIG),
                       "losses": {"total": 2.0}, "elapsed_s": 1.5, "stopped": "completed", "weights": "random-init",
                       "image_link": LINK})


def test_a_linked_result_is_fetched_and_shown_whole(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url)
    fetched: list[str] = []

    def serve_png(route: Route) -> None:
        fetched.append(route.request.url)
        route.fulfill(status=200, body=base64.b64decode(image_b64(*BIG, "PNG")), headers={"Content-Type": "image/png"})

    try:
        pick(page, images)
        page.route(f"**{LINK}", serve_png)
        run_faked(page, [snapshot_line(6, size=(64, 48)), linked_done_line()])
        image = page.get_by_test_id("current-image")
        expect(image).to_be_visible()
        page.wait_for_function("() => document.getElementById('current-image').naturalWidth === 1100")
        assert fetched == [frontend_url.rstrip("/") + LINK]
        expect(page.get_by_test_id("download-png")).to_be_visible()
        expect(page.get_by_test_id("progress-text")).not_to_contain_text("could not be fetched")
    finally:
        page.context.close()


def test_a_link_that_cannot_be_fetched_says_so(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url)
    try:
        pick(page, images)
        page.route(f"**{LINK}", lambda route: route.fulfill(status=404, body='{"code": 404}', headers={"Content-Type": "application/json"}))
        page.route("**/predictions/style_transfer", fulfil_ndjson([snapshot_line(6, size=(64, 48)), linked_done_line()]))
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("progress-text")).to_contain_text("could not be fetched (HTTP 404)", timeout=30_000)
        expect(page.get_by_test_id("progress-text")).to_contain_text(LINK)
    finally:
        page.context.close()
