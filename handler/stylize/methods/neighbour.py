"""Nearest-neighbour hypercolumn matching (after Kolkin et al.'s Neural Neighbor Style Transfer, 2022).

Why a third method: Gram and W2 match *statistics* of the style's features over the whole picture, and the
cheapest way for an image to have a portrait's statistics is often to contain the portrait's face; so faces
and objects of the painting appear in the photo ("ghosts"). Here each position of the output gets its own
target: the style hypercolumn nearest to what the photo (mixed with the current picture) has at that position.
The target is always a feature the painting really has (its strokes, its palette), and which one is decided by
the photo's layout, so the painting's layout has no way in.

- **Hypercolumns**: the relu layers of VGG blocks 1..``neighbour_blocks`` (VGG16, 4 blocks: relu1_1 … relu4_3,
  2688 channels), each divided by its channel count (so the 512-channel layers do not own the cosine), resized
  to one grid of a cell per ``neighbour_stride`` pixels (cell averages; bilinear for the coarser relu4 maps) and
  concatenated.
- **Keys**: the style images' hypercolumns at their stage size, optionally also of their 90/180/270° rotations
  (more strokes of every orientation to choose from, so an edge of the photo finds a stroke that follows it);
  a style mask keeps only the cells it covers; several styles are pooled, each contributing keys in proportion
  to its share of ``style_blend``; beyond ``neighbour_keys`` keys a seeded random subset is searched.
- **Targets**, once per stage without gradient: the hypercolumns of ``mix x photo + (1 - mix) x start image``
  are the queries; each query's target is its nearest key by *centred* cosine (queries and keys each minus their
  own set's mean, so the match compares the pattern of a position against the others rather than the common
  offset every VGG feature has). The search is matrix products in chunks of at most :data:`CHUNK_ELEMENTS`
  scores, so its memory is bounded whatever the sizes, in bf16 when the run's network arithmetic is bf16
  (1024 x 4096 keys x 2688 channels on this 2-core CPU: 0.93 s against 2.0 s in fp32).
- **Loss**: the mean over cells of 1 - cos(hypercolumn, target). With region masks each style's targets come
  from its own keys for the cells it covers, and a cell's loss is weighted by its coverage (cells no mask
  covers get none), as the statistics methods weigh a region's terms.

It reads its own layers, not ``style_layers``; per-layer weights mean nothing to it and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.nn import functional as F

from ..backbones import RELU
from ..errors import FieldError
from ..numerics import EPS
from ..param_field import param
from .base import StageContext, StyleMethod, StyleTerm

if TYPE_CHECKING:
    from ..backbones import Backbone

FLOAT = 4
CHUNK_ELEMENTS = 1 << 23  # scores per matrix-product block of the search: 32 MiB in fp32
ROTATIONS = (0, 1, 2, 3)  # quarter turns of the style image when rotations are on
MASK_KEEP = 0.5  # a style mask keeps a key cell covered at least this much
# The cosine term is on another scale than the statistics methods' normalised distances: at the same
# style_weight it barely moved the photo (Tübingen x The Kiss at 256 px came out as the photo, faintly tinted),
# and x10 stylised it as much as Gram's default does. So one style_weight (and the web app's Strength) means
# about the same pull whichever method is chosen.
GAIN = 10.0


def hypercolumn_layers(backbone: Backbone, blocks: int) -> tuple[str, ...]:
    """Every relu layer of blocks 1..``blocks``, shallowest first."""
    return tuple(la.name for la in backbone.layers if la.kind == RELU and la.block <= blocks)


def grid_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """(h, w) of the hypercolumn grid of an image: one cell per ``stride`` pixels, at least 1."""
    return max(1, round(height / stride)), max(1, round(width / stride))


def to_grid(feature: Tensor, grid: tuple[int, int]) -> Tensor:
    """A layer's map (any dtype) on the hypercolumn grid, fp32: averaged over each cell's pixels where the map is
    finer (before the fp32 copy, so a bf16 relu1 map is never copied whole), bilinear where it is coarser.

    Why not one antialiased bilinear resize: its forward and backward on the full-size relu1 maps and the
    upsampled relu4 maps took most of an iteration (0.60 s of forward and backward at 512 px on this 2-core CPU,
    0.35 s this way)."""
    h, w = feature.shape[-2:]
    if (h, w) == grid:
        return feature.float()
    if h >= grid[0] and w >= grid[1]:
        return F.adaptive_avg_pool2d(feature, grid).float()
    if h <= grid[0] and w <= grid[1]:
        return F.interpolate(feature.float(), size=grid, mode="bilinear", align_corners=False)
    return F.interpolate(feature.float(), size=grid, mode="bilinear", align_corners=False, antialias=True)  # finer one way only


def hypercolumns(features: Mapping[str, Tensor], layers: Sequence[str], grid: tuple[int, int]) -> Tensor:
    """B x D x gh x gw: each layer (fp32) divided by its channel count, on ``grid`` (:func:`to_grid`), concatenated."""
    return torch.cat([to_grid(features[name], grid) / features[name].shape[1] for name in layers], dim=1)


def _rows(columns: Tensor) -> Tensor:
    """1 x D x h x w -> (h*w) x D."""
    return columns[0].flatten(1).T


def _centred_unit(rows: Tensor, dtype: torch.dtype) -> Tensor:
    centred = rows - rows.mean(dim=0, keepdim=True)
    return (centred / centred.norm(dim=1, keepdim=True).clamp_min(EPS)).to(dtype)


def nearest(queries: Tensor, keys: Tensor, chunk_elements: int = CHUNK_ELEMENTS, dtype: torch.dtype = torch.float32) -> Tensor:
    """Index into ``keys`` (m x D) of each query's (n x D) nearest key by centred cosine distance.

    Blocks of at most ``chunk_elements`` scores: queries in row chunks and, when one row of scores would not
    fit, keys in column chunks with a running best. Equal keys in different column chunks may score a rounding apart,
    so of several copies of one key any may be picked (the same target row)."""
    q, k = _centred_unit(queries, dtype), _centred_unit(keys, dtype)
    n, m = q.shape[0], k.shape[0]
    cols = max(1, min(m, chunk_elements))
    rows = max(1, chunk_elements // cols)
    out = torch.empty(n, dtype=torch.long, device=queries.device)
    for r in range(0, n, rows):
        block = q[r:r + rows]
        best = torch.full((block.shape[0],), -torch.inf, device=queries.device)
        index = torch.zeros(block.shape[0], dtype=torch.long, device=queries.device)
        for c in range(0, m, cols):
            value, at = (block @ k[c:c + cols].T).float().max(dim=1)
            better = value > best
            best = torch.where(better, value, best)
            index = torch.where(better, at + c, index)
        out[r:r + rows] = index
    return out


def _subsample(rows: Tensor, count: int, generator: torch.Generator) -> Tensor:
    if count >= rows.shape[0]:
        return rows
    pick = torch.randperm(rows.shape[0], generator=generator)[:count].to(rows.device)
    return rows[pick.sort().values]


def pooled_keys(key_sets: Sequence[Tensor], shares: Sequence[float], limit: int, generator: torch.Generator) -> Tensor:
    """Several styles' keys as one set, style i's count in proportion to its share (the most such a set can
    hold: one style keeps all its keys), at most ``limit`` in all; a zero share contributes nothing."""
    live = [(rows, s) for rows, s in zip(key_sets, shares, strict=True) if s > 0 and rows.shape[0] > 0]
    scale = min(rows.shape[0] / s for rows, s in live)
    total = sum(s * scale for _, s in live)
    scale *= min(1.0, limit / total)
    return torch.cat([_subsample(rows, max(1, int(s * scale)), generator) for rows, s in live])


class _Term:
    """GAIN x the mean over cells of weight - cos(h, target) (target is the unit target already times its weight)."""

    def __init__(self, layers: tuple[str, ...], grid: tuple[int, int], target: Tensor, weight: Tensor | float) -> None:
        self.layers, self.grid, self.target, self.weight = layers, grid, target, weight

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        # The hypercolumn's dot with the target and its squared norm, summed layer by layer: the same value as
        # cos(hypercolumns(...), target) without the concatenated copy (2688 channels x the grid): 0.89 -> 0.61 s
        # forward and backward at 512 px on this 2-core CPU, with to_grid 0.35 s.
        dot: Tensor | float = 0.0
        square: Tensor | float = 0.0
        start = 0
        for name in self.layers:
            f = to_grid(features[name], self.grid)
            channels = f.shape[1]
            dot = dot + (f * self.target[:, start:start + channels]).sum(dim=1, keepdim=True) / channels
            square = square + f.square().sum(dim=1, keepdim=True) / channels**2
            start += channels
        cos = dot / torch.as_tensor(square).clamp_min(EPS * EPS).sqrt()  # clamped before the root (infinite slope at 0): a blank cell gets no NaN
        return GAIN * (self.weight - cos).mean(dim=(1, 2, 3))


def _unit(rows: Tensor) -> Tensor:
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(EPS)


class Neighbour(StyleMethod):
    name = "neighbour"
    summary = ("nearest-neighbour hypercolumns (Kolkin's NNST): every position takes the painting's nearest feature, "
               "so the painting's objects and faces are not copied; reads the relu layers of neighbour_blocks, not style_layers")
    params = (
        ("neighbour_rotations", bool, param(True, "Also match against the style images turned 90, 180 and 270 degrees "
                                                  "(strokes in every direction to follow the photo's edges).")),
        ("neighbour_content_mix", float, param(0.75, "Share of the content photo (the rest: the stage's start image) in the image "
                                                     "whose features choose each position's style feature; 1 follows the photo's "
                                                     "layout most.", min=0.0, max=1.0)),
        ("neighbour_stride", int, param(4, "Hypercolumn grid: one cell per N x N pixels (smaller: finer matches, slower).",
                                        min=1, max=32)),
        ("neighbour_keys", int, param(16384, "Most style hypercolumns searched per stage (a seeded random subset beyond).",
                                      min=64, max=1 << 20)),
        ("neighbour_blocks", int, param(4, "VGG blocks whose relu layers form the hypercolumns (4: relu1_1 to relu4_3 on VGG16).",
                                        min=1, max=5)),
    )

    def layers(self, params: Any) -> tuple[str, ...]:
        from .. import backbones  # the params' network is resolved by the time a run asks

        return hypercolumn_layers(backbones.get(params.network), params.neighbour_blocks)

    def check(self, params: Any, backbone: Backbone) -> None:
        if params.style_layer_weights is not None:
            raise FieldError("style_layer_weights", "style_loss=neighbour concatenates its layers into hypercolumns "
                                                    "(each divided by its channel count) and takes no per-layer weights")
        if params.neighbour_blocks > len(backbone.blocks):
            raise FieldError("neighbour_blocks", f"{backbone.name} has {len(backbone.blocks)} blocks, got {params.neighbour_blocks}")

    def prepare(self, stage: StageContext) -> StyleTerm:
        p = stage.params
        layers = hypercolumn_layers(stage.backbone, p.neighbour_blocks)
        generator = torch.Generator(device="cpu").manual_seed(p.seed)
        stride = p.neighbour_stride
        grid = grid_size(stage.content.shape[-2], stage.content.shape[-1], stride)
        with torch.no_grad():
            mix = p.neighbour_content_mix
            query_image = mix * stage.content + (1 - mix) * stage.start.to(stage.content.dtype)
            query_features = stage.features(query_image)
            # the search in the run's arithmetic: bf16 halves its time on CPUs with bf16 units and only reorders
            # near-ties (98 % of random 2688-d queries pick the same key as fp32)
            search = torch.bfloat16 if next(iter(query_features.values())).dtype == torch.bfloat16 else torch.float32
            queries = _rows(hypercolumns(query_features, layers, grid))
            key_sets = [self._keys(stage, style, own, layers, stride) for style, own in zip(stage.styles, stage.style_masks, strict=True)]
            if stage.coverage is None:
                keys = pooled_keys(key_sets, stage.blend, p.neighbour_keys, generator)
                target = _unit(keys[nearest(queries, keys, dtype=search)])
                return _Term(layers, grid, target.T.reshape(1, -1, *grid).contiguous(), 1.0)
            return self._guided(stage, queries, key_sets, layers, grid, generator, search)

    def _keys(self, stage: StageContext, style: Tensor, own: Tensor | None, layers: tuple[str, ...], stride: int) -> Tensor:
        """One style's key rows (cells x D), rotations appended, cells outside its style mask left out."""
        sets = []
        for turns in ROTATIONS if stage.params.neighbour_rotations else (0,):
            image = torch.rot90(style, turns, dims=(-2, -1))
            grid = grid_size(image.shape[-2], image.shape[-1], stride)
            rows = _rows(hypercolumns(stage.features(image), layers, grid))
            if own is not None:
                cells = F.interpolate(torch.rot90(own, turns, dims=(-2, -1)).float(), size=grid, mode="area")
                keep = cells.flatten() >= MASK_KEEP
                rows = rows[keep] if bool(keep.any()) else rows[cells.flatten().argmax().view(1)]
            sets.append(rows)
        return torch.cat(sets)

    def _guided(self, stage: StageContext, queries: Tensor, key_sets: list[Tensor], layers: tuple[str, ...],
                grid: tuple[int, int], generator: torch.Generator, search: torch.dtype) -> StyleTerm:
        """Each style's cells matched against its own keys only; a cell's pull weighted by its coverage. The
        loss Σ_i w_i (1 - cos(h, t_i)) is one cosine against Σ_i w_i t_i, so one target tensor holds them all."""
        assert stage.coverage is not None
        target = torch.zeros_like(queries)
        weight = torch.zeros(queries.shape[0], 1, device=queries.device)
        for keys, cover in zip(key_sets, stage.coverage, strict=True):
            w = F.interpolate(cover.float(), size=grid, mode="area").flatten()
            cells = (w > 0).nonzero().flatten()
            if cells.numel() == 0:
                continue
            keys = pooled_keys([keys], [1.0], stage.params.neighbour_keys, generator)
            target[cells] += w[cells, None] * _unit(keys[nearest(queries[cells], keys, dtype=search)])
            weight[cells] += w[cells, None]
        return _Term(layers, grid, target.T.reshape(1, -1, *grid).contiguous(), weight.T.reshape(1, 1, *grid))

    def state_bytes(self, params: Any, backbone: Backbone, style_pixels: int, styles: int) -> int:
        """Keys (the style hypercolumns, rotations included, then at most ``neighbour_keys``) while the targets are
        made, the queries and the targets (one per output cell; the output's longest side is ``size``), the
        search's score block, and per iteration the image's hypercolumns with their product and gradient."""
        depth = sum(la.channels for la in backbone.layers if la.kind == RELU and la.block <= params.neighbour_blocks)
        style_cells = style_pixels // params.neighbour_stride**2 * (len(ROTATIONS) if params.neighbour_rotations else 1)
        keys = min(style_cells * max(1, styles), params.neighbour_keys) + style_cells  # the pool and one style's full set
        cells = (params.size // params.neighbour_stride + 1) ** 2
        return (keys + 5 * cells) * depth * FLOAT + CHUNK_ELEMENTS * FLOAT


METHOD = Neighbour()
