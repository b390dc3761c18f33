"""The optimisation loop on tiny images with seeded random-init VGG19 weights (CPU)."""

from __future__ import annotations

import itertools

import pytest
import torch
from images_util import content_image, style_image
from stylize import Engine, Snapshot, StyleParams, backbones, images, planning, precision, weights
from stylize.methods.statistics import gram
from stylize.vgg import FeatureNet, build_convs

FAST = {"size": 48, "iterations": 8, "snapshot_every": 0, "multiscale": False}


@pytest.fixture(scope="module", params=["fp32", "bf16"])
def eng(request: pytest.FixtureRequest) -> Engine:
    """Every test below runs in both precisions: precision=auto (the default) resolves to the param."""
    state, info = weights.obtain("random", seed=0)
    return Engine(state, info, "cpu", auto=precision.Resolution(request.param, "test"))


def run(eng: Engine, styles: list | None = None, content=None, cancel=None, **overrides: object) -> list[Snapshot]:
    params = StyleParams(**{**FAST, **overrides})
    job = eng.job(content or content_image(64, 48), styles or [style_image(64)], params)
    return list(eng.run(job, should_cancel=cancel))


def test_losses_decrease(eng: Engine, method: dict[str, str]) -> None:
    snaps = run(eng, **method, iterations=20, snapshot_every=1)
    totals = [s.losses["total"] for s in snaps]
    assert totals[-1] < 0.6 * totals[0]
    assert snaps[-1].losses["style"] < snaps[0].losses["style"]
    assert set(snaps[0].losses) == {"content", "style", "tv", "total"}


def test_adam_decreases_too(eng: Engine, method: dict[str, str]) -> None:
    snaps = run(eng, **method, optimizer="adam", learning_rate=0.05, iterations=12, snapshot_every=1)
    assert snaps[-1].losses["total"] < snaps[0].losses["total"]


def test_snapshot_cadence_and_final_flag(eng: Engine) -> None:
    snaps = run(eng, iterations=10, snapshot_every=3)
    assert [s.iteration for s in snaps] == [3, 6, 9, 10]
    assert [s.final for s in snaps] == [False, False, False, True]
    assert snaps[-1].stopped == "completed" and all(s.stopped is None for s in snaps[:-1])
    assert all(s.iterations == 10 and s.weights == "vgg19/random-init" for s in snaps)
    assert [s.elapsed_s for s in snaps] == sorted(s.elapsed_s for s in snaps)
    only_final = run(eng, iterations=4, snapshot_every=0)
    assert len(only_final) == 1 and only_final[0].final


def test_steps_bound_each_slice_and_change_nothing(eng: Engine, method: dict[str, str]) -> None:
    """A step with no time left runs exactly one iteration; however a run is sliced, its snapshots and
    pixels are the same as one whole run's."""
    params = StyleParams(**{**FAST, "iterations": 6, "snapshot_every": 3, **method})
    job = eng.job(content_image(64, 48), [style_image(64)], params)
    sliced = eng.start(job)
    per_step = []
    while not sliced.finished:
        made = sliced.step(0.0)
        per_step.append((sliced.iteration, [s.iteration for s in made]))
    assert per_step == [(1, []), (2, []), (3, [3]), (4, []), (5, []), (6, [6])]
    whole = eng.start(job).step(None)
    assert [s.iteration for s in whole] == [3, 6] and whole[-1].final
    sliced_again = eng.start(job)
    records = [snap for _ in range(6) for snap in sliced_again.step(0.0)]
    assert torch.equal(records[-1].image, whole[-1].image)
    assert sliced_again.step(0.0) == []  # a finished run does nothing more
    # A long budget still ends at the first snapshot, so the server can send it at once.
    generous = eng.start(job)
    assert [(s.iteration, s.final) for s in generous.step(3600.0)] == [(3, False)] and generous.iteration == 3


