"""The client's kept-job commands and batches: status and wait read the real nginx front's status files
(staleness judged from its Date and Last-Modified), cancel posts the token, and a batch of photos x styles
skips what exists, so an interrupted batch re-run makes only the missing outputs. A fake upstream stands in
for TorchServe (tests/fake_servers.py); the real end-to-end run is in tests/integration/test_kept_live.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_servers import SNAPSHOT, FakeUpstream, fake_upstream
from images_util import content_image, style_image
from serving.kept import KeptJobs, KeptSettings
from serving.store import FileStore, Stored
from stylize import Stage
from stylize_client.kept import output_name

from deploy import nginx_render
from deploy.nginx_render import Nginx

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def client(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylize_client", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def front(upstream: FakeUpstream, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    proxy = nginx_render.start(upstream.url.removeprefix("http://"), tmp_path_factory.mktemp("front"), results=store)
    try:
        yield proxy
    finally:
        nginx_render.stop(proxy.process)


def kept_job(store: Path, state: str = "running", **status: object) -> str:
    rid = FileStore(store).reserve().id
    jobs = KeptJobs(store, KeptSettings(heartbeat_s=2, stale_after_s=10))
    jobs.begin(rid, "tok", "client", [Stage((32, 24), 10)])
    jobs.write_status(rid, {"state": state, "iteration": 4, "iterations": 10, "stage": 1, "stages": 1, "percent": 40.0,
                            "eta_s": 6.0, **status})
    return rid


def test_status_reports_progress_and_a_dead_worker_as_failed(front: Nginx, store: Path) -> None:
    rid = kept_job(store)
    out = client("status", f"{front.url}/r/{rid}")
    assert out.returncode == 0 and out.stdout.startswith("running: 40 %, stage 1/1, iteration 4/10"), out
    doc = json.loads(client("status", f"{front.url}/r/{rid}", "--json").stdout)
    assert doc["state"] == "running" and doc["id"] == rid
    old = time.time() - 60  # its worker stopped a minute ago and nobody rewrote the file
    os.utime(store / ".jobs" / f"{rid}.json", (old, old))
    failed = client("status", f"{front.url}/r/{rid}")
    assert failed.returncode == 0 and failed.stdout.startswith("failed:") and "heartbeat" in failed.stdout
    missing = client("status", f"{front.url}/r/AAAAAAAAAAAAAAAAAAAAAA")
    assert missing.returncode == 2 and "no such job" in missing.stderr


def test_wait_follows_the_job_and_writes_its_picture(front: Nginx, store: Path, tmp_path: Path) -> None:
    rid = kept_job(store)
    proc = subprocess.Popen([sys.executable, "-m", "stylize_client", "wait", f"{front.url}/r/{rid}", "-o", str(tmp_path / "out.png"),
                             "--interval", "0.2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        png = b"\x89PNG\r\n\x1a\n-final"
        jobs = KeptJobs(store, KeptSettings(heartbeat_s=2, stale_after_s=10))
        FileStore(store).put({"final.png": png, "record.json": b"{}"}, reserved=Stored(rid, "d"))
        jobs.write_status(rid, {"state": "done", "percent": 100.0, "result": {"id": rid, "url": f"/r/{rid}"}})
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert (tmp_path / "out.png").read_bytes() == png


def test_wait_says_when_a_job_was_cancelled(front: Nginx, store: Path) -> None:
    rid = kept_job(store, state="cancelled")
    out = client("wait", f"{front.url}/r/{rid}", "--interval", "0.1")
    assert out.returncode == 1 and "cancelled" in out.stderr


def test_cancel_posts_the_token_to_the_front(front: Nginx, upstream: FakeUpstream, store: Path) -> None:
    rid = kept_job(store)
    upstream.script = [{"cancelling": rid}]
    before = len(upstream.requests)
    out = client("cancel", f"{front.url}/r/{rid}", "--token", "tok-1")
    # the fake upstream answers 200 (the handler's is 202): the client reports what it got
    assert upstream.bodies[before] == f"response=cancel&result={rid}".encode()
    assert upstream.headers_seen[before]["x-cancel-token"] == "tok-1"
    assert out.returncode == 2 and "HTTP 200" in out.stderr


@pytest.fixture
def photos(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    shots = []
    for n in range(3):
        path = tmp_path / f"photo{n}.jpg"
        content_image(48 + n, 32).save(path)
        shots.append(path)
    styles = []
    for name in ("ink", "oil"):
        path = tmp_path / f"{name}.png"
        style_image(24).save(path)
        styles.append(path)
    return shots, styles


def done_script() -> list[dict]:
    return [{"event": "plan", "stages": []}, {**SNAPSHOT, "event": "done", "timings": {"total_s": 0.1}, "stopped": "completed"}]


def test_a_batch_makes_every_pair_once_and_a_rerun_only_the_missing(upstream: FakeUpstream, photos: tuple[list[Path], list[Path]],
                                                                    tmp_path: Path) -> None:
    shots, styles = photos
    out = tmp_path / "out"
    upstream.script = done_script()
    before = len(upstream.requests)
    first = client(*map(str, shots[:2]), "--style", str(styles[0]), "-o", str(out), "--url", upstream.url, "--size", "32")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.iterdir()) == ["photo0__ink.png", "photo1__ink.png"]
    assert len(upstream.requests) - before == 2
    (out / ".photo2__oil.png.part").write_bytes(b"half")  # a write cut short last time does not count
    before = len(upstream.requests)
    second = client(*map(str, shots), "--style", str(styles[0]), "--style", str(styles[1]), "-o", str(out), "--url", upstream.url,
                    "--jobs", "3")
    assert second.returncode == 0, second.stderr
    assert len(upstream.requests) - before == 4  # 3 photos x 2 styles, two already there
    assert "4 made, 2 already there, 0 failed" in second.stdout
    assert {output_name(p, s) for p in shots for s in styles} <= {p.name for p in out.iterdir()}
    before = len(upstream.requests)
    third = client(*map(str, shots), "--style", str(styles[0]), "--style", str(styles[1]), "-o", str(out), "--url", upstream.url)
    assert third.returncode == 0 and "nothing to do" in third.stdout and len(upstream.requests) == before


def test_a_batch_exits_with_the_number_that_failed(upstream: FakeUpstream, photos: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    shots, styles = photos
    upstream.script = [{"event": "error", "message": "boom"}]
    out = client(*map(str, shots), "--style", str(styles[0]), "-o", str(tmp_path / "o"), "--url", upstream.url)
    assert out.returncode == 3 and out.stderr.count("failed: ") == 3 and "boom" in out.stderr
    assert not list((tmp_path / "o").iterdir())


def test_an_interrupted_batch_leaves_no_half_outputs(upstream: FakeUpstream, photos: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    shots, styles = photos
    upstream.script = None  # snapshots until the client leaves: no job ever ends
    upstream.stream_started.clear()
    proc = subprocess.Popen([sys.executable, "-m", "stylize_client", *map(str, shots), "--style", str(styles[0]), "-o",
                             str(tmp_path / "o"), "--url", upstream.url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert upstream.stream_started.wait(60)
        upstream.stream_closed.clear()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "run the same command again" in err
    assert upstream.stream_closed.wait(30)  # the connection closed, so a server drops the interactive job
    assert not [p for p in (tmp_path / "o").iterdir() if not p.name.startswith(".")]
