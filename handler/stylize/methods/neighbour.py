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
- **Layout** (``neighbour_layout_weight`` > 0; STROTSS's content loss): at 1024 sampled cells, the picture's cosine
  distances between cells (divided by their mean) held to those of the search's queries: where things are and
  how they differ, not what they look like.

It reads its own layers, not ``style_layers``; a job of it that sets ``style_layers`` or per-layer weights is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

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
LAYOUT_CELLS = 1024  # cells the layout term compares pairwise (STROTSS samples about as many)


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


def _centred_unit(rows: Tensor, dtype: torch.dtype, mean: Tensor | None = None) -> Tensor:
    centred = rows - (rows.mean(dim=0, keepdim=True) if mean is None else mean)
    return (centred / centred.norm(dim=1, keepdim=True).clamp_min(EPS)).to(dtype)


def nearest(queries: Tensor, keys: Tensor, chunk_elements: int = CHUNK_ELEMENTS, dtype: torch.dtype = torch.float32,
            query_mean: Tensor | None = None) -> Tensor:
    """Index into ``keys`` (m x D) of each query's (n x D) nearest key by centred cosine distance (queries centred
    on ``query_mean`` when given: the mean of a larger set they are part of, e.g. a whole tiled stage).

    Blocks of at most ``chunk_elements`` scores: queries in row chunks and, when one row of scores would not
    fit, keys in column chunks with a running best. Equal keys in different column chunks may score a rounding apart,
    so of several copies of one key any may be picked (the same target row)."""
    q, k = _centred_unit(queries, dtype, query_mean), _centred_unit(keys, dtype)
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


@dataclass(frozen=True)
class _Part:
    """One set of targets over the stage's grid: each cell's key (an index into ``keys``, unit rows) and, with
    regions, the cell's weight for this style (None: weight 1 everywhere)."""

    keys: Tensor  # m x D, unit rows
    index: Tensor  # gh x gw, long
    weight: Tensor | None  # gh x gw or None

    def cut(self, cells: _Cells) -> _Part:
        return _Part(self.keys, cells.of(self.index), None if self.weight is None else cells.of(self.weight))


class _Cells(NamedTuple):
    """A block of grid cells, rows y0:y1 and columns x0:x1."""

    y0: int
    y1: int
    x0: int
    x1: int

    def of(self, grid: Tensor) -> Tensor:
        return grid[..., self.y0:self.y1, self.x0:self.x1]

    def pick(self, flat: Tensor, width: int) -> tuple[Tensor, Tensor]:
        """Of flat cell indices into a grid ``width`` cells wide: the positions of those inside this block, and
        their flat indices within it."""
        y, x = flat // width, flat % width
        inside = ((y >= self.y0) & (y < self.y1) & (x >= self.x0) & (x < self.x1)).nonzero().flatten()
        return inside, (y[inside] - self.y0) * (self.x1 - self.x0) + x[inside] - self.x0


def cells_of(box: tuple[int, int, int, int], wh: tuple[int, int], grid: tuple[int, int]) -> _Cells:
    """The cells of ``grid`` (over a ``wh`` image) that a pixel box (x0, y0, x1, y1) covers, at least one each way."""
    sx, sy = wh[0] / grid[1], wh[1] / grid[0]
    x0, y0 = min(grid[1] - 1, round(box[0] / sx)), min(grid[0] - 1, round(box[1] / sy))
    return _Cells(y0, max(y0 + 1, min(grid[0], round(box[3] / sy))), x0, max(x0 + 1, min(grid[1], round(box[2] / sx))))


def self_distances(rows: Tensor) -> Tensor:
    """(... x K x K) cosine distances between the rows (... x K x D): a picture's layout, whatever its features' scale."""
    unit = rows / rows.norm(dim=-1, keepdim=True).clamp_min(EPS)
    return 1 - unit @ unit.transpose(-1, -2)


@dataclass(frozen=True)
class _Layout:
    """The layout term (STROTSS's self-similarity content loss): at sampled cells, the picture's cosine distances
    between cells, each matrix divided by its mean, held to the reference's. It keeps where things are and how
    they differ from each other, and leaves what they look like to the style term."""

    cells: Tensor  # K flat cell indices into the grid
    reference: Tensor  # K x K: the reference's self_distances at those cells
    weight: float

    def cut(self, cells: _Cells, grid: tuple[int, int]) -> _Layout:
        inside, local = cells.pick(self.cells, grid[1])
        return _Layout(local, self.reference[inside][:, inside], self.weight)

    def __call__(self, columns: Tensor) -> Tensor:
        """Per item, from the picture's hypercolumns at the cells (B x K x D)."""
        if self.cells.numel() < 2:
            return columns.new_zeros(columns.shape[0])
        mine = self_distances(columns)
        mine = mine / mine.mean(dim=(1, 2), keepdim=True).clamp_min(EPS)
        reference = self.reference / self.reference.mean().clamp_min(EPS)
        return self.weight * (mine - reference).abs().mean(dim=(1, 2))


class _Term:
    """GAIN x the mean over cells of weight - cos(h, target), where the target of a cell is the weighted sum of its
    parts' keys, plus the layout term when there is one. The targets are kept as key indices and gathered on first
    use, so a tiled stage's term holds an index per cell of the whole stage and gathers only a tile's targets
    (:meth:`within`)."""

    def __init__(self, layers: tuple[str, ...], grid: tuple[int, int], parts: list[_Part], layout: _Layout | None = None) -> None:
        self.layers, self.grid, self.parts, self.layout = layers, grid, parts, layout
        self._gathered: tuple[Tensor, Tensor | float] | None = None

    def within(self, box: tuple[int, int, int, int], wh: tuple[int, int]) -> _Term:
        """The term of one tile (x0, y0, x1, y1, margins included) of a ``wh`` stage: its cells' targets only (and
        the layout of the sampled cells inside it)."""
        cells = cells_of(box, wh, self.grid)
        layout = None if self.layout is None else self.layout.cut(cells, self.grid)
        return _Term(self.layers, (cells.y1 - cells.y0, cells.x1 - cells.x0), [part.cut(cells) for part in self.parts], layout)

    def targets(self) -> tuple[Tensor, Tensor | float]:
        """1 x D x gh x gw targets (each the unit target times its weight) and the cells' weights (1 x 1 x gh x gw, or 1.0)."""
        if self._gathered is None:
            if len(self.parts) == 1 and self.parts[0].weight is None:
                part = self.parts[0]
                target = part.keys[part.index.flatten()]
                weight: Tensor | float = 1.0
            else:
                target = torch.zeros(self.grid[0] * self.grid[1], self.parts[0].keys.shape[1], device=self.parts[0].keys.device)
                weight = torch.zeros(self.grid[0] * self.grid[1], 1, device=target.device)
                for part in self.parts:
                    w = torch.ones(self.grid, device=target.device) if part.weight is None else part.weight
                    cells = (w.flatten() > 0).nonzero().flatten()
                    if cells.numel():
                        target[cells] += w.flatten()[cells, None] * part.keys[part.index.flatten()[cells]]
                        weight[cells] += w.flatten()[cells, None]
                weight = weight.T.reshape(1, 1, *self.grid)
            self._gathered = target.T.reshape(1, -1, *self.grid).contiguous(), weight
        return self._gathered

    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        target, weight = self.targets()
        # The hypercolumn's dot with the target and its squared norm, summed layer by layer: the same value as
        # cos(hypercolumns(...), target) without the concatenated copy (2688 channels x the grid): 0.89 -> 0.61 s
        # forward and backward at 512 px on this 2-core CPU, with to_grid 0.35 s.
        dot: Tensor | float = 0.0
        square: Tensor | float = 0.0
        start = 0
        sampled = []
        for name in self.layers:
            f = to_grid(features[name], self.grid)
            channels = f.shape[1]
            dot = dot + (f * target[:, start:start + channels]).sum(dim=1, keepdim=True) / channels
            square = square + f.square().sum(dim=1, keepdim=True) / channels**2
            start += channels
            if self.layout is not None:
                sampled.append(f.flatten(2)[:, :, self.layout.cells] / channels)
        cos = dot / torch.as_tensor(square).clamp_min(EPS * EPS).sqrt()  # clamped before the root (infinite slope at 0): a blank cell gets no NaN
        loss = GAIN * (weight - cos).mean(dim=(1, 2, 3))
        if self.layout is not None:
            loss = loss + self.layout(torch.cat(sampled, dim=1).transpose(1, 2))
        return loss


def _unit(rows: Tensor) -> Tensor:
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(EPS)


class _Matcher:
    """Each cell's nearest key, from the hypercolumns of ``mix x photo + (1 - mix) x start image`` (the queries).

    A stage that fits the network is read at once. A tiled stage (``stage.pieces``) is read piece by piece,
    twice: first for each key set's query mean over its cells (the centring of :func:`nearest` is over the
    whole stage, as untiled), then to match; so no whole-stage feature map or query set is ever held."""

    def __init__(self, stage: StageContext, layers: tuple[str, ...], grid: tuple[int, int], sample: Tensor | None = None) -> None:
        self.stage, self.layers, self.grid = stage, layers, grid
        self.sample = sample  # flat cells whose query rows are kept (the layout term's reference), or None
        self.sampled: Tensor | None = None
        mix = stage.params.neighbour_content_mix
        self.image = mix * stage.content + (1 - mix) * stage.start.to(stage.content.dtype)
        self.wh = (self.image.shape[-1], self.image.shape[-2])
        self.search = torch.float32

    def _pieces(self) -> Iterator[tuple[_Cells, Tensor]]:
        """(cells, their query rows) covering the grid; tiled pieces overlap (a later piece's rows win)."""
        pieces = self.stage.pieces or [((0, 0, *self.wh), (0, 0, *self.wh))]
        for core, seen in pieces:
            outer, inner = cells_of(seen, self.wh, self.grid), cells_of(core, self.wh, self.grid)
            x0, y0, x1, y1 = seen
            features = self.stage.features(self.image[..., y0:y1, x0:x1].contiguous())
            # the search in the run's arithmetic: bf16 halves its time on CPUs with bf16 units and only reorders
            # near-ties (98 % of random 2688-d queries pick the same key as fp32)
            self.search = torch.bfloat16 if next(iter(features.values())).dtype == torch.bfloat16 else torch.float32
            columns = hypercolumns(features, self.layers, (outer.y1 - outer.y0, outer.x1 - outer.x0))
            own = columns[..., inner.y0 - outer.y0:inner.y1 - outer.y0, inner.x0 - outer.x0:inner.x1 - outer.x0]
            rows = _rows(own)
            if self.sample is not None:
                self._keep(inner, rows)
            yield inner, rows

    def _keep(self, cells: _Cells, rows: Tensor) -> None:
        assert self.sample is not None
        inside, local = cells.pick(self.sample, self.grid[1])
        if self.sampled is None:
            self.sampled = rows.new_zeros(self.sample.numel(), rows.shape[1])
        self.sampled[inside] = rows[local]

    def indices(self, keys: Sequence[Tensor], covers: Sequence[Tensor | None]) -> list[Tensor]:
        """Per key set, each cell's key (gh x gw; cells its cover leaves out keep 0 and weigh nothing)."""
        out = [torch.zeros(self.grid, dtype=torch.long, device=k.device) for k in keys]
        means: list[Tensor | None] = [None] * len(keys)
        if self.stage.pieces is not None:
            means = self._means(covers)
        for cells, rows in self._pieces():
            for k, cover, mean, index in zip(keys, covers, means, out, strict=True):
                chosen = torch.arange(rows.shape[0], device=rows.device) if cover is None else (cells.of(cover).flatten() > 0).nonzero().flatten()
                if chosen.numel():
                    found = nearest(rows[chosen], k, dtype=self.search, query_mean=mean)
                    _put(index, cells, chosen, found)
        return out

    def _means(self, covers: Sequence[Tensor | None]) -> list[Tensor | None]:
        sums: list[Tensor | float] = [0.0] * len(covers)
        counts = [0] * len(covers)
        counted = torch.zeros(self.grid, dtype=torch.bool)
        for cells, rows in self._pieces():
            new = ~cells.of(counted).flatten().to(rows.device)
            cells.of(counted).fill_(True)
            for i, cover in enumerate(covers):
                chosen = new if cover is None else new & (cells.of(cover).flatten() > 0)
                sums[i] = sums[i] + rows[chosen].sum(dim=0)
                counts[i] += int(chosen.sum())
        return [s / c if c else None for s, c in zip(sums, counts, strict=True)]  # type: ignore[misc]


def _put(index: Tensor, cells: _Cells, chosen: Tensor, found: Tensor) -> None:
    block = cells.of(index).flatten().clone()  # flatten is a view of a block of whole rows: never write it onto itself
    block[chosen] = found
    cells.of(index).copy_(block.view(cells.y1 - cells.y0, cells.x1 - cells.x0))


class Neighbour(StyleMethod):
    name = "neighbour"
    reads_style_layers = False  # its hypercolumns are every relu of neighbour_blocks, each divided by its channels
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
        ("neighbour_layout_weight", float, param(0.0, "Weight of a layout term (STROTSS's self-similarity content loss): the "
                                                      "cosine distances between 1024 sampled places of the picture held to the "
                                                      "photo's (as mixed for the search); keeps where things are without pinning "
                                                      "what they look like. 0: off.", min=0.0, max=1e4)),
        ("neighbour_blocks", int, param(4, "VGG blocks whose relu layers form the hypercolumns (4: relu1_1 to relu4_3 on VGG16).",
                                        min=1, max=5)),
    )

    def layers(self, params: Any) -> tuple[str, ...]:
        from .. import backbones  # the params' network is resolved by the time a run asks

        return hypercolumn_layers(backbones.get(params.network), params.neighbour_blocks)

    def check(self, params: Any, backbone: Backbone) -> None:
        if params.neighbour_blocks > len(backbone.blocks):
            raise FieldError("neighbour_blocks", f"{backbone.name} has {len(backbone.blocks)} blocks, got {params.neighbour_blocks}")

    def prepare(self, stage: StageContext) -> StyleTerm:
        p = stage.params
        layers = hypercolumn_layers(stage.backbone, p.neighbour_blocks)
        generator = torch.Generator(device="cpu").manual_seed(p.seed)
        stride = p.neighbour_stride
        grid = grid_size(stage.content.shape[-2], stage.content.shape[-1], stride)
        with torch.no_grad():
            key_sets = [self._keys(stage, style, own, layers, stride, generator) for style, own in zip(stage.styles, stage.style_masks, strict=True)]
            if stage.coverage is None:  # one pooled set of keys for every cell
                keys, covers = [pooled_keys(key_sets, stage.blend, p.neighbour_keys, generator)], [None]
            else:  # regions: each style's cells matched against its own keys only, weighted by its coverage
                keys = [pooled_keys([rows], [1.0], p.neighbour_keys, generator) for rows in key_sets]
                covers = [F.interpolate(cover.float(), size=grid, mode="area")[0, 0] for cover in stage.coverage]
            sample = None
            if p.neighbour_layout_weight > 0:
                cells = grid[0] * grid[1]
                sample = torch.randperm(cells, generator=generator)[:LAYOUT_CELLS].sort().values.to(stage.content.device)
            matcher = _Matcher(stage, layers, grid, sample)
            indices = matcher.indices(keys, covers)
            layout = None
            if sample is not None and matcher.sampled is not None:
                layout = _Layout(sample, self_distances(matcher.sampled), p.neighbour_layout_weight)
        # with regions the loss sum_i w_i (1 - cos(h, t_i)) is one cosine against sum_i w_i t_i: one target per cell
        return _Term(layers, grid, [_Part(_unit(k), index, cover) for k, index, cover in zip(keys, indices, covers, strict=True)], layout)

    def _keys(self, stage: StageContext, style: Tensor, own: Tensor | None, layers: tuple[str, ...], stride: int,
              generator: torch.Generator | None = None) -> Tensor:
        """One style's key rows (cells x D), rotations appended, cells outside its style mask left out. With a
        ``generator``, at most ``neighbour_keys`` of them in all, a seeded random subset of each rotation's cells
        picked before their hypercolumns are built (a 1024 px style's four turns would be 2.8 GB of rows)."""
        turns = ROTATIONS if stage.params.neighbour_rotations else (0,)
        share = -(-stage.params.neighbour_keys // len(turns))
        sets = []
        for turn in turns:
            image = torch.rot90(style, turn, dims=(-2, -1))
            grid = grid_size(image.shape[-2], image.shape[-1], stride)
            cells = torch.arange(grid[0] * grid[1])
            if own is not None:
                cover = F.interpolate(torch.rot90(own, turn, dims=(-2, -1)).float(), size=grid, mode="area").flatten().cpu()
                keep = cover >= MASK_KEEP
                cells = cells[keep] if bool(keep.any()) else cover.argmax().view(1)
            if generator is not None and cells.numel() > share:
                cells = cells[torch.randperm(cells.numel(), generator=generator)[:share].sort().values]
            features = stage.features(image)
            cells = cells.to(image.device)
            sets.append(torch.cat([to_grid(features[name], grid).flatten(2)[0][:, cells].T / features[name].shape[1]
                                   for name in layers], dim=1))
        return torch.cat(sets)

    def state_bytes(self, params: Any, backbone: Backbone, style_pixels: int, styles: int, stage_pixels: int, seen_pixels: int) -> int:
        """Kept through the stage: the key pool (unit rows) and a key index per cell of the stage. On top, the larger
        of two phases that never overlap: making the targets (each style's keys, one layer's map of a style image
        on its grid, the queries of what the network sees at once, the search's centred and unit copies of pool
        and queries, its score block) and iterating (the gathered targets, the picture's grid and one product).
        Measured, single stage, 3 iterations, bf16, VGG16: 934 / 1316 / 3506 MB at 256 / 512 / 1024 px."""
        relus = [la.channels for la in backbone.layers if la.kind == RELU and la.block <= params.neighbour_blocks]
        row = sum(relus) * FLOAT
        cell = params.neighbour_stride**2
        style_cells = style_pixels // cell + 1
        pool = min(style_cells * (len(ROTATIONS) if params.neighbour_rotations else 1), params.neighbour_keys)
        seen = seen_pixels // cell + 1
        kept = pool * max(1, styles) * row + (stage_pixels // cell + 1) * 8 * max(1, styles)
        making = pool * max(1, styles) * row + max(relus) * style_cells * FLOAT + 3 * (pool + seen) * row + CHUNK_ELEMENTS * FLOAT
        iterating = 3 * seen * row
        layout = (LAYOUT_CELLS * sum(relus) + 6 * LAYOUT_CELLS**2) * FLOAT if params.neighbour_layout_weight > 0 else 0
        return kept + max(making, iterating) + layout


METHOD = Neighbour()
