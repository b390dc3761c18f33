"""serving.request: one request's fields -> a validated job, or a 400/413 naming the field."""

from __future__ import annotations

import base64
import json

import pytest
from images_util import content_image, style_image, to_bytes
from serving.request import Limits, parse, parse_plan
from serving.responses import refusal
from stylize.errors import FieldError

CONTENT = to_bytes(content_image(64, 48))
STYLE = to_bytes(style_image(40))


def fields(**extra: object) -> dict[str, object]:
    return {"content": bytearray(CONTENT), "style": bytearray(STYLE), **extra}


def refused(field_name: str, status: int = 400, **kw: object) -> FieldError:
    with pytest.raises(FieldError) as info:
        parse(**kw)  # type: ignore[arg-type]
    assert info.value.field == field_name, str(info.value)
    answer = refusal(info.value)
    assert answer.status == status
    assert json.loads(answer.body)["message"].startswith(f"{field_name}: ")
    return info.value


def test_multipart_fields_become_params_and_images() -> None:
    job = parse(fields(size="48", iterations="5", preserve_colors="true", style_blend="1"))
    assert job.job.params.size == 48 and job.job.params.iterations == 5 and job.job.params.preserve_colors is True
    assert job.job.content.size == (64, 48) and len(job.job.styles) == 1
    assert job.response == "png"


def test_text_fields_may_arrive_as_bytes() -> None:
    assert parse(fields(size=b"32")).job.params.size == 32


@pytest.mark.parametrize(("accept", "field", "expected"), [
    (None, None, "png"), ("*/*", None, "png"), ("image/png", None, "png"),
    ("application/x-ndjson", None, "stream"), ("application/json", None, "json"),
    ("application/json", "stream", "stream"), (None, "JSON", "json"),
])
def test_response_form_from_field_or_accept(accept: str | None, field: str | None, expected: str) -> None:
    extra = {"response": field} if field else {}
    assert parse(fields(**extra), accept=accept).response == expected


def test_bad_response_form() -> None:
    refused("response", fields_in=fields(response="gif"))


def test_several_styles_in_order_with_blend() -> None:
    other = to_bytes(style_image(32, ((0, 0, 0), (255, 255, 255))))
    job = parse(fields(style_2=other, style_blend="3,1"))
    assert [s.size for s in job.job.styles] == [(40, 40), (32, 32)]
    assert job.job.params.normalised_blend(2) == [0.75, 0.25]


def test_blend_length_must_match_styles() -> None:
    refused("style_blend", fields_in=fields(style_blend="1,1"))


def test_style_numbering_gaps_and_overflow() -> None:
    refused("style_3", fields_in=fields(style_3=STYLE))
    refused("style_9", fields_in=fields(style_9=STYLE))
    refused("style_2", fields_in=fields(style_2=STYLE, style_3=STYLE), limits=Limits(max_styles=1))


def test_repeated_fields_are_refused_not_dropped() -> None:
    err = refused("style", fields_in=fields(), repeated=frozenset({"style"}))
    assert "style_2" in str(err)


@pytest.mark.parametrize("missing", ["content", "style"])
def test_missing_image(missing: str) -> None:
    data = fields()
    del data[missing]
    refused(missing, fields_in=data)


def test_unknown_parameter_is_named() -> None:
    refused("colour", fields_in=fields(colour="red"))


@pytest.mark.parametrize(("name", "value"), [("size", "nan"), ("size", "inf"), ("size", "-5"), ("size", "1e9"), ("size", "big"),
                                             ("iterations", "0"), ("style_weight", "-inf"), ("seed", "1.5")])
def test_bad_numbers(name: str, value: str) -> None:
    refused(name, fields_in=fields(**{name: value}))


def test_server_limits_on_size_iterations_and_work() -> None:
    limits = Limits(max_size=256, max_iterations=100, max_work=128 * 128 * 50)
    refused("size", fields_in=fields(size="300"), limits=limits)
    refused("iterations", fields_in=fields(iterations="150", size="64"), limits=limits)
    err = refused("iterations", fields_in=fields(size="256", iterations="60"), limits=limits)
    assert "at most 16 iterations" in str(err)  # the 4:3 content makes 256x192 output pixels
    assert parse(fields(size="128", iterations="50"), limits=limits).job.params.iterations == 50
    # Output pixels, not size squared: 128x96 x 66 fits the budget that 128x128 x 66 would exceed.
    assert parse(fields(size="128", iterations="66"), limits=limits).job.params.iterations == 66


@pytest.mark.parametrize(("name", "value"), [("size", "99999"), ("size", "2000"), ("size", "1025"), ("iterations", "9999"),
                                            ("iterations", "2001")])
def test_a_value_beyond_this_servers_limit_gets_one_message_naming_that_limit(name: str, value: str) -> None:
    # The engine's own range (size up to 2048, iterations up to 10000) is never quoted on a smaller server:
    # 99999 and 2000 get the same message, with this server's limit.
    limits = Limits(max_size=1024, max_iterations=2000, max_work=10**12)
    low, high = {"size": (16, 1024), "iterations": (1, 2000)}[name]
    err = refused(name, fields_in=fields(**{name: value}), limits=limits)
    assert str(err) == f"{name}: must be between {low} and {high}, got {value}"


def test_defaults_beyond_a_small_servers_limit_adapt_instead_of_failing() -> None:
    job = parse(fields(), limits=Limits(max_size=256, max_iterations=100, max_work=10**12))
    assert (job.job.params.size, job.job.params.iterations) == (256, 100)


