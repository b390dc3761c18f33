"""VGG19 (Simonyan & Zisserman's configuration "E"): the network of Gatys et al. Its ImageNet weights are
torchvision's IMAGENET1K_V1 checkpoint: a file the user names ($VGG19_WEIGHTS / --source), the torch hub
cache, or a download ($VGG19_URL replaces the address: a mirror)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Backbone, Say, WeightSource

if TYPE_CHECKING:
    from torch import Tensor

    from ..provenance import WeightsInfo

PROVENANCE = "imagenet1k_v1"
PTH_NAME = "vgg19-dcbb9e9d.pth"
# torchvision's download address for VGG19_Weights.IMAGENET1K_V1 (548 MB; its name ends in a sha256 prefix).
URL = f"https://download.pytorch.org/models/{PTH_NAME}"


def weights_url() -> str:
    return os.environ.get("VGG19_URL") or URL


def hub_checkpoint(url: str | None = None) -> Path:
    """Where torchvision keeps (and looks for) the downloaded .pth: $TORCH_HOME/hub/checkpoints."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / (url or weights_url()).rsplit("/", 1)[-1]


def download(url: str, dest: Path, progress: bool = True) -> None:
    """Fetch `url` (http(s):// or file://) to `dest` with a progress bar on stderr once connected (nothing
    is printed when the connection fails), checking the sha256 prefix in its name as torchvision does."""
    import torch

    match = re.search(r"-([a-f0-9]{8,})\.", url.rsplit("/", 1)[-1])
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(dest), hash_prefix=match[1] if match else None, progress=progress)


class TorchvisionCheckpoint(WeightSource):
    provenance = PROVENANCE
    takes_file = True

    def at_hand(self, source: str | None, url: str | None = None) -> bool:
        return bool(source or os.environ.get("VGG19_WEIGHTS")) or hub_checkpoint(url).is_file()

    def obtain(self, backbone: Backbone, source: str | None, *, progress: bool, url: str | None,
               say: Say | None) -> tuple[dict[str, Tensor], WeightsInfo]:
        import torch
        import torchvision

        from ..provenance import WeightsError, WeightsInfo

        url = url or weights_url()
        source = source or os.environ.get("VGG19_WEIGHTS") or None
        if source:
            path = Path(source)
            if not path.is_file():
                raise WeightsError(f"{path} does not exist")
            origin = str(path)
        else:
            path, origin = hub_checkpoint(url), url
            if not path.is_file():
                download(url, path, progress)
                if say is not None:
                    say(f"downloaded {url}, cached at {path}")
        # weights_only=True: the safe unpickler, so a hostile .pth cannot run code.
        state = torch.load(path, map_location="cpu", weights_only=True)
        return state, WeightsInfo(PROVENANCE, None, torchvision.__version__, origin, network=backbone.name)

    def how_to_supply(self) -> str:
        return (f"set VGG19_WEIGHTS=/path/to/{PTH_NAME}, or let torchvision download VGG19 into the torch hub cache "
                f"({hub_checkpoint().parent}) with internet access")


BACKBONE = Backbone(
    name="vgg19",
    blocks=((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)),
    sources=(TorchvisionCheckpoint(),),
    # Measured on CPU (make bench, engine peak): ~2.9 KB per output pixel at 512 px in fp32; bf16 halves the saved
    # activations but not the pool indices nor the fp32 copies the statistics read (~1.7 KB measured).
    step_bytes_per_pixel={"fp32": 3000, "bf16": 2000},
    style_forward_bytes_per_pixel={"fp32": 1200, "bf16": 800},
    preference=0,
)
