"""Weights pipeline: .pth -> safetensors export with provenance, load back, auto/strict/random modes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors import safe_open
from stylize import weights
from stylize.vgg import conv_shapes


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the torch-hub path fail the way it does without internet, whatever machine runs the test."""
    def no_network(*_args: object, **_kwargs: object) -> dict:
        raise OSError("network unreachable (simulated)")
    monkeypatch.setattr(torchvision.models.VGG19_Weights.IMAGENET1K_V1.__class__, "get_state_dict", no_network)
    monkeypatch.delenv("VGG19_WEIGHTS", raising=False)


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
        assert set(f.keys()) == set(conv_shapes())
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


def test_auto_falls_back_to_seeded_random_with_a_warning(offline: None) -> None:
    with pytest.warns(UserWarning, match="Falling back to seeded random init"):
        state, info = weights.obtain("auto", seed=0)
    assert info.is_random and info.seed == 0
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
