"""The nearest-neighbour style method (style_loss=neighbour): the search against brute force, chunking, the
targets it makes, blends, regions, style masks, refusals, the memory model and the loss going down.
Seeded random-init weights and tiny images on CPU (no result here is a picture to judge)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from images_util import content_image, style_image
from PIL import Image, ImageDraw
from serving import memory
from stylize import Engine, FieldError, StyleParams, backbones, images, weights
from stylize.methods import StageContext, get
from stylize.methods import neighbour as nn_method
from stylize.vgg import FeatureNet

VGG16 = backbones.get("vgg16")
FAST = {"size": 48, "iterations": 8, "snapshot_every": 0, "multiscale": False, "style_loss": "neighbour"}


@pytest.fixture(scope="module")
def eng16() -> Engine:
    state, info = weights.obtain("random", seed=0, network="vgg16")
    return Engine(state, info, "cpu")


@pytest.fixture(scope="module")
def eng(weights_file: Path) -> Engine:
    state, info = weights.load(weights_file)  # seeded random-init VGG19
    return Engine(state, info, "cpu")


def red_stripes(size: int = 24) -> torch.Tensor:
    img = Image.new("RGB", (size, size), (230, 30, 30))
    draw = ImageDraw.Draw(img)
    for x in range(0, size, 5):
        draw.rectangle([x, 0, x + 1, size], fill=(250, 140 - 4 * x, 110))
    return images.to_tensor(img)


def brute_nearest(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Centred cosine distance written out in fp64, one query at a time."""
    q = queries.double() - queries.double().mean(0)
    k = keys.double() - keys.double().mean(0)
    out = []
    for row in q:
        distance = 1 - (k @ row) / (k.norm(dim=1) * row.norm())
        out.append(int(distance.argmin()))
    return torch.tensor(out)


def random_rows(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * torch.rand(d, generator=g) + torch.randn(d, generator=g)  # offset and scales per dim


def test_the_search_finds_the_brute_force_nearest_neighbour() -> None:
    queries, keys = random_rows(37, 12, 0), random_rows(53, 12, 1)
    assert torch.equal(nn_method.nearest(queries, keys), brute_nearest(queries, keys))


def test_centring_changes_the_match() -> None:
    """Without centring a common offset decides; the centred search is not the plain cosine one."""
    queries, keys = random_rows(64, 8, 2) + 5, random_rows(64, 8, 3) + 5
    plain = (nn_method._unit(queries) @ nn_method._unit(keys).T).argmax(1)
    assert not torch.equal(nn_method.nearest(queries, keys), plain)


@pytest.mark.parametrize("chunk", [1, 5, 52, 53, 54, 999, 53 * 37])
def test_chunked_search_equals_one_block(chunk: int) -> None:
    queries, keys = random_rows(37, 16, 4), random_rows(53, 16, 5)
    whole = nn_method.nearest(queries, keys, chunk_elements=1 << 30)
    assert torch.equal(nn_method.nearest(queries, keys, chunk_elements=chunk), whole)


def test_repeated_keys_give_the_same_target_row_whichever_copy_is_picked() -> None:
    keys = torch.cat([random_rows(4, 6, 6)] * 3)  # every key three times
    queries = random_rows(9, 6, 7)
    expected = keys[brute_nearest(queries, keys)]
    for chunk in (1, 4, 5, 100):
        assert torch.equal(keys[nn_method.nearest(queries, keys, chunk_elements=chunk)], expected)


def test_hypercolumns_scale_each_layer_by_its_channels_and_share_one_grid() -> None:
    features = {"a": torch.ones(1, 4, 16, 16), "b": torch.ones(1, 8, 4, 4) * 2}
    h = nn_method.hypercolumns(features, ("a", "b"), (8, 8))
    assert h.shape == (1, 12, 8, 8)
    torch.testing.assert_close(h[0, :4], torch.full((4, 8, 8), 0.25))
    torch.testing.assert_close(h[0, 4:], torch.full((8, 8, 8), 0.25))


def test_layers_are_every_relu_of_the_blocks() -> None:
    assert nn_method.hypercolumn_layers(VGG16, 4) == ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2",
                                                      "relu3_3", "relu4_1", "relu4_2", "relu4_3")
    assert nn_method.hypercolumn_layers(backbones.get("vgg19"), 2) == ("relu1_1", "relu1_2", "relu2_1", "relu2_2")


