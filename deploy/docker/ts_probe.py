"""Probes for the model-server pod (standard library only, runs inside the image).

    python ts_probe.py ready   # exit 0 when /ping is Healthy AND the model has a READY worker
    python ts_probe.py drain   # preStop: wait until no client connection to :8080 is open

`ready` asks the management API, which listens on loopback only, so it must run inside the pod
(an exec probe), never through a Service. `drain` counts ESTABLISHED TCP connections on the
inference port in /proc/net/tcp{,6}: nginx opens one connection per job (no keepalive), so an open
connection is a running or queued job, and TorchServe is only told to stop once they are gone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

MODEL = "style_transfer"
TCP_ESTABLISHED = "01"
PROC_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def _get(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, ""


def ready(inference: str, management: str, model: str = MODEL, timeout: float = 5.0) -> str | None:
    """None when serving; otherwise why not (printed by the probe, visible in `kubectl describe pod`)."""
    try:
        status, body = _get(f"{inference}/ping", timeout)
        if status != 200 or json.loads(body).get("status") != "Healthy":
            return f"/ping answered {status} {body.strip()[:80]}"
        status, body = _get(f"{management}/models/{model}", timeout)
        if status != 200:
            return f"model {model}: management API answered {status}"
        workers = [w for entry in json.loads(body) for w in entry.get("workers", [])]
        if not any(w.get("status") == "READY" for w in workers):
            return f"model {model}: no READY worker ({[w.get('status') for w in workers]})"
    except (OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def established(port: int, tables: Iterable[str]) -> int:
    """ESTABLISHED connections whose local port is `port`, from /proc/net/tcp-format tables."""
    count = 0
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[1].rsplit(":", 1)[-1] == f"{port:04X}" and fields[3] == TCP_ESTABLISHED:
                count += 1
    return count


def _read_tables() -> list[str]:
    return [p.read_text() for p in PROC_TCP if p.exists()]


def drain(port: int, settle: float, timeout: float, interval: float = 2.0) -> int:
    """Wait (at most `timeout` s) until the pod has had no client connection for two checks in a row."""
    # Endpoint removal reaches nginx/kube-proxy a moment after the pod is marked terminating.
    time.sleep(settle)
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        busy = established(port, _read_tables())
        quiet = quiet + 1 if busy == 0 else 0
        if quiet >= 2:
            return 0
        print(f"drain: {busy} connection(s) on :{port}", flush=True)
        time.sleep(interval)
    print(f"drain: gave up after {timeout:.0f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_ready = sub.add_parser("ready")
    p_ready.add_argument("--inference", default="http://127.0.0.1:8080")
    p_ready.add_argument("--management", default="http://127.0.0.1:8081")
    p_ready.add_argument("--model", default=MODEL)
    p_drain = sub.add_parser("drain")
    p_drain.add_argument("--port", type=int, default=8080)
    p_drain.add_argument("--settle", type=float, default=10.0)
    p_drain.add_argument("--timeout", type=float, default=1850.0)
    args = parser.parse_args(argv)
    if args.command == "drain":
        return drain(args.port, args.settle, args.timeout)
    problem = ready(args.inference, args.management, args.model)
    if problem:
        print(f"not ready: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
