"""One inference request -> a validated job spec, with the server's limits. No TorchServe import.

TorchServe hands a handler one dict per request: multipart fields by name (files as bytes,
text fields as str or bytes), or a JSON body (already parsed) under ``body``. This module turns
that into a :class:`~stylize.job.Job` (validated once, by :func:`stylize.job.make_job`) plus how to
answer it, and refuses anything doubtful with a :class:`~stylize.errors.FieldError` whose message
names the field (:class:`~serving.responses.PayloadTooLarge`: a 413).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from PIL import Image
from stylize import backbones, images
from stylize.errors import FieldError, OverPixelLimit
from stylize.fields import IMAGE_FIELDS, LIST_FIELDS, MASK_FIELDS, MAX_STYLES, STYLE_FIELDS, STYLE_MASK_FIELDS, SWITCHES, UPLOAD_FIELDS
from stylize.job import Job, make_job
from stylize.params import StyleParams
from stylize_options import FALSE_WORDS, TRUE_WORDS, style_side

from . import forms, gallery
from .memory import MIB
from .responses import PayloadTooLarge

CAPABILITIES = "capabilities"  # response=capabilities: what this server accepts, instead of a job
PLAN = "plan"  # response=plan (+ params, width, height): the stages a job would run, instead of running it
DELETE = "delete"  # response=delete + result=<id> (+ X-Delete-Token header): remove a stored result
STATUS = "status"  # response=status + result=<id>: a kept job's progress, from the shared store
CANCEL = "cancel"  # response=cancel + result=<id> (+ X-Cancel-Token header): stop a kept job
DOWNLOAD = "download"  # response=download + result=<id> (+ format=png|jpeg, quality): a stored result's picture
ASKS = (CAPABILITIES, PLAN, DELETE, STATUS, CANCEL, DOWNLOAD)
DOWNLOAD_FORMATS = ("png", "jpeg")
DEFAULT_JPEG_QUALITY = 90
# Per-job switches of the result store (serving.results, serving.kept), declared in stylize.fields.SWITCHES (so
# the schema and capabilities list them): not style parameters. keep: the job runs to its end whether or not its
# client stays.
STORE_FIELDS = {name: bool(spec["default"]) for name, spec in SWITCHES.items()}
# Built-in styles by name (serving.gallery), in place of uploaded style images: "starry", or "a,b" for two.
STYLE_NAME = "style_name"


@dataclass(frozen=True)
class Limits:
    """What one request may ask of a worker. Operators override these in model-config.yaml."""

    max_image_bytes: int = 32 * MIB  # per uploaded image (after base64 decoding): a 50 MP JPEG fits
    max_request_bytes: int = 64 * MIB  # all images together; TorchServe's max_request_size matches
    max_pixels: int = images.DEFAULT_MAX_PIXELS  # decoded pixels per image, checked from the header
    # shortest side of the content: below this the network's deepest features (16 px cells) have nothing to
    # see, and a 1x1 picture blown up to the output size is a flat colour, not a photo
    min_content_side: int = 16
    max_styles: int = MAX_STYLES
    max_size: int = 4096  # longest output side (memory admission and max_work bound it further)
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


@dataclass(frozen=True)
class JobRequest:
    """A job and how its sender wants it answered and kept."""

    job: Job
    response: str  # an answer form's name (serving.forms)
    store: bool = True  # keep the result and give it a share link (when the server keeps results)
    store_inputs: bool = False  # keep the content and style images with it (the share page's before/after)
    keep: bool = False  # run to the end whether or not the client stays (progress and cancel by link)


def asks(fields_in: Mapping[str, Any]) -> str | None:
    """``response=capabilities`` or ``response=plan`` (form field or query string): a question
    answered at once, without a run; None for a job."""
    value = fields_in.get("response")
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in ASKS else None


@dataclass(frozen=True)
class PlanQuestion:
    """``response=plan``: the effective params (limits applied), the content's size in pixels, and the most
    iterations this server takes at that size (its cap and the work budget), so a client can offer no more."""

    params: StyleParams
    content_wh: tuple[int, int]
    max_iterations: int


def parse_plan(fields_in: Mapping[str, Any], limits: Limits = Limits(), network: str | None = None) -> PlanQuestion:
    """The stages of a job that is not sent: params as for a job (checked the same way, the work budget
    included), plus ``width`` and ``height`` of the content image (no images are needed). The web app asks
    this while the user types, so every message it shows about a parameter is the server's own."""
    values, _uploads = _split(_unwrap_body(fields_in))
    values.pop("response", None)
    for name in (*STORE_FIELDS, STYLE_NAME):  # a job's inputs and switches, not parameters
        values.pop(name, None)
    wh = tuple(_dimension(name, values.pop(name, None), limits) for name in ("width", "height"))
    content_wh = (wh[0], wh[1])
    _check_content_size(content_wh, limits)
    params, maxima = _params(values, limits)
    params = params.validated(maxima=maxima, network=network)
    _check_work(params, content_wh, limits)
    return PlanQuestion(params, content_wh, most_iterations(params.size, content_wh, limits))