def stage(eng16: Engine, styles: list[torch.Tensor], content: torch.Tensor, blend: list[float] | None = None,
          coverage: list[torch.Tensor] | None = None, style_masks: list[torch.Tensor | None] | None = None,
          **params: object) -> StageContext:
    p = StyleParams(**{"style_loss": "neighbour", **params}).validated(n_styles=len(styles), network="vgg16")
    layers = get("neighbour").layers(p)
    net = FeatureNet(eng16.convs, layers)
    return StageContext(params=p, backbone=VGG16, layers=layers, layer_weights=(1 / len(layers),) * len(layers), styles=styles,
                        blend=blend or [1 / len(styles)] * len(styles), coverage=coverage,
                        style_masks=style_masks or [None] * len(styles), features=net, content=content, start=content)


def keys_of(ctx: StageContext, index: int) -> torch.Tensor:
    with torch.no_grad():
        return nn_method.Neighbour()._keys(ctx, ctx.styles[index], ctx.style_masks[index], ctx.layers, ctx.params.neighbour_stride)


def queries_of(ctx: StageContext) -> torch.Tensor:
    grid = nn_method.grid_size(ctx.content.shape[-2], ctx.content.shape[-1], ctx.params.neighbour_stride)
    with torch.no_grad():
        return nn_method._rows(nn_method.hypercolumns(ctx.features(ctx.content), ctx.layers, grid))


def one_target(grid: tuple[int, int], target: torch.Tensor) -> nn_method._Term:
    """A term of layer "a" whose every cell's target is ``target``."""
    return nn_method._Term(("a",), grid, [nn_method._Part(target[None], torch.zeros(grid, dtype=torch.long), None)])


def target_rows(term: nn_method._Term) -> torch.Tensor:
    return term.targets()[0][0].flatten(1).T


@pytest.mark.parametrize("rotations", [True, False])
def test_each_target_is_the_brute_force_nearest_style_hypercolumn(eng16: Engine, rotations: bool) -> None:
    content = images.to_tensor(content_image(40, 32))
    style = images.to_tensor(style_image(28))
    ctx = stage(eng16, [style], content, neighbour_rotations=rotations, neighbour_content_mix=1.0)
    term = get("neighbour").prepare(ctx)
    keys = keys_of(ctx, 0)
    assert keys.shape[0] == (4 if rotations else 1) * 7 * 7
    expected = nn_method._unit(keys[brute_nearest(queries_of(ctx), keys)])
    torch.testing.assert_close(target_rows(term), expected)


def test_rotated_keys_are_the_rotated_image_s_features(eng16: Engine) -> None:
    style = images.to_tensor(style_image(24))[..., :20]  # not square: rotations change the grid's shape
    ctx = stage(eng16, [style], images.to_tensor(content_image(32, 32)))
    keys = keys_of(ctx, 0)
    turned = nn_method._rows(nn_method.hypercolumns(ctx.features(torch.rot90(style, 1, (-2, -1))), ctx.layers, (5, 6)))
    assert keys.shape[0] == 4 * 30
    torch.testing.assert_close(keys[30:60], turned)


def test_loss_is_zero_at_the_target_and_decreases_through_a_run(eng16: Engine) -> None:
    snaps = list(eng16.run(eng16.job(content_image(64, 48), [style_image(64)], StyleParams(**{**FAST, "snapshot_every": 1}))))
    style = [s.losses["style"] for s in snaps]
    assert style[-1] < 0.8 * style[0], style
    # 1 - cos against itself: the term of an image whose hypercolumns are the targets is 0
    term = one_target((4, 4), torch.ones(3) / 3**0.5)
    assert abs(float(term({"a": torch.full((1, 3, 4, 4), 2.0)}))) < 1e-5  # fp32 rounding of the cosine, x GAIN
    # and GAIN x the mean of 1 - cos elsewhere: orthogonal hypercolumns give exactly GAIN
    orthogonal = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert float(term({"a": orthogonal})) == pytest.approx(nn_method.GAIN, rel=1e-5)


