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
DEFAULT = "gram"  # Gatys et al.'s; the one place the default method is named
NAMES = tuple(sorted(METHODS, key=lambda name: (name != DEFAULT, name)))


def get(name: str) -> StyleMethod:
    return METHODS[name]


__all__ = ["DEFAULT", "METHODS", "NAMES", "Moments", "StageContext", "StatisticsMethod", "StyleLoss", "StyleMethod",
           "StyleTerm", "blend", "get", "moments"]
