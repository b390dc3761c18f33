"""precision = auto | fp32 | bf16: what auto resolves to, the non-finite fallback, determinism per mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from images_util import content_image, style_image
from serving import memory
from stylize import Engine, StyleParams, precision, weights
from stylize.errors import FieldError

# Cross-mode bound at 96 px after 3 L-BFGS iterations (random-init VGG19, CPU): measured mean
# |fp32 - bf16| 0.0006, max 0.006; a 1e-3 noise on the content image moves an fp32 run 5x more
# (0.0031 / 0.025). Later iterations diverge as much from that noise as from bf16 (docs/benchmarks.md, "bfloat16").
CROSS_MEAN, CROSS_MAX = 0.002, 0.02
# Neighbour's search runs in the network's arithmetic: bf16 reorders near-ties, so a few cells take another (as
# near) style feature and the pictures part further: 0.0092 mean, 0.083 most at 96 px x 3 iterations.
NEIGHBOUR_CROSS_MEAN, NEIGHBOUR_CROSS_MAX = 0.03, 0.25


def fake_flags(*names: str):
    return lambda: frozenset(("fpu", "sse2", "avx2", *names))


@pytest.mark.parametrize(("flags", "mode"), [(("avx512_bf16",), "bf16"), (("amx_bf16", "amx_tile"), "bf16"),
                                             (("avx512f", "avx512_vnni"), "fp32"), ((), "fp32")])
def test_auto_on_cpu_follows_the_bf16_flags(flags: tuple[str, ...], mode: str) -> None:
    got = precision.resolve_auto(torch.device("cpu"), flags=fake_flags(*flags))
    assert got.mode == mode
    assert ("avx512_bf16" in got.reason or "amx_bf16" in got.reason)
    if mode == "fp32":
        assert "neither" in got.reason


@pytest.mark.parametrize(("native", "mode"), [(True, "bf16"), (False, "fp32")])
def test_auto_on_cuda_follows_the_device_capability(native: bool, mode: str) -> None:
    seen: list[torch.device] = []

    def capability(device: torch.device) -> bool:
        seen.append(device)
        return native

    got = precision.resolve_auto(torch.device("cuda", 1), flags=fake_flags("avx512_bf16"), cuda_bf16=capability)
    assert got.mode == mode and seen == [torch.device("cuda", 1)]  # CPU flags do not matter for a GPU
    assert "compute capability" in got.reason


def test_auto_elsewhere_is_fp32() -> None:
    assert precision.resolve_auto(torch.device("meta"), flags=fake_flags("avx512_bf16")).mode == "fp32"


def test_cpu_flags_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert precision.cpu_flags(info) == {"fpu", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "absent") == frozenset()


def test_explicit_settings_win_over_auto() -> None:
    auto = precision.Resolution("bf16", "test")
    assert [precision.resolve(s, auto) for s in ("auto", "fp32", "bf16")] == ["bf16", "fp32", "bf16"]


def test_param_validation() -> None:
    assert StyleParams().precision == "auto"
    assert StyleParams.from_mapping({"precision": " BF16 "}).precision == "bf16"
    with pytest.raises(FieldError) as err:
        StyleParams.from_mapping({"precision": "fp16"})
    assert err.value.field == "precision" and "auto, fp32, bf16" in str(err.value)
    assert StyleParams.schema()["precision"]["choices"] == ["auto", "fp32", "bf16"]


def test_memory_model_follows_precision() -> None:
    def est(mode: str) -> int:
        return memory.estimate_bytes(StyleParams(size=1024, precision=mode), (1024, 768), [(1024, 1024)])

    assert est("bf16") < est("fp32") - 700 * memory.MIB  # ~1000 B/pixel less at 1024x768
    assert est("auto") == est("fp32")  # unresolved: the larger


@pytest.fixture(scope="module")
def model() -> tuple[dict[str, torch.Tensor], weights.WeightsInfo]:
    return weights.obtain("random", seed=0)


def run(engine: Engine, **overrides: object):
    params = StyleParams(**{"size": 48, "iterations": 4, "snapshot_every": 0, "multiscale": False, "seed": 1, **overrides})
    return list(engine.run(engine.job(content_image(64, 48), [style_image(64)], params)))[-1]


def test_non_finite_first_step_falls_back_to_fp32(model: tuple[dict[str, torch.Tensor], weights.WeightsInfo]) -> None:
    """An overflow injected into bf16 activations only: auto redoes the job in fp32, pixel for pixel; the
    worker's auto stays bf16 (one job's bad step says nothing of the next job's pictures)."""
    engine = Engine(*model, "cpu", auto=precision.Resolution("bf16", "test CPU"))
    reference = run(engine, precision="fp32")

    def overflow(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        return output * float("inf") if output.dtype == torch.bfloat16 else output

    hook = engine.convs_for("bf16")[0].register_forward_hook(overflow)
    try:
        explicit = run(engine, precision="bf16")  # asked for: kept, however bad
        assert explicit.precision == "bf16" and engine.auto.mode == "bf16"
        fallen = run(engine)  # auto
    finally:
        hook.remove()
    assert fallen.precision == "fp32" and fallen.iteration == 4
    assert torch.isfinite(fallen.image).all() and torch.equal(fallen.image, reference.image)
    assert all(torch.isfinite(torch.tensor(v)) for v in fallen.losses.values())
    assert engine.auto.mode == "bf16"  # per job: the worker's setting is not changed
    assert run(engine).precision == "bf16"  # the next auto job, without the overflow, runs in bf16


@pytest.mark.parametrize("style_loss", ["gram", "neighbour"])
def test_same_seed_same_pixels_per_mode_and_close_across_modes(model: tuple[dict[str, torch.Tensor], weights.WeightsInfo],
                                                               style_loss: str) -> None:
    engine = Engine(*model, "cpu")
    finals = {}
    for mode in ("fp32", "bf16"):
        first, again = (run(engine, precision=mode, size=96, iterations=3, style_loss=style_loss) for _ in range(2))
        assert first.precision == mode and torch.equal(first.image, again.image)
        finals[mode] = first.image
    diff = (finals["fp32"] - finals["bf16"]).abs()
    most_mean, most = (CROSS_MEAN, CROSS_MAX) if style_loss == "gram" else (NEIGHBOUR_CROSS_MEAN, NEIGHBOUR_CROSS_MAX)
    assert 0 < float(diff.mean()) < most_mean and float(diff.max()) < most, (float(diff.mean()), float(diff.max()))


def test_bf16_features_give_fp32_statistics_and_a_bf16_gradient() -> None:
    """The Gram product is formed in fp32 from bf16 features (exactly what an fp32 copy gives); its
    backward runs in bf16, the dtype the VGG backward takes it in, and stays close to the fp32 one."""
    from stylize.methods.second_moment import second_moment

    gen = torch.Generator().manual_seed(0)
    for c, side in ((8, 24), (64, 16)):
        f32 = torch.randn((1, c, side, side), generator=gen).bfloat16().float().contiguous(memory_format=torch.channels_last)
        bf = f32.bfloat16().requires_grad_(True)
        up = f32.clone().requires_grad_(True)
        g_bf, g_up = second_moment(bf), second_moment(up)
        assert g_bf.dtype == torch.float32 and torch.equal(g_bf, g_up.detach())
        weight = torch.randn((1, c, c), generator=gen)
        (g_bf * weight).sum().backward()
        (g_up * weight).sum().backward()
        assert bf.grad is not None and up.grad is not None and bf.grad.dtype == torch.bfloat16
        assert bf.grad.is_contiguous(memory_format=torch.channels_last)  # no reorder before the conv backward
        rel = float((bf.grad.float() - up.grad).norm() / up.grad.norm())
        assert 0 < rel < 1e-2, rel


def test_bf16_runs_on_one_bf16_copy_of_the_weights(model: tuple[dict[str, torch.Tensor], weights.WeightsInfo]) -> None:
    engine = Engine(*model, "cpu", auto=precision.Resolution("bf16", "test CPU"))
    low = engine.convs_for("bf16")
    assert engine.convs_for("bf16") is low and engine.convs_for("fp32") is engine.convs  # made once, at start
    for conv, original in zip(low, engine.convs, strict=True):
        assert conv.weight.dtype == torch.bfloat16 and conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(conv.weight, original.weight.bfloat16()) and not conv.weight.requires_grad
    assert low.network == engine.convs.network and low.mean == engine.convs.mean
    fp32_only = Engine(*model, "cpu", auto=precision.Resolution("fp32", "test CPU"))
    assert fp32_only._bf16_convs is None  # no copy where nothing asks for bf16


def test_precision_pair_tool_writes_the_pair_and_the_psnr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tools import precision_pair

    images_dir = tmp_path / "images"
    images_dir.mkdir()
    content_image(40, 32).save(images_dir / "c.png")
    style_image(32).save(images_dir / "s.png")
    out = tmp_path / "pair.png"
    assert precision_pair.main(["--images", str(images_dir), "--content", "c.png", "--style", "s.png", "--size", "32",
                                "--iterations", "3", "--weights", "random", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fp32: " in printed and "bf16: " in printed and "PSNR between the two pictures: " in printed
    from PIL import Image

    assert Image.open(out).size == (2 * 32 + 10, 26 + precision_pair.LABEL_H)
