"""How a parameter is declared, wherever it lives (:mod:`stylize.params` for the core, a style method's
module for its own): a dataclass field whose metadata carries the schema (range, choices, help, when)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: Sequence[str] | None = None, when: Mapping[str, str] | None = None, **extra: Any) -> Any:
    """A parameter field. ``min``/``max`` bound numbers, ``choices`` text; ``when`` ({"style_loss": "w2"}) says
    the parameter matters only under those settings (the web app shows it only then)."""
    meta: dict[str, Any] = {"help": help, **extra}
    if min is not None and max is not None:
        meta.update(min=min, max=max)
    if choices is not None:
        meta["choices"] = tuple(choices)
    if when:
        meta["when"] = dict(when)
    return dataclasses.field(default=default, metadata=meta)
