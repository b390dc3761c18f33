"""Region masks: which style applies where (spatially guided statistics, Gatys et al. 2017): the geometry.
The objective (:mod:`stylize.losses`) weighs each style's statistics by these masks, whatever the loss.

A mask per style over the content image (white = this style fully, black = not at all) and,
optionally, one over the style's own image (which part of the painting to take the style from).

- **Coverage**: where masks overlap, the styles share the strongest mask's coverage in proportion
  to ``style_blend`` x mask; where only one mask is set, that style has it alone. So disjoint masks
  each get their style at full strength, and masks that are all white are exactly the global blend.
  A style given no mask (while others have one) applies everywhere, as with a white mask.
- **Through the network**: a mask follows VGG's pooling sequence with a 2x2 *average* pool per
  pooling layer (3x3 convolutions with padding keep the size). Each cell then holds the fraction of
  its pixels that the region covers: the mass is kept, so no region vanishes at relu5_1 however
  small, and a cell is non-zero only if its own 2^k x 2^k block touches the region, so an edge bleeds
  by at most the one cell it cuts through. A max pool would instead grow every region by a cell per
  pooling layer (both sides of an edge at full weight), a nearest/bilinear resize would drop small
  regions between samples. The pool floors odd sizes exactly like VGG's, so shapes always match.
- **Statistics**: per style and layer, e.g. ``G = Σ_p w_p F_p F_pᵀ / Σ_p w_p`` (positions weighted by
  the mask, normalised by its mass; W2 weighs the mean the same way), compared with the style's own
  (weighted by its style mask when given). Each style's loss is scaled by its mass fraction, so the per-pixel pull matches a
  global run's. Pixels no mask covers get no style loss; the content loss applies everywhere.

When no mask is given, or every mask and style mask is all white, :func:`regions` returns None
and the engine takes the unmasked path: the same code, the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from . import images
from .errors import FieldError
from .fields import names, numbered
from .numerics import EPS

if TYPE_CHECKING:
    from .backbones import Backbone

MaskInput = Image.Image | Tensor | None


def to_mask(mask: Image.Image | Tensor) -> Tensor:
    """PIL (any mode, alpha = coverage) or tensor (HxW, 1xHxW, 1x1xHxW; uint8 or float) -> 1x1xHxW in [0, 1]."""
    if isinstance(mask, Image.Image):
        grey = images.to_grey(mask)
        t = torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).view(1, 1, grey.height, grey.width)
        return t.float().div_(255)
    t = mask.detach()
    if t.dim() == 3 and t.shape[0] == 3:  # an RGB tensor: its luminance
        t = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2])
    t = t.reshape(1, 1, *t.shape[-2:]).cpu()
    return (t.float() / 255 if t.dtype == torch.uint8 else t.float()).clamp(0, 1)


def resize(mask: Tensor, wh: tuple[int, int]) -> Tensor:
    """Bilinear, antialiased when shrinking: no overshoot outside [0, 1], unlike the images' bicubic."""
    w, h = wh
    if mask.shape[-2:] == (h, w):
        return mask
    shrinking = w < mask.shape[-1] or h < mask.shape[-2]
    return F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False, antialias=shrinking).clamp_(0, 1)


def layer_masks(mask: Tensor, layers: Sequence[str], backbone: Backbone) -> dict[str, Tensor]:
    """The mask at each layer's resolution: one 2x2 average pool per pooling layer before it."""
    depths = {k: backbone.layer(k).depth for k in layers}
    levels = [mask]
    for _ in range(max(depths.values(), default=0)):
        levels.append(F.avg_pool2d(levels[-1], 2, 2))
    return {k: levels[depths[k]] for k in layers}


