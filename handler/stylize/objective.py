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


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels (per image, in [0, 1] units)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.square().mean(dim=(-3, -2, -1)) + dy.square().mean(dim=(-3, -2, -1))


def relative_error(value: Tensor, target: Tensor, norm: Tensor) -> Tensor:
    """Per-batch-item sum of squared error divided by the target's squared norm."""
    dims = tuple(range(1, value.dim()))
    return (value - target).square().sum(dim=dims) / norm


class Objective:
    """Content targets computed once; calling it on an image returns (total loss, per-part losses)."""

    def __init__(self, net: FeatureNet, content_layers: tuple[str, ...], content: Tensor, style: StyleTerm,
                 weights: tuple[float, float, float], precision: str = arithmetic.FP32, content_targets: bool = True) -> None:
        self.net, self.content_layers, self.style = net, content_layers, style
        self.content_weight, self.style_weight, self.tv_weight = weights
        self.precision = precision  # fp32 | bf16: the network pass only; everything after .float() is fp32
        self.content_targets: dict[str, Tensor] = {}
        self.content_norms: dict[str, Tensor] = {}
        if not content_targets:  # a tiled stage's whole objective: only its style term is used (stylize.tiles)
            return
        with torch.no_grad():
            feats = self.features(content)
            self.content_targets = {k: feats[k].float() for k in content_layers}
            self.content_norms = {k: t.square().sum() + EPS for k, t in self.content_targets.items()}

    def features(self, image: Tensor) -> dict[str, Tensor]:
        with arithmetic.autocast(self.precision, image.device):
            return self.net(image)

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self.features(image)
        content = sum(relative_error(feats[k].float(), self.content_targets[k], self.content_norms[k])
                      for k in self.content_layers) / len(self.content_layers)
        style = self.style(feats)
        tv = total_variation(image.float())
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total.sum(), {"content": content, "style": style, "tv": tv, "total": total}
