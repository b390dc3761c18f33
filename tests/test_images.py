"""Image decoding: every mode to RGB, EXIF orientation, and each kind of bad input refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import torch
from images_util import content_image, to_bytes
from PIL import Image
from stylize import FieldError, images


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares a huge image (a decompression bomb) with a tiny body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "is empty"),
    (b"hello, this is text", "not a supported image"),
    (b"<html><body>hi</body></html>", "not a supported image"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not a supported image"),
    (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "not a supported image"),
    (b"PK\x03\x04" + b"\x00" * 40, "not a supported image"),
])
def test_non_images_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FieldError, match=f"^content: .*{reason}"):
        images.decode(data, "content")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = to_bytes(content_image(64, 64), fmt)
    with pytest.raises(FieldError, match="^style: could not be decoded"):
        images.decode(data[: len(data) // 2], "style")


def test_bomb_is_refused_from_the_header() -> None:
    with pytest.raises(FieldError, match="^content: declares more pixels than the limit"):
        images.decode(_png_header_only(100_000, 100_000), "content")
    with pytest.raises(FieldError, match="^content: is 9000x8000 = 72.0 megapixels, over the limit of 64 megapixels"):
        images.decode(_png_header_only(9000, 8000), "content")
    with pytest.raises(FieldError, match="over the limit of 0.001 megapixels"):
        images.decode(to_bytes(content_image(64, 48)), "content", max_pixels=1000)


def test_error_never_echoes_file_contents() -> None:
    secret = b"SECRET-TOKEN-1234" * 4
    with pytest.raises(FieldError) as err:
        images.decode(secret, "content")
    assert "SECRET" not in str(err.value)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "CMYK", "I;16", "P", "1"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    img = content_image(32, 24).convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode == "I;16":
        img = Image.new("I;16", (32, 24))
        img.putdata([i * 80 for i in range(32 * 24)])
    else:
        img = img.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = images.decode(to_bytes(img, fmt), "content")
    assert decoded.mode == "RGB" and decoded.size == (32, 24)
    if mode == "I;16":  # 16-bit range scaled, not clipped: the brightest pixel is not saturated at the start
        assert decoded.getextrema()[0][1] > 200 and decoded.getpixel((4, 0))[0] < 10


def test_transparency_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert images.decode(to_bytes(rgba), "style").getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    palette.info["transparency"] = 0
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", transparency=0)
    assert images.decode(buffer.getvalue(), "style").getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    decoded = images.decode(to_bytes(img, "JPEG", exif=exif.tobytes(), quality=95), "content")
    assert decoded.size == (20, 40)
    r, _, b = decoded.getpixel((10, 2))
    assert r > 200 and b < 60  # the left stripe is now on top


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    decoded = images.decode(buffer.getvalue(), "style")
    assert decoded.getpixel((0, 0))[0] > 200


def test_tiff_and_webp_decode() -> None:
    for fmt in ("TIFF", "WEBP"):
        assert images.decode(to_bytes(content_image(32, 24), fmt), "content").size == (32, 24)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_encode_round_trip(fmt: str) -> None:
    tensor = images.to_tensor(content_image(32, 24))
    decoded = Image.open(io.BytesIO(images.encode(tensor, fmt)))
    assert decoded.size == (32, 24) and decoded.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    if fmt == "png":
        assert torch.equal(images.to_tensor(decoded.convert("RGB")), tensor)


def test_fit_size_keeps_aspect_ratio() -> None:
    assert images.fit_size(640, 480, 64) == (64, 48)
    assert images.fit_size(480, 640, 64) == (48, 64)
    assert images.fit_size(1000, 10, 64) == (64, 16)  # the short side never drops below the network's minimum
