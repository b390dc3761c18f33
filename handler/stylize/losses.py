"""Scale-normalised Gatys losses: content (feature MSE), style (Gram matrices), total variation.

Each layer's loss is divided by its target's squared magnitude, so a loss of 1.0 means "as far
from the target as a zero image". That makes the same default weights work whether the VGG19
weights are ImageNet-trained or random-init, whose activations differ by orders of magnitude.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from . import precision as arithmetic
from .vgg import FeatureNet

EPS = 1e-8


def _positions_view(f: Tensor) -> Tensor:
    """B x C x H x W -> B x C x N without a copy, whether NCHW or channels_last."""
    b, c, h, w = f.shape
    return f.reshape(b, c, h * w) if f.is_contiguous() else f.permute(0, 2, 3, 1).reshape(b, h * w, c).transpose(1, 2)


def _on_onednn(f: Tensor) -> bool:
    return f.device.type == "cpu" and f.shape[0] == 1


class _Gram(torch.autograd.Function):
    """Σ over positions of F·Fᵀ (B x C x C), with a hand-written backward.

    CPU, batch 1: oneDNN kernels, ~2x faster than MKL's bmm on these long, thin matrices
    (bench/RESULTS.md): the Gram matrix is exactly a 1x1 convolution's weight gradient of F
    against itself, and its backward S·F (S = G' + G'ᵀ) is a 1x1 convolution of F by S.
    Elsewhere: bmm, with one matmul in backward instead of autograd's two plus a strided add.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, f: Tensor) -> Tensor:
        ctx.save_for_backward(f)
        c = f.shape[1]
        if _on_onednn(f):
            fmt = torch.channels_last if not f.is_contiguous() else torch.contiguous_format
            shape_only = f.new_empty((c, c, 1, 1)).contiguous(memory_format=fmt)  # weight values are never read
            return torch.ops.aten.convolution_backward(f, f, shape_only, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                                                       [False, True, False])[1].view(1, c, c)
        flat = _positions_view(f)
        return torch.bmm(flat, flat.transpose(1, 2))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (f,) = ctx.saved_tensors  # type: ignore[attr-defined]
        b, c, h, w = f.shape
        sym = grad + grad.transpose(1, 2)
        if _on_onednn(f):
            return F.conv2d(f, sym.view(c, c, 1, 1))  # output follows f's memory format
        flat = _positions_view(f)
        if flat.stride(1) == 1:  # channels_last: produce the gradient in the same layout
            return torch.bmm(flat.transpose(1, 2), sym).view(b, h, w, c).permute(0, 3, 1, 2)
        return torch.bmm(sym, flat).view(b, c, h, w)


def gram(features: Tensor) -> Tensor:
    """Batched Gram matrix B x C x C, averaged over positions (fp32 for accuracy under autocast)."""
    h, w = features.shape[-2:]
    return _Gram.apply(features.float()) / (h * w)


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
                 style_layer_weights: list[float], weights: tuple[float, float, float], precision: str = arithmetic.FP32) -> None:
        self.net = net
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.layer_weights = style_layer_weights
        self.content_weight, self.style_weight, self.tv_weight = weights
        self.precision = precision  # fp32 | bf16: the VGG pass only; everything after .float() is fp32
        with torch.no_grad():
            feats = self._features(content)
            self.content_targets = {k: feats[k].float() for k in content_layers}
            self.content_norms = {k: t.square().sum() + EPS for k, t in self.content_targets.items()}
            self._set_style_targets(styles, blend)

    def _set_style_targets(self, styles: list[Tensor], blend: list[float]) -> None:
        """One Gram target per layer: the styles' Gram matrices blended (region masks override this)."""
        grams: dict[str, Tensor] = {}
        for style, w in zip(styles, blend, strict=True):
            style_feats = self._features(style)
            for k in self.style_layers:
                g = gram(style_feats[k]) * w
                grams[k] = grams[k] + g if k in grams else g
        self.style_targets = grams
        self.style_norms = {k: g.square().sum() + EPS for k, g in grams.items()}

    def _style_loss(self, feats: dict[str, Tensor]) -> Tensor:
        return sum(w * relative_error(gram(feats[k]), self.style_targets[k], self.style_norms[k])
                   for k, w in zip(self.style_layers, self.layer_weights, strict=True))

    def _features(self, image: Tensor) -> dict[str, Tensor]:
        with arithmetic.autocast(self.precision, image.device):
            return self.net(image)

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self._features(image)
        content = sum(relative_error(feats[k].float(), self.content_targets[k], self.content_norms[k])
                      for k in self.content_layers) / len(self.content_layers)
        style = self._style_loss(feats)
        tv = total_variation(image.float())
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total.sum(), {"content": content, "style": style, "tv": tv, "total": total}
