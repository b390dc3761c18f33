"""The first five minutes without files of one's own: an example photo and a built-in style picked with one tap
each (no file dialog), run on the real TorchServe behind the front, at desktop and phone widths; and the same
painting by name over the API (style_name)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from deploy.nginx_render import Nginx
from tests.e2e.test_webapp import browser, expect_ready, open_app, record_posts, set_params
from tests.e2e.test_webapp_ux import ARTIFACTS, DESKTOP, PHONE, axe_violations

__all__ = ["browser"]

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_example_photo_and_a_built_in_style_by_one_tap_each(browser: Browser, frontend_url: str,
                                                             viewport: tuple[int, int]) -> None:
    page = open_app(browser, frontend_url, *viewport)
    try:
        gallery = page.get_by_test_id("gallery")
        expect(gallery.locator("button")).to_have_count(10)
        wave = page.get_by_test_id("gallery-hokusai_great-wave")
        expect(wave).to_have_accessible_name("Add style: The Great Wave off Kanagawa Katsushika Hokusai, c. 1831")
        expect(wave).to_contain_text("Katsushika Hokusai, c. 1831")
        expect(page.get_by_test_id("examples").locator("button")).to_have_count(4)
        page.get_by_test_id("example-coffee").click()
        expect(page.get_by_test_id("content-preview")).to_be_visible()
        expect(page.locator("#content-hint")).to_contain_text("coffee.jpg")
        wave.click()
        expect(page.get_by_test_id("style-item-1")).to_contain_text("The Great Wave off Kanagawa — Katsushika Hokusai, c. 1831")
        expect(page.locator("#style-count")).to_have_text("(1 of 8)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"gallery-picked-{viewport[0]}.png"))
        assert axe_violations(page) == []
        set_params(page, size="48", iterations="4", snapshot_every="2")
        record_posts(page)
        page.get_by_test_id("start").click()
        expect_ready(page, "done")
        posted = page.evaluate("window.__posts")[0]["fields"]
        assert posted["style"]["type"] == "image/jpeg" and posted["content"]["type"] == "image/jpeg", posted
        assert (page.get_by_test_id("gallery-picabia_udnie")).is_enabled()
        page.screenshot(path=str(ARTIFACTS / f"gallery-done-{viewport[0]}.png"))
    finally:
        page.context.close()


def test_a_built_in_style_by_name_through_the_front(front: Nginx) -> None:
    caps = httpx.get(f"{front.url}/capabilities", timeout=30).json()
    names = [s["name"] for s in caps["styles"]]
    assert len(names) == 10 and "van-gogh_starry-night" in names
    # The front serves each listed image at the path capabilities gives.
    image = httpx.get(f"{front.url}/{caps['styles'][0]['image']}", timeout=30)
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
    photo = (Path(__file__).resolve().parents[2] / "frontend" / "examples" / "coffee.jpg").read_bytes()
    r = httpx.post(f"{front.url}/predictions/style_transfer", files={"content": ("coffee.jpg", photo, "image/jpeg")},
                   data={"style_name": "van-gogh_starry-night", "size": "32", "iterations": "2"}, timeout=120)
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG"), r.text[:300]
    bad = httpx.post(f"{front.url}/predictions/style_transfer", files={"content": ("coffee.jpg", photo, "image/jpeg")},
                     data={"style_name": "mona-lisa"}, timeout=60)
    assert bad.status_code == 400 and bad.json()["message"].startswith("style_name: no built-in style 'mona-lisa'")
