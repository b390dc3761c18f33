"""The web app's parameter panel (frontend/params.js) is built from the server's StyleParams schema.

params.js keeps only labels, grouping and presets; ranges, defaults, choices and help come from the
schema (capabilities' `params`, else the shipped schema.json). Runs Node to build the panel's specs
from StyleParams.schema() itself, so what the app checks is what the server checks.
No browser and no server: fast, and not marked e2e.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from stylize import fields
from stylize.params import LAYER_NAMES, StyleParams

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
NODE = shutil.which("node")
# Set in the app by other means: style_blend by one slider per style image. Not offered: per-layer weights;
# network (a server holds one: the app shows which, in the "Features" fold, and sends none, so it is the server's).
NOT_IN_PANEL = {"style_blend", "style_layer_weights", "network"}
KINDS = {"int": "int", "float": "float", "bool": "bool", "choice": "str", "layers": "tuple"}


@pytest.fixture(scope="module")
def app_params() -> dict:
    if NODE is None:
        pytest.fail("node is not installed (the web app's tests and `make install` need Node.js)")
    script = ("const m = await import(process.argv[1]); const u = await import(process.argv[2]);"
              "m.applySchema(JSON.parse(process.argv[3])); u.applyFields(JSON.parse(process.argv[4]));"
              "console.log(JSON.stringify({params: m.PARAMS, layers: m.LAYER_NAMES, maxStyles: u.maxStyles(), presets: m.PRESETS,"
              " styleFields: u.UPLOADS.style}));")
    out = subprocess.run([NODE, "--input-type=module", "-e", script, (FRONTEND / "params.js").as_uri(), (FRONTEND / "uploads.js").as_uri(),
                          json.dumps(StyleParams.schema()), json.dumps(fields.as_dict())], capture_output=True, text=True, timeout=60,
                         check=True)
    return json.loads(out.stdout)


def test_every_panel_field_is_a_server_parameter_with_the_same_range_and_default(app_params: dict) -> None:
    schema = StyleParams.schema()
    names = [p["name"] for p in app_params["params"]]
    assert len(names) == len(set(names))
    assert set(schema) - set(names) == NOT_IN_PANEL
    assert set(names) <= set(schema)
    for spec in app_params["params"]:
        server = schema[spec["name"]]
        assert server["type"] == KINDS[spec["kind"]], spec["name"]
        assert spec["default"] == server["default"], spec["name"]
        if "min" in server:
            assert (spec["min"], spec["max"]) == (server["min"], server["max"]), spec["name"]
        if spec["kind"] == "choice":
            assert spec["choices"] == server["choices"], spec["name"]
        assert spec.get("optional", False) == (server["default"] is None), spec["name"]
        assert spec["help"] == server["help"], spec["name"]


def test_layer_names_and_style_count_match(app_params: dict) -> None:
    assert app_params["layers"] == list(LAYER_NAMES)
    assert app_params["maxStyles"] == fields.MAX_STYLES and app_params["styleFields"] == list(fields.STYLE_FIELDS)


def test_presets_are_valid_server_parameters(app_params: dict) -> None:
    for preset in app_params["presets"].values():
        StyleParams.from_mapping(preset["values"])


def test_params_js_holds_no_hand_copy_of_ranges_or_defaults() -> None:
    source = (FRONTEND / "params.js").read_text()
    fields = source[source.index("export const FIELDS"):source.index("export const PARAMS")]
    for word in ("default:", "min:", "max:", "choices:", "help:"):
        assert word not in fields, f"params.js FIELDS states {word} itself; it comes from the schema"


def test_a_schema_without_a_panel_field_is_refused(app_params: dict) -> None:
    schema = {k: v for k, v in StyleParams.schema().items() if k != "size"}
    script = "const m = await import(process.argv[1]); m.applySchema(JSON.parse(process.argv[2]));"
    out = subprocess.run([NODE, "--input-type=module", "-e", script, (FRONTEND / "params.js").as_uri(), json.dumps(schema)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no parameter size" in out.stderr
