"""Neural style transfer (Gatys, Ecker & Bethge 2015) on VGG19: a pure-PyTorch engine.

No TorchServe import anywhere in this package: the CLI, the handler and the benchmarks all
consume the same :meth:`Engine.run` iterator of :class:`Snapshot` records.
"""

__version__ = "1.1.0"  # the service's version, reported by response=capabilities

from .engine import Engine, Pause, Snapshot, Stage, pick_device, plan
from .errors import FieldError
from .images import ImageError
from .params import MAX_STYLES, ParamError, StyleParams
from .weights import IMAGENET, RANDOM, WeightsError, WeightsInfo

__all__ = [
           "IMAGENET",
           "MAX_STYLES",
           "RANDOM",
           "Engine",
           "FieldError",
           "ImageError",
           "ParamError",
           "Pause",
           "Snapshot",
           "Stage",
           "StyleParams",
           "WeightsError",
           "WeightsInfo",
           "pick_device",
           "plan",
]
