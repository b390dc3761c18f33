"""The real TorchServe over HTTP (Java frontend + Python worker), started by the session fixture."""

from __future__ import annotations

import base64
import io
import json
import re
import time

import httpx
import pytest
from images_util import content_image, style_image, to_bytes
from PIL import Image

from tools.torchserve import TorchServe

pytestmark = pytest.mark.integration

CONTENT = to_bytes(content_image(80, 60))
STYLE = to_bytes(style_image(48))
STYLE_B = to_bytes(style_image(40, ((250, 250, 250), (0, 0, 0))))


def files(**extra: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    out = [("content", ("content.png", CONTENT, "image/png")), ("style", ("style.png", STYLE, "image/png"))]
    return out + [(name, (f"{name}.png", data, "image/png")) for name, data in extra.items()]


def assert_healthy(ts: TorchServe) -> None:
    assert httpx.get(f"{ts.url}/ping", timeout=10).json()["status"] == "Healthy"


def test_ping(torchserve: TorchServe) -> None:
    assert_healthy(torchserve)


def test_png_by_default_keeps_the_aspect_ratio(torchserve: TorchServe) -> None:
    r = httpx.post(torchserve.model_url, files=files(), data={"size": "48", "iterations": "4"}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-style-weights"] == "vgg16/imagenet-keras"
    assert Image.open(io.BytesIO(r.content)).size == (48, 36)


def test_stream_arrives_while_the_job_runs(torchserve: TorchServe) -> None:
    """Each snapshot line reaches the client while the job runs: a client that reads two snapshots of a
    long job and leaves has the job dropped long before its end. Buffered output could not do that (the
    first line would come with the last), and this holds however fast the machine is."""
    data = {"size": "64", "iterations": "2000", "snapshot_every": "2", "multiscale": "false", "response": "stream"}
    seen: list[dict] = []
    with httpx.stream("POST", torchserve.model_url, files=files(), data=data, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line.strip() and json.loads(line)["event"] == "snapshot":
                seen.append(json.loads(line))
                if len(seen) == 2:
                    break
    assert [s["iteration"] for s in seen] == [2, 4]
    log = torchserve.log_dir / "model_log.log"
    deadline = time.monotonic() + 60
    while not (dropped := re.findall(r"dropped job \S+ \(running, iteration (\d+) of 2000", log.read_text(errors="replace"))):
        assert time.monotonic() < deadline, "the job was not dropped after its client left"
        time.sleep(0.1)
    assert int(dropped[-1]) < 2000, dropped


def test_stream_lines_carry_plan_snapshots_and_done(torchserve: TorchServe) -> None:
    arrivals: list[tuple[float, dict]] = []
    data = {"size": "64", "iterations": "24", "snapshot_every": "4", "multiscale": "false", "response": "stream"}
    start = time.monotonic()
    with httpx.stream("POST", torchserve.model_url, files=files(), data=data, timeout=120) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.strip():
                arrivals.append((time.monotonic() - start, json.loads(line)))
    assert arrivals[0][1] == {"event": "plan", "stages": [{"size": [64, 48], "iterations": 24}]}
    arrivals = arrivals[1:]
    events = [e for _, e in arrivals]
    assert [e["event"] for e in events] == ["snapshot"] * 5 + ["done"]
    assert [e["iteration"] for e in events] == [4, 8, 12, 16, 20, 24]
    snap = events[0]
    assert snap["size"] == [64, 48] and snap["weights"] == "vgg16/imagenet-keras"
    assert set(snap["losses"]) == {"content", "style", "tv", "total"}
    Image.open(io.BytesIO(base64.b64decode(snap["image"]))).verify()
    final = events[-1]
    assert Image.open(io.BytesIO(base64.b64decode(final["image"]))).format == "PNG"
    assert final["params"]["iterations"] == 24 and final["weights"] == "vgg16/imagenet-keras"


def test_json_form_and_two_styles_with_blend(torchserve: TorchServe) -> None:
    data = {"size": "40", "iterations": "6", "snapshot_every": "3", "style_blend": "0.8,0.2", "response": "json"}
    r = httpx.post(torchserve.model_url, files=files(style_2=STYLE_B), data=data, timeout=120)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["params"]["style_blend"] == [0.8, 0.2]
    assert [s["iteration"] for s in doc["snapshots"]] == [3]
    assert Image.open(io.BytesIO(base64.b64decode(doc["image"]))).size == (40, 30)


def test_accept_header_selects_json(torchserve: TorchServe) -> None:
    r = httpx.post(torchserve.model_url, files=files(), data={"size": "32", "iterations": "2"},
                   headers={"Accept": "application/json"}, timeout=120)
    assert r.status_code == 200 and r.json()["event"] == "done"


def test_json_body_with_base64(torchserve: TorchServe) -> None:
    body = {"content": base64.b64encode(CONTENT).decode(), "style": [base64.b64encode(STYLE).decode(), base64.b64encode(STYLE_B).decode()],
            "params": {"size": 32, "iterations": 2}, "response": "json"}
    r = httpx.post(torchserve.model_url, json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == [32, 24]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"files": files(), "data": {"size": "nan"}}, "size: must be finite"),
    ({"files": files(), "data": {"colour": "red"}}, "colour: unknown parameter"),
    ({"files": [("content", ("c.png", CONTENT, "image/png"))]}, "style: is missing"),
    ({"files": [("content", ("c.txt", b"hello", "text/plain")), ("style", ("s.png", STYLE, "image/png"))]}, "content: is not a supported image"),
    ({"files": [*files(), ("style", ("again.png", STYLE_B, "image/png"))]}, "style: was sent more than once"),
    ({"content": b"{oops", "headers": {"Content-Type": "application/json"}}, "body: is not valid JSON"),
])
def test_bad_input_is_400_and_the_server_stays_up(torchserve: TorchServe, kwargs: dict, message: str) -> None:
    r = httpx.post(torchserve.model_url, timeout=60, **kwargs)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["code"] == 400 and doc["type"] == "InvalidInput" and doc["message"].startswith(message)
    assert "Traceback" not in r.text
    assert_healthy(torchserve)


def test_cors_admits_the_web_app_origin(torchserve: TorchServe) -> None:
    r = httpx.options(torchserve.model_url, headers={"Origin": torchserve.cors_origin, "Access-Control-Request-Method": "POST"}, timeout=10)
    assert r.headers.get("access-control-allow-origin") == torchserve.cors_origin


def test_management_api_cannot_register_models(torchserve: TorchServe) -> None:
    r = httpx.post(f"{torchserve.management_url}/models", params={"url": "https://example.com/evil.mar"}, timeout=10)
    assert r.status_code in (400, 403, 405), r.text


def test_custom_metrics_in_prometheus_format(torchserve: TorchServe) -> None:
    httpx.post(torchserve.model_url, files=files(), data={"size": "32", "iterations": "2"}, timeout=120).raise_for_status()
    text = httpx.get(f"{torchserve.metrics_url}/metrics", timeout=10).text
    for name in ("StyleJobSeconds", "StyleIterationsPerSecond", "StyleImagePixels", "StyleWeightsRandomInit", "StyleJobs"):
        assert f"# TYPE {name} " in text, name
    # one series, labelled with the model and the weights (network, provenance) it serves
    [series] = [line for line in text.splitlines() if line.startswith("StyleWeightsRandomInit{")]
    assert 'ModelName="style_transfer"' in series and 'network="vgg' in series and "weights=" in series, series
