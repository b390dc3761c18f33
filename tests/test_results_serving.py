"""Results kept and shared, through the handler in-process (tests/torchserve_sim.py drives it the way
TorchServe's continuous batching does): link on the first chunk of every form, files and record in
the store, store=false, store_inputs, delete with the token, a failing store answered with a warning."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from images_util import content_image, style_image, to_bytes
from PIL import Image
from serving.store import FileStore
from style_handler import StyleTransferHandler
from test_handler import make_handler, one

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))
JOB = {"content": CONTENT, "style": STYLE, "size": "32", "iterations": "6", "snapshot_every": "2"}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def handler(weights_file: Path, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> StyleTransferHandler:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLE_RESULTS_DIR", str(store_dir))
        return make_handler(weights_file, tmp_path_factory.mktemp("model_dir"))


def result_id(headers: dict[str, str]) -> str:
    return headers["X-Style-Result"].removeprefix("/r/")


def test_a_png_answer_carries_its_link_and_the_store_holds_the_same_bytes(handler: StyleTransferHandler, store_dir: Path) -> None:
    reply = one(handler, {**JOB, "iterations": "30"})
    assert reply.status == 200 and reply.calls > 1  # the headers left with an empty first chunk
    rid = result_id(reply.headers)
    store = FileStore(store_dir)
    assert store.get(rid, "final.png") == reply.body
    record = store.record(rid)
    assert record["params"]["iterations"] == 30 and record["stopped"] == "completed" and record["weights"].endswith("random-init")
    assert "random" in record["weights_label"].lower()
    assert [s["iteration"] for s in record["snapshots"]] == list(range(2, 30, 2))
    assert record["inputs"] is None and not (store_dir / rid / "content.jpg").exists()
    assert reply.headers["X-Style-Delete-Token"] not in json.dumps(record)


def test_stream_and_json_done_records_carry_result_and_token(handler: StyleTransferHandler, store_dir: Path) -> None:
    for form in ("stream", "json"):
        reply = one(handler, {**JOB, "response": form})
        body = reply.body.decode()
        done = json.loads(body.splitlines()[-1]) if form == "stream" else json.loads(body)
        rid = result_id(reply.headers)
        assert done["result"] == {"id": rid, "url": f"/r/{rid}", "image": f"/results/{rid}/final.png"}
        assert done["delete_token"] == reply.headers["X-Style-Delete-Token"]
        record = FileStore(store_dir).record(rid)
        assert record["params"] == done["params"] and record["losses"] == done["losses"]


def test_store_false_stores_nothing(handler: StyleTransferHandler, store_dir: Path) -> None:
    before = FileStore(store_dir).usage()[0]
    reply = one(handler, {**JOB, "response": "json", "store": "false"})
    doc = json.loads(reply.body)
    assert "result" not in doc and "delete_token" not in doc and "X-Style-Result" not in reply.headers
    assert FileStore(store_dir).usage()[0] == before


def test_store_inputs_keeps_the_inputs(handler: StyleTransferHandler, store_dir: Path) -> None:
    reply = one(handler, {**JOB, "store_inputs": "true"})
    rid = result_id(reply.headers)
    store = FileStore(store_dir)
    assert store.record(rid)["inputs"] == {"content": "content.jpg", "styles": ["style_1.jpg"]}
    assert Image.open(io.BytesIO(store.get(rid, "content.jpg"))).size == (64, 48)


def test_a_bad_switch_is_a_400_naming_it(handler: StyleTransferHandler) -> None:
    reply = one(handler, {**JOB, "store": "maybe"})
    assert reply.status == 400 and json.loads(reply.body)["message"].startswith("store:")


def test_delete_needs_the_token(handler: StyleTransferHandler, store_dir: Path) -> None:
    reply = one(handler, dict(JOB))
    rid, token = result_id(reply.headers), reply.headers["X-Style-Delete-Token"]
    asked: dict[str, Any] = {"response": "delete", "result": rid}
    wrong = one(handler, asked, {"x-delete-token": "nope"})
    assert wrong.status == 403 and FileStore(store_dir).exists(rid)
    missing = one(handler, asked)
    assert missing.status == 400 and json.loads(missing.body)["message"].startswith("token:")
    right = one(handler, asked, {"x-delete-token": token})
    assert right.status == 200 and json.loads(right.body) == {"deleted": rid}
    assert not FileStore(store_dir).exists(rid)
    assert one(handler, asked, {"x-delete-token": token}).status == 404


def test_a_failing_store_still_answers_the_job_with_a_warning(handler: StyleTransferHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    assert handler.results.store is not None
    monkeypatch.setattr(handler.results.store, "put", broken)
    reply = one(handler, {**JOB, "response": "json"})
    doc = json.loads(reply.body)
    assert reply.status == 200 and doc["event"] == "done" and "result" not in doc
    assert "Read-only file system" in doc["warning"]


def test_capabilities_say_results_are_kept(handler: StyleTransferHandler) -> None:
    caps = json.loads(one(handler, {"response": "capabilities"}).body)
    assert caps["results"]["enabled"] is True and caps["results"]["max_age_s"] == 604800.0
    assert caps["results"]["kept"]["max_per_client"] == 2 and caps["results"]["kept"]["stale_after_s"] == 10.0
