"""Scale-normalised Gatys losses: content (feature MSE), style (Gram matrices), total variation.

Each layer's loss is divided by its target's squared magnitude, so a loss of 1.0 means "as far
from the target as a zero image". That makes the same default weights work whether the VGG19
weights are ImageNet-trained or random-init, whose activations differ by orders of magnitude.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from .vgg import FeatureNet

EPS = 1e-8


def gram(features: Tensor) -> Tensor:
    """Batched Gram matrix B x C x C, averaged over positions (fp32 for accuracy under autocast)."""
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


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
    """Targets computed once; calling it on an image returns (total loss, per-part losses)."""

    def __init__(self, net: FeatureNet, content: Tensor, styles: list[Tensor], blend: list[float],
                 content_layers: tuple[str, ...], style_layers: tuple[str, ...],
                 style_layer_weights: list[float], weights: tuple[float, float, float], autocast: bool = False) -> None:
        self.net = net
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.layer_weights = style_layer_weights
        self.content_weight, self.style_weight, self.tv_weight = weights
        self.autocast = autocast
        with torch.no_grad():
            feats = self._features(content)
            self.content_targets = {k: feats[k].float() for k in content_layers}
            self.content_norms = {k: t.square().sum() + EPS for k, t in self.content_targets.items()}
            grams: dict[str, Tensor] = {}
            for style, w in zip(styles, blend, strict=True):
                style_feats = self._features(style)
                for k in style_layers:
                    g = gram(style_feats[k]) * w
                    grams[k] = grams[k] + g if k in grams else g
            self.style_targets = grams
            self.style_norms = {k: g.square().sum() + EPS for k, g in grams.items()}

    def _features(self, image: Tensor) -> dict[str, Tensor]:
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.autocast else nullcontext()
        with ctx:
            return self.net(image)

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self._features(image)
        content = sum(relative_error(feats[k].float(), self.content_targets[k], self.content_norms[k])
                      for k in self.content_layers) / len(self.content_layers)
        style = sum(w * relative_error(gram(feats[k]), self.style_targets[k], self.style_norms[k])
                    for k, w in zip(self.style_layers, self.layer_weights, strict=True))
        tv = total_variation(image.float())
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total.sum(), {"content": content, "style": style, "tv": tv, "total": total}
