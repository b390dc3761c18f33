"""The objective: content (feature MSE), style (a :mod:`stylize.style_losses` loss per layer, global or
per region) and total variation, each scale-normalised.

Each layer's loss is divided by its target's squared magnitude, so a loss of 1.0 means "as far
from the target as a zero image". That makes the same default weights work whether the VGG
weights are ImageNet-trained or random-init, whose activations differ by orders of magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import precision as arithmetic
from .masks import layer_masks
from .style_losses import LOSSES, StyleLoss, moments
from .style_losses.base import EPS, MIN_MASS, blend
from .vgg import FeatureNet


def gram(features: Tensor) -> Tensor:
    """Batched Gram matrix B x C x C, averaged over positions (fp32 for accuracy under autocast)."""
    return moments(features, with_mean=False).second


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels (per image, in [0, 1] units)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.square().mean(dim=(-3, -2, -1)) + dy.square().mean(dim=(-3, -2, -1))


def relative_error(value: Tensor, target: Tensor, norm: Tensor) -> Tensor:
    """Per-batch-item sum of squared error divided by the target's squared norm."""
    dims = tuple(range(1, value.dim()))
    return (value - target).square().sum(dim=dims) / norm


@dataclass(frozen=True)
class Terms:
    """What the objective weighs: layers, their weights (normalised), the loss weights, the style loss."""

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    layer_weights: tuple[float, ...]
    content_weight: float
    style_weight: float
    tv_weight: float
    style_loss: str = "gram"


@dataclass(frozen=True)
class Guides:
    """Region masks at one stage: each style's coverage over the content image (1x1xHxW) and, where
    given, the mask over its own (scaled) image."""

    coverage: list[Tensor]
    style_masks: list[Tensor | None]


@dataclass(frozen=True)
class _StyleTerm:
    layer: str
    weight: float  # the layer's weight x (with regions) the region's share of the image
    loss: StyleLoss
    mask: Tensor | None  # coverage at this layer's resolution; None: every position


class Objective:
    """Targets computed once; calling it on an image returns (total loss, per-part losses).

    Without guides, one style term per layer against the styles' blended statistics. With guides
    (Gatys et al. 2017), one term per covering style and layer: the image's statistics weighted by the
    style's coverage, against the style's own (weighted by its style mask), scaled by the coverage's
    share of the image so that the per-pixel pull matches a global run's."""

    def __init__(self, net: FeatureNet, terms: Terms, content: Tensor, styles: list[Tensor], blend_weights: list[float],
                 precision: str = arithmetic.FP32, guides: Guides | None = None) -> None:
        self.net, self.terms = net, terms
        self.precision = precision  # fp32 | bf16: the VGG pass only; everything after .float() is fp32
        loss_cls = LOSSES[terms.style_loss]
        with torch.no_grad():
            feats = self._features(content)
            self.content_targets = {k: feats[k].float() for k in terms.content_layers}
            self.content_norms = {k: t.square().sum() + EPS for k, t in self.content_targets.items()}
            style_feats = [self._features(s) for s in styles]
            self.style_terms = (self._global_terms(loss_cls, style_feats, blend_weights) if guides is None
                                else self._guided_terms(loss_cls, style_feats, guides))

    def _global_terms(self, loss_cls: type[StyleLoss], style_feats: list[dict[str, Tensor]],
                      blend_weights: list[float]) -> list[_StyleTerm]:
        out = []
        for k, w in zip(self.terms.style_layers, self.terms.layer_weights, strict=True):
            target = blend([loss_cls.statistics(f[k]) for f in style_feats], blend_weights)
            out.append(_StyleTerm(k, w, loss_cls(target), None))
        return out

    def _guided_terms(self, loss_cls: type[StyleLoss], style_feats: list[dict[str, Tensor]], guides: Guides) -> list[_StyleTerm]:
        layers, out = self.terms.style_layers, []
        for feats, cover, own in zip(style_feats, guides.coverage, guides.style_masks, strict=True):
            own_levels = layer_masks(own, layers) if own is not None else {}
            for (k, mask), layer_w in zip(layer_masks(cover, layers).items(), self.terms.layer_weights, strict=True):
                mass = float(mask.sum())
                if mass < MIN_MASS:  # this style covers nothing at this layer's resolution
                    continue
                target = loss_cls.statistics(feats[k], own_levels.get(k))
                out.append(_StyleTerm(k, layer_w * mass / mask[0, 0].numel(), loss_cls(target), mask))
        return out

    def _features(self, image: Tensor) -> dict[str, Tensor]:
        with arithmetic.autocast(self.precision, image.device):
            return self.net(image)

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        t = self.terms
        feats = self._features(image)
        content = sum(relative_error(feats[k].float(), self.content_targets[k], self.content_norms[k])
                      for k in t.content_layers) / len(t.content_layers)
        style = torch.zeros(image.shape[0], device=image.device)
        for term in self.style_terms:
            style = style + term.weight * term.loss(feats[term.layer], term.mask)
        tv = total_variation(image.float())
        total = t.content_weight * content + t.style_weight * style + t.tv_weight * tv
        return total.sum(), {"content": content, "style": style, "tv": tv, "total": total}
