"""Through the real nginx with the deployed nginx.conf (fixture in tests/deploy/conftest.py):
static app, the proxied endpoints only, size limits, and the NDJSON stream arriving live; the
/capabilities route and the stripped ts_stream_next header against a fake upstream that shows
exactly what reaches TorchServe; the local front of `make serve` (fixture `front`) from both host names."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_servers import FakeUpstream, fake_upstream
from images_util import content_image, style_image, to_bytes

from deploy import nginx_render
from deploy.nginx_render import Nginx
from tools.torchserve import TorchServe

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_serves_the_web_app(nginx: Nginx) -> None:
    r = httpx.get(f"{nginx.url}/", timeout=10)
    assert r.status_code == 200
    assert r.text == (ROOT / "frontend" / "index.html").read_text()
    js = httpx.get(f"{nginx.url}/config.js", timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "server" not in r.headers or "/" not in r.headers["server"], "server_tokens must be off"


def test_ping_is_proxied(nginx: Nginx) -> None:
    r = httpx.get(f"{nginx.url}/ping", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "Healthy"


@pytest.mark.parametrize("path", ["/models", "/models/style_transfer", "/predictions/other_model", "/predictions/",
                                  "/predictions/style_transfer/extra", "/explanations/style_transfer", "/metrics"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_the_inference_endpoint_is_proxied(nginx: Nginx, path: str, method: str) -> None:
    r = httpx.request(method, f"{nginx.url}{path}", timeout=10)
    assert r.status_code == 404, (r.status_code, r.text[:200])
    assert "modelName" not in r.text and "ts_" not in r.text
    # Every answer under the API is JSON in the API's shape, never nginx's HTML page.
    assert r.headers["content-type"] == "application/json"
    assert r.json()["code"] == 404 and r.json()["message"].startswith("path: ")


def test_methods_other_than_the_api_are_refused(nginx: Nginx, torchserve: TorchServe) -> None:
    # OPTIONS / is TorchServe's API description (the direct answer proves the test would see it).
    assert "openapi" in httpx.options(f"{torchserve.url}/", timeout=10).text
    assert "openapi" not in httpx.options(f"{nginx.url}/", timeout=10).text



@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/predictions/style_transfer", "POST"), ("PUT", "/predictions/style_transfer", "POST"),
    ("DELETE", "/predictions/style_transfer", "POST"), ("HEAD", "/predictions/style_transfer", "POST"),
    ("DELETE", "/ping", "GET, HEAD"), ("POST", "/ping", "GET, HEAD"), ("PUT", "/capabilities", "GET, HEAD"),
])
def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(nginx: Nginx, method: str, path: str, allow: str) -> None:
    r = httpx.request(method, f"{nginx.url}{path}", timeout=10)
    assert r.status_code == 405, (r.status_code, r.text[:200])
    assert r.headers["allow"] == allow
    if method != "HEAD":
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"code": 405, "type": "MethodNotAllowed", "message": f"method: not allowed on this path; use {allow}"}


def test_oversized_body_is_refused_by_nginx_as_json(nginx: Nginx) -> None:
    limit = 96 * 1024 * 1024
    r = httpx.post(f"{nginx.url}/predictions/style_transfer", content=b"\0" * (limit + 1),
                   headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413
    assert r.json()["code"] == 413 and r.json()["message"].startswith("body:")


def streaming_problem(arrivals: list[tuple[float, dict]]) -> str | None:
    """Why the (client arrival time, event) pairs do not look streamed; None when they do.

    A buffering proxy delivers every line at once when the job ends; streamed lines arrive about
    as far apart as the server wrote them (each line carries the server's elapsed_s)."""
    snapshots = [(t, e) for t, e in arrivals if e["event"] == "snapshot"]
    if len(snapshots) < 2 or arrivals[-1][1]["event"] != "done":
        return f"expected >= 2 snapshots then done, got {[e['event'] for _, e in arrivals]}"
    done = arrivals[-1][0]
    server_gap = arrivals[-1][1]["elapsed_s"] - snapshots[0][1]["elapsed_s"]
    client_gap = done - snapshots[0][0]
    if server_gap <= 0.1:
        return f"job too fast to tell streaming from buffering: {server_gap:.3f} s"
    if client_gap < 0.5 * server_gap:
        return f"first snapshot {client_gap:.2f} s before done at the client, {server_gap:.2f} s at the server"
    early = [t for t, _ in snapshots if done - t > 0.25 * server_gap]
    if len(early) < 2:
        return f"only {len(early)} snapshot(s) arrived well before done"
    return None


def test_streaming_check_rejects_a_buffered_stream() -> None:
    server = [{"event": "snapshot", "elapsed_s": 1.0}, {"event": "snapshot", "elapsed_s": 2.0}, {"event": "snapshot", "elapsed_s": 3.0},
              {"event": "done", "elapsed_s": 4.0}]
    assert streaming_problem([(1.1 + i, e) for i, e in enumerate(server)]) is None
    assert streaming_problem([(4.1, e) for e in server]) is not None  # all at the end
    assert streaming_problem([(3.5, e) for e in server[:3]] + [(4.1, server[3])]) is not None  # held until the last moment
    assert streaming_problem([(4.1, server[3])]) is not None


def test_ndjson_snapshots_arrive_through_the_proxy_while_the_job_runs(nginx: Nginx) -> None:
    files = [("content", ("content.png", to_bytes(content_image(48, 40)), "image/png")),
             ("style", ("style.png", to_bytes(style_image(40)), "image/png"))]
    # Long enough (about a second here) that buffering and streaming differ by more than timer noise.
    data = {"size": "48", "iterations": "30", "snapshot_every": "6", "multiscale": "false", "response": "stream"}
    arrivals: list[tuple[float, dict]] = []
    start = time.monotonic()
    with httpx.stream("POST", f"{nginx.url}/predictions/style_transfer", files=files, data=data, timeout=120) as r:
        assert r.status_code == 200, r.read()[:300]
        assert r.headers["content-type"].startswith("application/x-ndjson")
        assert r.headers.get("x-accel-buffering") == "no"
        for line in r.iter_lines():
            if line.strip():
                arrivals.append((time.monotonic() - start, json.loads(line)))
    print(f"through nginx: lines at {[round(t, 2) for t, _ in arrivals]} s; server elapsed {[e.get('elapsed_s') for _, e in arrivals]}")
    assert arrivals[0][1]["event"] == "plan"
    arrivals = arrivals[1:]
    assert [e["event"] for _, e in arrivals] == ["snapshot"] * 4 + ["done"]
    assert streaming_problem(arrivals) is None, (streaming_problem(arrivals), nginx.tail())


# -- /capabilities and ts_stream_next, against a fake upstream ---------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def nginx_on_fake(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    proxy = nginx_render.start(upstream.url.removeprefix("http://"), tmp_path_factory.mktemp("nginx-fake"))
    try:
        yield proxy
    finally:
        nginx_render.stop(proxy.process)


@pytest.mark.parametrize("query", ["", "?x=1", "?response=stream&size=4096"])
def test_capabilities_reaches_torchserve_as_exactly_the_capabilities_form(nginx_on_fake: Nginx, upstream: FakeUpstream,
                                                                         query: str) -> None:
    """TorchServe drops the query string of /predictions requests, so the front asks with a form
    field; whatever the client's query string, upstream sees only response=capabilities."""
    r = httpx.get(f"{nginx_on_fake.url}/capabilities{query}", timeout=10)
    assert r.status_code == 200 and r.json() == {"service": "style_transfer"}
    assert upstream.requests[-1] == "POST /predictions/style_transfer HTTP/1.1"
    assert upstream.bodies[-1] == b"response=capabilities"
    assert upstream.headers_seen[-1]["content-type"] == "application/x-www-form-urlencoded"
    assert "ts_stream_next" not in r.headers


def test_capabilities_is_read_only(nginx_on_fake: Nginx, upstream: FakeUpstream) -> None:
    seen = len(upstream.requests)
    assert httpx.post(f"{nginx_on_fake.url}/capabilities", data={"response": "png"}, timeout=10).status_code == 405
    assert len(upstream.requests) == seen


def test_plan_reaches_torchserve_as_a_plan_form_with_its_own_gentler_limit(nginx_on_fake: Nginx, upstream: FakeUpstream) -> None:
    """The web app asks a plan as the user types: more questions than the job limit's burst (12) all pass,
    and each reaches TorchServe as the form response=plan plus the query."""
    for n in range(16):
        r = httpx.get(f"{nginx_on_fake.url}/plan", params={"size": str(64 + n), "width": "80", "height": "40"}, timeout=10)
        assert r.status_code == 200 and r.json()["event"] == "plan", (n, r.status_code, r.text[:200])
        assert "ts_stream_next" not in r.headers
    assert upstream.requests[-1] == "POST /predictions/style_transfer HTTP/1.1"
    assert upstream.bodies[-1] == b"response=plan&size=79&width=80&height=40"
    assert upstream.headers_seen[-1]["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("query", ["response=png", "size=64&Response=stream"])
def test_plan_never_starts_a_job(nginx_on_fake: Nginx, upstream: FakeUpstream, query: str) -> None:
    seen = len(upstream.requests)
    r = httpx.get(f"{nginx_on_fake.url}/plan?{query}", timeout=10)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["message"].startswith("response: ")
    assert httpx.post(f"{nginx_on_fake.url}/plan", data={"response": "png"}, timeout=10).status_code == 405
    assert len(upstream.requests) == seen


def test_ts_stream_next_never_reaches_the_client(nginx_on_fake: Nginx, upstream: FakeUpstream) -> None:
    # The fake upstream does send it (so this test would see a leak).
    assert httpx.get(f"{upstream.url}/ping", timeout=10).headers["ts_stream_next"] == "false"
    for path in ("/ping", "/capabilities"):
        assert "ts_stream_next" not in httpx.get(f"{nginx_on_fake.url}{path}", timeout=10).headers, path
    with httpx.stream("POST", f"{nginx_on_fake.url}/predictions/style_transfer", data={"response": "stream"}, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
        assert "ts_stream_next" not in r.headers
        assert json.loads(next(r.iter_lines()))["event"] == "snapshot"


def test_every_proxied_location_hides_ts_stream_next() -> None:
    conf = nginx_render.NGINX_CONF.read_text()
    # a location's name may be a quoted regex holding braces ({22})
    blocks = re.findall(r'location ((?:[^{"]|"[^"]*")+)\{(.*?)\n        \}', conf, flags=re.S)
    proxied = {name.strip(): body for name, body in blocks if "proxy_pass" in body}
    assert set(proxied) == {"= /ping", "= /capabilities", "= /plan", "= /predictions/style_transfer",
                            '~ "^/results/(?<result_id>[A-Za-z0-9_-]{22})$"',  # DELETE of a stored result
                            '~ "^/results/(?<result_id>[A-Za-z0-9_-]{22})/cancel$"',  # cancel of a kept job
                            '~ "^/results/(?<result_id>[A-Za-z0-9_-]{22})/download$"'}  # a stored picture as PNG or JPEG
    for name, body in proxied.items():
        assert nginx_render.directive(body, "proxy_hide_header") == ["ts_stream_next"], name


def test_render_listens_on_loopback_and_replaces_only_the_job_rate() -> None:
    conf = nginx_render.NGINX_CONF.read_text()
    local = nginx_render.render(conf, "127.0.0.1:1", 8123, tmp="/srv/x", jobs_rate="120r/m")
    assert nginx_render.directive(local, "listen") == ["127.0.0.1:8123"]
    assert "rate=120r/m;" in local and "rate=12r/m;" in conf
    assert nginx_render.directive(local, "limit_conn") == nginx_render.directive(conf, "limit_conn")
    assert "rate=12r/m;" in nginx_render.render(conf, "127.0.0.1:1", 8123, tmp="/srv/x")
    with pytest.raises(nginx_render.RenderError, match="jobs_rate"):
        nginx_render.render(conf, "127.0.0.1:1", 8123, jobs_rate="fast")
    with pytest.raises(nginx_render.RenderError, match="limit_req_zone"):
        nginx_render.render(conf.replace("zone=jobs:10m", "zone=jobs:20m"), "127.0.0.1:1", 8123, jobs_rate="1r/m")


# -- the local front of `make serve` (real TorchServe) -----------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_local_front_serves_app_and_api_on_one_origin_from_either_host_name(front: Nginx, host: str) -> None:
    base = front.url.replace("127.0.0.1", host)
    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200 and page.text == (ROOT / "frontend" / "index.html").read_text()
    config = httpx.get(f"{base}/config.js", timeout=10).text
    assert re.search(r"apiBase:\s*\"\"", config), config  # same origin: the app calls {base}/predictions/…
    assert httpx.get(f"{base}/ping", timeout=10).json()["status"] == "Healthy"
    files = [("content", ("c.png", to_bytes(content_image(40, 32)), "image/png")), ("style", ("s.png", to_bytes(style_image(32)), "image/png"))]
    r = httpx.post(f"{base}/predictions/style_transfer", files=files, data={"size": "32", "iterations": "2"}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    assert "ts_stream_next" not in r.headers


def test_local_front_capabilities_is_what_torchserve_answers(front: Nginx, torchserve: TorchServe) -> None:
    direct = httpx.post(torchserve.model_url, data={"response": "capabilities"}, timeout=30)
    proxied = httpx.get(f"{front.url}/capabilities", timeout=30)
    assert proxied.status_code == direct.status_code == 200
    assert proxied.headers.get("content-type") == direct.headers.get("content-type") == "application/json"
    assert proxied.json() == direct.json() and proxied.json()["weights"]["provenance"] == "imagenet-keras"


def test_local_front_plan_is_the_servers_answer_and_its_400(front: Nginx) -> None:
    r = httpx.get(f"{front.url}/plan", params={"size": "64", "iterations": "12", "width": "80", "height": "40"}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    answer = r.json()
    assert answer["event"] == "plan" and answer["stages"][-1]["size"] == [64, 32] and answer["params"]["iterations"] == 12
    assert answer["max_iterations"] >= 12 and answer["estimate_s"] > 0
    bad = httpx.get(f"{front.url}/plan", params={"size": "5", "width": "80", "height": "40"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["message"].startswith("size: must be between 16 and ")
