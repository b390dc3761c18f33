"""VGG19 feature extractor addressed by conventional layer names (conv1_1, relu1_1, ... relu5_4)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# torchvision's VGG19 "E" configuration: conv widths per block, a pool after each block.
_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, (_, convs) in enumerate(_BLOCKS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()  # index i == index in torchvision's vgg19().features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv_shapes() -> dict[str, tuple[int, ...]]:
    """Parameter shapes in torchvision's key layout (features.<index>.weight/bias)."""
    shapes: dict[str, tuple[int, ...]] = {}
    in_ch = 3
    for index, name in enumerate(LAYER_NAMES):
        if name.startswith("conv"):
            out_ch = _BLOCKS[int(name[4]) - 1][0]
            shapes[f"features.{index}.weight"] = (out_ch, in_ch, 3, 3)
            shapes[f"features.{index}.bias"] = (out_ch,)
            in_ch = out_ch
    return shapes


def build_convs(state: dict[str, Tensor]) -> nn.ModuleList:
    """All 16 frozen conv layers with the given weights (no random init work is wasted)."""
    convs = nn.ModuleList()
    for index, name in enumerate(LAYER_NAMES):
        if name.startswith("conv"):
            weight = state[f"features.{index}.weight"]
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, device="meta")
            conv.weight = nn.Parameter(weight.detach().float().clone(), requires_grad=False)
            conv.bias = nn.Parameter(state[f"features.{index}.bias"].detach().float().clone(), requires_grad=False)
            convs.append(conv)
    return convs


class FeatureNet(nn.Module):
    """VGG19 features truncated after the deepest requested layer.

    Takes RGB in [0, 1] (ImageNet normalisation happens inside) and returns a dict of the
    requested layers' activations. Conv modules are shared with the loaded network, so building
    one per job costs nothing; parameters are frozen so backward computes only the image gradient.
    """

    def __init__(self, convs: nn.ModuleList, layers: tuple[str, ...] | list[str], pooling: str = "max") -> None:
        super().__init__()
        unknown = [layer for layer in layers if layer not in LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG19 layers: {unknown}")
        self.wanted = frozenset(layers)
        depth = max(LAYER_NAMES.index(layer) for layer in layers)
        self.names = LAYER_NAMES[: depth + 1]
        modules: list[nn.Module] = []
        conv_iter = iter(convs)
        for name in self.names:
            if name.startswith("conv"):
                modules.append(next(conv_iter))
            elif name.startswith("relu"):
                # Out-of-place where a loss reads this layer or the conv output it would overwrite;
                # in-place elsewhere saves one activation-sized allocation per layer.
                read = name in self.wanted or name.replace("relu", "conv") in self.wanted
                modules.append(nn.ReLU(inplace=not read))
            else:
                modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        self.layers = nn.ModuleList(modules)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = (image - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            if name in self.wanted:
                out[name] = x
        return out
