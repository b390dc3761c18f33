"""Kept jobs on real TorchServe: two instances sharing one result store (two replicas), the nginx front on
the first. A killed client's kept job completes and a second client fetches it; status through the front
while it runs; cancel through the front with its token (a wrong one is 403); either instance reports and
cancels the other's job; a worker killed mid-job reads failed within the stated bound. Jobs are tiny (64 px)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from images_util import content_image, style_image, to_bytes
from PIL import Image
from stylize_client.kept import fetch_status

from deploy import nginx_render
from tools.torchserve import ROOT, TorchServe

pytestmark = pytest.mark.integration

FILES = {"content": ("c.png", to_bytes(content_image(64, 48)), "image/png"), "style": ("s.png", to_bytes(style_image(48)), "image/png")}
LONG = {"size": "64", "iterations": "2000", "snapshot_every": "5", "multiscale": "false", "keep": "true", "response": "stream"}
STALE_AFTER_S, HEARTBEAT_S = 10.0, 2.0  # serving.kept.KeptSettings' defaults, which the archive's model-config keeps


@pytest.fixture(scope="module")
def pair(model_store: Path, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TorchServe, TorchServe]]:
    servers = [TorchServe(model_store, tmp_path_factory.mktemp(f"ts-kept-{n}"), environment={"STYLE_RESULTS_DIR": str(store)})
               for n in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def front(pair: tuple[TorchServe, TorchServe], store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proxy = nginx_render.start(pair[0].url.removeprefix("http://"), tmp_path_factory.mktemp("front"), results=store)
    try:
        yield proxy.url
    finally:
        nginx_render.stop(proxy.process)


def wait_for(what: Callable[[], Any], why: str, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.5)  # the front allows two status polls a second per client
    raise AssertionError(f"timed out waiting for {why}")


def submit_and_leave(url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    """A kept job: read its first line (the plan, with ``kept``), then close the connection."""
    with httpx.stream("POST", url, files=FILES, data=data or LONG, timeout=120) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            kept = json.loads(line)["kept"]
            assert kept["cancel_token"] == r.headers["x-style-cancel-token"]
            return kept
    raise AssertionError("no first line")


def ask(server: TorchServe, question: str, rid: str, token: str | None = None) -> httpx.Response:
    return httpx.post(server.model_url, data={"response": question, "result": rid},
                      headers={"X-Cancel-Token": token} if token else {}, timeout=60)


def state_via(server: TorchServe, rid: str) -> str:
    return ask(server, "status", rid).json()["state"]


def running(front: str, rid: str) -> dict[str, Any] | None:
    status = fetch_status(f"{front}/r/{rid}")[1]
    return status if status["state"] == "running" and status.get("iteration", 0) > 0 else None


def test_a_killed_client_s_job_completes_and_a_second_client_fetches_it(front: str, pair: tuple[TorchServe, TorchServe],
                                                                        tmp_path: Path) -> None:
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    content_image(64, 48).save(content)
    style_image(48).save(style)
    proc = subprocess.Popen([sys.executable, "-m", "stylize_client", str(content), str(style), "--keep", "--url", front, "-o",
                             str(tmp_path / "first.png"), "--size", "64", "--iterations", "150", "--snapshot-every", "5",
                             "--no-multiscale"], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        link = ""
        for line in proc.stderr:
            if line.startswith("kept: "):
                link = line.split()[1]
                break
        assert link.startswith(f"{front}/r/"), link
        rid = link.rsplit("/", 1)[1]
        during = wait_for(lambda: running(front, rid), "the job to run, seen through the front")
        proc.kill()  # the client dies mid-job (no goodbye)
        proc.wait(30)
    finally:
        proc.kill()
    assert 0 < during["percent"] < 100 and during["iterations"] == 150
    as_json = httpx.get(f"{front}/r/{rid}", headers={"Accept": "application/json"}, timeout=10).json()
    assert as_json["id"] == rid and as_json["state"] in ("running", "done")
    second = subprocess.run([sys.executable, "-m", "stylize_client", "wait", link, "-o", str(tmp_path / "second.png"),
                             "--interval", "0.5"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert Image.open(tmp_path / "second.png").size == (64, 48)
    assert state_via(pair[1], rid) == "done"  # the other replica says so too
    assert not (tmp_path / "first.png").exists()


def test_cancel_through_the_front_needs_the_token_and_stops_the_job(front: str, store: Path) -> None:
    kept = submit_and_leave(f"{front}/predictions/style_transfer")
    rid = kept["id"]
    wait_for(lambda: running(front, rid), "the job to run")
    wrong = httpx.post(f"{front}/results/{rid}/cancel", headers={"X-Cancel-Token": "not-the-token"}, timeout=30)
    assert wrong.status_code == 403 and wrong.json()["message"].startswith("token:")
    right = httpx.post(f"{front}/results/{rid}/cancel", headers={"X-Cancel-Token": kept["cancel_token"]}, timeout=30)
    assert right.status_code == 202
    # The marker is written before the 202; the holding worker reads it before every slice and rewrites the
    # status after every slice. So at most the slice in flight (and one that began as the marker landed)
    # may still report progress: count the running statuses seen after the 202, however long a slice takes.
    ran_on: set[int] = set()

    def cancelled() -> dict[str, Any] | None:
        status = fetch_status(f"{front}/r/{rid}")[1]
        if status["state"] == "running":
            ran_on.add(status.get("iteration", 0))
        return status if status["state"] == "cancelled" else None

    stopped = wait_for(cancelled, "the cancel")
    assert stopped["iteration"] < 2000
    assert len(ran_on) <= 2, f"the job kept running for {len(ran_on)} slices after its cancel: iterations {sorted(ran_on)}"
    assert not (store / rid).exists()


def test_either_instance_reports_and_cancels_the_other_s_job(pair: tuple[TorchServe, TorchServe]) -> None:
    a, b = pair
    kept = submit_and_leave(a.model_url)
    rid = kept["id"]
    seen = wait_for(lambda: (r := ask(b, "status", rid).json())["state"] == "running" and r.get("iteration", 0) > 0 and r,
                    "B to see A's job run")
    assert seen["id"] == rid and seen["iterations"] == 2000
    assert ask(b, "cancel", rid, "forged-token").status_code == 403
    assert ask(b, "cancel", rid, kept["cancel_token"]).status_code == 202
    wait_for(lambda: state_via(a, rid) == "cancelled", "A to stop its job on B's marker")


def test_a_worker_killed_mid_job_reads_failed_within_the_bound(front: str, pair: tuple[TorchServe, TorchServe], store: Path) -> None:
    a, b = pair
    kept = submit_and_leave(b.model_url)
    rid = kept["id"]
    wait_for(lambda: state_via(a, rid) == "running", "the job to run on B")
    pids = b.worker_pids()
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    killed = time.monotonic()
    failed = wait_for(lambda: (s := fetch_status(f"{front}/r/{rid}")[1])["state"] == "failed" and s, "the status to read failed",
                      timeout=60)
    seen_after = time.monotonic() - killed
    assert "heartbeat" in failed["message"]
    assert seen_after <= STALE_AFTER_S + HEARTBEAT_S + 3, seen_after  # the last beat may be up to one heartbeat old
    # a live worker (A's, or B's restarted one) rewrites the file itself, so every reader sees failed
    wait_for(lambda: json.loads((store / ".jobs" / f"{rid}.json").read_text())["state"] == "failed", "the sweep",
             timeout=STALE_AFTER_S + 4 * HEARTBEAT_S)
    assert state_via(a, rid) == "failed"
    b.wait_ready(180)


def test_a_batch_of_photos_by_styles_completes_and_a_second_run_does_nothing(pair: tuple[TorchServe, TorchServe], tmp_path: Path) -> None:
    photos = []
    for n in range(2):
        path = tmp_path / f"photo{n}.jpg"
        content_image(56 + 8 * n, 40).save(path)
        photos.append(str(path))
    styles = []
    for name in ("ink", "oil"):
        path = tmp_path / f"{name}.png"
        style_image(40).save(path)
        styles += ["--style", str(path)]
    out = tmp_path / "out"
    args = [sys.executable, "-m", "stylize_client", *photos, *styles, "-o", str(out), "--url", pair[0].url,
            "--size", "48", "--iterations", "6", "--no-multiscale"]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    made = sorted(p.name for p in out.iterdir())
    assert made == ["photo0__ink.png", "photo0__oil.png", "photo1__ink.png", "photo1__oil.png"]
    assert all(Image.open(out / name).size[0] == 48 for name in made)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
