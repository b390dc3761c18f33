"""Names of the uploaded fields, one place for the HTTP API, the CLI and the masks.

``style`` is the first style image, ``style_2`` … ``style_8`` the others; ``mask``/``mask_N`` is
style N's region over the content, ``style_mask``/``style_mask_N`` the part of style N's own image
to take it from. Torch-free: tools/schema.py writes these into the web app's and the client's
schema files.
"""

from __future__ import annotations

MAX_STYLES = 8
CONTENT = "content"


def numbered(kind: str, n: int) -> str:
    """The field of style ``n`` (1-based): ``style``, ``style_2`` …; ``mask``, ``mask_2`` …"""
    return kind if n == 1 else f"{kind}_{n}"


def names(kind: str, count: int = MAX_STYLES) -> tuple[str, ...]:
    return tuple(numbered(kind, n) for n in range(1, count + 1))


STYLE_FIELDS = names("style")
IMAGE_FIELDS = (CONTENT, *STYLE_FIELDS)
MASK_FIELDS = names("mask")
STYLE_MASK_FIELDS = names("style_mask")
UPLOAD_FIELDS = (*IMAGE_FIELDS, *MASK_FIELDS, *STYLE_MASK_FIELDS)
LIST_FIELDS = {"style": STYLE_FIELDS, "mask": MASK_FIELDS, "style_mask": STYLE_MASK_FIELDS}  # JSON may send these as lists


# Per-job switches of the server (its result store, kept jobs): not style parameters, so not in StyleParams, but
# declared once like them, so the schema files, the capabilities, the client's options and the web app list them.
# label: how the web app names a switch it shows. store=false: no share link is kept (nor the result); keep=true
# needs store=true, since a kept job is fetched by its link.
SWITCHES: dict[str, dict[str, object]] = {
    "store": {"type": "bool", "default": True, "label": "Keep a share link",
              "help": "Keep the result on the server with a share link (/r/<id>) until it expires; false: nothing is stored."},
    "store_inputs": {"type": "bool", "default": False, "label": "Share the photo and painting too",
                     "help": "Keep the content and style images with the result (the share page's before and after)."},
    "keep": {"type": "bool", "default": False, "label": "Keep running if I leave",
             "help": "Run to the end even if the client leaves; progress and cancel by the share link (needs store)."},
}


def as_dict(count: int = MAX_STYLES) -> dict[str, object]:
    """The upload field names as JSON, for ``count`` style images (a server's ``max_styles``): the schema files
    and the capabilities document carry these, so the web app and the client never spell a field name
    themselves and a server that takes fewer styles lists fewer names."""
    count = max(1, min(count, MAX_STYLES))
    return {"content": CONTENT, "max_styles": count, "style": list(names("style", count)),
            "mask": list(names("mask", count)), "style_mask": list(names("style_mask", count)),
            "switches": {name: dict(spec) for name, spec in SWITCHES.items()}}
