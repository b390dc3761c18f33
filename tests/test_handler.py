"""The TorchServe handler in-process, driven the way TorchServe's continuous batching drives it
(tests/torchserve_sim.py): first call with the fields, one chunk per request per call."""

from __future__ import annotations

import gc
import io
import json
import shutil
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from images_util import content_image, style_image, to_bytes
from PIL import Image
from serving import speed
from style_handler import FAULT_HEADER, REPEATED_HEADER, StyleTransferHandler
from stylize import fields, methods, precision
from torchserve_sim import Frontend, Reply
from ts.context import Context

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))
SMALL = {"size": "32", "iterations": "6", "snapshot_every": "2"}


def make_handler(weights_file: Path, model_dir: Path, scheduler: dict[str, Any] | None = None,
                 monkeypatch: pytest.MonkeyPatch | None = None) -> StyleTransferHandler:
    shutil.copy(weights_file, model_dir / "vgg_conv.safetensors")
    config = {"batchSize": 8, "handler": {"limits": {"max_size": 256, "max_time_s": 900},
                                          "scheduler": {"slice_s": 0.05, "watchdog_s": 0.5, **(scheduler or {})}}}
    context = Context("style_transfer", str(model_dir), {}, 8, None, "0.12.0", model_yaml_config=config)
    h = StyleTransferHandler()
    h.initialize(context)
    return h


@pytest.fixture(scope="module")
def handler(weights_file: Path, tmp_path_factory: pytest.TempPathFactory) -> StyleTransferHandler:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLE_TEST_HOOKS", "1")
        return make_handler(weights_file, tmp_path_factory.mktemp("model_dir"))


def one(handler: StyleTransferHandler, fields: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    front = Frontend(handler)
    reply = front.submit(fields, headers)
    front.run()
    return reply


def lines(reply: Reply) -> list[dict[str, Any]]:
    return [json.loads(line) for line in reply.body.decode().splitlines() if line.strip()]


def test_initialize_loads_random_weights_on_cpu(handler: StyleTransferHandler) -> None:
    assert handler.weights_info.provenance == "random-init"
    assert handler.device.type == "cpu"
    assert handler.limits.max_size == 256 and handler.limits.max_time_s == 900
    assert handler.speed.pixel_iterations_per_s > 0 and handler.budget > 0


def test_png_response_arrives_whole_in_its_last_chunk(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, **SMALL, "iterations": "40"})
    assert reply.status == 200 and reply.content_type == "image/png"
    assert reply.headers["X-Style-Weights"] == "vgg19/random-init"
    assert reply.calls > 1 and reply.streamed  # 40 iterations in 0.05 s slices
    assert all(chunk == b"" for chunk in reply.chunks[:-1])
    assert Image.open(io.BytesIO(reply.body)).size == (32, 24)  # content's 4:3 kept


@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_json_response_holds_snapshots_and_result(handler: StyleTransferHandler, precision: str) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json", "precision": precision})
    doc = json.loads(reply.body)
    # the effective precision: auto resolved to this worker's mode
    assert doc["params"]["precision"] == (handler.engine.auto.mode if precision == "auto" else precision)
    assert reply.content_type == "application/json"
    assert [s["iteration"] for s in doc["snapshots"]] == [2, 4]
    assert doc["event"] == "done" and doc["iteration"] == 6 and doc["weights"] == "vgg19/random-init"
    assert doc["params"]["size"] == 32 and doc["params"]["time_budget_s"] == 900
    assert set(doc["timings"]) >= {"decode_s", "queued_s", "optimise_s", "total_s", "iterations_per_s"}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_stream_sends_snapshots_in_earlier_chunks_than_done(handler: StyleTransferHandler, precision: str) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, **SMALL, "precision": precision}, {"Accept": "application/x-ndjson"})
    assert reply.content_type == "application/x-ndjson" and reply.streamed
    plan, *events = lines(reply)
    assert plan == {"event": "plan", "stages": [{"size": [32, 24], "iterations": 6}]}  # the first line: before any run
    assert [e["event"] for e in events] == ["snapshot", "snapshot", "done"]
    first_snapshot = next(i for i, c in enumerate(reply.chunks) if b'"snapshot"' in c)
    assert b'"done"' not in reply.chunks[first_snapshot] or first_snapshot == len(reply.chunks) - 1
    assert b'"done"' in reply.chunks[-1] and events[-1]["stopped"] == "completed"