def test_a_job_is_validated_once_and_only_by_make_job(eng: Engine) -> None:
    from stylize import Job
    job = eng.job(content_image(64, 48), [style_image(64)], StyleParams(**FAST))
    with pytest.raises(TypeError, match="make_job"):
        Job(job.content, job.styles, job.params, job.regions, job.backbone)
    other = Engine(*weights.obtain("random", seed=0, network="vgg16"), "cpu")
    with pytest.raises(TypeError, match="vgg16"):
        other.start(job)  # a job checked against VGG19's layers does not run on VGG16


def test_snapshots_do_not_share_the_live_image(eng: Engine) -> None:
    """Consumers encode snapshots while the optimiser runs on: each must be frozen at its iteration."""
    snaps = run(eng, iterations=6, snapshot_every=2, init="noise")
    assert all(not torch.equal(a.image, b.image) for a, b in itertools.pairwise(snaps[:-1]))
    pointers = {s.image.untyped_storage().data_ptr() for s in snaps}
    assert len(pointers) == len(snaps)


@pytest.mark.parametrize("shape", [(1, 8, 5, 7), (2, 8, 5, 7)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_gram_matches_plain_matmul_with_gradients(shape: tuple[int, ...], channels_last: bool) -> None:
    """The hand-written Gram (oneDNN path for batch 1 on CPU, bmm otherwise) against autograd's reference."""
    torch.manual_seed(0)
    f = torch.randn(shape)
    if channels_last:
        f = f.contiguous(memory_format=torch.channels_last)
    ours, ref = f.clone().requires_grad_(True), f.double().requires_grad_(True)  # reference in float64
    weight = torch.randn(shape[0], shape[1], shape[1])
    g = gram(ours)
    flat = ref.reshape(shape[0], shape[1], -1)
    g_ref = flat @ flat.transpose(1, 2) / flat.shape[-1]
    torch.testing.assert_close(g.double(), g_ref, rtol=1e-5, atol=1e-5)
    (g * weight).sum().backward()
    (g_ref * weight.double()).sum().backward()
    assert ours.grad is not None and ours.grad.shape == f.shape
    torch.testing.assert_close(ours.grad.double(), ref.grad, rtol=1e-5, atol=1e-5)


def test_output_keeps_content_aspect_ratio(eng: Engine) -> None:
    final = run(eng, content=content_image(80, 40), size=48, iterations=2)[-1]
    assert final.size == (48, 24)
    assert tuple(final.image.shape) == (3, 24, 48)
    assert float(final.image.min()) >= 0.0 and float(final.image.max()) <= 1.0


def test_preserve_colors_keeps_content_chroma(eng: Engine, method: dict[str, str]) -> None:
    content = content_image(64, 48)
    reference = images.rgb_to_ycbcr(images.resize(images.to_tensor(content), (48, 36)))[0, 1:]
    kept = run(eng, **method, content=content, preserve_colors=True, iterations=10)[-1]
    free = run(eng, **method, content=content, preserve_colors=False, iterations=10)[-1]
    kept_err = (images.rgb_to_ycbcr(kept.image)[1:] - reference).abs().mean()
    free_err = (images.rgb_to_ycbcr(free.image)[1:] - reference).abs().mean()
    assert kept_err < 0.02 < free_err


def test_blend_changes_result_and_is_normalised(eng: Engine, method: dict[str, str]) -> None:
    warm = style_image(64, ((250, 60, 20), (250, 200, 0)))
    cold = style_image(64, ((20, 60, 250), (0, 220, 200)))
    a = run(eng, **method, styles=[warm, cold], style_blend=(1.0, 0.0))[-1].image
    b = run(eng, **method, styles=[warm, cold], style_blend=(0.0, 1.0))[-1].image
    a_scaled = run(eng, **method, styles=[warm, cold], style_blend=(5.0, 0.0))[-1].image
    even = run(eng, **method, styles=[warm, cold])[-1].image
    assert (a - b).abs().mean() > 0.01
    assert (even - a).abs().mean() > 0.001 and (even - b).abs().mean() > 0.001
    assert torch.allclose(a, a_scaled, atol=1e-5)


def test_same_seed_same_pixels(eng: Engine, method: dict[str, str]) -> None:
    first = run(eng, **method, init="noise", seed=3, iterations=4)[-1].image
    again = run(eng, **method, init="noise", seed=3, iterations=4)[-1].image
    other = run(eng, **method, init="noise", seed=4, iterations=4)[-1].image
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_init_style_and_avg_pooling_run(eng: Engine) -> None:
    final = run(eng, init="style", pooling="avg", iterations=3, style_loss="gram", style_layers=("relu1_1", "relu2_1"),
                content_layers=("conv4_2",))[-1]
    assert final.final and final.size == (48, 36)


def test_truncation_stops_at_the_deepest_needed_layer() -> None:
    convs = build_convs(weights.random_state(0))
    vgg19 = backbones.get("vgg19")

    def position(name: str) -> int:
        return vgg19.layer(name).position

    net = FeatureNet(convs, ("relu3_1", "relu1_1"), "max")
    assert net.names[-1] == "relu3_1" and len(net.layers) == position("relu3_1") + 1
    out = net(torch.rand(1, 3, 32, 32))
    assert set(out) == {"relu1_1", "relu3_1"} and out["relu3_1"].shape == (1, 256, 8, 8)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.layers[position("relu1_1")].inplace is False  # read by a loss
    assert net.layers[position("relu1_2")].inplace is True  # not read: in-place saves memory
    deep = FeatureNet(convs, ("conv4_2",), "avg")
    assert deep.names[-1] == "conv4_2"
    relu_after_read = deep.layers[position("relu4_2")] if len(deep.layers) > position("relu4_2") else None
    assert relu_after_read is None  # nothing past the read layer is built
    both = FeatureNet(convs, ("conv4_2", "relu4_2"), "max")
    assert both.layers[position("relu4_2")].inplace is False  # would otherwise overwrite conv4_2
    assert isinstance(deep.layers[position("pool1")], torch.nn.AvgPool2d)


def test_stage_sizes_and_iteration_split() -> None:
    assert planning.stage_sizes(512, True) == [128, 181, 256, 362, 512]
    assert planning.stage_sizes(512, False) == [512]
    assert planning.stage_sizes(160, True) == [160]
    assert planning.split_iterations(10, 3) == [4, 3, 3]
    assert planning.split_iterations(2, 5) == [1, 1]


def test_multiscale_reaches_the_requested_size(eng: Engine, monkeypatch: pytest.MonkeyPatch, method: dict[str, str]) -> None:
    monkeypatch.setattr(planning, "BASE_SIZE", 16)
    snaps = run(eng, **method, multiscale=True, iterations=8, snapshot_every=2)
    assert snaps[-1].size == (48, 36) and snaps[-1].stages == 4
    widths = [s.size[0] for s in snaps[:-1]]
    assert widths == sorted(widths) and widths[0] == 16
    assert [s.stage for s in snaps] == [1, 2, 3, 4]


def test_time_budget_stops_early_with_full_size_result(eng: Engine, monkeypatch: pytest.MonkeyPatch, method: dict[str, str]) -> None:
    monkeypatch.setattr(planning, "BASE_SIZE", 16)
    snaps = run(eng, **method, multiscale=True, iterations=10000, time_budget_s=3.0)  # room for stage set-up on a loaded CPU
    final = snaps[-1]
    assert final.final and final.stopped == "time_budget"
    assert 0 < final.iteration < 10000
    assert final.size == (48, 36)


def test_cancellation_is_checked_every_iteration(eng: Engine, method: dict[str, str]) -> None:
    calls = itertools.count()
    snaps = run(eng, **method, iterations=50, snapshot_every=1, cancel=lambda: next(calls) >= 3)
    assert snaps[-1].stopped == "cancelled" and snaps[-1].iteration == 3
    assert [s.iteration for s in snaps] == [1, 2, 3, 3]


def test_wrong_style_count_is_refused(eng: Engine) -> None:
    from stylize import FieldError
    with pytest.raises(FieldError, match="^style_blend: needs 2 values"):
        run(eng, styles=[style_image(), style_image()], style_blend=(1.0, 2.0, 3.0))
