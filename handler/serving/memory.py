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

from stylize import images
from stylize.params import StyleParams
from stylize.style_losses import LOSSES
from stylize.vgg import NETWORK_BLOCKS

MIB = 1024 * 1024
ACTIVATION_BYTES_PER_PIXEL = 3000  # VGG19: forward + backward to relu5_1, fp32, max-pool indices included
STYLE_FORWARD_BYTES_PER_PIXEL = 1200  # a style image's no-grad forward (targets): two layers live at a time
# VGG16 keeps one conv+relu fewer in blocks 3 and 4 (relu5_1 is reached the same way): per output pixel,
# activation channels/area go 64*2+128*2/4+256*3/16+512*3/64 = 264 vs VGG19's 288 (x 2 for conv and relu).
NETWORK_ACTIVATION_SHARE = {"vgg19": 1.0, "vgg16": 264 / 288}
# precision=bf16: the saved activations are half the bytes; the max-pool indices are not, nor the fp32
# copies the statistics read (relu1_1 .. relu5_1, relu4_2), which live only through the forward (the Gram
# backward keeps the bf16 features). Measured ~1700 B/pixel: docs/benchmarks.md, "bfloat16".
BF16_ACTIVATION_BYTES_PER_PIXEL = 2000
BF16_STYLE_FORWARD_BYTES_PER_PIXEL = 800
FLOAT = 4
LBFGS_HISTORY = 100  # history_size of the engine's L-BFGS
FIXED_BYTES = 48 * MIB  # per run: Gram targets, content features, small buffers


def style_state_bytes(params: StyleParams, styles: int) -> int:
    """What a style loss keeps per layer beyond a Gram target (W2: covariances, their roots, the
    decomposition's work), per style when regions give each style its own terms (an upper bound)."""
    blocks = NETWORK_BLOCKS[params.network or "vgg19"]
    matrices = LOSSES[params.style_loss].extra_matrices
    return sum(blocks[int(k[4]) - 1][0] ** 2 * FLOAT * matrices for k in params.style_layers) * max(1, styles)


def output_size(content_wh: tuple[int, int], size: int) -> tuple[int, int]:
    return images.fit_size(content_wh[0], content_wh[1], size)


def estimate_bytes(params: StyleParams, content_wh: tuple[int, int], style_whs: list[tuple[int, int]]) -> int:
    """Peak bytes of one run: its largest (final) stage, plus the decoded inputs it holds as float tensors.
    ``params.precision`` should be resolved (fp32 | bf16; the serving layer resolves ``auto`` first)."""
    w, h = output_size(content_wh, params.size)
    pixels = w * h
    vector = 3 * pixels * FLOAT  # one image-sized float vector
    optimiser = (2 * LBFGS_HISTORY + 6) * vector if params.optimizer == "lbfgs" else 3 * vector
    share = NETWORK_ACTIVATION_SHARE[params.network or "vgg19"]
    bf16 = params.precision == "bf16"  # "auto" unresolved: assume fp32, the larger
    per_pixel = BF16_ACTIVATION_BYTES_PER_PIXEL if bf16 else ACTIVATION_BYTES_PER_PIXEL
    averaged = 2 * vector if params.average == "ema" else 0  # the running sum and the stage's start image
    optimise = int(pixels * per_pixel * share) + optimiser + 3 * vector + averaged  # + image, best image, snapshot copy
    style_side = max(16, round(max(w, h) * params.style_scale))
    style_pixels = max((images.fit_size(sw, sh, style_side)[0] * images.fit_size(sw, sh, style_side)[1]
                        for sw, sh in style_whs), default=0)
    targets = style_pixels * (BF16_STYLE_FORWARD_BYTES_PER_PIXEL if bf16 else STYLE_FORWARD_BYTES_PER_PIXEL)
    inputs = (content_wh[0] * content_wh[1] + sum(sw * sh for sw, sh in style_whs)) * 3 * FLOAT
    return int(max(optimise, targets) + inputs + FIXED_BYTES + style_state_bytes(params, len(style_whs)))


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


def largest_size_within(budget: int, params: StyleParams, content_wh: tuple[int, int], style_whs: list[tuple[int, int]]) -> int:
    """The largest ``size`` whose estimate fits ``budget`` (0 if none does): for the error message."""
    low, high = 0, params.size
    while low < high:
        mid = (low + high + 1) // 2
        fits = mid >= 16 and estimate_bytes(replace(params, size=mid), content_wh, style_whs) <= budget
        low, high = (mid, high) if fits else (low, mid - 1)
    return low

