"""Write the parameter schema where code without the engine reads it: the web app's fallback
(frontend/schema.json, used when /capabilities cannot be read) and the client's options
(client/stylize_client/schema.json). ``make schema`` runs this; tests/test_schema_files.py fails
when either file differs from ``StyleParams.schema()`` (run ``make schema`` after changing params).

    python -m tools.schema [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stylize import fields
from stylize.params import StyleParams

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (ROOT / "frontend" / "schema.json", ROOT / "client" / "stylize_client" / "schema.json")


def text() -> str:
    return json.dumps({"params": StyleParams.schema(), "fields": fields.as_dict()}, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    wanted = text()
    stale = [p for p in TARGETS if not p.is_file() or p.read_text() != wanted]
    if check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from StyleParams.schema(): run `make schema`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