def _dimension(name: str, value: Any, limits: Limits) -> int:
    if value is None or value == "":
        raise FieldError(name, "is missing: response=plan needs the content image's width and height in pixels")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FieldError(name, f"must be a whole number of pixels, got {str(value)[:40]!r}") from None
    if not 1 <= number <= limits.max_pixels:
        raise FieldError(name, f"must be between 1 and {limits.max_pixels}, got {number}")
    return number


def parse(fields_in: Mapping[str, Any], accept: str | None = None, limits: Limits = Limits(),
          repeated: frozenset[str] = frozenset(), network: str | None = None) -> JobRequest:
    """Validate one request. ``repeated`` names multipart fields that arrived more than once; ``network``
    is the one this server holds (the default for the field, and the only one accepted; None: the default
    network)."""
    if repeated:
        name = sorted(repeated)[0]
        hint = "send further style images as style_2, style_3, …" if name == "style" else "send each field once"
        raise FieldError(name, f"was sent more than once; {hint}")
    raw = _unwrap_body(fields_in)
    values, images_raw = _split(raw)
    if STYLE_NAME in values:
        images_raw = _named_styles(values.pop(STYLE_NAME), images_raw, limits)
    response = _response_form(values.pop("response", None), accept)
    switches = {name: _switch(name, values.pop(name, None), default) for name, default in STORE_FIELDS.items()}
    if switches["keep"] and not switches["store"]:
        raise FieldError("keep", "a kept job is fetched by its link, so it needs store=true")
    params, maxima = _params(values, limits)
    blobs = _image_bytes(images_raw, limits, params)
    n_styles = sum(name in blobs for name in STYLE_FIELDS)
    if n_styles > limits.max_styles:
        raise FieldError(STYLE_FIELDS[limits.max_styles], f"this server takes at most {limits.max_styles} style images, got {n_styles}")
    content_side, style_side = _sides_needed(params, limits)  # big uploads shrink on arrival to what the job reads
    content = _decode(blobs["content"], "content", limits, content_side, _side_read(params, "content"))
    _check_content_size(content.size, limits)
    styles = [_decode(blobs[name], name, limits, style_side, _side_read(params, name)) for name in STYLE_FIELDS if name in blobs]
    masks, style_masks = _masks(blobs, len(styles), limits)
    job = make_job(content, styles, params, network=network or params.network or backbones.DEFAULT, maxima=maxima,
                   masks_over_content=masks, style_masks=style_masks)
    _check_work(job.params, content.size, limits)
    return JobRequest(job, response, **switches)


