"""Wasserstein-2 style loss: each layer's features as a Gaussian (mean μ, covariance C), and the squared
W2 distance between the image's Gaussian and the style's (crowsonkb/style-transfer-pytorch uses it):

    W2² = |μ − μ_s|² + tr(C + C_s − 2 (C_s^½ C C_s^½)^½)

Unlike a Gram matrix it matches means and covariances separately, so a channel's brightness cannot be
bought with its spread. Matrix square roots come from coupled Newton–Schulz iterations on accelerators
(matmuls only) and from an eigendecomposition on CPU (faster there, measured below), and the gradient of
tr(A^½), ½ A^{-½}, comes from the same computation, so the backward pass is one matmul pair instead of
autograd through all the iterations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..numerics import EPS
from .statistics import Moments, StatisticsMethod, StyleLoss, identity_like

ITERATIONS = 12
JITTER = 1e-5  # x the mean eigenvalue, added to covariances: keeps C positive definite on flat regions


def newton_schulz(a: Tensor, iterations: int = ITERATIONS) -> tuple[Tensor, Tensor]:
    """(A^½, A^{-½}) of symmetric positive (semi)definite B x C x C matrices.

    The iteration converges only for eigenvalues in (0, 2), so A is first scaled by its Frobenius
    norm (≥ its largest eigenvalue); Caffe-scale features give covariances in the thousands."""
    norm = torch.linalg.matrix_norm(a).clamp_min(EPS)[..., None, None]
    eye = identity_like(a)
    y, z = a / norm, eye.expand_as(a)
    for _ in range(iterations):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    root = norm.sqrt()
    return y * root, z / root


def sqrtm(a: Tensor, iterations: int = ITERATIONS) -> Tensor:
    return newton_schulz(a, iterations)[0]


def eigh_roots(a: Tensor) -> tuple[Tensor, Tensor]:
    """(A^½, A^{-½}) from an eigendecomposition: 4.5x faster than 12 Newton–Schulz steps at 512 channels on
    CPU (LAPACK), slower on GPU. Eigenvalues are floored at 1e-4 of the largest, as the iteration's own
    slow convergence on tiny eigenvalues floors them, so the inverse root (the gradient) stays bounded."""
    values, vectors = torch.linalg.eigh(a)
    values = values.clamp_min(1e-4 * values[..., -1:].clamp_min(EPS))
    root = (vectors * values.sqrt().unsqueeze(-2)) @ vectors.transpose(-2, -1)
    inverse_root = (vectors * values.rsqrt().unsqueeze(-2)) @ vectors.transpose(-2, -1)
    return root, inverse_root


def matrix_roots(a: Tensor) -> tuple[Tensor, Tensor]:
    """Newton–Schulz on accelerators (matmuls only), LAPACK on CPU: whichever is faster there."""
    return eigh_roots(a) if a.device.type == "cpu" else newton_schulz(a)


class _TraceSqrt(torch.autograd.Function):
    """tr(A^½) per batch item, with d/dA = ½ A^{-½} (A symmetric)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, a: Tensor) -> Tensor:
        root, inverse_root = matrix_roots(a)
        ctx.save_for_backward(inverse_root)
        return root.diagonal(dim1=-2, dim2=-1).sum(-1)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (inverse_root,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return 0.5 * grad[..., None, None] * inverse_root


def trace_sqrt(a: Tensor) -> Tensor:
    return _TraceSqrt.apply(a)


def covariance(m: Moments) -> Tensor:
    assert m.mean is not None
    cov = m.second - m.mean[..., :, None] * m.mean[..., None, :]
    cov = 0.5 * (cov + cov.transpose(-2, -1))  # exactly symmetric, as Newton–Schulz assumes
    jitter = JITTER * cov.diagonal(dim1=-2, dim2=-1).mean(-1).detach().clamp_min(EPS)
    return cov + jitter[..., None, None] * identity_like(cov)


def w2_squared(mean: Tensor, cov: Tensor, target_mean: Tensor, target_cov: Tensor, target_root: Tensor) -> Tensor:
    """The squared W2 distance between N(mean, cov) and N(target_mean, target_cov), per batch item."""
    means = (mean - target_mean).square().sum(-1)
    traces = cov.diagonal(dim1=-2, dim2=-1).sum(-1) + target_cov.diagonal(dim1=-2, dim2=-1).sum(-1)
    return means + traces - 2 * trace_sqrt(target_root @ cov @ target_root)


class W2Loss(StyleLoss):
    """W2² / (|μ_s|² + tr C_s): the target's own distance from a zero image's Gaussian is 1."""

    name = "w2"
    extra_matrices = 8  # covariance, its root, and the Newton–Schulz iterates and their saved inverse root

    def __init__(self, target: Moments) -> None:
        assert target.mean is not None
        self.mean = target.mean
        self.cov = covariance(target)
        self.root = matrix_roots(self.cov)[0]
        self.norm = self.mean.square().sum(-1) + self.cov.diagonal(dim1=-2, dim2=-1).sum(-1) + EPS

    def distance(self, current: Moments) -> Tensor:
        assert current.mean is not None
        return w2_squared(current.mean, covariance(current), self.mean, self.cov, self.root) / self.norm


class W2(StatisticsMethod):
    name = "w2"
    summary = "Wasserstein-2 between the features' Gaussians (means and covariances, cleaner strokes, costlier per iteration)"
    loss = W2Loss


METHOD = W2()
