"""Render the front's nginx.conf for a local run (`make serve`, tests): same file, a few values
replaced; start/stop that nginx as the current user with every writable path under one directory.

    python -m deploy.nginx_render --upstream 127.0.0.1:8080 --listen 8000 --root frontend --tmp .run/front > nginx.conf

Replaced: the upstream server, the listen line (loopback only: `listen 127.0.0.1:PORT`), the static
root, the results directory (`/srv/results`, the volume the model server writes), the /tmp/ prefix of pid and temp paths, and optionally the per-client job rate (`jobs_rate`):
on one machine every browser tab and script is the same client 127.0.0.1, the single local user,
so `make serve` and the test fixtures allow more jobs per minute than a shared cluster front.
Every replacement must match, so a change to nginx.conf that the renderer no longer understands
fails loudly instead of silently testing a different configuration from the one deployed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tools.procgroup import end_group

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "k8s" / "base" / "front" / "nginx.conf"
FRONTEND = ROOT / "frontend"
NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin") or "/usr/sbin/nginx"


class RenderError(ValueError):
    """nginx.conf no longer has the line a replacement expects."""


def _sub(pattern: str, replacement: str, text: str, what: str, count: int | None = None) -> str:
    new, n = re.subn(pattern, lambda _: replacement, text, flags=re.M)
    if n == 0 or (count is not None and n != count):
        raise RenderError(f"nginx.conf: expected {count or 'some'} {what}, found {n}")
    return new


RESULTS_DIR = "/srv/results"  # where the front pod mounts the results volume (read-only)


def render(conf_text: str, upstream: str, listen: int, root: Path | str = FRONTEND, tmp: Path | str = "/tmp",
           jobs_rate: str | None = None, results: Path | str | None = None) -> str:
    """The deployed conf with the upstream server, listen address, static root, results directory
    (default: <tmp>/results) and /tmp/ paths replaced (and the job rate, e.g. "120r/m", when given)."""
    tmp_dir = str(Path(tmp).resolve())
    results_dir = str(Path(results).resolve()) if results is not None else tmp_dir.rstrip("/") + "/results"
    # the finished results and the kept jobs' status and preview
    conf_text = _sub(r"(?<=alias )" + re.escape(RESULTS_DIR) + r"(?=/)", results_dir, conf_text, "results alias lines", 3)
    text = _sub(r"(?<=^        server )model-server:8080(?=;)", upstream, conf_text, "upstream server line", 1)
    text = _sub(r"(?<=^        listen )8080(?=;)", f"127.0.0.1:{listen}", text, "listen line", 1)
    if jobs_rate is not None:
        if not re.fullmatch(r"\d+r/[sm]", jobs_rate):
            raise RenderError(f"jobs_rate must look like 12r/m or 2r/s, got {jobs_rate!r}")
        text = _sub(r"(?<=zone=jobs:10m rate=)\d+r/[sm](?=;)", jobs_rate, text, "limit_req_zone jobs rate", 1)
    text = _sub(r"(?<=^        root )/usr/share/nginx/html(?=;)", str(Path(root).resolve()), text, "root line", 1)
    # pid and the *_temp_path directives: the only places nginx writes (comments are left alone).
    new, n = re.subn(r"^(\s*(?:pid|\w+_temp_path)\s+)/tmp/", lambda m: m[1] + tmp_dir.rstrip("/") + "/", text, flags=re.M)
    if n < 6:
        raise RenderError(f"nginx.conf: expected pid and 5 *_temp_path lines under /tmp/, found {n}")
    return new


def directive(conf_text: str, name: str) -> list[str]:
    """Values of every `name ...;` directive (comments ignored), for tests to compare with TorchServe's config."""
    values = []
    for line in conf_text.splitlines():
        code = line.split("#", 1)[0].strip()
        if code.startswith(name + " ") and code.endswith(";"):
            values.append(code[len(name):-1].strip())
    return values


# ---- running it (tests) -------------------------------------------------------------------------

@dataclass
class Nginx:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def wait_listening(proxy: Nginx, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"nginx exited with {proxy.process.returncode}:\n{proxy.tail()}")
        try:
            if httpx.get(f"{proxy.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nginx not answering after {timeout:.0f} s:\n{proxy.tail()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx's fast shutdown) to master and workers, SIGKILL if they linger."""
    end_group(process.pid, grace_s=10, reap=process.poll)
    process.wait(timeout=10)


def start(upstream: str, run_dir: Path, root: Path = FRONTEND, conf_text: str | None = None, port: int | None = None,
          jobs_rate: str | None = None, results: Path | None = None) -> Nginx:
    """The real nginx with the rendered conf on 127.0.0.1:`port` (default: a free one), as the current
    (non-root) user; pid, temp files, the rendered conf and its log all live in `run_dir`."""
    if not Path(NGINX).exists():
        raise FileNotFoundError("nginx is required (make system-deps installs the Debian package)")
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    conf = run_dir / "nginx.conf"
    conf.write_text(render(conf_text or NGINX_CONF.read_text(), upstream=upstream, listen=port, root=root, tmp=run_dir,
                           jobs_rate=jobs_rate, results=results))
    check = subprocess.run([NGINX, "-t", "-q", "-p", str(run_dir), "-c", str(conf), "-e", "stderr"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {check.stderr}")
    log = run_dir / "nginx.log"
    with open(log, "wb") as out:
        # Its own session, so stop() reaches the workers too even if the master dies first.
        process = subprocess.Popen([NGINX, "-p", str(run_dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proxy = Nginx(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_listening(proxy)
    except BaseException:
        stop(process)
        raise
    return proxy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.nginx_render", description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port of TorchServe's inference API")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--root", type=Path, default=FRONTEND)
    parser.add_argument("--tmp", type=Path, required=True, help="writable directory for pid and temp files")
    parser.add_argument("--conf", type=Path, default=NGINX_CONF)
    parser.add_argument("--jobs-rate", help="per-client job rate instead of the deployed one, e.g. 120r/m")
    parser.add_argument("--results", type=Path, help="the results directory the model server writes (default: TMP/results)")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.conf.read_text(), args.upstream, args.listen, args.root, args.tmp, args.jobs_rate, args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
