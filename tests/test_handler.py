"""The TorchServe handler in-process: requests crafted the way TorchServe delivers them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from images_util import content_image, style_image, to_bytes
from PIL import Image
from style_handler import REPEATED_HEADER, StyleTransferHandler
from ts.context import Context, RequestProcessor

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))
SMALL = {"size": "32", "iterations": "6", "snapshot_every": "2"}


class RecordingSocket:
    """Stands in for the worker's socket: intermediate (streamed) responses land here."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.messages.append(bytes(data))


@pytest.fixture(scope="module")
def handler(weights_file: Path, tmp_path_factory: pytest.TempPathFactory) -> StyleTransferHandler:
    model_dir = tmp_path_factory.mktemp("model_dir")
    shutil.copy(weights_file, model_dir / "vgg19_conv.safetensors")
    config = {"handler": {"limits": {"max_size": 256, "max_time_s": 120}}}
    context = Context("style_transfer", str(model_dir), {}, 1, None, "0.12.0", model_yaml_config=config)
    h = StyleTransferHandler()
    h.initialize(context)
    return h


def call(handler: StyleTransferHandler, fields: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[Any, Context, RecordingSocket]:
    context = handler.context
    context.request_ids = {0: "req-1"}
    context.request_processor = [RequestProcessor({**(headers or {})})]
    context.metrics = None
    sock = RecordingSocket()
    context.cl_socket = sock
    out = handler.handle([fields], context)
    assert len(out) == 1
    return out[0], context, sock


def test_initialize_loads_random_weights_on_cpu(handler: StyleTransferHandler) -> None:
    assert handler.weights_info.provenance == "random-init"
    assert handler.device.type == "cpu"
    assert handler.limits.max_size == 256 and handler.limits.max_time_s == 120


def test_png_response(handler: StyleTransferHandler) -> None:
    body, context, sock = call(handler, {"content": CONTENT, "style": STYLE, **SMALL})
    assert context.get_response_status(0)[0] == 200
    assert context.get_response_content_type(0) == "image/png"
    assert context.get_response_headers(0)["X-Style-Weights"] == "random-init"
    img = Image.open(__import__("io").BytesIO(body))
    assert img.size == (32, 24)  # content's 4:3 kept
    assert sock.messages == []


def test_json_response_holds_snapshots_and_result(handler: StyleTransferHandler) -> None:
    body, context, _ = call(handler, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json"})
    doc = json.loads(body)
    assert context.get_response_content_type(0) == "application/json"
    assert [s["iteration"] for s in doc["snapshots"]] == [2, 4]
    assert doc["event"] == "done" and doc["iteration"] == 6 and doc["weights"] == "random-init"
    assert doc["params"]["size"] == 32 and doc["params"]["time_budget_s"] == 120
    assert set(doc["timings"]) >= {"decode_s", "optimise_s", "total_s", "iterations_per_s"}


def test_stream_sends_each_snapshot_before_returning_done(handler: StyleTransferHandler) -> None:
    body, context, sock = call(handler, {"content": CONTENT, "style": STYLE, **SMALL}, {"Accept": "application/x-ndjson"})
    assert context.get_response_content_type(0) == "application/x-ndjson"
    assert len(sock.messages) == 2 and all(b'"event": "snapshot"' in m for m in sock.messages)
    done = json.loads(body)
    assert body.endswith("\n") and done["event"] == "done" and done["stopped"] == "completed"


def test_bad_input_is_400_json_naming_the_field(handler: StyleTransferHandler) -> None:
    body, context, _ = call(handler, {"content": b"not an image", "style": STYLE})
    assert context.get_response_status(0)[0] == 400
    doc = json.loads(body)
    assert doc == {"code": 400, "type": "InvalidInput", "message": "content: is not a supported image (PNG, JPEG, WebP, GIF, BMP or TIFF)"}


def test_server_limit_from_model_config(handler: StyleTransferHandler) -> None:
    assert handler.limits.max_size < 512  # so the default size must adapt
    body, context, _ = call(handler, {"content": CONTENT, "style": STYLE, "iterations": "1", "response": "json"})
    assert context.get_response_status(0)[0] == 200 and json.loads(body)["params"]["size"] == 256
    body, context, _ = call(handler, {"content": CONTENT, "style": STYLE, "size": "300"})
    assert context.get_response_status(0)[0] == 400
    assert json.loads(body)["message"] == "size: must be at most 256 on this server, got 300"


def test_repeated_field_marker_is_refused(handler: StyleTransferHandler) -> None:
    body, context, _ = call(handler, {"content": CONTENT, "style": STYLE}, {REPEATED_HEADER: "style"})
    assert context.get_response_status(0)[0] == 400
    assert json.loads(body)["message"].startswith("style: was sent more than once")


def test_engine_failure_mid_stream_ends_with_an_error_line(handler: StyleTransferHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = handler.engine.run

    def failing(*args: Any, **kwargs: Any) -> Any:
        for i, snap in enumerate(real_run(*args, **kwargs)):
            if i == 1:
                raise RuntimeError("simulated device failure with secret /path")
            yield snap

    monkeypatch.setattr(handler.engine, "run", failing)
    body, _, sock = call(handler, {"content": CONTENT, "style": STYLE, **SMALL, "response": "stream"})
    assert len(sock.messages) == 1
    line = json.loads(body)
    assert line["event"] == "error" and "secret" not in line["message"]


def test_engine_failure_without_stream_is_500_without_details(handler: StyleTransferHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom at /secret/path")
        yield  # pragma: no cover

    monkeypatch.setattr(handler.engine, "run", broken)
    body, context, _ = call(handler, {"content": CONTENT, "style": STYLE, **SMALL, "response": "json"})
    assert context.get_response_status(0)[0] == 500
    assert "secret" not in body and json.loads(body)["type"] == "InternalServerError"
