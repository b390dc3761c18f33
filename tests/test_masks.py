"""Region masks (spatially guided Gram matrices): mask propagation, the engine's behaviour per
region, and the mask fields of a request. Seeded random-init VGG19 weights, tiny images, CPU."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import torch
from images_util import content_image, to_bytes
from PIL import Image, ImageDraw
from serving.request import Limits, parse
from stylize import Engine, FieldError, StyleParams, backbones, images, masks, planning, weights
from stylize.__main__ import main as cli
from stylize.methods import StageContext, get
from stylize.objective import Objective
from stylize.vgg import FeatureNet

W, H = 64, 32  # wide enough that an uncovered middle band is not inside every deep feature's reach
LEFT, RIGHT = W // 4, W * 3 // 4  # style A on x < LEFT, style B on x >= RIGHT, nothing in between
FAST = {"size": W, "iterations": 10, "snapshot_every": 0, "multiscale": False}
VGG19 = backbones.get("vgg19")


@pytest.fixture(scope="module")
def eng(weights_file: Path) -> Engine:
    state, info = weights.load(weights_file)  # the session's seeded random-init export, made once
    return Engine(state, info, "cpu")


def red_stripes(size: int = 32) -> Image.Image:
    img = Image.new("RGB", (size, size), (230, 30, 30))
    draw = ImageDraw.Draw(img)
    for x in range(0, size, 6):
        draw.rectangle([x, 0, x + 2, size], fill=(250, 120, 110))
    return img


def blue_dots(size: int = 32) -> Image.Image:
    img = Image.new("RGB", (size, size), (30, 40, 220))
    draw = ImageDraw.Draw(img)
    for x in range(2, size, 8):
        for y in range(2, size, 8):
            draw.ellipse([x, y, x + 3, y + 3], fill=(120, 160, 255))
    return img


def band(x0: int, x1: int, size: tuple[int, int] = (W, H), value: int = 255) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle([x0, 0, x1 - 1, size[1]], fill=value)
    return mask


def mean_rgb(img: Image.Image | torch.Tensor) -> torch.Tensor:
    t = images.to_tensor(img)[0] if isinstance(img, Image.Image) else img
    return t.mean(dim=(1, 2))


def final(eng: Engine, content: Image.Image, styles: list[Image.Image], **kw: object) -> torch.Tensor:
    run_kw = {k: kw.pop(k) for k in ("masks", "style_masks") if k in kw}
    return list(eng.run(eng.job(content, styles, StyleParams(**{**FAST, **kw}), **run_kw)))[-1].image  # type: ignore[arg-type]


# -- masks through the layers ---------------------------------------------------------------------

def test_layer_masks_match_feature_shapes_for_odd_sizes(eng: Engine) -> None:
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
    net = FeatureNet(eng.convs, layers)
    for w, h in ((37, 29), (64, 33), (17, 16)):
        feats = net(torch.rand(1, 3, h, w))
        guides = masks.layer_masks(torch.rand(1, 1, h, w), layers, VGG19)
        assert {k: tuple(g.shape[-2:]) for k, g in guides.items()} == {k: tuple(f.shape[-2:]) for k, f in feats.items()}


def test_no_region_of_reasonable_size_vanishes_at_relu5_1() -> None:
    """A 12x12 region anywhere in 64x64 keeps its whole mass in relu5_1's 4x4 grid (16 px cells)."""
    for x in range(0, 64 - 12, 5):
        for y in range(0, 64 - 12, 7):
            mask = torch.zeros(1, 1, 64, 64)
            mask[..., y:y + 12, x:x + 12] = 1
            deep = masks.layer_masks(mask, ["relu5_1"], VGG19)["relu5_1"]
            assert deep.shape[-2:] == (4, 4)
            assert float(deep.max()) > 0
            torch.testing.assert_close(deep.sum() * 16 * 16, torch.tensor(144.0))


@pytest.mark.parametrize("edge", [13, 16, 21, 40])
def test_a_sharp_edge_bleeds_at_most_into_the_cell_it_cuts(edge: int) -> None:
    """At each layer, a cell entirely left of the edge is 1, entirely right is exactly 0."""
    mask = torch.zeros(1, 1, 48, 64)
    mask[..., :edge] = 1
    for layer in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"):
        cell = 2 ** VGG19.layer(layer).depth
        guide = masks.layer_masks(mask, [layer], VGG19)[layer][0, 0]
        for col in range(guide.shape[1]):
            x0, x1 = col * cell, (col + 1) * cell
            if x1 <= edge:
                assert torch.all(guide[:, col] == 1), (layer, col)
            elif x0 >= edge:
                assert torch.all(guide[:, col] == 0), (layer, col)
        fractional = [c for c in range(guide.shape[1]) if 0 < float(guide[0, c]) < 1]
        assert len(fractional) <= 1


