"""Results shared by link, in a real headless Chromium through the real nginx front and TorchServe:
finish a job, copy its link, open it in a fresh browser (no shared storage) at phone size, see the
picture and its settings; delete it from the creating browser, and the link answers 404."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_webapp import RUN_TIMEOUT_MS, browser, expect_ready, images, open_app, set_params
from tests.e2e.test_webapp_ux import ARTIFACTS, PHONE

__all__ = ["browser", "images", "open_app"]

pytestmark = pytest.mark.e2e


def test_a_shared_result_opens_elsewhere_and_its_creator_can_delete_it(browser: Browser, images: dict[str, Path], frontend_url: str) -> None:
    maker = open_app(browser, frontend_url)
    maker.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=frontend_url.rstrip("/"))
    maker.get_by_test_id("content-input").set_input_files(images["content"])
    maker.get_by_test_id("style-input").set_input_files(images["style"])
    set_params(maker, size="48", iterations="8", snapshot_every="4")
    maker.get_by_test_id("start").click()
    expect_ready(maker, "done")

    expect(maker.get_by_test_id("share-box")).to_be_visible()
    link = maker.get_by_test_id("share-link").input_value()
    assert link.startswith(frontend_url + "r/") and len(link.rsplit("/", 1)[1]) == 22, link
    maker.get_by_test_id("copy-link").click()
    expect(maker.get_by_test_id("share-note")).to_contain_text("Link copied")
    assert maker.evaluate("navigator.clipboard.readText()") == link
    expect(maker.get_by_test_id("saved-result")).to_have_count(1)  # listed under "Shared from this browser"
    ARTIFACTS.mkdir(exist_ok=True)
    maker.screenshot(path=str(ARTIFACTS / "share-done-1280.png"), full_page=True)

    # Someone else, on a phone: a fresh context shares nothing with the maker (no localStorage, no token).
    other = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]})
    viewer = other.new_page()
    errors: list[str] = []
    viewer.on("pageerror", lambda err: errors.append(str(err)))
    viewer.goto(link)
    expect(viewer.get_by_test_id("share-final")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    viewer.wait_for_function("document.querySelector('[data-testid=share-final]').naturalWidth > 0")
    assert viewer.get_by_test_id("share-final").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [36, 48]  # portrait (EXIF upright)
    # shown at most at its own size: a small result is not blown up soft to the column's width
    assert viewer.get_by_test_id("share-final").evaluate("img => img.getBoundingClientRect().width") <= 36
    settings = viewer.get_by_test_id("share-settings").inner_text()
    assert "Size (px)" in settings and "48" in settings and "Iterations" in settings and "8" in settings
    expect(viewer.get_by_test_id("share-film").locator("img")).to_have_count(1)
    expect(viewer.get_by_test_id("share-delete")).to_be_hidden()  # not the creator
    width = viewer.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the share page scrolls sideways at phone width: {width}px"
    viewer.screenshot(path=str(ARTIFACTS / "share-page-390.png"), full_page=True)

    # "Use these settings" takes the viewer to the app with the result's parameters.
    viewer.get_by_test_id("share-use").click()
    expect(viewer.locator("#param-size")).to_have_value("48", timeout=RUN_TIMEOUT_MS)
    expect(viewer.locator("#param-iterations")).to_have_value("8")
    assert errors == [], errors

    # The creator deletes it from the share page; then the link is gone for everyone.
    maker.goto(link)
    expect(maker.get_by_test_id("share-delete")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    maker.once("dialog", lambda dialog: dialog.accept())
    maker.get_by_test_id("share-delete").click()
    expect(maker.get_by_test_id("share-status")).to_contain_text("Deleted")
    rid = link.rsplit("/", 1)[1]
    gone = httpx.get(f"{frontend_url}results/{rid}/final.png", timeout=30)
    assert gone.status_code == 404 and gone.json()["code"] == 404
    viewer.goto(link)
    expect(viewer.get_by_test_id("share-status")).to_contain_text("gone")
    maker.goto(frontend_url)
    expect(maker.locator("#param-size")).to_be_attached()
    expect(maker.get_by_test_id("saved-result")).to_have_count(0)  # the deleted one dropped from the list
    other.close()
    maker.context.close()


def test_a_kept_job_s_link_shows_progress_then_turns_into_the_picture(browser: Browser, images: dict[str, Path], frontend_url: str) -> None:
    import json

    files = {"content": ("c.jpg", images["content"].read_bytes(), "image/jpeg"), "style": ("s.jpg", images["style"].read_bytes(), "image/jpeg")}
    data = {"size": "64", "iterations": "400", "snapshot_every": "5", "multiscale": "false", "keep": "true", "response": "stream"}
    with httpx.stream("POST", f"{frontend_url}predictions/style_transfer", files=files, data=data, timeout=120) as r:
        kept = json.loads(next(r.iter_lines()))["kept"]  # then the connection closes: the job runs on
    phone = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]})
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(f"{frontend_url}r/{kept['id']}")
    try:
        expect(page.get_by_test_id("share-progress-text")).to_contain_text("Running", timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("share-preview")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "share-kept-running-390.png"), full_page=True)
        expect(page.get_by_test_id("share-final")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        page.wait_for_function("document.querySelector('[data-testid=share-final]').naturalWidth > 0")
        expect(page.get_by_test_id("share-progress")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / "share-kept-done-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        assert errors == [], errors
    finally:
        httpx.post(f"{frontend_url}results/{kept['id']}/cancel", headers={"X-Cancel-Token": kept["cancel_token"]}, timeout=30)
        phone.close()


def test_a_long_job_kept_in_the_web_app_is_found_again_after_a_reload(browser: Browser, images: dict[str, Path], frontend_url: str) -> None:
    page = open_app(browser, frontend_url)
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files(images["style"])
    set_params(page, size="512", iterations="1000", snapshot_every="1")  # minutes on any CPU: offered, and on
    expect(page.get_by_test_id("keep-label")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("keep-job")).to_be_checked()
    page.screenshot(path=str(ARTIFACTS / "keep-offer-1280.png"))
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("job")).to_have_count(1, timeout=RUN_TIMEOUT_MS)  # under "Your jobs" as soon as it is kept
    saved = page.evaluate("JSON.parse(localStorage.getItem('style-transfer.results'))")[0]
    try:
        assert saved["kept"] is True and len(saved["cancelToken"]) > 20
        page.reload()  # the tab goes away and comes back: the job ran on and is listed with its progress
        expect(page.get_by_test_id("job")).to_have_count(1, timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("job")).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("saved-result")).to_have_count(0)  # a running job is not a shared result yet
        page.screenshot(path=str(ARTIFACTS / "keep-reloaded-1280.png"), full_page=True)
        deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:  # the next slice after TorchServe let go of it says so
            status = httpx.get(f"{frontend_url}results/{saved['id']}/status.json", timeout=30).json()
            if status["state"] != "running" or status.get("attached") is False:
                break
            time.sleep(0.5)  # two status reads a second at most (the front's limit)
        assert status["state"] == "running" and status["attached"] is False
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        r = httpx.post(f"{frontend_url}results/{saved['id']}/cancel", headers={"X-Cancel-Token": saved["cancelToken"]}, timeout=30)
        page.context.close()
    assert r.status_code == 202
