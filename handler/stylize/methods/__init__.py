"""Style methods as a registry: every module in this package that defines ``METHOD`` is an entry,
chosen by the ``style_loss`` parameter.

Adding a method is one module here (a :class:`StyleMethod` subclass and its ``METHOD``, with its own
parameters declared on it) plus its tests: the parameters, schema, capabilities, CLI, client and web app,
the memory model, masks, blends, ``preserve_colors`` and multiscale pick it up (``make schema`` rewrites
the shipped schema files). See docs for a worked example.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import StageContext, StyleMethod, StyleTerm
from .statistics import Moments, StatisticsMethod, StyleLoss, blend, moments


def _discover() -> dict[str, StyleMethod]:
    found: dict[str, StyleMethod] = {}
    for module in pkgutil.iter_modules(__path__):
        entry = getattr(importlib.import_module(f"{__name__}.{module.name}"), "METHOD", None)
        if isinstance(entry, StyleMethod):
            found[entry.name] = entry
    return found


METHODS: dict[str, StyleMethod] = _discover()
# The one place the default method is named. Nearest neighbours (not Gatys et al.'s Gram) since equal-time sheets
# and the quality bench showed Gram copying the paintings' faces and objects into the photo and this not
# (docs/engine.md#the-default-method), at 1.36x Gram's time at 512 px on a 2-core CPU.
DEFAULT = "neighbour"
STYLE_LAYER_READERS = tuple(name for name in sorted(METHODS) if METHODS[name].reads_style_layers)
NAMES = tuple(sorted(METHODS, key=lambda name: (name != DEFAULT, name)))


def get(name: str) -> StyleMethod:
    return METHODS[name]


__all__ = ["DEFAULT", "METHODS", "NAMES", "STYLE_LAYER_READERS", "Moments", "StageContext", "StatisticsMethod", "StyleLoss", "StyleMethod",
           "StyleTerm", "blend", "get", "moments"]
