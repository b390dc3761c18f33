"""Neural style transfer (Gatys, Ecker & Bethge 2015) on VGG19: a pure-PyTorch engine.

No TorchServe import anywhere in this package: the CLI, the handler and the benchmarks all
consume the same :meth:`Engine.run` iterator of :class:`Snapshot` records.
"""

__version__ = "1.1.0"  # the service's version, reported by response=capabilities

from .engine import Engine, Pause, Snapshot, pick_device
from .images import ImageError
from .params import MAX_STYLES, ParamError, StyleParams
from .weights import IMAGENET, RANDOM, WeightsError, WeightsInfo

__all__ = [
           "IMAGENET",
           "MAX_STYLES",
           "RANDOM",
           "Engine",
           "ImageError",
           "ParamError",
           "Pause",
           "Snapshot",
           "StyleParams",
           "WeightsError",
           "WeightsInfo",
           "pick_device",
]
