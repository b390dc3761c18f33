"""What an answer form is: its name (the ``response`` field), the media type it answers with and the
Accept types that choose it, and the :class:`Answer` that turns one job's progress into its HTTP body.

A form decides what a call may send (a stream sends its lines as they come; json and png send nothing
until the whole answer exists) and how an answer that has already begun ends in failure (its status and
content type went out with the first chunk)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from stylize import Snapshot, Stage

from ..responses import JSON, Chunk, failure


class Answer:
    """One job's answer under construction. The scheduler reports progress; :meth:`take` is what
    this call sends; :meth:`fail` ends it."""

    content_type: ClassVar[str] = JSON

    def __init__(self) -> None:
        self.result: bytes | str | None = None  # set once the job's answer is complete

    def planned(self, stages: list[Stage], kept: dict[str, Any] | None = None) -> None:
        """The job's stages, known when it arrives; a kept job's link and cancel token (``kept``)."""

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


@dataclass(frozen=True)
class AnswerForm:
    name: str  # the value of the ``response`` field
    answer: type[Answer]
    accepts: tuple[str, ...] = ()  # Accept header media types that choose this form when no response field is sent
    default: bool = False  # the form of a request that names none and accepts none of the others
    help: str = ""
