"""python -m bench.masks: what region masks add per iteration (the goal: <= 15 % at 256 px).

    python -m bench.masks                        # 256 px, CPU here: a few minutes
    python -m bench.masks --device cuda --sizes 256,512 --iterations 30

Cases alternate round by round in one process; per-iteration figures are the medians of the
process CPU time (all torch threads; on a shared CPU wall time mostly measures the neighbours)
between consecutive steps of the run (``Run.step(0)`` advances one iteration; no snapshots, so no
image copies), the first iteration of each run left out. On CUDA use wall-clock figures from
`python -m bench` instead: CPU time does not see the GPU's work.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, weights

from . import scenes


def half(size: int, left: bool) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rectangle([0, 0, size // 2 - 1, size] if left else [size // 2, 0, size, size], fill=255)
    return mask


def cases(size: int) -> dict[str, tuple[int, dict[str, object]]]:
    """name -> (number of styles, Engine.job mask keyword arguments)."""
    left, right = half(size, True), half(size, False)
    return {
        "1 style": (1, {}),
        "1 style, mask (left half)": (1, {"masks": [left]}),
        "2 styles, global blend": (2, {}),
        "2 styles, masks (left / right halves)": (2, {"masks": [left, right]}),
        "2 styles, masks + style masks": (2, {"masks": [left, right], "style_masks": [left, right]}),
    }


def per_iteration(engine: Engine, size: int, n_styles: int, kwargs: dict[str, object], iterations: int) -> list[float]:
    content, style = scenes.content_image(size), scenes.style_image(size)
    # one iteration more: the step of the last one also makes the final record, so it is not timed
    params = StyleParams(size=size, iterations=iterations + 1, snapshot_every=0, multiscale=False)
    run = engine.start(engine.job(content, [style] * n_styles, params, **kwargs))  # type: ignore[arg-type]
    # process CPU time, not wall time: on a CPU shared with other jobs it still counts only our work
    stamps = []
    while not run.finished:
        run.step(0.0)
        stamps.append(time.process_time())
    return [b - a for a, b in itertools.pairwise(stamps[:-1])]  # gaps from iteration 1 -> 2 on


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.masks", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="256")
    parser.add_argument("--iterations", type=int, default=6, help="per run (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 by default so that idle OpenMP threads spinning on a busy CPU do not count")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    state, info = weights.obtain("random", seed=0)
    engine = Engine(state, info, args.device)
    print(f"device={engine.device} torch threads={torch.get_num_threads()} weights={info.provenance} "
          f"iterations={args.iterations} rounds={args.rounds} started={time.strftime('%H:%M:%S')}")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = cases(size)
        gaps: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, (n_styles, kwargs) in runs.items():
                gaps[name] += per_iteration(engine, size, n_styles, kwargs, args.iterations)
        medians = {name: statistics.median(g) for name, g in gaps.items()}
        print(f"\n| {size} px | CPU s/it (median of {len(next(iter(gaps.values())))}) | vs the same styles unmasked |")
        print("|---|---|---|")
        for name, value in medians.items():
            base = medians["1 style"] if name.startswith("1 style") else medians["2 styles, global blend"]
            print(f"| {name} | {value:.3f} | {100 * (value / base - 1):+.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
