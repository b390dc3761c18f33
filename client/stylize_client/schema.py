"""The parameter schema this client was released with (``make schema`` writes schema.json from the engine)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("schema.json")


@cache
def shipped_schema() -> dict[str, Any]:
    """{"params": StyleParams.schema(), "fields": upload field names} as of this client's release."""
    return json.loads(SCHEMA_FILE.read_text())
