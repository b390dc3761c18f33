"""Test images generated in code (no binary fixtures)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def content_image(width: int = 64, height: int = 48) -> Image.Image:
    """A simple landscape: sky, ground, sun, mountain."""
    img = Image.new("RGB", (width, height), (120, 170, 220))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, int(height * 0.65), width, height], fill=(60, 140, 60))
    draw.ellipse([width * 0.55, height * 0.1, width * 0.8, height * 0.4], fill=(250, 220, 60))
    draw.polygon([(width * 0.1, height * 0.65), (width * 0.3, height * 0.25), (width * 0.5, height * 0.65)], fill=(120, 90, 70))
    return img


def style_image(size: int = 64, colors: tuple[tuple[int, int, int], tuple[int, int, int]] = ((240, 120, 20), (30, 200, 230))) -> Image.Image:
    """Diagonal stripes in two colours on a dark ground."""
    img = Image.new("RGB", (size, size), (20, 20, 60))
    draw = ImageDraw.Draw(img)
    for i in range(0, 2 * size, 8):
        draw.line([(i, 0), (0, i)], fill=colors[0], width=2)
        draw.line([(size - i, size), (size, size - i)], fill=colors[1], width=2)
    return img


def to_bytes(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()
