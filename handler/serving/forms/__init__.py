"""Answer forms as a registry: every module in this package that defines ``FORM`` is an entry.

Adding a form (say, WebP bytes) is one module here, an :class:`Answer` subclass and its ``FORM``, plus
its tests: the request parser takes its name and Accept types from here, the scheduler does not change.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Answer, AnswerForm


def _discover() -> dict[str, AnswerForm]:
    found: dict[str, AnswerForm] = {}
    for module in pkgutil.iter_modules(__path__):
        entry = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FORM", None)
        if isinstance(entry, AnswerForm):
            found[entry.name] = entry
    defaults = [f.name for f in found.values() if f.default]
    if len(defaults) != 1:
        raise TypeError(f"exactly one answer form must be the default, found {defaults}")
    return dict(sorted(found.items()))


FORMS: dict[str, AnswerForm] = _discover()
NAMES = tuple(FORMS)
DEFAULT = next(f.name for f in FORMS.values() if f.default)


def for_accept(accept: str | None) -> str:
    """The form of the first media type in an Accept header that one names (the default otherwise)."""
    for media in (part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")):
        for form in FORMS.values():
            if media in form.accepts:
                return form.name
    return DEFAULT


def answer_for(name: str) -> Answer:
    return FORMS[name].answer()


__all__ = ["DEFAULT", "FORMS", "NAMES", "Answer", "AnswerForm", "answer_for", "for_accept"]
