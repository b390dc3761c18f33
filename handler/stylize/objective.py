"""The objective of one stage: content (feature MSE), style (the style method's term) and total variation,
each scale-normalised.

Each content layer's loss is divided by its target's squared magnitude, so a loss of 1.0 means "as far
from the target as a zero image". That makes the same default weights work whether the VGG weights are
ImageNet-trained or random-init, whose activations differ by orders of magnitude (the style methods
normalise the same way).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import precision as arithmetic
from .methods import StyleTerm
from .numerics import EPS
from .vgg import FeatureNet


def total_variation(image: Tensor, core: tuple[int, int, int, int] | None = None) -> Tensor:
    """Mean squared difference of neighbouring pixels (per image, in [0, 1] units). With ``core`` (x0, y0, x1, y1):
    the differences from the core's pixels to their right and lower neighbours (those across its border too, so
    cores side by side count each pair once), over the core's pixel count."""
    if core is None:
        dx = image[..., :, 1:] - image[..., :, :-1]
        dy = image[..., 1:, :] - image[..., :-1, :]
        return dx.square().mean(dim=(-3, -2, -1)) + dy.square().mean(dim=(-3, -2, -1))
    x0, y0, x1, y1 = core
    across = image[..., y0:y1, x0:x1 + 1]
    down = image[..., y0:y1 + 1, x0:x1]
    dx = across[..., :, 1:] - across[..., :, :-1]
    dy = down[..., 1:, :] - down[..., :-1, :]
    count = image.shape[-3] * (y1 - y0) * (x1 - x0)
    return (dx.square().sum(dim=(-3, -2, -1)) + dy.square().sum(dim=(-3, -2, -1))) / count


def cut(feature: Tensor, core: tuple[int, int, int, int], hw: tuple[int, int]) -> Tensor:
    """The part of a layer's map (of an ``hw`` image) that lies over the pixel box ``core`` (x0, y0, x1, y1): its
    cells at the map's own resolution; a side at the image's edge keeps the map's floored rim."""
    h, w = feature.shape[-2:]
    x0, y0, x1, y1 = core
    top, left = min(h - 1, round(y0 * h / hw[0])), min(w - 1, round(x0 * w / hw[1]))
    bottom = h if y1 >= hw[0] else max(top + 1, round(y1 * h / hw[0]))
    right = w if x1 >= hw[1] else max(left + 1, round(x1 * w / hw[1]))
    return feature[..., top:bottom, left:right]


def relative_error(value: Tensor, target: Tensor, norm: Tensor) -> Tensor:
    """Per-batch-item sum of squared error divided by the target's squared norm."""
    dims = tuple(range(1, value.dim()))
    return (value - target).square().sum(dim=dims) / norm


Targets = tuple[dict[str, Tensor], dict[str, Tensor]]  # content targets per layer, and their squared norms


class Objective:
    """Content targets computed once; calling it on an image returns (total loss, per-part losses).

    With ``core`` (a pixel box of the images it is called on) it is a tile's objective (stylize.tiled_objective):
    the network sees the whole crop, and content, style and total variation are read over the core alone (the
    variation's differences across the core's right and lower borders too, so each counts once)."""

    def __init__(self, net: FeatureNet, content_layers: tuple[str, ...], content: Tensor | None, style: StyleTerm,
                 weights: tuple[float, float, float], precision: str = arithmetic.FP32, content_targets: bool = True,
                 core: tuple[int, int, int, int] | None = None, targets: Targets | None = None) -> None:
        self.net, self.content_layers, self.style, self.core = net, content_layers, style, core
        self.content_weight, self.style_weight, self.tv_weight = weights
        self.precision = precision  # fp32 | bf16: the network pass only; everything after .float() is fp32
        self.content_targets: dict[str, Tensor] = {}
        self.content_norms: dict[str, Tensor] = {}
        if targets is not None:
            self.content_targets, self.content_norms = targets
        elif content_targets and content is not None:  # else a tiled stage's whole objective: only its style term is used
            self.content_targets, self.content_norms = self.targets(content)

    def targets(self, content: Tensor) -> Targets:
        """The content layers' features of ``content`` (over the core, with one) and their squared norms."""
        with torch.no_grad():
            feats = self.core_features(content)
            found = {k: feats[k].float() for k in self.content_layers}
        return found, {k: t.square().sum() + EPS for k, t in found.items()}

    def features(self, image: Tensor) -> dict[str, Tensor]:
        with arithmetic.autocast(self.precision, image.device):
            return self.net(image)

    def core_features(self, image: Tensor) -> dict[str, Tensor]:
        """The network's features of ``image``, over the core only when there is one."""
        feats = self.features(image)
        if self.core is None:
            return feats
        hw = (image.shape[-2], image.shape[-1])
        return {k: cut(v, self.core, hw) for k, v in feats.items()}

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self.core_features(image)
        content = sum(relative_error(feats[k].float(), self.content_targets[k], self.content_norms[k])
                      for k in self.content_layers) / len(self.content_layers)
        style = self.style(feats)
        tv = total_variation(image.float(), self.core)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total.sum(), {"content": content, "style": style, "tv": tv, "total": total}
