"""The built-in styles: one list (frontend/gallery/gallery.json) that the web app shows, the server's
capabilities list, and a job may name (`style_name`) instead of uploading a painting."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from images_util import content_image, to_bytes
from PIL import Image
from serving import gallery
from serving.request import Limits, parse, parse_plan
from stylize.errors import FieldError

ROOT = Path(__file__).resolve().parents[1]
CONTENT = to_bytes(content_image(64, 48))


def test_every_painting_is_listed_with_its_attribution_and_thumbnail() -> None:
    listed = json.loads((ROOT / "frontend" / "gallery" / "gallery.json").read_text())["styles"]
    assert len(listed) == 10 and len({p["name"] for p in listed}) == 10
    files = {p.name for p in (ROOT / "frontend" / "gallery").glob("*.jpg")}
    assert files == {p["file"] for p in listed}
    for entry in listed:
        assert entry["title"] and entry["artist"] and re.search(r"\d{4}", entry["year"]), entry
        assert entry["licence"] == "public domain"
        with Image.open(ROOT / "frontend" / "gallery" / "thumbs" / entry["file"]) as thumb:
            assert max(thumb.size) <= 192
    photos = json.loads((ROOT / "frontend" / "examples" / "examples.json").read_text())["photos"]
    assert {p["file"] for p in photos} == {p.name for p in (ROOT / "frontend" / "examples").glob("*.jpg")}
    assert all(p["licence"] in ("CC0", "public domain") and p["credit"] for p in photos)


def test_the_attribution_beside_the_paintings_matches_the_list() -> None:
    # frontend/gallery/README.md carries the attribution copied with the paintings (the project ships it;
    # the shared image set it came from is not part of a clone).
    text = (ROOT / "frontend" / "gallery" / "README.md").read_text()
    for entry in json.loads((ROOT / "frontend" / "gallery" / "gallery.json").read_text())["styles"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {entry['file']} |"))
        assert entry["artist"] in row and entry["year"] in row and entry["title"].split(" (")[0] in row, (entry, row)


def test_the_server_finds_the_gallery_and_describes_it() -> None:
    described = gallery.describe()
    assert [d["name"] for d in described] == list(gallery.paintings())
    starry = next(d for d in described if d["name"] == "van-gogh_starry-night")
    assert starry["image"] == "gallery/van-gogh_starry-night.jpg" and starry["artist"] == "Vincent van Gogh"
    assert (ROOT / "frontend" / starry["thumbnail"]).is_file()


def test_a_job_may_name_built_in_styles_instead_of_uploading() -> None:
    job = parse({"content": CONTENT, "style_name": "hokusai_great-wave", "size": "32", "iterations": "1"}).job
    assert len(job.styles) == 1
    with Image.open(ROOT / "frontend" / "gallery" / "hokusai_great-wave.jpg") as wave:
        # the painting, shrunk on arrival to twice the side the job reads (64 px here), its shape kept
        w, h = job.styles[0].size
        assert max(w, h) == 64 and abs(w / h - wave.size[0] / wave.size[1]) < 0.05, (job.styles[0].size, wave.size)
    two = parse({"content": CONTENT, "style_name": "hokusai_great-wave, picabia_udnie", "size": "32", "iterations": "1"}).job
    assert len(two.styles) == 2
    body = {"body": {"content": base64.b64encode(CONTENT).decode(), "style_name": ["picabia_udnie"],
                     "params": {"size": 32, "iterations": 1}}}
    assert len(parse(body).job.styles) == 1


@pytest.mark.parametrize(("extra", "message"), [
    ({"style_name": "mona-lisa"}, "no built-in style 'mona-lisa'; the built-in styles are: van-gogh_starry-night"),
    ({"style_name": " , "}, "is empty"),
    ({"style_name": "picabia_udnie", "style": to_bytes(content_image(16, 16))}, "either style images or style_name"),
])
def test_a_bad_style_name_is_a_400_naming_style_name(extra: dict, message: str) -> None:
    with pytest.raises(FieldError) as err:
        parse({"content": CONTENT, "size": "32", "iterations": "1", **extra})
    assert err.value.field == "style_name" and message in err.value.message


def test_no_more_named_styles_than_the_server_takes() -> None:
    with pytest.raises(FieldError, match="at most 2 style images, got 3"):
        parse({"content": CONTENT, "style_name": "picabia_udnie,picabia_udnie,picabia_udnie", "size": "32"}, limits=Limits(max_styles=2))


def test_a_plan_question_may_carry_style_name() -> None:
    asked = parse_plan({"response": "plan", "style_name": "picabia_udnie", "size": "64", "width": "80", "height": "40"})
    assert asked.params.size == 64
