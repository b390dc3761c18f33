"""Start and stop a TorchServe instance from the project's config.properties.

Tests, benchmarks and `make serve` all go through :class:`TorchServe`, so the config that is
tested is the config that is served; only ports, paths and the CORS origin are replaced.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tools.procgroup import end_group

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.properties"
MODEL_NAME = "style_transfer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_config(base: str, overrides: dict[str, str]) -> str:
    """Replace (or append) ``key=value`` lines of a properties file."""
    lines, seen = [], set()
    for line in base.splitlines():
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and "=" in line and key in overrides:
            lines.append(f"{key}={overrides[key]}")
            seen.add(key)
        else:
            lines.append(line)
    lines += [f"{k}={v}" for k, v in overrides.items() if k not in seen]
    return "\n".join(lines) + "\n"


class TorchServe:
    """One TorchServe process tree in its own session (so stop() takes the Java frontend and
    every Python worker down together) with its own temp dir (TorchServe's pid file lives
    there, so several instances can run side by side)."""

    def __init__(self, model_store: Path, run_dir: Path, *, inference_port: int | None = None,
                 management_port: int | None = None, metrics_port: int | None = None,
                 cors_origin: str | None = "http://127.0.0.1:8000", grpc_ports: tuple[int, int] | None = None, extra: dict[str, str] | None = None,
                 environment: dict[str, str] | None = None) -> None:
        self.model_store = Path(model_store).resolve()
        self.environment = environment or {}  # for the workers too: the Java frontend passes its environment on
        self.run_dir = Path(run_dir).resolve()
        self.inference_port = inference_port or free_port()
        self.management_port = management_port or free_port()
        self.metrics_port = metrics_port or free_port()
        self.cors_origin = cors_origin
        self.grpc_ports = grpc_ports or (free_port(), free_port())
        self.extra = extra or {}
        self.url = f"http://127.0.0.1:{self.inference_port}"
        self.management_url = f"http://127.0.0.1:{self.management_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        self.model_url = f"{self.url}/predictions/{MODEL_NAME}"
        self.log_dir = self.run_dir / "logs"
        self.config_path = self.run_dir / "config.properties"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        overrides = {
            "inference_address": self.url,
            "management_address": self.management_url,
            "metrics_address": self.metrics_url,
            "model_store": str(self.model_store),
            # None: keep config.properties' own CORS line (`make serve`: the app is same-origin via nginx).
            **({"cors_allowed_origin": self.cors_origin} if self.cors_origin is not None else {}),
            # gRPC ports too, or a second instance dies binding 7070 (tests run several at once).
            "grpc_inference_port": str(self.grpc_ports[0]),
            "grpc_management_port": str(self.grpc_ports[1]),
            **self.extra,
        }
        self.config_path.write_text(render_config(CONFIG.read_text(), overrides))
        return self.config_path

    def env(self) -> dict[str, str]:
        tmp = self.run_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TMPDIR=str(tmp), TEMP=str(tmp), LOG_LOCATION=str(self.log_dir),
                   METRICS_LOCATION=str(self.log_dir), **self.environment)
        env.pop("TS_CONFIG_FILE", None)
        return env

    def command(self) -> list[str]:
        exe = shutil.which("torchserve", path=str(Path(sys.executable).parent)) or "torchserve"
        return [exe, "--start", "--foreground", "--ncs", "--disable-token-auth",
                "--ts-config", str(self.config_path), "--model-store", str(self.model_store)]

    def start(self, timeout: float = 180.0, on_spawn: Callable[[int], None] | None = None) -> TorchServe:
        """Start and wait until ready. `on_spawn(pid)` runs as soon as the process exists (before the
        wait), so a caller can record the pid before anything can interrupt it."""
        self.write_config()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.run_dir / "torchserve.out", "wb")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(self.command(), cwd=self.run_dir, env=self.env(), stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            if on_spawn is not None:
                on_spawn(self.process.pid)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        """Until /ping is Healthy and the model has a READY worker."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"TorchServe exited with {self.process.returncode}; log:\n{self.tail()}")
            try:
                ping = httpx.get(f"{self.url}/ping", timeout=2)
                model = httpx.get(f"{self.management_url}/models/{MODEL_NAME}", timeout=2)
                if ping.status_code == 200 and model.status_code == 200 and '"READY"' in model.text:
                    return
                last = f"ping {ping.status_code}, model {model.status_code}"
            except httpx.HTTPError as err:
                last = type(err).__name__
            time.sleep(0.5)
        raise TimeoutError(f"TorchServe not ready after {timeout:.0f} s ({last}); log:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        """PIDs of the Python model workers (children of the Java frontend)."""
        if self.process is None:
            return []
        import psutil

        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p.pid for p in tree if "model_service_worker" in " ".join(p.cmdline())]

    def tail(self, lines: int = 60) -> str:
        texts = []
        for path in [self.run_dir / "torchserve.out", self.log_dir / "model_log.log", self.log_dir / "ts_log.log"]:
            if path.exists():
                texts.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts)

    def stop(self, timeout: float = 20.0) -> None:
        """TERM the whole session, then KILL what is left; safe to call twice."""
        if self.process is None:
            return
        # The frontend and its workers share the session: the whole group goes.
        end_group(self.process.pid, grace_s=timeout, reap=self.process.poll)
        self.process.wait(timeout=timeout)
        self.process = None

    def __enter__(self) -> TorchServe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
