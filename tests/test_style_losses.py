"""The style losses as parts: W2 against closed forms, Newton–Schulz against eigendecompositions,
masked statistics, iterate averaging and the warm schedule (CPU, tiny tensors)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from stylize import Engine, StyleParams, images, planning, precision, weights
from stylize import run as run_module
from stylize.averaging import IterateAverage, decay_at
from stylize.methods import METHODS, Moments, StyleLoss, moments, w2
from stylize.methods.gram import GramLoss
from stylize.methods.w2 import W2Loss, covariance, sqrtm, trace_sqrt, w2_squared

torch.manual_seed(0)


def spd(c: int, condition: float, seed: int) -> torch.Tensor:
    """A random symmetric positive-definite matrix with eigenvalues spread over [1, condition]."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(c, c, generator=g, dtype=torch.float64))
    eig = torch.logspace(0, math.log10(condition), c, dtype=torch.float64)
    return (q * eig) @ q.T


def eig_sqrt(a: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(a.double())
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.transpose(-2, -1)


def gaussian_features(mean: torch.Tensor, cov: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """1 x C x n x 1 features whose sample mean and covariance are exactly ``mean`` and ``cov``."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, mean.numel(), generator=g, dtype=torch.float64)
    z = z - z.mean(0)
    whiten = torch.linalg.inv(torch.linalg.cholesky(z.T @ z / n))
    x = z @ whiten.T @ torch.linalg.cholesky(cov.double()).T + mean.double()
    return x.T.reshape(1, -1, n, 1).float()


@pytest.mark.parametrize(("c", "condition", "seed"), [(8, 10.0, 0), (32, 100.0, 1), (64, 50.0, 2)])
def test_newton_schulz_matches_an_eigendecomposition(c: int, condition: float, seed: int) -> None:
    a = spd(c, condition, seed) * 1e3  # Caffe-scale: the normalisation must handle large matrices
    ours = sqrtm(a.float()[None])[0].double()
    reference = eig_sqrt(a)
    assert float(torch.linalg.matrix_norm(ours - reference) / torch.linalg.matrix_norm(reference)) < 1e-3


@pytest.mark.parametrize("roots", ["newton_schulz", "eigh_roots"])
def test_both_root_methods_agree_and_give_the_inverse_root(roots: str) -> None:
    a = spd(24, 30.0, 6).float()[None]
    root, inverse = getattr(w2, roots)(a)
    torch.testing.assert_close(root.double(), eig_sqrt(a), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close((root @ inverse)[0], torch.eye(24), rtol=0, atol=2e-3)


@pytest.mark.parametrize("device_type", ["cpu", "meta-like accelerator"])
def test_trace_sqrt_gradient_is_half_the_inverse_root(device_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if device_type != "cpu":  # the accelerator path is Newton–Schulz: force it on CPU
        monkeypatch.setattr(w2, "matrix_roots", w2.newton_schulz)
    a = spd(16, 20.0, 3).float()[None].requires_grad_(True)
    trace_sqrt(a).sum().backward()
    values, vectors = torch.linalg.eigh(a.detach().double()[0])
    expected = 0.5 * (vectors * values.rsqrt()) @ vectors.T
    torch.testing.assert_close(a.grad[0].double(), expected, rtol=2e-3, atol=2e-4)


def test_w2_of_a_gaussian_with_itself_is_zero() -> None:
    f = torch.randn(1, 16, 12, 10)
    loss = W2Loss(moments(f))
    assert abs(float(loss(f))) < 1e-3
    assert float(loss(f * 1.5 + 0.3)) > 0.05


def test_w2_equals_the_closed_form_for_known_gaussians() -> None:
    c = 6
    m1, m2 = torch.linspace(-1, 1, c, dtype=torch.float64), torch.linspace(0.5, 2, c, dtype=torch.float64)
    c1, c2 = spd(c, 5.0, 4), spd(c, 8.0, 5) * 2
    s1 = eig_sqrt(c2)
    closed = float((m1 - m2).square().sum() + torch.trace(c1 + c2 - 2 * eig_sqrt(s1 @ c1 @ s1)))
    ours = float(w2_squared(m1.float()[None], c1.float()[None], m2.float()[None], c2.float()[None], sqrtm(c2.float()[None])))
    assert ours == pytest.approx(closed, rel=1e-3)
    # and through the loss class, from features with exactly these statistics (normalised by the target's size)
    loss = W2Loss(moments(gaussian_features(m2, c2, 400, 1)))
    norm = float(m2.square().sum() + torch.trace(c2))
    assert float(loss(gaussian_features(m1, c1, 400, 2))) == pytest.approx(closed / norm, rel=2e-3)
    # diagonal covariances: W2² = |Δμ|² + Σ (√a − √b)²
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 16.0])
    diag = float(w2_squared(torch.zeros(1, 3), torch.diag(a)[None], torch.ones(1, 3), torch.diag(b)[None], torch.diag(b.sqrt())[None]))
    assert diag == pytest.approx(3 + float((a.sqrt() - b.sqrt()).square().sum()), rel=1e-4)


@pytest.mark.parametrize("loss_cls", [m.loss for m in METHODS.values() if hasattr(m, "loss")])
def test_a_white_mask_gives_the_unmasked_statistics_and_loss(loss_cls: type[StyleLoss]) -> None:
    f, target = torch.randn(1, 8, 9, 7), torch.randn(1, 8, 6, 6)
    white = torch.ones(1, 1, 9, 7)
    plain, masked = moments(f), moments(f, white)
    torch.testing.assert_close(masked.mean, plain.mean)
    torch.testing.assert_close(masked.second, plain.second)
    loss = loss_cls(loss_cls.statistics(target))
    torch.testing.assert_close(loss(f, white), loss(f), rtol=1e-5, atol=1e-6)


def test_masked_statistics_weigh_positions_by_the_mask() -> None:
    f = torch.randn(1, 4, 6, 8)
    left = torch.zeros(1, 1, 6, 8)
    left[..., :4] = 1
    torch.testing.assert_close(moments(f, left).mean, f[..., :4].mean(dim=(-2, -1)))
    torch.testing.assert_close(moments(f, left * 0.5).second, moments(f[..., :4]).second)  # normalised by mass


def test_blends_combine_means_and_second_moments_linearly_not_covariances() -> None:
    from stylize.methods import blend
    a, b = torch.randn(1, 5, 8, 8), torch.randn(1, 5, 8, 8) + 2
    mixed = blend([moments(a), moments(b)], [0.25, 0.75])
    both = torch.cat([a.repeat(1, 1, 1, 1), b.repeat(1, 1, 3, 1)], dim=-2)  # the same 1:3 mixture of positions
    torch.testing.assert_close(mixed.mean, moments(both).mean)
    torch.testing.assert_close(covariance(mixed), covariance(moments(both)), rtol=1e-4, atol=1e-5)


def test_gram_loss_ignores_the_mean_w2_does_not() -> None:
    f = torch.randn(1, 4, 5, 5)
    assert GramLoss.statistics(f).mean is None and W2Loss.statistics(f).mean is not None
    assert isinstance(GramLoss(GramLoss.statistics(f)).distance(Moments(None, moments(f).second)), torch.Tensor)


# -- iterate averaging ------------------------------------------------------------------------------

def test_ema_equals_a_hand_computed_average_on_three_steps() -> None:
    x0 = torch.zeros(1, 1, 1, 1)
    avg = IterateAverage(0.99, x0)
    assert torch.equal(avg.value, x0)
    steps = [torch.full((1, 1, 1, 1), v) for v in (1.0, 2.0, 4.0)]
    d = [decay_at(0.99, t) for t in range(3)]
    assert d == [1 / 10, 2 / 11, 3 / 12]
    for s in steps:
        avg.update(s)
    # weight of x_i: (1 - d_i) * prod_{j > i} d_j, normalised
    w = [(1 - d[0]) * d[1] * d[2], (1 - d[1]) * d[2], 1 - d[2]]
    expected = (w[0] * 1 + w[1] * 2 + w[2] * 4) / sum(w)
    assert float(avg.value) == pytest.approx(expected, rel=1e-6)
    assert decay_at(0.99, 10_000) == 0.99 and decay_at(0.0, 5) == 0.0  # capped; 0 = the latest iterate
    single = IterateAverage(0.99, x0)
    single.update(steps[2])
    assert float(single.value) == pytest.approx(4.0)  # bias-corrected: the first value is the image itself


@pytest.fixture(scope="module")
def eng() -> Engine:
    state, info = weights.obtain("random", seed=0)
    return Engine(state, info, "cpu", auto=precision.Resolution("fp32", "test"))


def test_ema_resumes_across_scales_from_the_previous_average(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    averages: list[IterateAverage] = []

    class Recorded(IterateAverage):
        def __init__(self, decay: float, start: torch.Tensor) -> None:
            super().__init__(decay, start)
            averages.append(self)

    monkeypatch.setattr(run_module, "IterateAverage", Recorded)
    monkeypatch.setattr(planning, "BASE_SIZE", 16)
    content, style = torch.rand(3, 24, 32), torch.rand(3, 32, 32)
    params = StyleParams(size=32, iterations=6, snapshot_every=0, average="ema", optimizer="adam", schedule="warm")
    final = list(eng.run(eng.job(content, [style], params)))[-1]
    assert [a.updates for a in averages] == [s.iterations for s in planning.plan(params, (32, 24))] == [3, 2, 1]
    for before, after in itertools.pairwise(averages):
        wh = (after.start.shape[-1], after.start.shape[-2])
        torch.testing.assert_close(after.start, images.resize(before.value.float(), wh).contiguous())
    torch.testing.assert_close(final.image, averages[-1].value[0])  # the answer is the average


def test_warm_schedule_gives_the_first_stage_two_shares() -> None:
    assert planning.split_iterations(10, 3) == [4, 3, 3]  # restart: equal shares
    assert planning.split_iterations(12, 3, first_shares=2) == [6, 3, 3]
    assert planning.split_iterations(10, 3, first_shares=2) == [5, 3, 2]
    assert planning.split_iterations(2, 5, first_shares=2) == [1, 1]
    warm = planning.plan(StyleParams(size=512, iterations=300, schedule="warm"), (512, 512))
    assert [s.iterations for s in warm] == [100, 50, 50, 50, 50] and sum(s.iterations for s in warm) == 300


def test_warm_schedule_carries_adams_moments_resized(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "BASE_SIZE", 16)  # stages of 16, 23 and 32 px, 3 + 2 + 1 iterations

    def first_stage(**kw: str) -> run_module.Run:
        params = StyleParams(size=32, iterations=6, snapshot_every=0, **kw)
        run = eng.start(eng.job(torch.rand(3, 24, 32), [torch.rand(3, 32, 32)], params))
        for _ in range(3):
            run.step(0.0)
        return run

    run = first_stage(optimizer="adam", schedule="warm")
    assert run._carried is not None and float(run._carried["step"]) == 3
    run.step(0.0)  # the second stage's first step, from the carried moments
    stage = run._stage
    assert stage is not None and stage.number == 2
    state = stage.optimizer.state[stage.image]
    assert float(state["step"]) == 4 and state["exp_avg"].shape == stage.image.shape == (1, 3, 17, 23)
    assert float(state["exp_avg_sq"].min()) >= 0 and stage.optimizer.defaults["betas"] == (0.9, 0.99)
    assert first_stage(optimizer="adam", schedule="restart")._carried is None
    assert first_stage(optimizer="lbfgs", schedule="warm")._carried is None
