"""The built-in styles: paintings a job may name (`style_name=starry…`) instead of uploading one.

One list for everyone: `frontend/gallery/gallery.json` (name, file, title, artist, year, licence) beside the
images. The front serves that folder to the web app as static files; tools/archive.py packs it into the .mar as
`gallery/`, next to this package; `$STYLE_GALLERY_DIR` points elsewhere. No folder found: no built-in styles.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MANIFEST = "gallery.json"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,80}")


@dataclass(frozen=True)
class Painting:
    name: str
    file: str
    title: str
    artist: str
    year: str
    licence: str

    def describe(self) -> dict[str, str]:
        """For capabilities: the name to send, what to show, and the file's path under the web app's root."""
        return {"name": self.name, "title": self.title, "artist": self.artist, "year": self.year, "licence": self.licence,
                "image": f"gallery/{self.file}", "thumbnail": f"gallery/thumbs/{self.file}"}


def candidates() -> list[Path]:
    here = Path(__file__).resolve().parent.parent  # the .mar's model dir, or handler/ in the repository
    env = os.environ.get("STYLE_GALLERY_DIR")
    return [Path(env)] if env else [here / "gallery", here.parent / "frontend" / "gallery"]


@cache
def folder() -> Path | None:
    return next((path for path in candidates() if (path / MANIFEST).is_file()), None)


@cache
def paintings() -> dict[str, Painting]:
    """The built-in styles by name (empty without a gallery folder)."""
    where = folder()
    if where is None:
        return {}
    listed = json.loads((where / MANIFEST).read_text(encoding="utf-8"))["styles"]
    out = {}
    for entry in listed:
        painting = Painting(**{key: str(entry[key]) for key in ("name", "file", "title", "artist", "year", "licence")})
        if not NAME.fullmatch(painting.name) or "/" in painting.file or not (where / painting.file).is_file():
            raise ValueError(f"{where / MANIFEST}: bad entry {entry!r}")
        out[painting.name] = painting
    return out


def describe() -> list[dict[str, Any]]:
    return [p.describe() for p in paintings().values()]


def image_bytes(name: str) -> bytes:
    """The painting's file; KeyError for a name not in the gallery."""
    painting = paintings()[name]
    where = folder()
    assert where is not None
    return (where / painting.file).read_bytes()
