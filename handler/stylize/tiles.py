"""Tiled stages: a stage too big to optimise at once is optimised one tile at a time, so a job's peak
memory follows the tile size, not the output size (beyond a few image-sized buffers).

The stage's style term is prepared once, from the whole style images (see :mod:`stylize.methods`), so
every tile aims at the same style; each tile gets its own content targets (the content cropped to the
same box, through the same network, so the crop's zero-padded borders are the same on both sides).

A stage's iterations become *passes*: in each pass every tile is visited once and given a few optimiser
steps (a fresh optimiser per visit: its state is tile-sized), then written back into the stage's image.
Three things keep tile borders invisible:

- the network sees a tile with a *margin* of its neighbours' pixels around it (optimised along, not
  written back): a pixel near a crop's edge gets little of the style's gradient (fewer of the network's
  windows cover it, and those see zero padding), so without the margin every tile's rim stays
  under-stylised, a grid of pale bands;
- neighbouring tiles overlap and each is written back with feathered weights (a linear ramp over the
  overlap on every edge that is not the image's own);
- the grid moves by a random offset every pass (the tiles at the image's edges shrink or grow to follow),
  so no border stays at the same place for two passes.

``margin=0, overlap=0, shift=False, feather=False`` (:meth:`TileSettings.naive`) is the naive tiling the
seam test shows failing. Iterations stay in image units: a pass of ``k`` steps per tile counts ``k`` iterations,
and the run's counter moves as the pass's tile steps are done, so a step of :class:`~stylize.run.Run`
may stop between tiles (or between two steps of one tile).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .averaging import IterateAverage
from .planning import Stage, split_iterations

ALIGN = 16  # the deepest style layers sit behind 4 poolings: grid offsets in whole 16 px cells keep features aligned


@dataclass(frozen=True)
class TileSettings:
    """When and how stages are tiled (per device: :func:`for_device`; tests use tiny values)."""

    threshold_pixels: int  # a stage with more pixels than this is tiled
    tile: int = 512  # tile side in pixels (square tiles; an image side shorter than this is one tile)
    overlap: int = 64  # pixels shared by neighbouring tiles, feathered
    margin: int = 64  # context the network sees on each side of a tile (not written back)
    # True: the margin keeps its pixels (no gradient). Measured (docs/benchmarks.md#big-pictures): a much lower
    # loss, but a hard edge where the tile meets its frozen neighbours; optimised along, the borders vanish
    freeze_margin: bool = False
    steps: int = 16  # optimiser steps per tile visit; a stage's iterations / steps = its passes
    shift: bool = True  # move the grid by a random offset every pass
    feather: bool = True  # blend tiles in with linear ramps over the overlap (False: paste)
    style_side: int = 1024  # longest side of the style images a tiled stage reads (their statistics' scale)
    # True: the whole picture is optimised at once, its gradient assembled tile by tile (stylize.tiled_objective); the
    # per-visit settings (overlap, steps, shift, feather, freeze_margin) then do not apply. False: tile visits (below)
    assemble: bool = True
    history: int = 10  # L-BFGS pairs an assembled stage keeps: each is two picture-sized vectors (100 untiled)

    def __post_init__(self) -> None:
        if self.tile < 2 * ALIGN or self.margin < 0 or (not self.assemble and not 0 <= self.overlap < self.tile // 2):
            raise ValueError(f"tile {self.tile} px with overlap {self.overlap} px: the tile needs >= {2 * ALIGN} px and "
                             "the overlap less than half of it")
        if self.steps < 1 or self.threshold_pixels < 1 or self.history < 1:
            raise ValueError("tile steps and threshold must be positive")

    def applies(self, wh: tuple[int, int]) -> bool:
        return wh[0] * wh[1] > self.threshold_pixels

    def naive(self) -> TileSettings:
        """Tiles side by side, pasted, at fixed places, each seeing no more than itself: what the margins (and, for
        visits, the feathering and shifting) are measured against."""
        return replace(self, overlap=0, margin=0, shift=False, feather=False)

    def tile_pixels(self, wh: tuple[int, int]) -> int:
        """Pixels the network sees at once in a ``wh`` stage: a tile and its margins."""
        side = self.tile + 2 * self.margin
        return min(side, wh[0]) * min(side, wh[1])

    def overhead(self, wh: tuple[int, int]) -> float:
        """Pixels the network sees per image pixel in one pass over an unshifted grid (>= 1: overlap and margins)."""
        return sum(seen.pixels for _, seen in pieces(wh, self)) / (wh[0] * wh[1])

    def as_dict(self) -> dict[str, Any]:
        if self.assemble:  # the whole picture steps at once: visits' overlap, steps, shift and feathering do not apply
            return {"threshold_pixels": self.threshold_pixels, "tile": self.tile, "margin": self.margin, "style_side": self.style_side,
                    "assemble": True, "history": self.history}
        return {"threshold_pixels": self.threshold_pixels, "tile": self.tile, "overlap": self.overlap, "margin": self.margin, "steps": self.steps,
                "shift": self.shift, "feather": self.feather, "style_side": self.style_side, "assemble": False}


def for_device(device: torch.device) -> TileSettings:
    """CPU: stages above 1 MP (a 1024 px square) in 512 px tiles; GPU: above 4 MP in 1024 px tiles.
    Either keeps the untiled sizes the service always ran untiled."""
    if device.type == "cpu":
        return TileSettings(threshold_pixels=1024 * 1024, tile=512, overlap=64, margin=64)
    return TileSettings(threshold_pixels=2048 * 2048, tile=1024, overlap=128, margin=128, style_side=2048)


class Box(NamedTuple):
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def pixels(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def of(self, image: Tensor) -> Tensor:
        """The box's view of an NCHW tensor."""
        return image[..., self.y0:self.y1, self.x0:self.x1]


