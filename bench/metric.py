"""One fixed quality measure for every contender, independent of what each one optimises.

style   = sum over relu1_1..relu5_1 of mean((G(x) - G(style))^2), G = F Fᵀ / (H·W)
content = mean((F(x) - F(content))^2) on relu4_2
on the same (random-init) VGG19 with max pooling, every image resized to the final size first.
Plain sums: no per-layer normalisation, unlike the engine's own loss.
"""

from __future__ import annotations

import torch
from stylize import images
from stylize.vgg import FeatureNet, VGGConvs
from torch import Tensor

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def _gram(f: Tensor) -> Tensor:
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class Metric:
    """Targets computed once; ``metric(image)`` gives (style, content) for a 1x3xHxW image in [0, 1]."""

    def __init__(self, convs: VGGConvs, content: Tensor, style: Tensor, size: tuple[int, int]) -> None:
        self.size = size  # (w, h)
        self.device = content.device
        self.net = FeatureNet(convs, (*STYLE_LAYERS, CONTENT_LAYER)).to(self.device)
        with torch.no_grad():
            self.content_target = self.net(self._fit(content))[CONTENT_LAYER]
            style_feats = self.net(self._fit(style))
            self.style_targets = {k: _gram(style_feats[k]) for k in STYLE_LAYERS}

    def _fit(self, image: Tensor) -> Tensor:
        image = image.unsqueeze(0) if image.dim() == 3 else image
        return images.resize(image.detach().float().to(self.device).contiguous(), self.size)

    @torch.no_grad()
    def __call__(self, image: Tensor) -> tuple[float, float]:
        feats = self.net(self._fit(image))
        style = sum(float((_gram(feats[k]) - self.style_targets[k]).square().mean()) for k in STYLE_LAYERS)
        content = float((feats[CONTENT_LAYER] - self.content_target).square().mean())
        return style, content
