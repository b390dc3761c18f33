"""Draws docs/regions_example.png (the "Regions" figure of docs/api.md) on real features: Tübingen with Starry
Night in the sky and Turner's Shipwreck on the river, the houses between left to the content.

    PYTHONPATH=handler:. .venv/bin/python docs/regions_example.py [-o docs/regions_example.png] [--images ../shared/images]

`--weights-mode random --synthetic` draws the old texture-only figure on generated images (no real features).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, weights

from bench import scenes

SIZE = 192
ROOT = Path(__file__).resolve().parent.parent


def red_stripes(size: int = SIZE) -> Image.Image:
    img = Image.new("RGB", (size, size), (200, 30, 30))
    draw = ImageDraw.Draw(img)
    for x in range(-size, size, 10):
        draw.line([(x, 0), (x + size, size)], fill=(250, 170, 120), width=3)
    return img


def blue_dots(size: int = SIZE) -> Image.Image:
    img = Image.new("RGB", (size, size), (25, 40, 150))
    draw = ImageDraw.Draw(img)
    for x in range(3, size, 12):
        for y in range(3, size, 12):
            draw.ellipse([x, y, x + 5, y + 5], fill=(150, 200, 255))
    return img


def rows(y0: float, y1: float, wh: tuple[int, int] = (SIZE, SIZE)) -> Image.Image:
    mask = Image.new("L", wh, 0)
    ImageDraw.Draw(mask).rectangle([0, round(y0 * wh[1]), wh[0], round(y1 * wh[1]) - 1], fill=255)
    return mask


def overlay(content: Image.Image, masks: list[Image.Image], colours: list[tuple[int, int, int]]) -> Image.Image:
    out = content.copy()
    for mask, colour in zip(masks, colours, strict=True):
        out = Image.composite(Image.blend(out, Image.new("RGB", out.size, colour), 0.6), out, mask)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", default="docs/regions_example.png")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--weights-mode", choices=weights.MODES, default="strict")
    parser.add_argument("--synthetic", action="store_true", help="generated content and styles (for random-init)")
    args = parser.parse_args()
    state, info = weights.resolve(args.weights_mode)
    engine = Engine(state, info, "cpu")
    if args.synthetic:
        content, styles = scenes.content_image(SIZE), [red_stripes(), blue_dots()]
        masks = [rows(0, 0.42), rows(0.62, 1)]  # sky: stripes, ground: dots, the mountains between: no style
    else:
        photo = Image.open(args.images / "tubingen.jpg").convert("RGB")
        content = photo.resize(images.fit_size(photo.width, photo.height, SIZE), Image.Resampling.LANCZOS)
        styles = [Image.open(args.images / name).convert("RGB") for name in ("starry_night.jpg", "shipwreck.jpg")]
        masks = [rows(0, 0.3, content.size), rows(0.72, 1, content.size)]  # sky: Starry Night, river: Shipwreck, houses: neither
    params = StyleParams(size=SIZE, iterations=args.iterations, snapshot_every=0)
    blended = list(engine.run(engine.job(content, styles, params)))[-1].image
    regions = list(engine.run(engine.job(content, styles, params, masks=masks)))[-1].image
    panels = [("content", content), ("style 1", styles[0]), ("style 2", styles[1]),
              ("mask / mask_2", overlay(content, masks, [(255, 60, 60), (60, 100, 255)])),
              ("no masks (blend)", images.to_pil(blended)), ("with masks", images.to_pil(regions))]
    pad, label = 4, 14
    cell_h = content.size[1]
    sheet = Image.new("RGB", (len(panels) * (SIZE + pad) + pad, cell_h + label + 2 * pad + label), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(panels):
        x = pad + i * (SIZE + pad)
        sheet.paste(img.resize((SIZE, cell_h)), (x, pad + label))
        draw.text((x, pad), name, fill=(0, 0, 0))
    note = ("texture only, not real style-transfer quality: shows where each style goes" if info.is_random
            else "the regions keep each style to its part of the picture")
    draw.text((pad, cell_h + label + pad + 1), f"{info.label}, {args.iterations} iterations, {SIZE} px: {note}",
              fill=(120, 0, 0) if info.is_random else (0, 0, 0))
    sheet.save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
