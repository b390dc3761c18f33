"""`python -m stylize_client` against the real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from images_util import content_image, style_image
from PIL import Image

from tools.torchserve import TorchServe, free_port

pytestmark = pytest.mark.integration


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylize_client", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "content.jpg", tmp_path / "style.png"
    content_image(72, 48).save(content, quality=95)
    style_image(48).save(style)
    return content, style


def test_client_streams_snapshots_and_writes_the_result(torchserve: TorchServe, pictures: tuple[Path, Path], tmp_path: Path) -> None:
    out, snaps = tmp_path / "out.png", tmp_path / "snaps"
    r = client(*map(str, pictures), "--url", torchserve.url, "-o", str(out), "--snapshots-dir", str(snaps),
               "--size", "48", "--iterations", "9", "--snapshot-every", "3", "--no-multiscale")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (48, 32)
    assert sorted(p.name for p in snaps.iterdir()) == ["snapshot_00003.jpg", "snapshot_00006.jpg", "snapshot_00009.png"]
    assert "(weights vgg16/imagenet-keras)" in r.stdout and "RANDOM-INIT" not in r.stdout + r.stderr  # real VGG16 archive


def test_client_reports_a_400_in_one_line(torchserve: TorchServe, pictures: tuple[Path, Path], tmp_path: Path) -> None:
    r = client(*map(str, pictures), "--url", torchserve.url, "-o", str(tmp_path / "x.png"), "--size", "99999")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: HTTP 400: size: must be")


def test_client_reports_an_unreachable_server(pictures: tuple[Path, Path], tmp_path: Path) -> None:
    r = client(*map(str, pictures), "--url", f"http://127.0.0.1:{free_port()}", "-o", str(tmp_path / "x.png"))
    assert r.returncode == 3
    assert r.stderr.strip().startswith("error: cannot reach")
