"""The floor: one bare forward+backward of the network w.r.t. an image, what any iteration must pay at
least; and the clock that times it.

Its own module because the worker (floor jobs), the precision section and the networks section all time
floors, and none of them should import another (no import cycle).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import torch
from stylize import precision as arithmetic
from stylize.vgg import FeatureNet, VGGConvs
from torch import Tensor

from . import baseline


class ConvsHolder(Protocol):
    """What a floor step needs of an engine: its device, its auto precision and its conv layers per mode
    (an :class:`~stylize.Engine`, or a stand-in holding differently laid out copies of its convs)."""

    device: torch.device
    auto: arithmetic.Resolution

    def convs_for(self, mode: str) -> VGGConvs: ...


def clock(device: torch.device) -> Callable[[], float]:
    """perf_counter after a device sync, so CUDA timings cover the queued work."""
    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()
    return now


def _image(size: int, device: torch.device) -> Tensor:
    # NCHW like the engine's image: its channels_last weights make the activations channels_last anyway
    x = torch.rand((1, 3, size, size), generator=torch.Generator().manual_seed(0)).to(device).contiguous()
    return x.requires_grad_(True)


def floor_step(eng: ConvsHolder, size: int, layer: str, mode: str | None = None) -> Callable[[], None]:
    """One forward+backward of the engine's network truncated at ``layer``: its conv modules, memory
    format and autocast (what its loop pays). ``mode`` (fp32 | bf16) defaults to what precision=auto
    means for the engine."""
    mode = mode or eng.auto.mode
    device = eng.device
    net = FeatureNet(eng.convs_for(mode), [layer]).to(device)
    x = _image(size, device)

    def step() -> None:
        x.grad = None
        with arithmetic.autocast(mode, device):
            out = net(x)[layer]
        out.float().sum().backward()
    return step


def plain_floor_step(state: dict[str, Tensor], device: torch.device, size: int, layer: str) -> Callable[[], None]:
    """The tutorial's own floor: its nn.Sequential VGG19 up to ``layer`` (conv_N), contiguous fp32."""
    features = baseline.vgg19_features({k: v.to(device) for k, v in state.items()}).to(device).requires_grad_(False)
    depth = [i for i, m in enumerate(features) if isinstance(m, torch.nn.Conv2d)][int(layer.removeprefix("conv_")) - 1]
    norm = baseline.Normalization(torch.tensor(baseline.MEAN, device=device), torch.tensor(baseline.STD, device=device))
    seq = torch.nn.Sequential(norm, *list(features)[: depth + 1])
    x = _image(size, device)

    def step() -> None:
        x.grad = None
        seq(x).float().sum().backward()
    return step
