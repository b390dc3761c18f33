"""What the worker keeps of a finished job (serving.results): files, record, thumbnails, warnings, delete."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from serving.results import Results, ResultsSettings
from serving.store import FileStore, StoreError
from stylize.engine import Snapshot

DONE = {"event": "done", "iteration": 4, "iterations": 4, "size": [8, 6], "losses": {"total": 1.5}, "elapsed_s": 0.2,
        "stopped": "completed", "params": {"size": 8, "iterations": 4}, "weights": "random-init", "timings": {"total_s": 0.3},
        "image": "base64 png that must not be copied into the record"}


def snap(i: int) -> Snapshot:
    return Snapshot(iteration=i, iterations=40, stage=1, stages=1, size=(8, 6), losses={"total": float(i)}, elapsed_s=0.1 * i,
                    image=torch.rand(3, 6, 8), weights="random-init")


def results(tmp_path: Path, **settings: object) -> Results:
    return Results(ResultsSettings.from_mapping({"dir": str(tmp_path), **settings}, environ={}))


def test_a_kept_result_has_png_record_and_thumbnails(tmp_path: Path) -> None:
    keeper = results(tmp_path)
    keeping = keeper.reserve(True)
    assert keeping is not None
    for i in range(1, 4):
        keeping.snapshot(snap(i))
    extra = keeper.keep(keeping, DONE, b"PNG")
    rid = keeping.reserved.id
    assert extra == {"result": {"id": rid, "url": f"/r/{rid}", "image": f"/results/{rid}/final.png"}, "delete_token": keeping.reserved.delete_token}
    store = FileStore(tmp_path)
    assert store.get(rid, "final.png") == b"PNG"
    record = store.record(rid)
    assert record["params"] == DONE["params"] and record["losses"] == DONE["losses"] and record["id"] == rid
    assert "image" not in record and "delete_token" not in json.dumps(record) and keeping.reserved.delete_token not in json.dumps(record)
    assert [s["iteration"] for s in record["snapshots"]] == [1, 2, 3] and record["inputs"] is None
    assert Image.open(io.BytesIO(store.get(rid, "snapshot_01.jpg"))).format == "JPEG"
    with pytest.raises(KeyError):
        store.get(rid, "content.jpg")  # inputs are not stored unless asked


def test_inputs_are_stored_only_when_asked(tmp_path: Path) -> None:
    keeper = results(tmp_path)
    keeping = keeper.reserve(True)
    assert keeping is not None
    content, style = Image.new("RGB", (2000, 1000), "red"), Image.new("RGBA", (10, 10))
    keeper.keep(keeping, DONE, b"PNG", content=content, styles=[style])
    store = FileStore(tmp_path)
    record = store.record(keeping.reserved.id)
    assert record["inputs"] == {"content": "content.jpg", "styles": ["style_1.jpg"]}
    stored = Image.open(io.BytesIO(store.get(keeping.reserved.id, "content.jpg")))
    assert stored.size == (1024, 512)


def test_snapshots_are_thinned_evenly_beyond_the_limit(tmp_path: Path) -> None:
    keeping = results(tmp_path, max_snapshots=4).reserve(True)
    assert keeping is not None
    for i in range(1, 10):
        keeping.snapshot(snap(i))
    its = [meta["iteration"] for meta, _ in keeping.thumbs]
    assert len(its) <= 4 and its[0] == 1 and its == sorted(its) and its[-1] >= 5


def test_nothing_is_reserved_when_off_or_not_wanted(tmp_path: Path) -> None:
    assert results(tmp_path).reserve(False) is None
    assert results(tmp_path, enabled=False).reserve(True) is None
    assert Results(ResultsSettings.from_mapping({}, environ={})).reserve(True) is None  # no directory configured
    assert Results(ResultsSettings.from_mapping({}, environ={"STYLE_RESULTS_DIR": str(tmp_path)})).active
    with pytest.raises(ValueError, match="max_agee"):
        ResultsSettings.from_mapping({"max_agee": 1}, environ={})


def test_a_failing_store_gives_a_warning_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = results(tmp_path)
    keeping = keeper.reserve(True)
    assert keeping is not None

    def full(*args: object, **kwargs: object) -> None:
        raise StoreError("could not store the result: No space left on device")

    monkeypatch.setattr(keeper.store, "put", full)
    extra = keeper.keep(keeping, DONE, b"PNG")
    assert set(extra) == {"warning"} and "No space left" in extra["warning"]


def test_delete_answers(tmp_path: Path) -> None:
    keeper = results(tmp_path)
    keeping = keeper.reserve(True)
    assert keeping is not None
    keeper.keep(keeping, DONE, b"PNG")
    rid = keeping.reserved.id
    assert keeper.delete(rid, "wrong")[0] == 403
    assert keeper.delete("../../etc", "x")[0] == 404
    assert keeper.delete(rid, keeping.reserved.delete_token) == (200, {"deleted": rid})
    status, body = keeper.delete(rid, keeping.reserved.delete_token)
    assert status == 404 and body["message"].startswith("result:")
