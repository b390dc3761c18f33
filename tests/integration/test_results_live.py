"""Results shared by link through the local front and a real TorchServe (the session fixtures: the
worker writes `results_dir`, the front serves it): the link fetched by a second client, the record,
store=false, deletion with the token, a failing store, and `stylize-client get`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from images_util import content_image, style_image, to_bytes

from deploy.nginx_render import Nginx
from tools.torchserve import ROOT

pytestmark = pytest.mark.integration

FILES = [("content", ("c.png", to_bytes(content_image(80, 60)), "image/png")), ("style", ("s.png", to_bytes(style_image(48)), "image/png"))]
JOB = {"size": "64", "iterations": "8", "snapshot_every": "4", "multiscale": "false"}


def post(front: Nginx, **extra: str) -> httpx.Response:
    return httpx.post(f"{front.url}/predictions/style_transfer", files=FILES, data={**JOB, **extra}, timeout=300)


def test_a_result_is_fetched_by_a_second_client_byte_for_byte(front: Nginx) -> None:
    made = post(front)
    assert made.status_code == 200, made.text[:300]
    link = made.headers["x-style-result"]
    rid = link.removeprefix("/r/")
    with httpx.Client() as other:  # no cookies, no shared state: anyone with the link
        image = other.get(f"{front.url}/results/{rid}/final.png", timeout=30)
        assert image.status_code == 200 and image.content == made.content
        assert "immutable" in image.headers["cache-control"]
        page = other.get(f"{front.url}{link}", timeout=30)
        assert page.status_code == 200 and "share.js" in page.text


def test_the_record_holds_the_done_records_params(front: Nginx) -> None:
    done = post(front, response="json").json()
    record = httpx.get(f"{front.url}/results/{done['result']['id']}/record.json", timeout=30).json()
    assert record["params"] == done["params"] and record["losses"] == done["losses"] and record["size"] == done["size"]
    assert [s["iteration"] for s in record["snapshots"]] == [4] and record["weights"] == done["weights"]
    thumb = httpx.get(f"{front.url}/results/{done['result']['id']}/{record['snapshots'][0]['file']}", timeout=30)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_store_false_stores_nothing(front: Nginx, results_dir: Path) -> None:
    before = sorted(p.name for p in results_dir.iterdir())
    made = post(front, store="false")
    assert made.status_code == 200 and "x-style-result" not in made.headers
    assert sorted(p.name for p in results_dir.iterdir()) == before


def test_delete_with_the_token_through_the_front(front: Nginx) -> None:
    done = post(front, response="json").json()
    rid, token = done["result"]["id"], done["delete_token"]
    assert httpx.delete(f"{front.url}/results/{rid}", headers={"X-Delete-Token": "wrong"}, timeout=30).status_code == 403
    assert httpx.get(f"{front.url}/results/{rid}/final.png", timeout=30).status_code == 200
    gone = httpx.delete(f"{front.url}/results/{rid}", headers={"X-Delete-Token": token}, timeout=30)
    assert gone.status_code == 200 and gone.json() == {"deleted": rid}
    after = httpx.get(f"{front.url}/results/{rid}/final.png", timeout=30)
    assert after.status_code == 404 and after.json()["code"] == 404


def test_a_failing_store_still_answers_with_a_warning(front: Nginx, results_dir: Path) -> None:
    # root ignores permission bits, so break the store the way a full or read-only volume does: the
    # worker cannot create its staging directory
    incoming = results_dir / ".incoming"
    if incoming.is_dir():
        os.rename(incoming, results_dir / ".incoming-aside")
    incoming.write_bytes(b"")
    try:
        made = post(front, response="json")
        assert made.status_code == 200
        done = made.json()
        assert done["event"] == "done" and "result" not in done and "not stored" in done["warning"]
    finally:
        incoming.unlink()


def test_stylize_client_get_fetches_a_shared_result(front: Nginx, tmp_path: Path) -> None:
    made = post(front)
    out = tmp_path / "again.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, ROOT / "handler", ROOT / "client")))}
    r = subprocess.run([sys.executable, "-m", "stylize_client", "get", f"{front.url}{made.headers['x-style-result']}", "-o", str(out)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == made.content and "64x48" in r.stdout
    missing = subprocess.run([sys.executable, "-m", "stylize_client", "get", f"{front.url}/r/{'A' * 22}", "-o", str(out)],
                             capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert json.loads(httpx.get(f"{front.url}/capabilities", timeout=30).text)["results"]["enabled"] is True
