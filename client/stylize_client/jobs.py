"""What every command of the client shares: the server's addresses, one streamed job, result links, errors.
(No argument parsing here: cli.py and kept.py build the commands on it.)"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from stylize_options import style_side

from .schema import shipped_schema
from .uploads import Upload, original

PARAMS = shipped_schema()["params"]
STYLE_FIELDS: list[str] = shipped_schema()["fields"]["style"]
# The server's per-job switches as options (--no-store: no share link is kept); keep has its own --keep/--detach.
SWITCHES: dict[str, dict[str, Any]] = {k: v for k, v in shipped_schema()["fields"].get("switches", {}).items() if k != "keep"}

DEFAULT_URL = os.environ.get("STYLE_URL", "http://127.0.0.1:8000")
MODEL_PATH = "/predictions/style_transfer"


def endpoint(url: str) -> str:
    """The inference URL for any address a user may have: a server or front root (http://host:8000),
    the inference URL itself (…/predictions/style_transfer), …/predictions, …/ping or …/capabilities."""
    base = url.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    path = urlsplit(base).path
    if re.search(r"/predictions/[^/]+$", path):
        return base
    if path.endswith("/predictions"):
        return base + MODEL_PATH.removeprefix("/predictions")
    for tail in ("/ping", "/capabilities"):
        if path.endswith(tail):
            base = base.removesuffix(tail)
    return base + MODEL_PATH


class ClientError(RuntimeError):
    """The server refused the job or could not be reached; str() is the one-line message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def form_fields(params: dict[str, Any]) -> dict[str, str]:
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()}


def sides_read(params: dict[str, Any]) -> tuple[int, int] | None:
    """The longest sides the job reads of its content (``size``) and of each style (``size`` x ``style_scale``), from
    the params given or the schema's defaults; None when they are not numbers (the server will name the field)."""
    try:
        size = int(params.get("size", PARAMS["size"]["default"]))
        scale = float(params.get("style_scale", PARAMS["style_scale"]["default"]))
    except (TypeError, ValueError):
        return None
    if size < 1 or not 0 < scale < 100:
        return None
    return size, style_side(size, scale)


def uploads(content: Path, styles: list[Path], params: dict[str, Any], downscale: bool = True) -> list[tuple[str, Upload]]:
    """(field, upload) for the content and each style: each no bigger than the job reads (``downscale``), else as is."""
    sides = sides_read(params) if downscale else None
    pairs = [("content", content), *zip(STYLE_FIELDS, styles, strict=False)]
    if sides is None:
        return [(name, original(path)) for name, path in pairs]
    from .uploads import fitted  # Pillow, only when a job is sent

    return [(name, fitted(path, sides[0] if name == "content" else sides[1])) for name, path in pairs]


def stream_job(url: str, content: Path, styles: list[Path], params: dict[str, Any],
               timeout: float = 3600.0, keep: bool = False, style_names: list[str] | None = None,
               downscale: bool = True, say: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """POST one job in `stream` form; yield each NDJSON event (plan, snapshot…, then done). ``keep``: a kept
    job, which runs to its end on the server even if this connection closes (its plan event says ``kept``).
    ``style_names``: the server's built-in styles by name (its capabilities' ``styles``), sent as ``style_name``
    in place of style files. ``downscale``: images bigger than the job reads are sent at that size (``say`` is told
    of each)."""
    files = []
    for name, upload in uploads(content, styles, params, downscale):
        files.append((name, upload.multipart()))
        if upload.shrunk_from and upload.shrunk_to and say is not None:
            (w, h), (to_w, to_h) = upload.shrunk_from, upload.shrunk_to
            say(f"{name}: sent at {to_w}x{to_h} (from {w}x{h}: the most this job reads; --keep-original sends the original)")
    data = {**form_fields(params), "response": "stream", **({"keep": "true"} if keep else {}),
            **({"style_name": ",".join(style_names)} if style_names else {})}
    target = endpoint(url)
    try:
        # Leaving this block for any reason (done, error, Ctrl-C, generator closed) closes the connection.
        with httpx.stream("POST", target, files=files, data=data, timeout=httpx.Timeout(timeout, connect=10)) as response:
            if response.status_code >= 400:
                response.read()
                raise ClientError(f"HTTP {response.status_code}: {message_of(response)}", 2 if response.status_code < 500 else 3)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("event") == "error":
                    raise ClientError(f"server error: {event.get('message')}", 3)
                yield event
                if event.get("event") == "done":
                    return
    except httpx.TransportError as exc:
        raise ClientError(f"cannot reach {target}: {exc.__class__.__name__}: {exc}", 3) from None
    raise ClientError("the stream ended before the result arrived (server restarted or connection cut)", 3)


def message_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.text[:200])
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase


RESULT_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def result_location(link: str, url: str = DEFAULT_URL) -> tuple[str, str]:
    """(server root, result id) from a share link (…/r/<id>), an image link (…/results/<id>/…) or a bare id."""
    text = link.strip()
    if RESULT_ID.fullmatch(text):
        parts = urlsplit(url if "://" in url else "http://" + url)
        return f"{parts.scheme}://{parts.netloc}", text
    parts = urlsplit(text if "://" in text else "http://" + text)
    match = re.fullmatch(r"(?:.*?)/(?:r|results)/([A-Za-z0-9_-]{22})(?:/[^/]*)?/?", parts.path)
    if not match:
        raise ClientError(f"result: {link!r} is not a result link (…/r/<id>) or id", 2)
    return f"{parts.scheme}://{parts.netloc}", match[1]


def final_image(event: dict[str, Any], url: str, timeout: float = 300.0) -> bytes:
    """A done event's PNG: its base64 ``image``, or for a stored big picture the file its ``image_link`` names,
    fetched from the server the job was sent to."""
    if "image" in event:
        return base64.b64decode(event["image"])
    answer = httpx.get(f"{share_root(url)}{event['image_link']}", timeout=timeout)
    if answer.status_code != 200:
        raise ClientError(f"HTTP {answer.status_code} fetching the result {event['image_link']}: {message_of(answer)}", 3)
    return answer.content


def share_root(url: str) -> str:
    parts = urlsplit(endpoint(url))
    return f"{parts.scheme}://{parts.netloc}"
