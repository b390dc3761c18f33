"""Draws docs/regions_example.png (the README's "Regions" figure) with seeded random-init weights.

    PYTHONPATH=handler:. .venv/bin/python docs/regions_example.py [-o docs/regions_example.png]
"""

from __future__ import annotations

import argparse

from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, weights

from bench import scenes

SIZE = 128


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


def rows(y0: float, y1: float) -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rectangle([0, round(y0 * SIZE), SIZE, round(y1 * SIZE) - 1], fill=255)
    return mask


def overlay(content: Image.Image, masks: list[Image.Image], colours: list[tuple[int, int, int]]) -> Image.Image:
    out = content.copy()
    for mask, colour in zip(masks, colours, strict=True):
        out = Image.composite(Image.blend(out, Image.new("RGB", out.size, colour), 0.6), out, mask)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", default="docs/regions_example.png")
    parser.add_argument("--iterations", type=int, default=80)
    args = parser.parse_args()
    state, info = weights.obtain("random", seed=0)
    engine = Engine(state, info, "cpu")
    content, styles = scenes.content_image(SIZE), [red_stripes(), blue_dots()]
    masks = [rows(0, 0.42), rows(0.62, 1)]  # sky: stripes, ground: dots, the mountains between: no style
    params = StyleParams(size=SIZE, iterations=args.iterations, snapshot_every=0)
    blended = list(engine.run(content, styles, params))[-1].image
    regions = list(engine.run(content, styles, params, masks=masks))[-1].image
    panels = [("content", content), ("style 1", styles[0]), ("style 2", styles[1]),
              ("mask / mask_2", overlay(content, masks, [(255, 60, 60), (60, 100, 255)])),
              ("no masks (blend)", images.to_pil(blended)), ("with masks", images.to_pil(regions))]
    pad, label = 4, 14
    sheet = Image.new("RGB", (len(panels) * (SIZE + pad) + pad, SIZE + label + 2 * pad + label), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(panels):
        x = pad + i * (SIZE + pad)
        sheet.paste(img.resize((SIZE, SIZE)), (x, pad + label))
        draw.text((x, pad), name, fill=(0, 0, 0))
    draw.text((pad, SIZE + label + pad + 1), f"seeded RANDOM-INIT VGG19 weights (texture only), {args.iterations} iterations, "
              f"{SIZE} px: shows where each style goes, not real style-transfer quality", fill=(120, 0, 0))
    sheet.save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
