"""StyleParams: defaults, parsing of loosely typed input, and one validation error per field."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from stylize import MAX_STYLES, FieldError, StyleParams


def test_defaults_are_valid_and_documented() -> None:
    params = StyleParams().validated(n_styles=1)
    schema = StyleParams.schema()
    assert set(schema) == {f.name for f in fields(StyleParams)}
    for name, spec in schema.items():
        assert spec["help"], name
        assert spec["default"] == params.as_dict()[name] or spec["default"] is None


BAD_VALUES = [
    ("size", 8), ("size", 4097), ("size", 64.5), ("size", math.nan), ("size", "big"),
    ("iterations", 0), ("iterations", 10**6), ("iterations", math.inf),
    ("content_weight", -1.0), ("content_weight", math.nan),
    ("style_weight", -5.0), ("style_weight", 1e12), ("style_weight", math.inf),
    ("tv_weight", -0.1), ("tv_weight", -math.inf),
    ("style_scale", 0.01), ("style_scale", 10.0),
    ("preserve_colors", "maybe"),
    ("pooling", "min"), ("network", "resnet50"),
    ("content_layers", "relu9_9"), ("content_layers", ""),
    ("style_layers", "relu1_1,relu1_1"), ("style_layers", "pool7"),
    ("style_layer_weights", "1,2"), ("style_layer_weights", "1,x,1,1,1"), ("style_layer_weights", "-1,1,1,1,1"),
    ("init", "zeros"),
    ("optimizer", "sgd"),
    ("precision", "fp16"),
    ("style_loss", "mse"), ("average", "mean"), ("average_decay", 1.0), ("average_decay", -0.5),
    ("schedule", "cosine"),
    ("image_param", "wavelets"), ("pyramid_levels", 1), ("pyramid_levels", 11),
    ("colour_match", "rgb"), ("colour_transform", "pca"),
    ("learning_rate", 0.0), ("learning_rate", 5.0),
    ("seed", -1), ("seed", 2**40),
    ("snapshot_every", -1),
    ("multiscale", "sometimes"),
    ("time_budget_s", 0.0), ("time_budget_s", -3), ("time_budget_s", math.nan),
    ("style_blend", "0,0"), ("style_blend", "1,nan"), ("style_blend", "-1,2"), ("style_blend", "a,b"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v!r}" for n, v in BAD_VALUES])
def test_each_bad_value_names_its_field(name: str, value: object) -> None:
    with pytest.raises(FieldError) as err:
        StyleParams.from_mapping({name: value}).validated(n_styles=2)
    assert err.value.field == name
    assert str(err.value).startswith(f"{name}: ")


def test_every_core_field_has_a_validation_case() -> None:
    from stylize.params import CoreParams

    covered = {name for name, _ in BAD_VALUES}
    assert covered == {f.name for f in fields(CoreParams)}


def method_cases() -> list[tuple[str, object]]:
    """A style method's own fields are checked from their schema: beyond the range, outside the choices."""
    from stylize.params import CoreParams

    core = {f.name for f in fields(CoreParams)}
    cases: list[tuple[str, object]] = []
    for name, spec in StyleParams.schema().items():
        if name in core:
            continue
        if "max" in spec:
            cases += [(name, spec["max"] * 2 + 1), (name, math.nan)]
        if "choices" in spec:
            cases.append((name, "not-a-choice"))
        if spec["type"] == "bool":
            cases.append((name, "maybe"))
    return cases


@pytest.mark.parametrize(("name", "value"), method_cases() or [("style_loss", "mse")])
def test_each_method_field_refuses_a_bad_value_by_name(name: str, value: object) -> None:
    with pytest.raises(FieldError) as err:
        StyleParams.from_mapping({name: value}).validated(n_styles=1)
    assert err.value.field == name


def test_wrong_python_types_are_rejected() -> None:
    with pytest.raises(FieldError, match="^size: must be a number"):
        StyleParams(size="64").validated()  # type: ignore[arg-type]
    with pytest.raises(FieldError, match="^preserve_colors: "):
        StyleParams(preserve_colors=1).validated()  # type: ignore[arg-type]
    with pytest.raises(FieldError, match="^iterations: must be a number"):
        StyleParams(iterations=True).validated()


def test_unknown_field_is_an_error_not_dropped() -> None:
    with pytest.raises(FieldError, match="^colour: unknown parameter"):
        StyleParams.from_mapping({"colour": "red"})


