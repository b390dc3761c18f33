"""How much memory one style-transfer run needs at its peak, and how much a worker may hand out.

The serving layer admits jobs by memory, not by count: a worker holds several runs at once and
steps them in turn, and the runs it lets start must fit its budget together. The model below is
arithmetic on the output size (no torch import), calibrated against measurements on CPU
(``make bench``, engine peak column: ~2.9 KB per output pixel at 512 px for the VGG19 activations
kept for the backward pass) plus what L-BFGS keeps by construction (100 pairs of image-sized
vectors once its history is full, which the short benchmark runs never reach).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from stylize import backbones, images, methods, planning, tiles
from stylize import precision as arithmetic
from stylize.params import StyleParams

MIB = 1024 * 1024
FLOAT = 4
LBFGS_HISTORY = 100  # history_size of the engine's L-BFGS
FIXED_BYTES = 48 * MIB  # per run: content features, small buffers


def output_size(content_wh: tuple[int, int], size: int) -> tuple[int, int]:
    return images.fit_size(content_wh[0], content_wh[1], size)


def estimate_bytes(params: StyleParams, content_wh: tuple[int, int], style_whs: list[tuple[int, int]],
                   mode: str | None = None, tiling: tiles.TileSettings | None = None) -> int:
    """Peak bytes of one run: its costliest stage, plus the decoded inputs it holds as float tensors.
    ``mode`` is the arithmetic the run will use (fp32 | bf16; ``precision=auto`` resolved on the worker);
    without it an explicit bf16 counts as bf16 and anything else as fp32, the larger. ``tiling`` is the
    engine's (stylize.tiles): a stage it tiles costs one tile's network pass plus a few image buffers, so the
    costliest stage may be the largest untiled one."""
    mode = mode or (arithmetic.BF16 if params.precision == arithmetic.BF16 else arithmetic.FP32)
    backbone = backbones.get(params.network)
    stages = [stage.size for stage in planning.plan(params, content_wh)] or [output_size(content_wh, params.size)]
    peak = max(_stage_bytes(params, backbone, mode, wh, style_whs, tiling) for wh in stages)
    inputs = (content_wh[0] * content_wh[1] + sum(sw * sh for sw, sh in style_whs)) * 3 * FLOAT
    return int(peak + inputs + FIXED_BYTES)


def _stage_bytes(params: StyleParams, backbone: backbones.Backbone, mode: str, wh: tuple[int, int],
                 style_whs: list[tuple[int, int]], tiling: tiles.TileSettings | None) -> int:
    w, h = wh
    tiled = tiling is not None and tiling.applies(wh)
    image = 3 * w * h * FLOAT  # one image-sized float vector
    style_side = max(16, round(max(w, h) * params.style_scale))
    if tiled:
        assert tiling is not None
        style_side = min(style_side, tiling.style_side)
        pixels = tiling.tile_pixels(wh)  # what the network sees at once
        vector = 3 * pixels * FLOAT
    else:
        pixels, vector = w * h, image
    if tiled and tiling is not None and not tiling.assemble:
        # a visit's L-BFGS keeps at most one pair per step it takes
        history = min(LBFGS_HISTORY, tiling.steps)
        optimiser = (2 * history + 6) * vector if params.optimizer == "lbfgs" else 3 * vector
        # + the tile's image and best; the stage's picture, start, content, snapshot copy and final resize
        buffers = 2 * vector + 5 * image + (2 * image if params.average == "ema" else 0)
        canvas = vector
    else:
        # one optimiser over the whole picture (an assembled tiled stage keeps fewer L-BFGS pairs)
        history = tiling.history if tiled and tiling is not None else LBFGS_HISTORY
        optimiser = (2 * history + 6) * image if params.optimizer == "lbfgs" else 3 * image
        # + image, best image, snapshot copy; ema: the running sum and the stage's start image
        buffers = 3 * image + (2 * image if params.average == "ema" else 0)
        if tiled:  # + the assembled gradient, the picture the tiles read, a tile and its gradient, the content
            # layers' targets over the whole stage (kept per core)
            content = sum(backbone.layer(k).channels * FLOAT * w * h // 4 ** backbone.layer(k).depth for k in params.content_layers)
            buffers += 2 * image + 2 * vector + content
        canvas = image
    if params.image_param == "pyramid":  # levels hold 4/3 of the pixels (so does the optimiser's state), plus the
        optimiser = optimiser * 4 // 3 + 3 * canvas  # reconstruction's upsampled levels and the picture it sums to
    optimise = int(pixels * backbone.step_bytes_per_pixel[mode]) + optimiser + buffers
    style_pixels = max((images.fit_size(sw, sh, style_side)[0] * images.fit_size(sw, sh, style_side)[1]
                        for sw, sh in style_whs), default=0)
    targets = style_pixels * backbone.style_forward_bytes_per_pixel[mode]
    method = methods.get(params.style_loss).state_bytes(params, backbone, style_pixels, len(style_whs), w * h, pixels)
    return int(max(optimise, targets) + method)


def host_memory_bytes() -> int:
    """Physical memory, or the container's cgroup limit when that is lower (Kubernetes pods)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def budget_bytes(setting: object, device_total_bytes: int, in_use_bytes: int, share: float) -> int:
    """The worker's budget for running jobs: a number of MiB from model-config.yaml, or ``auto``
    (``share`` of the device's memory minus what the worker already uses: weights, runtime)."""
    if setting in (None, "", "auto"):
        return max(0, int(device_total_bytes * share) - in_use_bytes)
    try:
        value = float(setting)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"memory budget must be a number of MiB or 'auto', got {setting!r}") from None
    if not value > 0:
        raise ValueError(f"memory budget must be positive, got {setting!r}")
    return int(value * MIB)


def largest_size_within(budget: int, params: StyleParams, content_wh: tuple[int, int], style_whs: list[tuple[int, int]],
                        mode: str | None = None, tiling: tiles.TileSettings | None = None) -> int:
    """The largest ``size`` up to the job's own whose estimate fits ``budget`` (0 if none does): for the error
    message. A scan down in 16 px steps, not a bisection: with tiling the estimate does not grow with the size
    (a job whose plan has no untiled stage near the threshold peaks lower), and a bisection could name a size
    above one that does not fit."""
    def fits(size: int) -> bool:
        return estimate_bytes(replace(params, size=size), content_wh, style_whs, mode, tiling) <= budget

    for size in dict.fromkeys([params.size, *range(params.size // 16 * 16, 15, -16)]):
        if fits(size):
            while size < params.size and fits(size + 1):  # to the pixel: the first size above that does not fit
                size += 1
            return size
    return 0
