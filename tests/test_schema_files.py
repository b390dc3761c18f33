"""The schema files read without the engine match StyleParams.schema() (run `make schema` after
changing a parameter): the web app's fallback and the client's options."""

from __future__ import annotations

import json

from stylize import fields
from stylize.params import StyleParams

from tools import schema


def test_schema_files_match_the_engine() -> None:
    for path in schema.TARGETS:
        doc = json.loads(path.read_text())
        assert doc["params"] == json.loads(json.dumps(StyleParams.schema())), f"{path}: run `make schema`"
        assert doc["fields"] == fields.as_dict(), f"{path}: run `make schema`"
    assert schema.main(["--check"]) == 0
