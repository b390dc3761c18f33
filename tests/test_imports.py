"""The package map of docs/CONTRACT.md, enforced: the engine imports no serving, HTTP, TorchServe or client
code; the client imports neither torch nor the engine; the serving layer imports no TorchServe; the shared
option helpers import only the standard library; and no module imports itself through others.

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
            "stylize_client": ROOT / "client" / "stylize_client", "stylize_options": ROOT / "client" / "stylize_options"}
# package -> top-level modules it must never import
FORBIDDEN = {
    "stylize": {"serving", "ts", "httpx", "http", "urllib", "requests", "style_handler", "stylize_client"},
    "serving": {"ts", "style_handler", "stylize_client", "httpx"},
    # PIL: only stylize_client.uploads, inside the function that shrinks an upload (test_only_uploads_reads_pixels)
    "stylize_client": {"torch", "torchvision", "stylize", "serving", "ts", "numpy", "safetensors"},
    "stylize_options": {"torch", "torchvision", "stylize", "serving", "ts", "PIL", "numpy", "safetensors", "httpx", "tqdm",
                        "stylize_client"},
}
# Where the project's importable code lives: (directory on sys.path, the top-level names in it that are ours).
SOURCE_ROOTS = [(ROOT / "handler", ("stylize", "serving", "style_handler")), (ROOT / "client", ("stylize_client", "stylize_options")),
                (ROOT, ("tools", "bench", "deploy"))]


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
    files = sorted(PACKAGES[package].rglob("*.py"))
    assert files, f"no modules found for {package}"
    wrong = []
    for path in files:
        for name in imported(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The static check is not vacuous: a lazy import inside a function is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from serving import scheduler\n    import torch.nn\n")
    assert imported(bad) == {"serving", "torch.nn"}


# -- no import circles ----------------------------------------------------------------------------------

def module_graph(roots: list[tuple[Path, tuple[str, ...]]]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in the file but under ``if TYPE_CHECKING``).
    ``from a import b`` is an edge to a.b where that is a module, else to a."""
    files: dict[str, Path] = {}
    for base, tops in roots:
        for top in tops:
            single = base / f"{top}.py"
            if single.is_file():
                files[top] = single
            for path in sorted((base / top).rglob("*.py")) if (base / top).is_dir() else []:
                parts = path.relative_to(base).with_suffix("").parts
                files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base_name = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base_name = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base_name}.{a.name}" if f"{base_name}.{a.name}" in files else base_name for a in node.names]
            edges.update(t for t in targets if t in files and t != name)
        graph[name] = edges
    return graph


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = module_graph(SOURCE_ROOTS)
    assert {"stylize.engine", "serving.scheduler", "stylize_client.cli", "bench.worker", "tools.archive"} <= set(graph)
    assert "stylize.run" in graph["stylize.engine"]  # the graph sees real edges
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from . import b\n")
    (tmp_path / "pkg" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\nfrom pkg.c import thing\n")
    (tmp_path / "pkg" / "c.py").write_text("def thing():\n    from .a import x\n")
    (tmp_path / "pkg" / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    graph = module_graph([(tmp_path, ("pkg",))])
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert graph["pkg.d"] == set()  # type-checking imports are no circle at run time


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=ROOT).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def test_client_at_run_time_loads_no_torch_and_no_engine() -> None:
    modules = loaded_after("import stylize_client.cli, stylize_options")
    assert "httpx" in modules  # the check sees what the import really pulled in
    assert not modules & (FORBIDDEN["stylize_client"] | {"PIL"}), modules & (FORBIDDEN["stylize_client"] | {"PIL"})


def test_only_uploads_reads_pixels() -> None:
    """The client's one Pillow import is stylize_client.uploads' (downscaling an upload), so get, status and --help
    start without it (the run-time check above)."""
    readers = sorted(p.name for p in PACKAGES["stylize_client"].rglob("*.py") if any(n.split(".")[0] == "PIL" for n in imported(p)))
    assert readers == ["uploads.py"], readers


def test_engine_at_run_time_loads_no_serving_or_http_code() -> None:
    modules = loaded_after("import stylize, stylize.__main__, stylize.masks, stylize.weights")
    assert "torch" in modules
    assert not modules & (FORBIDDEN["stylize"] - {"http", "urllib"}), modules & FORBIDDEN["stylize"]
    assert "httpx" not in modules and "stylize_client" not in modules and "stylize_options" in modules


def test_serving_at_run_time_loads_no_torchserve() -> None:
    modules = loaded_after("import serving.scheduler, serving.responses, serving.capabilities, serving.forms, serving.speed")
    assert "stylize" in modules and "ts" not in modules and "httpx" not in modules
