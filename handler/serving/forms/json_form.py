"""``response=json``: one JSON object, the done record with every snapshot record in ``snapshots``."""

from __future__ import annotations

import json
from typing import Any

from stylize import Snapshot

from .. import records
from ..responses import JSON
from .base import Answer, AnswerForm


class JsonAnswer(Answer):
    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[dict[str, Any]] = []

    def snapshot(self, snap: Snapshot) -> None:
        self.snapshots.append(records.snapshot_record(snap))

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        self.result = json.dumps({**done, "snapshots": self.snapshots})

    def late_error(self, message: str) -> str:
        return json.dumps(records.error_record(message))


FORM = AnswerForm("json", JsonAnswer, accepts=(JSON,), help="one JSON object: the done record with every snapshot")
