"""Feature networks as a registry: every module in this package that defines ``BACKBONE`` is an entry.

Adding a network is one module here (its :class:`Backbone` and weight sources) plus its tests; the
parameters, the memory model, masks, weights export and capabilities read this registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import CONV, POOL, RELU, Backbone, Layer, WeightSource


def _discover() -> dict[str, Backbone]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        entry = getattr(importlib.import_module(f"{__name__}.{module.name}"), "BACKBONE", None)
        if isinstance(entry, Backbone):
            found.append(entry)
    return {b.name: b for b in sorted(found, key=lambda b: (b.preference, b.name))}


BACKBONES: dict[str, Backbone] = _discover()
NAMES = tuple(BACKBONES)  # in order of preference
DEFAULT = NAMES[0]


def get(name: str | None = None) -> Backbone:
    """The named backbone (None: the default)."""
    return BACKBONES[name or DEFAULT]


def all_layer_names() -> tuple[str, ...]:
    """Every layer name of any backbone, each once, in network order (the schema's choices)."""
    return tuple(sorted({n for b in BACKBONES.values() for n in b.names}, key=_order))


def _order(name: str) -> tuple[int, int, int]:
    layer = next(b.layer(name) for b in BACKBONES.values() if b.has(name))
    kinds = {CONV: 0, RELU: 1, POOL: 2}
    return (layer.block, layer.index if layer.index else 99, kinds[layer.kind])


def of_state(state: dict) -> Backbone:  # type: ignore[type-arg]
    """Which backbone a conv state dict is, by its number of conv layers."""
    convs = sum(key.endswith(".weight") for key in state)
    for backbone in BACKBONES.values():
        if convs == backbone.conv_count:
            return backbone
    known = ", ".join(f"{b.name.upper()} ({b.conv_count})" for b in BACKBONES.values())
    raise ValueError(f"a state dict with {convs} conv layers is none of {known}")


__all__ = ["BACKBONES", "CONV", "DEFAULT", "NAMES", "POOL", "RELU", "Backbone", "Layer", "WeightSource",
           "all_layer_names", "get", "of_state"]