def test_the_loss_decreases_on_vgg19_too_and_is_seeded(eng: Engine) -> None:
    run = [list(eng.run(eng.job(content_image(64, 48), [style_image(64)], StyleParams(**{**FAST, "snapshot_every": 1}))))
           for _ in range(2)]
    assert run[0][-1].losses["style"] < run[0][0].losses["style"]
    assert torch.equal(run[0][-1].image, run[1][-1].image)


def test_blends_pool_keys_in_proportion_to_shares() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.zeros(100, 3), torch.ones(60, 3)
    pooled = nn_method.pooled_keys([a, b], [0.25, 0.75], 10_000, g)
    assert (pooled[:, 0] == 0).sum() == 20 and (pooled[:, 0] == 1).sum() == 60  # b keeps all: 60 x 0.25/0.75 of a
    capped = nn_method.pooled_keys([a, b], [0.5, 0.5], 40, g)
    assert (capped[:, 0] == 0).sum() == 20 and (capped[:, 0] == 1).sum() == 20
    only_b = nn_method.pooled_keys([a, b], [0.0, 1.0], 10_000, g)
    assert bool((only_b == 1).all()) and only_b.shape[0] == 60


def test_two_styles_targets_come_from_the_pool(eng16: Engine) -> None:
    content = images.to_tensor(content_image(32, 32))
    red = red_stripes()
    stripes = images.to_tensor(style_image(24))
    both = get("neighbour").prepare(stage(eng16, [red, stripes], content, neighbour_content_mix=1.0, neighbour_rotations=False))
    alone = get("neighbour").prepare(stage(eng16, [stripes], content, neighbour_content_mix=1.0, neighbour_rotations=False))
    red_only = get("neighbour").prepare(stage(eng16, [red, stripes], content, blend=[1.0, 0.0], neighbour_content_mix=1.0,
                                              neighbour_rotations=False))
    pooled = torch.cat([keys_of(stage(eng16, [red], content, neighbour_rotations=False), 0),
                        keys_of(stage(eng16, [stripes], content, neighbour_rotations=False), 0)])
    queries = queries_of(stage(eng16, [red], content))
    torch.testing.assert_close(target_rows(both), nn_method._unit(pooled[brute_nearest(queries, pooled)]))
    assert not torch.allclose(target_rows(both), target_rows(alone))
    red_keys = nn_method._unit(keys_of(stage(eng16, [red], content, neighbour_rotations=False), 0))
    assert all(bool((red_keys - row).abs().amax(1).min() < 1e-5) for row in target_rows(red_only))


def test_regions_match_each_style_only_against_its_own_keys(eng16: Engine) -> None:
    content = images.to_tensor(content_image(32, 32))
    red = red_stripes()
    stripes = images.to_tensor(style_image(24))
    left = torch.zeros(1, 1, 32, 32)
    left[..., :16] = 1
    ctx = stage(eng16, [red, stripes], content, coverage=[left, 1 - left], neighbour_rotations=False, neighbour_content_mix=1.0)
    term = get("neighbour").prepare(ctx)
    queries, rows = queries_of(ctx), target_rows(term).reshape(8, 8, -1)
    grid_q = queries.reshape(8, 8, -1)
    for index, columns in ((0, slice(0, 4)), (1, slice(4, 8))):
        keys = keys_of(ctx, index)
        q = grid_q[:, columns].reshape(-1, queries.shape[1])
        # each region's queries alone are centred by their own mean, as the engine searches them
        expected = nn_method._unit(keys[nn_method.nearest(q, keys)])
        torch.testing.assert_close(rows[:, columns].reshape(-1, queries.shape[1]), expected)
    assert torch.equal(term.targets()[1], torch.ones(1, 1, 8, 8))


