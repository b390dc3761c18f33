"""Σ over positions of F·Fᵀ with a hand-written backward: the one primitive every style statistic uses.

The product is always formed in fp32, whatever the features' dtype (a bf16 VGG pass's features are
cast first: a Gram matrix rounded to bf16 is off by ~2e-3, and sums of squares in half precision lose
the style signal). The backward runs in the features' own dtype: under bf16 autocast the gradient is
rounded to bf16 anyway on its way into the VGG backward, so an fp32 product there buys nothing and
costs an fp32 copy of every style layer's features (docs/benchmarks.md, "bfloat16": 24 ms -> 7 ms per iteration
at 256 px).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


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
    def forward(ctx: torch.autograd.function.FunctionCtx, features: Tensor) -> Tensor:
        ctx.save_for_backward(features)  # in its own dtype: bf16 features are half an fp32 copy's bytes
        f = features.float()
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
        sym = (grad + grad.transpose(1, 2)).to(f.dtype)
        if _on_onednn(f):
            return F.conv2d(f, sym.view(c, c, 1, 1))  # output follows f's memory format
        flat = _positions_view(f)
        if flat.stride(1) == 1:  # channels_last: produce the gradient in the same layout
            return torch.bmm(flat.transpose(1, 2), sym).view(b, h, w, c).permute(0, 3, 1, 2)
        return torch.bmm(sym, flat).view(b, c, h, w)


def second_moment(features: Tensor) -> Tensor:
    """Σ_p F_p F_pᵀ (B x C x C), fp32 for any features' dtype; callers divide by the positions' count or mass.
    Its gradient comes back in the features' dtype."""
    return _Gram.apply(features)
