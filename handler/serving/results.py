"""What the worker keeps of a finished job, and how it is shared: the result store's serving side.

A job that completes (or stops at its time budget) is written to the store (``serving.store``)
with its final PNG, a small JSON record of how it was made, and up to ``max_snapshots`` JPEG
thumbnails of its snapshots; its inputs only when the request asked (``store_inputs=true``). The
id and delete token are drawn when the job arrives, so even a PNG answer, whose headers leave with
its first chunk, can carry its link (``X-Style-Result``). Storage never fails a job: a result that
cannot be written is answered all the same, with a ``warning``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from stylize import images
from stylize.engine import Snapshot

from .kept import KeptJobs, KeptSettings, new_token
from .store import FileStore, NotFound, Stored, StoreError, valid_id

logger = logging.getLogger(__name__)

THUMB_SIDE = 256  # snapshot thumbnails: enough for a film strip, ~10 KiB each
INPUT_SIDE = 1024  # stored inputs (store_inputs=true) are re-encoded no larger than this
SWEEP_EVERY_S = 30.0  # a sweep scans the whole store: at most this often, after a write
DIR_ENV = "STYLE_RESULTS_DIR"
# The answer to a result id that is not (or no longer) in the store: delete and download give it alike.
_GONE = {"code": 404, "type": "NotFound", "message": "result: no such result (it may have expired or been deleted)"}


@dataclass(frozen=True)
class ResultsSettings:
    """``handler.results`` in model-config.yaml; ``$STYLE_RESULTS_DIR`` sets (or overrides) ``dir``.
    Without a directory nothing is stored (and capabilities says so)."""

    enabled: bool = True
    dir: str | None = None
    max_age_s: float = 7 * 24 * 3600.0
    max_bytes: int = 2 * 1024**3
    max_snapshots: int = 24

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, environ: Mapping[str, str] = os.environ) -> ResultsSettings:
        values = dict(values or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"handler.results: unknown setting(s) {', '.join(unknown)}")
        directory = environ.get(DIR_ENV) or values.get("dir") or None
        return cls(enabled=bool(values.get("enabled", True)), dir=directory,
                   max_age_s=float(values.get("max_age_s", cls.max_age_s)), max_bytes=int(values.get("max_bytes", cls.max_bytes)),
                   max_snapshots=int(values.get("max_snapshots", cls.max_snapshots)))

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.dir)


@dataclass
class Keeping:
    """One job's share of the store while it runs: its reserved id and its snapshot thumbnails."""

    reserved: Stored
    max_snapshots: int
    thumbs: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    cancel_token: str | None = None  # a kept job's (serving.kept); None: an interactive job

    @property
    def kept(self) -> bool:
        return self.cancel_token is not None

    def headers(self) -> dict[str, str]:
        """On the first chunk of every form: the link and delete token; a kept job's status and cancel token."""
        headers = self.reserved.headers()
        if self.cancel_token is not None:
            headers.update({"X-Style-Cancel-Token": self.cancel_token, "X-Style-Status": f"/results/{self.reserved.id}/status.json"})
        return headers

    def kept_record(self) -> dict[str, Any]:
        """What a kept job's stream says in its first line (``kept`` in the plan record)."""
        rid = self.reserved.id
        return {"id": rid, "url": f"/r/{rid}", "status": f"/results/{rid}/status.json", "cancel": f"/results/{rid}/cancel",
                "cancel_token": self.cancel_token, "delete_token": self.reserved.delete_token}

    def snapshot(self, snap: Snapshot) -> None:
        picture = images.to_pil(snap.image)
        picture.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        meta = {"iteration": snap.iteration, "stage": snap.stage, "losses": {k: round(v, 6) for k, v in snap.losses.items()}}
        self.thumbs.append((meta, images.encode(picture, "jpeg", quality=85)))
        if len(self.thumbs) > self.max_snapshots:
            self.thumbs = self.thumbs[::2]  # halve, evenly spread over the run


