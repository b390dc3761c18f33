"""Stored results through the real nginx with the deployed nginx.conf: exact ids and file names only,
immutable caching, JSON 404s, no traversal and no listing, the share page, and DELETE forwarded to
the model server (a fake upstream that records what reaches it)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_servers import FakeUpstream, fake_upstream
from serving.store import FileStore, Stored

from deploy import nginx_render
from deploy.nginx_render import Nginx

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def stored(results_dir: Path) -> Stored:
    return FileStore(results_dir).put({"final.png": b"\x89PNG final", "record.json": b'{"params": {"size": 64}}',
                                   "snapshot_01.jpg": b"\xff\xd8 jpeg"})


@pytest.fixture(scope="module")
def front(upstream: FakeUpstream, results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    proxy = nginx_render.start(upstream.url.removeprefix("http://"), tmp_path_factory.mktemp("front"), results=results_dir)
    try:
        yield proxy
    finally:
        nginx_render.stop(proxy.process)


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as written (httpx would normalise ../ and %2e)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_result_is_served_read_only_with_immutable_caching(front: Nginx, stored: Stored) -> None:
    r = httpx.get(f"{front.url}/results/{stored.id}/final.png", timeout=10)
    assert r.status_code == 200 and r.content == b"\x89PNG final"
    assert r.headers["content-type"] == "image/png"
    assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
    record = httpx.get(f"{front.url}/results/{stored.id}/record.json", timeout=10)
    assert record.json() == {"params": {"size": 64}} and "json" in record.headers["content-type"]
    assert httpx.get(f"{front.url}/results/{stored.id}/snapshot_01.jpg", timeout=10).content == b"\xff\xd8 jpeg"
    for method in ("PUT", "POST", "DELETE"):
        refused = httpx.request(method, f"{front.url}/results/{stored.id}/final.png", content=b"x", timeout=10)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD" and refused.json()["code"] == 405
    refused = httpx.get(f"{front.url}/results/{stored.id}", timeout=10)
    assert refused.status_code == 405 and refused.headers["allow"] == "DELETE"
    assert httpx.get(f"{front.url}/results/{stored.id}/final.png", timeout=10).content == b"\x89PNG final"


@pytest.mark.parametrize("path", [
    "/results/AAAAAAAAAAAAAAAAAAAAAA/final.png",  # well-formed but unknown
    "/results/{id}/missing.png",
    "/results/{id}/",
    "/results/",
    "/results",
    "/results/{id}x/final.png",  # over-long id
    "/results/" + "A" * 300 + "/final.png",
])
def test_unknown_results_are_a_json_404_without_listing(front: Nginx, stored: Stored, path: str) -> None:
    r = httpx.get(front.url + path.format(id=stored.id), timeout=10)
    assert r.status_code == 404, (path, r.status_code)
    assert stored.id not in r.text and "Index of" not in r.text
    if path.startswith("/results/"):
        assert r.json()["code"] == 404 and r.json()["message"].startswith("result:")


@pytest.mark.parametrize("path", [
    "/results/../results/{id}/final.png/../../.tokens/{id}",
    "/results/{id}/../../.tokens/{id}",
    "/results/%2e%2e/.tokens/{id}",
    "/results/{id}/%2e%2e/%2e%2e/.tokens/{id}",
    "/results/{id}/..%2f..%2f.tokens%2f{id}",
    "/results/.tokens/{id}",
    "/results/.incoming/",
    "/r/../results/{id}/final.png/..%2f..%2f..%2f.tokens",
])
def test_traversal_never_reaches_the_store(front: Nginx, stored: Stored, results_dir: Path, path: str) -> None:
    token_hash = (results_dir / ".tokens" / stored.id).read_bytes()
    status, body = raw_get(front.url, path.format(id=stored.id))
    assert status in (400, 404), (path, status)
    assert token_hash not in body and b"final" not in body


def test_the_share_page_is_the_web_app_share_html(front: Nginx, stored: Stored) -> None:
    r = httpx.get(f"{front.url}/r/{stored.id}", timeout=10)
    assert r.status_code == 200 and r.text == (ROOT / "frontend" / "share.html").read_text()
    assert httpx.get(f"{front.url}/r/not-an-id", timeout=10).status_code == 404


def test_delete_is_forwarded_to_the_model_server_with_the_token(front: Nginx, upstream: FakeUpstream, stored: Stored) -> None:
    upstream.script = [{"deleted": True}]
    before = len(upstream.requests)
    r = httpx.delete(f"{front.url}/results/{stored.id}", headers={"X-Delete-Token": "tok-123"}, timeout=10)
    assert r.status_code == 200
    assert upstream.requests[before:] == ["POST /predictions/style_transfer HTTP/1.1"]
    assert upstream.bodies[before] == f"response=delete&result={stored.id}".encode()
    assert upstream.headers_seen[before]["x-delete-token"] == "tok-123"
    assert "ts_stream_next" not in r.headers
    assert json.loads(r.text.splitlines()[0]) == {"deleted": True}
