"""The web app's capabilities, layout, keyboard/screen-reader behaviour and accessibility,
and its handling of `queued` lines and Cancel, in a real headless Chromium.

The server side is faked in the page where a test needs a state the tiny real model cannot hold
on demand (a capabilities document with given limits, a job that stays running, queued lines):
`/capabilities` by a Playwright route, the job's stream by a fetch whose body the test pushes.
Jobs on the real TorchServe (and Cancel closing the real request) are in test_webapp.py.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import stylize
from PIL import ImageFilter
from playwright.sync_api import Browser, Page, Route, expect
from serving import request, responses
from serving.request import Limits
from stylize.errors import FieldError

from tests.e2e.test_webapp import ROOT, browser, expect_ready, images, landscape, open_settings, set_params, visible_errors

__all__ = ["browser", "images"]  # module fixtures shared with test_webapp.py

pytestmark = pytest.mark.e2e

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP, PHONE = (1280, 900), (390, 844)
CAPS = {
    "service": "style_transfer",
    "weights": {"provenance": "random-init", "random_init": True, "source": "seeded torchvision init"},
    "device": {"type": "cpu", "name": "test"},
    "limits": {"max_image_bytes": 16777216, "max_request_bytes": 67108864, "max_pixels": 40000000, "max_styles": 8,
               "max_size": 1024, "max_iterations": 2000, "max_work": 314572800, "max_time_s": 1800.0},
    "params": {},
    "scheduler": {"batch_size": 8, "memory_budget_mb": 6144, "slice_s": 1.0},
    "speed": {"pixel_iterations_per_s": 330000.0},
    "versions": {"service": "test", "torch": "x", "torchserve": "0.12.0"},
}
CAPABILITIES_URL = re.compile(r".*(/capabilities|response=capabilities)$")

# A fetch for the job whose body the test writes line by line (window.__job.push / close);
# other URLs (the app's plan questions go to GET /plan) go to the real fetch. Aborting the request
# errors the body, as a real abort does.
PUSHED_STREAM = """() => {
  const realFetch = window.fetch;
  window.__job = { aborted: false, requests: 0 };
  window.fetch = (url, init = {}) => {
    if (!String(url).includes("/predictions/")) return realFetch(url, init);
    window.__job.requests += 1;
    let body;
    const stream = new ReadableStream({ start(c) { body = c; } });
    const encoder = new TextEncoder();
    window.__job.push = (line) => body.enqueue(encoder.encode(line + "\\n"));
    window.__job.close = () => body.close();
    init.signal?.addEventListener("abort", () => {
      window.__job.aborted = true;
      body.error(new DOMException("The user aborted a request.", "AbortError"));
    });
    return Promise.resolve(new Response(stream, { headers: { "Content-Type": "application/x-ndjson" } }));
  };
}"""


def image_b64(width: int, height: int, fmt: str, blur: float = 0.0) -> str:
    img = landscape(width, height)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def snapshot_line(iteration: int, iterations: int = 12, size: tuple[int, int] = (48, 36), elapsed_s: float = 0.5) -> str:
    return json.dumps({"event": "snapshot", "iteration": iteration, "iterations": iterations, "stage": 1, "stages": 1,
                       "size": list(size), "losses": {"total": 100.0 / iteration}, "elapsed_s": elapsed_s,
                       "weights": "random-init", "image": image_b64(*size, "JPEG", blur=2.0)})


def done_line(iterations: int = 12, size: tuple[int, int] = (48, 36)) -> str:
    return json.dumps({"event": "done", "iteration": iterations, "iterations": iterations, "stage": 1, "stages": 1,
                       "size": list(size), "losses": {"total": 2.0}, "elapsed_s": 1.5, "stopped": "completed",
                       "weights": "random-init", "image": image_b64(*size, "PNG")})


def fulfil_ndjson(lines: list[str]) -> object:
    def handler(route: Route) -> None:
        route.fulfill(status=200, body="\n".join(lines) + "\n",
                      headers={"Content-Type": "application/x-ndjson", "Access-Control-Allow-Origin": "*"})
    return handler


def open_app(browser: Browser, url: str, caps: dict | None = CAPS, size: tuple[int, int] = DESKTOP, plan: object = None) -> Page:
    """The app with `caps` served as this server's capabilities (None: the capabilities request fails) and,
    given `plan` (a route handler), its plan questions answered by it instead of the real server."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, accept_downloads=True)
    if plan is not None:
        context.route(re.compile(r".*/plan\?.*"), plan)
    page = context.new_page()
    page.page_errors = []  # type: ignore[attr-defined]
    page.failed_responses = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda err: page.page_errors.append(str(err)))  # type: ignore[attr-defined]
    page.on("response", lambda r: page.failed_responses.append(f"{r.status} {r.url}")  # type: ignore[attr-defined]
            if r.status >= 400 and not CAPABILITIES_URL.match(r.url) else None)
    if caps is None:
        context.route(CAPABILITIES_URL, lambda route: route.abort())
    else:
        context.route(CAPABILITIES_URL, lambda route: route.fulfill(
            status=200, body=json.dumps(caps), headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}))
    page.goto(url)
    expect(page.locator("#app")).to_have_attribute("data-capabilities", "defaults" if caps is None else "server")
    return page