def test_uncovered_cells_have_no_style_loss(eng16: Engine) -> None:
    content = images.to_tensor(content_image(32, 32))
    half = torch.zeros(1, 1, 32, 32)
    half[..., :16] = 1
    term = get("neighbour").prepare(stage(eng16, [images.to_tensor(style_image(24))], content, coverage=[half]))
    assert float(term.targets()[1][..., 4:].abs().sum()) == 0 and float(target_rows(term).reshape(8, 8, -1)[:, 4:].abs().sum()) == 0


def test_a_style_mask_keeps_only_its_cells(eng16: Engine) -> None:
    style = images.to_tensor(style_image(32))
    own = torch.zeros(1, 1, 32, 32)
    own[..., :16] = 1
    ctx = stage(eng16, [style], images.to_tensor(content_image(32, 32)), style_masks=[own], neighbour_rotations=False)
    full = keys_of(stage(eng16, [style], ctx.content, neighbour_rotations=False), 0).reshape(8, 8, -1)
    torch.testing.assert_close(keys_of(ctx, 0), full[:, :4].reshape(32, -1))


def test_an_engine_run_with_regions_blends_and_style_masks(eng16: Engine) -> None:
    mask = Image.new("L", (48, 32), 0)
    ImageDraw.Draw(mask).rectangle([0, 0, 23, 32], fill=255)
    job = eng16.job(content_image(48, 32), [style_image(32), Image.new("RGB", (20, 20), (30, 40, 220))],
                    StyleParams(**{**FAST, "iterations": 3, "style_blend": (0.3, 0.7)}), masks=[mask, None],
                    style_masks=[mask.resize((32, 32)), None])
    final = list(eng16.run(job))[-1]
    assert final.stopped == "completed" and torch.isfinite(final.image).all()


def test_refusals_name_the_field() -> None:
    with pytest.raises(FieldError, match="^style_layer_weights: applies only with style_loss=gram or w2"):
        StyleParams(style_loss="neighbour", style_layer_weights=(1, 1, 1, 1, 1)).validated(n_styles=1)
    for name, value in (("neighbour_stride", 0), ("neighbour_content_mix", 1.5), ("neighbour_blocks", 6), ("neighbour_keys", 1)):
        with pytest.raises(FieldError, match=f"^{name}: "):
            StyleParams(style_loss="neighbour", **{name: value}).validated(n_styles=1)


def test_its_params_appear_in_the_schema_only_for_it() -> None:
    schema = StyleParams.schema()
    assert "neighbour" in schema["style_loss"]["choices"]
    for name in ("neighbour_rotations", "neighbour_content_mix", "neighbour_stride", "neighbour_keys", "neighbour_blocks"):
        assert schema[name]["when"] == {"style_loss": "neighbour"}


