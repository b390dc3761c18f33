"""TorchServe's continuous-batching loop in miniature, for in-process handler tests.

What it reproduces (frontend/.../wlm/ContinuousBatching.java, ts/protocol/otf_message_handler.py):
a request's fields travel only with its first call; each call answers every held request with
one chunk; the stopping criterion of a request decides whether more chunks follow (False),
this was the last (True), or the single chunk is a plain response (None); status, content type
and headers count on the first chunk only; a request whose client left is left out of later calls.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ts.context import Context, RequestProcessor

# Request ids are unique across every Frontend, as TorchServe's (UUIDs) are: a worker may still hold a kept
# job of an earlier client when the next one calls.
_IDS = itertools.count(1)


@dataclass
class Reply:
    request_id: str
    status: int | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    streamed: bool | None = None  # False: a plain response
    finished: bool = False
    calls: int = 0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Pending:
    request_id: str
    fields: dict[str, Any]
    headers: dict[str, str]
    reply: Reply
    sent_fields: bool = False
    gone: bool = False  # the client closed its connection


class Frontend:
    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.held: list[Pending] = []
        self.counter = 0

    def submit(self, fields: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
        self.counter += 1
        rid = f"req-{next(_IDS)}"
        reply = Reply(rid)
        self.held.append(Pending(rid, fields, dict(headers or {}), reply))
        return reply

    def leave(self, reply: Reply) -> None:
        for pending in self.held:
            if pending.reply is reply:
                pending.gone = True

    def call(self) -> None:
        """One handler call with every held request, like one ContinuousBatching round."""
        batch = list(self.held)
        context: Context = self.handler.context
        context.request_ids = {i: p.request_id for i, p in enumerate(batch)}
        context.request_processor = [RequestProcessor(dict(p.headers)) for p in batch]
        context.stopping_criteria = None
        data = [(p.fields if not p.sent_fields else {}) for p in batch]
        for p in batch:
            p.sent_fields = True
        out = self.handler.handle(data, context)
        assert len(out) == len(batch)
        for i, (pending, body) in enumerate(zip(batch, out, strict=True)):
            reply = pending.reply
            stop = context.stopping_criteria[i](body) if context.stopping_criteria else None
            if reply.calls == 0:
                reply.status, _ = context.get_response_status(i)
                reply.content_type = context.get_response_content_type(i)
                reply.headers = dict(context.get_response_headers(i))
                reply.streamed = stop is not None
            reply.calls += 1
            reply.chunks.append(body.encode() if isinstance(body, str) else bytes(body))
            if stop is None or stop is True:
                reply.finished = True
            if reply.finished or pending.gone:
                self.held.remove(pending)

    def run(self, max_calls: int = 500) -> None:
        for _ in range(max_calls):
            if not self.held:
                return
            self.call()
        raise AssertionError(f"requests still held after {max_calls} calls")
