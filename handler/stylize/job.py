"""One job spec: the images, the parameters and the regions of one style-transfer job, validated once at
the edge that received them (the HTTP request parser, the CLI, a benchmark) and then passed to the engine
unchanged. :func:`make_job` is the only way to build one, so the engine never checks a job again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image
from torch import Tensor

from . import backbones, masks
from .params import StyleParams

ImageInput = Image.Image | Tensor


@dataclass(frozen=True)
class Job:
    content: ImageInput
    styles: tuple[ImageInput, ...]
    params: StyleParams  # validated for these styles and this network
    regions: masks.Regions | None  # None: one global blend (no masks, or only white ones)
    backbone: backbones.Backbone
    _made: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._made is not _TOKEN:
            raise TypeError("build a Job with stylize.job.make_job (it validates the job once)")

    @property
    def content_wh(self) -> tuple[int, int]:
        return size_of(self.content)

    @property
    def style_whs(self) -> list[tuple[int, int]]:
        return [size_of(s) for s in self.styles]


_TOKEN = object()


def make_job(content: ImageInput, styles: Sequence[ImageInput], params: StyleParams, *, network: str,
             masks_over_content: Sequence[masks.MaskInput] | None = None,
             style_masks: Sequence[masks.MaskInput] | None = None,
             maxima: Mapping[str, float] | None = None) -> Job:
    """Validate everything about one job (raising FieldError naming the field) and return its spec.

    ``network`` is the engine's (the weights at hand); ``maxima`` narrows fields to a server's limits;
    ``masks_over_content[i]`` / ``style_masks[i]`` restrict style i to a region of the content / take it from a
    region of its own image (see :mod:`stylize.masks`)."""
    checked = params.validated(n_styles=len(styles), maxima=maxima, network=network)
    regions = masks.regions(masks_over_content, style_masks, len(styles))
    return Job(content, tuple(styles), checked, regions, backbones.get(checked.network), _TOKEN)


def size_of(image: ImageInput) -> tuple[int, int]:
    """(width, height) of a PIL image or a CxHxW / 1xCxHxW tensor."""
    if isinstance(image, Image.Image):
        return image.size
    return (image.shape[-1], image.shape[-2])
