"""The Laplacian-pyramid image: exact reconstruction at any size, level sizes and caps, gradients reaching
the coarse levels (and moving coarse structure faster than pixels), L-BFGS on several leaves, clamping,
and resizing between stages."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch
from stylize import images
from stylize.pyramid import MIN_COARSE_SIDE, Pyramid, decompose, level_sizes, max_levels, reconstruct
from torch import Tensor
from torch.nn import functional as F

SIZES = [(128, 128), (85, 128), (128, 85), (181, 128), (257, 129), (37, 64), (1, 7), (3, 3), (9, 4)]


def noise(h: int, w: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_reconstruction_is_exact_at_any_size(h: int, w: int) -> None:
    x = noise(h, w, torch.float64)
    pyramid = Pyramid.from_image(x, levels=8)
    assert torch.allclose(pyramid.image(), x, atol=1e-12, rtol=0)
    x32 = x.float()
    assert torch.allclose(reconstruct(decompose(x32, max_levels(h, w))), x32, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_levels_halve_rounding_up_and_the_coarsest_keeps_a_few_pixels(h: int, w: int) -> None:
    pyramid = Pyramid.from_image(noise(h, w), levels=20)
    shapes = [tuple(level.shape[-2:]) for level in pyramid.levels]
    assert shapes == level_sizes(h, w, len(shapes))
    assert shapes[0] == (h, w)
    for (h1, w1), (h2, w2) in itertools.pairwise(shapes):
        assert (h2, w2) == (-(-h1 // 2), -(-w1 // 2))
    assert min(shapes[-1]) >= MIN_COARSE_SIDE or len(shapes) == 1
    assert (len(shapes) > 1) == (min(h, w) >= 2 * MIN_COARSE_SIDE - 1)  # capped, not collapsed to one level
    assert pyramid.size == (w, h)


def test_the_level_count_is_capped_and_honoured() -> None:
    assert max_levels(128, 128) == 6  # 128 .. 4 px
    assert len(Pyramid.from_image(noise(128, 128), levels=3).levels) == 3
    assert len(Pyramid.from_image(noise(128, 128), levels=1).levels) == 1
    with pytest.raises(ValueError, match="levels"):
        Pyramid.from_image(noise(8, 8), levels=0)


def test_zeroing_the_finest_levels_starts_from_a_blurred_image() -> None:
    x = noise(64, 48)
    parts = decompose(x, 5)
    pyramid = Pyramid.from_image(x, levels=5, zero_finest=2)
    assert all(float(level.detach().abs().max()) == 0 for level in pyramid.levels[:2])
    assert torch.equal(pyramid.levels[2], parts[2])
    blurred = reconstruct([torch.zeros_like(parts[0]), torch.zeros_like(parts[1]), *parts[2:]])
    assert torch.allclose(pyramid.image(), blurred, atol=1e-6)
    # the residual (the picture's mean colour) is never zeroed, however many are asked for
    assert float(Pyramid.from_image(x, levels=5, zero_finest=9).levels[-1].detach().abs().max()) > 0


def test_parameters_are_leaves_the_gradient_reaches() -> None:
    pyramid = Pyramid.from_image(noise(40, 56), levels=4)
    params = pyramid.parameters()
    assert len(params) == 4 and all(p.is_leaf and p.requires_grad for p in params)
    F.mse_loss(pyramid.image(), torch.full((1, 3, 40, 56), 0.8)).backward()
    assert all(p.grad is not None and float(p.grad.abs().max()) > 0 for p in params)
    # an upsampled coarse cell covers 4^k pixels: its gradient gathers theirs
    assert float(params[-1].grad.abs().mean()) > 10 * float(params[0].grad.abs().mean())


def test_an_adam_step_moves_every_level_and_smooth_structure_levels_times_faster() -> None:
    """Adam's first step is lr * sign(gradient) per parameter: a pixel moves lr, a smooth region as many
    lr as there are levels (each level's upsampled step adds)."""
    start, lr = torch.full((1, 3, 64, 64), 0.3), 1e-2

    def shift(params: list[Tensor], picture: Callable[[], Tensor]) -> float:
        before = [p.detach().clone() for p in params]
        optimiser = torch.optim.Adam(params, lr=lr)
        F.mse_loss(picture(), torch.full_like(start, 0.7)).backward()
        optimiser.step()
        assert all(not torch.equal(p, b) for p, b in zip(params, before, strict=True))
        return float(picture().detach().mean() - start.mean())

    pixels = start.clone().requires_grad_(True)
    pyramid = Pyramid.from_image(start, levels=5)
    assert shift([pixels], lambda: pixels) == pytest.approx(lr, rel=1e-3)
    assert shift(pyramid.parameters(), pyramid.image) == pytest.approx(5 * lr, rel=1e-3)


def test_coarse_structure_converges_faster_than_with_pixels() -> None:
    """Fit a target with Adam at one step size: after the same steps the pyramid's coarse (8 px) error is
    far below the pixels' (the full measurement on real images: docs/pyramid_fit.py)."""
    h = w = 64
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    target = torch.stack([xx, yy, 1 - xx * yy]).unsqueeze(0) * 0.8 + 0.1
    start = noise(h, w, seed=3)

    def coarse_error(picture: Tensor) -> float:
        def small(t: Tensor) -> Tensor:
            return F.interpolate(t, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
        return float(F.mse_loss(small(picture), small(target)))

    def fit(params: list[Tensor], picture: Callable[[], Tensor]) -> float:
        optimiser = torch.optim.Adam(params, lr=2e-3)
        for _ in range(20):
            optimiser.zero_grad()
            F.mse_loss(picture(), target).backward()
            optimiser.step()
        return coarse_error(picture().detach())

    pixels = start.clone().requires_grad_(True)
    pyramid = Pyramid.from_image(start, levels=5)
    assert fit(pyramid.parameters(), pyramid.image) < 0.5 * fit([pixels], lambda: pixels)


def test_lbfgs_runs_on_the_levels_through_a_channels_last_network() -> None:
    """The engine's optimiser takes a flat list of leaves; its .view(-1) of each gradient needs them dense,
    and the network runs channels_last (the leaves' gradients keep the leaves' own layout)."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).to(memory_format=torch.channels_last)
    target = conv(noise(48, 40, seed=1)).detach()
    pyramid = Pyramid.from_image(noise(48, 40, seed=2), levels=4)
    optimiser = torch.optim.LBFGS(pyramid.parameters(), lr=1.0, max_iter=1, history_size=100,
                                  tolerance_grad=-1.0, tolerance_change=-1.0)
    losses = []

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = F.mse_loss(conv(pyramid.image()), target)
        loss.backward()
        losses.append(float(loss.detach()))
        return loss

    for _ in range(10):
        optimiser.step(closure)
        pyramid.clamp_()
    assert all(p.grad is not None and p.grad.is_contiguous() for p in pyramid.parameters())
    assert losses[-1] < 0.5 * losses[0]


def test_clamping_puts_the_change_in_the_finest_level_only() -> None:
    pyramid = Pyramid.from_image(noise(30, 50) * 1.6 - 0.3, levels=4)
    coarse = [level.detach().clone() for level in pyramid.levels[1:]]
    wanted = pyramid.image().detach().clamp(0, 1)
    pyramid.clamp_()
    assert torch.allclose(pyramid.image(), wanted, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(pyramid.levels[1:], coarse, strict=True))
    assert pyramid.levels[0].requires_grad and pyramid.levels[0].is_leaf


def test_resizing_to_the_next_stage_rederives_the_levels() -> None:
    pyramid = Pyramid.from_image(noise(85, 128), levels=8)
    assert len(pyramid.levels) == max_levels(85, 128) == 5
    larger = pyramid.resized((181, 120))
    assert larger.size == (181, 120)
    assert len(larger.levels) == max_levels(120, 181) == 6  # more room for levels than at 128 px
    assert larger.requested_levels == 8
    expected = images.resize(pyramid.image().detach(), (181, 120))
    assert torch.allclose(larger.image(), expected, atol=1e-6)
    assert all(p.is_leaf and p.requires_grad for p in larger.parameters())
