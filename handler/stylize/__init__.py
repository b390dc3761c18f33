"""Neural style transfer (Gatys, Ecker & Bethge 2015) on VGG19 or VGG16: a pure-PyTorch engine.

No TorchServe, HTTP or client import anywhere in this package: the CLI, the serving layer and the
benchmarks all build a :class:`Job` (validated once) and consume its :class:`Run`'s snapshot records.
"""

__version__ = "1.1.0"  # the service's version, reported by response=capabilities

from .engine import CANCELLED, COMPLETED, TIME_BUDGET, Engine, Run, Snapshot, Stage, pick_device, plan
from .errors import FieldError
from .job import Job, make_job
from .params import MAX_STYLES, StyleParams
from .provenance import RANDOM, WeightsError, WeightsInfo
from .weights import IMAGENET

__all__ = [
           "CANCELLED",
           "COMPLETED",
           "IMAGENET",
           "MAX_STYLES",
           "RANDOM",
           "TIME_BUDGET",
           "Engine",
           "FieldError",
           "Job",
           "Run",
           "Snapshot",
           "Stage",
           "StyleParams",
           "WeightsError",
           "WeightsInfo",
           "make_job",
           "pick_device",
           "plan",
]
