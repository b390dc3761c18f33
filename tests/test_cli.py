"""The command line as a user runs it: a real subprocess of `python -m stylize`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from images_util import content_image, style_image
from PIL import Image


def stylize(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylize", *args], capture_output=True, text=True, timeout=300)


def test_cli_writes_result_and_snapshots_and_labels_random_weights(tmp_path: Path) -> None:
    content_image(64, 48).save(tmp_path / "content.png")
    style_image(64).save(tmp_path / "style.jpg")
    snaps = tmp_path / "snaps"
    out = tmp_path / "out.png"
    result = stylize(str(tmp_path / "content.png"), str(tmp_path / "style.jpg"), "-o", str(out), "--size", "48",
                     "--iterations", "8", "--snapshots-dir", str(snaps), "--snapshot-every", "2", "--weights-mode", "random")
    assert result.returncode == 0, result.stderr
    assert "RANDOM-INIT" in result.stderr and "random-init" in result.stdout.lower()
    assert Image.open(out).size == (48, 36)
    assert sorted(p.name for p in snaps.iterdir()) == [f"snapshot_{i:05d}.png" for i in (2, 4, 6, 8)]


def test_cli_text_file_as_content_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    style_image(32).save(tmp_path / "style.png")
    result = stylize(str(tmp_path / "notes.txt"), str(tmp_path / "style.png"), "-o", str(tmp_path / "o.png"), "--weights-mode", "random")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: content: is not a supported image (PNG, JPEG, WebP, GIF, BMP or TIFF)"]
    assert not (tmp_path / "o.png").exists()


def test_cli_bad_parameter_names_the_field(tmp_path: Path) -> None:
    content_image(32, 32).save(tmp_path / "c.png")
    result = stylize(str(tmp_path / "c.png"), str(tmp_path / "c.png"), "-o", str(tmp_path / "o.png"), "--size", "nan")
    assert result.returncode == 2 and result.stderr.strip() == "error: size: must be finite"


def test_cli_strict_weights_fail_clearly(tmp_path: Path) -> None:
    content_image(32, 32).save(tmp_path / "c.png")
    result = stylize(str(tmp_path / "c.png"), str(tmp_path / "c.png"), "-o", str(tmp_path / "o.png"), "--weights-mode", "strict",
                     "--weights", str(tmp_path / "missing.safetensors"))
    assert result.returncode == 2 and result.stderr.startswith("error: cannot read weights file")