def _named_styles(value: Any, images_raw: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The built-in styles a job names, as its style images (style, style_2 … in the order named)."""
    names = [str(n).strip() for n in value] if isinstance(value, list) else [n.strip() for n in str(value).split(",")]
    names = [n for n in names if n]
    known = gallery.paintings()
    if any(name in images_raw for name in STYLE_FIELDS):
        raise FieldError(STYLE_NAME, "send either style images or style_name, not both")
    if not names:
        raise FieldError(STYLE_NAME, "is empty: name a built-in style (GET /capabilities lists them under styles)")
    if len(names) > limits.max_styles:
        raise FieldError(STYLE_NAME, f"this server takes at most {limits.max_styles} style images, got {len(names)}")
    for name in names:
        if name not in known:
            offer = ", ".join(known) or "none on this server"
            raise FieldError(STYLE_NAME, f"no built-in style {name[:60]!r}; the built-in styles are: {offer}")
    return {**images_raw, **{STYLE_FIELDS[i]: gallery.image_bytes(name) for i, name in enumerate(names)}}


def _sides_needed(params: StyleParams, limits: Limits) -> tuple[int | None, int | None]:
    """The longest sides kept of a job's content and styles on arrival: a 50 MP photo for a 2048 px job is decoded
    (JPEG: at a reduced DCT scale) and shrunk to 4096 px at once, not held at full size for the job's length.
    The params are not validated yet: a value make_job will refuse shrinks nothing."""
    try:
        size = min(int(params.size), limits.max_size)
        scale = min(max(float(params.style_scale), 0.1), 4.0)
    except (TypeError, ValueError, OverflowError):
        return None, None
    if size < 16:
        return None, None
    # twice what is read: the engine's own antialiased resize still makes the last step, so a picture up to
    # twice the output's size gives the same pixels as before; only bigger ones shrink
    return 2 * size, 2 * style_side(size, scale)


def _switch(name: str, value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = (bytes(value).decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)).strip().lower()
    if text in TRUE_WORDS | FALSE_WORDS:
        return text in TRUE_WORDS
    raise FieldError(name, f"must be true or false, got {text[:40]!r}")


@dataclass(frozen=True)
class DeleteQuestion:
    result_id: str
    token: str


def parse_delete(fields_in: Mapping[str, Any], token_header: str | None, what: str = DELETE) -> DeleteQuestion:
    """``response=delete`` (and ``response=cancel``, ``what``): ``result`` (the id) and the token, from the
    X-Delete-Token (X-Cancel-Token) header, what the front forwards, or a ``token`` field (a client talking to
    TorchServe directly)."""
    header = "X-Cancel-Token" if what == CANCEL else "X-Delete-Token"
    text = _question_fields(fields_in, {"token"}, f"result and the {header} header", what)
    token = (token_header or "").strip() or text.get("token", "")
    if not token:
        raise FieldError("token", f"is missing: send the {what} token in the {header} header")
    return DeleteQuestion(text["result"], token)


def parse_status(fields_in: Mapping[str, Any]) -> str:
    """``response=status``: the kept job's id (``result``)."""
    return _question_fields(fields_in, set(), "only result", STATUS)["result"]


@dataclass(frozen=True)
class DownloadQuestion:
    result_id: str
    format: str  # png | jpeg
    quality: int  # jpeg only


def parse_download(fields_in: Mapping[str, Any]) -> DownloadQuestion:
    """``response=download``: ``result`` (the id), ``format`` png (default, the stored file as it is) or jpeg,
    ``quality`` 1..100 (jpeg only; default 90). An empty value is the default (the front forwards every
    query parameter, sent or not)."""
    text = _question_fields(fields_in, {"format", "quality"}, "result, format and quality", DOWNLOAD)
    fmt = (text.get("format") or "png").lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in DOWNLOAD_FORMATS:
        raise FieldError("format", f"must be one of {', '.join(DOWNLOAD_FORMATS)}, got {text['format'][:40]!r}")
    quality = text.get("quality") or ""
    if quality and fmt != "jpeg":
        raise FieldError("quality", "applies to format=jpeg only (a PNG is lossless)")
    if quality and not (quality.isdigit() and 1 <= int(quality) <= 100):
        raise FieldError("quality", f"must be a whole number between 1 and 100, got {quality[:40]!r}")
    return DownloadQuestion(text["result"], fmt, int(quality) if quality else DEFAULT_JPEG_QUALITY)


def _question_fields(fields_in: Mapping[str, Any], extra: set[str], takes: str, what: str) -> dict[str, str]:
    values, _uploads = _split(_unwrap_body(fields_in))
    text = {k: (bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)).strip() for k, v in values.items()}
    unknown = sorted(set(text) - {"response", "result", *extra})
    if unknown:
        raise FieldError(unknown[0], f"unknown field for response={what} (it takes {takes})")
    if not text.get("result"):
        raise FieldError("result", f"is missing: the id of the result to {what}" if what != STATUS else "is missing: the kept job's id")
    return text


def _masks(blobs: Mapping[str, bytes], n_styles: int, limits: Limits) -> tuple[list[Image.Image | None], list[Image.Image | None]]:
    """Decode the region masks (make_job refuses one for a style that was not sent and a set that covers
    nothing, with the same checks as the CLI's)."""
    out: list[list[Image.Image | None]] = []
    for names in (MASK_FIELDS, STYLE_MASK_FIELDS):
        last = max((i for i, name in enumerate(names) if name in blobs), default=-1)
        out.append([images.decode_mask(blobs[name], name, limits.max_pixels) if name in blobs else None for name in names[:last + 1]])
    return out[0], out[1]


