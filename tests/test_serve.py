"""`make serve` / `make stop` (tools/serve.py): every port movable, a taken port refused with one line,
and stop leaves nothing running. Uses a private run dir, never the checkout's .run/."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tools import serve
from tools.torchserve import ROOT, free_port

pytestmark = pytest.mark.integration


def free_ports() -> serve.Ports:
    ports: list[int] = []
    while len(ports) < 6:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return serve.Ports(*ports)


def serve_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.serve", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket listening on a free loopback port, as another program holding it would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.mark.parametrize("name", list(serve.Ports.VARIABLES))
def test_a_taken_port_is_refused_with_one_line_naming_its_variable(name: str, listening: socket.socket, tmp_path: Path) -> None:
    taken = listening.getsockname()[1]
    ports = free_ports().__dict__ | {name: taken}
    flags = [arg for key, port in ports.items()
             for arg in ("--port" if key == "web" else "--" + key.replace("_", "-") + "-port", str(port))]
    result = serve_cli("start", *flags, "--run-dir", str(tmp_path / "run"), "--model-store", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    variable = serve.Ports.VARIABLES[name]
    assert f"{taken} ({variable})" in lines[0] and f"make serve {variable}=…" in lines[0]
    assert not (tmp_path / "run" / "torchserve").exists(), "nothing may start when a port is taken"


def test_the_same_port_twice_is_refused(tmp_path: Path) -> None:
    port = free_port()
    problem = serve.port_problem(serve.Ports(port, port, free_port(), free_port(), free_port(), free_port()))
    assert problem is not None and f"{port} given for more than one service" in problem


def test_start_with_every_port_moved_then_stop_leaves_nothing(model_store: Path, tmp_path: Path) -> None:
    ports = free_ports()
    run = tmp_path / "run"
    assert serve.start(ports, model_store, run) == 0
    try:
        pids = {name: int(path.read_text()) for name, path in serve.pid_files(run).items() if path.exists()}
        assert set(pids) == {"torchserve", "front"}
        processes = [psutil.Process(pid) for pid in pids.values()]
        processes += [child for p in processes for child in p.children(recursive=True)]
        web = f"http://127.0.0.1:{ports.web}"
        assert httpx.get(f"{web}/ping", timeout=10).json()["status"] == "Healthy"
        assert httpx.get(f"http://localhost:{ports.web}/", timeout=10).status_code == 200
        # Every one of the six ports is held by what was started, none by the defaults.
        assert all(serve.port_taken(port) for _, port in ports.items())
        config = (run / "torchserve" / "config.properties").read_text()
        assert f"grpc_inference_port={ports.grpc_inference}\n" in config and f"grpc_management_port={ports.grpc_management}\n" in config
        rendered = (run / "front" / "nginx.conf").read_text()
        assert f"listen 127.0.0.1:{ports.web};" in rendered and f"server 127.0.0.1:{ports.inference};" in rendered
        assert f"pid {run.resolve() / 'front'}/nginx.pid;" in rendered, "nginx writes only under the run dir"
    finally:
        assert serve.stop(run) == 0
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes), processes
    assert not any(serve.port_taken(port) for _, port in ports.items())
    assert not any(path.exists() for path in serve.pid_files(run).values())