class Results:
    """The worker's results: reserve an id on arrival, keep on completion, delete with a token."""

    def __init__(self, settings: ResultsSettings, store: FileStore | None = None, kept: KeptSettings | None = None) -> None:
        self.settings = settings
        self.store = store if store is not None else (
            FileStore(settings.dir, max_age_s=settings.max_age_s, max_bytes=settings.max_bytes) if settings.active else None)
        # Kept jobs live in the same store, so every worker and replica that shares it sees them.
        kept = kept or KeptSettings()
        self.kept = KeptJobs(self.store.root, kept) if self.store is not None and kept.enabled else None
        self._last_sweep = 0.0
        self._sweeping = threading.Lock()

    @property
    def active(self) -> bool:
        return self.store is not None

    def describe(self) -> dict[str, Any]:
        """For capabilities: whether results are kept and for how long."""
        kept = None
        if self.kept is not None:
            s = self.kept.settings
            kept = {"max_per_client": s.max_per_client, "max_total": s.max_total, "heartbeat_s": s.heartbeat_s,
                    "stale_after_s": s.stale_after_s}
        return {"enabled": self.active, "max_age_s": self.settings.max_age_s if self.active else None, "kept": kept}

    def reserve(self, wanted: bool, keep: bool = False) -> Keeping | None:
        if not (self.active and wanted):
            return None
        assert self.store is not None
        return Keeping(self.store.reserve(), self.settings.max_snapshots, cancel_token=new_token() if keep else None)

    def keep(self, keeping: Keeping, done: Mapping[str, Any], png: bytes, *, content: Image.Image | None = None,
             styles: Sequence[Image.Image] = (), regions: bool = False, weights_label: str | None = None) -> dict[str, Any]:
        """Write the result; returns what the done record gains: ``result`` and ``delete_token``,
        or a ``warning`` when the store could not take it (the job is answered either way)."""
        assert self.store is not None
        stored = keeping.reserved
        files: dict[str, bytes] = {"final.png": png}
        snapshots = []
        for n, (meta, jpeg) in enumerate(keeping.thumbs, start=1):
            name = f"snapshot_{n:02d}.jpg"
            files[name] = jpeg
            snapshots.append({"file": name, **meta})
        inputs = None
        if content is not None:
            files["content.jpg"] = _input_jpeg(content)
            names = []
            for i, style in enumerate(styles, start=1):
                files[f"style_{i}.jpg"] = _input_jpeg(style)
                names.append(f"style_{i}.jpg")
            inputs = {"content": "content.jpg", "styles": names}
        record = {key: done[key] for key in ("iteration", "iterations", "size", "losses", "elapsed_s", "stopped", "params",
                                             "weights", "timings") if key in done}
        record.update(id=stored.id, created=round(time.time(), 3), snapshots=snapshots, inputs=inputs, regions=regions,
                      weights_label=weights_label or done.get("weights"))
        files["record.json"] = json.dumps(record).encode()
        try:
            self.store.put(files, reserved=stored)
        except (StoreError, OSError) as exc:
            logger.warning("result %s not stored: %s", stored.id, exc)
            return {"warning": f"the result was not stored, so it has no share link ({exc})"}
        self._sweep_soon()
        return {"result": stored.links(), "delete_token": stored.delete_token}

    def delete(self, result_id: str, token: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for ``DELETE /results/<id>``."""
        if self.store is None or not valid_id(result_id):
            return 404, _GONE
        try:
            if self.store.delete(result_id, token):
                return 200, {"deleted": result_id}
        except NotFound:
            return 404, _GONE
        return 403, {"code": 403, "type": "Forbidden", "message": "token: this is not the result's delete token"}

    def download(self, result_id: str, fmt: str, quality: int) -> tuple[int, bytes | dict[str, Any], str]:
        """(HTTP status, body, media type) for ``response=download``: the stored PNG as it is, or re-encoded as
        a JPEG of the chosen quality (a 4096 px PNG is ~30 MB; its JPEG at 90 a few)."""
        if self.store is None or not valid_id(result_id):
            return 404, _GONE, "application/json"
        try:
            png = self.store.get(result_id, "final.png")
        except NotFound:
            return 404, _GONE, "application/json"
        if fmt == "png":
            return 200, png, "image/png"
        with Image.open(io.BytesIO(png)) as picture:
            return 200, images.encode(picture.convert("RGB"), "jpeg", quality=quality), "image/jpeg"

    def _sweep_soon(self) -> None:
        """After a write, at most every SWEEP_EVERY_S, in the background: a sweep never delays a job."""
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY_S or not self._sweeping.acquire(blocking=False):
            return
        self._last_sweep = now

        def run() -> None:
            try:
                assert self.store is not None
                removed = self.store.sweep()
                if self.kept is not None:
                    self.kept.sweep(self.settings.max_age_s)
                if removed:
                    logger.info("result sweeper removed %d result(s)", removed)
            except Exception:
                logger.warning("result sweep failed", exc_info=True)
            finally:
                self._sweeping.release()

        threading.Thread(target=run, name="result-sweeper", daemon=True).start()

    def sweep_now(self) -> int:
        return self.store.sweep() if self.store is not None else 0


def _input_jpeg(picture: Image.Image) -> bytes:
    copy = picture.convert("RGB")
    copy.thumbnail((INPUT_SIDE, INPUT_SIDE), Image.Resampling.LANCZOS)
    return images.encode(copy, "jpeg", quality=90)
