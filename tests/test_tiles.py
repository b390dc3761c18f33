"""Tiled stages (stylize.tiles): the grid, the feathering, and tiled runs through the engine on seeded
random-init VGG19 weights with tiny tiles (CPU), both ways: the whole picture optimised with its gradient
assembled tile by tile (stylize.tiled_objective, the default) and tile visits. The seam measurements are in
tests/test_tile_seams.py, loss parity in tests/test_big_pictures.py."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch
from images_util import content_image, style_image
from PIL import Image, ImageDraw
from stylize import Engine, Run, StyleParams, precision, tiles, weights
from stylize.tiles import Box, TileSettings

TINY = TileSettings(threshold_pixels=64 * 64, tile=48, overlap=8, margin=8, steps=2, style_side=64)


@pytest.fixture(scope="module", params=["assembled", "visits"])
def eng(request: pytest.FixtureRequest) -> Engine:
    state, info = weights.obtain("random", seed=0)
    return Engine(state, info, "cpu", auto=precision.Resolution("fp32", "test"), tiling=replace(TINY, assemble=request.param == "assembled"))


def _grid(eng: Engine) -> list[Box]:
    """The stage's unshifted tiles (an assembled stage's cores meet; visits overlap)."""
    assert eng.tiling is not None
    return [core for core, _ in tiles.cores((96, 72), eng.tiling, (0, 0))] if eng.tiling.assemble else tiles.grid((96, 72), eng.tiling, (0, 0))


# -- the grid ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [48, 49, 95, 96, 200, 257])
@pytest.mark.parametrize("offset", [0, 16, 32])
def test_spans_cover_the_axis_with_full_tiles_and_at_least_the_overlap(length: int, offset: int) -> None:
    found = tiles.spans(length, 48, 8, offset)
    assert found[0][0] == 0 and found[-1][1] == length
    assert all(0 < b - a <= 48 for a, b in found)  # never more than a tile: the same memory bound every visit
    for (a0, a1), (b0, _) in itertools.pairwise(found):
        assert a1 - b0 == 8 and b0 > a0  # they overlap by exactly the overlap, and move on
    if length <= 48:
        assert found == [(0, length)]


def test_a_shifted_grid_moves_every_inner_border() -> None:
    plain = {a for a, _ in tiles.spans(400, 128, 32, 0)} - {0}
    moved = {a for a, _ in tiles.spans(400, 128, 32, 48)} - {0}
    assert plain and moved and not plain & moved


def test_the_network_sees_a_margin_around_each_tile() -> None:
    assert tiles.context(Box(100, 0, 228, 128), (300, 200), 32) == Box(68, 0, 260, 160)
    assert tiles.context(Box(0, 0, 300, 200), (300, 200), 32) == Box(0, 0, 300, 200)
    settings = TileSettings(threshold_pixels=1, tile=128, overlap=32, margin=32)
    assert settings.tile_pixels((1000, 1000)) == 192 * 192 and settings.tile_pixels((100, 1000)) == 100 * 192
    assert settings.naive().margin == 0


def test_random_offsets_are_whole_cells_and_vary() -> None:
    settings = TileSettings(threshold_pixels=1, tile=256, overlap=32)
    gen = torch.Generator().manual_seed(0)
    offsets = {tiles.random_offset(settings, gen) for _ in range(20)}
    assert len(offsets) > 5
    assert all(x % tiles.ALIGN == 0 and y % tiles.ALIGN == 0 and 0 <= x < 224 and 0 <= y < 224 for x, y in offsets)
    assert tiles.random_offset(settings.naive(), gen) == (0, 0)


def test_feather_ramps_only_inner_edges() -> None:
    settings = TileSettings(threshold_pixels=1, tile=64, overlap=16)
    w = tiles.feather(Box(0, 32, 64, 96), (128, 96), settings)
    assert w is not None and w.shape == (1, 1, 64, 64)
    assert float(w.min()) > 0 and float(w.max()) == 1.0
    assert torch.all(w[0, 0, :, 0] == w[0, 0, :, 0])  # left edge is the image's: no ramp along x there
    assert float(w[0, 0, 32, 0]) == 1.0 and float(w[0, 0, 32, -1]) < 0.1  # right edge inner: ramps down
    assert float(w[0, 0, 0, 10]) < 0.1 and float(w[0, 0, -1, 10]) == 1.0  # top inner, bottom the image's
    assert tiles.feather(Box(0, 0, 64, 64), (128, 96), settings.naive()) is None


def test_overhead_counts_the_overlap() -> None:
    settings = TileSettings(threshold_pixels=1, tile=512, overlap=64, margin=64)
    assert settings.overhead((512, 512)) == 1.0
    assert 1.3 < settings.overhead((2048, 2048)) < 2.0  # (640 / 448)^2: margins and overlap


def test_settings_refuse_what_cannot_tile() -> None:
    with pytest.raises(ValueError):
        TileSettings(threshold_pixels=1, tile=64, overlap=32, assemble=False)  # visits that would never move on
    TileSettings(threshold_pixels=1, tile=64, overlap=32)  # cores meet: no overlap to refuse
    with pytest.raises(ValueError):
        TileSettings(threshold_pixels=1, tile=64, history=0)
    with pytest.raises(ValueError):
        TileSettings(threshold_pixels=1, tile=16)


# -- tiled runs -----------------------------------------------------------------------------------------

def _start(eng: Engine, **overrides: object) -> Run:
    params = StyleParams(**{"size": 96, "iterations": 4, "snapshot_every": 1, "multiscale": False, **overrides})
    return eng.start(eng.job(content_image(96, 72), [style_image(64)], params))


def test_a_tiled_stage_steps_between_tiles_and_reports_its_tile(eng: Engine, method: dict[str, str]) -> None:
    run = _start(eng, **method)
    grid = _grid(eng)
    assert len(grid) == (4 if eng.tiling.assemble else 6)  # 2 x 2 cores of 48 px; 3 x 2 visited tiles overlapping by 8
    iterations_seen, snaps = [], []
    while not run.finished:
        snaps += run.step(0.0)  # one tile per call
        iterations_seen.append(run.iteration)
    # visits: each iteration is 6 tiles x 1 step in image units; assembled: an iteration is an optimiser step taken
    # once every tile was evaluated (twice for a statistics method: sums, then gradient)
    per_iteration = 6 if not eng.tiling.assemble else 8 if method["style_loss"] != "neighbour" else 4
    assert len(iterations_seen) >= 4 * per_iteration - 1 and iterations_seen.count(1) >= per_iteration - 1
    middle = [s for s in snaps if not s.final]
    assert middle and all(s.tiles == len(grid) for s in middle)
    # visits say which tile; an assembled stage steps all of them at once (tile 0)
    assert all((s.tile == 0) if eng.tiling.assemble else (1 <= s.tile <= s.tiles) for s in middle)
    final = snaps[-1]
    assert final.final and final.stopped == "completed" and final.size == (96, 72) and final.tile == 0
    assert all(torch.isfinite(torch.tensor(list(s.losses.values()))).all() for s in snaps)
    assert final.losses["style"] < middle[0].losses["style"] * 1.5


def test_tiled_losses_fall_and_the_picture_changes_everywhere(eng: Engine) -> None:
    run = _start(eng, iterations=8, snapshot_every=0, style_weight=1000.0)
    content = eng.tensor(content_image(96, 72))[0]
    final = run.step(None)[-1]
    moved = (final.image - content).abs().mean(0)
    for box in _grid(eng):  # every tile was optimised
        assert float(box.of(moved).mean()) > 0.01


def test_only_stages_above_the_threshold_are_tiled(eng: Engine) -> None:
    small = _start(eng, size=60, iterations=2)  # 60 x 45 < 64 x 64
    assert all(s.tiles == 0 for s in small.step(None))


def test_multiscale_mixes_untiled_and_tiled_stages(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eng, "tiling", replace(TINY, threshold_pixels=128 * 96))  # the 128 px stage stays whole
    run = _start(eng, size=200, iterations=4, multiscale=True, snapshot_every=1)
    assert [st.size for st in run.stages] == [(128, 96), (200, 150)]
    snaps = run.step(None)
    assert {s.stage for s in snaps if s.tiles and not s.final} == {2}
    assert all(s.tiles == 0 for s in snaps if s.stage == 1)
    assert snaps[-1].size == (200, 150) and snaps[-1].iteration == 4


def test_step_budget_and_cancel_hold_in_a_tiled_stage(eng: Engine) -> None:
    run = _start(eng, iterations=50)
    run.step(0.0)
    assert not run.finished and run.iteration == 0  # one tile of the first iteration
    run.cancel()
    final = run.step(0.0)[-1]
    assert final.final and final.stopped == "cancelled" and final.size == (96, 72)


def test_regions_run_tiled(eng: Engine) -> None:
    left = Image.new("L", (96, 72), 0)
    ImageDraw.Draw(left).rectangle([0, 0, 47, 71], fill=255)
    params = StyleParams(size=96, iterations=4, snapshot_every=0, multiscale=False)
    job = eng.job(content_image(96, 72), [style_image(64), style_image(64, ((200, 30, 30), (30, 30, 200)))], params,
                  masks=[left, None])
    final = list(eng.run(job))[-1]
    assert final.size == (96, 72) and torch.isfinite(final.image).all() and final.losses["style"] > 0


def test_an_engine_picks_tiling_by_device() -> None:
    cpu = tiles.for_device(torch.device("cpu"))
    gpu = tiles.for_device(torch.device("cuda"))
    assert not cpu.applies((1024, 1024)) and cpu.applies((1025, 1024))
    assert gpu.tile > cpu.tile and gpu.threshold_pixels > cpu.threshold_pixels


def test_a_tiled_stage_is_set_up_aside_while_steps_return(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiled stage's set-up (the whole stage through the network: ~100 s at 2048 px on a 2-core CPU) runs on the
    set-up thread: a step with a budget returns meanwhile, so the server's call ends in time and other jobs go on."""
    import threading

    from stylize import run as run_module

    release = threading.Event()
    original = run_module.Run._begin_stage

    def slow(self: Run, index: int, start: torch.Tensor | None = None):  # type: ignore[no-untyped-def]
        assert threading.current_thread() is not threading.main_thread()
        assert release.wait(60)
        return original(self, index, start)
    monkeypatch.setattr(run_module.Run, "_begin_stage", slow)
    run = _start(eng, iterations=2)
    assert run.step(0.01) == [] and not run.finished and run.iteration == 0  # the set-up is under way, not done
    assert run.step(0.01) == [] and run.iteration == 0
    release.set()
    snaps = run.step(None)
    assert snaps[-1].final and snaps[-1].stopped == "completed" and snaps[-1].size == (96, 72)


def test_a_run_cancelled_during_its_set_up_ends_at_once(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from stylize import run as run_module

    release, entered = threading.Event(), threading.Event()
    original = run_module.Run._begin_stage

    def slow(self: Run, index: int, start: torch.Tensor | None = None):  # type: ignore[no-untyped-def]
        entered.set()
        assert release.wait(60)
        return original(self, index, start)
    monkeypatch.setattr(run_module.Run, "_begin_stage", slow)
    run = _start(eng, iterations=2)
    run.step(0.01)
    assert entered.wait(60)
    run.cancel()
    final = run.step(0.01)[-1]
    assert final.final and final.stopped == "cancelled" and run.finished
    release.set()  # the set-up ends on its own; what it made is dropped
