"""Finished results kept server-side and shared by an unguessable link.

A filesystem store, :class:`FileStore` (reserve, put, get, delete, sweep). The front (nginx) serves a result's files straight from
the same directory, read-only, so the layout is part of the contract:

    <root>/<id>/final.png, record.json, snapshot_NN.jpg, content.jpg, style_N.jpg
    <root>/.tokens/<id>          sha256 of the delete token (never served: not under an id)
    <root>/.incoming/<id>.<rnd>  a result being written (renamed into place when complete)

A result appears all at once: its files are written into ``.incoming`` and the directory is
renamed to ``<id>`` (atomic on one filesystem), so a reader never sees half a result, and a crash
mid-write leaves only an ``.incoming`` entry that the sweeper removes. An S3 (or any object
store) backend fits behind the same four methods: put = upload the objects then the record last,
get = presigned or proxied reads, sweep = a lifecycle rule plus a size check.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ID_BYTES = 16  # 128 random bits from the OS's CSPRNG (secrets), URL-safe base64: 22 characters
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
# Every name a result may hold; anything else is refused on put and never served.
FILE_PATTERN = re.compile(r"final\.png|record\.json|snapshot_\d{2,3}\.jpg|content\.jpg|style_\d\.jpg")
TOKEN_DIR, INCOMING_DIR = ".tokens", ".incoming"
STALE_INCOMING_S = 3600.0  # an .incoming entry this old belongs to a writer that died


class StoreError(RuntimeError):
    """The store could not do what was asked (full, read-only, failing disk)."""


class NotFound(KeyError):
    """No such result, or no such file in it (including ids that are not ids)."""


@dataclass(frozen=True)
class Stored:
    """What the creator of a result gets back. ``delete_token`` is shown to nobody else."""

    id: str
    delete_token: str

    def links(self) -> dict[str, str]:
        return {"id": self.id, "url": f"/r/{self.id}", "image": f"/results/{self.id}/final.png"}

    def headers(self) -> dict[str, str]:
        """On the job's first chunk, whatever its form: where the result will be, and how to delete it."""
        return {"X-Style-Result": f"/r/{self.id}", "X-Style-Delete-Token": self.delete_token}


