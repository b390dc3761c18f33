"""The pictures of the web app in README.md and docs/webapp.md, from a real run on a running server (`make serve`):

    python -m tools.screenshot --url http://127.0.0.1:8000 [--size 256 --iterations 100]

Picks Tübingen and Starry Night from ../shared/images, runs the job in headless Chromium, and writes
docs/screenshot.png (1280x900, finished), docs/screenshot_phone.png (390x844, finished) and
docs/share_page.png (the result's share link opened in a fresh phone-sized browser).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--size", default="256")
    parser.add_argument("--iterations", default="100")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        link = ""
        for name, viewport in (("screenshot.png", {"width": 1280, "height": 900}), ("screenshot_phone.png", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport)
            page.goto(args.url + "/")
            expect(page.locator("#param-size")).to_be_visible(timeout=60_000)
            page.get_by_test_id("content-input").set_input_files(args.images / "tubingen.jpg")
            page.get_by_test_id("style-input").set_input_files(args.images / "starry_night.jpg")
            page.fill("#param-size", args.size)
            page.fill("#param-iterations", args.iterations)
            page.get_by_test_id("start").click()
            expect(page.locator("#app")).to_have_attribute("data-result", "done", timeout=600_000)
            link = page.get_by_test_id("share-link").input_value() or link
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(args.out / name))
            print(f"wrote {args.out / name}")
            page.close()
        if link:
            viewer = browser.new_page(viewport={"width": 390, "height": 844})
            viewer.goto(link)
            expect(viewer.get_by_test_id("share-final")).to_be_visible(timeout=60_000)
            viewer.wait_for_function("document.querySelector('[data-testid=share-final]').naturalWidth > 0")
            viewer.screenshot(path=str(args.out / "share_page.png"), full_page=True)
            print(f"wrote {args.out / 'share_page.png'} ({link})")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
