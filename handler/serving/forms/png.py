"""``response=png``: the final PNG bytes, sent when the job is done (curl's default)."""

from __future__ import annotations

from typing import Any

from ..responses import PNG
from .base import Answer, AnswerForm


class PngAnswer(Answer):
    """The final PNG bytes; a failure after the first chunk ends the body empty."""

    content_type = PNG

    def finish(self, done: dict[str, Any], png: bytes) -> None:
        self.result = png

    def late_error(self, message: str) -> bytes:
        return b""


FORM = AnswerForm("png", PngAnswer, accepts=(PNG,), default=True, help="the final image as PNG bytes")
