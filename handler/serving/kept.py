"""Kept jobs: runs that outlive their connection, seen and cancelled through the shared result store.

A job sent with ``keep=true`` runs to its end whether or not its client stays. Any worker of any
replica may be asked about it, so nothing about it lives only in the holding worker's memory: the
holding worker writes its progress into the result store, and the others read it there.

    <root>/.jobs/<id>.json    its status (state, stage, %, ETA, position …), rewritten as it runs;
                              the front serves it as /results/<id>/status.json (no caching)
    <root>/.jobs/<id>.jpg     the latest snapshot, 256 px (/results/<id>/preview.jpg)
    <root>/.jobs/<id>.token   sha256 of its cancel token (never served)
    <root>/.jobs/<id>.client  sha256 of its client's address, for the per-client cap (never served)
    <root>/.jobs/<id>.cancel  the cancel marker: any worker writes it, the holding worker reads it
                              before every slice and ends the job

The status file's mtime is the job's heartbeat: the holding worker touches it every ``heartbeat_s``
from a thread of its own (not the engine's, so a 12 s iteration does not stop it). A status still
*running* or *waiting* whose heartbeat is older than ``stale_after_s`` belongs to a worker that died:
readers answer *failed*, and every live worker rewrites such files as failed when it sweeps. A file
rename is atomic on one filesystem, so a reader never sees half a status.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PIL import Image
from stylize import Snapshot, Stage, images

from .store import valid_id

logger = logging.getLogger(__name__)

JOBS_DIR = ".jobs"
ACTIVE = ("waiting", "running")
ENDED = ("done", "failed", "cancelled")
PREVIEW_SIDE = 256
DEFAULT_RETRY_S = 60


@dataclass(frozen=True)
class KeptSettings:
    """``handler.kept`` in model-config.yaml."""

    enabled: bool = True
    max_per_client: int = 2  # kept jobs waiting or running per client address (the front's X-Real-IP)
    max_total: int = 8  # kept jobs waiting or running in the whole store (every worker and replica)
    heartbeat_s: float = 2.0  # the holding worker touches each kept job's status this often
    stale_after_s: float = 10.0  # a status not touched for this long belongs to a dead worker: failed

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> KeptSettings:
        values = dict(values or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"handler.kept: unknown setting(s) {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for name, value in values.items():
            out[name] = bool(value) if name == "enabled" else int(value) if name.startswith("max_") else float(value)
        settings = cls(**out)
        if settings.stale_after_s < 3 * settings.heartbeat_s:
            raise ValueError("handler.kept: stale_after_s must be at least 3 heartbeats, or a slow disk fails live jobs")
        return settings


class TooMany(Exception):
    """Over a kept-job cap: a 429 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def percent_done(stages: list[Stage], iteration: int) -> float:
    """Share of the job's work done after ``iteration`` iterations overall, stages weighted by pixels."""
    total = sum(st.size[0] * st.size[1] * st.iterations for st in stages) or 1
    done, left = 0, iteration
    for st in stages:
        n = min(left, st.iterations)
        done += st.size[0] * st.size[1] * n
        left -= n
        if left <= 0:
            break
    return 100.0 * done / total