def test_a_served_auto_job_falls_back_to_fp32_when_bf16_goes_non_finite(weights_file: Path, tmp_path: Path) -> None:
    """A worker whose auto is bf16: a served auto job whose first bf16 step overflows is redone in fp32 and says so,
    the worker's auto stays bf16, and a job that asked for bf16 keeps it."""
    h = make_handler(weights_file, tmp_path)
    h.engine.auto = precision.Resolution("bf16", "test: a CPU with native bf16")

    def overflow(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        return output * float("inf") if output.dtype == torch.bfloat16 else output

    hook = h.engine.convs_for("bf16")[0].register_forward_hook(overflow)
    try:
        auto = json.loads(one(h, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json"}).body)
        asked = json.loads(one(h, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json", "precision": "bf16"}).body)
    finally:
        hook.remove()
    assert auto["params"]["precision"] == "fp32" and auto["iteration"] == 6
    assert all(v == v and abs(v) != float("inf") for v in auto["losses"].values())  # finite
    assert asked["params"]["precision"] == "bf16"
    assert h.engine.auto.mode == "bf16"
    again = json.loads(one(h, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json"}).body)
    assert again["params"]["precision"] == "bf16"


def test_plan_is_answered_without_a_run(handler: StyleTransferHandler) -> None:
    """response=plan: the stages of a job from its params and the content's size (no images), as the
    stream's first line would send them; the server's limits apply as for a job."""
    reply = one(handler, {"response": b"plan", "size": b"300", "iterations": b"10", "width": b"400", "height": b"200"})
    assert reply.status == 400 and json.loads(reply.body)["message"] == "size: must be between 16 and 256, got 300"
    reply = one(handler, {"response": b"plan", "size": b"256", "iterations": b"10", "width": b"400", "height": b"200"})
    assert reply.status == 200 and reply.streamed is False and reply.calls == 1
    answer = json.loads(reply.body)
    assert {k: answer[k] for k in ("event", "stages")} == {
        "event": "plan", "stages": [{"size": [128, 64], "iterations": 4}, {"size": [181, 90], "iterations": 3},
                                    {"size": [256, 128], "iterations": 3}]}
    # The parameters as the server runs them, the most iterations at this size, and its estimate from its speed.
    assert answer["params"]["size"] == 256 and answer["params"]["iterations"] == 10
    assert answer["max_iterations"] == min(handler.limits.max_iterations, handler.limits.max_work // (256 * 128))
    assert answer["estimate_s"] > 0
    reply = one(handler, {"response": b"plan", "size": b"64", "width": b"40"})
    assert reply.status == 400 and json.loads(reply.body)["message"].startswith("height: is missing")


def test_bad_input_is_a_plain_400_naming_the_field(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": b"not an image", "style": STYLE})
    assert reply.status == 400 and reply.streamed is False and reply.calls == 1
    assert reply.headers["X-Style-Weights"] == "vgg19/random-init"
    assert json.loads(reply.body) == {"code": 400, "type": "InvalidInput",
                                      "message": "content: is not a supported image (PNG, JPEG, WebP, GIF, BMP or TIFF)"}


def test_capabilities_describe_this_server(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"response": b"capabilities", "body": b""})
    assert reply.status == 200 and reply.streamed is False and reply.headers["X-Style-Weights"] == "vgg19/random-init"
    doc = json.loads(reply.body)
    assert doc["weights"]["random_init"] is True and doc["device"]["type"] == "cpu"
    assert doc["limits"]["max_size"] == 256 and doc["params"]["size"]["default"] == 512
    assert doc["scheduler"]["batch_size"] == 8 and doc["speed"]["pixel_iterations_per_s"] > 0
    assert doc["networks"] == ["vgg19"] and doc["weights"]["network"] == "vgg19"
    assert doc["weights"]["label"].startswith("RANDOM-INIT VGG19") and doc["weights"]["licence"] is None
    expected = precision.resolve_auto(torch.device("cpu"))  # this machine's real CPU flags
    assert doc["precision"] == {"auto": expected.mode, "reason": expected.reason}
    assert doc["params"]["precision"]["choices"] == ["auto", "fp32", "bf16"]
    # each method's own cost per iteration beyond the default's (W2's matrix roots), measured at startup for the
    # estimates; a timing, so only its shape is checked here (a loaded machine makes it noisy)
    per_iteration = doc["speed"]["style_loss_s_per_iteration"]
    assert set(per_iteration) == set(methods.NAMES) and per_iteration[methods.DEFAULT] == 0
    assert all(seconds >= 0 for seconds in per_iteration.values()), per_iteration
    # Upload field names for this server's max_styles: the web app and the client spell none themselves.
    assert doc["fields"] == fields.as_dict(doc["limits"]["max_styles"]) and doc["fields"]["style"][1] == "style_2"
    # The first-run job, sized by the engine's planner for this device, within its limits.
    assert 16 <= doc["preview"]["size"] <= doc["limits"]["max_size"] and doc["preview"]["iterations"] >= 20
    assert doc["preview"]["seconds"] > 0


def test_a_network_the_server_lacks_is_a_400_naming_network(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": to_bytes(content_image(32, 24)), "style": to_bytes(style_image(16)),
                          "size": b"24", "iterations": b"1", "network": b"vgg16"})
    assert reply.status == 400 and json.loads(reply.body)["message"].startswith("network: this server holds vgg19")


def test_server_limit_from_model_config(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, "iterations": "1", "response": "json"})
    assert reply.status == 200 and json.loads(reply.body)["params"]["size"] == 256
    reply = one(handler, {"content": CONTENT, "style": STYLE, "size": "300"})
    assert reply.status == 400 and json.loads(reply.body)["message"] == "size: must be between 16 and 256, got 300"


def test_repeated_field_marker_is_refused(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE}, {REPEATED_HEADER: "style"})
    assert reply.status == 400 and json.loads(reply.body)["message"].startswith("style: was sent more than once")


def test_small_job_overtakes_a_big_one(handler: StyleTransferHandler) -> None:
    front = Frontend(handler)
    big = front.submit({"content": CONTENT, "style": STYLE, "size": "64", "iterations": "200", "snapshot_every": "0"})
    front.call()
    small = front.submit({"content": CONTENT, "style": STYLE, "size": "32", "iterations": "3", "snapshot_every": "0"})
    while not small.finished:
        front.call()
    assert not big.finished, "the small job waited for the big one"
    front.run()
    assert big.status == small.status == 200


def test_a_client_that_leaves_frees_its_job(handler: StyleTransferHandler) -> None:
    front = Frontend(handler)
    leaving = front.submit({"content": CONTENT, "style": STYLE, "size": "64", "iterations": "500", "response": "stream"})
    # long enough not to end within the first call's two or so 0.05 s slices on any machine
    staying = front.submit({"content": CONTENT, "style": STYLE, **SMALL, "iterations": "200", "snapshot_every": "50", "response": "stream"})
    front.call()
    assert handler.board.counts()["running"] == 2
    front.leave(leaving)
    front.call()  # its last chunk goes out; the next call lacks it
    front.call()
    assert leaving.request_id not in handler.board.held
    front.run()
    assert lines(staying)[-1]["event"] == "done"


def test_fault_in_one_job_leaves_the_others_running(handler: StyleTransferHandler) -> None:
    front = Frontend(handler)
    faulty = front.submit({"content": CONTENT, "style": STYLE, **SMALL, "response": "stream"}, {FAULT_HEADER: "3"})
    healthy = front.submit({"content": CONTENT, "style": STYLE, **SMALL, "response": "stream"})
    front.run()
    assert lines(faulty)[-1]["event"] == "error" and "injected" not in lines(faulty)[-1]["message"]
    assert lines(healthy)[-1]["event"] == "done"


def test_fault_before_the_first_chunk_is_a_500_without_details(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json"}, {FAULT_HEADER: "1"})
    assert reply.status == 500 and reply.streamed is False
    assert json.loads(reply.body) == {"code": 500, "type": "InternalServerError", "message": "style transfer failed; see the server log"}


def test_fault_after_the_first_chunk_ends_png_empty(handler: StyleTransferHandler) -> None:
    reply = one(handler, {"content": CONTENT, "style": STYLE, "size": "32", "iterations": "30", "snapshot_every": "0"}, {FAULT_HEADER: "20"})
    assert reply.status == 200 and reply.streamed and reply.body == b""


def test_jobs_wait_for_memory_with_queued_events(weights_file: Path, tmp_path: Path) -> None:
    h = make_handler(weights_file, tmp_path, {"memory_budget_mb": {"cpu": 100}})
    front = Frontend(h)
    # Gram: its 64 px estimate fits the 100 MB budget once, not twice (neighbour's keys and search block do not fit)
    gram = {"style_loss": "gram"}
    first = front.submit({"content": CONTENT, "style": STYLE, "size": "64", "iterations": "30", "snapshot_every": "10", "response": "stream", **gram})
    second = front.submit({"content": CONTENT, "style": STYLE, "size": "64", "iterations": "4", "snapshot_every": "2", "response": "stream", **gram})
    front.call()
    assert h.board.counts() == {"running": 1, "waiting": 1, "reserved_bytes": h.board.held[first.request_id].need_bytes,
                                 "kept": 0, "detached": 0}
    front.run()
    events = lines(second)[1:]  # after the plan line
    assert events[0] == {"event": "queued", "position": 1}
    assert [e["event"] for e in events[1:]] == ["snapshot", "done"]
    assert lines(first)[-1]["event"] == "done"


def test_a_job_that_can_never_fit_is_refused_naming_size(weights_file: Path, tmp_path: Path) -> None:
    h = make_handler(weights_file, tmp_path, {"memory_budget_mb": {"cpu": 100}})
    reply = one(h, {"content": CONTENT, "style": STYLE, "size": "256", "iterations": "2"})
    message = json.loads(reply.body)["message"]
    assert reply.status == 400 and message.startswith("size: a 256 px job needs about") and "at most" in message


def test_watchdog_frees_a_lone_abandoned_job(handler: StyleTransferHandler) -> None:
    front = Frontend(handler)
    reply = front.submit({"content": CONTENT, "style": STYLE, "size": "64", "iterations": "500", "response": "stream"})
    front.call()
    held = weakref.ref(handler.board.held[reply.request_id])
    run = weakref.ref(handler.board.held[reply.request_id].run)  # the engine's run, holding its tensors
    # TorchServe removed the job and stopped calling: the watchdog drops it (an event, polled; no fixed sleep)
    deadline = time.monotonic() + 60
    while reply.request_id in handler.board.held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reply.request_id not in handler.board.held
    gc.collect()
    assert held() is None and run() is None, "the dropped job's image and optimiser state are still referenced"
    # Were TorchServe to call again after all, the job ends with an error line, not a hang.
    front.call()
    assert reply.finished and lines(reply)[-1]["event"] == "error"


def test_a_finished_job_moves_the_speed_the_server_reports(weights_file: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up figure is one measurement; a finished job's own compute time corrects it (capabilities and
    plan estimates follow). Any job teaches here: the short-job floor is lifted for this tiny one."""
    monkeypatch.setattr("serving.speed.MIN_LEARNING_S", 0.0)
    h = make_handler(weights_file, tmp_path)
    h.speed = replace(h.speed, pixel_iterations_per_s=1e12)  # far from anything this CPU does
    reply = one(h, {"content": CONTENT, "style": STYLE, **SMALL})
    assert reply.status == 200
    reported = json.loads(one(h, {"response": b"capabilities", "body": b""}).body)["speed"]["pixel_iterations_per_s"]
    assert 0 < reported < 1e12 * (1 - 0.9 * speed.LEARNING_SHARE)