def valid_id(result_id: str) -> bool:
    return isinstance(result_id, str) and ID_PATTERN.fullmatch(result_id) is not None


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class FileStore:
    """Results as directories under ``root``; bounded by age and total bytes (``sweep``)."""

    def __init__(self, root: str | os.PathLike[str], *, max_age_s: float | None = None, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.max_age_s, self.max_bytes, self.clock = max_age_s, max_bytes, clock

    # -- writing -----------------------------------------------------------------------------------

    def reserve(self) -> Stored:
        """An id and delete token for a result to be written later (nothing is visible yet), so an
        answer can carry its link before the job has finished."""
        return Stored(new_id(), secrets.token_urlsafe(32))

    def put(self, files: Mapping[str, bytes], reserved: Stored | None = None) -> Stored:
        """Store one result whole (``record.json`` and ``final.png`` at least) or raise StoreError."""
        bad = [name for name in files if not FILE_PATTERN.fullmatch(name)]
        if bad or "final.png" not in files or "record.json" not in files:
            raise ValueError(f"a result needs final.png and record.json and only known names, got {sorted(files)}")
        if reserved is not None and not valid_id(reserved.id):
            raise ValueError("not a reserved result id")
        stored = reserved or self.reserve()
        result_id = stored.id
        incoming = self.root / INCOMING_DIR / f"{result_id}.{secrets.token_hex(4)}"
        try:
            incoming.mkdir(parents=True)
            for name, data in files.items():
                _write_synced(incoming / name, data)
            tokens = self.root / TOKEN_DIR
            tokens.mkdir(exist_ok=True)
            _write_synced(tokens / result_id, _token_hash(stored.delete_token).encode())
            now = self.clock()
            os.utime(incoming, (now, now))  # the result's age is the directory's mtime
            if (self.root / result_id).exists():
                raise FileExistsError(17, "result id already used", result_id)
            os.rename(incoming, self.root / result_id)  # the moment it becomes visible, all at once
        except OSError as exc:
            shutil.rmtree(incoming, ignore_errors=True)
            with contextlib.suppress(OSError):
                (self.root / TOKEN_DIR / result_id).unlink(missing_ok=True)
            raise StoreError(f"could not store the result: {exc.strerror or exc}") from exc
        return stored

    # -- reading -----------------------------------------------------------------------------------

    def _dir(self, result_id: str) -> Path:
        if not valid_id(result_id):
            raise NotFound(result_id)
        path = self.root / result_id
        if not path.is_dir():
            raise NotFound(result_id)
        return path

    def get(self, result_id: str, name: str) -> bytes:
        if not isinstance(name, str) or not FILE_PATTERN.fullmatch(name):
            raise NotFound(name)
        try:
            return (self._dir(result_id) / name).read_bytes()
        except FileNotFoundError:
            raise NotFound(name) from None

    def record(self, result_id: str) -> dict[str, Any]:
        return json.loads(self.get(result_id, "record.json"))

    def exists(self, result_id: str) -> bool:
        try:
            self._dir(result_id)
        except NotFound:
            return False
        return True

    # -- deleting ----------------------------------------------------------------------------------

    def delete(self, result_id: str, token: str) -> bool:
        """Remove a result if ``token`` is its delete token (compared in constant time)."""
        path = self._dir(result_id)  # NotFound for unknown ids
        try:
            expected = (self.root / TOKEN_DIR / result_id).read_text().strip()
        except OSError:
            return False
        if not hmac.compare_digest(expected.encode(), _token_hash(str(token)).encode()):
            return False
        self._remove(result_id, path)
        return True

    def _remove(self, result_id: str, path: Path) -> None:
        # Rename first so the result disappears at once, then delete at leisure.
        gone = self.root / INCOMING_DIR / f"{result_id}.deleted{secrets.token_hex(4)}"
        try:
            gone.parent.mkdir(exist_ok=True)
            os.rename(path, gone)
        except OSError:
            gone = path
        shutil.rmtree(gone, ignore_errors=True)
        (self.root / TOKEN_DIR / result_id).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove results older than ``max_age_s``, then the oldest until the rest fit ``max_bytes``,
        and writers' leftovers; returns how many results were removed."""
        now = self.clock()
        incoming = self.root / INCOMING_DIR
        if incoming.is_dir():
            self._sweep_incoming(incoming, now)
        entries = sorted(self._results())  # oldest first
        removed = 0
        total = sum(e[1] for e in entries)
        for mtime, size, result_id, path in entries:
            too_old = self.max_age_s is not None and now - mtime > self.max_age_s
            too_big = self.max_bytes is not None and total > self.max_bytes
            if not (too_old or too_big):
                continue
            self._remove(result_id, path)
            total -= size
            removed += 1
        return removed

    def _sweep_incoming(self, incoming: Path, now: float) -> None:
        for entry in os.scandir(incoming):
            try:
                stale = ".deleted" in entry.name or now - entry.stat(follow_symlinks=False).st_mtime > STALE_INCOMING_S
            except FileNotFoundError:
                continue
            if stale:
                shutil.rmtree(entry.path, ignore_errors=True)

    def usage(self) -> tuple[int, int]:
        """(results, bytes) stored now; for metrics and tests."""
        sizes = [size for _, size, _, _ in self._results()]
        return len(sizes), sum(sizes)

    def _results(self) -> list[tuple[float, int, str, Path]]:
        """(mtime, bytes, id, path) of every stored result; one that vanishes meanwhile is skipped."""
        try:
            listing = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        out = []
        for entry in listing:
            if not valid_id(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
                size = sum(f.stat(follow_symlinks=False).st_size for f in os.scandir(entry.path))
            except FileNotFoundError:
                continue  # deleted meanwhile
            out.append((mtime, size, entry.name, Path(entry.path)))
        return out


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
