"""Jobs sharing a worker through TorchServe's continuous batching (a real TorchServe over HTTP):
a client that leaves frees the worker, a small job does not wait behind a big one, a failing job
does not take the others down, jobs wait for memory with `queued` events."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from images_util import content_image, style_image, to_bytes

from tools.torchserve import TorchServe

pytestmark = pytest.mark.integration

CONTENT = to_bytes(content_image(80, 60))
STYLE = to_bytes(style_image(48))
FILES = [("content", ("content.png", CONTENT, "image/png")), ("style", ("style.png", STYLE, "image/png"))]
SMALL = {"size": "64", "iterations": "10", "snapshot_every": "0"}
ENDLESS = {"size": "96", "iterations": "2000", "snapshot_every": "2", "multiscale": "false", "response": "stream"}


@pytest.fixture(scope="module")
def server(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """TorchServe with the test-only fault hook on and a memory budget of 180 MiB: by stylize/memory.py
    a 64 px job here needs ~64 MiB, 96 px ~84 MiB, 128 px ~113 MiB, so one 128 px job and a 64 px one
    run side by side but two 128 px jobs do not."""
    ts = TorchServe(model_store, tmp_path_factory.mktemp("ts-jobs"))
    with pytest.MonkeyPatch.context() as env:  # the Java frontend passes its environment to workers
        env.setenv("STYLE_TEST_HOOKS", "1")
        env.setenv("STYLE_MEMORY_BUDGET_MB", "180")
        try:
            ts.start()
        except BaseException:
            ts.stop()
            raise
    try:
        yield ts
    finally:
        ts.stop()


def post(ts: TorchServe, data: dict[str, str], headers: dict[str, str] | None = None, timeout: float = 180) -> httpx.Response:
    return httpx.post(ts.model_url, files=FILES, data=data, headers=headers, timeout=timeout)


def lines(r: httpx.Response) -> list[dict]:
    """The NDJSON events of a whole streamed answer."""
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def timed(ts: TorchServe, data: dict[str, str]) -> float:
    start = time.monotonic()
    r = post(ts, data)
    assert r.status_code == 200, r.text
    return time.monotonic() - start


def worker_log(ts: TorchServe) -> str:
    path = ts.log_dir / "model_log.log"
    return path.read_text(errors="replace") if path.exists() else ""


def metric(ts: TorchServe, name: str, **labels: str) -> float | None:
    text = httpx.get(f"{ts.metrics_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_for(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def leave_after_first_snapshot(ts: TorchServe, data: dict[str, str]) -> float:
    with httpx.stream("POST", ts.model_url, files=FILES, data=data, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.strip() and json.loads(line)["event"] == "snapshot":
                break
    return time.monotonic()


def test_a_lone_client_that_leaves_frees_the_worker_within_two_seconds(server: TorchServe) -> None:
    solo = timed(server, SMALL)
    dropped_before = len(re.findall(r"dropped job", worker_log(server)))
    gone_at = leave_after_first_snapshot(server, ENDLESS)
    freed_after = wait_for(lambda: len(re.findall(r"dropped job", worker_log(server))) > dropped_before, timeout=10)
    assert time.monotonic() - gone_at < 2.0 + 0.5, f"dropped {freed_after:.2f} s after the client left"
    assert metric(server, "StyleRunningJobs") == 0 and metric(server, "StyleReservedMemoryMB") == 0
    assert (metric(server, "StyleJobs", outcome="cancelled") or 0) >= 1
    after = timed(server, SMALL)
    assert after <= 2 * solo + 2, (solo, after)


def test_a_client_that_leaves_beside_another_job_is_dropped_at_its_next_chunk(server: TorchServe) -> None:
    results: dict[str, object] = {}

    def steady() -> None:
        r = post(server, {"size": "64", "iterations": "40", "snapshot_every": "5", "multiscale": "false", "response": "stream"})
        results["events"] = lines(r)

    thread = threading.Thread(target=steady)
    thread.start()
    time.sleep(0.5)
    cancelled_before = metric(server, "StyleJobs", outcome="cancelled") or 0
    gone_at = leave_after_first_snapshot(server, {**ENDLESS, "size": "48"})
    wait_for(lambda: (metric(server, "StyleJobs", outcome="cancelled") or 0) > cancelled_before, timeout=10)
    assert time.monotonic() - gone_at < 2.5
    thread.join(timeout=180)
    assert results["events"][-1]["event"] == "done"  # type: ignore[index]


def test_a_small_job_finishes_while_a_big_one_runs(server: TorchServe) -> None:
    small = {"size": "64", "iterations": "10", "snapshot_every": "0"}
    solo = timed(server, small)
    big_lines: list[dict] = []
    stop = threading.Event()

    def big() -> None:
        data = {"size": "128", "iterations": "300", "snapshot_every": "10", "multiscale": "false", "response": "stream"}
        with httpx.stream("POST", server.model_url, files=FILES, data=data, timeout=300) as r:
            for line in r.iter_lines():
                if line.strip():
                    big_lines.append(json.loads(line))
                if stop.is_set() or (big_lines and big_lines[-1]["event"] != "snapshot"):
                    return  # leaving also cancels it: no need to wait for 300 iterations

    thread = threading.Thread(target=big)
    thread.start()
    wait_for(lambda: bool(big_lines), timeout=120)  # the big job is running
    shared = timed(server, small)
    still_running = all(e["event"] == "snapshot" for e in big_lines)
    stop.set()
    thread.join(timeout=120)
    assert still_running, "the big job ended before the small one"
    assert shared <= 2 * solo + 2, (solo, shared)


def test_a_job_that_fails_mid_run_ends_with_an_error_line_and_the_others_go_on(server: TorchServe) -> None:
    pids = server.worker_pids()
    results: dict[str, list[dict]] = {}

    def run(name: str, headers: dict[str, str] | None) -> None:
        data = {"size": "48", "iterations": "12", "snapshot_every": "2", "multiscale": "false", "response": "stream"}
        r = post(server, data, headers)
        assert r.status_code == 200
        results[name] = lines(r)

    threads = [threading.Thread(target=run, args=("faulty", {"X-Style-Test-Fault-At": "5"})), threading.Thread(target=run, args=("healthy", None))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert results["faulty"][-1] == {"event": "error", "message": "style transfer failed; see the server log"}
    assert any(e["event"] == "snapshot" for e in results["faulty"])
    assert results["healthy"][-1]["event"] == "done" and results["healthy"][-1]["iteration"] == 12
    assert server.worker_pids() == pids  # the worker survived


def test_jobs_beyond_the_memory_budget_wait_with_queued_events(server: TorchServe) -> None:
    holder: dict[str, list[dict]] = {}

    def first() -> None:
        r = post(server, {"size": "128", "iterations": "30", "snapshot_every": "10", "multiscale": "false", "response": "stream"})
        holder["first"] = lines(r)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(1.0)
    r = post(server, {"size": "128", "iterations": "4", "snapshot_every": "2", "multiscale": "false", "response": "stream"})
    thread.join(timeout=180)
    events = lines(r)
    assert events[0] == {"event": "queued", "position": 1}, events[:2]
    assert [e["event"] for e in events[1:]] == ["snapshot", "done"]
    assert holder["first"][-1]["event"] == "done"


def test_a_job_too_big_for_the_budget_is_refused_naming_size(server: TorchServe) -> None:
    r = post(server, {"size": "512", "iterations": "2"})
    assert r.status_code == 400 and r.json()["message"].startswith("size: a 512 px job needs about")
    assert r.headers["x-style-weights"] == "vgg16/imagenet-keras"


def test_capabilities_as_a_form_field(server: TorchServe) -> None:
    # TorchServe drops the query string of /predictions requests: the question is a form field.
    r = httpx.post(server.model_url, data={"response": "capabilities"}, timeout=30)
    assert r.status_code == 200 and r.headers["x-style-weights"] == "vgg16/imagenet-keras"
    doc = r.json()
    assert doc["scheduler"]["memory_budget_mb"] == 180 and doc["scheduler"]["batch_size"] == 8
    assert doc["limits"]["max_size"] == 1024 and "size" in doc["params"] and doc["versions"]["torchserve"] == "0.12.0"
