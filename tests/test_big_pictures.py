"""Big pictures in the serving layer: 50 MP uploads shrink on arrival, bombs and over-size or over-budget jobs
are refused naming the field, stream snapshots are previews, the memory model and admission count tiles, and
/capabilities says how big a job this worker takes."""

from __future__ import annotations

import base64
import io
import itertools
import json
import struct
import zlib
from dataclasses import replace

import pytest
import torch
from images_util import style_image, to_bytes
from PIL import Image
from serving import capabilities, memory, records
from serving.admission import Admission
from serving.request import Limits, parse
from serving.responses import refusal
from stylize import Snapshot, StyleParams, images, precision, tiles
from stylize.errors import FieldError

CPU_TILES = tiles.for_device(torch.device("cpu"))
STYLE = to_bytes(style_image(40))


def _refused(field_name: str, **kw: object) -> str:
    with pytest.raises(FieldError) as info:
        parse(**kw)  # type: ignore[arg-type]
    assert info.value.field == field_name, str(info.value)
    answer = refusal(info.value)
    assert 400 <= answer.status < 500
    message = json.loads(answer.body)["message"]
    assert message.startswith(f"{field_name}: ")
    return message


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo_50mp() -> bytes:
    """A 8160 x 6120 (50 MP) JPEG, as a phone writes: smooth gradients, so it stays a few MiB."""
    small = Image.new("RGB", (204, 153))
    small.putdata([(x % 256, y % 256, (x + y) % 256) for y in range(153) for x in range(204)])
    buffer = io.BytesIO()
    small.resize((8160, 6120), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_a_50_mp_photo_is_accepted_and_shrunk_on_arrival(photo_50mp: bytes) -> None:
    assert len(photo_50mp) <= Limits().max_image_bytes
    request = parse({"content": photo_50mp, "style": STYLE, "size": "1024", "iterations": "10"})
    content = request.job.content
    # kept at twice the output's side (the engine's own resize makes the last step), never at 50 MP
    assert max(content.size) == 2048 and abs(content.size[0] / content.size[1] - 8160 / 6120) < 0.01


def test_shrinking_on_arrival_keeps_what_a_job_reads() -> None:
    big = to_bytes(Image.new("RGB", (3000, 2000), (200, 100, 50)), "PNG")
    assert images.decode(big, "content", fit=1000).size == (1000, 667)
    assert images.decode(big, "content", fit=4000).size == (3000, 2000)  # never enlarged
    request = parse({"content": big, "style": STYLE, "size": "2048", "iterations": "1"})
    assert request.job.content.size == (3000, 2000)  # within twice the output: untouched


def test_a_decompression_bomb_is_a_4xx_naming_its_field(photo_50mp: bytes) -> None:
    message = _refused("content", fields_in={"content": _png_header_only(100_000, 100_000), "style": STYLE})
    assert "decompression bomb" in message or "over the limit" in message
    _refused("style", fields_in={"content": photo_50mp, "style": _png_header_only(20_000, 20_000)})


def test_over_size_and_over_budget_jobs_are_refused_naming_the_field() -> None:
    content = to_bytes(Image.new("RGB", (400, 300), (10, 20, 30)), "PNG")
    limits = Limits(max_size=2048, max_work=2048 * 1536 * 20)
    assert "between 16 and 2048" in _refused("size", fields_in={"content": content, "style": STYLE, "size": "4096"}, limits=limits)
    assert "work budget" in _refused("iterations", fields_in={"content": content, "style": STYLE, "size": "2048", "iterations": "40"},
                                     limits=limits)
    assert "between 16 and 4096" in _refused("size", fields_in={"content": content, "style": STYLE, "size": "5000"})
    parse({"content": content, "style": STYLE, "size": "2048", "iterations": "20"}, limits=limits)  # at the budget: fine


def test_stream_snapshots_are_previews() -> None:
    def snap(w: int, h: int) -> Snapshot:
        return Snapshot(iteration=1, iterations=2, stage=1, stages=1, size=(w, h), losses={"total": 1.0}, elapsed_s=0.1,
                        image=torch.rand(3, h, w), weights="vgg19/random-init", tile=3, tiles=16)
    big = records.snapshot_record(snap(3000, 2000))
    picture = Image.open(io.BytesIO(base64.b64decode(big["image"])))
    assert picture.size == (1024, 683) and big["preview_size"] == [1024, 683] and big["size"] == [3000, 2000]
    assert (big["tile"], big["tiles"]) == (3, 16)
    assert len(json.dumps(big)) < 1_000_000  # noise is the worst case for a JPEG
    small = records.snapshot_record(snap(300, 200))
    assert Image.open(io.BytesIO(base64.b64decode(small["image"]))).size == (300, 200) and "preview_size" not in small


# -- memory ---------------------------------------------------------------------------------------------

def _estimate(size: int, tiling: tiles.TileSettings | None = CPU_TILES, **kw: object) -> int:
    params = StyleParams(size=size, **kw)  # type: ignore[arg-type]
    return memory.estimate_bytes(params, (4000, 3000), [(1024, 768)], "fp32", tiling)


def test_a_tiled_jobs_estimate_follows_its_tile_not_its_size() -> None:
    untiled = _estimate(1024)
    assert _estimate(1024, None) == untiled  # at or under the threshold nothing changes
    tiled = [_estimate(s) for s in (1400, 2048, 4096)]
    # beyond the largest untiled stage, only image-sized buffers grow: ~ 12 B x a few per output pixel
    per_pixel = (tiled[2] - tiled[1]) / (4096 * 3072 - 2048 * 1536)
    assert per_pixel < 120, per_pixel
    assert _estimate(4096, None) > 5 * tiled[2]  # untiled, the same job would need far more
    assert tiled[2] < 1.5 * untiled  # the largest untiled stage (L-BFGS history at 1 MP) stays the peak


def test_admission_counts_tiles() -> None:
    auto = precision.Resolution("fp32", "test")
    budget = _estimate(4096) + memory.MIB
    refusing = Admission(budget, lambda: auto)  # no tiling: a 4096 px job cannot fit
    tiling = Admission(budget, lambda: auto, tiling=CPU_TILES)

    class Job:
        params = StyleParams(size=4096)
        content_wh = (4000, 3000)
        style_whs = ((1024, 768),)

    class Request:  # the shape of a JobRequest, as far as admission reads it
        job = Job
    with pytest.raises(FieldError) as info:
        refusing.need(Request)  # type: ignore[arg-type]
    assert info.value.field == "size" and "at most" in str(info.value)
    assert tiling.need(Request) <= budget  # type: ignore[arg-type]


def test_capabilities_say_the_largest_size_and_the_tiling() -> None:
    limits = Limits()
    roomy = capabilities.sizes(limits, 9 * 1024**3, CPU_TILES, "fp32")  # 4096 px: 8.25 GiB (its picture-sized buffers)
    assert roomy["max_size"] == 4096 and roomy["tiled_above_pixels"] == 1024 * 1024 and roomy["tiling"]["tile"] == 512
    untiled = capabilities.sizes(limits, 9 * 1024**3, None, "fp32")
    assert 1024 < untiled["max_size"] < 2048 and untiled["tiling"] is None  # what the same memory took untiled
    # below the threshold tiling changes nothing: a small budget is held by the largest untiled stage
    tight = capabilities.sizes(limits, 2 * 1024**3, CPU_TILES, "fp32")
    assert tight["max_size"] == capabilities.sizes(limits, 2 * 1024**3, None, "fp32")["max_size"] < 1024


def test_sizes_past_1024_keep_growing_multiscale() -> None:
    params = replace(StyleParams(), size=4096, iterations=300)
    from stylize import planning

    sides = [max(st.size) for st in planning.plan(params, (4000, 3000))]
    assert sides[0] == 128 and sides[-1] == 4096 and all(b / a < 1.5 for a, b in itertools.pairwise(sides))


# -- loss parity ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("optimizer", "style_loss"), [("lbfgs", "gram"), ("adam", "gram"), ("lbfgs", "neighbour")])
def test_tiled_and_untiled_runs_reach_the_same_whole_image_loss(optimizer: str, style_loss: str) -> None:
    """The same job at 128 x 96 px, once whole and once in 64 px tiles with 16 px margins (the whole picture
    optimised, its gradient assembled tile by tile), each final picture's loss evaluated whole, untiled (seeded
    random-init VGG19 cut after relu2_1, fp32, a seeded noise style, 40 iterations). Measured: Gram +0.5 % with
    L-BFGS and +0.1 % with Adam, neighbour +1.0 %. Tile visits (a fresh optimiser per visit) read +5.7 % (Adam) to
    +62 % (L-BFGS), neighbour +8.5 %: the history of one optimiser over the whole picture is what closes the gap.
    A tiled stage reports its assembled loss: Gram's is the whole picture's statistics' own."""
    import numpy as np
    from stylize import Engine, weights
    from stylize.run import Run

    state, info = weights.obtain("random", seed=0)
    tiling = tiles.TileSettings(threshold_pixels=64 * 64, tile=64, margin=16, style_side=128)
    tiled, whole = Engine(state, info, "cpu", tiling=tiling), Engine(state, info, "cpu")
    x, y = np.linspace(0, 1, 128)[None, :], np.linspace(0, 1, 96)[:, None]
    content = Image.fromarray((np.stack(np.broadcast_arrays(x, y, (x + y) / 2), -1) * 255).astype("uint8"))
    # seeded noise: PIL's effect_noise draws from the C library's rand(), whose state earlier tests move, so the
    # style (and the losses) differed between a full run and this test alone
    noise = (128 + 80 * torch.randn(96, 96, generator=torch.Generator().manual_seed(7))).clamp(0, 255)
    style = Image.fromarray(noise.to(torch.uint8).numpy(), "L").convert("RGB")
    method = {"style_loss": "gram", "style_layers": ("relu1_1", "relu2_1")} if style_loss == "gram" else {"style_loss": style_loss}
    params = StyleParams(size=128, iterations=40, snapshot_every=0, multiscale=False, optimizer=optimizer, init="content",
                         content_layers=("relu2_1",), precision="fp32", **method)  # type: ignore[arg-type]

    def final(engine: Engine) -> Snapshot:
        snap = list(engine.run(engine.job(content, [style], params)))[-1]  # snapshot_every=0: the final record only
        assert snap.final and snap.size == (128, 96)
        return snap

    def whole_loss(picture: torch.Tensor) -> float:
        objective = Run(whole, whole.job(content, [style], params))._objective((128, 96), picture[None])
        with torch.no_grad():
            return float(objective(picture[None])[0])

    assert Run(tiled, tiled.job(content, [style], params)).tiled
    plain, tiled_snap = final(whole), final(tiled)
    plain_loss, tiled_loss = whole_loss(plain.image), whole_loss(tiled_snap.image)
    print(f"whole-image loss: untiled {plain_loss:.4f}, tiled {tiled_loss:.4f}; reported tiled {tiled_snap.losses['total']:.4f}")
    assert abs(tiled_loss - plain_loss) < 0.03 * plain_loss
    assert tiled_loss < 0.5 * whole_loss(torch.from_numpy(np.asarray(content, dtype="float32") / 255).permute(2, 0, 1))
    assert 0.8 * tiled_loss < tiled_snap.losses["total"] < 1.5 * tiled_loss


def test_an_assembled_tiled_loss_and_gradient_are_the_untiled_ones() -> None:
    """With margins wider than the picture every tile sees all of it, so the assembled objective must be the
    untiled one: the value (Gram: the whole picture's statistics from two passes; neighbour: a sum over cells)
    and the gradient, to float rounding and the neighbour grid's rounding at tile borders."""
    from stylize import Engine, images, weights
    from stylize.run import Run
    from stylize.tiled_objective import TiledObjective

    state, info = weights.obtain("random", seed=0)
    engine = Engine(state, info, "cpu")
    content, style = Image.new("RGB", (128, 96), (120, 90, 60)), Image.effect_mandelbrot((96, 96), (-2, -1.5, 1, 1.5), 60).convert("RGB")
    picture = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    for style_loss, within in (("gram", 0.005), ("neighbour", 0.02)):
        params = StyleParams(size=128, iterations=2, multiscale=False, style_loss=style_loss, precision="fp32")
        run = Run(engine, engine.job(content, [style], params))
        pieces = tiles.cores((128, 96), tiles.TileSettings(threshold_pixels=1, tile=48, margin=256), (16, 16))
        assert len(pieces) == 9
        assembled = TiledObjective(run._objective((128, 96), picture, content_targets=False), images.resize(run.content, (128, 96)),
                                   pieces, (params.content_weight, params.style_weight, params.tv_weight))
        values, grads = [], []
        for objective in (run._objective((128, 96), picture), assembled):
            image = picture.clone().requires_grad_(True)
            loss, parts = objective(image)
            loss.backward()
            values.append({k: float(v.detach().sum()) for k, v in parts.items()})
            grads.append(image.grad)
        print(style_loss, values)
        for part in ("content", "style", "total"):
            assert values[1][part] == pytest.approx(values[0][part], rel=within / 5), part
        assert values[1]["tv"] == pytest.approx(values[0]["tv"], rel=0.02)  # sums over the cores' pixels, not pairs
        assert float((grads[1] - grads[0]).norm() / grads[0].norm()) < within


# -- answers for big results ----------------------------------------------------------------------------------

def _finish(tmp_path, side: int, store: bool) -> dict:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from serving import forms
    from serving.finishing import Finisher
    from serving.results import Results, ResultsSettings

    results = Results(ResultsSettings(dir=str(tmp_path)))
    answer = forms.answer_for("stream")
    job = SimpleNamespace(params=StyleParams(size=side), content=None, styles=(), regions=None)
    held = SimpleNamespace(close=lambda: None, decode_s=0.0, started=1.0, arrived=0.5, answer=answer,
                           request=SimpleNamespace(job=job, store_inputs=False), keeping=results.reserve(store))
    final = Snapshot(iteration=2, iterations=2, stage=1, stages=1, size=(side, side * 3 // 4), losses={"total": 1.0},
                     elapsed_s=0.1, image=torch.rand(3, side * 3 // 4, side), weights="vgg19/random-init", final=True,
                     stopped="completed")
    Finisher(results, None, lambda: 2.0).finish(held, final)  # type: ignore[arg-type]
    line = json.loads(answer.take().splitlines()[-1])
    assert line["event"] == "done"
    return line


def test_a_stored_big_result_is_linked_from_the_done_line_not_inlined(tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = _finish(tmp_path, 1200, store=True)
    assert "image" not in big and big["image_link"] == big["result"]["image"] == f"/results/{big['result']['id']}/final.png"
    stored = (tmp_path / big["result"]["id"] / "final.png").read_bytes()
    assert Image.open(io.BytesIO(stored)).size == (1200, 900)  # the link names the whole picture
    assert len(json.dumps(big)) < 10_000  # a line of numbers, not megabytes
    # not stored (store=false): the bytes stay in the line, so nothing is lost; small pictures too
    unstored = _finish(tmp_path, 1200, store=False)
    assert Image.open(io.BytesIO(base64.b64decode(unstored["image"]))).size == (1200, 900) and "image_link" not in unstored
    small = _finish(tmp_path, 300, store=True)
    assert "image" in small and "image_link" not in small and "result" in small


def test_the_client_fetches_a_linked_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    from stylize_client import jobs

    asked: list[str] = []

    def get(url: str, timeout: float) -> httpx.Response:
        asked.append(url)
        return httpx.Response(200, content=b"\x89PNG...")
    monkeypatch.setattr(httpx, "get", get)
    event = {"event": "done", "image_link": "/results/abc/final.png"}
    assert jobs.final_image(event, "http://example.test:8000/predictions/style_transfer") == b"\x89PNG..."
    assert asked == ["http://example.test:8000/results/abc/final.png"]
    assert jobs.final_image({"image": base64.b64encode(b"inline").decode()}, "http://x") == b"inline"


def test_a_stored_result_downloads_as_png_or_jpeg_of_a_chosen_quality(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from serving.dispatch import Dispatch, Incoming
    from serving.results import Results, ResultsSettings

    rid = _finish(tmp_path, 1200, store=True)["result"]["id"]
    dispatch = Dispatch(Limits(), None, None, Results(ResultsSettings(dir=str(tmp_path))), dict,  # type: ignore[arg-type]
                        lambda *_: None, lambda: 0.0)

    def download(**fields: str):  # type: ignore[no-untyped-def]
        return dispatch.arrive(Incoming("r", {"response": "download", "result": rid, **fields}))

    png = download()
    assert png.status == 200 and png.content_type == "image/png" and png.body == (tmp_path / rid / "final.png").read_bytes()
    assert png.headers["Content-Disposition"] == f'attachment; filename="stylized-{rid}.png"'
    sizes = {}
    for quality in ("40", "95"):
        jpeg = download(format="jpeg", quality=quality)
        assert jpeg.status == 200 and jpeg.content_type == "image/jpeg" and jpeg.body[:3] == b"\xff\xd8\xff"
        assert Image.open(io.BytesIO(jpeg.body)).size == (1200, 900) and jpeg.headers["Content-Disposition"].endswith('.jpg"')
        sizes[quality] = len(jpeg.body)
    assert sizes["40"] < sizes["95"] < len(png.body)  # the quality is the one asked for
    assert download(format="jpg", quality="").status == 200  # the front forwards empty values: the default
    for fields, name in (({"format": "gif"}, "format"), ({"format": "jpeg", "quality": "0"}, "quality"),
                         ({"format": "jpeg", "quality": "high"}, "quality"), ({"quality": "90"}, "quality"),
                         ({"size": "2"}, "size")):
        refused = download(**fields)
        assert refused.status == 400 and json.loads(refused.body)["message"].startswith(f"{name}: "), (fields, refused.body)
    gone = dispatch.arrive(Incoming("r", {"response": "download", "result": "A" * 22}))
    assert gone.status == 404 and "no such result" in json.loads(gone.body)["message"]


@pytest.mark.integration
def test_the_front_forwards_a_download_with_its_format_and_quality(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fake_servers import fake_upstream

    from deploy import nginx_render

    rid = "B" * 22
    with fake_upstream() as upstream:
        proxy = nginx_render.start(upstream.url.removeprefix("http://"), tmp_path / "front", results=tmp_path / "results")
        try:
            import httpx

            for query in ("?format=jpeg&quality=80", ""):
                try:  # the fake upstream answers with a stream it never ends: only what it was sent matters here
                    with httpx.stream("GET", f"{proxy.url}/results/{rid}/download{query}", timeout=30) as answer:
                        assert answer.status_code == 200
                except httpx.HTTPError:
                    pass
            assert httpx.post(f"{proxy.url}/results/{rid}/download", timeout=30).status_code == 405
        finally:
            nginx_render.stop(proxy.process)
    assert upstream.bodies[-2:] == [f"response=download&result={rid}&format=jpeg&quality=80".encode(),
                                    f"response=download&result={rid}&format=&quality=".encode()]