def spans(length: int, tile: int, overlap: int, offset: int) -> list[tuple[int, int]]:
    """Tile spans along one axis, each overlapping the previous by ``overlap``; ``offset`` (0 <= offset <
    tile - overlap) moves every inner border back by that much, the first and last spans cut at the image's
    edges (so every border moves with the offset; no span is longer than ``tile``)."""
    if length <= tile:
        return [(0, length)]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"tiles of {tile} px overlapping by {overlap} px never move on")
    out: list[tuple[int, int]] = []
    at = -offset
    while True:
        out.append((max(at, 0), min(at + tile, length)))
        if at + tile >= length:
            return out
        at += stride


def context(box: Box, wh: tuple[int, int], margin: int) -> Box:
    """The box grown by ``margin`` on every side, within the image: what the network sees of a tile."""
    return Box(max(0, box.x0 - margin), max(0, box.y0 - margin), min(wh[0], box.x1 + margin), min(wh[1], box.y1 + margin))


def grid(wh: tuple[int, int], settings: TileSettings, offset: tuple[int, int]) -> list[Box]:
    """The boxes of one pass, row by row."""
    xs = spans(wh[0], settings.tile, settings.overlap, offset[0])
    ys = spans(wh[1], settings.tile, settings.overlap, offset[1])
    return [Box(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]


def pieces(wh: tuple[int, int], settings: TileSettings) -> list[tuple[Box, Box]]:
    """A stage's unshifted tiles as (core, seen) boxes (an assembled stage's cores, which its objective reads too):
    what a style method that reads the stage's own images passes through the network one at a time
    (:class:`~stylize.methods.StageContext`)."""
    if settings.assemble:
        return cores(wh, settings, (0, 0))
    return [(box, context(box, wh, settings.margin)) for box in grid(wh, settings, (0, 0))]


def cores(wh: tuple[int, int], settings: TileSettings, offset: tuple[int, int]) -> list[tuple[Box, Box]]:
    """An assembled stage's tiles as (core, seen) boxes: cores side by side covering the picture once, each seen with
    its margin."""
    return [(box, context(box, wh, settings.margin)) for box in grid(wh, replace(settings, overlap=0), offset)]


def random_offset(settings: TileSettings, generator: torch.Generator) -> tuple[int, int]:
    """A grid offset in whole ALIGN cells below the stride (0 when shifting is off)."""
    cells = (settings.tile - settings.overlap) // ALIGN  # offsets over a whole stride: borders anywhere
    if not settings.shift or cells <= 1:
        return (0, 0)
    x, y = torch.randint(0, cells, (2,), generator=generator).tolist()
    return (x * ALIGN, y * ALIGN)


def ramp(length: int, overlap: int, rising: bool, falling: bool) -> Tensor:
    """Per-pixel weights along one side of a tile: linear ramps over ``overlap`` px at the inner edges, 1 elsewhere.
    A ramp never reaches 0 (the first pixel gets 1/(overlap+1)), so every pixel of the tile takes part."""
    weights = torch.ones(length)
    n = min(overlap, length // 2)
    if n > 0:
        up = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)
        if rising:
            weights[:n] = up
        if falling:
            weights[length - n:] = torch.minimum(weights[length - n:], up.flip(0))
    return weights


def feather(box: Box, wh: tuple[int, int], settings: TileSettings) -> Tensor | None:
    """1x1xhxw blending weights of a tile (None: paste it as it is)."""
    if not settings.feather or settings.overlap == 0:
        return None
    wx = ramp(box.x1 - box.x0, settings.overlap, box.x0 > 0, box.x1 < wh[0])
    wy = ramp(box.y1 - box.y0, settings.overlap, box.y0 > 0, box.y1 < wh[1])
    return (wy[:, None] * wx[None, :])[None, None]


class Visit:
    """One tile's turn: its box, the crop the network sees (the box and its margins), a fresh optimiser over
    that crop, and how many steps it has had."""

    def __init__(self, box: Box, crop: Box, canvas: Any, optimizer: torch.optim.Optimizer, tracker: Any) -> None:
        # canvas: what the optimiser updates (pixels or a pyramid), with image() and clamp_()
        self.box, self.crop, self.canvas, self.optimizer, self.tracker = box, crop, canvas, optimizer, tracker
        self.steps = 0

    def core(self, image: Tensor) -> Tensor:
        """The tile's own pixels of a crop-sized tensor."""
        b, c = self.box, self.crop
        return image[..., b.y0 - c.y0:b.y1 - c.y0, b.x0 - c.x0:b.x1 - c.x0]


# what the run hands a tiled stage: the objective of one box (its content targets, the stage's style term
# cropped to it), and an optimiser over a start image -> (canvas being optimised, optimiser, tracker)
ObjectiveFor = Callable[[Box], Any]
OptimiserFor = Callable[[Any, Tensor], tuple[Any, torch.optim.Optimizer, Any]]


class TiledStage:
    """One stage optimised tile by tile; :meth:`step` is one optimiser step on one tile."""

    def __init__(self, settings: TileSettings, number: int, plan: Stage, start: Tensor, objective_for: ObjectiveFor,
                 optimiser_for: OptimiserFor, generator: torch.Generator, average: IterateAverage | None) -> None:
        self.settings, self.number, self.plan, self.start = settings, number, plan, start
        self.objective_for, self.optimiser_for, self.average = objective_for, optimiser_for, average
        self.image = start.detach().clone()  # the stage's picture; tiles are written back into it
        wh = plan.size
        passes = max(1, min(plan.iterations, math.ceil(plan.iterations / settings.steps)))
        self.pass_steps = split_iterations(plan.iterations, passes)
        # every pass's grid is drawn now, so the stage's tile steps (and so its iteration count) are known
        self.grids = [grid(wh, settings, random_offset(settings, generator)) for _ in range(passes)]
        self.weights = [[feather(box, wh, settings) for box in boxes] for boxes in self.grids]
        self.total_steps = sum(n * len(boxes) for n, boxes in zip(self.pass_steps, self.grids, strict=True))
        self.pass_index, self.tile_index = 0, 0
        self.tile_steps = 0  # over the whole stage
        self.done = 0  # the stage's iterations done (image units)
        self.visit: Visit | None = None
        # tile -> (its own pixels, its latest losses): the pass under way, and the last pass completed. Passes differ
        # in tile count (the grid shifts), so a pass's entries never mix with another's
        self._losses: dict[int, tuple[int, dict[str, Tensor]]] = {}
        self._passed: dict[int, tuple[int, dict[str, Tensor]]] = {}

    @property
    def tiles(self) -> int:
        """Tiles in the current pass."""
        return len(self.grids[min(self.pass_index, len(self.grids) - 1)])

    @property
    def tile(self) -> int:
        """1-based: the tile being optimised now, or the next one."""
        return min(self.tile_index, self.tiles - 1) + 1

    @property
    def passes(self) -> int:
        return len(self.grids)

    @property
    def finished(self) -> bool:
        return self.pass_index >= len(self.grids)

    @property
    def losses(self) -> dict[str, Tensor]:
        """The stage's objective as one number per part: the mean over one whole pass's tiles of each tile's latest
        losses, weighted by the tile's own pixels (its margin is context, not its share of the picture). The last
        completed pass, else the pass under way. No host sync.

        A tile's losses are those of its own objective (its crop's content targets, the stage's whole style
        targets), so this reads higher than the same picture's whole-image loss: a crop's feature statistics stray
        further from the style's than the whole picture's do (tests/test_big_pictures.py measures both)."""
        recorded = self._passed or self._losses
        if not recorded:
            return {}
        total = sum(px for px, _ in recorded.values())
        keys = next(iter(recorded.values()))[1].keys()
        return {k: sum(parts[k] * (px / total) for px, parts in recorded.values()) for k in keys}  # type: ignore[misc]

    def result(self) -> Tensor:
        """What the next stage starts from: the stage's average, else its picture."""
        return self.image if self.average is None else self.average.value

    def step(self) -> int:
        """One optimiser step on the current tile (a tile whose visit ends is written back); returns how many of
        the stage's iterations this completed (usually 0 or 1)."""
        if self.visit is None:
            self.visit = self._open(self.grids[self.pass_index][self.tile_index])
        visit = self.visit
        visit.optimizer.step(visit.tracker.closure)
        visit.canvas.clamp_()
        visit.steps += 1
        self.tile_steps += 1
        if visit.tracker.best_losses:
            # the best evaluated point's losses, not the last evaluation's: a visit writes back its best image (or
            # a step from it), and an L-BFGS step that overshot (losses 10x, measured) is thrown away, not reported
            self._losses[self.tile_index] = (visit.box.pixels, visit.tracker.best_losses)
        if visit.steps >= self.pass_steps[self.pass_index]:
            self._close(visit)
        done = self.tile_steps * self.plan.iterations // self.total_steps
        completed, self.done = done - self.done, done
        if self.average is not None:
            for _ in range(completed):
                self.average.update(self.image)
        return completed

    def _open(self, box: Box) -> Visit:
        crop = context(box, self.plan.size, self.settings.margin)
        objective = self.objective_for(crop)
        canvas, optimizer, tracker = self.optimiser_for(objective, crop.of(self.image).contiguous())
        leaf = getattr(canvas, "leaf", None)  # pixels; a pyramid's coarse levels span the margin and move with it
        if self.settings.freeze_margin and crop != box and leaf is not None:
            # the optimiser moves only the tile's own pixels: those next to the margin are fitted to the
            # neighbours as they are, not to a margin that is thrown away after the visit
            keep = torch.zeros_like(leaf[:, :1])
            Box(box.x0 - crop.x0, box.y0 - crop.y0, box.x1 - crop.x0, box.y1 - crop.y0).of(keep).fill_(1)
            leaf.register_hook(lambda grad: grad * keep)
        return Visit(box, crop, canvas, optimizer, tracker)

    def _close(self, visit: Visit) -> None:
        weights = self.weights[self.pass_index][self.tile_index]
        with torch.no_grad():
            region = visit.box.of(self.image)
            new = visit.core(self._outcome(visit))
            if weights is None:
                region.copy_(new)
            else:
                region.lerp_(new, weights.to(region.device, region.dtype))
        self.visit = None
        self.tile_index += 1
        if self.tile_index == len(self.grids[self.pass_index]):
            self.tile_index = 0
            self.pass_index += 1
            self._passed, self._losses = self._losses, {}


    @staticmethod
    def _outcome(visit: Visit) -> Tensor:
        """The visit's image after its last step when the step was taken from its best point so far (the loss
        still falling: the last step's work is kept, a visit being only a few steps), else its best image.
        torch.where: no host sync."""
        tracker = visit.tracker
        last = tracker.losses["total"].detach().sum() if tracker.losses else tracker.best_loss
        return torch.where(last <= tracker.best_loss, visit.canvas.image().detach(), tracker.best)


def crop_term(term: Any, box: Box, wh: tuple[int, int]) -> Any:
    """The stage's style term for one tile: a term that depends on where it is (region masks) says so with a
    ``within(box, wh)`` method; any other term (global statistics) is the same for every tile."""
    within = getattr(term, "within", None)
    return within(box, wh) if within is not None else term