def pick(page: Page, images: dict[str, Path], styles: int = 1) -> None:
    page.get_by_test_id("content-input").set_input_files(images["content"])
    page.get_by_test_id("style-input").set_input_files([images["style"], images["style_2"], images["style"]][:styles])
    expect(page.get_by_test_id(f"style-item-{styles}")).to_be_visible()
    expect(page.get_by_test_id("content-preview")).to_be_visible()


def run_faked(page: Page, lines: list[str]) -> None:
    page.route("**/predictions/style_transfer", fulfil_ndjson(lines))
    page.get_by_test_id("start").click()
    expect_ready(page, "done")


def axe_violations(page: Page) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (axe-core is a pinned devDependency in frontend/package.json)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
            for v in result if v["impact"] in ("serious", "critical")]


# -- capabilities ----------------------------------------------------------------------------------


def test_banner_limits_and_presets_come_from_the_capabilities(page: Page, images: dict[str, Path]) -> None:
    # Before any job: the banner speaks to the user; the operator's instructions are one click away.
    banner = page.get_by_test_id("weights-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("texture-only")
    expect(banner).to_contain_text("random-init")
    expect(banner.locator("code").first).to_be_hidden()
    banner.locator("summary").click()
    expect(banner.locator("code").first).to_be_visible()
    expect(banner.get_by_text("make archive")).to_be_visible()
    expect(page.get_by_test_id("caps-note")).to_be_hidden()

    # Maxima are the server's: 1024, not the panel's 4096; iterations within the work budget.
    expect(page.locator("#param-size")).to_have_attribute("max", "1024")
    set_params(page, size="1024")
    expect(page.locator("#param-iterations")).to_have_attribute("max", "300")
    set_params(page, size="512")
    expect(page.locator("#param-iterations")).to_have_attribute("max", "1200")

    # First run: the quick preview, sized so it takes ~15 s at 330k pixel-iterations/s.
    page.get_by_test_id("preset-quick").click()
    expect(page.get_by_test_id("preset-quick")).to_have_attribute("aria-pressed", "true")
    size = int(page.locator("#param-size").input_value())
    assert 128 <= size < 512 and size % 16 == 0, size
    expect(page.locator("#param-iterations")).to_have_value("100")
    expect(page.get_by_test_id("estimate")).to_contain_text("on this server's CPU")

    # "High quality" on a square photo fits the work budget (768 x 768 x 533 <= 314572800).
    page.get_by_test_id("content-input").set_input_files(images["style"])  # square
    page.get_by_test_id("preset-high").click()
    expect(page.locator("#param-size")).to_have_value("768")
    expect(page.locator("#param-iterations")).to_have_value("533")
    expect(page.get_by_test_id("preset-high")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("preset-quick")).to_have_attribute("aria-pressed", "false")
    set_params(page, size="700")
    expect(page.get_by_test_id("preset-high")).to_have_attribute("aria-pressed", "false")


def server_plan(limits: Limits) -> object:
    """GET /plan answered by the server's own code (serving.request.parse_plan) with these limits: what a
    server with them would say, for a test whose capabilities are faked."""
    def handler(route: Route) -> None:
        question = dict(parse_qsl(urlsplit(route.request.url).query, keep_blank_values=True))
        try:
            asked = request.parse_plan(question, limits, "vgg16")
            chunk = responses.plan(stylize.plan(asked.params, asked.content_wh), asked.params.as_dict(), asked.max_iterations, None)
        except FieldError as err:
            chunk = responses.refusal(err)
        route.fulfill(status=chunk.status, body=chunk.body, headers={"Content-Type": "application/json"})
    return handler


def test_a_small_server_narrows_fields_presets_and_validation(browser: Browser, frontend_url: str, images: dict[str, Path]) -> None:
    limits = {**CAPS["limits"], "max_size": 512, "max_iterations": 400, "max_work": 512 * 512 * 200}
    small = {**CAPS, "weights": {"provenance": "imagenet1k_v1", "random_init": False}, "limits": limits,
             "speed": {"pixel_iterations_per_s": 50e6}, "preview": {"size": 512, "iterations": 100, "seconds": 1.0}}
    page = open_app(browser, frontend_url, small, plan=server_plan(Limits(**limits)))
    try:
        expect(page.get_by_test_id("weights-banner")).to_be_hidden()
        # A fast device: its preview is the largest.
        expect(page.locator("#param-size")).to_have_value("512")
        expect(page.locator("#param-size")).to_have_attribute("max", "512")
        open_settings(page)
        page.get_by_test_id("preset-high").click()
        expect(page.locator("#param-size")).to_have_value("512")
        # The work budget at 512 x 512 (no content yet: a square), from the server's plan answer.
        expect(page.locator("#param-iterations")).to_have_value("200")
        expect(page.locator("#param-iterations")).to_have_attribute("max", "200")
        pick(page, images)
        posted: list[str] = []
        page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
        set_params(page, size="600")
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("error-size")).to_have_text("Size: must be between 16 and 512, got 600")
        expect(page.locator("#param-size")).to_be_focused()
        set_params(page, size="512", iterations="300")
        page.get_by_test_id("start").click()
        # The content is a 3:4 portrait: 512 x 384 px x 266 iterations fit 512 x 512 x 200.
        expect(page.get_by_test_id("error-iterations")).to_have_text(
            "Iterations: size 512 x 300 iterations exceeds this server's work budget; at this size at most 266 iterations")
        expect(page.locator("#param-iterations")).to_be_focused()
        assert posted == [], "no job was sent"
    finally:
        page.context.close()


