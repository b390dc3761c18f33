"""What every style loss shares: feature statistics (mean, raw second moment), optionally weighted by a
region mask, which blend linearly over styles, and the interface the objective calls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor

from .second_moment import second_moment

EPS = 1e-8
MIN_MASS = 1e-6  # a region below this many cells' worth at a layer has nothing to match there


class Moments(NamedTuple):
    """Per batch item: mean (B x C, or None when the loss does not use it) and raw second moment
    E[f fᵀ] (B x C x C, the Gram matrix averaged over positions), both fp32."""

    mean: Tensor | None
    second: Tensor


def moments(features: Tensor, weights: Tensor | None = None, with_mean: bool = True) -> Moments:
    """Statistics over positions, or over positions weighted by ``weights`` (1x1xHxW at the features'
    size, normalised by its mass: a white mask gives exactly the unweighted statistics)."""
    # statistics in fp32 whatever the VGG pass ran in (bf16 sums lose the style signal); second_moment
    # casts inside, so that its backward need not keep an fp32 copy of the features
    h, w = features.shape[-2:]
    if weights is None:
        mean = features.float().mean(dim=(-2, -1)) if with_mean else None
        return Moments(mean, second_moment(features) / (h * w))
    f = features.float()
    mass = weights.sum().clamp_min(MIN_MASS)
    mean = (f * weights).sum(dim=(-2, -1)) / mass if with_mean else None
    return Moments(mean, second_moment(f * weights.sqrt()) / mass)


def blend(parts: Sequence[Moments], weights: Sequence[float]) -> Moments:
    """Several styles as one: means and raw second moments combine linearly (covariances do not)."""
    mean = None if parts[0].mean is None else sum(w * p.mean for p, w in zip(parts, weights, strict=True))  # type: ignore[misc]
    second = sum(w * p.second for p, w in zip(parts, weights, strict=True))
    return Moments(mean, second)  # type: ignore[arg-type]


class StyleLoss(ABC):
    """One layer's style term against one target. Subclasses set :attr:`name`, prepare what they need
    from the target's :class:`Moments` in ``__init__`` and implement :meth:`distance`.

    Losses are scale-normalised: 1.0 means "as far from the target as a zero image", so the same
    weights work on ImageNet and random-init features, whose scales differ by orders of magnitude."""

    name: ClassVar[str]
    uses_mean: ClassVar[bool] = True  # False: the statistics skip the mean (Gram needs only E[f fᵀ])
    # how many C x C float matrices per layer of C channels it keeps beyond a Gram target (the memory model reads it)
    extra_matrices: ClassVar[int] = 0

    @classmethod
    def statistics(cls, features: Tensor, weights: Tensor | None = None) -> Moments:
        return moments(features, weights, with_mean=cls.uses_mean)

    @abstractmethod
    def __init__(self, target: Moments) -> None: ...

    @abstractmethod
    def distance(self, current: Moments) -> Tensor:
        """Per batch item (B,), fp32, differentiable in ``current``."""

    def __call__(self, features: Tensor, weights: Tensor | None = None) -> Tensor:
        return self.distance(self.statistics(features, weights))


def identity_like(matrix: Tensor) -> Tensor:
    return torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