def test_a_setting_that_does_not_apply_is_refused_unless_it_is_the_default() -> None:
    """Nothing sent is silently ignored: a field whose schema `when` the job's other choices do not meet is a 400
    naming it, unless it holds its default (a form that sends every field as it stands still passes)."""
    for values, field, says in (({"style_layers": "relu1_1"}, "style_layers", "style_loss=gram or w2; this job has style_loss=neighbour"),
                                ({"style_loss": "w2", "style_layer_weights": "1,1,1,1,1"}, None, None),
                                ({"style_layer_weights": "1,1,1,1,1"}, "style_layer_weights", "style_loss=gram or w2"),
                                ({"style_loss": "gram", "neighbour_stride": "8"}, "neighbour_stride", "style_loss=neighbour; this job has style_loss=gram"),
                                ({"pyramid_levels": "3"}, "pyramid_levels", "image_param=pyramid; this job has image_param=pixels"),
                                ({"image_param": "pyramid", "pyramid_levels": "3"}, None, None)):
        if field is None:
            StyleParams.from_mapping(values)
            continue
        with pytest.raises(FieldError) as err:
            StyleParams.from_mapping(values)
        assert err.value.field == field and says in err.value.message, err.value
    defaults = StyleParams.schema()
    sent_as_they_stand = {"style_loss": "gram", "neighbour_stride": str(defaults["neighbour_stride"]["default"]),
                          "style_layers": ",".join(defaults["style_layers"]["default"])}
    assert StyleParams.from_mapping(sent_as_they_stand).style_loss == "gram"
    assert StyleParams.from_mapping({k: v for k, v in sent_as_they_stand.items() if k != "style_loss"}).style_loss == "neighbour"


def test_form_strings_are_parsed() -> None:
    params = StyleParams.from_mapping({
        "size": "64", "iterations": "12", "style_weight": "1e4", "preserve_colors": "true", "multiscale": "off",
        "style_blend": "3, 1", "style_layers": "relu1_1,relu3_1", "style_layer_weights": "1,2", "pooling": "AVG",
        "time_budget_s": "2.5", "seed": "7", "style_loss": "gram",
    }).validated(n_styles=2)
    assert (params.size, params.iterations, params.style_weight, params.seed) == (64, 12, 1e4, 7)
    assert params.preserve_colors is True and params.multiscale is False
    assert params.style_layers == ("relu1_1", "relu3_1") and params.style_layer_weights == (1.0, 2.0)
    assert params.pooling == "avg" and params.time_budget_s == 2.5
    assert params.normalised_blend(2) == [0.75, 0.25]


def test_blend_length_must_match_styles_and_style_count_is_bounded() -> None:
    with pytest.raises(FieldError, match="^style_blend: needs 3 values"):
        StyleParams(style_blend=(1.0, 1.0)).validated(n_styles=3)
    with pytest.raises(FieldError, match="^style: between 1 and"):
        StyleParams().validated(n_styles=MAX_STYLES + 1)
    with pytest.raises(FieldError, match="^style: between 1 and"):
        StyleParams().validated(n_styles=0)
    assert StyleParams().normalised_blend(4) == [0.25] * 4


def test_json_values_are_accepted() -> None:
    params = StyleParams.from_mapping({"size": 64.0, "style_blend": [1, 3], "preserve_colors": False, "time_budget_s": None})
    assert params.size == 64 and isinstance(params.size, int)
    assert params.style_blend == (1.0, 3.0)


def test_kinds_come_from_the_annotations() -> None:
    from stylize.params import _KINDS

    assert _KINDS["size"] is int and _KINDS["time_budget_s"] is float and _KINDS["multiscale"] is bool
    assert _KINDS["pooling"] is str and _KINDS["style_blend"] is tuple and _KINDS["content_layers"] is tuple
    assert set(_KINDS) == set(StyleParams.schema())


def test_limits_are_written_as_people_write_them() -> None:
    from stylize.params import number_text

    assert [number_text(v) for v in (2147483647, 1e9, 1e6, 86400, 0.001, 1e-5, 0.1, 16, 0)] == [
        "2147483647", "1e9", "1e6", "86400", "0.001", "1e-05", "0.1", "16", "0"]
    with pytest.raises(FieldError) as info:
        StyleParams(seed=2**32).validated()
    assert str(info.value) == "seed: must be between 0 and 2147483647, got 4294967296"


def test_network_defaults_to_the_servers_and_vgg16_lacks_the_fourth_convs() -> None:
    assert StyleParams().validated(network="vgg16").network == "vgg16"
    assert StyleParams(network="vgg19").validated().network == "vgg19"
    with pytest.raises(FieldError) as err:
        StyleParams(network="vgg19").validated(network="vgg16")
    assert err.value.field == "network" and "vgg16" in err.value.message
    with pytest.raises(FieldError) as err:
        StyleParams(style_loss="gram", style_layers=("relu1_1", "relu4_4")).validated(network="vgg16")
    assert err.value.field == "style_layers" and "relu4_3" in err.value.message
    with pytest.raises(FieldError) as err:
        StyleParams(content_layers=("relu5_4",), network="vgg16").validated()
    assert err.value.field == "content_layers"
    assert StyleParams(style_loss="gram", style_layers=("relu4_4",)).validated(network="vgg19").style_layers == ("relu4_4",)
