"""The hostile-input corpus: each case is a request and the answer the server must give."""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from images_util import content_image, style_image, to_bytes
from PIL import Image
from serving.request import Limits

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))
SMALL = {"size": "32", "iterations": "2"}


OVER_IMAGE_LIMIT = Limits().max_image_bytes + 10  # the default limit; model-config.yaml keeps it


@dataclass
class Case:
    name: str
    status: int  # expected HTTP status
    field_name: str | None = None  # the field the error message must name (None for a 200)
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    data: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect_size: tuple[int, int] | None = None  # output size for accepted odd images

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.files is not None:
            kwargs["files"] = self.files
            kwargs["data"] = self.data
        elif self.content is not None:
            kwargs["content"] = self.content
        return kwargs


def upload(content: bytes = CONTENT, style: bytes = STYLE, name: str = "content.jpg", ctype: str = "image/jpeg") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("content", (name, content, ctype)), ("style", ("style.png", style, "image/png"))]


def png_with_declared_size(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring a huge image, then a tiny IDAT: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _save(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def exif_rotated_jpeg() -> bytes:
    """Stored landscape 64x32 with EXIF orientation 6 (rotate 90° CW to view): upright it is portrait."""
    img = content_image(64, 32)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(img, "JPEG", exif=exif.tobytes(), quality=90)


def odd_images() -> dict[str, bytes]:
    palette = Image.new("P", (40, 30))
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    palette.putpixel((5, 5), 1)
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "one_pixel": _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"),
        "png_16bit": _save(Image.new("I;16", (40, 30), 40000), "PNG"),
        "cmyk_jpeg": _save(content_image(40, 30).convert("CMYK"), "JPEG"),
        "palette_transparency": _save(palette, "PNG", transparency=0),
        "animated_gif": gif.getvalue(),
        "tiff": _save(content_image(40, 30), "TIFF"),
    }


def cases() -> list[Case]:
    jpeg = to_bytes(content_image(64, 48), "JPEG")
    png = CONTENT
    out = [
        Case("empty body", 400, "body", content=b"", headers={"Content-Type": "application/octet-stream"}),
        Case("missing content", 400, "content", files=[("style", ("s.png", STYLE, "image/png"))], data=SMALL),
        Case("missing style", 400, "style", files=[("content", ("c.png", CONTENT, "image/png"))], data=SMALL),
        Case("zero-byte content", 400, "content", files=upload(b""), data=SMALL),
        Case("zero-byte style", 400, "style", files=upload(style=b""), data=SMALL),
        Case("text as .jpg", 400, "content", files=upload(b"hello, this is not a picture\n" * 20), data=SMALL),
        Case("html as .jpg", 400, "content", files=upload(b"<!doctype html><html><body><script>alert(1)</script></body></html>"), data=SMALL),
        Case("svg as .jpg", 400, "content", files=upload(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), data=SMALL),
        Case("pdf as .jpg", 400, "content", files=upload(b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"), data=SMALL),
        Case("zip as .jpg", 400, "content", files=upload(b"PK\x03\x04" + b"\x00" * 100), data=SMALL),
        Case("truncated jpeg", 400, "content", files=upload(jpeg[: len(jpeg) // 2]), data=SMALL),
        Case("truncated png", 400, "content", files=upload(png[: len(png) // 2], ctype="image/png"), data=SMALL),
        Case("png bomb header", 400, "content", files=upload(png_with_declared_size(100_000, 100_000), ctype="image/png"), data=SMALL),
        Case("style bomb header", 400, "style", files=upload(style=png_with_declared_size(30_000, 30_000)), data=SMALL),
        Case("image over the byte limit", 413, "content", files=upload(b"\xff\xd8\xff" + b"\x00" * (OVER_IMAGE_LIMIT)), data=SMALL),
        Case("too many style images", 400, "style_9",
             files=upload() + [(f"style_{i}", (f"s{i}.png", STYLE, "image/png")) for i in range(2, 10)], data=SMALL),
        Case("style numbering gap", 400, "style_3", files=[*upload(), ("style_3", ("s3.png", STYLE, "image/png"))], data=SMALL),
        Case("repeated style field", 400, "style", files=[*upload(), ("style", ("again.png", STYLE, "image/png"))], data=SMALL),
        Case("unknown parameter", 400, "strength", files=upload(), data={**SMALL, "strength": "11"}),
        Case("bad response form", 400, "response", files=upload(), data={**SMALL, "response": "html"}),
        Case("malformed json body", 400, "body", content=b'{"content": "abc", ', headers={"Content-Type": "application/json"}),
        Case("json array body", 400, "body", content=b"[1, 2, 3]", headers={"Content-Type": "application/json"}),
        Case("json bad base64", 400, "content", content=json.dumps({"content": "@@not base64@@", "style": "AAAA"}).encode(),
             headers={"Content-Type": "application/json"}),
        Case("json image is a number", 400, "style", content=json.dumps({"content": __import__("base64").b64encode(CONTENT).decode(), "style": 7}).encode(),
             headers={"Content-Type": "application/json"}),
        Case("wrong content-type", 400, "body", content=b"content=a&style=b", headers={"Content-Type": "text/plain"}),
        Case("size over the server limit", 400, "size", files=upload(), data={"size": "5000", "iterations": "1"}),
        Case("work budget exceeded", 400, "iterations", files=upload(), data={"size": "1024", "iterations": "1000"}),
    ]
    bad_values = {
        "size": ["nan", "inf", "-64", "1e12", "big", "12.5"],
        "iterations": ["nan", "-1", "0", "1e9", "ten"],
        "content_weight": ["nan", "-1", "inf"],
        "style_weight": ["-inf", "1e30", "heavy"],
        "tv_weight": ["nan", "-0.5"],
        "style_scale": ["0", "100", "inf"],
        "learning_rate": ["0", "5", "nan"],
        "seed": ["-1", "1.5", "9999999999999"],
        "snapshot_every": ["-2", "1e6"],
        "time_budget_s": ["-5", "nan", "1e12"],
        "style_blend": ["a,b", "-1", "nan", "1,1"],
        "style_layers": ["relu9_9", ""],
        "content_layers": ["conv0_0"],
        "style_layer_weights": ["1,2"],
        "pooling": ["min"],
        "init": ["zeros"],
        "optimizer": ["sgd"],
        "preserve_colors": ["maybe"],
        "multiscale": ["2"],
    }
    for name, values in bad_values.items():
        out += [Case(f"{name}={v!r}", 400, name, files=upload(), data={**SMALL, name: v}) for v in values]
    odd = odd_images()
    # a 1x1 photo would run as a flat colour: refused below the server's min_content_side, naming content
    out.append(Case("one_pixel content", 400, "content", files=upload(odd.pop("one_pixel"), name="one.png", ctype="image/png"), data=SMALL))
    for name, data in odd.items():
        size = {"animated_gif": (32, 24), "png_16bit": (32, 24), "cmyk_jpeg": (32, 24),
                "palette_transparency": (32, 24), "tiff": (32, 24)}[name]
        out.append(Case(f"accepted: {name}", 200, files=upload(data, name=f"{name}.bin", ctype="application/octet-stream"), data=SMALL, expect_size=size))
    out.append(Case("accepted: exif-rotated jpeg comes out upright", 200, files=upload(exif_rotated_jpeg()), data=SMALL, expect_size=(16, 32)))
    out += mask_cases()
    out += result_cases()
    return out


def _mask(value: int = 255, size: tuple[int, int] = (64, 48), mode: str = "L") -> bytes:
    """Left half at ``value``, right half black."""
    img = Image.new(mode, size, 0)
    img.paste(value if mode == "L" else (value, value, value, 255), (0, 0, size[0] // 2, size[1]))
    return _save(img, "PNG")


def mask_cases() -> list[Case]:
    """Region masks: validated like images, plus what only masks can get wrong."""
    def with_files(*extra: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
        return upload() + [(name, (f"{name}.png", data, "image/png")) for name, data in extra]
    two_styles = with_files(("style_2", STYLE))
    b64 = __import__("base64").b64encode
    return [
        Case("mask for a style not sent", 400, "mask_2", files=with_files(("mask_2", _mask())), data=SMALL),
        Case("style mask for a style not sent", 400, "style_mask_3", files=[*two_styles, ("style_mask_3", ("m.png", _mask(), "image/png"))], data=SMALL),
        Case("all-black mask set", 400, "mask", files=[*two_styles, ("mask", ("m.png", _mask(0), "image/png")), ("mask_2", ("m2.png", _mask(0), "image/png"))], data=SMALL),
        Case("all-black style mask", 400, "style_mask", files=with_files(("style_mask", _mask(0))), data=SMALL),
        Case("fully transparent mask", 400, "mask", files=with_files(("mask", _mask(0, mode="RGBA"))), data=SMALL),
        Case("text as mask", 400, "mask", files=with_files(("mask", b"white on the left please\n" * 10)), data=SMALL),
        Case("truncated mask", 400, "mask", files=with_files(("mask", _mask()[:40])), data=SMALL),
        Case("mask bomb header", 400, "mask", files=with_files(("mask", png_with_declared_size(100_000, 100_000))), data=SMALL),
        Case("mask over the byte limit", 413, "mask", files=with_files(("mask", b"\x89PNG" + b"\x00" * (OVER_IMAGE_LIMIT))), data=SMALL),
        Case("mask_9", 400, "mask_9", files=with_files(("mask_9", _mask())), data=SMALL),
        Case("repeated mask field", 400, "mask", files=with_files(("mask", _mask()), ("mask", _mask())), data=SMALL),
        Case("json mask is a number", 400, "mask", content=json.dumps({"content": b64(CONTENT).decode(), "style": b64(STYLE).decode(), "mask": 3}).encode(),
             headers={"Content-Type": "application/json"}),
        Case("accepted: half mask of another size", 200, files=with_files(("mask", _mask(size=(20, 10)))), data=SMALL, expect_size=(32, 24)),
        Case("accepted: painted transparent mask", 200, files=[*two_styles, ("mask", ("m.png", _mask(mode="RGBA"), "image/png"))],
             data=SMALL, expect_size=(32, 24)),
    ]


def result_cases() -> list[Case]:
    """The result store's fields: switches and deletions that must be refused by name.
    (Paths under /results/ are the front's: tests/deploy/test_results_front.py.)"""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        Case("store is not a boolean", 400, "store", files=upload(), data={**SMALL, "store": "perhaps"}),
        Case("store_inputs is not a boolean", 400, "store_inputs", files=upload(), data={**SMALL, "store_inputs": "2"}),
        Case("delete without a result id", 400, "result", content=b"response=delete", headers={**form, "X-Delete-Token": "t"}),
        Case("delete without a token", 400, "token", content=b"response=delete&result=" + b"A" * 22, headers=form),
        Case("delete a traversal id", 404, "result", content=b"response=delete&result=..%2F..%2Fetc", headers={**form, "X-Delete-Token": "t"}),
        Case("delete an unknown id", 404, "result", content=b"response=delete&result=" + b"A" * 22, headers={**form, "X-Delete-Token": "t"}),
        Case("delete with an extra field", 400, "size", content=b"response=delete&result=" + b"A" * 22 + b"&size=9", headers={**form, "X-Delete-Token": "t"}),
        Case("accepted: store=false", 200, files=upload(), data={**SMALL, "store": "false"}, expect_size=(32, 24)),
    ]