def test_without_capabilities_the_app_uses_defaults_and_says_so(browser: Browser, frontend_url: str) -> None:
    page = open_app(browser, frontend_url, None)
    try:
        expect(page.get_by_test_id("caps-note")).to_be_visible()
        expect(page.get_by_test_id("caps-note")).to_contain_text("built-in defaults")
        expect(page.get_by_test_id("weights-banner")).to_be_hidden()
        # No limits known: the schema's range; the server's plan answers still refuse what it must.
        expect(page.locator("#param-size")).to_have_attribute("max", "4096")
        expect(page.get_by_test_id("start")).to_be_enabled()
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


# -- the job: queued lines, ETA, cancel ------------------------------------------------------------


def test_queued_lines_show_the_place_in_line_then_the_run(page: Page, images: dict[str, Path]) -> None:
    pick(page, images)
    page.evaluate("""() => {
        window.__statuses = [];
        // Every text the status held, also those replaced within the same task (one record each).
        new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => window.__statuses.push(n.textContent))))
            .observe(document.getElementById('status'), { childList: true });
    }""")
    queued = [json.dumps({"event": "queued", "position": n}) for n in (3, 2, 1)]
    run_faked(page, [*queued, snapshot_line(4), done_line()])
    statuses = page.evaluate("window.__statuses")
    for text in ("Waiting for the server: 2 ahead of yours", "Waiting for the server: 1 ahead of yours",
                 "Waiting for the server: yours runs next", "Running…", "Done"):
        assert text in statuses, statuses
    assert statuses.index("Waiting for the server: yours runs next") < statuses.index("Running…")


