"""Draws docs/colour_match_example.png: colour matching (:mod:`stylize.colour`) of a photo to two paintings,
and, on a stylised result, matching next to ``preserve_colors`` (they do opposite things).

    PYTHONPATH=handler:. .venv/bin/python docs/colour_match_example.py [-o docs/colour_match_example.png] [--images ../shared/images]

Rows 1-2: photo | painting | ab, ZCA (the default) | ab, optimal transport | L+a+b, ZCA.
Row 3 (``--stylised``, one engine run on real features): Gram result | result matched to the painting (ab) |
result with preserve_colors | the photo matched (the pre-process alternative).
Prints, per matched panel, how far its OkLab statistics are from the painting's and how many pixels the
gamut clipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, colour, images, weights
from torch import Tensor

SIZE = 256  # px the matching runs at
CELL = 208  # px wide on the sheet (keeps the PNG near the other docs figures' size)
ROOT = Path(__file__).resolve().parent.parent
PAINTINGS = ("gallery/van-gogh_starry-night.jpg", "gallery/klimt_the-kiss-detail.jpg")
VARIANTS: tuple[tuple[str, colour.Channels, colour.Transform], ...] = (
    ("ab, ZCA (default)", "ab", "zca"), ("ab, transport", "ab", "ot"), ("L+a+b, ZCA", "lab", "zca"))


def load(path: Path, side: int = SIZE) -> Tensor:
    picture = images.to_tensor(images.to_rgb(Image.open(path)))
    return images.resize(picture, images.fit_size(picture.shape[-1], picture.shape[-2], side))


def report(name: str, out: Tensor, painting: Tensor, channels: colour.Channels, before: Tensor) -> None:
    """How close the clipped result's statistics came to the painting's (spread-relative mean, relative covariance),
    how many pixels the first pass put outside the sRGB gamut, and how much the colours moved."""
    want = colour.colour_stats(painting, channels)
    spread = float(torch.trace(want.cov) / want.cov.shape[0]) ** 0.5

    def off(picture: Tensor) -> str:
        got = colour.colour_stats(picture, channels)
        return (f"mean off {float((got.mean - want.mean).norm()) / spread:.3f} sd, "
                f"cov off {float((got.cov - want.cov).norm() / want.cov.norm()):.3f}")

    lab = colour.rgb_to_oklab(before)
    first = colour.oklab_to_rgb(colour.transfer(lab, colour.colour_stats(before, channels), want, channels))
    outside = float(((first < 0) | (first > 1)).any(1).float().mean())
    moved = float((colour.rgb_to_oklab(out) - lab)[:, 1:].norm(dim=1).mean())
    print(f"  {name:22s} before: {off(before)} | after: {off(out)} | first pass out of gamut {outside:.3f} of pixels"
          f" | ab moved {moved:.4f} on average")


def sheet(rows: list[list[tuple[str, Tensor]]], footer: str) -> Image.Image:
    """Cells CELL wide, each row as tall as its tallest picture, a label over each cell."""
    pad, label = 4, 14
    heights = [max(t.shape[-2] * CELL // t.shape[-1] for _, t in row) for row in rows]
    columns = max(len(row) for row in rows)
    out = Image.new("RGB", (columns * (CELL + pad) + pad, sum(heights) + len(rows) * (label + pad) + pad + label), "white")
    draw = ImageDraw.Draw(out)
    y = pad
    for row, height in zip(rows, heights, strict=True):
        for c, (name, picture) in enumerate(row):
            pil = images.to_pil(picture)
            pil = pil.resize((CELL, pil.height * CELL // pil.width), Image.Resampling.LANCZOS)
            x = pad + c * (CELL + pad)
            out.paste(pil, (x, y + label))
            draw.text((x, y), name, fill=(0, 0, 0))
        y += height + label + pad
    draw.text((pad, out.height - label), footer, fill=(0, 0, 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", default="docs/colour_match_example.png")
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--photo", default="tubingen.jpg")
    parser.add_argument("--stylised", action=argparse.BooleanOptionalAction, default=True,
                        help="add a row on a stylised result (one engine run on ImageNet VGG16)")
    parser.add_argument("--iterations", type=int, default=150)
    args = parser.parse_args()
    photo = load(args.images / args.photo)
    rows = []
    for name in PAINTINGS:
        painting = load(args.images / name)
        print(f"{args.photo} -> {Path(name).stem}")
        row = [("photo", photo), (Path(name).stem.split("_")[0], painting)]
        for label, channels, transform in VARIANTS:
            out = colour.match_colours(photo, [painting], channels=channels, transform=transform)
            report(label, out, painting, channels, photo)
            row.append((label, out))
        rows.append(row)
    footer = f"{SIZE} px; OkLab statistics matched, clipped to sRGB, re-matched ({colour.PASSES} passes)"
    if args.stylised:
        painting = load(args.images / PAINTINGS[1])
        state, info = weights.resolve("strict")
        params = StyleParams(size=SIZE, iterations=args.iterations, snapshot_every=0)
        result = list(Engine(state, info, "cpu").run(images.to_pil(photo), [images.to_pil(painting)], params))[-1].image.unsqueeze(0)
        matched = colour.match_colours(result, [painting])
        print("stylised result -> klimt")
        report("result, ab ZCA", matched, painting, "ab", result)
        rows.append([("Gram result (klimt)", result), ("result, colours matched", matched),
                     ("result, preserve_colors", images.keep_colors(result, photo)),
                     ("photo matched (pre-process)", colour.match_colours(photo, [painting]))])
        footer += f"; row 3: default Gram job, {args.iterations} iterations, {info.label}"
    sheet(rows, footer).save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