class KeptJobs:
    """The kept jobs' files in one result store. Every method is safe to call from any worker."""

    def __init__(self, root: str | os.PathLike[str], settings: KeptSettings = KeptSettings(),
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root) / JOBS_DIR
        self.settings, self.clock = settings, clock
        # Ids whose status ended (done, failed, cancelled: final): the scans of caps and sweeps skip them, so a store
        # holding a week of ended jobs is not re-read every heartbeat.
        self._ended: set[str] = set()

    def _path(self, result_id: str, suffix: str) -> Path:
        return self.root / f"{result_id}.{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers see the old file or the new one, never half

    # -- the holding worker ------------------------------------------------------------------------

    def check_caps(self, client: str) -> None:
        """Raise TooMany when the client or the whole store already has its cap of active kept jobs.
        A soft cap across replicas: two arrivals at the same instant may both pass."""
        mine, total, eta = 0, 0, []
        key = _hash(client)
        for result_id, status in self._active():
            total += 1
            with contextlib.suppress(OSError):
                if self._path(result_id, "client").read_text().strip() == key:
                    mine += 1
                    if isinstance(status.get("eta_s"), (int, float)):
                        eta.append(float(status["eta_s"]))
        retry = int(min(max(min(eta, default=DEFAULT_RETRY_S), 5), 3600))
        if mine >= self.settings.max_per_client:
            raise TooMany(f"keep: you already have {mine} kept jobs running or waiting (at most "
                          f"{self.settings.max_per_client}); wait for one to end or cancel one", retry)
        if total >= self.settings.max_total:
            raise TooMany(f"keep: the server already holds {total} kept jobs (at most {self.settings.max_total}); "
                          "try again later", retry)

    def begin(self, result_id: str, cancel_token: str, client: str, stages: list[Stage]) -> None:
        """A kept job arrived: its token, its client and a *waiting* status, before anything runs."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._write(self._path(result_id, "token"), _hash(cancel_token).encode())
        self._write(self._path(result_id, "client"), _hash(client).encode())
        self.write_status(result_id, {"state": "waiting", "position": None, "percent": 0.0,
                                      "plan": [{"size": list(st.size), "iterations": st.iterations} for st in stages]})

    def write_status(self, result_id: str, status: Mapping[str, Any]) -> None:
        doc = {"id": result_id, **status, "updated": round(self.clock(), 3), "heartbeat_s": self.settings.heartbeat_s,
               "stale_after_s": self.settings.stale_after_s}
        if status.get("state") in ENDED:
            self._ended.add(result_id)
        try:
            self._write(self._path(result_id, "json"), json.dumps(doc).encode())
        except OSError as exc:  # progress is a courtesy: a full disk never fails the job itself
            logger.warning("kept job %s: status not written: %s", result_id, exc)

    def preview(self, result_id: str, snap: Snapshot) -> None:
        picture = images.to_pil(snap.image)
        picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
        try:
            self._write(self._path(result_id, "jpg"), images.encode(picture, "jpeg", quality=85))
        except OSError as exc:
            logger.warning("kept job %s: preview not written: %s", result_id, exc)

    def cancel_requested(self, result_id: str) -> bool:
        return self._path(result_id, "cancel").exists()

    def heartbeat(self, result_ids: Iterable[str]) -> None:
        now = self.clock()
        for result_id in result_ids:
            with contextlib.suppress(OSError):
                os.utime(self._path(result_id, "json"), (now, now))

    def forget_marker(self, result_id: str) -> None:
        with contextlib.suppress(OSError):
            self._path(result_id, "cancel").unlink(missing_ok=True)

    # -- any worker --------------------------------------------------------------------------------

    def read(self, result_id: str) -> dict[str, Any] | None:
        """The job's status as it stands, with a dead worker's *running* read as *failed*."""
        if not valid_id(result_id):
            return None
        path = self._path(result_id, "json")
        try:
            status = json.loads(path.read_bytes())
            beat = path.stat().st_mtime
        except (OSError, ValueError):
            return None
        if status.get("state") in ACTIVE and self.clock() - beat > self.settings.stale_after_s:
            status.update(state="failed", message="the worker holding this job stopped (its heartbeat is "
                                                  f"{self.clock() - beat:.0f} s old); submit it again")
        elif status.get("state") in ENDED:
            self._ended.add(result_id)
        return status

    def status_answer(self, result_id: str) -> tuple[int, dict[str, Any]]:
        status = self.read(result_id)
        if status is None:
            return 404, {"code": 404, "type": "NotFound", "message": "result: no such kept job (it may have expired)"}
        return 200, status

    def cancel(self, result_id: str, token: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of a cancel request: the token is checked here, by whichever worker
        got the request; the marker tells the holding worker."""
        status = self.read(result_id)
        if status is None:
            return 404, {"code": 404, "type": "NotFound", "message": "result: no such kept job (it may have expired)"}
        try:
            expected = self._path(result_id, "token").read_text().strip()
        except OSError:
            expected = ""
        if not expected or not hmac.compare_digest(expected.encode(), _hash(str(token)).encode()):
            return 403, {"code": 403, "type": "Forbidden", "message": "token: this is not the job's cancel token"}
        if status.get("state") in ENDED:
            return 409, {"code": 409, "type": "Conflict", "message": f"result: the job has already ended ({status['state']})"}
        self._write(self._path(result_id, "cancel"), b"")
        return 202, {"cancelling": result_id, "message": "the job stops within one slice"}

    def _active(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        try:
            names = [p.name for p in os.scandir(self.root) if p.name.endswith(".json")]
        except FileNotFoundError:
            return []
        for name in names:
            result_id = name.removesuffix(".json")
            if result_id in self._ended:
                continue
            status = self.read(result_id)
            if status is not None and status.get("state") in ACTIVE:
                out.append((result_id, status))
        return out

    def sweep(self, max_age_s: float | None = None) -> int:
        """Rewrite the stale statuses of dead workers as failed; remove kept-job files older than
        ``max_age_s``. Returns how many statuses were failed."""
        failed = 0
        now = self.clock()
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            if max_age_s is not None and age > max_age_s:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            result_id = entry.name.removesuffix(".json")
            if result_id in self._ended:
                continue
            try:
                raw = json.loads(Path(entry.path).read_bytes())
            except (OSError, ValueError):
                continue
            if raw.get("state") in ENDED:
                self._ended.add(result_id)
            elif raw.get("state") in ACTIVE and age > self.settings.stale_after_s:
                status = self.read(result_id)
                if status is not None and status.get("state") == "failed":
                    self.write_status(result_id, {k: v for k, v in status.items()
                                                  if k not in ("id", "updated", "heartbeat_s", "stale_after_s")})
                    failed += 1
        return failed


def start_heartbeat(kept: KeptJobs, held_ids: Callable[[], list[str]]) -> threading.Thread:
    """The worker's heartbeat: touches the status of every kept job it holds, and fails the stale
    statuses of dead workers. Its own thread, so a long engine step never stops it."""
    def beat() -> None:
        while True:
            time.sleep(kept.settings.heartbeat_s)
            try:
                kept.heartbeat(held_ids())
                kept.sweep()
            except Exception:
                logger.warning("kept-job heartbeat failed", exc_info=True)

    thread = threading.Thread(target=beat, name="kept-jobs-heartbeat", daemon=True)
    thread.start()
    return thread
