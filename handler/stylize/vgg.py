"""VGG19 / VGG16 feature extractors addressed by conventional layer names (conv1_1, relu1_1, ... relu5_4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

# Conv widths and counts per block, a pool after each block: torchvision's "E" (VGG19) and "D" (VGG16).
NETWORK_BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "vgg19": ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)),
    "vgg16": ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
}
NETWORKS = tuple(NETWORK_BLOCKS)
DEFAULT_NETWORK = "vgg19"


def layer_names(network: str = DEFAULT_NETWORK) -> tuple[str, ...]:
    """Layer names in order; index i == index in torchvision's vgg19()/vgg16().features."""
    names: list[str] = []
    for block, (_, convs) in enumerate(NETWORK_BLOCKS[network], start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = layer_names("vgg19")  # every name of either network (VGG16's are a subset)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv_shapes(network: str = DEFAULT_NETWORK) -> dict[str, tuple[int, ...]]:
    """Parameter shapes in torchvision's key layout (features.<index>.weight/bias)."""
    shapes: dict[str, tuple[int, ...]] = {}
    in_ch = 3
    blocks = NETWORK_BLOCKS[network]
    for index, name in enumerate(layer_names(network)):
        if name.startswith("conv"):
            out_ch = blocks[int(name[4]) - 1][0]
            shapes[f"features.{index}.weight"] = (out_ch, in_ch, 3, 3)
            shapes[f"features.{index}.bias"] = (out_ch,)
            in_ch = out_ch
    return shapes


def network_of(state: Mapping[str, Tensor]) -> str:
    """Which network a conv state dict is, by its number of conv layers."""
    convs = sum(key.endswith(".weight") for key in state)
    for network, blocks in NETWORK_BLOCKS.items():
        if convs == sum(n for _, n in blocks):
            return network
    raise ValueError(f"a state dict with {convs} conv layers is neither VGG19 (16) nor VGG16 (13)")


class VGGConvs(nn.ModuleList):
    """The frozen conv layers of one network, with the input normalisation its weights expect."""

    def __init__(self, convs: Sequence[nn.Module], network: str, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__(convs)
        self.network = network
        self.mean, self.std = tuple(mean), tuple(std)


def build_convs(state: Mapping[str, Tensor], network: str | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> VGGConvs:
    """All conv layers with the given weights (no random init work is wasted). ``mean``/``std`` (RGB, 0-1
    units) are what FeatureNet subtracts/divides before the first conv: torchvision's for its own weights."""
    network = network or network_of(state)
    convs = []
    for index, name in enumerate(layer_names(network)):
        if name.startswith("conv"):
            weight = state[f"features.{index}.weight"]
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, device="meta")
            conv.weight = nn.Parameter(weight.detach().float().clone(), requires_grad=False)
            conv.bias = nn.Parameter(state[f"features.{index}.bias"].detach().float().clone(), requires_grad=False)
            convs.append(conv)
    return VGGConvs(convs, network, mean, std)


class FeatureNet(nn.Module):
    """VGG features truncated after the deepest requested layer.

    Takes RGB in [0, 1] (the weights' own input normalisation happens inside) and returns a dict of the
    requested layers' activations. Conv modules are shared with the loaded network, so building
    one per job costs nothing; parameters are frozen so backward computes only the image gradient.
    """

    def __init__(self, convs: nn.ModuleList, layers: tuple[str, ...] | list[str], pooling: str = "max") -> None:
        super().__init__()
        network = getattr(convs, "network", DEFAULT_NETWORK)
        names = layer_names(network)
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise ValueError(f"unknown {network.upper()} layers: {unknown}")
        self.network = network
        self.wanted = frozenset(layers)
        depth = max(names.index(layer) for layer in layers)
        self.names = names[: depth + 1]
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
        self.register_buffer("mean", torch.tensor(getattr(convs, "mean", IMAGENET_MEAN)).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(getattr(convs, "std", IMAGENET_STD)).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = (image - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            if name in self.wanted:
                out[name] = x
        return out
