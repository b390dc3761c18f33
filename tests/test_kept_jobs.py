"""Kept jobs (keep=true) through the handler in-process, driven the way TorchServe's continuous batching
calls it (tests/torchserve_sim.py): the first chunk of every form carries the id and cancel token, a client
that leaves does not stop the job (the worker's own thread advances it), progress and cancel through the
shared store from any worker, caps (429 + Retry-After), stale heartbeats read as failed, forged ids and tokens."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from images_util import content_image, style_image, to_bytes
from serving.kept import KeptJobs, KeptSettings, percent_done
from serving.store import FileStore, new_id
from style_handler import StyleTransferHandler
from stylize import Stage
from torchserve_sim import Frontend, Reply
from ts.context import Context

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))
JOB = {"content": CONTENT, "style": STYLE, "size": "32", "snapshot_every": "2"}
KEPT = {"heartbeat_s": 0.2, "stale_after_s": 1.0, "max_per_client": 2, "max_total": 3}
WAIT_S = 120.0  # generous: a deadline for events, never a pause


def make(weights_file: Path, model_dir: Path, store: Path, kept: dict[str, Any] | None = None) -> StyleTransferHandler:
    shutil.copy(weights_file, model_dir / "vgg_conv.safetensors")
    config = {"batchSize": 8, "handler": {"limits": {"max_size": 256, "max_time_s": 900},
                                          "scheduler": {"slice_s": 0.05, "watchdog_s": 0.3},
                                          "kept": {**KEPT, **(kept or {})}}}
    context = Context("style_transfer", str(model_dir), {}, 8, None, "0.12.0", model_yaml_config=config)
    handler = StyleTransferHandler()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLE_RESULTS_DIR", str(store))
        handler.initialize(context)
    return handler


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def handler(weights_file: Path, store: Path, tmp_path: Path) -> StyleTransferHandler:
    (tmp_path / "model").mkdir()
    return make(weights_file, tmp_path / "model", store)


def wait_for(what: Callable[[], Any], why: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {why}")


def status(store: Path, rid: str) -> dict[str, Any] | None:
    return KeptJobs(store, KeptSettings(**KEPT)).read(rid)


def ask(handler: StyleTransferHandler, fields: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    front = Frontend(handler)
    reply = front.submit(fields, headers)
    front.run()
    return reply


def start_kept(handler: StyleTransferHandler, calls: int = 2, headers: dict[str, str] | None = None,
               **fields: str) -> tuple[Frontend, Reply]:
    """A kept stream job, called ``calls`` times (its first chunk out); the caller decides whether to stay."""
    front = Frontend(handler)
    reply = front.submit({**JOB, "iterations": "400", "keep": "true", "response": "stream", **fields}, headers)
    for _ in range(calls):
        front.call()
    return front, reply


def first_line(reply: Reply) -> dict[str, Any]:
    return json.loads(reply.chunks[0].decode().splitlines()[0])


@pytest.fixture
def cleanup() -> Iterator[list[tuple[StyleTransferHandler, str, str]]]:
    """Kept jobs a test leaves running are cancelled at its end (so the next test's worker is idle)."""
    started: list[tuple[StyleTransferHandler, str, str]] = []
    yield started
    for handler, rid, token in started:
        ask(handler, {"response": "cancel", "result": rid}, {"X-Cancel-Token": token})


def test_every_form_carries_the_id_and_cancel_token_on_its_first_chunk(handler: StyleTransferHandler, store: Path) -> None:
    for form in ("png", "json", "stream"):
        reply = ask(handler, {**JOB, "iterations": "4", "keep": "true", "response": form})
        rid = reply.headers["X-Style-Result"].removeprefix("/r/")
        assert reply.status == 200 and reply.headers["X-Style-Cancel-Token"]
        assert reply.headers["X-Style-Status"] == f"/results/{rid}/status.json"
        done = status(store, rid)
        assert done is not None and done["state"] == "done" and done["result"]["id"] == rid
        assert FileStore(store).exists(rid)
        if form == "stream":
            plan = first_line(reply)
            assert plan["event"] == "plan" and plan["kept"]["id"] == rid
            assert plan["kept"]["cancel_token"] == reply.headers["X-Style-Cancel-Token"]
    interactive = ask(handler, {**JOB, "iterations": "4", "response": "png"})
    assert "X-Style-Cancel-Token" not in interactive.headers  # only kept jobs can be cancelled by token


def test_a_kept_job_completes_after_its_client_left_and_a_second_client_fetches_it(handler: StyleTransferHandler, store: Path) -> None:
    front, reply = start_kept(handler, iterations="60")
    rid = first_line(reply)["kept"]["id"]
    wait_for(lambda: (s := status(store, rid)) and s["state"] == "running" and s["iteration"] > 0, "the job to run")
    front.leave(reply)
    front.call()  # the last call that still holds it; TorchServe calls no more after this
    assert not front.held
    running = wait_for(lambda: (s := status(store, rid)) and s["state"] == "running" and not s["attached"] and s, "a detached slice")
    assert 0 < running["percent"] < 100 and 1 <= running["stage"] <= running["stages"]
    assert running["preview"] == f"/results/{rid}/preview.jpg"
    assert (store / ".jobs" / f"{rid}.jpg").read_bytes()[:2] == b"\xff\xd8"
    done = wait_for(lambda: (s := status(store, rid)) and s["state"] == "done" and s, "the job to finish without its client")
    assert done["percent"] == 100.0 and done["iteration"] == 60 and done["result"]["image"] == f"/results/{rid}/final.png"
    # a second client, knowing only the link, fetches the picture
    assert FileStore(store).get(rid, "final.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert FileStore(store).record(rid)["iteration"] == 60
    wait_for(lambda: handler.board.counts()["kept"] == 0, "the ended job to be let go")  # nothing held for nobody


def test_an_interactive_job_still_stops_when_its_client_leaves(handler: StyleTransferHandler, store: Path) -> None:
    front = Frontend(handler)
    reply = front.submit({**JOB, "iterations": "400", "response": "stream"})
    front.call()
    front.call()
    front.leave(reply)
    front.call()
    wait_for(lambda: not handler.board.held, "the interactive job to be dropped")
    rid = reply.headers["X-Style-Result"].removeprefix("/r/")
    assert status(store, rid) is None and not FileStore(store).exists(rid)


def test_cancel_needs_its_token_and_stops_the_job_within_a_slice(handler: StyleTransferHandler, store: Path) -> None:
    front, reply = start_kept(handler)
    kept = first_line(reply)["kept"]
    rid, token = kept["id"], kept["cancel_token"]
    front.leave(reply)
    front.call()
    wait_for(lambda: (s := status(store, rid)) and s["state"] == "running" and not s["attached"], "a detached slice")
    wrong = ask(handler, {"response": "cancel", "result": rid}, {"X-Cancel-Token": "x" * 43})
    assert wrong.status == 403 and json.loads(wrong.body)["message"].startswith("token:")
    assert status(store, rid)["state"] == "running"
    right = ask(handler, {"response": "cancel", "result": rid}, {"X-Cancel-Token": token})
    assert right.status == 202
    stopped = wait_for(lambda: (s := status(store, rid)) and s["state"] == "cancelled" and s, "the cancel to take effect")
    assert stopped["iteration"] < 400
    wait_for(lambda: not handler.board.held, "the cancelled job to be let go")
    assert not FileStore(store).exists(rid)
    again = ask(handler, {"response": "cancel", "result": rid}, {"X-Cancel-Token": token})
    assert again.status == 409


def test_cancelling_an_attached_kept_job_ends_its_stream_with_an_error(handler: StyleTransferHandler, store: Path) -> None:
    front, reply = start_kept(handler)
    kept = first_line(reply)["kept"]
    # one worker's calls hold every request it has: the cancel arrives beside the job it cancels
    cancel = front.submit({"response": "cancel", "result": kept["id"]}, {"X-Cancel-Token": kept["cancel_token"]})
    front.run()
    assert cancel.status == 202
    last = json.loads(reply.body.decode().splitlines()[-1])
    assert last == {"event": "error", "message": "cancelled with its cancel token"}
    assert status(store, kept["id"])["state"] == "cancelled"


def test_another_worker_sharing_the_store_reports_and_cancels_the_job(handler: StyleTransferHandler, weights_file: Path, store: Path,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = make(weights_file, tmp_path / "other", store)
    front, reply = start_kept(handler)
    kept = first_line(reply)["kept"]
    front.leave(reply)
    front.call()
    seen = wait_for(lambda: (r := ask(other, {"response": "status", "result": kept["id"]})).status == 200
                    and json.loads(r.body)["state"] == "running" and json.loads(r.body), "the other worker to see it run")
    assert seen["id"] == kept["id"] and seen["iterations"] == 400
    assert ask(other, {"response": "cancel", "result": kept["id"]}, {"X-Cancel-Token": kept["cancel_token"]}).status == 202
    wait_for(lambda: json.loads(ask(other, {"response": "status", "result": kept["id"]}).body)["state"] == "cancelled",
             "the holding worker to read the other's cancel marker")


def test_caps_per_client_and_per_server_answer_429_with_retry_after(handler: StyleTransferHandler, store: Path,
                                                                    cleanup: list[tuple[StyleTransferHandler, str, str]]) -> None:
    fronts = []
    for n in range(2):
        front, reply = start_kept(handler, calls=1, headers={"X-Real-IP": "10.0.0.1"})
        kept = first_line(reply)["kept"]
        cleanup.append((handler, kept["id"], kept["cancel_token"]))
        fronts.append((front, reply))
        assert reply.status == 200, n
    over = ask(handler, {**JOB, "iterations": "400", "keep": "true"}, {"X-Real-IP": "10.0.0.1"})
    assert over.status == 429 and int(over.headers["Retry-After"]) >= 5
    assert json.loads(over.body)["message"].startswith("keep:")
    front, reply = start_kept(handler, calls=1, headers={"X-Real-IP": "10.0.0.2"})  # another client still may
    kept = first_line(reply)["kept"]
    cleanup.append((handler, kept["id"], kept["cancel_token"]))
    full = ask(handler, {**JOB, "iterations": "400", "keep": "true"}, {"X-Real-IP": "10.0.0.3"})
    assert full.status == 429 and "server" in json.loads(full.body)["message"]  # max_total 3
    interactive = ask(handler, {**JOB, "iterations": "2"}, {"X-Real-IP": "10.0.0.1"})
    assert interactive.status == 200  # the caps are on kept jobs only
    for f, r in [*fronts, (front, reply)]:
        f.leave(r)
        f.call()


def test_a_status_whose_heartbeat_stopped_reads_failed_within_the_bound(tmp_path: Path) -> None:
    now = [1000.0]
    settings = KeptSettings(heartbeat_s=2.0, stale_after_s=10.0)
    jobs = KeptJobs(tmp_path, settings, clock=lambda: now[0])
    rid = new_id()
    jobs.begin(rid, "tok", "client", [Stage((32, 24), 10)])
    jobs.write_status(rid, {"state": "running", "iteration": 3})
    os.utime(tmp_path / ".jobs" / f"{rid}.json", (now[0], now[0]))
    now[0] += 9.0
    assert jobs.read(rid)["state"] == "running"
    assert jobs.sweep() == 0
    now[0] += 2.0  # 11 s without a heartbeat: the worker is gone
    assert jobs.read(rid)["state"] == "failed" and "heartbeat" in jobs.read(rid)["message"]
    assert jobs.sweep() == 1  # any live worker rewrites it, so the file the front serves says failed too
    assert json.loads((tmp_path / ".jobs" / f"{rid}.json").read_text())["state"] == "failed"
    assert jobs.cancel(rid, "tok")[0] == 409


def test_a_held_kept_job_keeps_its_heartbeat_while_it_runs(handler: StyleTransferHandler, store: Path,
                                                           cleanup: list[tuple[StyleTransferHandler, str, str]]) -> None:
    front, reply = start_kept(handler)
    kept = first_line(reply)["kept"]
    cleanup.append((handler, kept["id"], kept["cancel_token"]))
    front.leave(reply)
    front.call()
    path = store / ".jobs" / f"{kept['id']}.json"
    first = wait_for(lambda: path.exists() and path.stat().st_mtime, "a status")
    wait_for(lambda: path.stat().st_mtime > first + 0.3, "the heartbeat to touch it again")  # stale_after_s is 1 s
    assert status(store, kept["id"])["state"] == "running"


@pytest.mark.parametrize("rid", ["../../etc/passwd", "A" * 21, "A" * 23, "%2e%2e" * 4, new_id(), ".jobs", "A" * 21 + "/"])
def test_forged_ids_are_404_and_never_touch_files(handler: StyleTransferHandler, rid: str) -> None:
    for question, headers in (("status", None), ("cancel", {"X-Cancel-Token": "t"})):
        reply = ask(handler, {"response": question, "result": rid}, headers)
        assert reply.status == 404, (question, rid)


def test_bad_kept_requests_are_400_naming_the_field(handler: StyleTransferHandler, weights_file: Path, tmp_path: Path) -> None:
    assert json.loads(ask(handler, {**JOB, "keep": "maybe"}).body)["message"].startswith("keep:")
    assert json.loads(ask(handler, {**JOB, "keep": "true", "store": "false"}).body)["message"].startswith("keep:")
    assert json.loads(ask(handler, {"response": "cancel", "result": new_id()}).body)["message"].startswith("token:")
    assert json.loads(ask(handler, {"response": "status"}).body)["message"].startswith("result:")
    assert json.loads(ask(handler, {"response": "status", "result": new_id(), "x": "1"}).body)["message"].startswith("x:")
    (tmp_path / "m").mkdir()
    shutil.copy(weights_file, tmp_path / "m" / "vgg_conv.safetensors")
    context = Context("style_transfer", str(tmp_path / "m"), {}, 8, None, "0.12.0",
                      model_yaml_config={"handler": {"scheduler": {"slice_s": 0.05}}})
    no_store = StyleTransferHandler()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STYLE_RESULTS_DIR", raising=False)
        no_store.initialize(context)
    refused = ask(no_store, {**JOB, "keep": "true"})
    assert refused.status == 400 and json.loads(refused.body)["message"].startswith("keep:")


def test_refused_requests_never_count_toward_a_clients_kept_jobs(handler: StyleTransferHandler, store: Path,
                                                                   cleanup: list[tuple[StyleTransferHandler, str, str]]) -> None:
    """The per-client cap (2 here) counts jobs the server took on: five 400s from one address leave it whole."""
    for bad in ({"size": "huge"}, {"iterations": "0"}, {"style_name": "no-such-style"}, {"keep": "true", "store": "false"},
                {"content": b"not an image"}):
        refused = ask(handler, {**JOB, "keep": "true", **bad}, {"X-Real-IP": "10.0.0.7"})
        assert refused.status == 400, (bad, refused.status)
    assert not any(store.glob(".jobs/*.client"))  # nothing of them in the shared store the caps count from
    for _ in range(2):  # both of the cap's places are still there
        front, reply = start_kept(handler, calls=1, headers={"X-Real-IP": "10.0.0.7"})
        assert reply.status == 200, reply.body[:200]
        kept = first_line(reply)["kept"]
        cleanup.append((handler, kept["id"], kept["cancel_token"]))
        front.leave(reply)


def test_progress_is_weighted_by_each_stage_s_pixels() -> None:
    stages = [Stage((10, 10), 10), Stage((20, 20), 10)]
    assert percent_done(stages, 0) == 0.0
    assert percent_done(stages, 10) == pytest.approx(20.0)  # the small stage is a fifth of the work
    assert percent_done(stages, 15) == pytest.approx(60.0)
    assert percent_done(stages, 20) == pytest.approx(100.0)


def test_a_small_interactive_job_beside_a_kept_big_one_takes_at_most_twice_its_solo_time(handler: StyleTransferHandler, store: Path,
                                                                                          cleanup: list[tuple[StyleTransferHandler, str, str]]) -> None:
    small = {**JOB, "size": "32", "iterations": "30", "response": "png"}
    began = time.monotonic()
    assert ask(handler, small).status == 200
    solo = time.monotonic() - began
    front, reply = start_kept(handler, size="128", iterations="2000")
    kept = first_line(reply)["kept"]
    cleanup.append((handler, kept["id"], kept["cancel_token"]))
    front.leave(reply)
    front.call()
    wait_for(lambda: (s := status(store, kept["id"])) and s["state"] == "running" and not s["attached"], "the big job to run alone")
    began = time.monotonic()
    assert ask(handler, small).status == 200
    beside = time.monotonic() - began
    assert beside <= 2 * solo + 2, (solo, beside)
    assert status(store, kept["id"])["state"] == "running"  # and the big one ran on


def test_scans_skip_the_statuses_that_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = KeptJobs(tmp_path, KeptSettings(max_total=50))
    for n in range(20):
        rid = new_id()
        jobs.begin(rid, "t", f"c{n}", [Stage((8, 8), 1)])
        jobs.write_status(rid, {"state": "done"})
    live = new_id()
    jobs.begin(live, "t", "c", [Stage((8, 8), 1)])
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    jobs.check_caps("someone")
    jobs.sweep()
    assert {name for name in reads if name.endswith(".json")} == {f"{live}.json"}  # only the live one is read again
