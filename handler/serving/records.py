"""Snapshots as JSON-able records: the wire format of the HTTP API (documented in docs/api.md)."""

from __future__ import annotations

import base64
from typing import Any

from stylize import images
from stylize.engine import Snapshot, Stage
from stylize.params import StyleParams
from torch import Tensor

SNAPSHOT_FORMAT = "jpeg"  # intermediate images: small and quick to encode
FINAL_FORMAT = "png"  # the result: lossless
# A streamed snapshot's picture is a preview no longer than this: a 4096 px job's snapshots stay ~0.3 MB a line
# (its full-size JPEG would be several MB), and nothing at or below this size changes.
PREVIEW_SIDE = 1024


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
    if snap.tiles:  # a tiled stage: which tile it is at
        record.update(tile=snap.tile, tiles=snap.tiles)
    if with_image:
        picture = preview(snap.image)
        record["image"] = _b64(images.encode(picture, SNAPSHOT_FORMAT, quality=88))
        if picture is not snap.image:
            record["preview_size"] = [picture.shape[-1], picture.shape[-2]]
    return record


def preview(image: Tensor, side: int = PREVIEW_SIDE) -> Tensor:
    """The picture, shrunk (antialiased) to at most ``side`` px on its longest side; itself when it is smaller."""
    w, h = image.shape[-1], image.shape[-2]
    if max(w, h) <= side:
        return image
    return images.resize(image.unsqueeze(0) if image.dim() == 3 else image, images.fit_size(w, h, side))[0]


def done_record(final: Snapshot, png: bytes, params: StyleParams, timings: dict[str, float]) -> dict[str, Any]:
    record = snapshot_record(final, with_image=False)
    record.update(event="done", image=_b64(png), stopped=final.stopped, params={**params.as_dict(), "precision": final.precision},  # fp32 after a bf16 fallback
                  timings={k: round(v, 4) for k, v in timings.items()})
    return record


def linked(done: dict[str, Any]) -> dict[str, Any]:
    """A stored big result's done record: the picture by its link (``result.image``) instead of base64. Past
    PREVIEW_SIDE a final PNG is several MB (a 4096 px one ~30 MB, 40 as base64) in one line; a result that was
    not stored keeps its bytes, so nothing is lost."""
    side = max(done.get("size") or (0, 0))
    if "result" in done and side > PREVIEW_SIDE:
        done = {k: v for k, v in done.items() if k != "image"}
        done["image_link"] = done["result"]["image"]
    return done


def plan_record(stages: list[Stage], kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stages a job runs: the stream's first line and the answer of ``response=plan``. A kept job's
    first line also says where it is followed and how it is cancelled (``kept``)."""
    record: dict[str, Any] = {"event": "plan", "stages": [{"size": list(st.size), "iterations": st.iterations} for st in stages]}
    if kept is not None:
        record["kept"] = kept
    return record


def error_record(message: str) -> dict[str, Any]:
    return {"event": "error", "message": message}
