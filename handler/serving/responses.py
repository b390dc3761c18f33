"""One call's answer to one request (:class:`Chunk`), and the answers that need no run: refusals,
failures, and questions answered at once (capabilities, plan, delete). The answer forms of a job
(png, json, stream …) are the registry in :mod:`serving.forms`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stylize import Stage
from stylize.errors import FieldError

from . import records

NDJSON = "application/x-ndjson"
JSON = "application/json"
PNG = "image/png"


class PayloadTooLarge(FieldError):
    """An upload over a byte limit: answered 413 instead of 400."""

    status = 413


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
    """A question answered at once, without a run (response=capabilities, plan, delete, status, cancel)."""
    return Chunk(json.dumps(doc), first=True, last=True, status=status)


def too_many(message: str, retry_after_s: int) -> Chunk:
    """Over a cap (kept jobs): 429 with Retry-After in seconds."""
    return Chunk(json.dumps({"code": 429, "type": "TooManyRequests", "message": message}), first=True, last=True, status=429,
                 headers={"Retry-After": str(retry_after_s)})


def capabilities(doc: dict[str, Any]) -> Chunk:
    return document(doc)


def plan(stages: list[Stage], params: dict[str, Any], max_iterations: int, seconds: float | None) -> Chunk:
    """The answer to ``response=plan``: the stages, the parameters as the server would run them, the most
    iterations it takes at this size, and its estimate in seconds (None: no speed measured)."""
    return document({**records.plan_record(stages), "params": params, "max_iterations": max_iterations,
                     "estimate_s": seconds})


