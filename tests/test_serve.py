"""`make serve` / `make stop` (tools/serve.py): every port movable, a taken port refused with one line,
and stop leaves nothing running. Uses a private run dir, never the checkout's .run/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


def start_in_background(model_store: Path, run: Path, ports: serve.Ports) -> subprocess.Popen[str]:
    """`python -m tools.serve start` as `make serve` runs it: in its own process group, as a terminal would."""
    flags = [arg for key, port in ports.items()
             for arg in ("--port" if key == "web" else "--" + key.replace("_", "-") + "-port", str(port))]
    return subprocess.Popen([sys.executable, "-m", "tools.serve", "start", *flags, "--run-dir", str(run),
                             "--model-store", str(model_store)], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def wait_for_pid_file(path: Path, command: subprocess.Popen[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip().isdigit():
            return int(path.read_text())
        assert command.poll() is None, command.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {path} within {timeout} s")


def group_gone(pgid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["SIGINT to the command (Ctrl-C)", "SIGTERM to its process group"])
def test_interrupting_a_start_while_torchserve_starts_stops_it(how: str, model_store: Path, tmp_path: Path) -> None:
    ports, run = free_ports(), tmp_path / "run"
    command = start_in_background(model_store, run, ports)
    try:
        # The pid file exists while TorchServe is still loading, so a Ctrl-C during start-up can stop it.
        pid = wait_for_pid_file(run / "torchserve.pid", command)
        assert not (run / "front.pid").exists(), "interrupted before the front started"
        if how.startswith("SIGINT"):
            command.send_signal(signal.SIGINT)
        else:
            os.killpg(command.pid, signal.SIGTERM)
        _, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
        serve.stop(run)
    assert command.returncode == 128 + (signal.SIGINT if how.startswith("SIGINT") else signal.SIGTERM), err
    assert "interrupted" in err and "Traceback" not in err, err
    assert group_gone(pid), "TorchServe outlived the interrupted start"
    assert not any(path.exists() for path in serve.pid_files(run).values())
    assert not any(serve.port_taken(port) for _, port in ports.items())


def test_stop_finds_servers_of_its_run_dir_without_a_pid_file(model_store: Path, tmp_path: Path) -> None:
    ports, run = free_ports(), tmp_path / "run"
    command = start_in_background(model_store, run, ports)
    try:
        pid = wait_for_pid_file(run / "torchserve.pid", command)
        command.kill()  # SIGKILL cannot be handled: TorchServe lives on in its own session
        command.wait(timeout=10)
        (run / "torchserve.pid").unlink()
        assert serve.leftovers(run) == [pid]
        assert serve.leftovers(tmp_path / "another-run") == [], "only this run dir's servers"
        result = serve_cli("stop", "--run-dir", str(run))
    finally:
        if command.poll() is None:
            command.kill()
        serve.stop(run)
    assert result.returncode == 0 and "without a pid file" in result.stdout, result.stdout
    assert group_gone(pid)
    assert serve.leftovers(run) == []
