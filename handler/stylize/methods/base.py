"""A style method: how the style images become a differentiable style term, stage by stage.

The engine gives a method everything of one multiscale stage (:class:`StageContext`: the scaled style
images, their shares, the regions, the stage's feature pass, the content and the image the stage starts
from); the method takes what it needs (statistics of the style features, or the raw features themselves)
and returns a :class:`StyleTerm`, called on the image's features at every iteration.

A method also says what it costs (the memory model), which layers it reads, and declares its own
parameters: dataclass fields (:func:`stylize.param_field.param`) that join :class:`~stylize.params.StyleParams`
and so appear in the schema, the capabilities, the CLI, the client and the web app.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from torch import Tensor

if TYPE_CHECKING:
    from ..backbones import Backbone

FeaturePass = Callable[[Tensor], dict[str, Tensor]]
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class StageContext:
    """One stage, as a method sees it. Images are 1x3xHxW in [0, 1] on the run's device."""

    params: Any  # the job's StyleParams (validated)
    backbone: Backbone
    layers: tuple[str, ...]  # the style layers
    layer_weights: tuple[float, ...]  # normalised to sum 1
    styles: list[Tensor]  # each style image, scaled for this stage
    blend: list[float]  # each style's share (sum 1)
    coverage: list[Tensor] | None  # regions: each style's weight over the image (1x1xHxW); None = one global blend
    style_masks: list[Tensor | None]  # each style's mask over its own scaled image (None = all of it)
    features: FeaturePass  # the stage's network pass (the run's arithmetic applied); wrap in no_grad for targets
    content: Tensor  # the content image at this stage's size
    start: Tensor  # the image this stage starts from
    # A tiled stage (stylize.tiles): (core, seen) pixel boxes (x0, y0, x1, y1) covering it, for a method that reads the
    # stage's own images through the network: the whole stage is too big to pass at once, so pass each seen box
    # (the core and its margin: a crop's padded rim differs) and keep what falls in its core. None: it fits at once.
    pieces: Sequence[tuple[Box, Box]] | None = None


class StyleTerm(Protocol):
    def __call__(self, features: Mapping[str, Tensor]) -> Tensor:
        """The style loss of a batch of images from their features, per item (B,), fp32, differentiable."""


class StyleMethod(ABC):
    """One entry of the method registry (``style_loss=<name>``)."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one sentence for the style_loss help
    # Its own parameters: (name, annotation, field) as dataclasses.make_dataclass takes them.
    params: ClassVar[tuple[tuple[str, Any, Any], ...]] = ()
    # Whether it reads style_layers and style_layer_weights (a method with layers of its own says False, and
    # a job of it that sets them is refused rather than silently ignored).
    reads_style_layers: ClassVar[bool] = True

    def layers(self, params: Any) -> tuple[str, ...]:
        """The layers whose features it reads (the feature net is cut after the deepest)."""
        return tuple(params.style_layers)

    def check(self, params: Any, backbone: Backbone) -> None:  # noqa: B027 - optional: most methods have nothing to check
        """Refuse combinations of its parameters that cannot work (raise FieldError naming the field)."""

    @abstractmethod
    def prepare(self, stage: StageContext) -> StyleTerm:
        """Targets for one stage (computed once, without gradient) and the term that compares against them."""

    @abstractmethod
    def state_bytes(self, params: Any, backbone: Backbone, style_pixels: int, styles: int, stage_pixels: int, seen_pixels: int) -> int:
        """Bytes it keeps for one stage beyond the network's activations (targets, keys, work matrices);
        ``style_pixels`` is the largest scaled style image's pixel count, ``stage_pixels`` the stage's and
        ``seen_pixels`` what the network sees at once (the stage, or a tile and its margins)."""

    def probe(self) -> dict[str, Any]:
        """Parameters for the worker's start-up speed probe of this method (its per-iteration overhead)."""
        return {"style_loss": self.name}
