"""Colour matching in OkLab: the conversions against published values and round trips, and the match
giving the style's statistics, leaving a matching image alone, staying in gamut."""

from __future__ import annotations

import pytest
import torch
from images_util import content_image, style_image
from stylize import colour, images
from torch import Tensor


def field(height: int, width: int, base: tuple[float, float, float], slope: tuple[float, float, float], seed: int) -> Tensor:
    """A smooth colour field with a little noise, inside the gamut: a stand-in for a photo or painting."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(1, 1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, 1, width)
    b, s = torch.tensor(base).view(1, 3, 1, 1), torch.tensor(slope).view(1, 3, 1, 1)
    ramp = b + s * (0.6 * x + 0.4 * y * torch.tensor([1.0, -1.0, 0.5]).view(1, 3, 1, 1))
    return (ramp + 0.05 * torch.randn(1, 3, height, width, generator=g)).clamp(0, 1)


PHOTO = field(48, 64, (0.35, 0.45, 0.55), (0.3, 0.2, -0.2), seed=1)
PAINTING = field(40, 40, (0.55, 0.45, 0.25), (0.2, -0.2, 0.15), seed=2)


def test_srgb_transfer_round_trips_and_matches_the_standard() -> None:
    v = torch.linspace(0, 1, 1001, dtype=torch.float64).view(1, 1, 1, -1).expand(1, 3, 1, -1)
    assert torch.allclose(colour.linear_to_srgb(colour.srgb_to_linear(v)), v, atol=1e-12)
    half = colour.srgb_to_linear(torch.full((1, 3, 1, 1), 0.5, dtype=torch.float64))
    assert half.flatten()[0].item() == pytest.approx(0.2140411, abs=1e-6)  # IEC 61966-2-1 at 50 % grey
    assert colour.srgb_to_linear(torch.full((1, 3, 1, 1), 0.04, dtype=torch.float64)).flatten()[0].item() == pytest.approx(0.04 / 12.92)


@pytest.mark.parametrize(("rgb", "lab"), [
    ((1.0, 1.0, 1.0), (1.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (0.62796, 0.22486, 0.12585)),  # sRGB primaries in OkLab, as CSS Color 4 lists them
    ((0.0, 1.0, 0.0), (0.86644, -0.23389, 0.17950)),
    ((0.0, 0.0, 1.0), (0.45201, -0.03246, -0.31153)),
])
def test_oklab_of_known_colours(rgb: tuple[float, float, float], lab: tuple[float, float, float]) -> None:
    got = colour.rgb_to_oklab(torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1)).flatten()
    assert torch.allclose(got, torch.tensor(lab, dtype=torch.float64), atol=5e-5)


def test_oklab_round_trips() -> None:
    rgb = torch.rand(1, 3, 33, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # the published inverse matrices carry 10 digits: the round trip is exact to about 1e-6, not to float64
    assert torch.allclose(colour.oklab_to_rgb(colour.rgb_to_oklab(rgb)), rgb, atol=1e-5)
    lab = colour.rgb_to_oklab(rgb)
    assert torch.allclose(colour.linear_to_oklab(colour.oklab_to_linear(lab)), lab, atol=1e-5)


def stats_close(got: colour.ColourStats, want: colour.ColourStats, tol: float) -> bool:
    """Mean within ``tol`` of the target's spread, covariance within ``tol`` relative (Frobenius)."""
    spread = torch.trace(want.cov).div(want.cov.shape[0]).sqrt()
    return bool((got.mean - want.mean).norm() <= tol * spread and (got.cov - want.cov).norm() <= tol * want.cov.norm())


@pytest.mark.parametrize("transform", colour.TRANSFORMS)
@pytest.mark.parametrize("channels", ["ab", "lab"])
def test_the_match_has_the_styles_statistics(channels: colour.Channels, transform: colour.Transform) -> None:
    out = colour.match_colours(PHOTO, [PAINTING], channels=channels, transform=transform)
    assert out.shape == PHOTO.shape
    assert stats_close(colour.colour_stats(out, channels), colour.colour_stats(PAINTING, channels), tol=0.01)
    assert not stats_close(colour.colour_stats(PHOTO, channels), colour.colour_stats(PAINTING, channels), tol=0.3)  # there was something to move


