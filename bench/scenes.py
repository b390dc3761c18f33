"""Deterministic benchmark images drawn in code, so every run and machine uses the same pixels."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

DRAW_SIZE = 512  # drawn once at this size and resized, so every benchmark size shows the same scene


def content_image(size: int = DRAW_SIZE) -> Image.Image:
    """A square landscape: graded sky, sun, mountains, a house, ground with furrows."""
    s = DRAW_SIZE
    img = Image.new("RGB", (s, s))
    draw = ImageDraw.Draw(img)
    for y in range(s // 2 + 40):  # sky gradient: fine structure for the content layers
        t = y / (s / 2 + 40)
        draw.line([(0, y), (s, y)], fill=(int(90 + 100 * t), int(140 + 70 * t), int(220 - 20 * t)))
    draw.ellipse([330, 50, 420, 140], fill=(250, 215, 70))
    draw.polygon([(0, 300), (120, 140), (230, 300)], fill=(110, 95, 85))
    draw.polygon([(150, 300), (290, 110), (430, 300)], fill=(90, 80, 95))
    draw.polygon([(250, 140), (290, 110), (330, 150), (290, 160)], fill=(240, 240, 250))
    draw.rectangle([0, 296, s, s], fill=(70, 140, 60))
    for i in range(12):  # furrows converging to a vanishing point
        draw.line([(s // 2, 296), (i * s // 11, s)], fill=(50, 110, 45), width=3)
    draw.rectangle([60, 330, 190, 430], fill=(200, 80, 60))
    draw.polygon([(50, 330), (125, 270), (200, 330)], fill=(120, 40, 40))
    draw.rectangle([110, 380, 140, 430], fill=(80, 50, 30))
    return img.resize((size, size), Image.Resampling.LANCZOS) if size != s else img


def style_image(size: int = DRAW_SIZE) -> Image.Image:
    """A colourful texture: concentric rings, diagonal strokes and dots (no content to copy)."""
    s = DRAW_SIZE
    img = Image.new("RGB", (s, s), (25, 25, 70))
    draw = ImageDraw.Draw(img)
    for r in range(s, 0, -24):
        hue = r / s
        draw.ellipse([s / 2 - r, s / 2 - r, s / 2 + r, s / 2 + r],
                     fill=(int(127 + 120 * math.sin(6.3 * hue)), int(127 + 120 * math.sin(6.3 * hue + 2.1)),
                           int(127 + 120 * math.sin(6.3 * hue + 4.2))))
    for i in range(0, 2 * s, 20):
        draw.line([(i, 0), (i - s, s)], fill=(250, 240, 200), width=3)
    for x in range(10, s, 40):
        for y in range(10, s, 40):
            draw.ellipse([x, y, x + 10, y + 10], fill=(20, 20, 20))
    return img.resize((size, size), Image.Resampling.LANCZOS) if size != s else img
