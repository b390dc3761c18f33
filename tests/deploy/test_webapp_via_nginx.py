"""The web app in headless Chromium, served by the real nginx (same origin as the API, as deployed:
config.js apiBase ""), running a job whose snapshots must reach the page before the result."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from images_util import content_image, style_image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from deploy.nginx_render import Nginx

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-sync", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is required (make system-deps)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, nginx: Nginx) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{nginx.url}/")
        yield page
        assert errors == []
    finally:
        context.close()


def test_job_streams_through_nginx_into_the_page(page: Page, nginx: Nginx, tmp_path: Path) -> None:
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    content_image(64, 48).save(content)
    style_image(48).save(style)
    requests: list[str] = []
    # jobs only: the app also asks `response=plan` (its estimate before Start) at the same URL
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" and not (r.post_data or "").startswith("response=plan") else None)

    page.get_by_test_id("content-input").set_input_files(content)
    page.get_by_test_id("style-input").set_input_files(style)
    # both decoded before Start (a loaded machine decodes late: Start would say a picture is missing)
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    expect(page.get_by_test_id("style-item-1")).to_be_visible()
    page.locator("#settings > summary").click()  # the fields are folded under Advanced settings
    for name, value in {"size": "48", "iterations": "16", "snapshot_every": "4"}.items():
        page.fill(f"#param-{name}", value)
    page.get_by_test_id("start").click()

    app = page.locator("#app")
    expect(app).to_have_attribute("data-state", "ready", timeout=90_000)
    said = page.evaluate("() => [document.getElementById('status').textContent, "
                         "...[...document.querySelectorAll('[data-error-for]')].map(e => e.textContent).filter(Boolean)]")
    assert app.get_attribute("data-result") == "done", said
    # Same origin: the app posted to nginx, which proxied to TorchServe.
    assert requests == [f"{nginx.url}/predictions/style_transfer"], requests
    # Snapshots were shown before the done event and came in earlier network reads than it.
    assert int(app.get_attribute("data-snapshots-at-done") or "0") >= 2
    done_chunk = int(app.get_attribute("data-done-chunk") or "0")
    chunks = page.get_by_test_id("filmstrip-item").evaluate_all(
        "els => els.filter(e => e.dataset.kind === 'snapshot').map(e => Number(e.dataset.chunk))")
    assert sum(1 for c in chunks if c < done_chunk) >= 2, (chunks, done_chunk)
