"""How a parameter is declared, wherever it lives (:mod:`stylize.params` for the core, a style method's
module for its own): a dataclass field whose metadata carries the schema (range, choices, help, when)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: Sequence[str] | None = None, when: Mapping[str, str | Sequence[str]] | None = None, **extra: Any) -> Any:
    """A parameter field. ``min``/``max`` bound numbers, ``choices`` text; ``when`` ({"style_loss": "w2"}, or a list
    of values: any of them) says the parameter matters only under those settings: the web app shows it only then,
    and a job that sets it to anything but its default otherwise is refused (nothing sent is silently ignored)."""
    meta: dict[str, Any] = {"help": help, **extra}
    if min is not None and max is not None:
        meta.update(min=min, max=max)
    if choices is not None:
        meta["choices"] = tuple(choices)
    if when:
        meta["when"] = {k: v if isinstance(v, str) else list(v) for k, v in when.items()}
    return dataclasses.field(default=default, metadata=meta)


def applies(when: Mapping[str, str | Sequence[str]] | None, values: Any) -> bool:
    """Whether a parameter with this ``when`` matters for ``values`` (an object with those attributes)."""
    return not when or all(getattr(values, k) in ([v] if isinstance(v, str) else v) for k, v in when.items())


def when_text(when: Mapping[str, str | Sequence[str]]) -> str:
    """{"style_loss": ["gram", "w2"]} -> "style_loss=gram or w2"."""
    return ", ".join(f"{k}={v if isinstance(v, str) else ' or '.join(v)}" for k, v in when.items())
