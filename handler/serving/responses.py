"""How a job's progress becomes its HTTP answer: one small class per answer form, plus the errors.

A form decides what a call may send (a stream sends its lines as they come; json and png send
nothing until the whole answer exists) and how an answer that has already begun ends in failure
(its status and content type went out with the first chunk). Adding a form: one class here and
its name in :data:`FORMS` (and in ``request.RESPONSES``); the scheduler does not change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stylize.engine import Snapshot, Stage
from stylize.errors import FieldError

from . import records
from .request import PayloadTooLarge

NDJSON = "application/x-ndjson"
JSON = "application/json"
PNG = "image/png"


@dataclass
class Chunk:
    """One request's answer to one call. ``first`` and ``last`` together: a plain response."""

    body: bytes | str
    first: bool
    last: bool
    status: int = 200
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def refusal(err: FieldError) -> Chunk:
    """A request refused before it ran: 400 naming the field (413 for an upload over a limit)."""
    status = PayloadTooLarge.status if isinstance(err, PayloadTooLarge) else 400
    kind = "PayloadTooLarge" if status == 413 else "InvalidInput"
    return Chunk(json.dumps({"code": status, "type": kind, "message": str(err)}), first=True, last=True, status=status)


def failure(message: str, status: int = 500) -> Chunk:
    """A job that failed before its first chunk went out: a proper error status (507: out of memory)."""
    kind = "InsufficientStorage" if status == 507 else "InternalServerError"
    return Chunk(json.dumps({"code": status, "type": kind, "message": message}), first=True, last=True, status=status)


def document(doc: dict[str, Any], status: int = 200) -> Chunk:
    """A question answered at once, without a run (response=capabilities, plan, delete)."""
    return Chunk(json.dumps(doc), first=True, last=True, status=status)


def capabilities(doc: dict[str, Any]) -> Chunk:
    return document(doc)


def plan(stages: list[Stage]) -> Chunk:
    return document(records.plan_record(stages))


class Answer:
    """One job's answer under construction. The scheduler reports progress; :meth:`take` is what
    this call sends; :meth:`fail` ends it."""

    content_type: ClassVar[str] = JSON

    def __init__(self) -> None:
        self.result: bytes | str | None = None  # set once the job's answer is complete

    def planned(self, stages: list[Stage]) -> None:
        """The job's stages, known when it arrives."""

    def queued(self, position: int) -> None:
        """The job waits for memory; ``position`` 1 is next. Called when the position changes."""

    def snapshot(self, snap: Snapshot) -> None:
        """An intermediate image."""

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        raise NotImplementedError

    def take(self) -> bytes | str:
        """The body of this call's chunk: by default nothing until the whole answer exists."""
        return self.result if self.result is not None else b""

    def late_error(self, message: str) -> bytes | str:
        """The body that ends an answer whose status already went out."""
        raise NotImplementedError

    def fail(self, message: str, status: int, first: bool) -> Chunk:
        if first:
            return failure(message, status)
        return Chunk(self.late_error(message), first=False, last=True, content_type=self.content_type)


class PngAnswer(Answer):
    """The final PNG bytes; a failure after the first chunk ends the body empty."""

    content_type = PNG

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        self.result = png

    def late_error(self, message: str) -> bytes:
        return b""


class JsonAnswer(Answer):
    """One JSON object: the done record with every snapshot record in ``snapshots``."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[dict[str, Any]] = []

    def snapshot(self, snap: Snapshot) -> None:
        self.snapshots.append(records.snapshot_record(snap))

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        self.result = json.dumps({**done, "snapshots": self.snapshots})

    def late_error(self, message: str) -> str:
        return json.dumps(records.error_record(message))


class StreamAnswer(Answer):
    """NDJSON lines sent as they come: plan, queued…, snapshot…, then done (or error)."""

    content_type = NDJSON

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[str] = []  # lines not yet sent

    def _line(self, record: dict[str, Any]) -> None:
        self.pending.append(json.dumps(record) + "\n")

    def planned(self, stages: list[Stage]) -> None:
        self._line(records.plan_record(stages))

    def queued(self, position: int) -> None:
        self._line({"event": "queued", "position": position})

    def snapshot(self, snap: Snapshot) -> None:
        self._line(records.snapshot_record(snap))

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        self._line(done)
        self.result = ""

    def take(self) -> str:
        body = "".join(self.pending)
        self.pending.clear()
        return body

    def late_error(self, message: str) -> str:
        return self.take() + json.dumps(records.error_record(message)) + "\n"

    def fail(self, message: str, status: int, first: bool) -> Chunk:
        # A stream's lines carry their own outcome: its error line ends it, status 200 or not.
        return Chunk(self.late_error(message), first=first, last=True, content_type=self.content_type)


FORMS: dict[str, type[Answer]] = {"png": PngAnswer, "json": JsonAnswer, "stream": StreamAnswer}


def for_form(form: str) -> Answer:
    return FORMS[form]()