def test_overlapping_masks_share_coverage_by_blend() -> None:
    left, right, white = torch.zeros(1, 1, 4, 8), torch.zeros(1, 1, 4, 8), torch.ones(1, 1, 4, 8)
    left[..., :4], right[..., 4:] = 1, 1
    a, b = masks.share_coverage([left, right], [0.9, 0.1])
    assert torch.equal(a, left) and torch.equal(b, right)  # disjoint: each style at full strength
    a, b = masks.share_coverage([white, white], [0.75, 0.25])
    torch.testing.assert_close(a, white * 0.75)
    torch.testing.assert_close(b, white * 0.25)  # all white: exactly the global blend's weights
    a, b = masks.share_coverage([white * 0.5, left], [0.5, 0.5])
    torch.testing.assert_close((a + b)[..., :4], white[..., :4])  # coverage = the strongest mask
    torch.testing.assert_close(a[..., 4:], white[..., 4:] * 0.5)
    assert float(b[..., 4:].abs().max()) == 0


def test_mask_inputs_any_mode_alpha_is_coverage() -> None:
    painted = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    ImageDraw.Draw(painted).rectangle([0, 0, 3, 3], fill=(255, 255, 255, 255))
    t = masks.to_mask(painted)
    assert t.shape == (1, 1, 4, 8) and float(t[..., :4].min()) == 1 and float(t[..., 4:].max()) == 0
    assert float(masks.to_mask(Image.new("I;16", (4, 4), 65535)).min()) == 1
    assert torch.equal(masks.to_mask(torch.full((4, 4), 255, dtype=torch.uint8)), torch.ones(1, 1, 4, 4))


def test_regions_validation() -> None:
    white, black = Image.new("L", (8, 8), 255), Image.new("L", (8, 8), 0)
    assert masks.regions(None, None, 2) is None
    assert masks.regions([white, None], [white], 2) is None  # all white: the global blend itself
    assert masks.regions([black, white], None, 2) is not None  # style 1 unused, style 2 everywhere
    for kw, field_name in (({"masks": [black, black]}, "mask"), ({"masks": [white, white, white]}, "mask_3"),
                           ({"style_masks": [None, black]}, "style_mask_2")):
        with pytest.raises(FieldError) as info:
            masks.regions(kw.get("masks"), kw.get("style_masks"), 2)
        assert info.value.field == field_name


# -- the engine -----------------------------------------------------------------------------------

