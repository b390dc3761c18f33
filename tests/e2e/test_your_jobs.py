""""Your jobs" in a real headless Chromium through the real nginx front and TorchServe: the kept jobs this
browser knows (ids and cancel tokens in localStorage, as the app stores them when it starts one) are listed
with their state polled from the front's status files: one finishes and shows its picture and link, one runs
with its percent until its Cancel button stops it on the server; finished entries are removed; polling stops
once nothing runs. Tiny jobs (64 px). Screenshots of the list at 1280x900 and 390x844."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.test_webapp import RUN_TIMEOUT_MS, browser, images, open_app
from tests.e2e.test_webapp_ux import ARTIFACTS, PHONE

__all__ = ["browser", "images", "open_app"]

pytestmark = pytest.mark.e2e
SHOTS = Path(os.environ.get("STYLE_JOBS_SHOTS", str(ARTIFACTS)))
SHORT = {"size": "64", "iterations": "40", "snapshot_every": "5", "multiscale": "false"}
LONG = {"size": "64", "iterations": "2000", "snapshot_every": "5", "multiscale": "false"}


def submit_kept(frontend_url: str, images: dict[str, Path], params: dict[str, str]) -> dict[str, Any]:
    """A kept job sent the way the app sends one; the connection closes after its first line (it runs on)."""
    files = {"content": ("c.jpg", images["content"].read_bytes(), "image/jpeg"), "style": ("s.jpg", images["style"].read_bytes(), "image/jpeg")}
    with httpx.stream("POST", f"{frontend_url}predictions/style_transfer", files=files, data={**params, "keep": "true", "response": "stream"},
                      timeout=120) as r:
        assert r.status_code == 200, r.read()
        return json.loads(next(r.iter_lines()))["kept"]


def remember(page: Page, jobs: list[tuple[dict[str, Any], str]]) -> None:
    """This browser's kept jobs, stored as jobs.js stores them; the reload lists them."""
    entries = [{"id": k["id"], "deleteToken": k["delete_token"], "cancelToken": k["cancel_token"], "url": k["url"],
                "image": f"/results/{k['id']}/preview.jpg", "kept": True, "label": label, "requestedSize": 64, "created": 0}
               for k, label in jobs]
    page.evaluate("entries => localStorage.setItem('style-transfer.results', JSON.stringify(entries))", entries)
    page.reload()  # the list is drawn from storage at once, before the server's capabilities arrive
    expect(page.get_by_test_id("job")).to_have_count(len(jobs))


def job(page: Page, label: str) -> Locator:
    return page.get_by_test_id("job").filter(has_text=label)


def test_your_jobs_lists_progress_and_results_cancels_and_removes(browser: Browser, images: dict[str, Path], frontend_url: str) -> None:
    desk = open_app(browser, frontend_url)
    phone = open_app(browser, frontend_url, *PHONE)
    long = submit_kept(frontend_url, images, LONG)
    short = submit_kept(frontend_url, images, SHORT)
    try:
        for page in (desk, phone):
            remember(page, [(long, "beach × The Long Night"), (short, "beach × Quick Study")])
        for page in (desk, phone):
            # The short one ends: its picture (the result's own file) and its link; the long one runs.
            done = job(page, "Quick Study")
            expect(done).to_have_attribute("data-state", "done", timeout=RUN_TIMEOUT_MS)
            expect(done.get_by_test_id("job-state")).to_contain_text("Done")
            expect(done.locator("img")).to_have_attribute("src", f"{frontend_url}results/{short['id']}/final.png")
            done.locator("img").evaluate("img => img.decode()")
            expect(done.get_by_test_id("job-open")).to_have_attribute("href", f"{frontend_url}r/{short['id']}")
            running = job(page, "The Long Night")
            expect(running).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
            expect(running.get_by_test_id("job-state")).to_contain_text(" %")
            expect(running.locator("img")).to_be_visible(timeout=RUN_TIMEOUT_MS)  # its latest snapshot
            expect(running.get_by_test_id("job-cancel")).to_be_visible()
            expect(running.get_by_test_id("job-remove")).to_have_count(0)  # only finished entries are removed
            expect(page.get_by_test_id("jobs")).to_have_attribute("data-polling", "on")
            assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        for page, name in ((desk, "jobs-1280.png"), (phone, "jobs-390.png")):
            page.get_by_test_id("jobs-section").scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / name))

        # Cancel from the list: the server stops the job (any tab following it sees it too).
        job(desk, "The Long Night").get_by_test_id("job-cancel").click()
        for page in (desk, phone):
            expect(job(page, "The Long Night")).to_have_attribute("data-state", "cancelled", timeout=RUN_TIMEOUT_MS)
        assert httpx.get(f"{frontend_url}results/{long['id']}/status.json", timeout=30).json()["state"] == "cancelled"
        # Nothing runs any more: no further poll is scheduled.
        expect(desk.get_by_test_id("jobs")).to_have_attribute("data-polling", "off")
        desk.screenshot(path=str(SHOTS / "jobs-ended-1280.png"))

        # Removing: the finished picture moves to the results shared from this browser; the cancelled one is forgotten.
        job(desk, "Quick Study").get_by_test_id("job-remove").click()
        expect(desk.get_by_test_id("job")).to_have_count(1)
        expect(desk.get_by_test_id("saved-result")).to_have_count(1)
        job(desk, "The Long Night").get_by_test_id("job-remove").click()
        expect(desk.get_by_test_id("jobs-section")).to_be_hidden()
        desk.reload()
        expect(desk.locator("#param-size")).to_be_attached(timeout=RUN_TIMEOUT_MS)
        expect(desk.get_by_test_id("job")).to_have_count(0)
        expect(desk.get_by_test_id("saved-result")).to_have_count(1)
        for page in (desk, phone):
            assert page.page_errors == [], page.page_errors  # type: ignore[attr-defined]
    finally:
        httpx.post(f"{frontend_url}results/{long['id']}/cancel", headers={"X-Cancel-Token": long["cancel_token"]}, timeout=30)
        desk.context.close()
        phone.context.close()