def _unwrap_body(fields_in: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON or raw body arrives under ``body`` (plus any query-string fields); multipart
    fields arrive by their own names."""
    if "body" not in fields_in:
        return dict(fields_in)
    others = {k: v for k, v in fields_in.items() if k != "body"}
    flat = _body_fields(fields_in["body"])
    for name in flat:
        if name in others:
            raise FieldError(name, "given both in the URL and in the body")
    return {**others, **flat}


def _body_fields(body: Any) -> dict[str, Any]:
    wrong = "must be multipart/form-data (content, style files) or application/json with base64 images"
    if isinstance(body, Mapping):
        return _flatten_json(body)
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body)
        if not text.strip():
            raise FieldError("body", "is empty; send multipart/form-data with content and style files, or a JSON object")
        if text.lstrip()[:1] in (b"{", b"["):
            try:
                parsed = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                raise FieldError("body", "is not valid JSON") from None
            if isinstance(parsed, Mapping):
                return _flatten_json(parsed)
            raise FieldError("body", "must be a JSON object")
        raise FieldError("body", wrong)
    if isinstance(body, str):
        if not body.strip():
            raise FieldError("body", "is empty; send multipart/form-data with content and style files, or a JSON object")
        raise FieldError("body", wrong)
    raise FieldError("body", "must be a JSON object")


def _flatten_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """JSON: images as base64 strings (``style`` may be a list), params nested or at top level."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name == "params":
            if not isinstance(value, Mapping):
                raise FieldError("params", "must be a JSON object")
            for key, inner in value.items():
                if key in body:
                    raise FieldError(key, "given both at top level and in params")
                out[key] = inner
        elif name in UPLOAD_FIELDS:
            listed = name in LIST_FIELDS and isinstance(value, list)
            items = value if listed else [value]
            if listed:
                if len(value) > MAX_STYLES:
                    raise FieldError(name, f"at most {MAX_STYLES} entries (one per style image) are allowed, got {len(value)}")
                clash = [f for f in LIST_FIELDS[name][1:len(items)] if f in body]
                if clash:
                    raise FieldError(clash[0], f"given both here and in the {name} list")
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
        raise FieldError(field_name, "must be a base64-encoded image string")
    text = _DATA_URL.sub("", value.strip())
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise FieldError(field_name, "is not valid base64") from None


def _split(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    blobs: dict[str, Any] = {}
    for name, value in raw.items():
        if name in UPLOAD_FIELDS:
            blobs[name] = value
        elif re.fullmatch(r"(style_)?mask_?\d*", name):
            raise FieldError(name, f"too many masks or a bad name: use mask, mask_2 … mask_{MAX_STYLES} and style_mask, style_mask_2 …")
        elif re.fullmatch(r"style_?\d+", name):
            raise FieldError(name, f"too many style images or a bad name: use style, style_2 … style_{MAX_STYLES}")
        elif name in ("styles", "style[]", "images", "image", "file"):
            raise FieldError(name, "unknown image field; send content, style, style_2 …")
        else:
            values[name] = _text(name, value)
    return values, blobs


def _text(name: str, value: Any) -> Any:
    """Form text fields may reach us as bytes; JSON values keep their types."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise FieldError(name, "is not UTF-8 text") from None
    return value


def _response_form(requested: Any, accept: str | None) -> str:
    if requested is not None:
        text = str(requested).strip().lower()
        if text not in forms.NAMES:
            raise FieldError("response", f"must be one of {', '.join(forms.NAMES)}, got {str(requested)[:40]!r}")
        return text
    return forms.for_accept(accept)


def _params(values: dict[str, Any], limits: Limits) -> tuple[StyleParams, dict[str, float]]:
    """The parameters as sent (not yet validated: make_job does that once, with the images), with the
    server's limits applied, and the maxima to validate them against.

    A value sent beyond this server's limit gets one message naming that limit ("between 16 and 1024"),
    not the engine's range; a default beyond it adapts instead (the user did not ask for it)."""
    server_max = {"size": limits.max_size, "iterations": limits.max_iterations}
    params = StyleParams.parse(values)
    if "size" not in values and params.size > limits.max_size:
        params = replace(params, size=limits.max_size)
    if "iterations" not in values and params.iterations > limits.max_iterations:
        params = replace(params, iterations=limits.max_iterations)
    # a budget within the engine's range but beyond this server's wall-clock cap is held to the cap
    budget, engine_max = params.time_budget_s, StyleParams.schema()["time_budget_s"]["max"]
    if budget is None or (isinstance(budget, (int, float)) and limits.max_time_s < budget <= engine_max):
        params = replace(params, time_budget_s=limits.max_time_s)
    return params, {k: v for k, v in server_max.items() if k in values}


def most_iterations(size: int, content_wh: tuple[int, int], limits: Limits) -> int:
    """The most iterations a job of this size and content may run here: the cap, and the work budget
    (output pixels, the content's aspect ratio kept, x iterations)."""
    w, h = images.fit_size(content_wh[0], content_wh[1], size)
    return max(1, min(limits.max_iterations, limits.max_work // (w * h)))


def _check_work(params: StyleParams, content_wh: tuple[int, int], limits: Limits) -> None:
    """Output pixels (the content's aspect ratio kept) x iterations within the work budget."""
    w, h = images.fit_size(content_wh[0], content_wh[1], params.size)
    if w * h * params.iterations > limits.max_work:
        most = max(1, limits.max_work // (w * h))
        raise FieldError("iterations", f"size {params.size} x {params.iterations} iterations exceeds this server's work budget; "
                                         f"at this size at most {most} iterations")


def _check_content_size(wh: tuple[int, int], limits: Limits) -> None:
    if min(wh) < limits.min_content_side:
        raise FieldError("content", f"is {wh[0]}x{wh[1]} px; this server needs at least {limits.min_content_side} px on each "
                                    "side (min_content_side): send a larger photo")


def _side_read(params: StyleParams, name: str) -> int | None:
    """The longest side the job reads of this upload (content: size; a style: size x style_scale); None when the
    params are too wrong to say (make_job will name them)."""
    try:
        size = int(params.size)
        return size if name == "content" else style_side(size, float(params.style_scale))
    except (TypeError, ValueError, OverflowError):
        return None


def _fix(side: int | None, limits: Limits) -> str:
    """How to get under a byte or pixel limit, in the message: the web app shrinks a picture to what the job reads
    before sending it; a script can do the same."""
    most = _megapixels(side * side) if side else _megapixels(limits.max_pixels)
    why = f" (this job reads it at most {side} px on its longest side)" if side else ""
    return f"the web app downscales for you; or send at most {most} megapixels{why}"


def _megapixels(pixels: int) -> str:
    return f"{max(0.1, math.ceil(pixels / 1e5) / 10):g}"


def _mb(n: int) -> str:
    return f"{n / 1e3:.0f} kB" if n < 1e5 else f"{n / 1e6:.1f} MB" if n < 1e8 else f"{n / 1e6:.0f} MB"


def _decode(data: bytes, name: str, limits: Limits, fit: int | None, side: int | None) -> Image.Image:
    """:func:`stylize.images.decode`, its pixel-limit refusal saying how to get under it."""
    try:
        return images.decode(data, name, limits.max_pixels, fit=fit)
    except OverPixelLimit as err:
        raise FieldError(name, f"{err.message}; {_fix(side, limits)}") from None


def _image_bytes(blobs: Mapping[str, Any], limits: Limits, params: StyleParams | None = None) -> dict[str, bytes]:
    for required in ("content", "style"):
        if required not in blobs:
            extra = " (further styles go in style_2, style_3 …)" if required == "style" else ""
            raise FieldError(required, f"is missing: attach an image file{extra}")
    out: dict[str, bytes] = {}
    total = 0
    for name in UPLOAD_FIELDS:
        if name not in blobs:
            continue
        value = blobs[name]
        if isinstance(value, str):  # a file sent as text/plain arrives decoded
            value = value.encode("utf-8")
        if not isinstance(value, (bytes, bytearray)):
            raise FieldError(name, "must be an image file (a JSON document was sent)")
        if len(value) > limits.max_image_bytes:
            side = _side_read(params, name) if params is not None and name in IMAGE_FIELDS else None
            raise PayloadTooLarge(name, f"is {_mb(len(value))}, over this server's limit of {_mb(limits.max_image_bytes)} per "
                                        f"image; {_fix(side, limits)}")
        total += len(value)
        out[name] = bytes(value)
    if total > limits.max_request_bytes:
        raise PayloadTooLarge("content", f"images total {_mb(total)}, over this server's limit of {_mb(limits.max_request_bytes)} "
                                         f"per request; {_fix(_side_read(params, 'content') if params is not None else None, limits)}")
    missing = [name for i, name in enumerate(STYLE_FIELDS[1:], start=2) if name in out and STYLE_FIELDS[i - 2] not in out]
    if missing:
        raise FieldError(missing[0], "style images must be numbered without gaps (style, style_2, style_3 …)")
    return out
