"""An upload at the size the job reads: a 50 MP phone photo for a 512 px job is sent as a 512 px picture, not as
20 MB the server would refuse (over its byte limit) or shrink on arrival anyway.

The only module of the client that reads pixels (Pillow, imported in :func:`fitted`, when a job is sent: ``get``,
``status`` and ``--help`` never load it). A file Pillow cannot open (a format this Pillow lacks) goes as it is: the server judges.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from pathlib import Path

JPEG_QUALITY = 92  # a photo stays a JPEG: a tenth of a PNG's bytes, no visible loss at the job's size


@dataclass(frozen=True)
class Upload:
    """What is sent for one field: the file name, its bytes and type, and what became of the original."""

    name: str
    data: bytes
    media_type: str
    shrunk_from: tuple[int, int] | None = None  # the original's size when it was downscaled
    shrunk_to: tuple[int, int] | None = None  # and the size sent

    def multipart(self) -> tuple[str, bytes, str]:
        return self.name, self.data, self.media_type


def original(path: Path) -> Upload:
    return Upload(path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")


def fitted(path: Path, side: int) -> Upload:
    """``path`` with its longest side at most ``side`` pixels (orientation applied, so a phone photo stays upright);
    the original bytes when it is no bigger or cannot be read here."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    sent = original(path)
    try:
        with Image.open(io.BytesIO(sent.data)) as img:
            if max(img.size) <= side:
                return sent
            was = img.size
            photo = img.format == "JPEG"
            if photo:  # the DCT decodes at 1/2, 1/4 or 1/8 scale, never below the size asked: a 50 MP photo in a blink
                img.draft(img.mode, _at_least(was, side))
            picture = ImageOps.exif_transpose(img)
            picture.thumbnail((side, side), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if photo:
                picture.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
            else:  # PNG keeps transparency, which the server composites on white
                picture.save(out, "PNG")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return sent
    suffix, media_type = (".jpg", "image/jpeg") if photo else (".png", "image/png")
    return Upload(f"{path.stem}{suffix}", out.getvalue(), media_type, shrunk_from=was, shrunk_to=picture.size)


def _at_least(size: tuple[int, int], side: int) -> tuple[int, int]:
    """The size whose longest side is ``side``, the aspect kept, rounded up (draft never goes below it)."""
    longest = max(size)
    return -(-size[0] * side // longest), -(-size[1] * side // longest)