def test_ab_matching_keeps_lightness_and_lab_matching_does_not() -> None:
    dark = PAINTING * 0.5  # a dark painting: matching lightness too would darken the photo
    lightness = colour.rgb_to_oklab(PHOTO)[:, 0]
    ab = colour.rgb_to_oklab(colour.match_colours(PHOTO, [dark], channels="ab", passes=1))[:, 0]
    lab = colour.rgb_to_oklab(colour.match_colours(PHOTO, [dark], channels="lab"))[:, 0]
    assert (ab - lightness).abs().max() < 0.02  # only where clipping to the gamut moved a pixel
    assert lab.mean() == pytest.approx(colour.rgb_to_oklab(dark)[:, 0].mean().item(), abs=0.005)
    assert lab.mean() < lightness.mean() - 0.1


def test_an_image_matched_to_itself_is_unchanged() -> None:
    for transform in colour.TRANSFORMS:
        out = colour.match_colours(PHOTO, [PHOTO], transform=transform, channels="lab")
        assert (out - PHOTO).abs().max() < 1e-4


def test_values_stay_in_range_on_saturated_colours() -> None:
    content = images.to_tensor(content_image(64, 48))
    vivid = images.to_tensor(style_image(48, colors=((255, 0, 0), (0, 255, 40))))
    for channels in ("ab", "lab"):
        out = colour.match_colours(content, [vivid], channels=channels)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_a_grey_photo_is_not_given_invented_noise() -> None:
    grey = PHOTO.mean(dim=1, keepdim=True).expand(1, 3, -1, -1).contiguous()
    out = colour.match_colours(grey, [PAINTING])
    assert torch.isfinite(out).all()
    # the flat ab spread is stretched at most MAX_GAIN times: the result is still nearly grey
    spread = colour.colour_stats(out).cov.trace().sqrt()
    assert spread < 0.5 * colour.colour_stats(PAINTING).cov.trace().sqrt()


def test_several_styles_blend_as_their_pooled_pixels() -> None:
    other = field(40, 40, (0.2, 0.5, 0.6), (-0.1, 0.3, 0.2), seed=3)
    pooled = colour.colour_stats(torch.cat([PAINTING, other], dim=-1))
    blended = colour.palette([PAINTING, other], [1.0, 1.0])
    assert torch.allclose(blended.mean, pooled.mean, atol=1e-12) and torch.allclose(blended.cov, pooled.cov, atol=1e-12)
    # a larger share pulls the palette towards that style
    towards = colour.palette([PAINTING, other], [3.0, 1.0])
    assert (towards.mean - colour.colour_stats(PAINTING).mean).norm() < (blended.mean - colour.colour_stats(PAINTING).mean).norm()


def test_weights_pick_the_pixels_that_count() -> None:
    half = torch.zeros(40, 40)
    half[:, :20] = 1
    weighted = colour.colour_stats(PAINTING, weights=half)
    cropped = colour.colour_stats(PAINTING[..., :20])
    assert torch.allclose(weighted.mean, cropped.mean, atol=1e-12) and torch.allclose(weighted.cov, cropped.cov, atol=1e-12)
    with pytest.raises(ValueError, match="resize the mask"):
        colour.colour_stats(PAINTING, weights=torch.ones(8, 8))


def test_regions_take_their_own_styles_palette() -> None:
    other = field(40, 40, (0.2, 0.5, 0.6), (-0.1, 0.3, 0.2), seed=3)
    left, right = torch.zeros(48, 64), torch.zeros(48, 64)
    left[:, :32], right[:, 32:] = 1, 1
    out = colour.match_regions(PHOTO, [PAINTING, other], [left, right])
    assert stats_close(colour.colour_stats(out, weights=left), colour.colour_stats(PAINTING), tol=0.02)
    assert stats_close(colour.colour_stats(out, weights=right), colour.colour_stats(other), tol=0.02)
    only_left = colour.match_regions(PHOTO, [PAINTING], [left])
    assert torch.equal(only_left[..., 32:], PHOTO[..., 32:])  # no mask there: the colours stay


def test_the_transport_map_moves_colours_least() -> None:
    """Both maps give the target covariance; the optimal-transport one with the least mean squared change."""
    def moved(transform: colour.Transform) -> float:
        out = colour.match_colours(PHOTO, [PAINTING], transform=transform, passes=1)
        return float((colour.rgb_to_oklab(out) - colour.rgb_to_oklab(PHOTO)).pow(2).mean())
    assert moved("ot") < moved("zca")


def test_unknown_transform_is_refused() -> None:
    with pytest.raises(ValueError, match="transform must be one of"):
        colour.match_colours(PHOTO, [PAINTING], transform="hist")  # type: ignore[arg-type]