def test_each_style_lands_in_its_region_and_the_rest_stays_content(eng: Engine, method: dict[str, str]) -> None:
    content = content_image(W, H)
    styles = [red_stripes(), blue_dots()]
    red, blue = mean_rgb(styles[0]), mean_rgb(styles[1])
    original = images.to_tensor(content)[0]
    mid = slice(LEFT + W // 8, RIGHT - W // 8)  # the uncovered band, a receptive step away from both regions

    def middle_change(img: torch.Tensor) -> tuple[float, float]:
        """Mean absolute pixel change and change of mean colour in the middle band."""
        pixels = float((img[..., mid] - original[..., mid]).abs().mean())
        colour = float((mean_rgb(img[..., mid]) - mean_rgb(original[..., mid])).norm())
        return pixels, colour

    # neighbour at its default pull (10 x a plain cosine) changed the band by 0.19: at 64 px relu4's receptive
    # field spans the picture, so the regions' deep features reach it. What is tested is the routing (each cell
    # matched against its own style's keys only), which the weight does not change.
    kw = {**method, "style_weight": 1.0} if method.get("style_loss") == "neighbour" else method
    masked = final(eng, content, styles, masks=[band(0, LEFT), band(RIGHT, W)], **kw)
    left, right = mean_rgb(masked[..., :LEFT]), mean_rgb(masked[..., RIGHT:])
    assert (left - red).norm() < 0.6 * (left - blue).norm()
    assert (right - blue).norm() < 0.6 * (right - red).norm()
    pixels, colour = middle_change(masked)
    assert pixels < 0.12 and colour < 0.05, (pixels, colour)

    # The global blend puts both styles everywhere: the same measure fails on it.
    blended = final(eng, content, styles, **kw)
    pixels, colour = middle_change(blended)
    assert pixels > 0.12 and colour > 0.05, (pixels, colour)


def test_white_masks_reproduce_the_unmasked_pixels(eng: Engine, method: dict[str, str]) -> None:
    content, styles = content_image(W, H), [red_stripes(), blue_dots()]
    kw = {"iterations": 3, "size": 32}
    plain = final(eng, content, styles, **kw, **method)
    white = final(eng, content, styles, masks=[band(0, W), Image.new("L", (5, 7), 255)],
                  style_masks=[Image.new("L", (32, 32), 255), None], **kw, **method)
    assert torch.equal(plain, white)


@pytest.mark.parametrize("style_loss", ["gram", "w2"])
def test_guided_loss_with_white_masks_equals_the_plain_loss(eng: Engine, style_loss: str) -> None:
    """Beyond the shortcut: the guided objective itself reduces to the plain one on full coverage."""
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    net = FeatureNet(eng.convs, ("relu4_2", *layers))
    content = images.to_tensor(content_image(48, 32))
    style = images.to_tensor(red_stripes())

    def objective(coverage: list[torch.Tensor] | None, own: list[torch.Tensor | None]) -> Objective:
        stage = StageContext(params=StyleParams(), backbone=VGG19, layers=layers, layer_weights=(0.2,) * 5, styles=[style],
                             blend=[1.0], coverage=coverage, style_masks=own, features=net, content=content, start=content)
        return Objective(net, ("relu4_2",), content, get(style_loss).prepare(stage), (1.0, 1e3, 1.0))

    plain = objective(None, [None])
    guided = objective([torch.ones(1, 1, 32, 48)], [torch.ones(1, 1, 32, 32)])
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    grads = []
    for objective in (plain, guided):
        x = image.clone().requires_grad_(True)
        loss, _ = objective(x)
        loss.backward()
        grads.append((loss.detach(), x.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-3, atol=1e-6)


def test_style_mask_picks_the_part_of_the_style_image(eng: Engine, method: dict[str, str]) -> None:
    two_tone = Image.new("RGB", (32, 32), (230, 30, 30))
    ImageDraw.Draw(two_tone).rectangle([16, 0, 32, 32], fill=(30, 40, 220))
    content = content_image(W, H)
    kw = {"iterations": 6, "size": 32}
    from_red = mean_rgb(final(eng, content, [two_tone], masks=[band(0, W)], style_masks=[band(0, 16, (32, 32))], **kw, **method))
    from_blue = mean_rgb(final(eng, content, [two_tone], masks=[band(0, W)], style_masks=[band(16, 32, (32, 32))], **kw, **method))
    assert float(from_red[0] - from_red[2]) > float(from_blue[0] - from_blue[2]) + 0.05  # redder from the red half


def test_masks_follow_multiscale_stages_with_adam_and_preserve_colors(eng: Engine, monkeypatch: pytest.MonkeyPatch, method: dict[str, str]) -> None:
    monkeypatch.setattr(planning, "BASE_SIZE", 16)  # three stages at a tiny size: 16, 23, 32 px
    content = content_image(W, H)
    params = StyleParams(**{**FAST, "size": 32, "iterations": 3, "multiscale": True, "optimizer": "adam",
                            "learning_rate": 0.05, "preserve_colors": True, "snapshot_every": 1, **method})
    snaps = list(eng.run(eng.job(content, [red_stripes(), blue_dots()], params,
                                 masks=[band(0, 100, (200, 100)), band(100, 200, (200, 100))])))  # any mask size
    assert [s.stage for s in snaps] == [1, 2, 3] and snaps[-1].size == (32, 16)
    assert all(torch.isfinite(torch.tensor(list(s.losses.values()))).all() for s in snaps)
    reference = images.rgb_to_ycbcr(images.resize(images.to_tensor(content), (32, 16)))[0, 1:]
    assert float((images.rgb_to_ycbcr(snaps[-1].image)[1:] - reference).abs().mean()) < 0.02


def test_a_job_refuses_masks_for_missing_styles(eng: Engine) -> None:
    with pytest.raises(FieldError, match="^mask_2: "):
        eng.job(content_image(W, H), [red_stripes()], StyleParams(**FAST), masks=[band(0, 8), band(8, 16)])


# -- the request fields ---------------------------------------------------------------------------

CONTENT, STYLE, STYLE_2 = to_bytes(content_image(64, 48)), to_bytes(red_stripes()), to_bytes(blue_dots())


def png(img: Image.Image) -> bytes:
    return to_bytes(img)


def refused(field_name: str, fields_in: dict[str, object], status: int = 400, limits: Limits | None = None) -> None:
    """A 400/413 naming the field (the handler answers FieldError as a 400 too)."""
    with pytest.raises(FieldError) as info:
        parse(fields_in, limits=limits or Limits())
    assert info.value.field == field_name and getattr(info.value, "status", 400) == status, str(info.value)
    assert str(info.value).startswith(f"{field_name}: ")


def test_multipart_masks_reach_the_job() -> None:
    job = parse({"content": CONTENT, "style": STYLE, "style_2": STYLE_2, "mask": png(band(0, 32)),
                 "mask_2": png(band(32, 64)), "style_mask_2": png(Image.new("RGB", (9, 9), "white"))}).job
    assert job.regions is not None and [m.shape for m in job.regions.masks] == [(1, 1, 32, 64)] * 2
    assert job.regions.style_masks[0] is None and job.regions.style_masks[1] is not None
    assert parse({"content": CONTENT, "style": STYLE}).job.regions is None


def test_transparent_mask_covers_only_what_was_painted() -> None:
    painted = Image.new("RGBA", (20, 10), (255, 255, 255, 0))
    ImageDraw.Draw(painted).rectangle([0, 0, 9, 9], fill=(255, 255, 255, 255))
    regions = parse({"content": CONTENT, "style": STYLE, "mask": png(painted)}).job.regions
    assert regions is not None
    mask = regions.masks[0][0, 0]
    assert float(mask[2, 2]) == 1.0 and float(mask[2, 15]) == 0.0


def test_json_masks_as_keys_or_lists_with_null() -> None:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()
    body = {"content": b64(CONTENT), "style": [b64(STYLE), b64(STYLE_2)], "mask": [None, b64(png(band(0, 8)))],
            "style_mask": b64(png(band(0, 8)))}
    regions = parse({"body": json.dumps(body).encode()}).job.regions
    assert regions is not None
    assert regions.masks[0] is None and regions.masks[1] is not None and regions.style_masks[0] is not None
    refused("mask_2", {"body": {**body, "mask_2": b64(png(band(0, 8)))}})  # both in the list and as a key
    refused("mask", {"body": {**body, "mask": "@@@"}})


@pytest.mark.parametrize(("extra", "field_name"), [
    ({"mask_2": band(0, 8)}, "mask_2"),  # only one style was sent
    ({"style_mask_3": band(0, 8)}, "style_mask_3"),
    ({"mask": band(0, 8, value=0)}, "mask"),  # the whole set is black
    ({"style_mask": Image.new("L", (4, 4), 0)}, "style_mask"),
    ({"mask": b"not an image at all"}, "mask"),
    ({"mask_9": band(0, 8)}, "mask_9"),
])
def test_bad_masks_are_refused_by_name(extra: dict[str, object], field_name: str) -> None:
    fields_in: dict[str, object] = {"content": CONTENT, "style": STYLE}
    fields_in.update({k: png(v) if isinstance(v, Image.Image) else v for k, v in extra.items()})
    refused(field_name, fields_in)


def test_one_black_mask_among_others_is_fine_and_limits_apply() -> None:
    job = parse({"content": CONTENT, "style": STYLE, "style_2": STYLE_2, "mask": png(band(0, 8, value=0)), "mask_2": png(band(0, 8))})
    assert job.job.regions is not None and len(job.job.regions.masks) == 2
    big = Image.new("L", (300, 300), 255)
    refused("mask", {"content": CONTENT, "style": STYLE, "mask": png(big)}, limits=Limits(max_pixels=50_000))
    noisy = io.BytesIO()
    Image.effect_noise((200, 200), 100).save(noisy, "PNG")
    refused("mask", {"content": CONTENT, "style": STYLE, "mask": noisy.getvalue()}, 413, Limits(max_image_bytes=20_000))


# -- the command line -----------------------------------------------------------------------------

def test_cli_mask_flags(tmp_path: Path, weights_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content_image(W, H).save(tmp_path / "c.png")
    red_stripes().save(tmp_path / "a.png")
    blue_dots().save(tmp_path / "b.png")
    band(0, W // 2).save(tmp_path / "left.png")
    band(W // 2, W).save(tmp_path / "right.png")
    base = [str(tmp_path / "c.png"), str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "o.png"),
            "--size", "32", "--iterations", "1", "--weights", str(weights_file)]
    # a colour image is accepted as a mask too (its luminance)
    assert cli([*base, "--mask", f"1={tmp_path / 'left.png'}", "--mask", f"2={tmp_path / 'c.png'}",
                "--style-mask", f"2={tmp_path / 'left.png'}"]) == 0
    assert Image.open(tmp_path / "o.png").size == (32, 16)
    black = tmp_path / "black.png"
    Image.new("L", (4, 4), 0).save(black)
    for flags, message in ((["--mask", f"3={tmp_path / 'left.png'}"], "error: mask: --mask 3="),
                           (["--mask", "left.png"], "error: mask: --mask takes N=FILE"),
                           (["--style-mask", f"2={tmp_path / 'nope.png'}"], "error: style_mask_2: cannot read"),
                           (["--mask", f"1={black}", "--mask", f"2={black}"], "error: mask: every mask is black"),
                           (["--mask", f"2={tmp_path / 'a.png'}", "--mask", f"2={black}"], "error: mask_2: --mask given twice")):
        capsys.readouterr()
        assert cli([*base, *flags]) == 2
        assert capsys.readouterr().err.startswith(message)