def test_eta_is_an_estimate_until_the_run_measures_its_own_rate_and_cancel_clears_it(browser: Browser, frontend_url: str,
                                                                                      images: dict[str, Path]) -> None:
    page = open_app(browser, frontend_url)
    plan = [{"size": [side, side], "iterations": 60} for side in (128, 181, 256, 362, 512)]
    # The server's pre-start figure (its plan answer) says 30 s; the run will show it is much slower.
    answer = {"event": "plan", "stages": plan, "params": {}, "estimate_s": 30.0}
    page.route("**/plan?*", lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(answer)))
    try:
        pick(page, images)
        page.evaluate(PUSHED_STREAM)
        set_params(page, size="512", iterations="300")
        page.get_by_test_id("start").click()
        page.wait_for_function("() => window.__job.push")
        page.evaluate("l => window.__job.push(l)", json.dumps({"event": "plan", "stages": plan}))
        text = page.get_by_test_id("progress-text")
        expect(text).to_have_text("0 % · ETA about 30 s (estimate)")
        # 150 of 300 iterations of a 512 px multiscale run (sides 128, 181, 256, 362, 512; 60 iterations
        # each) took 10 s. Those were the cheap stages: 16 % of the pixel work, so 52 s are left.
        line = json.dumps({"event": "snapshot", "iteration": 150, "iterations": 300, "stage": 3, "stages": 5, "size": [64, 48],
                           "losses": {"total": 3.0}, "elapsed_s": 10.0, "weights": "random-init", "image": image_b64(64, 48, "JPEG")})
        page.evaluate("l => window.__job.push(l)", line)
        expect(text).to_contain_text("50 % · iteration 150 / 300 · stage 3/5 · ETA")
        # A per-iteration average would say 10 s; the stage model knows the late stages cost more.
        expect(text).to_have_text(re.compile(r".*ETA 52 s$"))
        # The next 60 iterations (4.9 to 10.8 million pixel-iterations) took 30 s: the rate since the last
        # snapshot leaves 19.7 million at 5.1 us each, 100 s (the average since the start would say 73 s).
        line = json.dumps({"event": "snapshot", "iteration": 210, "iterations": 300, "stage": 4, "stages": 5, "size": [64, 48],
                           "losses": {"total": 2.0}, "elapsed_s": 40.0, "weights": "random-init", "image": image_b64(64, 48, "JPEG")})
        page.evaluate("l => window.__job.push(l)", line)
        expect(text).to_have_text("70 % · iteration 210 / 300 · stage 4/5 · ETA 1 min 40 s")
        page.get_by_test_id("cancel").click()
        expect_ready(page, "cancelled")
        assert page.evaluate("window.__job.aborted") is True
        expect(text).to_have_text("Cancelled at iteration 210 / 300")
    finally:
        page.context.close()


# -- layout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_live_image_and_progress_stay_in_view_while_running(browser: Browser, frontend_url: str, images: dict[str, Path],
                                                            viewport: tuple[int, int]) -> None:
    name = "desktop" if viewport == DESKTOP else "phone"
    page = open_app(browser, frontend_url, size=viewport)
    try:
        pick(page, images, styles=2)
        page.evaluate("window.scrollTo(0, 0)")
        # Start is on screen without scrolling, with the banner shown.
        expect(page.get_by_test_id("weights-banner")).to_be_visible()
        expect(page.get_by_test_id("start")).to_be_in_viewport()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"webapp-{name}-ready.png"))
        assert axe_violations(page) == []

        page.evaluate(PUSHED_STREAM)
        page.get_by_test_id("start").click()
        page.wait_for_function("() => window.__job.push")
        for i in (4, 8):
            page.evaluate("l => window.__job.push(l)", snapshot_line(i, size=(64, 48)))
        expect(page.get_by_test_id("current-image")).to_be_visible()
        # The user scrolls the page (to the parameters, say): progress and live image stay in view.
        page.mouse.move(viewport[0] * 0.15, viewport[1] * 0.6)
        page.mouse.wheel(0, 600)
        page.wait_for_function("() => scrollY > 0", timeout=5000)  # else the check below would prove nothing
        for testid in ("progress", "current-image", "cancel"):
            expect(page.get_by_test_id(testid)).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / f"webapp-{name}-running.png"))
        assert axe_violations(page) == []

        page.evaluate("l => window.__job.push(l)", done_line(size=(64, 48)))
        expect_ready(page, "done")
        expect(page.get_by_test_id("current-image")).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / f"webapp-{name}-finished.png"))
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than the screen"
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


