"""The one error every input check raises: which field is wrong, and what is wrong with it."""

from __future__ import annotations


class FieldError(ValueError):
    """A parameter, image, mask or request field is unusable; ``str(err)`` is ``"<field>: <message>"``.

    The CLI prints it, the serving layer answers it as a 400 (or 413) naming the field.
    """

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class OverPixelLimit(FieldError):
    """An image with more pixels than the limit (or a decompression bomb): callers may add how to get under it."""
