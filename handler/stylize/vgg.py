"""The layers of a VGG-style backbone (:mod:`stylize.backbones`) addressed by conventional names
(conv1_1, relu1_1, … pool5): frozen convolutions built from a state dict, and the truncated feature
extractor every objective runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from . import backbones
from .backbones import CONV, RELU, Backbone
from .provenance import IMAGENET_MEAN, IMAGENET_STD


class VGGConvs(nn.ModuleList):
    """The frozen conv layers of one backbone, with the input normalisation its weights expect."""

    def __init__(self, convs: Sequence[nn.Module], backbone: Backbone, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__(convs)
        self.backbone = backbone
        self.mean, self.std = tuple(mean), tuple(std)

    @property
    def network(self) -> str:
        return self.backbone.name


def build_convs(state: Mapping[str, Tensor], network: str | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> VGGConvs:
    """All conv layers with the given weights (no random init work is wasted). ``mean``/``std`` (RGB, 0-1
    units) are what FeatureNet subtracts/divides before the first conv: torchvision's for its own weights."""
    backbone = backbones.get(network) if network else backbones.of_state(dict(state))
    convs = []
    for layer in backbone.layers:
        if layer.is_conv:
            weight = state[f"features.{layer.position}.weight"]
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, device="meta")
            conv.weight = nn.Parameter(weight.detach().float().clone(), requires_grad=False)
            conv.bias = nn.Parameter(state[f"features.{layer.position}.bias"].detach().float().clone(), requires_grad=False)
            convs.append(conv)
    return VGGConvs(convs, backbone, mean, std)


class FeatureNet(nn.Module):
    """VGG features truncated after the deepest requested layer.

    Takes RGB in [0, 1] (the weights' own input normalisation happens inside) and returns a dict of the
    requested layers' activations. Conv modules are shared with the loaded network, so building
    one per job costs nothing; parameters are frozen so backward computes only the image gradient.
    """

    def __init__(self, convs: VGGConvs, layers: Sequence[str], pooling: str = "max") -> None:
        super().__init__()
        backbone = convs.backbone
        unknown = [name for name in layers if not backbone.has(name)]
        if unknown:
            raise ValueError(f"unknown {backbone.name.upper()} layers: {unknown}")
        self.network = backbone.name
        self.wanted = frozenset(layers)
        depth = max(backbone.layer(name).position for name in layers)
        self.names = backbone.names[: depth + 1]
        modules: list[nn.Module] = []
        conv_iter = iter(convs)
        for layer in backbone.layers[: depth + 1]:
            if layer.kind == CONV:
                modules.append(next(conv_iter))
            elif layer.kind == RELU:
                # Out-of-place where a loss reads this layer or the conv output it would overwrite;
                # in-place elsewhere saves one activation-sized allocation per layer.
                read = layer.name in self.wanted or f"conv{layer.block}_{layer.index}" in self.wanted
                modules.append(nn.ReLU(inplace=not read))
            else:
                modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        self.layers = nn.ModuleList(modules)
        self.register_buffer("mean", torch.tensor(convs.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(convs.std).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = (image - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            if name in self.wanted:
                out[name] = x
        return out