def test_memory_model_counts_keys_targets_and_grows_with_size() -> None:
    base = StyleParams(style_loss="neighbour", network="vgg16")
    method = get("neighbour")
    small, large = (method.state_bytes(base, VGG16, s * s, 1, s * s, s * s) for s in (256, 512))
    assert small < large
    assert large > 5 * (512 // 4) ** 2 * 2688 * 4  # the targets and the iteration's columns
    fewer = StyleParams(style_loss="neighbour", neighbour_rotations=False)
    # a 256 px style: 4097 cells, four turns of it 16 388, capped at neighbour_keys
    assert method.state_bytes(fewer, VGG16, 256 * 256, 1, 512 * 512, 512 * 512) < method.state_bytes(base, VGG16, 256 * 256, 1, 512 * 512, 512 * 512)
    estimates = [memory.estimate_bytes(StyleParams(style_loss=loss, network="vgg16", size=512), (512, 384), [(512, 512)])
                 for loss in ("gram", "neighbour")]
    assert estimates[1] > estimates[0]


def test_a_tiled_stage_costs_its_tiles_columns_and_an_index_per_cell() -> None:
    """Tiled, what grows with the stage is one key index per cell, not a hypercolumn per cell."""
    method, params = get("neighbour"), StyleParams(style_loss="neighbour", network="vgg16")
    tile = 640 * 640
    at_2048, at_4096 = (method.state_bytes(params, VGG16, 1024 * 1024, 1, s * s * 3 // 4, tile) for s in (2048, 4096))
    cells_added = (4096**2 - 2048**2) * 3 // 4 // 16
    assert at_4096 - at_2048 == pytest.approx(cells_added * 8, rel=0.01)
    assert at_2048 < method.state_bytes(params, VGG16, 1024 * 1024, 1, 2048 * 1536, 2048 * 1536) / 3  # a 640 px tile: 1/7.7 of the cells (the key pool is the same)


def test_a_blank_cell_gives_a_finite_gradient() -> None:
    """All-zero features at a cell (relu of a flat region can be) have no direction: the gradient stays finite
    (the norm is clamped before its root, whose derivative at 0 is infinite)."""
    term = one_target((2, 2), torch.ones(3) / 3**0.5)
    features = torch.rand(1, 3, 2, 2)
    features[..., 0, 0] = 0
    features.requires_grad_(True)
    term({"a": features}).backward()
    assert features.grad is not None and bool(torch.isfinite(features.grad).all())


# -- tiled stages ----------------------------------------------------------------------------------------

def test_a_tile_s_term_holds_the_targets_of_its_cells_and_scores_them_as_the_whole_does() -> None:
    g = torch.Generator().manual_seed(3)
    keys = nn_method._unit(torch.randn(20, 64, generator=g))
    grid = (6, 8)  # a 32 x 24 px stage, 4 px cells
    term = nn_method._Term(("relu1_1",), grid, [nn_method._Part(keys, torch.randint(0, 20, grid, generator=g), None)])
    features = torch.rand(1, 64, 24, 32, generator=g)
    box = (8, 4, 24, 20)  # x0, y0, x1, y1: cells 1..4 down, 2..5 across
    tile = term.within(box, (32, 24))
    assert tile.grid == (4, 4)
    torch.testing.assert_close(tile.targets()[0], term.targets()[0][..., 1:5, 2:6])
    whole = nn_method.to_grid(features, grid)[..., 1:5, 2:6] / 64
    cos = (whole * term.targets()[0][..., 1:5, 2:6]).sum(1) / 64 / (whole.square().sum(1) / 64**2).sqrt()
    expected = nn_method.GAIN * (1 - cos).mean()
    torch.testing.assert_close(tile({"relu1_1": features[..., 4:20, 8:24]}), expected.view(1))


@pytest.mark.parametrize("regions", [False, True])
def test_one_piece_covering_the_stage_gives_the_untiled_targets(eng16: Engine, regions: bool) -> None:
    """The tiled path (two passes, queries centred on the stage's mean) is the untiled search when one piece is all."""
    content = images.to_tensor(content_image(40, 32))
    styles = [images.to_tensor(style_image(28)), red_stripes(28)]
    left = torch.zeros(1, 1, 32, 40)
    left[..., :20] = 1
    coverage = [left, 1 - left] if regions else None
    whole = get("neighbour").prepare(stage(eng16, styles, content, coverage=coverage))
    one = (0, 0, 40, 32)
    piece = stage(eng16, styles, content, coverage=coverage)
    pieced = get("neighbour").prepare(StageContext(**{**piece.__dict__, "pieces": [(one, one)]}))
    for a, b in zip(whole.parts, pieced.parts, strict=True):
        assert torch.equal(a.index, b.index)


def test_tiled_targets_agree_with_the_whole_stage_s_where_tiles_see_a_margin(eng16: Engine) -> None:
    """Seeded random VGG16, a 96 x 64 stage in 48 px cores: the share of cells whose key is the untiled one was
    0.47 with no margin and 0.90 with 16 px (a crop's padded rim changes its deep features)."""
    from stylize import tiles

    content = images.to_tensor(content_image(96, 64))
    ctx = stage(eng16, [images.to_tensor(style_image(48))], content)
    whole = get("neighbour").prepare(ctx).parts[0].index
    same = {}
    for margin in (0, 16):
        pieces = tiles.pieces((96, 64), tiles.TileSettings(threshold_pixels=1, tile=48, margin=margin))
        assert len(pieces) == 4  # 2 x 2 cores
        tiled = get("neighbour").prepare(StageContext(**{**ctx.__dict__, "pieces": pieces})).parts[0].index
        same[margin] = float((whole == tiled).float().mean())
    assert same[16] > 0.85 and same[16] > same[0] + 0.2, same


# -- the layout term -------------------------------------------------------------------------------------

def test_the_layout_term_is_zero_for_the_reference_under_any_scale_and_not_for_a_shuffle() -> None:
    g = torch.Generator().manual_seed(5)
    rows = torch.rand(12, 16, generator=g)
    layout = nn_method._Layout(torch.arange(12), nn_method.self_distances(rows), 2.0)
    assert float(layout(rows[None])) == pytest.approx(0.0, abs=1e-6)
    assert float(layout(3.0 * rows[None])) == pytest.approx(0.0, abs=1e-6)  # brighter, same layout
    shuffled = rows[torch.randperm(12, generator=g)]
    assert float(layout(shuffled[None])) > 0.05


def test_a_tile_s_layout_is_the_sampled_cells_inside_it() -> None:
    reference = torch.arange(16.0).view(4, 4)
    layout = nn_method._Layout(torch.tensor([0, 5, 10, 23]), reference, 1.0)  # grid 4 x 6: cells (0,0) (0,5) (1,4) (3,5)
    cut = layout.cut(nn_method._Cells(0, 2, 3, 6), (4, 6))  # rows 0-1, columns 3-5
    assert cut.cells.tolist() == [2, 4]  # (0,5) and (1,4) in the 2 x 3 block
    assert torch.equal(cut.reference, reference[[1, 2]][:, [1, 2]])


def test_the_layout_reference_is_the_queries_self_distances_and_the_term_pulls_toward_it(eng16: Engine) -> None:
    content = images.to_tensor(content_image(40, 32))
    ctx = stage(eng16, [images.to_tensor(style_image(28))], content, neighbour_content_mix=1.0, neighbour_layout_weight=3.0)
    term = get("neighbour").prepare(ctx)
    assert term.layout is not None and term.layout.cells.numel() == 10 * 8  # fewer cells than LAYOUT_CELLS: all of them
    queries = queries_of(ctx)
    torch.testing.assert_close(term.layout.reference, nn_method.self_distances(queries[term.layout.cells]))
    off = get("neighbour").prepare(stage(eng16, [images.to_tensor(style_image(28))], content, neighbour_content_mix=1.0))
    assert off.layout is None
    # from a flat grey picture, the term with the layout is higher than without, by the layout's share
    grey = {k: v for k, v in ctx.features(torch.full_like(content, 0.5)).items()}
    assert float(term(grey)) > float(off(grey)) + 0.1


@pytest.mark.parametrize("tiled", [False, True])
def test_runs_with_the_layout_term_are_finite_and_seeded(eng16: Engine, tiled: bool) -> None:
    from stylize import tiles

    engine = Engine(*weights.obtain("random", seed=0, network="vgg16"), "cpu",
                    tiling=tiles.TileSettings(threshold_pixels=32 * 32, tile=32, overlap=8, margin=8, steps=2, style_side=48)) if tiled else eng16
    params = StyleParams(**{**FAST, "neighbour_layout_weight": 5.0})
    finals = [list(engine.run(engine.job(content_image(64, 48), [style_image(48)], params)))[-1] for _ in range(2)]
    assert torch.isfinite(finals[0].image).all() and torch.equal(finals[0].image, finals[1].image)
    assert finals[0].losses["style"] > 0