def share_coverage(masks: list[Tensor], blend: list[float]) -> list[Tensor]:
    """Per-pixel weights: w_k = b_k m_k · max_j m_j / Σ_j b_j m_j (0 where no mask covers)."""
    stack = torch.cat(masks, dim=1)  # 1 x S x H x W
    b = torch.tensor(blend, dtype=stack.dtype, device=stack.device).view(1, -1, 1, 1)
    weighted = stack * b
    total = weighted.sum(dim=1, keepdim=True)
    shared = weighted * (stack.amax(dim=1, keepdim=True) / total.clamp_min(EPS))
    return list(shared.where(total > 0, torch.zeros_like(shared)).split(1, dim=1))


@dataclass(frozen=True)
class Regions:
    """Validated masks at their own resolution (1x1xHxW); None entries mean "everywhere"."""

    masks: list[Tensor | None]
    style_masks: list[Tensor | None]

    def at(self, wh: tuple[int, int], blend: list[float], device: torch.device) -> list[Tensor]:
        """Each style's coverage weights over an image of size ``wh``."""
        ones = torch.ones(1, 1, wh[1], wh[0])
        sized = [ones if m is None else resize(m, wh) for m in self.masks]
        return [w.to(device) for w in share_coverage(sized, blend)]

    def style_at(self, index: int, wh: tuple[int, int], device: torch.device) -> Tensor | None:
        m = self.style_masks[index]
        return None if m is None else resize(m, wh).to(device)


def regions(masks: Sequence[MaskInput] | None, style_masks: Sequence[MaskInput] | None, n_styles: int) -> Regions | None:
    """Validate; None when the result would be the global blend (no mask, or only white ones).

    The one place these checks live: the CLI, the engine and the HTTP API (serving.request) all
    land here, so each refusal names the field the same way everywhere."""
    masks = list(masks or [])
    style_masks = list(style_masks or [])
    for kind, given in (("mask", masks), ("style_mask", style_masks)):
        extra = [i for i, m in enumerate(given) if i >= n_styles and m is not None]
        if extra:
            raise FieldError(numbered(kind, extra[0] + 1),
                             f"there is no style {extra[0] + 1} for this mask ({n_styles} style image(s) sent)")
        del given[n_styles:]
    content = [None if m is None else to_mask(m) for m in masks] + [None] * (n_styles - len(masks))
    own = [None if m is None else to_mask(m) for m in style_masks] + [None] * (n_styles - len(style_masks))
    given_content = [(name, m) for name, m in zip(names("mask", n_styles), content, strict=True) if m is not None]
    if given_content and all(float(m.max()) <= 0 for _, m in given_content):
        raise FieldError(given_content[0][0], "every mask is black, so no style would apply anywhere (white = style applies)")
    for name, m in zip(names("style_mask", n_styles), own, strict=True):
        if m is not None and float(m.max()) <= 0:
            raise FieldError(name, "is all black: it selects no part of the style image (white = take the style from here)")
    if all(m is None or float(m.min()) >= 1 for m in content + own):
        return None
    return Regions(content, own)


def read_specs(specs: Sequence[str], kind: str, n_styles: int, max_pixels: int = images.DEFAULT_MAX_PIXELS) -> list[Image.Image | None]:
    """CLI ``--mask N=FILE`` / ``--style-mask N=FILE`` (N = 1-based style number) -> one entry per style."""
    flag = "--" + kind.replace("_", "-")
    out: list[Image.Image | None] = [None] * n_styles
    for spec in specs:
        number, sep, path = spec.partition("=")
        if not sep or not number.strip().isdigit() or not path:
            raise FieldError(kind, f"{flag} takes N=FILE (N = style number, 1 = the first style), got {spec!r}")
        n = int(number)
        if not 1 <= n <= n_styles:
            raise FieldError(kind, f"{flag} {spec}: there is no style {n} ({n_styles} style image(s) given)")
        name = numbered(kind, n)
        if out[n - 1] is not None:
            raise FieldError(name, f"{flag} given twice for style {n}")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise FieldError(name, f"cannot read {path} ({exc.strerror})") from None
        out[n - 1] = images.decode_mask(data, name, max_pixels)
    return out
