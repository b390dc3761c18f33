"""The image as a Laplacian pyramid (Kolkin et al.'s NNST): the optimiser updates band-pass levels and
the picture is their reconstruction.

Why: a pixel carries only its own detail, so a step of Adam moves each pixel by about the step size
and coarse structure (large shapes, colour fields) forms slowly and noisily. A pyramid level of side
n/2^k is upsampled onto 4^k pixels, so one step of Adam on it moves a whole region coherently; with
one step size for all levels a smooth region moves up to ``levels`` times faster than with pixels,
while the finest level still moves single pixels at the old rate. Coarse structure comes first.

Layout: ``levels[0]`` is the finest band at the image's size, each next one half the size (rounded up,
so any width and height works: odd, non-square, 1 px wide), and the last one is the low-pass residual.
Decomposition: ``G_{k+1} = down(G_k)`` (antialiased bilinear: a triangle low-pass, so the bands do not
alias), ``L_k = G_k - up(G_{k+1})`` (bilinear). Reconstruction runs the same ``up`` from the residual,
so ``reconstruct(decompose(x)) == x`` to float rounding for any down filter and any size.

The representation is overcomplete (4/3 of the pixels): many pyramids give one image. Nothing here
re-decomposes the optimised levels (that would be a projection that changes the optimiser's path);
only :meth:`Pyramid.clamp_` writes into them, and only into the finest level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from . import images

DEFAULT_LEVELS = 6  # at the engine's 128 px first stage the cap (MIN_COARSE_SIDE) allows 6 on a square
MIN_COARSE_SIDE = 4  # px, the residual's shorter side: below this a level is a handful of numbers


def level_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """(h, w) of each level, finest first: halving rounded up, so odd sizes keep their last pixel."""
    sizes = [(height, width)]
    for _ in range(levels - 1):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes


def max_levels(height: int, width: int, min_side: int = MIN_COARSE_SIDE) -> int:
    """Most levels whose residual keeps a shorter side >= ``min_side`` (1 for images smaller than that)."""
    levels, side = 1, min(height, width)
    while math.ceil(side / 2) >= min_side:
        side = math.ceil(side / 2)
        levels += 1
    return levels


def _down(image: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def _up(image: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def decompose(image: Tensor, levels: int) -> list[Tensor]:
    """Nx C x H x W -> ``levels`` tensors (``levels - 1`` bands, finest first, then the low-pass residual).
    ``levels`` is taken as given; :meth:`Pyramid.from_image` caps it."""
    sizes = level_sizes(image.shape[-2], image.shape[-1], levels)
    bands, current = [], image
    for size in sizes[1:]:
        smaller = _down(current, size)
        bands.append(current - _up(smaller, current.shape[-2:]))
        current = smaller
    return [*bands, current]


def reconstruct(levels: Sequence[Tensor]) -> Tensor:
    """The image whose :func:`decompose` gives ``levels`` (differentiable in every level)."""
    image = levels[-1]
    for band in reversed(levels[:-1]):
        image = band + _up(image, band.shape[-2:])
    return image


class Pyramid:
    """An optimisable image: leaf tensors (one per level) that :meth:`image` reconstructs.

    Use: ``pyramid = Pyramid.from_image(start, levels)``; give ``pyramid.parameters()`` to the optimiser
    (Adam or L-BFGS: both take several leaves); the objective calls ``pyramid.image()``; after a step,
    ``pyramid.clamp_()`` where pixels are clamped; between multiscale stages ``pyramid.resized(wh)``.

    Learning rate: one for all levels (as NNST). Adam divides each parameter's gradient by its own running
    scale, so the coarse levels' 4^k larger gradients do not make them jump; each level moves about ``lr``
    a step and the levels add up in smooth regions, which is the point. So a smooth region moves up to
    ``levels x lr`` a step: NNST's 2e-3 suits it, the pixels' 2e-2 overshoots the coarse levels early on
    (docs/pyramid_fit.py: at 2e-2 damping level k's rate by 2^k fitted the coarse picture faster in the
    first 10 steps; at 2e-3 the uniform rate was far ahead). Adam's state does not carry across
    :meth:`resized` (the level shapes and count change). L-BFGS runs on the leaves as they are.
    """

    def __init__(self, levels: Sequence[Tensor], requested_levels: int | None = None) -> None:
        self.levels = [level.detach().clone().requires_grad_(True) for level in levels]
        # what the caller asked for: a larger stage may hold more levels than the cap allowed here
        self.requested_levels = requested_levels if requested_levels is not None else len(self.levels)

    @classmethod
    def from_image(cls, image: Tensor, levels: int = DEFAULT_LEVELS, zero_finest: int = 0) -> Pyramid:
        """Decompose ``image`` (N x C x H x W) into at most ``levels`` levels (capped by :func:`max_levels`).

        ``zero_finest``: how many of the finest bands start at zero, i.e. the optimisation starts from a
        blurred ``image`` (NNST zeroes its 3 finest of 8 below 1024 px, so the photo's texture does not
        pin the style's strokes). Only useful for a single-scale run: a multiscale stage starts from the
        last one's picture upsampled, whose finest bands are already near zero."""
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        count = min(levels, max_levels(image.shape[-2], image.shape[-1]))
        parts = decompose(image.detach(), count)
        for i in range(min(zero_finest, count - 1)):  # the residual is never zeroed: it is the picture's mean
            parts[i] = torch.zeros_like(parts[i])
        return cls(parts, requested_levels=levels)

    @property
    def size(self) -> tuple[int, int]:
        """(w, h) of the reconstructed image, as the engine writes sizes."""
        return self.levels[0].shape[-1], self.levels[0].shape[-2]

    def parameters(self) -> list[Tensor]:
        """The leaf tensors the optimiser updates, finest first."""
        return self.levels

    def image(self) -> Tensor:
        """The picture (differentiable: the objective's gradient reaches every level)."""
        return reconstruct(self.levels)

    @torch.no_grad()
    def clamp_(self, low: float = 0.0, high: float = 1.0) -> Pyramid:
        """Make the picture exactly its clamp to [low, high] by adding the clamp's change to the finest level:
        the coarse levels (and the optimiser's state for them) stay untouched, and the next step starts
        from the same picture a pixel run would. NNST does not clamp during optimisation; the engine
        clamps pixels every step, and unclamped pyramids drift out of range where the style pushes."""
        picture = self.image()
        self.levels[0].add_(picture.clamp(low, high) - picture)
        return self

    @torch.no_grad()
    def resized(self, wh: tuple[int, int]) -> Pyramid:
        """A new pyramid at (w, h) whose picture is this one's resized as the engine resizes pixels (bicubic,
        clamped to [0, 1]); its levels are re-derived, with as many as ``requested_levels`` allows there."""
        picture = images.resize(self.image().float(), wh)
        return Pyramid.from_image(picture.to(self.levels[0].dtype), self.requested_levels)
