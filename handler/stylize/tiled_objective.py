"""A stage too big for the network at once, optimised as one picture: its gradient assembled tile by tile.

The stage's objective is the sum over a grid of tiles (cores side by side, covering the picture once) of each
core's objective, weighted by its share of the pixels. A core's objective is read from the network's features
of the core *and a margin* of its neighbours' pixels around it (:class:`~stylize.objective.Objective` with
``core``): the features over the core are then nearly those the whole picture would give, and a crop's
zero-padded rim, which the network sees as an edge, lies in the margin, outside what is scored.

Each tile's backward pass adds into one picture-sized gradient (a margin pixel gets its share from the tiles
whose margin it is in: the gradient is that of the sum, exactly). One optimiser (L-BFGS or Adam, as untiled)
then moves the whole picture a step, so its history, and its line of descent, are the whole picture's: where
a fresh optimiser per tile visit fell far short of the untiled loss, this reaches it (tests/test_big_pictures.py).
Nothing is pasted or blended; a tile border is no place in the objective the picture could see, beyond the
features' small difference from untiled ones there.

The network holds one tile's activations at a time; what grows with the picture is image-sized buffers (the
gradient, the optimiser's state) and the content targets over the cores (the content layers' features of the
whole stage). :meth:`advance` evaluates one tile, so a run can stop between tiles (the scheduler's slices); the
optimiser's step then uses the assembled value and gradient (:meth:`__call__`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from . import tiles
from .objective import Objective, Targets


class TiledObjective:
    """Callable as an :class:`Objective` (image -> total, parts); the image is the whole stage's picture.

    A style term that is a sum over places (the neighbour method's cells) is read as the sum of the cores' terms,
    each weighted by its share. A term of the whole picture's statistics (Gram, W2: ``sums``/``assemble``/``linear``,
    stylize.methods.statistics) takes two passes: the first adds up the tiles' statistics (no gradient), the second
    passes the whole loss's gradient back through each tile, so the value and gradient are the untiled term's."""

    def __init__(self, whole: Objective, content: Tensor, pieces: Sequence[tuple[tiles.Box, tiles.Box]],
                 weights: tuple[float, float, float]) -> None:
        # whole: the stage's objective without content targets (its network, style term and arithmetic)
        self.whole, self.pieces, self.weights = whole, list(pieces), weights
        self.wh = (content.shape[-1], content.shape[-2])
        total = self.wh[0] * self.wh[1]
        self.shares = [core.pixels / total for core, _ in self.pieces]
        self.statistics = hasattr(whole.style, "assemble")  # a term of the whole picture's statistics: two passes
        found = [self._tile(i).targets(crop.of(content).contiguous()) for i, (_, crop) in enumerate(self.pieces)]
        # each core's content error over the whole stage's target norm (its share undone), so the cores' content
        # losses add up to the untiled one, not to a mean of per-core relative errors
        norms = {k: sum(n[k] for _, n in found) for k in whole.content_layers}
        self._targets: list[Targets] = [(t, {k: norms[k] * share for k in norms}) for (t, _), share in zip(found, self.shares, strict=True)]
        self._start()

    def _start(self) -> None:
        self._grad: Tensor | None = None
        self._parts: dict[str, Tensor] = {}
        self._sums: list[Any] | None = None  # statistics: the first pass's running sums
        self._linear: tuple[Tensor, list[Any]] | None = None  # statistics: the whole term's value and gradient
        self._next = 0  # the next tile to evaluate at the picture now, in this pass

    @property
    def tiles(self) -> int:
        return len(self.pieces)

    @property
    def passes(self) -> int:
        """Tile evaluations per optimiser step, in tiles (two passes for a statistics term)."""
        return len(self.pieces) * (2 if self.statistics else 1)

    @property
    def ready(self) -> bool:
        """Every tile evaluated at the picture now: the next call gives the optimiser its step."""
        return self._next == len(self.pieces) and (self._linear is not None or not self.statistics)

    def _tile(self, index: int, targets: Targets | None = None, style: Any = None) -> Objective:
        core, crop = self.pieces[index]
        local = (core.x0 - crop.x0, core.y0 - crop.y0, core.x1 - crop.x0, core.y1 - crop.y0)
        term = style if style is not None else tiles.crop_term(self.whole.style, core, self.wh)  # the style targets over this core
        return Objective(self.whole.net, self.whole.content_layers, None, term, self.weights, self.whole.precision,
                         core=local, targets=targets)

    def advance(self, picture: Tensor) -> None:
        """Evaluate the next tile at ``picture`` (the stage's, without gradient) and add in its part."""
        index = self._next
        core, crop = self.pieces[index]
        if self.statistics and self._linear is None:
            self._add_sums(index, crop.of(picture))
            return
        if self._grad is None:
            self._grad = torch.zeros_like(picture, dtype=torch.float32)
        piece = crop.of(picture).detach().clone().requires_grad_(torch.is_grad_enabled())
        style = None
        if self._linear is not None:
            grads = self._linear[1]
            term = tiles.crop_term(self.whole.style, core, self.wh)
            style = lambda feats: term.linear(feats, grads)  # noqa: E731 - the tile's share of the whole gradient
        _, parts = self._tile(index, self._targets[index], style)(piece)
        share = self.shares[index]
        content_weight, style_weight, tv_weight = self.weights
        # the style part: the tile's own term weighted by its share, or (statistics) already the whole's gradient
        own = share * (content_weight * parts["content"] + tv_weight * parts["tv"])
        loss = own + style_weight * parts["style"] * (1.0 if self._linear is not None else share)
        if piece.requires_grad:
            loss.sum().backward()
            assert piece.grad is not None
            crop.of(self._grad).add_(piece.grad)
        for name in ("content", "tv") if self._linear is not None else ("content", "tv", "style"):
            self._parts[name] = self._parts.get(name, 0) + share * parts[name].detach()
        self._next += 1

    def _add_sums(self, index: int, crop: Tensor) -> None:
        objective = self._tile(index, self._targets[index])
        with torch.no_grad():
            found = objective.style.sums(objective.core_features(crop))
        self._sums = found if self._sums is None else [a + b for a, b in zip(self._sums, found, strict=True)]
        self._next += 1
        if self._next == len(self.pieces):
            assert self._sums is not None
            self._linear = self.whole.style.assemble(self._sums)
            self._sums, self._next = None, 0

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The stage's loss at ``image`` (tiles not yet evaluated are evaluated now) as a tensor whose gradient is the
        assembled one, and its parts; the next call starts a new evaluation."""
        picture = image.detach()
        while not self.ready:
            self.advance(picture)
        parts, grad = self._parts, self._grad
        if self._linear is not None:
            parts["style"] = self._linear[0]
        content_weight, style_weight, tv_weight = self.weights
        parts["total"] = content_weight * parts["content"] + style_weight * parts["style"] + tv_weight * parts["tv"]
        self._start()
        total = parts["total"].sum()
        if not image.requires_grad or grad is None:
            return total, parts
        # value: the total; gradient: the assembled one (the two products are equal, so they cancel in value exactly)
        return total + (image.float() * grad).sum() - (picture.float() * grad).sum(), parts
