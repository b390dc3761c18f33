"""Style losses as interchangeable parts: each compares the statistics of the image's features at
one layer with a target's, optionally restricted to a region (masks) and blended over several styles.

A new loss is one module here with one :class:`StyleLoss` subclass, listed in :data:`LOSSES`; the
objective, the masks, blends, ``preserve_colors`` and multiscale work with it unchanged.
"""

from __future__ import annotations

from .base import Moments, StyleLoss, moments
from .gram import GramLoss
from .w2 import W2Loss

LOSSES: dict[str, type[StyleLoss]] = {cls.name: cls for cls in (GramLoss, W2Loss)}
NAMES = tuple(LOSSES)

__all__ = ["LOSSES", "NAMES", "GramLoss", "Moments", "StyleLoss", "W2Loss", "moments"]
