"""``response=stream``: chunked NDJSON lines sent as they come: plan, queued…, snapshot…, then done (or error)."""

from __future__ import annotations

import json
from typing import Any

from stylize import Snapshot, Stage

from .. import records
from ..responses import NDJSON, Chunk
from .base import Answer, AnswerForm


class StreamAnswer(Answer):
    content_type = NDJSON

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[str] = []  # lines not yet sent

    def _line(self, record: dict[str, Any]) -> None:
        self.pending.append(json.dumps(record) + "\n")

    def planned(self, stages: list[Stage], kept: dict[str, Any] | None = None) -> None:
        self._line(records.plan_record(stages, kept))

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


FORM = AnswerForm("stream", StreamAnswer, accepts=(NDJSON,), help="NDJSON lines: plan, snapshots as they come, then done")
