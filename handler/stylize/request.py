"""One inference request -> a validated job, with the server's limits. No TorchServe import.

TorchServe hands a handler one dict per request: multipart fields by name (files as bytes,
text fields as str or bytes), or a JSON body (already parsed) under ``body``. This module turns
that into images + :class:`StyleParams` and refuses anything doubtful with a
:class:`RequestError` whose message names the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from PIL import Image

from . import images
from .params import MAX_STYLES, ParamError, StyleParams

RESPONSES = ("stream", "json", "png")
CAPABILITIES = "capabilities"  # response=capabilities: what this server accepts, instead of a job
STYLE_FIELDS = ("style", *(f"style_{i}" for i in range(2, MAX_STYLES + 1)))
IMAGE_FIELDS = ("content", *STYLE_FIELDS)
# Region masks (greyscale, any size): over the content for style N, over style N's own image.
MASK_FIELDS = ("mask", *(f"mask_{i}" for i in range(2, MAX_STYLES + 1)))
STYLE_MASK_FIELDS = ("style_mask", *(f"style_mask_{i}" for i in range(2, MAX_STYLES + 1)))
UPLOAD_FIELDS = (*IMAGE_FIELDS, *MASK_FIELDS, *STYLE_MASK_FIELDS)
LIST_FIELDS = {"style": STYLE_FIELDS, "mask": MASK_FIELDS, "style_mask": STYLE_MASK_FIELDS}  # JSON may send these as lists
MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may ask of a worker. Operators override these in model-config.yaml."""

    max_image_bytes: int = 16 * MIB  # per uploaded image (after base64 decoding)
    max_request_bytes: int = 64 * MIB  # all images together; TorchServe's max_request_size matches
    max_pixels: int = images.DEFAULT_MAX_PIXELS  # decoded pixels per image, checked from the header
    max_styles: int = MAX_STYLES
    max_size: int = 1024  # longest output side
    max_iterations: int = 2000
    # Work budget: output pixels x iterations (an upper bound: multiscale stages are smaller).
    # 1024x1024 x 300 iterations; about 40 min on 2 CPU cores, about 1 min on a GPU.
    max_work: int = 1024 * 1024 * 300
    max_time_s: float = 1800.0  # wall-clock cap per job: time_budget_s is clamped to this

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Limits:
        known = {f.name: f.type for f in fields(cls)}
        values = dict(values or {})
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown limit(s) in model-config.yaml: {', '.join(unknown)}")
        return cls(**{k: (float(v) if k == "max_time_s" else int(v)) for k, v in values.items()})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class RequestError(ValueError):
    """A request the server refuses: HTTP ``status`` with ``"<field>: <what is wrong>"``."""

    def __init__(self, field_name: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.status = status

    def body(self) -> dict[str, Any]:
        kind = "PayloadTooLarge" if self.status == 413 else "InvalidInput"
        return {"code": self.status, "type": kind, "message": str(self)}


@dataclass(frozen=True)
class Job:
    content: Image.Image
    styles: list[Image.Image]
    params: StyleParams
    response: str  # stream | json | png
    masks: tuple[Image.Image | None, ...] = ()  # "L" mask over the content per style (None: everywhere)
    style_masks: tuple[Image.Image | None, ...] = ()  # "L" mask over each style's own image (None: all of it)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for Engine.run beyond content/styles/params: the masks, if any were sent."""
        if not any(m is not None for m in (*self.masks, *self.style_masks)):
            return {}
        return {"masks": list(self.masks), "style_masks": list(self.style_masks)}


def asks_capabilities(fields_in: Mapping[str, Any]) -> bool:
    """``?response=capabilities`` (query string or form field): describe the server, run nothing."""
    value = fields_in.get("response")
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    return isinstance(value, str) and value.strip().lower() == CAPABILITIES


def parse(fields_in: Mapping[str, Any], accept: str | None = None, limits: Limits = Limits(),
          repeated: frozenset[str] = frozenset(), network: str | None = None) -> Job:
    """Validate one request. ``repeated`` names multipart fields that arrived more than once; ``network``
    is the one this server holds (the default for the field, and the only one accepted)."""
    if repeated:
        name = sorted(repeated)[0]
        hint = "send further style images as style_2, style_3, …" if name == "style" else "send each field once"
        raise RequestError(name, f"was sent more than once; {hint}")
    raw = _unwrap_body(fields_in)
    values, images_raw = _split(raw)
    response = _response_form(values.pop("response", None), accept)
    params = _params(values, limits)
    blobs = _image_bytes(images_raw, limits)
    n_styles = sum(name in blobs for name in STYLE_FIELDS)
    if n_styles > limits.max_styles:
        raise RequestError(STYLE_FIELDS[limits.max_styles], f"this server takes at most {limits.max_styles} style images, got {n_styles}")
    content = images.decode(blobs["content"], "content", limits.max_pixels)
    styles = [images.decode(blobs[name], name, limits.max_pixels) for name in STYLE_FIELDS if name in blobs]
    try:
        params = params.validated(n_styles=len(styles), network=network)
    except ParamError as err:
        raise RequestError(err.field, err.message) from None
    _check_work(params, content.size, limits)
    masks, style_masks = _masks(blobs, len(styles), limits)
    return Job(content, styles, params, response, masks, style_masks)


def _masks(blobs: Mapping[str, bytes], n_styles: int, limits: Limits) -> tuple[tuple[Image.Image | None, ...], tuple[Image.Image | None, ...]]:
    """Decode the region masks; refuse one for a style that was not sent, and a set that covers nothing."""
    out: list[tuple[Image.Image | None, ...]] = []
    for names in (MASK_FIELDS, STYLE_MASK_FIELDS):
        for name in names[n_styles:]:
            if name in blobs:
                raise RequestError(name, f"there is no style {names.index(name) + 1} for this mask ({n_styles} style image(s) sent)")
        decoded = [images.decode_mask(blobs[name], name, limits.max_pixels) if name in blobs else None for name in names[:n_styles]]
        out.append(tuple(decoded) if any(m is not None for m in decoded) else ())
    masks, style_masks = out
    sent = [(name, m) for name, m in zip(MASK_FIELDS, masks, strict=False) if m is not None]
    if sent and all(_is_black(m) for _, m in sent):
        raise RequestError(sent[0][0], "every mask is black, so no style would apply anywhere (white = style applies)")
    for name, m in zip(STYLE_MASK_FIELDS, style_masks, strict=False):
        if m is not None and _is_black(m):
            raise RequestError(name, "is all black: it selects no part of the style image (white = take the style from here)")
    return masks, style_masks


def _is_black(mask: Image.Image) -> bool:
    return mask.getextrema()[1] == 0


def _unwrap_body(fields_in: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON or raw body arrives under ``body`` (plus any query-string fields); multipart
    fields arrive by their own names."""
    if "body" not in fields_in:
        return dict(fields_in)
    others = {k: v for k, v in fields_in.items() if k != "body"}
    flat = _body_fields(fields_in["body"])
    for name in flat:
        if name in others:
            raise RequestError(name, "given both in the URL and in the body")
    return {**others, **flat}


def _body_fields(body: Any) -> dict[str, Any]:
    wrong = "must be multipart/form-data (content, style files) or application/json with base64 images"
    if isinstance(body, Mapping):
        return _flatten_json(body)
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body)
        if not text.strip():
            raise RequestError("body", "is empty; send multipart/form-data with content and style files, or a JSON object")
        if text.lstrip()[:1] in (b"{", b"["):
            try:
                parsed = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                raise RequestError("body", "is not valid JSON") from None
            if isinstance(parsed, Mapping):
                return _flatten_json(parsed)
            raise RequestError("body", "must be a JSON object")
        raise RequestError("body", wrong)
    if isinstance(body, str):
        if not body.strip():
            raise RequestError("body", "is empty; send multipart/form-data with content and style files, or a JSON object")
        raise RequestError("body", wrong)
    raise RequestError("body", "must be a JSON object")


def _flatten_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """JSON: images as base64 strings (``style`` may be a list), params nested or at top level."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name == "params":
            if not isinstance(value, Mapping):
                raise RequestError("params", "must be a JSON object")
            for key, inner in value.items():
                if key in body:
                    raise RequestError(key, "given both at top level and in params")
                out[key] = inner
        elif name in UPLOAD_FIELDS:
            listed = name in LIST_FIELDS and isinstance(value, list)
            items = value if listed else [value]
            if listed:
                if len(value) > MAX_STYLES:
                    raise RequestError(name, f"at most {MAX_STYLES} entries (one per style image) are allowed, got {len(value)}")
                clash = [f for f in LIST_FIELDS[name][1:len(items)] if f in body]
                if clash:
                    raise RequestError(clash[0], f"given both here and in the {name} list")
            for i, item in enumerate(items):
                field_name = LIST_FIELDS[name][i] if listed else name
                if item is None and field_name not in IMAGE_FIELDS:
                    continue  # a mask list may skip a style with null: that style applies everywhere
                out[field_name] = _b64(field_name, item)
        else:
            out[name] = value
    return out


_DATA_URL = re.compile(r"^data:[\w.+/-]*;base64,", re.I)


def _b64(field_name: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise RequestError(field_name, "must be a base64-encoded image string")
    text = _DATA_URL.sub("", value.strip())
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(field_name, "is not valid base64") from None


def _split(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    blobs: dict[str, Any] = {}
    for name, value in raw.items():
        if name in UPLOAD_FIELDS:
            blobs[name] = value
        elif re.fullmatch(r"(style_)?mask_?\d*", name):
            raise RequestError(name, f"too many masks or a bad name: use mask, mask_2 … mask_{MAX_STYLES} and style_mask, style_mask_2 …")
        elif re.fullmatch(r"style_?\d+", name):
            raise RequestError(name, f"too many style images or a bad name: use style, style_2 … style_{MAX_STYLES}")
        elif name in ("styles", "style[]", "images", "image", "file"):
            raise RequestError(name, "unknown image field; send content, style, style_2 …")
        else:
            values[name] = _text(name, value)
    return values, blobs


def _text(name: str, value: Any) -> Any:
    """Form text fields may reach us as bytes; JSON values keep their types."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise RequestError(name, "is not UTF-8 text") from None
    return value


def _response_form(requested: Any, accept: str | None) -> str:
    if requested is not None:
        text = str(requested).strip().lower()
        if text not in RESPONSES:
            raise RequestError("response", f"must be one of {', '.join(RESPONSES)}, got {str(requested)[:40]!r}")
        return text
    accept = (accept or "").lower()
    if "application/x-ndjson" in accept:
        return "stream"
    if "application/json" in accept:
        return "json"
    return "png"


def _params(values: dict[str, Any], limits: Limits) -> StyleParams:
    try:
        params = StyleParams.from_mapping(values)
    except ParamError as err:
        raise RequestError(err.field, err.message) from None
    if "size" not in values and params.size > limits.max_size:  # the default adapts to a smaller server
        params = replace(params, size=limits.max_size)
    if "iterations" not in values and params.iterations > limits.max_iterations:
        params = replace(params, iterations=limits.max_iterations)
    if params.size > limits.max_size:
        raise RequestError("size", f"must be at most {limits.max_size} on this server, got {params.size}")
    if params.iterations > limits.max_iterations:
        raise RequestError("iterations", f"must be at most {limits.max_iterations} on this server, got {params.iterations}")
    budget = params.time_budget_s
    if budget is None or budget > limits.max_time_s:
        params = replace(params, time_budget_s=limits.max_time_s)
    return params


def _check_work(params: StyleParams, content_wh: tuple[int, int], limits: Limits) -> None:
    """Output pixels (the content's aspect ratio kept) x iterations within the work budget."""
    w, h = images.fit_size(content_wh[0], content_wh[1], params.size)
    if w * h * params.iterations > limits.max_work:
        most = max(1, limits.max_work // (w * h))
        raise RequestError("iterations", f"size {params.size} x {params.iterations} iterations exceeds this server's work budget; "
                                         f"at this size at most {most} iterations")


def _image_bytes(blobs: Mapping[str, Any], limits: Limits) -> dict[str, bytes]:
    for required in ("content", "style"):
        if required not in blobs:
            extra = " (further styles go in style_2, style_3 …)" if required == "style" else ""
            raise RequestError(required, f"is missing: attach an image file{extra}")
    out: dict[str, bytes] = {}
    total = 0
    for name in UPLOAD_FIELDS:
        if name not in blobs:
            continue
        value = blobs[name]
        if isinstance(value, str):  # a file sent as text/plain arrives decoded
            value = value.encode("utf-8")
        if not isinstance(value, (bytes, bytearray)):
            raise RequestError(name, "must be an image file (a JSON document was sent)")
        if len(value) > limits.max_image_bytes:
            raise RequestError(name, f"is {len(value)} bytes, over the limit of {limits.max_image_bytes} bytes per image", status=413)
        total += len(value)
        out[name] = bytes(value)
    if total > limits.max_request_bytes:
        raise RequestError("content", f"images total {total} bytes, over the limit of {limits.max_request_bytes} per request", status=413)
    missing = [name for i, name in enumerate(STYLE_FIELDS[1:], start=2) if name in out and STYLE_FIELDS[i - 2] not in out]
    if missing:
        raise RequestError(missing[0], "style images must be numbered without gaps (style, style_2, style_3 …)")
    return out
