"""Snapshots as JSON-able records: the wire format of the HTTP API (documented in docs/api.md)."""

from __future__ import annotations

import base64
from typing import Any

from stylize import images
from stylize.engine import Snapshot, Stage
from stylize.params import StyleParams

SNAPSHOT_FORMAT = "jpeg"  # intermediate images: small and quick to encode
FINAL_FORMAT = "png"  # the result: lossless


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def snapshot_record(snap: Snapshot, with_image: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event": "snapshot",
        "iteration": snap.iteration,
        "iterations": snap.iterations,
        "stage": snap.stage,
        "stages": snap.stages,
        "size": list(snap.size),
        "losses": {k: round(v, 6) for k, v in snap.losses.items()},
        "elapsed_s": snap.elapsed_s,
        "weights": snap.weights,
    }
    if with_image:
        record["image"] = _b64(images.encode(snap.image, SNAPSHOT_FORMAT, quality=88))
    return record


def done_record(final: Snapshot, png: bytes, params: StyleParams, timings: dict[str, float]) -> dict[str, Any]:
    record = snapshot_record(final, with_image=False)
    record.update(event="done", image=_b64(png), stopped=final.stopped, params={**params.as_dict(), "precision": final.precision},  # fp32 after a bf16 fallback
                  timings={k: round(v, 4) for k, v in timings.items()})
    return record


def plan_record(stages: list[Stage], kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stages a job runs: the stream's first line and the answer of ``response=plan``. A kept job's
    first line also says where it is followed and how it is cancelled (``kept``)."""
    record: dict[str, Any] = {"event": "plan", "stages": [{"size": list(st.size), "iterations": st.iterations} for st in stages]}
    if kept is not None:
        record["kept"] = kept
    return record


def error_record(message: str) -> dict[str, Any]:
    return {"event": "error", "message": message}
