"""Where a set of conv weights came from: the record every weights file, header and result carries."""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's input normalisation (RGB, 0-1 units)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM = "random-init"


class WeightsError(RuntimeError):
    """Weights could not be obtained or are malformed."""


@dataclass(frozen=True)
class WeightsInfo:
    provenance: str  # a weight source's name (imagenet1k_v1, imagenet-keras) or RANDOM
    seed: int | None
    torchvision: str
    source: str
    network: str = "vgg19"
    package: str = ""  # "name==version" where the weights came out of a package
    sha256: str = ""  # of the source file, where known
    # What the feature network subtracts / divides by before the first conv (RGB, 0-1 units).
    input_mean: tuple[float, ...] = IMAGENET_MEAN
    input_std: tuple[float, ...] = IMAGENET_STD
    # Why ImageNet weights could not be obtained (auto mode's fallback); not stored in the file.
    note: str = field(default="", compare=False)

    @property
    def is_random(self) -> bool:
        return self.provenance == RANDOM

    @property
    def tag(self) -> str:
        """Short machine-readable form for headers and records: ``vgg16/imagenet-keras``, ``vgg19/random-init``."""
        return f"{self.network}/{self.provenance}"

    @property
    def label(self) -> str:
        """One human line: which network, where from."""
        net = self.network.upper()
        if self.is_random:
            return f"RANDOM-INIT {net} (seeded {self.seed}): texture only, not a real style transfer"
        if self.package:
            return f"ImageNet {net} from {self.package.replace('==', ' ')}"
        return f"ImageNet {net} (torchvision IMAGENET1K_V1)"

    def metadata(self) -> dict[str, str]:
        return {"provenance": self.provenance, "seed": "" if self.seed is None else str(self.seed),
                "torchvision": self.torchvision, "source": self.source, "format": f"{self.network}-conv",
                "network": self.network, "package": self.package, "sha256": self.sha256,
                "input_mean": ",".join(map(repr, self.input_mean)),
                "input_std": ",".join(map(repr, self.input_std))}
