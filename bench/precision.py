"""The precision section: fp32 vs bf16, floor vs engine, interleaved in one process per network and size.

For each network (VGG19, VGG16) and size, per round (one iteration of each series, in an order that
rotates per round): the floor (forward+backward of the network to relu5_1) in fp32 and bf16, with
the engine's channels_last weights (bf16: its bf16 copy) and with plain NCHW ones (the channels_last
measurement), and one engine iteration in fp32 and in bf16 (two runs advanced side by side). A shared
CPU's speed drifts within a minute; interleaving puts every series under the same drift, so their
ratios hold even when the absolute figures don't.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from stylize import Engine, StyleParams
from stylize import precision as arithmetic
from stylize.vgg import VGGConvs
from torch import Tensor

from .floor import floor_step

SERIES = ("floor-fp32", "floor-bf16", "floor-fp32-nchw", "floor-bf16-nchw", "engine-fp32", "engine-bf16")
LABELS = {
    "floor-fp32": "fp32 floor (channels_last)", "floor-bf16": "bf16 floor (channels_last)",
    "floor-fp32-nchw": "fp32 floor, NCHW weights", "floor-bf16-nchw": "bf16 floor, NCHW weights",
    "engine-fp32": "engine, precision=fp32", "engine-bf16": "engine, precision=bf16",
}
TARGET = 0.6  # engine bf16 s/it ÷ fp32 floor s/it
NETWORKS = ("vgg19", "vgg16")


def default_rounds(size: int) -> int:
    # medians of 6 rounds moved by ±0.02 between runs: enough to flip a 0.6 target either way
    return 3 if size <= 64 else 12 if size <= 256 else 8


@dataclass
class NCHWConvs:
    """The engine's conv weights per mode, copied in the plain NCHW layout: the floor without channels_last."""

    device: torch.device
    auto: arithmetic.Resolution
    convs: dict[str, VGGConvs]

    @classmethod
    def of(cls, eng: Engine) -> NCHWConvs:
        return cls(eng.device, eng.auto, {mode: copy.deepcopy(eng.convs_for(mode)).to(memory_format=torch.contiguous_format)
                                          for mode in (arithmetic.FP32, arithmetic.BF16)})

    def convs_for(self, mode: str) -> VGGConvs:
        return self.convs[mode]


def run_interleaved(eng: Engine, job: dict[str, Any], content: Tensor, style: Tensor) -> dict[str, Any]:
    """Worker side (bench.worker kind "precision"): median s/it per series."""
    size, rounds, layer = job["size"], job["rounds"], job["layer"]
    nchw = NCHWConvs.of(eng)
    steps: dict[str, Callable[[], object]] = {
        "floor-fp32": floor_step(eng, size, layer, mode="fp32"),
        "floor-bf16": floor_step(eng, size, layer, mode="bf16"),
        "floor-fp32-nchw": floor_step(nchw, size, layer, mode="fp32"),
        "floor-bf16-nchw": floor_step(nchw, size, layer, mode="bf16"),
    }
    runs = []
    for mode in ("fp32", "bf16"):
        # a snapshot every iteration, as a client watching the job would get; each step is one iteration
        params = StyleParams(size=size, seed=0, iterations=rounds + 2, snapshot_every=1, multiscale=False, precision=mode)
        run = eng.start(eng.job(content, [style], params))
        runs.append(run)
        steps[f"engine-{mode}"] = lambda run=run: run.step(0.0)
    for step in steps.values():  # warm-up: first passes, the engines' target setup
        step()
    times: dict[str, list[float]] = {name: [] for name in SERIES}
    for r in range(rounds):
        for name in SERIES[r % len(SERIES):] + SERIES[: r % len(SERIES)]:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    assert not any(run.finished for run in runs), "every timed engine step was an iteration"
    for run in runs:
        run.close()
    return {"s_per_it": {name: statistics.median(t) for name, t in times.items()}, "rounds": rounds}


def section(runner: Any, sizes: list[int], rounds: int | None, layer: str,
            table: Callable[[list[str], list[list[str]]], str],
            networks: tuple[str, ...] = NETWORKS) -> tuple[str, list[str]]:
    """The table and its target lines (``runner`` / ``table``: bench.__main__'s): one fresh process per
    network and size, each with all six series interleaved."""
    cells = [(net, s) for net in networks for s in sizes]
    jobs = [{"id": f"precision@{net}@{s}", "kind": "precision", "network": net, "size": s,
             "rounds": rounds or default_rounds(s), "layer": layer} for net, s in cells]
    res = runner.run(jobs)
    per = {cell: res[f"precision@{cell[0]}@{cell[1]}"]["s_per_it"] for cell in cells}
    headers = ["series", *(f"{net.upper()} {s} px s/it (÷ fp32 floor)" for net, s in cells)]
    rows = [[LABELS[name], *(f"{per[c][name]:.3f} ({per[c][name] / per[c]['floor-fp32']:.2f})" for c in cells)] for name in SERIES]
    targets = []
    for net, s in cells:
        ratio = per[(net, s)]["engine-bf16"] / per[(net, s)]["floor-fp32"]
        targets.append(f"engine bf16 ÷ fp32 floor ≤ {TARGET} ({net.upper()}, {s} px): {ratio:.3f} → {'MET' if ratio <= TARGET else 'MISSED'}")
    rounds_text = ", ".join(f"{s} px: {res[f'precision@{networks[0]}@{s}']['rounds']}" for s in sizes)
    text = (f"### Precision: fp32 vs bf16 (single scale, default layers, floor to {layer}; rounds {rounds_text}; "
            "every series one iteration per round, order rotating, medians; one process per network and size)\n\n"
            + table(headers, rows))
    return text, targets
