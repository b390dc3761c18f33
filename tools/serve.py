"""`make serve` / `make stop`: TorchServe + the web app on this machine, in the background.

    python -m tools.serve start [--port 8000]    # prints the URLs and the weights' provenance
    python -m tools.serve stop
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tools.torchserve import ROOT, TorchServe

RUN = ROOT / ".run"
STORE = ROOT / "model_store"
PIDS = {"torchserve": RUN / "torchserve.pid", "frontend": RUN / "frontend.pid"}


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(web_port: int, inference_port: int, management_port: int, metrics_port: int) -> int:
    if any(path.exists() for path in PIDS.values()):
        stop()
    busy = [p for p in (web_port, inference_port, management_port, metrics_port) if _busy(p)]
    if busy:
        print(f"error: port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1; stop what holds them or pick others "
              "(make serve WEB_PORT=… INFERENCE_PORT=… MANAGEMENT_PORT=… METRICS_PORT=…)", file=sys.stderr)
        return 1
    RUN.mkdir(exist_ok=True)
    web = f"http://127.0.0.1:{web_port}"
    server = TorchServe(STORE, RUN / "torchserve", inference_port=inference_port, management_port=management_port,
                        metrics_port=metrics_port, cors_origin=web, grpc_ports=(7070, 7071))
    print("starting TorchServe (first start loads the weights; about 10 s on CPU) …", flush=True)
    server.start(timeout=300)
    # Detach: the servers outlive this command, `make stop` ends them.
    assert server.process is not None
    PIDS["torchserve"].write_text(str(server.process.pid))
    frontend = subprocess.Popen([sys.executable, "-m", "tools.static_server", "--port", str(web_port), "--api", server.url],
                                cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'handler'}"))
    PIDS["frontend"].write_text(str(frontend.pid))
    for _ in range(50):
        try:
            if httpx.get(web, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    weights = (STORE / "style_transfer.weights.txt").read_text().strip() if (STORE / "style_transfer.weights.txt").exists() else "unknown"
    print(f"""
  Web app         {web}/
  Inference API   {server.url}/predictions/style_transfer   (health: {server.url}/ping)
  Management API  {server.management_url}   (loopback only)
  Metrics         {server.metrics_url}/metrics
  Weights         {weights}
  Logs            {server.log_dir}

  Try:  curl -F content=@photo.jpg -F style=@painting.jpg -F size=256 {server.url}/predictions/style_transfer -o out.png
  Stop: make stop""")
    if weights.startswith("random-init"):
        print("\n  NOTE: random-init VGG19 weights: results are texture-only, not a real style transfer.\n"
              "  For real results: make stop; make archive -B VGG19_WEIGHTS=/path/to/vgg19-dcbb9e9d.pth (or with internet: WEIGHTS_MODE=strict); make serve")
    return 0


def stop() -> int:
    stopped = []
    for name, path in PIDS.items():
        if not path.exists():
            continue
        pid = int(path.read_text().strip() or 0)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            for _ in range(100):
                try:
                    os.killpg(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        path.unlink(missing_ok=True)
        stopped.append(name)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.serve")
    sub = parser.add_subparsers(dest="command", required=True)
    start_cmd = sub.add_parser("start")
    start_cmd.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", 8000)))
    start_cmd.add_argument("--inference-port", type=int, default=int(os.environ.get("INFERENCE_PORT", 8080)))
    start_cmd.add_argument("--management-port", type=int, default=int(os.environ.get("MANAGEMENT_PORT", 8081)))
    start_cmd.add_argument("--metrics-port", type=int, default=int(os.environ.get("METRICS_PORT", 8082)))
    sub.add_parser("stop")
    args = parser.parse_args(argv)
    if args.command == "start":
        return start(args.port, args.inference_port, args.management_port, args.metrics_port)
    return stop()


if __name__ == "__main__":
    raise SystemExit(main())
