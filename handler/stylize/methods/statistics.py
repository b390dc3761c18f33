"""Style as feature statistics (Gatys' Gram matrices, W2's Gaussians): the statistics (mean, raw second
moment), optionally weighted by a region mask, which blend linearly over styles; the per-layer loss
interface (:class:`StyleLoss`); and :class:`StatisticsMethod`, the style method every such loss makes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from ..masks import layer_masks
from ..numerics import MIN_MASS
from .base import StageContext, StyleMethod, StyleTerm
from .second_moment import second_moment

if TYPE_CHECKING:
    from ..backbones import Backbone

FLOAT = 4


class Moments(NamedTuple):
    """Per batch item: mean (B x C, or None when the loss does not use it) and raw second moment
    E[f fᵀ] (B x C x C, the Gram matrix averaged over positions), both fp32."""

    mean: Tensor | None
    second: Tensor


class Sums(NamedTuple):
    """The sums behind :class:`Moments`: Σ w f (B x C, or None), Σ w f fᵀ (B x C x C) and the mass Σ w. Sums over
    parts of a picture add up to the whole's (a tiled stage's statistics, stylize.tiled_objective)."""

    first: Tensor | None
    second: Tensor
    mass: Tensor

    def __add__(self, other: object) -> Sums:
        assert isinstance(other, Sums)
        first = None if self.first is None or other.first is None else self.first + other.first
        return Sums(first, self.second + other.second, self.mass + other.mass)

    def moments(self) -> Moments:
        mass = self.mass.clamp_min(MIN_MASS)
        return Moments(None if self.first is None else self.first / mass, self.second / mass)


def sums(features: Tensor, weights: Tensor | None = None, with_mean: bool = True) -> Sums:
    """Sums over positions, or over positions weighted by ``weights`` (1x1xHxW at the features' size)."""
    # statistics in fp32 whatever the VGG pass ran in (bf16 sums lose the style signal); second_moment
    # casts inside, so that its backward need not keep an fp32 copy of the features
    h, w = features.shape[-2:]
    if weights is None:
        first = features.float().sum(dim=(-2, -1)) if with_mean else None
        return Sums(first, second_moment(features), torch.tensor(float(h * w), device=features.device))
    f = features.float()
    first = (f * weights).sum(dim=(-2, -1)) if with_mean else None
    return Sums(first, second_moment(f * weights.sqrt()), weights.sum())


def moments(features: Tensor, weights: Tensor | None = None, with_mean: bool = True) -> Moments:
    """Statistics over positions, or over positions weighted by ``weights`` (1x1xHxW at the features'
    size, normalised by its mass: a white mask gives exactly the unweighted statistics)."""
    return sums(features, weights, with_mean).moments()


def gram(features: Tensor) -> Tensor:
    """Batched Gram matrix B x C x C, averaged over positions (fp32 for accuracy under autocast)."""
    return moments(features, with_mean=False).second


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


@dataclass(frozen=True)
class _LayerTerm:
    layer: str
    weight: float  # the layer's weight x (with regions) the region's share of the image
    loss: StyleLoss
    mask: Tensor | None  # coverage at this layer's resolution; None: every position
    layer_weight: float = 0.0  # with a mask: the layer's own weight (before the region's share)


class _Terms:
    """The stage's style term: a weighted sum of per-layer losses.

    A tiled stage (stylize.tiled_objective) reads it whole from its tiles: :meth:`sums` of each tile's features add
    up to the picture's statistics, :meth:`assemble` gives the loss of those and its gradient in them, and
    :meth:`linear` of a tile's features, that gradient's product with the tile's sums, passes it back through the
    tile's network: the exact gradient of the whole picture's style loss, one tile's activations at a time."""

    def __init__(self, terms: list[_LayerTerm]) -> None:
        self.terms = terms

    def within(self, box: tuple[int, int, int, int], wh: tuple[int, int]) -> _Terms:
        """The term for one tile (x0, y0, x1, y1) of a ``wh`` stage (stylize.tiles): the same targets, each
        region's mask cut to the tile and its weight scaled by the region's share of the tile."""
        if all(t.mask is None for t in self.terms):
            return self
        return _TileTerms(self.terms, box, wh)

    def _mask(self, term: _LayerTerm, feature: Tensor) -> Tensor | None:
        return term.mask

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        first = next(iter(features.values()))
        total = torch.zeros(first.shape[0], device=first.device)
        for term in self.terms:
            total = total + term.weight * term.loss(features[term.layer], term.mask)
        return total

    def sums(self, features: Mapping[str, Tensor]) -> list[Sums]:
        """Each layer term's sums over these features (a tile's core)."""
        return [sums(features[t.layer], self._mask(t, features[t.layer]), t.loss.uses_mean) for t in self.terms]

    def assemble(self, totals: list[Sums]) -> tuple[Tensor, list[Moments]]:
        """The loss (B,) of the statistics the summed sums give, and its gradient in each term's sums."""
        with torch.enable_grad():
            leaves = [Sums(None if s.first is None else s.first.detach().requires_grad_(True),
                           s.second.detach().requires_grad_(True), s.mass.detach()) for s in totals]
            value = sum(t.weight * t.loss.distance(s.moments()) for t, s in zip(self.terms, leaves, strict=True))
            assert isinstance(value, Tensor)
            inputs = [x for s in leaves for x in (s.first, s.second) if x is not None]
            found = iter(torch.autograd.grad(value.sum(), inputs))
        grads = [Moments(None if s.first is None else next(found), next(found)) for s in leaves]
        return value.detach(), grads

    def linear(self, features: Mapping[str, Tensor], grads: list[Moments]) -> Tensor:
        """Σ over terms of the gradient (from :meth:`assemble`) times these features' sums: differentiated, the
        whole loss's gradient through these features."""
        first = next(iter(features.values()))
        total = torch.zeros(first.shape[0], device=first.device)
        for s, g in zip(self.sums(features), grads, strict=True):
            total = total + (s.second * g.second).sum(dim=(-2, -1))
            if s.first is not None and g.mean is not None:
                total = total + (s.first * g.mean).sum(dim=-1)
        return total


class _TileTerms(_Terms):
    """Region terms over one tile: masks are cut at the tile's place at each layer's resolution (the tile's
    features decide the cut's size, as pooling floors odd sizes)."""

    def __init__(self, terms: list[_LayerTerm], box: tuple[int, int, int, int], wh: tuple[int, int]) -> None:
        super().__init__(terms)
        self.box, self.wh = box, wh

    def _mask(self, term: _LayerTerm, feature: Tensor) -> Tensor | None:
        if term.mask is None:
            return None
        mh, mw = term.mask.shape[-2:]
        h, w = feature.shape[-2:]
        top = min(round(self.box[1] * mh / self.wh[1]), mh - h)
        left = min(round(self.box[0] * mw / self.wh[0]), mw - w)
        return term.mask[..., top:top + h, left:left + w]

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        first = next(iter(features.values()))
        total = torch.zeros(first.shape[0], device=first.device)
        for term in self.terms:
            f = features[term.layer]
            mask = self._mask(term, f)
            if mask is None:
                total = total + term.weight * term.loss(f)
                continue
            share = mask.sum() / (f.shape[-2] * f.shape[-1])  # a tensor: no host sync per step
            total = total + term.layer_weight * share * term.loss(f, mask)
        return total


class StatisticsMethod(StyleMethod):
    """Per layer, a :class:`StyleLoss` against the styles' statistics.

    Without regions, one term per layer against the styles' blended statistics. With regions (Gatys et al.
    2017), one term per covering style and layer: the image's statistics weighted by the style's coverage,
    against the style's own (weighted by its style mask), scaled by the coverage's share of the image so that
    the per-pixel pull matches a global run's."""

    loss: ClassVar[type[StyleLoss]]

    def prepare(self, stage: StageContext) -> StyleTerm:
        with torch.no_grad():
            feats = [stage.features(s) for s in stage.styles]
            terms = self._global(stage, feats) if stage.coverage is None else self._guided(stage, feats)
        return _Terms(terms)

    def _global(self, stage: StageContext, feats: list[dict[str, Tensor]]) -> list[_LayerTerm]:
        out = []
        for k, w in zip(stage.layers, stage.layer_weights, strict=True):
            target = blend([self.loss.statistics(f[k]) for f in feats], stage.blend)
            out.append(_LayerTerm(k, w, self.loss(target), None))
        return out

    def _guided(self, stage: StageContext, feats: list[dict[str, Tensor]]) -> list[_LayerTerm]:
        assert stage.coverage is not None
        out = []
        for f, cover, own in zip(feats, stage.coverage, stage.style_masks, strict=True):
            own_levels = layer_masks(own, stage.layers, stage.backbone) if own is not None else {}
            for (k, mask), layer_w in zip(layer_masks(cover, stage.layers, stage.backbone).items(), stage.layer_weights, strict=True):
                mass = float(mask.sum())
                if mass < MIN_MASS:  # this style covers nothing at this layer's resolution
                    continue
                target = self.loss.statistics(f[k], own_levels.get(k))
                out.append(_LayerTerm(k, layer_w * mass / mask[0, 0].numel(), self.loss(target), mask, layer_w))
        return out

    def state_bytes(self, params: Any, backbone: Backbone, style_pixels: int, styles: int, stage_pixels: int, seen_pixels: int) -> int:
        """What the loss keeps per layer beyond a Gram target (W2: covariances, their roots, the decomposition's
        work), per style when regions give each style its own terms (an upper bound)."""
        matrices = self.loss.extra_matrices
        return sum(backbone.layer(k).channels ** 2 * FLOAT * matrices for k in self.layers(params)) * max(1, styles)