def test_time_budget_is_capped_by_the_server() -> None:
    limits = Limits(max_time_s=60)
    assert parse(fields(), limits=limits).job.params.time_budget_s == 60
    assert parse(fields(time_budget_s="10"), limits=limits).job.params.time_budget_s == 10
    assert parse(fields(time_budget_s="600"), limits=limits).job.params.time_budget_s == 60


def test_byte_limits_are_413_in_mb_with_the_way_out() -> None:
    big = bytes(CONTENT) + b"\0" * 200_000  # trailing bytes: still a PNG, 0.2 MB
    one = refused("content", 413, fields_in=fields(size="256", content=big), limits=Limits(max_image_bytes=150_000))
    assert f"is {len(big) / 1e6:.1f} MB, over this server's limit of 0.1 MB per image" in one.message, one.message
    # the fix: what the job reads (256 px: 0.07 megapixels, rounded up to a tenth)
    assert one.message.endswith("the web app downscales for you; or send at most 0.1 megapixels "
                                "(this job reads it at most 256 px on its longest side)"), one.message
    style = refused("style", 413, fields_in=fields(size="1024", style_scale="2", style=big), limits=Limits(max_image_bytes=150_000))
    assert "at most 4.2 megapixels (this job reads it at most 2048 px" in style.message, style.message
    total = refused("content", 413, fields_in=fields(content=big, style=big), limits=Limits(max_request_bytes=300_000))
    assert "MB, over this server's limit of" in total.message and "per request; the web app downscales for you" in total.message
    assert "bytes" not in one.message + style.message + total.message


def test_a_content_smaller_than_the_servers_minimum_is_refused_naming_it() -> None:
    tiny = to_bytes(content_image(15, 40))
    err = refused("content", fields_in={**fields(), "content": tiny})
    assert err.message == "is 15x40 px; this server needs at least 16 px on each side (min_content_side): send a larger photo"
    assert parse({**fields(), "content": to_bytes(content_image(16, 16))}).job.content.size == (16, 16)
    one_pixel = refused("content", fields_in={**fields(), "content": to_bytes(content_image(1, 1))}, limits=Limits(min_content_side=2))
    assert "at least 2 px" in one_pixel.message
    with pytest.raises(FieldError, match="^content: is 8x40 px; this server needs at least 16 px"):
        parse_plan({"response": "plan", "width": "8", "height": "40"})


def test_pixel_limit_refuses_before_decoding() -> None:
    from stylize.images import FieldError

    with pytest.raises(FieldError, match="content: .*over the limit of 0.003071 megapixels; the web app downscales for you; "
                                         "or send at most 0.3 megapixels"):
        parse(fields(), limits=Limits(max_pixels=64 * 48 - 1))


def test_text_file_as_image() -> None:
    from stylize.images import FieldError

    with pytest.raises(FieldError, match="^content: is not a supported image"):
        parse(fields(content="just some text"))
    refused("content", fields_in=fields(content={"a": 1}))


def test_json_body_with_base64_images_and_params() -> None:
    body = {"content": base64.b64encode(CONTENT).decode(), "style": [base64.b64encode(STYLE).decode()] * 2,
            "params": {"size": 32, "style_blend": [1, 1]}, "response": "json"}
    job = parse({"body": body})
    assert job.job.params.size == 32 and len(job.job.styles) == 2 and job.response == "json"
    raw = parse({"body": json.dumps({**body, "params": None} | {"params": {"size": 40}}).encode()})
    assert raw.job.params.size == 40


def test_json_body_accepts_data_urls_and_top_level_params() -> None:
    body = {"content": "data:image/png;base64," + base64.b64encode(CONTENT).decode(), "style": base64.b64encode(STYLE).decode(), "size": 24}
    assert parse({"body": body}).job.params.size == 24


@pytest.mark.parametrize(("body", "field_name"), [
    ({"content": "!!!", "style": "x"}, "content"),
    ({"content": 5, "style": "x"}, "content"),
    ({"content": base64.b64encode(CONTENT).decode(), "style": base64.b64encode(STYLE).decode(), "params": [1]}, "params"),
    ({"content": base64.b64encode(CONTENT).decode(), "style": base64.b64encode(STYLE).decode(), "size": 10, "params": {"size": 20}}, "size"),
    (b"{not json", "body"), (b"", "body"), (b"[1, 2]", "body"), (b"\x00\x01binary", "body"), ("plain text", "body"),
])
def test_bad_json_bodies(body: object, field_name: str) -> None:
    refused(field_name, fields_in={"body": body})


def test_query_string_fields_merge_with_a_json_body() -> None:
    body = {"content": base64.b64encode(CONTENT).decode(), "style": base64.b64encode(STYLE).decode()}
    assert parse({"body": body, "size": "20"}).job.params.size == 20
    refused("size", fields_in={"body": {**body, "size": 30}, "size": "20"})


def test_limits_from_model_config() -> None:
    assert Limits.from_mapping({"max_size": 512, "max_time_s": 30}).max_size == 512
    with pytest.raises(ValueError, match="max_sise"):
        Limits.from_mapping({"max_sise": 1})


def test_network_defaults_to_the_servers_and_another_is_a_400_naming_network() -> None:
    assert parse(fields(), network="vgg16").job.params.network == "vgg16"
    err = refused("network", fields_in=fields(network="vgg19"), network="vgg16")
    assert "holds vgg16" in err.message
    refused("style_layers", fields_in=fields(style_layers="relu1_1,relu3_4"), network="vgg16")
