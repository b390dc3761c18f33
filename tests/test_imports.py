"""The package map of docs/CONTRACT.md, enforced: the engine imports no serving, HTTP or TorchServe
code; the client imports neither torch nor the engine; the serving layer imports no TorchServe.

Checked twice: statically (every import statement of every module, via ast, so a lazy import inside
a function counts too) and at run time (what ``import X`` really pulls into sys.modules)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"stylize": ROOT / "handler" / "stylize", "serving": ROOT / "handler" / "serving",
            "stylize_client": ROOT / "client" / "stylize_client"}
# package -> top-level modules it must never import
FORBIDDEN = {
    "stylize": {"serving", "ts", "httpx", "http", "urllib", "requests", "style_handler"},
    "serving": {"ts", "style_handler", "stylize_client", "httpx"},
    "stylize_client": {"torch", "torchvision", "stylize", "serving", "ts", "PIL", "numpy", "safetensors"},
}
# The engine's CLI shares the client's option helpers (standard library only), nothing else of it.
ALLOWED = {("stylize", "__main__.py"): {"stylize_client.options"}}


def imported(path: Path) -> set[str]:
    """Absolute module names imported anywhere in a file (relative imports stay inside the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_static_imports_follow_the_map(package: str) -> None:
    files = sorted(PACKAGES[package].glob("*.py"))
    assert files, f"no modules found for {package}"
    wrong = []
    for path in files:
        allowed = ALLOWED.get((package, path.name), set())
        for name in imported(path):
            if name in allowed:
                continue
            top = name.split(".")[0]
            if top in FORBIDDEN[package] or (package == "stylize" and top == "stylize_client"):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The static check is not vacuous: a lazy import inside a function is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from serving import scheduler\n    import torch.nn\n")
    assert imported(bad) == {"serving", "torch.nn"}


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=ROOT).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_client_at_run_time_loads_no_torch_and_no_engine() -> None:
    modules = loaded_after("import stylize_client.cli, stylize_client.options")
    assert "httpx" in modules  # the check sees what the import really pulled in
    assert not modules & FORBIDDEN["stylize_client"], modules & FORBIDDEN["stylize_client"]


def test_engine_at_run_time_loads_no_serving_or_http_code() -> None:
    modules = loaded_after("import stylize, stylize.__main__, stylize.masks, stylize.weights")
    assert "torch" in modules
    assert not modules & (FORBIDDEN["stylize"] - {"http", "urllib"}), modules & FORBIDDEN["stylize"]
    assert "httpx" not in modules and "stylize_client" in modules  # only the option helpers, httpx-free


def test_serving_at_run_time_loads_no_torchserve() -> None:
    modules = loaded_after("import serving.scheduler, serving.responses, serving.capabilities")
    assert "stylize" in modules and "ts" not in modules and "httpx" not in modules