# -- keyboard and screen reader -------------------------------------------------------------------


def test_style_list_focus_edges_live_shares_and_non_images(page: Page, images: dict[str, Path]) -> None:
    pick(page, images, styles=3)
    # The ends of the list: nothing to move, so the buttons are disabled (and stay so after a run).
    first_up, last_down = page.get_by_label("Move style image 1 up"), page.get_by_label("Move style image 3 down")
    expect(first_up).to_be_disabled()
    expect(last_down).to_be_disabled()
    expect(page.get_by_label("Move style image 2 up")).to_be_enabled()
    run_faked(page, [done_line()])
    expect(first_up).to_be_disabled()
    expect(last_down).to_be_disabled()

    # Shares update while dragging (input events only, no change event) and sum to 100.
    page.get_by_test_id("blend-2").evaluate("s => { s.value = '0'; s.dispatchEvent(new Event('input', { bubbles: true })); }")
    outputs = page.locator("#style-list output")
    expect(outputs).to_have_text(["50 %", "0 %", "50 %"])
    page.get_by_test_id("blend-2").evaluate("s => { s.value = '50'; s.dispatchEvent(new Event('input', { bubbles: true })); }")
    # The sliders are the shares: style 2 takes 50 %, the others split the rest as they had it.
    expect(outputs).to_have_text(["25 %", "50 %", "25 %"])

    # Removing a style: focus goes to the style that took its place, then the one before, then "add".
    page.get_by_test_id("remove-style-2").click()
    expect(page.get_by_test_id("remove-style-2")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("remove-style-1")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("style-input")).to_be_focused()

    # A text file is refused in the browser, with a message naming the field.
    page.get_by_test_id("style-input").set_input_files(images["text"])
    expect(page.get_by_test_id("style-error")).to_have_text("Style image: notes.txt: format not supported (this browser cannot read it as an image; PNG or JPEG always work)")
    expect(page.get_by_test_id("style-item-1")).to_have_count(0)


def test_eight_equal_styles_show_shares_summing_to_100(page: Page, images: dict[str, Path]) -> None:
    page.get_by_test_id("style-input").set_input_files([images["style"]] * 8)
    expect(page.get_by_test_id("style-item-8")).to_be_visible()
    shares = [int(t.rstrip(" %")) for t in page.locator("#style-list output").all_inner_texts()]
    assert sum(shares) == 100 and sorted(shares) == [12] * 4 + [13] * 4, shares


