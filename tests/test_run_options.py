"""Two run options on tiny images with seeded random-init weights (CPU): the image optimised as a Laplacian
pyramid (image_param=pyramid) and the result's colours moved to the paintings' palette (colour_match)."""

from __future__ import annotations

import pytest
import torch
from images_util import content_image, style_image
from PIL import Image, ImageDraw
from serving import memory
from stylize import Engine, FieldError, StyleParams, colour, images, planning, weights
from stylize.pyramid import Pyramid

FAST = {"size": 48, "iterations": 8, "snapshot_every": 0, "multiscale": False}


@pytest.fixture(scope="module")
def eng() -> Engine:
    state, info = weights.obtain("random", seed=0)
    return Engine(state, info, "cpu")


def run(eng: Engine, styles: list | None = None, masks: list | None = None, **overrides: object) -> list:
    params = StyleParams(**{**FAST, **overrides})
    return list(eng.run(eng.job(content_image(64, 48), styles or [style_image(64)], params, masks=masks)))


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_pyramid_run_lowers_its_loss_and_stays_in_range(eng: Engine, optimizer: str) -> None:
    snaps = run(eng, image_param="pyramid", optimizer=optimizer, snapshot_every=1, init="noise", learning_rate=0.1)
    totals = [s.losses["total"] for s in snaps]
    assert totals[-1] < 0.9 * totals[0], totals
    final = snaps[-1].image
    assert final.shape == (3, 36, 48) and float(final.min()) >= 0 and float(final.max()) <= 1


def test_the_pyramid_is_what_the_optimiser_updates_with_adam_s_step_shared_by_levels(eng: Engine) -> None:
    job = eng.job(content_image(64, 48), [style_image(64)], StyleParams(**{**FAST, "image_param": "pyramid", "optimizer": "adam",
                                                                             "pyramid_levels": 4, "learning_rate": 0.02}))
    started = eng.start(job)
    started.step(budget_s=0)  # one iteration
    stage = started._stage
    assert isinstance(stage.canvas, Pyramid) and len(stage.canvas.parameters()) == 4
    assert [g["lr"] for g in stage.optimizer.param_groups] == [pytest.approx(0.005)]
    assert len(stage.optimizer.param_groups[0]["params"]) == 4
    started.close()


def test_pixels_and_pyramid_differ_and_pyramid_runs_are_seeded(eng: Engine) -> None:
    pixels = run(eng, optimizer="adam", init="noise")[-1].image
    pyramid = [run(eng, optimizer="adam", init="noise", image_param="pyramid")[-1].image for _ in range(2)]
    assert torch.equal(pyramid[0], pyramid[1])
    assert float((pixels - pyramid[0]).abs().mean()) > 1e-3


def test_pyramid_follows_multiscale_stages_with_the_warm_schedule(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "BASE_SIZE", 16)
    snaps = run(eng, image_param="pyramid", optimizer="adam", schedule="warm", average="ema", multiscale=True, size=32,
                iterations=6, snapshot_every=1)
    assert len({s.stage for s in snaps}) > 1 and snaps[-1].size == (32, 24)
    assert all(torch.isfinite(s.image).all() for s in snaps)


def ab_mean(image: torch.Tensor) -> torch.Tensor:
    return colour.colour_stats(image.unsqueeze(0) if image.dim() == 3 else image).mean


def test_colour_match_moves_the_result_to_the_painting_s_palette(eng: Engine) -> None:
    painting = style_image(64, colors=((240, 60, 20), (250, 180, 30)))  # warm stripes on dark blue
    target = colour.palette([images.to_tensor(painting)])
    plain = run(eng, [painting], colour_match="none", snapshot_every=4)
    matched = run(eng, [painting], colour_match="ab", snapshot_every=4)
    assert all(s.image.shape == p.image.shape for s, p in zip(matched, plain, strict=True))
    far = float((ab_mean(plain[-1].image) - target.mean).norm())
    near = float((ab_mean(matched[-1].image) - target.mean).norm())
    assert near < 0.02 < far, (near, far)
    assert float((ab_mean(matched[0].image) - target.mean).norm()) < 0.02  # snapshots too, not only the final image
    # ab keeps the result's lightness
    lightness = [colour.rgb_to_oklab(s.image.unsqueeze(0))[0, 0].mean() for s in (plain[-1], matched[-1])]
    assert abs(float(lightness[0] - lightness[1])) < 0.05


def test_colour_match_lab_and_ot_run(eng: Engine) -> None:
    for channels, transform in (("lab", "zca"), ("ab", "ot")):
        final = run(eng, colour_match=channels, colour_transform=transform)[-1].image
        assert torch.isfinite(final).all() and float(final.max()) <= 1


def test_colour_match_takes_each_region_s_palette(eng: Engine) -> None:
    red, blue = Image.new("RGB", (32, 32), (230, 30, 30)), Image.new("RGB", (32, 32), (30, 40, 230))
    ImageDraw.Draw(red).rectangle([4, 4, 12, 12], fill=(250, 120, 100))
    ImageDraw.Draw(blue).rectangle([4, 4, 12, 12], fill=(120, 160, 255))
    left = Image.new("L", (64, 48), 0)
    ImageDraw.Draw(left).rectangle([0, 0, 31, 48], fill=255)
    right = Image.eval(left, lambda v: 255 - v)
    final = run(eng, [red, blue], masks=[left, right], colour_match="ab", iterations=3)[-1].image
    lab = colour.rgb_to_oklab(final.unsqueeze(0))[0]
    assert float(lab[1, :, :20].mean()) > float(lab[1, :, -20:].mean()) + 0.05  # a: redder on the left
    assert float(lab[2, :, -20:].mean()) < float(lab[2, :, :20].mean()) - 0.05  # b: bluer on the right


def test_refusals_name_the_field() -> None:
    with pytest.raises(FieldError, match="^colour_match: .*preserve_colors"):
        StyleParams(colour_match="ab", preserve_colors=True).validated(n_styles=1)
    for name, value in (("image_param", "wavelets"), ("pyramid_levels", 1), ("colour_match", "rgb"), ("colour_transform", "pca")):
        with pytest.raises(FieldError, match=f"^{name}: "):
            StyleParams(**{name: value}).validated(n_styles=1)
    assert StyleParams.parse({"image_param": "PYRAMID", "colour_match": "ab"}).image_param == "pyramid"


def test_the_memory_model_counts_the_pyramid() -> None:
    pixels, pyramid = (memory.estimate_bytes(StyleParams(image_param=p, optimizer="adam"), (512, 384), [(512, 512)])
                       for p in ("pixels", "pyramid"))
    assert pyramid > pixels