def test_names_focus_after_a_400_and_the_filmstrip_is_one_tab_stop(page: Page, images: dict[str, Path]) -> None:
    pick(page, images)
    expect(page.get_by_test_id("content-input")).to_have_accessible_name("Content image")

    # A server 400 names a field: focus goes there, not to Start.
    page.route("**/predictions/style_transfer", lambda route: route.fulfill(
        status=400, body=json.dumps({"code": 400, "message": "iterations: must be at most 5 on this server, got 100"}),
        headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}))
    page.get_by_test_id("start").click()
    expect_ready(page, "error")
    expect(page.locator("#param-iterations")).to_be_focused()
    expect(page.get_by_test_id("error-iterations")).to_have_text("Iterations: must be at most 5 on this server, got 100")
    page.unroute("**/predictions/style_transfer")

    run_faked(page, [snapshot_line(4), snapshot_line(8), done_line()])
    current = page.get_by_test_id("current-image")
    expect(current).to_have_attribute("alt", "Stylised result: the final image")
    thumbs = page.locator("#filmstrip .thumb")
    expect(thumbs).to_have_count(3)
    expect(thumbs.nth(0)).to_have_accessible_name("Show iteration 4")
    assert page.locator("#filmstrip img").evaluate_all("els => els.map(e => e.alt)") == ["", "", ""]
    tab_stops = page.locator("#filmstrip").evaluate("ol => [...ol.querySelectorAll('button, a')].filter(e => e.tabIndex >= 0).length")
    assert tab_stops == 1

    # Tab reaches the filmstrip once (on the selected snapshot) and leaves it with the next Tab.
    page.get_by_test_id("download-gif").focus()
    page.keyboard.press("Tab")
    expect(thumbs.nth(2)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(thumbs.nth(1)).to_be_focused()
    expect(page.get_by_test_id("current-caption")).to_contain_text("iteration 8")
    expect(current).to_have_attribute("alt", "Stylised result in progress, iteration 8 of 12")
    page.keyboard.press("Home")
    expect(thumbs.nth(0)).to_be_focused()
    page.keyboard.press("End")
    expect(thumbs.nth(2)).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#filmstrip') === null")


def test_accessibility_has_no_serious_violations_ready_and_finished(page: Page, images: dict[str, Path]) -> None:
    assert axe_violations(page) == []
    pick(page, images, styles=2)
    page.get_by_test_id("weights-banner").locator("summary").click()
    assert axe_violations(page) == []
    run_faked(page, [snapshot_line(4), snapshot_line(8), done_line()])
    page.get_by_test_id("compare-slider").fill("40")
    assert axe_violations(page) == []
    assert visible_errors(page) == []


def test_favicon_and_no_missing_files(page: Page, frontend_url: str) -> None:
    response = page.request.get(f"{frontend_url}favicon.svg")
    assert response.status == 200 and "svg" in response.headers["content-type"], response.headers
    page.reload()
    expect(page.locator("#app")).to_have_attribute("data-capabilities", "server")
    assert page.failed_responses == []  # type: ignore[attr-defined]


# -- beyond: before/after, zoom, this session's runs ----------------------------------------------


def test_before_after_zoom_and_session_history(page: Page, images: dict[str, Path]) -> None:
    pick(page, images)
    set_params(page, size="48", iterations="12")
    run_faked(page, [snapshot_line(4), done_line()])

    # Before/after by keyboard: the content covers the left part of the result.
    slider = page.get_by_test_id("compare-slider")
    before = page.get_by_test_id("before-image")
    expect(before).to_be_hidden()
    slider.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("30")
    expect(before).to_be_visible()
    assert before.evaluate("img => img.style.clipPath") == "inset(0px 70% 0px 0px)"
    expect(slider).to_have_attribute("aria-valuetext", "content image over the left 30 %")

    # Zoom to 100 %: the image at its own pixel size.
    zoom = page.get_by_test_id("zoom")
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "true")
    current = page.get_by_test_id("current-image")
    assert current.evaluate("img => [img.getBoundingClientRect().width, img.naturalWidth]") == [48, 48]
    zoom.click()
    assert current.evaluate("img => img.getBoundingClientRect().width") > 48

    # Two runs side by side, newest first, with their settings; one click restores a run's settings.
    set_params(page, size="32", iterations="12")
    run_faked(page, [done_line()])
    runs = page.get_by_test_id("history-run")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_contain_text("Run 2")
    expect(runs.nth(0)).to_contain_text("32 px · 12 iterations")
    expect(runs.nth(1)).to_contain_text("48 px · 12 iterations")
    runs.nth(1).get_by_role("button", name="Use these settings: run 1").click()
    expect(page.locator("#param-size")).to_have_value("48")
    expect(page.locator("#param-size")).to_be_focused()
